/* test_response.c — building responses on an mn_req and serialising them as the server does:
 * defaults, headers (injection refused, framing headers owned by the server), bodies, HEAD,
 * cookies with secure defaults, streaming and files without a socket, reason phrases. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http/internal.h"

static mn_req *req(const char *method, bool secure)
{
    mn_req_init init = {.method = method, .target = "/", .secure = secure};
    mn_req *r = mn_req_new(&init);
    cr_assert_not_null(r);
    return r;
}

/* The serialised response as a C string in a static buffer. */
static const char *wire(mn_req *r)
{
    static char text[65536];
    mn_buf out;
    mn_buf_init(&out, NULL);
    cr_assert_eq(mn_resp_serialize(r, &out), MN_OK);
    cr_assert(out.len < sizeof text);
    memcpy(text, out.data, out.len);
    text[out.len] = '\0';
    mn_buf_free(&out);
    return text;
}

static void hello_view(mn_req *r, void *arg)
{
    mn_resp_send(r, 200, "text/plain", (const char *)arg);
}

Test(response, defaults_are_200_html_and_empty)
{
    mn_req *r = req(NULL, false);
    mn_req_run(r, NULL, NULL);
    cr_assert_eq(mn_resp_get_status(r), 200);
    cr_assert(mn_str_eq_cstr(mn_resp_get_header(r, "content-type"), "text/html; charset=utf-8"));
    const char *w = wire(r);
    cr_assert(strncmp(w, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", w);
    cr_assert(strstr(w, "\r\nDate: ") != NULL);
    cr_assert(strstr(w, "\r\nContent-Length: 0\r\n") != NULL, "%s", w);
    cr_assert(strstr(w, "Server:") == NULL, "say nothing about ourselves by default");
    mn_req_free(r);
}

Test(response, send_sets_status_type_and_body)
{
    mn_req *r = req(NULL, false);
    mn_req_run(r, hello_view, "Hello");
    const char *w = wire(r);
    cr_assert(strstr(w, "Content-Type: text/plain\r\n") != NULL, "%s", w);
    cr_assert(strstr(w, "Content-Length: 5\r\n\r\nHello") != NULL, "%s", w);
    cr_assert_eq(strstr(w, "text/html"), NULL, "the default type is replaced, not repeated");
    mn_req_free(r);
}

Test(response, head_drops_the_body_but_keeps_its_length)
{
    mn_req *r = req("HEAD", false);
    mn_req_run(r, hello_view, "Hello");
    const char *w = wire(r);
    cr_assert(strstr(w, "Content-Length: 5\r\n") != NULL, "%s", w);
    size_t len = strlen(w);
    cr_assert(len >= 4 && strcmp(w + len - 4, "\r\n\r\n") == 0, "no body after the head");
    mn_req_free(r);
}

Test(response, headers_add_set_remove_and_injection_refused)
{
    mn_req *r = req(NULL, false);
    cr_assert_eq(mn_resp_add_header(r, "Vary", "Cookie"), MN_OK);
    cr_assert_eq(mn_resp_add_header(r, "Vary", "Accept"), MN_OK);
    size_t n;
    mn_resp_headers(r, &n);
    cr_assert_eq(n, 3, "Content-Type plus two Vary");
    cr_assert_eq(mn_resp_set_header(r, "vary", "Origin"), MN_OK);
    mn_resp_headers(r, &n);
    cr_assert_eq(n, 2, "set replaces every header of that name");
    cr_assert(mn_str_eq_cstr(mn_resp_get_header(r, "VARY"), "Origin"));
    cr_assert_eq(mn_resp_add_header(r, "X-Bad", "a\r\nSet-Cookie: evil=1"), MN_EINVAL);
    cr_assert_eq(mn_resp_add_header(r, "X-Bad", "a\nb"), MN_EINVAL);
    cr_assert_eq(mn_resp_add_header(r, "Bad Name", "1"), MN_EINVAL);
    cr_assert_eq(mn_resp_add_header(r, "Bad:Name", "1"), MN_EINVAL);
    cr_assert_eq(mn_resp_add_header(r, "", "1"), MN_EINVAL);
    mn_resp_remove_header(r, "Vary");
    cr_assert_null(mn_resp_get_header(r, "Vary").ptr);
    mn_req_free(r);
}

Test(response, set_header_keeps_the_place_of_the_header_it_replaces)
{
    mn_req *r = req(NULL, false);
    cr_assert_eq(mn_resp_set_header(r, "Server", "Manouche"), MN_OK);
    cr_assert_eq(mn_resp_add_header(r, "X-A", "1"), MN_OK);
    cr_assert_eq(mn_resp_add_header(r, "x-a", "2"), MN_OK);
    cr_assert_eq(mn_resp_set_header(r, "X-B", "b"), MN_OK);
    /* as assigning an existing key of Django's header mapping (a dict): same place, the new
     * spelling of the name; later repeats of it are gone */
    cr_assert_eq(mn_resp_set_header(r, "content-type", "application/json"), MN_OK);
    cr_assert_eq(mn_resp_set_header(r, "X-a", "3"), MN_OK);
    size_t n;
    const mn_field *h = mn_resp_headers(r, &n);
    cr_assert_eq(n, 4);
    const char *names[] = {"content-type", "Server", "X-a", "X-B"};
    const char *values[] = {"application/json", "Manouche", "3", "b"};
    for (size_t i = 0; i < n; i++) {
        cr_expect(mn_str_eq_cstr(h[i].name, names[i]), "header %zu: %.*s", i, (int)h[i].name.len,
                  h[i].name.ptr);
        cr_expect(mn_str_eq_cstr(h[i].value, values[i]), "header %zu", i);
    }
    cr_expect(strstr(wire(r), "content-type: application/json\r\nServer: Manouche\r\n"
                              "X-a: 3\r\nX-B: b\r\n"),
              "%s", wire(r));
    mn_req_free(r);
}

Test(response, set_header_static_keeps_the_strings_and_checks_them)
{
    mn_req *r = req(NULL, false);
    static const char name[] = "Server", value[] = "Manouche";
    cr_assert_eq(mn_resp_set_header_static(r, name, value), MN_OK);
    cr_assert_eq(mn_resp_set_header_static(r, "Content-Type", "application/json"), MN_OK);
    size_t n;
    const mn_field *h = mn_resp_headers(r, &n);
    cr_assert_eq(n, 2, "Content-Type replaced, not repeated");
    cr_assert_eq(h[1].name.ptr, name, "not copied");
    cr_assert_eq(h[1].value.ptr, value, "not copied");
    cr_assert_eq(mn_resp_set_header_static(r, "X-Bad", "a\r\nSet-Cookie: evil=1"), MN_EINVAL);
    cr_assert_eq(mn_resp_set_header_static(r, "Bad Name", "1"), MN_EINVAL);
    cr_assert_eq(mn_resp_set_header_static(r, NULL, "1"), MN_EINVAL);
    cr_assert_eq(mn_resp_set_header_static(r, "X-A", NULL), MN_EINVAL);
    cr_expect(strstr(wire(r), "Content-Type: application/json\r\nServer: Manouche\r\n"), "%s",
              wire(r));
    mn_req_free(r);
}

Test(response, set_header_lit_takes_the_lengths_of_literals)
{
    mn_req *r = req(NULL, false);
    cr_assert_eq(MN_RESP_SET_HEADER_LIT(r, "Server", "Manouche"), MN_OK);
    cr_assert_eq(MN_RESP_SET_HEADER_LIT(r, "Content-Type", "application/json"), MN_OK);
    cr_assert(mn_str_eq_cstr(mn_resp_get_header(r, "server"), "Manouche"));
    cr_assert(mn_str_eq_cstr(mn_resp_get_header(r, "content-type"), "application/json"));
    cr_assert_eq(MN_RESP_SET_HEADER_LIT(r, "X-Bad", "a\r\nSet-Cookie: evil=1"), MN_EINVAL);
    cr_assert_eq(MN_RESP_SET_HEADER_LIT(r, "X-Bad", "a\0b"), MN_EINVAL, "NUL inside the length");
    cr_assert_eq(MN_RESP_SET_HEADER_LIT(r, "X\0Bad", "1"), MN_EINVAL);
    cr_assert_eq(MN_RESP_SET_HEADER_LIT(r, "", "1"), MN_EINVAL);
    cr_assert_eq(mn_resp_set_header_static_n(r, "X-A", 3, NULL, 0), MN_EINVAL);
    cr_assert_eq(mn_resp_set_header_static_n(r, "X-Abc", 3, "12345", 2), MN_OK, "prefixes");
    cr_assert(mn_str_eq_cstr(mn_resp_get_header(r, "X-A"), "12"));
    size_t n;
    mn_resp_headers(r, &n);
    cr_assert_eq(n, 3);
    cr_expect(strstr(wire(r), "Content-Type: application/json\r\nServer: Manouche\r\nX-A: 12\r\n"),
              "%s", wire(r));
    mn_req_free(r);
}

Test(response, set_header_copies_the_callers_strings)
{
    mn_req *r = req(NULL, false);
    /* a common Content-Type from a buffer that changes after the call */
    char name[] = "Content-Type", value[] = "text/plain";
    cr_assert_eq(mn_resp_set_header(r, name, value), MN_OK);
    memset(name, 'x', sizeof name - 1);
    memset(value, 'y', sizeof value - 1);
    cr_assert(mn_str_eq_cstr(mn_resp_get_header(r, "Content-Type"), "text/plain"));
    char other[] = "text/csv";
    cr_assert_eq(mn_resp_set_header(r, "Content-Type", other), MN_OK);
    other[0] = 'X';
    cr_assert(mn_str_eq_cstr(mn_resp_get_header(r, "Content-Type"), "text/csv"));
    mn_req_free(r);
}

Test(response, header_values_with_a_line_end_anywhere_are_refused)
{
    mn_req *r = req(NULL, false);
    char v[40];
    for (size_t len = 1; len < sizeof v; len++) {
        for (size_t at = 0; at < len; at++) {
            memset(v, 'a', len);
            v[len] = '\0';
            v[at] = '\r';
            cr_assert_eq(mn_resp_set_header(r, "X-V", v), MN_EINVAL, "CR at %zu of %zu", at, len);
            v[at] = '\n';
            cr_assert_eq(mn_resp_add_header(r, "X-V", v), MN_EINVAL, "LF at %zu of %zu", at, len);
            v[at] = 'a';
            cr_assert_eq(mn_resp_set_header(r, "X-V", v), MN_OK);
        }
    }
    char name[40];
    for (size_t len = 1; len < sizeof name; len++) {
        for (size_t at = 0; at < len; at++) {
            memset(name, 'N', len);
            name[len] = '\0';
            name[at] = ':';
            cr_assert_eq(mn_resp_set_header(r, name, "1"), MN_EINVAL, "':' at %zu of %zu", at, len);
        }
    }
    mn_req_free(r);
}

Test(response, framing_headers_belong_to_the_server)
{
    mn_req *r = req(NULL, false);
    mn_resp_set_body(r, "abc", 3);
    mn_resp_add_header(r, "Content-Length", "999");
    mn_resp_add_header(r, "Transfer-Encoding", "chunked");
    const char *w = wire(r);
    cr_assert(strstr(w, "999") == NULL && strstr(w, "Transfer-Encoding") == NULL, "%s", w);
    cr_assert(strstr(w, "Content-Length: 3\r\n") != NULL);
    mn_req_free(r);
}

Test(response, connection_close_from_the_handler_is_honoured)
{
    mn_req *r = req(NULL, false);
    mn_resp_set_header(r, "Connection", "close");
    const char *w = wire(r);
    cr_assert(strstr(w, "Connection: close\r\n") != NULL, "%s", w);
    mn_req_free(r);
}

Test(response, body_write_printf_and_replace)
{
    mn_req *r = req(NULL, false);
    mn_resp_puts(r, "a");
    mn_resp_write(r, "bc", 2);
    mn_resp_printf(r, "%d", 42);
    cr_assert_eq(mn_resp_body(r)->len, 5);
    cr_assert(memcmp(mn_resp_body(r)->data, "abc42", 5) == 0);
    mn_resp_set_body(r, "z", 1);
    cr_assert_eq(mn_resp_body(r)->len, 1);
    mn_req_free(r);
}

Test(response, no_body_statuses_send_no_length)
{
    mn_req *r = req(NULL, false);
    mn_resp_status(r, 304);
    mn_resp_puts(r, "ignored");
    mn_req_run(r, NULL, NULL);
    const char *w = wire(r);
    cr_assert(strncmp(w, "HTTP/1.1 304 Not Modified\r\n", 27) == 0, "%s", w);
    cr_assert(strstr(w, "Content-Length") == NULL, "%s", w);
    cr_assert(strstr(w, "ignored") == NULL);
    mn_req_free(r);
}

Test(response, cookie_secure_defaults)
{
    mn_req *r = req(NULL, false);
    mn_cookie c = {.name = "sid", .value = "abc", .max_age = -1};
    cr_assert_eq(mn_resp_set_cookie(r, &c), MN_OK);
    cr_assert(mn_str_eq_cstr(mn_resp_get_header(r, "Set-Cookie"),
                             "sid=abc; HttpOnly; Path=/; SameSite=Lax"),
              "%s", mn_resp_get_header(r, "Set-Cookie").ptr);
    mn_req_free(r);
}

Test(response, cookie_secure_on_https_and_when_forced)
{
    mn_req *r = req(NULL, true);
    mn_cookie c = {.name = "sid", .value = "abc", .max_age = -1};
    mn_resp_set_cookie(r, &c);
    cr_assert(strstr(mn_resp_get_header(r, "Set-Cookie").ptr, "; Secure") != NULL);
    mn_req_free(r);
    r = req(NULL, false);
    mn_cookie forced = {.name = "sid",
                        .value = "abc",
                        .max_age = -1,
                        .force_secure = true,
                        .not_http_only = true,
                        .same_site = "Strict"};
    mn_resp_set_cookie(r, &forced);
    cr_assert(mn_str_eq_cstr(mn_resp_get_header(r, "Set-Cookie"),
                             "sid=abc; Path=/; SameSite=Strict; Secure"),
              "%s", mn_resp_get_header(r, "Set-Cookie").ptr);
    mn_req_free(r);
}

Test(response, cookie_max_age_sets_expires_and_bad_names_refused)
{
    mn_req *r = req(NULL, false);
    mn_cookie c = {.name = "k", .value = "v", .max_age = 60, .same_site = ""};
    mn_resp_set_cookie(r, &c);
    const char *v = mn_resp_get_header(r, "Set-Cookie").ptr;
    cr_assert(strstr(v, "expires=") != NULL && strstr(v, "Max-Age=60") != NULL, "%s", v);
    cr_assert(strstr(v, "SameSite") == NULL, "%s", v);
    mn_cookie bad = {.name = "a b", .value = "v", .max_age = -1};
    cr_assert_neq(mn_resp_set_cookie(r, &bad), MN_OK);
    mn_req_free(r);
}

Test(response, delete_cookie_as_django)
{
    mn_req *r = req(NULL, false);
    mn_resp_delete_cookie(r, "sid", NULL, NULL);
    cr_assert(mn_str_eq_cstr(mn_resp_get_header(r, "Set-Cookie"),
                             "sid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/"),
              "%s", mn_resp_get_header(r, "Set-Cookie").ptr);
    mn_req_free(r);
}

static void streaming_view(mn_req *r, void *arg)
{
    mn_resp_stream_start(r);
    mn_resp_stream_write(r, "one ", 4);
    mn_resp_stream_write(r, "two", 3);
    mn_resp_stream_end(r);
}

Test(response, stream_without_a_socket_is_collected)
{
    mn_req *r = req(NULL, false);
    mn_req_run(r, streaming_view, NULL);
    cr_assert(mn_resp_is_streaming(r));
    const char *w = wire(r);
    cr_assert(strstr(w, "Content-Length: 7\r\n\r\none two") != NULL, "%s", w);
    mn_req_free(r);
}

Test(response, sendfile_without_a_socket_reads_the_file)
{
    char path[] = "/tmp/mn-test-resp-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "0123456789", 10), 10);
    mn_req *r = req(NULL, false);
    cr_assert_eq(mn_resp_sendfile(r, fd, 2, 5), MN_OK);
    cr_assert(mn_resp_is_file(r));
    const char *w = wire(r);
    cr_assert(strstr(w, "Content-Length: 5\r\n\r\n23456") != NULL, "%s", w);
    mn_req_free(r); /* closes fd */
    cr_assert_eq(fcntl(fd, F_GETFD), -1, "the response owned and closed the fd");
    unlink(path);
}

Test(response, reason_phrases)
{
    cr_assert_str_eq(mn_http_reason(404), "Not Found");
    cr_assert_str_eq(mn_http_reason(413), "Content Too Large");
    cr_assert_str_eq(mn_http_reason(431), "Request Header Fields Too Large");
    cr_assert_str_eq(mn_http_reason(799), "");
}

Test(response, unknown_status_has_an_empty_reason_but_is_sent)
{
    mn_req *r = req(NULL, false);
    mn_resp_status(r, 299);
    const char *w = wire(r);
    cr_assert(strncmp(w, "HTTP/1.1 299 \r\n", 15) == 0, "%s", w);
    mn_req_free(r);
}
