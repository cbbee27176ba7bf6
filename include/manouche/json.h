/* manouche/json.h — a streaming JSON writer into an mn_buf (core layer).
 *
 * Responses are written by our own writer rather than by building a jansson tree and dumping
 * it (DESIGN.md section 4): no allocation per value, no intermediate string, the bytes land in
 * the buffer that is sent. The output is compact RFC 8259 JSON: strings must be valid UTF-8
 * (anything else is refused, as jansson refuses it), '"', '\\' and the control characters are
 * escaped, and doubles are written so that they read back as the same double.
 *
 *   mn_json_writer w;
 *   mn_json_writer_init(&w, mn_resp_body(r));
 *   mn_json_begin_object(&w);
 *   mn_json_key(&w, "message");
 *   mn_json_write_string(&w, "Hello, World!");
 *   mn_json_end_object(&w);
 *   if (mn_json_writer_finish(&w) != 0) ...
 *
 * Errors are sticky: the first one (MN_ENOMEM, or MN_EINVAL for misuse such as a value where
 * a key is due, invalid UTF-8, NaN or infinity, nesting deeper than MN_JSON_MAX_DEPTH) is
 * returned by every later call and by mn_json_writer_finish(), and nothing more is written;
 * the buffer then holds a truncated document that must not be sent. */
#ifndef MANOUCHE_JSON_H
#define MANOUCHE_JSON_H

#include <manouche/core.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { MN_JSON_MAX_DEPTH = 64 };

typedef struct mn_json_writer {
    mn_buf *out;
    int err;            /* first error, 0 while all is well */
    unsigned depth;     /* open containers */
    uint64_t is_object; /* bit d-1: the container at depth d is an object */
    uint64_t has_items; /* bit d-1: the container at depth d holds a member already */
    bool key_pending;   /* a key was written, its value is due */
    bool done;          /* the top-level value is complete */
} mn_json_writer;

/* Appends to out (which keeps its current content). */
void mn_json_writer_init(mn_json_writer *w, mn_buf *out);
/* 0 when exactly one complete value was written, else the first error (MN_EINVAL if a
 * container is still open or nothing was written). */
int mn_json_writer_finish(const mn_json_writer *w);

int mn_json_begin_object(mn_json_writer *w);
int mn_json_end_object(mn_json_writer *w);
int mn_json_begin_array(mn_json_writer *w);
int mn_json_end_array(mn_json_writer *w);
/* An object member's name (NUL-terminated, or n bytes which may include NUL). */
int mn_json_key(mn_json_writer *w, const char *key);
int mn_json_key_n(mn_json_writer *w, const char *key, size_t n);

int mn_json_write_string(mn_json_writer *w, const char *s); /* NULL writes null */
int mn_json_write_string_n(mn_json_writer *w, const char *s, size_t n);
int mn_json_write_int(mn_json_writer *w, int64_t v);
int mn_json_write_double(mn_json_writer *w, double v); /* NaN and infinities: MN_EINVAL */
int mn_json_write_bool(mn_json_writer *w, bool v);
int mn_json_write_null(mn_json_writer *w);

#ifdef __cplusplus
}
#endif

#endif
