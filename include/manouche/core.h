/* manouche/core.h — the bottom layer: errors, allocation, string slices, arenas, byte buffers
 * and logging. Everything else in Manouche is built from these.
 *
 * Memory model (DESIGN.md section 2): a request owns an mn_arena and everything made for it is
 * freed at once when it ends; resources that are not memory (file descriptors, borrowed
 * connections) are released by callbacks registered with mn_arena_defer(). */
#ifndef MANOUCHE_CORE_H
#define MANOUCHE_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MN_NORETURN __attribute__((noreturn))
#define MN_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#define MN_NODISCARD __attribute__((warn_unused_result))
#else
#define MN_NORETURN
#define MN_PRINTF(fmt_index, first_arg)
#define MN_NODISCARD
#endif

/* Marks a function that may park the calling coroutine (I/O, database, sleep, channel
 * receive): `grep MN_MAY_YIELD` answers "can this yield?". It expands to nothing. */
#define MN_MAY_YIELD

/* ---- Errors: functions return 0 or one of these negative codes. ---- */
enum {
    MN_OK = 0,
    MN_ENOMEM = -1,        /* out of memory */
    MN_EINVAL = -2,        /* invalid argument or input */
    MN_EIO = -3,           /* I/O error (errno has detail) */
    MN_ETIMEDOUT = -4,     /* a deadline passed */
    MN_ECLOSED = -5,       /* the peer closed the connection */
    MN_ETOOBIG = -6,       /* over a configured limit */
    MN_ENOTFOUND = -7,     /* no such thing */
    MN_ECANCELED = -8,     /* the operation was cancelled (shutdown) */
    MN_EAGAIN = -9,        /* try again later */
    MN_EPROTO = -10,       /* protocol violation by the peer */
    MN_EUNSUPPORTED = -11, /* valid but not supported */
};

/* A short English name for an error code ("out of memory", ...). Never NULL. */
const char *mn_strerror(int err);

/* ---- Allocation: thin wrappers over malloc with a test hook for out-of-memory paths. ---- */
void *mn_malloc(size_t size);
void *mn_calloc(size_t count, size_t size);
void *mn_realloc(void *ptr, size_t size);
void mn_free(void *ptr);
char *mn_strdup(const char *s);
/* Test hook: the n-th allocation from now on (1 = the next one) fails, and every one after
 * it succeeds again; n <= 0 disables. Counts mn_malloc/mn_calloc/mn_realloc and arena chunks. */
void mn_alloc_fail_after(long n);

/* ---- String slices: a pointer and a length, not necessarily NUL-terminated. ---- */
typedef struct mn_str {
    const char *ptr;
    size_t len;
} mn_str;

#define MN_STR_LIT(lit)                                                                            \
    {                                                                                              \
        (lit), sizeof(lit) - 1                                                                     \
    }
mn_str mn_str_from(const char *cstr); /* NULL gives the empty slice */
bool mn_str_eq(mn_str a, mn_str b);
bool mn_str_eq_cstr(mn_str a, const char *b);
bool mn_str_ieq(mn_str a, mn_str b); /* ASCII case-insensitive */
bool mn_str_ieq_cstr(mn_str a, const char *b);
bool mn_str_starts_with(mn_str s, const char *prefix);
bool mn_str_ends_with(mn_str s, const char *suffix);
mn_str mn_str_trim(mn_str s); /* strips ASCII spaces and tabs at both ends */
/* Parses a whole slice as a decimal integer; 0 or MN_EINVAL (empty, junk, overflow). */
int mn_str_to_i64(mn_str s, int64_t *out);

/* ---- Arenas: bump allocation in chunks, everything freed in one step. ---- */
typedef struct mn_arena mn_arena;

