/* internal.h — the server's private structures, shared by server.c, conn.c, request.c,
 * response.c, upload.c and date.c. Nothing here is installed.
 *
 * Ownership in one paragraph: a server owns its connections; a connection owns its socket and,
 * only while it has unread bytes, an input buffer; a connection holds a request object (mn_req,
 * with its arena) only while a coroutine is handling it, taken from the server's pool and
 * given back after, so that an idle keep-alive connection is the small mn__conn struct alone. */
#ifndef MN_HTTP_INTERNAL_H
#define MN_HTTP_INTERNAL_H

#include <manouche/http.h>

#include "http/parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mn__conn mn__conn;
typedef struct mn__attr mn__attr;

struct mn__attr {
    mn__attr *next;
    const char *key;
    void *value;
};

#define MN__RESP_INLINE 8

/* A request and the response built for it. Reused: the server resets it (and its arena)
 * between requests; the header storage for the head parser lives here, outside the arena. */
struct mn_req {
    mn_arena *arena;
    mn__conn *conn; /* NULL for mn_req_new */
    const mn_http_limits *limits;
    const char *trusted_proxies; /* NULL: none */
    mn_field *header_storage;    /* limits->max_headers + 1 entries, heap */
    size_t header_cap;
    mn_req *next_free; /* server pool link */

    /* ---- Request (slices into the connection buffer or the arena). ---- */
    mn__http_head head;
    mn_str method;
    mn_str raw_path;
    mn_str path;
    mn_str query_string;
    mn_str host;
    mn_str body;
    const char *peer_ip;
    bool secure_socket;
    bool cookie_secure; /* every cookie Secure (mn_server_config.cookie_secure) */
    bool is_head;
    bool multipart_streamed; /* the server fed the body to the multipart parser */
    int64_t start_us;

    /* Lazily parsed. */
    bool query_done, form_done, cookies_done, json_done, client_done;
    mn__field_list query;
    mn__field_list form;
    mn__field_list cookies;
    struct json_t *json;
    const char *client_ip;
    bool secure;
    mn_upload *files;
    size_t file_count, file_cap;
    const char *error;
    const char *id;
    mn__attr *attrs;
    void *web_state; /* mn_req_web_state: the web layer's dispatcher state */

    /* ---- Response. ---- */
    int status;
    mn_field *resp_headers; /* resp_inline until more are set, then the arena */
    size_t resp_header_count, resp_header_cap;
    mn_buf resp_body;
    int file_fd; /* sendfile body, -1 when none */
    off_t file_offset;
    size_t file_len;
    bool streaming; /* mn_resp_stream_start was called */
    bool stream_ended;
    bool stream_chunked; /* pieces go out with chunked framing */
    bool stream_failed;  /* a write failed: the connection is closing */
    bool close_after;    /* Connection: close on this response */
    bool owns_limits;    /* mn_req_new: limits is a heap copy */
    size_t bytes_sent;
    mn_buf out;  /* heap: responses waiting to be written (kept across
                    requests so pipelined answers go out in one write) */
    char *carry; /* arena: bytes read past a chunked body (next request) */
    size_t carry_len;
    void *upload;                          /* upload.c state while a multipart body streams in */
    mn_field resp_inline[MN__RESP_INLINE]; /* room for the usual few response headers */
};

/* Which list of the server a connection is on. */
enum { MN__LIST_NONE = 0, MN__LIST_IDLE, MN__LIST_HEAD, MN__LIST_BUSY };

/* One client connection. Small on purpose: 10,000 idle ones must cost little. */
struct mn__conn {
    int fd;
    int list; /* MN__LIST_* */
    mn_server *server;
    mn__conn *prev, *next;         /* in the server list named by list */
    int64_t deadline;              /* idle: keep-alive end; head: header deadline */
    int64_t head_deadline;         /* when the head of the request being received must be in */
    char *in;                      /* input buffer (pooled), NULL while empty */
    size_t in_len, in_cap, in_off; /* bytes in; capacity; start of unparsed bytes */
    bool readable_hint;            /* epoll said readable while a coroutine owned the conn */
    bool eof_hint;                 /* epoll reported the peer's end (or an error): read it */
    bool closing;
    bool abort;     /* a write timed out: close with a reset */
    bool linger;    /* an error answer was sent: drain input before closing */
    bool got_bytes; /* some bytes of the current request head have arrived */
    char peer[46];
};

typedef struct mn__list {
    mn__conn *first, *last;
    size_t count;
} mn__list;

