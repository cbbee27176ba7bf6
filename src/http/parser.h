/* parser.h — the pure parsers of the HTTP layer: request head (RFC 9112), chunked bodies,
 * percent-decoding and path normalisation, query strings and urlencoded forms, Cookie headers
 * and the Set-Cookie formatter. Multipart bodies are in multipart.h.
 *
 * None of these do I/O or keep global state, so the server drives them from its connection
 * loop and the test client and fuzzers call them directly. The head parser allocates nothing:
 * every slice it returns points into the caller's buffer and is valid as long as those bytes
 * stay where they are. Functions that build lists take an arena.
 *
 * Line endings (a decision, RFC 9112 section 2.2 allows either): the head and the chunked
 * framing require CRLF. A bare LF or a bare CR anywhere in them is an error (400, close),
 * never a line end, because a front proxy that reads it differently is how requests are
 * smuggled. Empty lines (CRLF) before the request line are skipped (RFC 9112 2.2). */
#ifndef MN_HTTP_PARSER_H
#define MN_HTTP_PARSER_H

#include <manouche/core.h>
#include <manouche/http.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Outcome of an incremental parse step. ---- */
typedef enum mn__http_result {
    MN__HTTP_NEED_MORE = 0, /* feed the same bytes plus more */
    MN__HTTP_DONE = 1,      /* complete: see the consumed count */
    MN__HTTP_ERROR = 2,     /* see the mn__http_error */
} mn__http_result;

/* What to answer to input that was rejected. */
typedef struct mn__http_error {
    int status;          /* 400, 413, 414, 431, 501, 505 (500: the caller misused the API) */
    bool close;          /* framing can't be trusted: close after answering */
    const char *message; /* static English text naming what was wrong */
} mn__http_error;

/* Byte classes shared by the parsers: each scanning loop is a load and a test per byte. */
enum {
    MN__HTTP_C_TCHAR = 1,  /* token character (RFC 9110 5.6.2): method, field name */
    MN__HTTP_C_TARGET = 2, /* request-target: visible ASCII and obs-text */
    MN__HTTP_C_FIELD = 4,  /* field-value: VCHAR, obs-text, SP, HTAB */
    MN__HTTP_C_HOST = 8,   /* Host / authority (RFC 3986 reg-name, IP literal, port) */
};
extern const unsigned char mn__http_char_class[256];

/* ---- Request head. ---- */
typedef enum mn__http_method {
    MN__HTTP_OTHER = 0, /* a valid token we have no enum for: look at method */
    MN__HTTP_GET,
    MN__HTTP_HEAD,
    MN__HTTP_POST,
    MN__HTTP_PUT,
    MN__HTTP_DELETE,
    MN__HTTP_PATCH,
    MN__HTTP_OPTIONS,
    MN__HTTP_CONNECT,
    MN__HTTP_TRACE,
} mn__http_method;

/* The parsed head. Slices point into the buffer that was parsed. */
typedef struct mn__http_head {
    mn_str method; /* as sent (methods are case-sensitive) */
    mn__http_method method_id;
    mn_str target;     /* raw request target */
    mn_str path;       /* raw (undecoded) path: "/a%20b"; "/" (static) for "http://h";
                          "*" for asterisk-form; empty for authority-form (CONNECT) */
    mn_str query;      /* after '?', without it; ptr NULL when there was no '?' */
    mn_str host;       /* absolute-form authority, else the Host header; ptr NULL
                          when neither */
    int minor;         /* 0: HTTP/1.0, 1: HTTP/1.1 */
    mn_field *headers; /* storage given to mn__http_head_init, in arrival order */
    size_t header_count;
    size_t header_cap;
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* after Connection tokens and version defaults */
    bool expect_continue;   /* Expect: 100-continue (HTTP/1.1 only) */
    bool upgrade;           /* Connection: upgrade and an Upgrade header */
    mn_str upgrade_proto;   /* the Upgrade header value (ptr NULL when absent) */
    size_t head_len;        /* bytes consumed on DONE, leading empty lines and the final
                               empty line included: the body starts there */
    mn__http_error error;   /* set on MN__HTTP_ERROR */
    /* incremental scan state (private): offsets, so that the buffer may move between calls */
    size_t scan_pos_;     /* where the search for the next LF resumes */
    size_t line_start_;   /* start of the line being scanned */
    size_t start_;        /* start of the request line (after leading empty lines) */
    size_t fields_start_; /* start of the first header line */
    bool started_;        /* leading empty lines skipped */
    size_t lines_;        /* complete lines seen (request line included) */
} mn__http_head;

