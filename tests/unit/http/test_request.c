/* test_request.c — the request side of mn_req, built without a socket (mn_req_new): paths,
 * query parameters, headers, cookies, client address behind trusted proxies, forms, JSON,
 * multipart files, attributes and ids. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "http/internal.h"

#define F(n, v)                                                                                    \
    {                                                                                              \
        MN_STR_LIT(n), MN_STR_LIT(v)                                                               \
    }

static mn_req *get(const char *target)
{
    mn_req_init init = {.target = target};
    mn_req *r = mn_req_new(&init);
    cr_assert_not_null(r, "mn_req_new(%s)", target);
    return r;
}

static bool str_is(mn_str s, const char *want)
{
    return mn_str_eq_cstr(s, want);
}

Test(request, method_path_and_query_string)
{
    mn_field h[] = {F("Host", "example.com:8000")};
    mn_req_init init = {
        .method = "POST", .target = "/a%20b/./c/../d?x=1&y=%20", .headers = h, .header_count = 1};
    mn_req *r = mn_req_new(&init);
    cr_assert_not_null(r);
    cr_assert(str_is(mn_req_method(r), "POST"));
    cr_assert(mn_req_method_is(r, "POST"));
    cr_assert(!mn_req_method_is(r, "post"), "methods are case-sensitive");
    cr_assert(str_is(mn_req_path(r), "/a b/d"), "got %.*s", (int)mn_req_path(r).len,
              mn_req_path(r).ptr);
    cr_assert(str_is(mn_req_raw_path(r), "/a%20b/./c/../d"));
    cr_assert(str_is(mn_req_query_string(r), "x=1&y=%20"));
    cr_assert(str_is(mn_req_host(r), "example.com:8000"));
    cr_assert_eq(mn_req_http_minor(r), 1);
    mn_req_free(r);
}

Test(request, path_never_climbs_above_root)
{
    mn_req *r = get("/../../etc/passwd");
    cr_assert(str_is(mn_req_path(r), "/etc/passwd"));
    mn_req_free(r);
}

Test(request, rejects_targets_the_server_would_reject)
{
    const char *bad[] = {"relative", "http://host/a", "/a b", "/a\r\nX: y", "", "/a#frag"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mn_req_init init = {.target = bad[i]};
        cr_assert_null(mn_req_new(&init), "target %s accepted", bad[i]);
    }
    mn_req_init nul = {.target = "/a%00b"};
    cr_assert_null(mn_req_new(&nul), "%%00 in a path accepted");
}

Test(request, rejects_bad_headers_and_methods)
{
    mn_field crlf[] = {F("X-A", "a\r\nInjected: 1")};
    mn_req_init init = {.target = "/", .headers = crlf, .header_count = 1};
    cr_assert_null(mn_req_new(&init));
    mn_field badname[] = {F("X A", "1")};
    init.headers = badname;
    cr_assert_null(mn_req_new(&init));
    mn_req_init m = {.method = "GE T", .target = "/"};
    cr_assert_null(mn_req_new(&m));
}

Test(request, query_parameters_are_multi_valued_like_querydict)
{
    mn_req *r = get("/?a=1&b=x+y&a=2&c&d=%C3%A9&a=3");
    cr_assert_str_eq(mn_req_query(r, "a"), "3", "the last value, as QueryDict.get");
    cr_assert_str_eq(mn_req_query(r, "b"), "x y");
    cr_assert_str_eq(mn_req_query(r, "c"), "");
    cr_assert_str_eq(mn_req_query(r, "d"), "\xc3\xa9");
    cr_assert_null(mn_req_query(r, "zz"));
    mn_str vals[2];
    cr_assert_eq(mn_req_query_list(r, "a", vals, 2), 3, "count of all values");
    cr_assert(str_is(vals[0], "1") && str_is(vals[1], "2"));
    size_t n;
    const mn_field *f = mn_req_query_fields(r, &n);
    cr_assert_eq(n, 6);
    cr_assert(str_is(f[1].name, "b"));
    mn_req_free(r);
}

Test(request, too_many_query_fields_is_reported)
{
    mn_http_limits lim;
    mn_http_limits_default(&lim);
    lim.max_form_fields = 2;
    mn_req_init init = {.target = "/?a=1&b=2&c=3", .limits = &lim};
    mn_req *r = mn_req_new(&init);
    mn_req_query(r, "a");
    cr_assert(strstr(mn_req_error(r), "DATA_UPLOAD_MAX_NUMBER_FIELDS") != NULL, "%s",
              mn_req_error(r));
    mn_req_free(r);
}

Test(request, headers_case_insensitive_and_repeated_kept)
{
    mn_field h[] = {F("Accept", "text/html"), F("X-Multi", "1"), F("x-multi", "2")};
    mn_req_init init = {.target = "/", .headers = h, .header_count = 3};
    mn_req *r = mn_req_new(&init);
    cr_assert(str_is(mn_req_header(r, "ACCEPT"), "text/html"));
    cr_assert(str_is(mn_req_header(r, "X-MULTI"), "1"), "the first value");
    cr_assert_null(mn_req_header(r, "Missing").ptr);
    size_t n;
    const mn_field *all = mn_req_headers(r, &n);
    cr_assert_eq(n, 3);
    cr_assert(str_is(all[2].value, "2"));
    mn_req_free(r);
}

Test(request, cookies_parsed_as_django)
{
    mn_field h[] = {F("Cookie", "sid=abc; theme=\"dark\"; lone; sid=later")};
    mn_req_init init = {.target = "/", .headers = h, .header_count = 1};
    mn_req *r = mn_req_new(&init);
    cr_assert_str_eq(mn_req_cookie(r, "theme"), "dark");
    cr_assert_str_eq(mn_req_cookie(r, "sid"), "later", "a later repeat wins, as parse_cookie");
    cr_assert_str_eq(mn_req_cookie(r, ""), "lone");
    cr_assert_null(mn_req_cookie(r, "nope"));
    mn_req_free(r);
}

Test(request, client_ip_ignores_forwarded_headers_by_default)
{
    mn_field h[] = {F("X-Forwarded-For", "1.2.3.4"), F("X-Forwarded-Proto", "https")};
    mn_req_init init = {.target = "/", .headers = h, .header_count = 2, .client_ip = "10.0.0.1"};
    mn_req *r = mn_req_new(&init);
    cr_assert_str_eq(mn_req_client_ip(r), "10.0.0.1");
    cr_assert(!mn_req_is_secure(r));
    mn_req_free(r);
}

Test(request, client_ip_from_a_trusted_proxy)
{
    mn_field h[] = {F("X-Forwarded-For", "203.0.113.9, 10.0.0.2"), F("X-Forwarded-Proto", "https")};
    mn_req_init init = {.target = "/", .headers = h, .header_count = 2, .client_ip = "10.0.0.1"};
    mn_req *r = mn_req_new(&init);
    r->trusted_proxies = "10.0.0.1, 10.0.0.2";
    cr_assert_str_eq(mn_req_client_ip(r), "203.0.113.9");
    cr_assert(mn_req_is_secure(r));
    mn_req_free(r);
}

Test(request, client_ip_is_the_rightmost_untrusted_address)
{
    /* The client can put anything on the left; our proxy appended what it really saw. */
    mn_field h[] = {F("X-Forwarded-For", "6.6.6.6, 198.51.100.4"),
                    F("X-Forwarded-For", "10.0.0.2")};
    mn_req_init init = {.target = "/", .headers = h, .header_count = 2, .client_ip = "10.0.0.1"};
    mn_req *r = mn_req_new(&init);
    r->trusted_proxies = "10.0.0.1,10.0.0.2";
    cr_assert_str_eq(mn_req_client_ip(r), "198.51.100.4");
    mn_req_free(r);
}