/* A new arena whose first chunk holds about first_chunk bytes (0: a default of 4 KiB). */
mn_arena *mn_arena_new(size_t first_chunk);
/* Runs the deferred callbacks (last registered first) and frees every chunk. NULL is fine. */
void mn_arena_free(mn_arena *a);
/* Runs the deferred callbacks and forgets all allocations, keeping the first chunk. */
void mn_arena_reset(mn_arena *a);
/* size bytes aligned to 16, or NULL when memory runs out. */
void *mn_arena_alloc(mn_arena *a, size_t size);
void *mn_arena_calloc(mn_arena *a, size_t count, size_t size);
/* Grows the most recent allocation in place when it can, else copies. */
void *mn_arena_realloc(mn_arena *a, void *ptr, size_t old_size, size_t new_size);
char *mn_arena_strdup(mn_arena *a, const char *s);
char *mn_arena_strndup(mn_arena *a, const char *s, size_t n);
char *mn_arena_printf(mn_arena *a, const char *fmt, ...) MN_PRINTF(2, 3);
char *mn_arena_vprintf(mn_arena *a, const char *fmt, va_list ap) MN_PRINTF(2, 0);
/* Registers fn(arg) to run when the arena is reset or freed (LIFO). 0 or MN_ENOMEM. */
int mn_arena_defer(mn_arena *a, void (*fn)(void *arg), void *arg);
/* Bytes handed out since the last reset, and bytes held from the system. */
size_t mn_arena_used(const mn_arena *a);
size_t mn_arena_reserved(const mn_arena *a);

/* ---- Byte buffers: growable, backed by the heap (arena NULL) or by an arena. ---- */
typedef struct mn_buf {
    char *data; /* len bytes of content; NUL-terminated only after mn_buf_cstr() */
    size_t len;
    size_t cap;
    mn_arena *arena; /* NULL: heap memory, released by mn_buf_free() */
} mn_buf;

void mn_buf_init(mn_buf *b, mn_arena *arena);
void mn_buf_free(mn_buf *b);  /* heap buffers only; arena buffers go with their arena */
void mn_buf_reset(mn_buf *b); /* len = 0, keeps the memory */
int mn_buf_reserve(mn_buf *b, size_t extra); /* room for extra more bytes; 0 or MN_ENOMEM */
int mn_buf_append(mn_buf *b, const void *data, size_t n);
int mn_buf_puts(mn_buf *b, const char *s);
int mn_buf_putc(mn_buf *b, char c);
int mn_buf_put_str(mn_buf *b, mn_str s);
int mn_buf_put_i64(mn_buf *b, int64_t v);
int mn_buf_put_u64(mn_buf *b, uint64_t v);
int mn_buf_printf(mn_buf *b, const char *fmt, ...) MN_PRINTF(2, 3);
int mn_buf_vprintf(mn_buf *b, const char *fmt, va_list ap) MN_PRINTF(2, 0);
/* NUL-terminates (without counting it in len) and returns data; NULL if memory runs out. */
char *mn_buf_cstr(mn_buf *b);
/* Drops the first n bytes (a consumed prefix), moving the rest to the front. */
void mn_buf_consume(mn_buf *b, size_t n);

/* ---- Logging: human text in development, JSON lines in production. ---- */
typedef enum mn_log_level {
    MN_LOG_DEBUG = 10,
    MN_LOG_INFO = 20,
    MN_LOG_WARNING = 30,
    MN_LOG_ERROR = 40,
} mn_log_level;

/* Lines below min_level are dropped; json selects JSON lines; fd is where lines go (2). */
void mn_log_configure(mn_log_level min_level, bool json, int fd);
/* The request id to stamp on each line, asked of the layer that knows the current request
 * (the runtime sets it); NULL or "" means none. */
void mn_log_set_request_id_source(const char *(*current_request_id)(void));
/* One line (no trailing newline needed): time, level, logger, request id and message. */
void mn_log(mn_log_level level, const char *logger, const char *fmt, ...) MN_PRINTF(3, 4);
/* A line with extra JSON fields already formatted as `"k":v,"k2":v2` (may be NULL). */
void mn_log_fields(mn_log_level level, const char *logger, const char *fields_json, const char *fmt,
                   ...) MN_PRINTF(4, 5);
const char *mn_log_level_name(mn_log_level level);

#ifdef __cplusplus
}
#endif
#endif