/* Prepares head for a new request, with room for header_cap headers (more than
 * min(header_cap, limits->max_headers): 431). Call again before each request. */
void mn__http_head_init(mn__http_head *head, mn_field *header_storage, size_t header_cap);

/* Parses the request head at the start of buf[0..len). Call with the same head and the same
 * bytes (plus more) after NEED_MORE; buf may have moved (a grown buffer): the parser keeps
 * offsets only. DONE: head is filled and head->head_len bytes were consumed. ERROR:
 * head->error says what to answer; every head error closes the connection. The answer does
 * not depend on how the bytes were split across calls (the fuzzer checks it). limits NULL,
 * or a zero max_target / max_header_bytes / max_headers, means 8190 / 16384 / 100. A target
 * with '#' is a 400 (fragments are never sent). */
mn__http_result mn__http_parse_head(mn__http_head *head, const char *buf, size_t len,
                                    const mn_http_limits *limits);

/* The first header of that name (ASCII case-insensitive), or NULL. */
const mn_field *mn__http_head_get(const mn__http_head *head, const char *name);
/* The next header of that name after *pos (start with *pos = 0), or NULL at the end. */
const mn_field *mn__http_head_next(const mn__http_head *head, const char *name, size_t *pos);

/* "GET" -> MN__HTTP_GET; others MN__HTTP_OTHER. */
mn__http_method mn__http_method_from(mn_str method);

/* ---- Chunked body decoder (RFC 9112 section 7.1). ----
 * Incremental and in place: decoded bytes go to out, which may be the input itself (out <=
 * in), so the connection buffer ends up with the body at its front. Chunk extensions are
 * skipped. Trailer fields are checked like header fields (syntax, size) and then discarded:
 * Django exposes no trailers, and merging them into the headers after the fact is a
 * smuggling path (RFC 9110 section 6.5.1). */
typedef struct mn__chunked {
    int state_;          /* private */
    uint64_t remaining_; /* data bytes left in the current chunk */
    uint64_t total;      /* decoded body bytes so far */
    uint64_t max_body;   /* more: 413 (0: no limit) */
    size_t line_len_;    /* bytes in the current size or trailer line */
    size_t trailer_bytes_;
    unsigned size_digits_;
    mn__http_error error;
} mn__chunked;

void mn__chunked_init(mn__chunked *c, uint64_t max_body);

/* Decodes in[0..in_len). *consumed is set to the input bytes used and *out_len to the bytes
 * written at out (out may equal in). NEED_MORE: all input used, feed what follows it. DONE:
 * the body and trailers are complete; input after *consumed is the next request. ERROR:
 * c->error (400 bad framing, 413 over max_body, 431 trailers too large), always close. */
mn__http_result mn__chunked_decode(mn__chunked *c, const char *in, size_t in_len, char *out,
                                   size_t *out_len, size_t *consumed);

/* ---- URLs (url.c). ---- */
/* Percent-decodes src[0..len) into out (out may equal src; it needs len bytes). With
 * plus_is_space, '+' becomes ' ' (forms and queries). strict: a bad escape ("%4", "%zz") is
 * MN_EINVAL; lenient (as Python's unquote, used by Django's QueryDict): it is kept as is. */
int mn__url_decode(const char *src, size_t len, char *out, size_t *out_len, bool plus_is_space,
                   bool strict);

/* Decodes and normalises a raw origin-form path into out (len bytes suffice; may equal in):
 * every escape decoded (so "%2F" is a '/' and separates segments, as WSGI servers hand
 * Django a decoded PATH_INFO), then "//" collapsed, "." dropped, ".." pops a segment and
 * never climbs above the root; a trailing slash is kept ("/a/b/.." -> "/a/").
 * MN_EINVAL: not starting with '/', a bad escape, or a NUL (raw or %00). */
