/* test_multipart.c — the streaming multipart/form-data parser: parts and their headers, data
 * that only looks like a boundary, any split of the input, limits and malformed bodies. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/multipart.h"

static mn_arena *a;
static void setup(void)
{
    a = mn_arena_new(0);
}
static void teardown(void)
{
    mn_arena_free(a);
}

/* Events as text: "[name|filename|type]data;" per part, NULL slices shown as '-'. */
static void put(mn_buf *log, mn_str s)
{
    if (s.ptr)
        mn_buf_put_str(log, s);
    else
        mn_buf_putc(log, '-');
}

static int on_begin(void *arg, const mn__multipart_part *p)
{
    mn_buf *log = arg;
    mn_buf_putc(log, '[');
    put(log, p->name);
    mn_buf_putc(log, '|');
    put(log, p->filename);
    mn_buf_putc(log, '|');
    put(log, p->content_type);
    mn_buf_putc(log, ']');
    return 0;
}

static int on_data(void *arg, const char *d, size_t n)
{
    return mn_buf_append(arg, d, n);
}

static int on_end(void *arg)
{
    return mn_buf_putc(arg, ';');
}

static const mn__multipart_callbacks cbs = {on_begin, on_data, on_end};

#define BODY                                                                                       \
    "preamble to ignore\r\n"                                                                       \
    "--XyZ\r\n"                                                                                    \
    "Content-Disposition: form-data; name=\"title\"\r\n\r\n"                                       \
    "Hello\r\n"                                                                                    \
    "--XyZ\r\n"                                                                                    \
    "content-disposition: form-data; name=\"doc\"; filename=\"a \\\"b\\\".txt\"\r\n"               \
    "Content-Type: text/plain\r\n\r\n"                                                             \
    "line1\r\n--XyNotIt\r\n\r\n--X\r\r\n-\r\n--XyZ \t\r\n"                                         \
    "Content-Disposition: form-data; name=empty\r\n\r\n"                                           \
    "\r\n--XyZ--\r\nepilogue --XyZ--"

static const char *want_log = "[title|-|-]Hello;"
                              "[doc|a \"b\".txt|text/plain]line1\r\n--XyNotIt\r\n\r\n--X\r\r\n-;"
                              "[empty|-|-];";

static const char *run_split(const char *body, size_t len, size_t step, int *rc,
                             const mn__multipart_limits *lim, const char **msg)
{
    mn_buf *log = mn_arena_alloc(a, sizeof *log);
    mn_buf_init(log, a);
    mn__multipart *m = mn__multipart_new(a, (mn_str)MN_STR_LIT("XyZ"), lim, &cbs, log);
    cr_assert_not_null(m);
    *rc = 0;
    for (size_t i = 0; i < len && *rc == 0; i += step)
        *rc = mn__multipart_feed(m, body + i, len - i < step ? len - i : step);
    if (*rc == 0)
        *rc = mn__multipart_finish(m);
    if (msg)
        *msg = mn__multipart_error(m);
    return mn_buf_cstr(log);
}

static const char *run(const char *body, int *rc, const char **msg)
{
    return run_split(body, strlen(body), strlen(body) + 1, rc, NULL, msg);
}

Test(multipart, fields_files_and_lookalike_boundaries, .init = setup, .fini = teardown)
{
    int rc;
    const char *log = run(BODY, &rc, NULL);
    cr_expect_eq(rc, 0);
    cr_expect_str_eq(log, want_log);
}

Test(multipart, any_feed_size_gives_the_same_events, .init = setup, .fini = teardown)
{
    size_t len = strlen(BODY);
    for (size_t step = 1; step <= 40; step++) {
        int rc;
        const char *log = run_split(BODY, len, step, &rc, NULL, NULL);
        cr_assert_eq(rc, 0, "step %zu", step);
        cr_assert_str_eq(log, want_log, "step %zu", step);
    }
}