struct mn_server {
    mn_loop *loop;
    int listen_fd;
    mn_server_config config; /* copied; strings duplicated */
    mn_http_limits *limits;  /* &config.limits */
    mn__list idle, head, busy;
    size_t active; /* requests in handlers now */
    mn_req *free_reqs;
    size_t free_req_count;
    char *free_bufs[64]; /* pooled input buffers of MN__IN_BUF bytes */
    size_t free_buf_count;
    bool accepting;
    bool accept_retry; /* the last accept failed with connections left waiting */
    bool draining;
    bool freed; /* mn_server_free was called: last one out frees */
    bool sweeper_alive;
    int64_t next_fd_warning; /* EMFILE is logged at most this often */
    void (*drain_done)(void *arg);
    void *drain_arg;
};

#define MN__IN_BUF 8192

/* ---- conn.c / server.c ---- */
/* The coroutine that serves a connection until it has nothing left to do. */
void mn__conn_run(void *arg) MN_MAY_YIELD;
void mn__list_remove(mn__list *l, mn__conn *c);
void mn__list_push(mn__list *l, mn__conn *c, int which);
/* Closes and frees a connection that no coroutine owns (or the one that owns it). */
void mn__conn_close(mn__conn *c);
mn_req *mn__server_take_req(mn_server *s);
void mn__server_give_req(mn_server *s, mn_req *r);
void mn__server_release_buf(mn_server *s, mn__conn *c);
int mn__server_ensure_buf(mn_server *s, mn__conn *c, size_t want);
/* After a connection closed: finishes a drain or a deferred free when it was the last. */
void mn__server_check_done(mn_server *s);

/* ---- request.c ---- */
/* Clears r for a new request (the arena must already be reset). */
void mn__req_clear(mn_req *r);
/* After the head is parsed into r->head: fills method, paths, host. 0, or an HTTP status to
 * answer (400 for a path that does not normalise). */
int mn__req_from_head(mn_req *r);
/* Records a failure message for mn_req_error (copied into the arena). */
void mn__req_set_error(mn_req *r, const char *fmt, ...) MN_PRINTF(2, 3);
/* Frees what mn_req_new allocated besides the arena content. */
mn_req *mn__req_alloc(const mn_http_limits *limits);
void mn__req_destroy(mn_req *r);

/* ---- response.c ---- */
/* A fresh 200 response with the default Content-Type (arena already reset). */
int mn__resp_reset(mn_req *r);
/* Appends status line and headers (with Date, Content-Length or Transfer-Encoding and
 * Connection) for a finished or starting response. body_len < 0: streaming. */
int mn__resp_head(mn_req *r, mn_buf *out, int64_t body_len, const char *server_name);
/* The head for the body in r->resp_body and (unless HEAD) the body, in one reservation. */
int mn__resp_head_body(mn_req *r, mn_buf *out, const char *server_name);
/* Settles the response after the handler returned: HEAD drops the body, status fixes. */
void mn__resp_finish(mn_req *r);
/* Appends a short text error response with Connection: close. */
int mn__resp_error(mn_buf *out, int status, const char *message, const char *server_name);

/* ---- upload.c ---- */
/* Starts streaming a multipart body into r (files above upload_memory into temp files).
 * 0, or MN_EINVAL when content_type is not multipart/form-data with a boundary. */
int mn__upload_begin(mn_req *r, mn_str content_type);
/* Feeds body bytes; 0 or an error with r->error set (MN_EPROTO: 400, MN_ETOOBIG: 413). */
int mn__upload_feed(mn_req *r, const char *data, size_t len);
int mn__upload_finish(mn_req *r);
/* Parses an in-memory multipart body (test client, or server path not streamed). */
int mn__upload_parse_body(mn_req *r);

/* ---- conn.c: for streaming and sendfile from response.c. ---- */
int mn__conn_stream_start(mn_req *r) MN_MAY_YIELD;
int mn__conn_stream_write(mn_req *r, const void *data, size_t len) MN_MAY_YIELD;
int mn__conn_stream_end(mn_req *r) MN_MAY_YIELD;

/* ---- From the runtime (src/rt/loop.c; see rt/internal.h). ---- */
/* The loop calls fn(arg, epoll events) on every edge of fd until mn__fd_unwatch (or the fd is
 * closed with mn_sock_close in that loop); fn runs on the loop and must not yield. */
int mn__fd_watch(mn_loop *loop, int fd, void (*fn)(void *arg, uint32_t events), void *arg);
void mn__fd_unwatch(mn_loop *loop, int fd);

/* ---- date.c ---- */
/* "Date: <IMF-fixdate>\r\n", rebuilt at most once per second (37 bytes, no NUL needed). */
mn_str mn__date_header(void);

#endif