Test(request, secure_flag_from_init)
{
    mn_req_init init = {.target = "/", .secure = true};
    mn_req *r = mn_req_new(&init);
    cr_assert(mn_req_is_secure(r));
    cr_assert_str_eq(mn_req_client_ip(r), "127.0.0.1", "the default client address");
    mn_req_free(r);
}

Test(request, urlencoded_form)
{
    mn_field h[] = {F("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")};
    const char *body = "name=Ann+Lee&tag=a&tag=b&empty=";
    mn_req_init init = {.method = "POST",
                        .target = "/",
                        .headers = h,
                        .header_count = 1,
                        .body = body,
                        .body_len = strlen(body)};
    mn_req *r = mn_req_new(&init);
    cr_assert(str_is(mn_req_body(r), body));
    cr_assert_str_eq(mn_req_form(r, "name"), "Ann Lee");
    cr_assert_str_eq(mn_req_form(r, "tag"), "b");
    cr_assert_str_eq(mn_req_form(r, "empty"), "");
    mn_str tags[4];
    cr_assert_eq(mn_req_form_list(r, "tag", tags, 4), 2);
    size_t n;
    mn_req_form_fields(r, &n);
    cr_assert_eq(n, 4);
    mn_req_free(r);
}

Test(request, form_is_absent_for_other_content_types)
{
    mn_field h[] = {F("Content-Type", "text/plain")};
    mn_req_init init = {.method = "POST",
                        .target = "/",
                        .headers = h,
                        .header_count = 1,
                        .body = "a=1",
                        .body_len = 3};
    mn_req *r = mn_req_new(&init);
    cr_assert_null(mn_req_form(r, "a"));
    mn_req_free(r);
}

