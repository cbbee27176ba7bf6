/* helper_engine.c — shared by the template unit tests: an engine with a few embedded
 * templates (the same ones gen_tag_cases.py gives Django's locmem loader), render helpers
 * that return the output or the error, and the engine-and-arena fixture of the tests. */
#include "helper_engine.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <string.h>

static const mn_template_embedded fixtures[] = {
    {"base.html", "<h1>{% block title %}Base{% endblock %}</h1>{% block body %}B{% endblock %}"},
    {"mid.html", "{% extends \"base.html\" %}{% block title %}Mid|{{ block.super }}{% endblock %}"},
    {"inc.html", "[{{ x }}|{{ y }}]"},
    {"cyc.html", "{% cycle \"a\" \"b\" %}"},
    {NULL, NULL},
};

mn_template_engine *helper_engine(void)
{
    mn_template_engine *e = mn_template_engine_new();
    if (e)
        mn_template_engine_add_embedded_table(e, fixtures);
    return e;
}

int helper_render_context(mn_template_engine *e, mn_arena *a, const char *src, mn_context *ctx,
                          char **out, mn_template_error *err)
{
    memset(err, 0, sizeof *err);
    *out = NULL;
    mn_template *t = mn_template_compile(e, "test.html", src, strlen(src), err);
    if (!t)
        return err->code ? err->code : -1;
    mn_buf b;
    mn_buf_init(&b, a);
    int rc = mn_template_render(t, ctx, &b, err);
    mn_template_free(t);
    if (rc < 0)
        return rc;
    *out = mn_buf_cstr(&b);
    return 0;
}

int helper_render(mn_template_engine *e, mn_arena *a, const char *src, const char *json, char **out,
                  mn_template_error *err)
{
    mn_context *ctx = mn_context_new(a);
    if (json) {
        mn_value *v = mn_value_from_json(a, json, strlen(json), NULL, 0);
        if (!v) {
            memset(err, 0, sizeof *err);
            *out = NULL;
            return -100;
        }
        mn_context_update(ctx, v);
    }
    return helper_render_context(e, a, src, ctx, out, err);
}

bool helper_case_differs(const char *name, const char *src, const char *expected, bool error,
                         int rc, const char *out, const mn_template_error *err)
{
    if (error) {
        if (rc == 0)
            cr_log_error("%s: expected error '%s', rendered '%s'", name, expected, out);
        else if (!strstr(err->message, expected))
            cr_log_error("%s: expected error '%s', got '%s'", name, expected, err->message);
        else
            return false;
    } else if (rc != 0) {
        cr_log_error("%s: expected '%s', got error '%s'", name, expected, err->message);
    } else if (strcmp(out, expected) != 0) {
        cr_log_error("%s:\n  template: %s\n  expected: '%s'\n  got:      '%s'", name, src, expected,
                     out);
    } else {
        return false;
    }
    return true;
}

mn_template_engine *engine;
mn_arena *arena;

void engine_setup(void)
{
    engine = helper_engine();
    arena = mn_arena_new(0);
    cr_assert(engine && arena);
}

void engine_teardown(void)
{
    mn_template_engine_free(engine);
    mn_arena_free(arena);
}

/* render() and render_error() assert only on a failure. Under --full-stats a passing
 * assertion is still sent to the runner with its formatted message, here the whole template
 * source: the 20 KB sources of the deep-nesting test made the runner's message thread
 * allocate in the same ASan size class as the malloc(RLIMIT_NOFILE) that Criterion's
 * fork child makes before exec (20000 here). GCC 12's ASan allocator takes no lock around
 * fork, so a fork landing while that thread held the class lock left the child blocked in
 * malloc, the runner in waitpid and the other worker waiting for its ack: a silent hang
 * until the ctest timeout. */
char *render(const char *src, const char *json)
{
    char *out;
    mn_template_error err;
    int rc = helper_render(engine, arena, src, json, &out, &err);
    if (rc != 0)
        cr_assert_fail("render of '%s' failed: %s", src, err.message);
    return out;
}

mn_template_error render_error(const char *src, const char *json)
{
    char *out;
    mn_template_error err;
    int rc = helper_render(engine, arena, src, json, &out, &err);
    if (rc == 0)
        cr_assert_fail("'%s' should fail but rendered '%s'", src, out ? out : "");
    return err;
}
