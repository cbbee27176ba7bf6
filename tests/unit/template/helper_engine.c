/* helper_engine.c — shared by the template unit tests: an engine with a few embedded
 * templates (the same ones gen_tag_cases.py gives Django's locmem loader) and a render
 * helper that returns the output or the error. */
#include "helper_engine.h"

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

int helper_render(mn_template_engine *e, mn_arena *a, const char *src, const char *json, char **out,
                  mn_template_error *err)
{
    memset(err, 0, sizeof *err);
    *out = NULL;
    mn_template *t = mn_template_compile(e, "test.html", src, strlen(src), err);
    if (!t)
        return err->code ? err->code : -1;
    mn_context *ctx = mn_context_new(a);
    if (json) {
        mn_value *v = mn_value_from_json(a, json, strlen(json), NULL, 0);
        if (!v)
            return -100;
        mn_context_update(ctx, v);
    }
    mn_buf b;
    mn_buf_init(&b, a);
    int rc = mn_template_render(t, ctx, &b, err);
    mn_template_free(t);
    if (rc < 0)
        return rc;
    *out = mn_buf_cstr(&b);
    return 0;
}