Test(request, json_body_and_its_error)
{
    mn_req_init init = {.method = "POST", .target = "/", .body = "{\"a\": [1, 2]}", .body_len = 13};
    mn_req *r = mn_req_new(&init);
    json_t *j = mn_req_json(r);
    cr_assert_not_null(j);
    cr_assert_eq(json_array_size(json_object_get(j, "a")), 2);
    cr_assert_eq(mn_req_json(r), j, "parsed once");
    mn_req_free(r);
    mn_req_init bad = {.method = "POST", .target = "/", .body = "{\"a\": ", .body_len = 6};
    r = mn_req_new(&bad);
    cr_assert_null(mn_req_json(r));
    cr_assert(strstr(mn_req_error(r), "not valid JSON") != NULL, "%s", mn_req_error(r));
    mn_req_free(r);
}

Test(request, multipart_fields_and_files)
{
    const char *body = "--B\r\n"
                       "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
                       "Hi\r\n"
                       "--B\r\n"
                       "Content-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n"
                       "Content-Type: text/plain\r\n\r\n"
                       "file body\r\n"
                       "--B--\r\n";
    mn_field h[] = {F("Content-Type", "multipart/form-data; boundary=B")};
    mn_req_init init = {.method = "POST",
                        .target = "/",
                        .headers = h,
                        .header_count = 1,
                        .body = body,
                        .body_len = strlen(body)};
    mn_req *r = mn_req_new(&init);
    cr_assert_str_eq(mn_req_form(r, "title"), "Hi");
    const mn_upload *u = mn_req_file(r, "doc");
    cr_assert_not_null(u);
    cr_assert_str_eq(u->filename, "a.txt");
    cr_assert_str_eq(u->content_type, "text/plain");
    cr_assert_eq(u->size, 9);
    cr_assert(u->data && memcmp(u->data, "file body", 9) == 0);
    cr_assert_null(u->path);
    cr_assert_null(mn_req_file(r, "title"));
    mn_req_free(r);
}

Test(request, big_multipart_file_goes_to_a_temp_file_removed_at_the_end)
{
    mn_http_limits lim;
    mn_http_limits_default(&lim);
    lim.upload_memory = 16;
    char dir[] = "/tmp/mn-test-upload-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    lim.upload_temp_dir = dir;
    const char *body = "--B\r\n"
                       "Content-Disposition: form-data; name=\"f\"; filename=\"big.bin\"\r\n\r\n"
                       "0123456789abcdefghijklmnopqrstuvwxyz\r\n"
                       "--B--\r\n";
    mn_field h[] = {F("Content-Type", "multipart/form-data; boundary=B")};
    mn_req_init init = {.method = "POST",
                        .target = "/",
                        .headers = h,
                        .header_count = 1,
                        .body = body,
                        .body_len = strlen(body),
                        .limits = &lim};
    mn_req *r = mn_req_new(&init);
    const mn_upload *u = mn_req_file(r, "f");
    cr_assert_not_null(u);
    cr_assert_null(u->data);
    cr_assert_not_null(u->path);
    cr_assert_eq(u->size, 36);
    cr_assert(strncmp(u->path, dir, strlen(dir)) == 0, "%s", u->path);
    char path[256];
    snprintf(path, sizeof path, "%s", u->path);
    cr_assert_eq(access(path, R_OK), 0);
    mn_req_free(r);
    cr_assert_neq(access(path, F_OK), 0, "temporary file removed with the request");
    rmdir(dir);
}

Test(request, malformed_multipart_is_an_error_not_a_crash)
{
    const char *body = "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx";
    mn_field h[] = {F("Content-Type", "multipart/form-data; boundary=B")};
    mn_req_init init = {.method = "POST",
                        .target = "/",
                        .headers = h,
                        .header_count = 1,
                        .body = body,
                        .body_len = strlen(body)};
    mn_req *r = mn_req_new(&init);
    size_t n = 99;
    mn_req_files(r, &n);
    cr_assert_eq(n, 0);
    cr_assert(strstr(mn_req_error(r), "multipart") != NULL, "%s", mn_req_error(r));
    mn_req_free(r);
}