Test(multipart, boundary_from_content_type, .init = setup, .fini = teardown)
{
    mn_str b;
    cr_assert_eq(
        mn__multipart_boundary(
            (mn_str)MN_STR_LIT("multipart/form-data; boundary=----WebKitFormBoundary7MA4"), &b),
        MN_OK);
    cr_expect(mn_str_eq_cstr(b, "----WebKitFormBoundary7MA4"));
    cr_assert_eq(
        mn__multipart_boundary(
            (mn_str)MN_STR_LIT("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b:c\""), &b),
        MN_OK);
    cr_expect(mn_str_eq_cstr(b, "a b:c"));
    const char *bad[] = {"multipart/form-data",
                         "multipart/form-data; boundary=",
                         "multipart/mixed; boundary=x",
                         "text/plain; boundary=x",
                         "multipart/form-data; boundary=\"ends in space \"",
                         "multipart/form-data; boundary=a\x01z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(mn__multipart_boundary(mn_str_from(bad[i]), &b), MN_EINVAL, "%s", bad[i]);
}

Test(multipart, filename_star_wins, .init = setup, .fini = teardown)
{
    int rc;
    const char *log =
        run("--XyZ\r\nContent-Disposition: form-data; name=f; filename=\"plain.txt\"; "
            "filename*=UTF-8''caf%C3%A9.txt\r\n\r\nx\r\n--XyZ--",
            &rc, NULL);
    cr_expect_eq(rc, 0);
    cr_expect_str_eq(log, "[f|caf\xc3\xa9.txt|-]x;");
}

Test(multipart, base64_parts_are_decoded, .init = setup, .fini = teardown)
{
    /* base64("Hello, world!") = SGVsbG8sIHdvcmxkIQ== ; base64("ab") = YWI */
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n"
                       "Content-Transfer-Encoding: BASE64\r\n\r\nSGVsbG8s\r\nIHdvcmxkIQ==\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=b\r\n"
                       "Content-Transfer-Encoding: base64\r\n\r\nYWI\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=c\r\n\r\nYWI\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=d\r\n"
                       "Content-Transfer-Encoding: base64\r\n\r\nYQ==Yg==\r\n--XyZ--";
    for (size_t step = 1; step < 12; step++) {
        int rc;
        const char *log = run_split(body, strlen(body), step, &rc, NULL, NULL);
        cr_assert_eq(rc, 0);
        cr_assert_str_eq(log, "[a|-|-]Hello, world!;[b|-|-]ab;[c|-|-]YWI;[d|-|-]ab;", "step %zu",
                         step);
    }
    int rc;
    const char *msg;
    run("--XyZ\r\nContent-Disposition: form-data; name=a\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nYWJjZ\r\n--XyZ--",
        &rc, &msg);
    cr_expect_eq(rc, MN_EPROTO);
    cr_expect(strstr(msg, "base64"), "%s", msg);
}

static int count_data(void *arg, const char *d, size_t n)
{
    (*(int *)arg)++;
    return 0;
}

Test(multipart, carriage_returns_in_data_do_not_split_it, .init = setup, .fini = teardown)
{
    /* binary files hold many CRs; each data callback may be a write(2) */
    mn_buf body;
    mn_buf_init(&body, a);
    mn_buf_puts(&body, "--XyZ\r\nContent-Disposition: form-data; name=f; filename=b\r\n\r\n");
    for (int i = 0; i < 1000; i++)
        mn_buf_puts(&body, "ab\r\n-\rc\r\n--XyY");
    mn_buf_puts(&body, "\r\n--XyZ--");
    int calls = 0;
    mn__multipart_callbacks cb = {NULL, count_data, NULL};
    mn__multipart *m = mn__multipart_new(a, (mn_str)MN_STR_LIT("XyZ"), NULL, &cb, &calls);
    cr_assert_eq(mn__multipart_feed(m, body.data, body.len), 0);
    cr_assert_eq(mn__multipart_finish(m), 0);
    cr_expect_eq(calls, 1, "one callback for the whole part, got %d", calls);
}

Test(multipart, names_are_valid_utf8, .init = setup, .fini = teardown)
{
    int rc;
    const char *log = run("--XyZ\r\nContent-Disposition: form-data; name=\"n\xff\"; "
                          "filename=\"\xc3\xa9\xc3\"\r\n\r\nx\r\n--XyZ--",
                          &rc, NULL);
    cr_expect_eq(rc, 0);
    cr_expect_str_eq(log, "[n\xef\xbf\xbd|\xc3\xa9\xef\xbf\xbd|-]x;");
}

Test(multipart, malformed_bodies_say_what_is_wrong, .init = setup, .fini = teardown)
{
    static const struct {
        const char *body;
        const char *msg;
    } cases[] = {
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv", "closing boundary"},
        {"--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n--XyZ--", "name"},
        {"--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--XyZ--", "form-data"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\n\r\nv\r\n--XyZ--", "bare LF"},
        {"--XyZ\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nv\r\n--XyZ--", "folded"},
        {"--XyZ\r\nno colon here\r\n\r\nv\r\n--XyZ--", "header line"},
        {"--XyZ\r\nBad Name: x\r\n\r\nv\r\n--XyZ--", "header name"},
        {"--XyZjunk\r\n", "CRLF or --"},
        {"--XyZ-x", "closing boundary"},
        {"--XyZ\rx", "CRLF"},
        {"no boundary at all", "closing boundary"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a; filename*=nope\r\n\r\n\r\n--XyZ--",
         "filename*"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        const char *msg;
        run(cases[i].body, &rc, &msg);
        cr_expect_eq(rc, MN_EPROTO, "case %zu: rc %d", i, rc);
        cr_expect(strstr(msg, cases[i].msg), "case %zu: message '%s' lacks '%s'", i, msg,
                  cases[i].msg);
    }
}

Test(multipart, limits, .init = setup, .fini = teardown)
{
    int rc;
    const char *msg;
    mn__multipart_limits lim = {.max_parts = 2};
    run_split(BODY, strlen(BODY), 7, &rc, &lim, &msg);
    cr_expect_eq(rc, MN_ETOOBIG);
    cr_expect(strstr(msg, "parts"), "%s", msg);
    lim = (mn__multipart_limits){.max_field_bytes = 4};
    run_split(BODY, strlen(BODY), 7, &rc, &lim, &msg);
    cr_expect_eq(rc, MN_ETOOBIG, "'Hello' is 5 bytes");
    cr_expect(strstr(msg, "field"), "%s", msg);
    lim = (mn__multipart_limits){.max_field_bytes = 5, .max_file_bytes = 10};
    run_split(BODY, strlen(BODY), 3, &rc, &lim, &msg);
    cr_expect_eq(rc, MN_ETOOBIG);
    cr_expect(strstr(msg, "file"), "%s", msg);
    lim = (mn__multipart_limits){.max_header_bytes = 40};
    run_split(BODY, strlen(BODY), 5, &rc, &lim, &msg);
    cr_expect_eq(rc, MN_ETOOBIG);
    cr_expect(strstr(msg, "headers"), "%s", msg);
    lim = (mn__multipart_limits){.max_parts = 3, .max_field_bytes = 5, .max_file_bytes = 29};
    run_split(BODY, strlen(BODY), 5, &rc, &lim, &msg);
    cr_expect_eq(rc, 0, "exactly at the limits: %s", msg);
}

static int stop_at_begin(void *arg, const mn__multipart_part *p)
{
    return 42;
}

Test(multipart, a_callback_can_stop_the_parse, .init = setup, .fini = teardown)
{
    mn__multipart_callbacks stop = {stop_at_begin, NULL, NULL};
    mn__multipart *m = mn__multipart_new(a, (mn_str)MN_STR_LIT("XyZ"), NULL, &stop, NULL);
    cr_assert_eq(mn__multipart_feed(m, BODY, strlen(BODY)), 42);
    cr_expect_eq(mn__multipart_feed(m, "more", 4), 42, "the error sticks");
    cr_expect_not(mn__multipart_done(m));
}

Test(multipart, invalid_boundary_is_refused, .init = setup, .fini = teardown)
{
    cr_expect_null(mn__multipart_new(a, (mn_str)MN_STR_LIT("a\r\nb"), NULL, &cbs, NULL));
    cr_expect_null(mn__multipart_new(a, (mn_str)MN_STR_LIT(""), NULL, &cbs, NULL));
}
