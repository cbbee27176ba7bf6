/* arena.c — region allocator: bump allocation in a list of chunks, freed in one step.
 *
 * The arena header and its first chunk are one malloc; later chunks double in size up to a cap,
 * and an allocation larger than a chunk gets a chunk of its own. mn_arena_reset() keeps the
 * first chunk so that a connection can reuse one arena for request after request without
 * touching malloc on the hot path. Deferred callbacks live in arena memory themselves: they run
 * (last first) before that memory is forgotten. */
#include <manouche/core.h>

#include <stdio.h>
#include <string.h>

#define ALIGN 16
#define DEFAULT_FIRST_CHUNK 4096
#define MAX_CHUNK (1u << 20)

typedef struct chunk {
    struct chunk *next; /* older chunk */
    size_t size;        /* usable bytes in data */
    size_t used;
    _Alignas(ALIGN) unsigned char data[];
} chunk;

typedef struct defer {
    struct defer *next; /* registered earlier */
    void (*fn)(void *arg);
    void *arg;
} defer;

struct mn_arena {
    chunk *current;   /* newest chunk: allocations come from here */
    chunk *first;     /* allocated with the arena, kept across resets */
    defer *defers;    /* newest first */
    void *last_alloc; /* for in-place mn_arena_realloc */
    size_t used_total;
    size_t reserved;
    size_t next_chunk_size;
};

static size_t align_up(size_t n)
{
    return (n + (ALIGN - 1)) & ~(size_t)(ALIGN - 1);
}

mn_arena *mn_arena_new(size_t first_chunk)
{
    size_t size = align_up(first_chunk ? first_chunk : DEFAULT_FIRST_CHUNK);
    size_t header = align_up(sizeof(mn_arena));
    unsigned char *mem = mn_malloc(header + sizeof(chunk) + size);
    if (!mem)
        return NULL;
    mn_arena *a = (mn_arena *)mem;
    chunk *c = (chunk *)(mem + header);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    *a = (mn_arena){.current = c, .first = c, .reserved = size, .next_chunk_size = size * 2};
    return a;
}

static void run_defers(mn_arena *a)
{
    while (a->defers) {
        defer *d = a->defers;
        a->defers = d->next;
        d->fn(d->arg);
    }
}

static void free_chunks_after_first(mn_arena *a)
{
    chunk *c = a->current;
    while (c && c != a->first) {
        chunk *older = c->next;
        mn_free(c);
        c = older;
    }
    a->current = a->first;
}

void mn_arena_free(mn_arena *a)
{
    if (!a)
        return;
    run_defers(a);
    free_chunks_after_first(a);
    mn_free(a);
}

void mn_arena_reset(mn_arena *a)
{
    run_defers(a);
    free_chunks_after_first(a);
    a->first->used = 0;
    a->last_alloc = NULL;
    a->used_total = 0;
    a->reserved = a->first->size;
    a->next_chunk_size = a->first->size * 2;
}

/* Adds a chunk with room for at least size bytes and makes it current. */
static chunk *grow(mn_arena *a, size_t size)
{
    size_t want = a->next_chunk_size;
    if (want < size)
        want = align_up(size);
    if (size > SIZE_MAX / 2 - sizeof(chunk))
        return NULL;
    chunk *c = mn_malloc(sizeof(chunk) + want);
    if (!c)
        return NULL;
    c->size = want;
    c->used = 0;
    c->next = a->current;
    a->current = c;
    a->reserved += want;
    if (a->next_chunk_size < MAX_CHUNK)
        a->next_chunk_size *= 2;
    return c;
}

void *mn_arena_alloc(mn_arena *a, size_t size)
{
    size_t need = align_up(size ? size : 1);
    if (need < size)
        return NULL; /* overflow */
    chunk *c = a->current;
    if (c->size - c->used < need) {
        c = grow(a, need);
        if (!c)
            return NULL;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->used_total += need;
    a->last_alloc = p;
    return p;
}

void *mn_arena_calloc(mn_arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = mn_arena_alloc(a, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *mn_arena_realloc(mn_arena *a, void *ptr, size_t old_size, size_t new_size)
{
    if (!ptr)
        return mn_arena_alloc(a, new_size);
    chunk *c = a->current;
    size_t old_aligned = align_up(old_size ? old_size : 1);
    size_t new_aligned = align_up(new_size ? new_size : 1);
    if (ptr == a->last_alloc && new_aligned >= new_size &&
        (unsigned char *)ptr + new_aligned <= c->data + c->size) {
        c->used = (size_t)((unsigned char *)ptr - c->data) + new_aligned;
        a->used_total = a->used_total - old_aligned + new_aligned;
        return ptr;
    }
    if (new_size <= old_size)
        return ptr;
    void *p = mn_arena_alloc(a, new_size);
    if (p)
        memcpy(p, ptr, old_size);
    return p;
}

char *mn_arena_strndup(mn_arena *a, const char *s, size_t n)
{
    char *copy = mn_arena_alloc(a, n + 1);
    if (!copy)
        return NULL;
    if (n)
        memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

char *mn_arena_strdup(mn_arena *a, const char *s)
{
    return mn_arena_strndup(a, s, strlen(s));
}

char *mn_arena_vprintf(mn_arena *a, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *out = NULL;
    if (n >= 0 && (out = mn_arena_alloc(a, (size_t)n + 1)))
        vsnprintf(out, (size_t)n + 1, fmt, again);
    va_end(again);
    return out;
}

char *mn_arena_printf(mn_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = mn_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return out;
}

int mn_arena_defer(mn_arena *a, void (*fn)(void *arg), void *arg)
{
    defer *d = mn_arena_alloc(a, sizeof *d);
    if (!d)
        return MN_ENOMEM;
    *d = (defer){.next = a->defers, .fn = fn, .arg = arg};
    a->defers = d;
    return MN_OK;
}

size_t mn_arena_used(const mn_arena *a)
{
    return a->used_total;
}

size_t mn_arena_reserved(const mn_arena *a)
{
    return a->reserved;
}
