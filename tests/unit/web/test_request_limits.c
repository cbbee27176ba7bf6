/* Parameter-count limits as a view meets them through the test client: more GET/POST
 * parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS or more files than DATA_UPLOAD_MAX_NUMBER_FILES
 * end the request with 400 (Django's TooManyFieldsSent / TooManyFilesSent), never a view
 * that runs on a silently empty form. */
#include "helper_site.h"

#include <manouche/core.h>

#include <string.h>

static mn_client *c;

static void done(void)
{
    test_client_done(c);
}

/* "f0=1&f1=1&...&choice=1": n fields before the choice, n + 1 in all. */
static char *fields(size_t n)
{
    mn_buf b;
    mn_buf_init(&b, NULL);
    for (size_t i = 0; i < n; i++)
        mn_buf_printf(&b, "f%zu=1&", i);
    mn_buf_puts(&b, "choice=1");
    char *s = mn_strdup(mn_buf_cstr(&b));
    mn_buf_free(&b);
    return s;
}

static mn_req *post_multipart(const char *path, const char *body)
{
    mn_client_request q = {0};
    q.method = "POST";
    q.path = path;
    q.body = body;
    q.content_type = "multipart/form-data; boundary=B";
    return mn_client_request_run(c, &q);
}

/* n file parts and a choice field. */
static char *files(size_t n)
{
    mn_buf b;
    mn_buf_init(&b, NULL);
    for (size_t i = 0; i < n; i++)
        mn_buf_printf(&b,
                      "--B\r\nContent-Disposition: form-data; name=\"f%zu\"; filename=\"f%zu.txt\""
                      "\r\n\r\nx\r\n",
                      i, i);
    mn_buf_puts(&b, "--B\r\nContent-Disposition: form-data; name=\"choice\"\r\n\r\n1\r\n--B--\r\n");
    char *s = mn_strdup(mn_buf_cstr(&b));
    mn_buf_free(&b);
    return s;
}

Test(request_limits, form_at_the_field_limit_reaches_the_view, .fini = done)
{
    c = test_client(&test_project, NULL);
    char *body = fields(999);
    mn_req *r = mn_client_post_form(c, "/polls/1/vote/", body);
    mn_assert_redirects(r, 302, "/polls/1/results/");
    mn_free(body);
}

Test(request_limits, form_over_the_field_limit_is_400_not_an_empty_form, .fini = done)
{
    c = test_client(&test_project, NULL);
    char *body = fields(1000);
    mn_req *r = mn_client_post_form(c, "/polls/1/vote/", body);
    mn_assert_status(r, 400);
    cr_assert_str_eq(mn_error_message(r), "The number of GET/POST parameters exceeded "
                                          "settings.DATA_UPLOAD_MAX_NUMBER_FIELDS (1000).");
    mn_free(body);
}

Test(request_limits, query_string_counts_against_the_field_limit, .fini = done)
{
    static const char *const env[] = {"DATA_UPLOAD_MAX_NUMBER_FIELDS", "3", NULL};
    c = test_client(&test_project, env);
    mn_assert_status(mn_client_get(c, "/polls/1/?a=1&b=2&c=3"), 200);
    mn_assert_status(mn_client_get(c, "/polls/1/?a=1&b=2&c=3&d=4"), 400);
    /* an empty value is a field too (Django counts 1 + the number of '&') */
    mn_assert_status(mn_client_get(c, "/polls/1/?a&&&"), 400);
}

Test(request_limits, field_limit_none_or_zero_turns_it_off, .fini = done)
{
    static const char *const env[] = {"DATA_UPLOAD_MAX_NUMBER_FIELDS", "None", NULL};
    c = test_client(&test_project, env);
    char *body = fields(5000);
    mn_assert_redirects(mn_client_post_form(c, "/polls/1/vote/", body), 302, "/polls/1/results/");
    mn_free(body);
}

Test(request_limits, multipart_fields_over_the_limit_is_400, .fini = done)
{
    static const char *const env[] = {"DATA_UPLOAD_MAX_NUMBER_FIELDS", "2", NULL};
    c = test_client(&test_project, env);
    const char *two =
        "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
        "--B\r\nContent-Disposition: form-data; name=\"choice\"\r\n\r\n1\r\n--B--\r\n";
    mn_assert_status(post_multipart("/polls/1/vote/", two), 302);
    const char *three = "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                        "--B\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n1\r\n"
                        "--B\r\nContent-Disposition: form-data; name=\"choice\"\r\n\r\n1\r\n"
                        "--B--\r\n";
    mn_req *r = post_multipart("/polls/1/vote/", three);
    mn_assert_status(r, 400);
    mn_assert_contains(r, "Bad Request");
}

Test(request_limits, files_count_against_their_own_limit_not_the_fields, .fini = done)
{
    /* 100 files by default: as Django, files are not fields */
    static const char *const env[] = {"DATA_UPLOAD_MAX_NUMBER_FIELDS", "1", NULL};
    c = test_client(&test_project, env);
    char *body = files(100);
    mn_assert_status(post_multipart("/polls/1/vote/", body), 302);
    mn_free(body);
    body = files(101);
    mn_req *r = post_multipart("/polls/1/vote/", body);
    mn_assert_status(r, 400);
    cr_assert_str_eq(mn_error_message(r),
                     "The number of files exceeded settings.DATA_UPLOAD_MAX_NUMBER_FILES (100).");
    mn_free(body);
}

Test(request_limits, file_limit_is_a_setting, .fini = done)
{
    static const char *const env[] = {"DATA_UPLOAD_MAX_NUMBER_FILES", "2", NULL};
    c = test_client(&test_project, env);
    char *body = files(2);
    mn_assert_status(post_multipart("/polls/1/vote/", body), 302);
    mn_free(body);
    body = files(3);
    mn_assert_status(post_multipart("/polls/1/vote/", body), 400);
    mn_free(body);
}

Test(request_limits, file_limit_none_turns_it_off, .fini = done)
{
    static const char *const env[] = {"DATA_UPLOAD_MAX_NUMBER_FILES", "", NULL};
    c = test_client(&test_project, env);
    char *body = files(150);
    mn_assert_status(post_multipart("/polls/1/vote/", body), 302);
    mn_free(body);
}

Test(request_limits, part_limit_is_400_too, .fini = done)
{
    static const char *const env[] = {"DATA_UPLOAD_MAX_NUMBER_PARTS", "2", NULL};
    c = test_client(&test_project, env);
    char *body = files(2);
    mn_req *r = post_multipart("/polls/1/vote/", body);
    mn_assert_status(r, 400);
    cr_assert(strstr(mn_error_message(r), "DATA_UPLOAD_MAX_NUMBER_PARTS (2)"), "%s",
              mn_error_message(r));
    mn_free(body);
}

Test(request_limits, a_bad_limit_value_names_what_is_allowed)
{
    mn_settings *s = mn_settings_new();
    setenv("DATA_UPLOAD_MAX_NUMBER_FILES", "lots", 1);
    cr_assert_neq(mn_settings_load(s, NULL), 0);
    cr_assert_str_eq(mn_settings_error(s), "DATA_UPLOAD_MAX_NUMBER_FILES: 'lots' is not an "
                                           "integer >= 0, or None for no limit");
    unsetenv("DATA_UPLOAD_MAX_NUMBER_FILES");
    mn_settings_free(s);
}
