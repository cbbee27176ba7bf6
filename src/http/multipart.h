/* multipart.h — a streaming multipart/form-data parser (RFC 7578, RFC 2046 section 5.1).
 *
 * The server feeds body bytes as they arrive, in pieces of any size; the parser calls back at
 * each part's start (with its parsed headers), for each run of its data, and at its end. So a
 * file part can be written to a temporary file as it streams and never held whole in memory.
 * Data callbacks point into the fed bytes (or into the boundary text for bytes that looked
 * like the start of a boundary and were not): copy what must outlive the callback. A part
 * sent with Content-Transfer-Encoding: base64 is decoded on the way, as Django does. */
#ifndef MN_HTTP_MULTIPART_H
#define MN_HTTP_MULTIPART_H

#include <manouche/core.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The request attribute (mn_req_attr) set when a request broke a count limit: its value is
 * the security logger's name ("manouche.security.TooManyFieldsSent" or ...FilesSent). The web
 * layer answers such a request 400 Bad Request, as Django does for a SuspiciousOperation. */
#define MN__ATTR_SUSPICIOUS "manouche.suspicious"

struct mn_req;
/* Records a SuspiciousOperation on r: the error message (printf-style), the attribute above
 * and an ERROR line on the logger named exception. (request.c) */
void mn__req_suspicious(struct mn_req *r, const char *exception, const char *fmt, ...)
    MN_PRINTF(3, 4);
/* TooManyFieldsSent: more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS. (request.c) */
void mn__req_too_many_fields(struct mn_req *r);

/* The boundary parameter of a multipart/form-data Content-Type (quotes removed), or MN_EINVAL
 * when the type is not multipart/form-data or the boundary is missing or invalid (Django's
 * rule: 1 to 201 printable ASCII characters, not ending in a space). */
int mn__multipart_boundary(mn_str content_type, mn_str *boundary);

/* One part's headers, valid during the on_part_begin callback only. Name and filename are
 * valid UTF-8 (invalid sequences become U+FFFD, as Django decodes them). */
typedef struct mn__multipart_part {
    mn_str name;         /* Content-Disposition name (unquoted) */
    mn_str filename;     /* ptr NULL for a plain field; filename* (RFC 5987, UTF-8) wins */
    mn_str content_type; /* ptr NULL when absent */
    size_t index;        /* 0 for the first part */
} mn__multipart_part;

typedef struct mn__multipart_callbacks {
    /* Each returns 0 to go on, anything else to stop (mn__multipart_feed returns it). */
    int (*on_part_begin)(void *arg, const mn__multipart_part *part);
    int (*on_part_data)(void *arg, const char *data, size_t len);
    int (*on_part_end)(void *arg);
} mn__multipart_callbacks;

typedef struct mn__multipart_limits {
    size_t max_parts;        /* more parts: MN_ETOOBIG (0: no limit) */
    size_t max_header_bytes; /* one part's header block (0: 8192) */
    size_t max_field_bytes;  /* a part without filename (0: no limit) */
    size_t max_file_bytes;   /* a part with filename (0: no limit) */
} mn__multipart_limits;

typedef struct mn__multipart mn__multipart;

/* A parser for boundary (copied) in arena; NULL when memory runs out. */
mn__multipart *mn__multipart_new(mn_arena *arena, mn_str boundary,
                                 const mn__multipart_limits *limits,
                                 const mn__multipart_callbacks *callbacks, void *arg);
/* Feeds the next body bytes. 0, MN_EPROTO (malformed: mn__multipart_error says what),
 * MN_ETOOBIG (a limit: the message names it), MN_ENOMEM, or a callback's non-zero value.
 * After an error every further call returns the same error. */
int mn__multipart_feed(mn__multipart *m, const char *data, size_t len);
/* The body has ended: 0 if the closing boundary was seen, else MN_EPROTO. */
int mn__multipart_finish(mn__multipart *m);
/* True once the closing boundary has been parsed (the rest is an ignored epilogue). */
bool mn__multipart_done(const mn__multipart *m);
/* True when the parser stopped at limits.max_parts. */
bool mn__multipart_too_many_parts(const mn__multipart *m);
/* What was wrong ("" when nothing). */
const char *mn__multipart_error(const mn__multipart *m);

#endif
