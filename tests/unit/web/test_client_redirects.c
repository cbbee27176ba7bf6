/* The test client following redirects as django.test.Client does: a hop back to a
 * (location, status) already followed is "Redirect loop detected.", more than 20 hops is
 * "Too many redirects." (Django's RedirectCycleError); the request then fails (NULL) and
 * the error is what an assertion on it reports. */
#include "helper_site.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mn_client *c;

static void done(void)
{
    test_client_done(c);
}

static void v_loop(mn_req *r)
{
    mn_redirect(r, "/loop/");
}

static void v_ping(mn_req *r)
{
    mn_redirect(r, "/pong/");
}

static void v_pong(mn_req *r)
{
    mn_redirect(r, "/ping/");
}

/* /chain/N/ redirects to /chain/N+1/ until N reaches ?end= (a growing path: no cycle). */
static void v_chain(mn_req *r)
{
    int64_t n = mn_path_int(r, "n");
    const char *end = mn_req_query(r, "end");
    if (end && n >= (int64_t)atoll(end)) {
        mn_resp_printf(r, "end of chain at %lld", (long long)n);
        return;
    }
    char to[64];
    snprintf(to, sizeof to, "/chain/%lld/?end=%s", (long long)n + 1, end ? end : "1000");
    mn_redirect(r, to);
}

static const mn_route urls[] = {
    MN_PATH("loop/", v_loop, "loop"),
    MN_PATH("ping/", v_ping, "ping"),
    MN_PATH("pong/", v_pong, "pong"),
    MN_PATH("chain/<int:n>/", v_chain, "chain"),
    MN_END,
};

static const mn_project project = {"redirects", urls, NULL, NULL, NULL, NULL, NULL, NULL, NULL};

Test(client_redirects, a_page_redirecting_to_itself_is_a_loop, .fini = done)
{
    c = test_client(&project, NULL);
    mn_client_set_follow(c, true);
    mn_req *r = mn_client_get(c, "/loop/");
    cr_assert_null(r);
    cr_assert_str_eq(mn_client_error(c), "Redirect loop detected.");
    cr_assert_str_eq(mn_resp_text(r), "Redirect loop detected.");
    cr_assert_eq(mn_client_redirect_count(c), 1);
}

Test(client_redirects, a_two_page_cycle_is_a_loop, .fini = done)
{
    c = test_client(&project, NULL);
    mn_client_request q = {0};
    q.path = "/ping/";
    q.follow = true;
    cr_assert_null(mn_client_request_run(c, &q));
    cr_assert_str_eq(mn_client_error(c), "Redirect loop detected.");
    cr_assert_eq(mn_client_redirect_count(c), 2);
    /* the next request starts clean */
    mn_client_set_follow(c, false);
    mn_req *r = mn_client_get(c, "/loop/");
    mn_assert_redirects(r, 302, "/loop/");
    cr_assert_str_eq(mn_client_error(c), "");
}

Test(client_redirects, twenty_redirects_are_followed_more_are_too_many, .fini = done)
{
    c = test_client(&project, NULL);
    mn_client_set_follow(c, true);
    mn_req *r = mn_client_get(c, "/chain/0/?end=20");
    mn_assert_status(r, 200);
    cr_assert_str_eq(mn_resp_text(r), "end of chain at 20");
    cr_assert_eq(mn_client_redirect_count(c), 20);
    cr_assert_null(mn_client_get(c, "/chain/0/?end=21"));
    cr_assert_str_eq(mn_client_error(c), "Too many redirects.");
}

Test(client_redirects, without_follow_nothing_changes, .fini = done)
{
    c = test_client(&project, NULL);
    mn_assert_redirects(mn_client_get(c, "/loop/"), 302, "/loop/");
    cr_assert_eq(mn_client_redirect_count(c), 0);
}