int mn__url_path_normalize(const char *in, size_t len, char *out, size_t *out_len);

/* True when s[0..n) is well-formed UTF-8. */
bool mn__utf8_valid(const char *s, size_t n);
/* Copies s[0..n) to out (room for 3 * n bytes) with each maximal invalid subpart replaced by
 * U+FFFD, as Python's decode(errors="replace"); returns the length written. */
size_t mn__utf8_repair(const char *s, size_t n, char *out);

/* A growable list of (name, value) pairs in an arena, as Django's QueryDict: names repeat,
 * order is kept. The strings are decoded copies in the arena, NUL-terminated. */
typedef struct mn__field_list {
    mn_field *items;
    size_t len;
    size_t cap;
    mn_arena *arena;
} mn__field_list;

void mn__field_list_init(mn__field_list *l, mn_arena *arena);
int mn__field_list_add(mn__field_list *l, mn_str name, mn_str value); /* copies both */
/* The last value for name (as QueryDict.get), or NULL. */
const mn_field *mn__field_list_get(const mn__field_list *l, mn_str name);
/* Values for name in order: fills up to max of them into out, returns how many exist. */
size_t mn__field_list_get_all(const mn__field_list *l, mn_str name, mn_str *out, size_t max);

/* Parses a query string (without '?') as Django's QueryDict: '&' separates fields, empty
 * fields are skipped, "a" is ("a", ""), '+' is a space, escapes decoded leniently. More than
 * max_fields fields (counted as Django does: 1 + the number of '&'; 0 = no limit) is
 * MN_ETOOBIG (TooManyFieldsSent: 400). Appends to out. */
int mn__query_parse(const char *qs, size_t len, size_t max_fields, mn__field_list *out);

/* application/x-www-form-urlencoded body -> fields, the same rules as mn__query_parse
 * (DATA_UPLOAD_MAX_NUMBER_FIELDS is max_fields). (form.c) */
int mn__form_parse(const char *body, size_t len, size_t max_fields, mn__field_list *out);

/* ---- Cookies (cookie_parse.c). ---- */
/* Cookie header -> pairs, as django.http.cookie.parse_cookie: split on ';', "a" alone is
 * ("", "a"), whitespace stripped, a later repeat of a name replaces the value in the place
 * of the first, quoted values unquoted as Python's http.cookies does (\ooo escapes above
 * 0x7f give that latin-1 character in UTF-8). A header that is not UTF-8 is repaired first
 * (U+FFFD), as Django decodes it. Appends to out; MN_ENOMEM is the only error. */
int mn__cookie_parse(const char *header, size_t len, mn__field_list *out);

/* A Set-Cookie value, everything explicit (the response layer applies the secure defaults).*/
typedef struct mn__set_cookie {
    mn_str name;
    mn_str value;
    int64_t max_age; /* < 0: none */
    int64_t expires; /* unix time, < 0: none; with max_age and no expires, expires is
                        now + max_age, as Django's set_cookie does */
    mn_str path;     /* ptr NULL: no attribute */
    mn_str domain;   /* ptr NULL: no attribute */
    bool secure;
    bool http_only;
    mn_str same_site; /* "Lax", "Strict", "None" (any case) or ptr NULL */
} mn__set_cookie;

/* Appends the header value (no "Set-Cookie: ", no CRLF) to out, formatted as Django (Python's
 * Morsel): "name=value; Domain=d; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly;
 * Max-Age=0; Path=/; SameSite=Lax; Secure". A value with characters outside the cookie token
 * set is quoted and escaped as Python does (a UTF-8 character up to U+00FF as one \ooo of its
 * code, any other non-ASCII byte as its own \ooo), so the output is printable ASCII. MN_EINVAL:
 * empty or illegal name, a reserved attribute name, CR/LF/';'/control characters in path or domain,
 * a bad same_site. now is the unix time used for expires (0: time(NULL)). */
int mn__cookie_format(mn_buf *out, const mn__set_cookie *c, int64_t now);

/* "Thu, 01 Jan 1970 00:00:00 GMT" (IMF-fixdate) for unix time t into out (30 bytes incl. NUL).*/
void mn__http_date(int64_t t, char out[30]);

#endif