Test(request, attributes)
{
    mn_req *r = get("/");
    int a = 1, b = 2;
    cr_assert_null(mn_req_attr(r, "route"));
    cr_assert_eq(mn_req_set_attr(r, "route", &a), MN_OK);
    cr_assert_eq(mn_req_attr(r, "route"), &a);
    mn_req_set_attr(r, "route", &b);
    cr_assert_eq(mn_req_attr(r, "route"), &b, "set again replaces");
    mn_req_free(r);
}

Test(request, ids_are_unique_and_stable)
{
    mn_req *r1 = get("/"), *r2 = get("/");
    const char *id1 = mn_req_id(r1);
    cr_assert(strlen(id1) >= 16);
    cr_assert_str_eq(mn_req_id(r1), id1, "stable within a request");
    cr_assert_str_neq(mn_req_id(r2), id1);
    mn_req_free(r1);
    mn_req_free(r2);
}

Test(request, arena_belongs_to_the_request)
{
    mn_req *r = get("/");
    char *s = mn_arena_strdup(mn_req_arena(r), "scratch");
    cr_assert_str_eq(s, "scratch");
    mn_req_free(r);
}

static void busy_view(mn_req *r, void *arg)
{
    (void)arg;
    mn_req_query(r, "a");
    mn_req_cookie(r, "sid");
    mn_req_form(r, "title");
    mn_req_files(r, NULL);
    mn_req_id(r);
    mn_req_set_attr(r, "k", r);
    mn_resp_set_header(r, "X-A", "1");
    mn_cookie c = {.name = "sid", .value = "v", .max_age = 60};
    mn_resp_set_cookie(r, &c);
    mn_resp_printf(r, "%s", "hello");
}

/* Every allocation in turn fails: each path must give an error, never a crash or a leak. */
Test(request, out_of_memory_anywhere_is_survived)
{
    const char *body = "--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHi\r\n"
                       "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n"
                       "data\r\n--B--\r\n";
    mn_field h[] = {F("Content-Type", "multipart/form-data; boundary=B"),
                    F("Cookie", "sid=1; x=2")};
    mn_req_init init = {.method = "POST",
                        .target = "/p/../q?a=1&a=2",
                        .headers = h,
                        .header_count = 2,
                        .body = body,
                        .body_len = strlen(body)};
    for (long n = 1; n < 200; n++) {
        mn_alloc_fail_after(n);
        mn_req *r = mn_req_new(&init);
        if (r) {
            mn_req_run(r, busy_view, NULL);
            mn_buf out;
            mn_buf_init(&out, NULL);
            mn_resp_serialize(r, &out);
            mn_buf_free(&out);
            mn_req_free(r);
        }
        mn_alloc_fail_after(0);
    }
}

static mn_req *multipart_req(const char *body, const mn_http_limits *lim)
{
    static mn_field h[] = {F("Content-Type", "multipart/form-data; boundary=B")};
    mn_req_init init = {.method = "POST",
                        .target = "/",
                        .headers = h,
                        .header_count = 1,
                        .body = body,
                        .body_len = strlen(body),
                        .limits = lim};
    mn_req *r = mn_req_new(&init);
    cr_assert_not_null(r);
    return r;
}

Test(request, multipart_limits_name_what_was_exceeded)
{
    const char *two = "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                      "--B\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--B--\r\n";
    mn_http_limits lim;
    mn_http_limits_default(&lim);
    lim.max_multipart_parts = 1;
    mn_req *r = multipart_req(two, &lim);
    mn_req_form(r, "a");
    cr_assert(*mn_req_error(r), "too many parts must be reported");
    mn_req_free(r);

    mn_http_limits_default(&lim);
    lim.max_form_fields = 1;
    r = multipart_req(two, &lim);
    mn_req_form(r, "a");
    cr_assert(strstr(mn_req_error(r), "DATA_UPLOAD_MAX_NUMBER_FIELDS") != NULL, "%s",
              mn_req_error(r));
    mn_req_free(r);

    const char *file = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n"
                       "12345\r\n--B--\r\n";
    mn_http_limits_default(&lim);
    lim.max_upload = 4;
    r = multipart_req(file, &lim);
    size_t n = 9;
    mn_req_files(r, &n);
    cr_assert_eq(n, 0);
    cr_assert(*mn_req_error(r), "a file over max_upload must be reported");
    mn_req_free(r);
}

Test(request, empty_file_input_is_ignored_as_django_does)
{
    const char *body = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n\r\n"
                       "\r\n--B--\r\n";
    mn_req *r = multipart_req(body, NULL);
    size_t n = 9;
    mn_req_files(r, &n);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(mn_req_error(r), "");
    mn_req_free(r);
}
