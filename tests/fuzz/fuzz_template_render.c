/* fuzz_template_render.c — compiles and renders arbitrary templates with a fixed context
 * (strings with markup, numbers, nested lists and dicts, a date) and a few embedded
 * templates to include and extend; small limits keep every run short. Rendering must end
 * with output or an error, never a crash, a hang or a leak. */
#include <manouche/template.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context_json[] =
    "{\"x\": \"a<b&c\", \"n\": 5, \"f\": 2.5, \"t\": true, \"none\": null,"
    " \"l\": [1, 2, 3], \"s\": \"abc\", \"d\": {\"k\": \"v\", \"n\": [1, {\"z\": 0}]},"
    " \"people\": [{\"name\": \"a\", \"city\": \"p\"}, {\"name\": \"b\", \"city\": \"q\"}],"
    " \"when\": {\"__datetime__\": \"2024-02-29T12:30:00+01:00\"},"
    " \"safe\": {\"__safe__\": \"<i>x</i>\"}, \"csrf_token\": \"tok\","
    " \"request\": {\"GET\": {\"page\": \"2\"}}}";

static const mn_template_embedded fixtures[] = {
    {"base.html", "<{% block a %}A{% endblock %}|{% block b %}B{{ x }}{% endblock %}>"},
    {"child.html", "{% extends \"base.html\" %}{% block a %}{{ block.super }}c{% endblock %}"},
    {"inc.html", "[{{ x }}{% include \"inc.html\" %}]"},
    {"part.html", "{% partialdef p %}P{{ n }}{% endpartialdef %}"},
    {NULL, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mn_template_engine *engine;
    if (!engine) {
        engine = mn_template_engine_new();
        mn_template_engine_add_embedded_table(engine, fixtures);
        mn_template_options *o = mn_template_engine_options(engine);
        o->max_output = 1 << 20;
        o->max_depth = 40;
        o->max_loop_iterations = 20000;
    }
    mn_template_error err;
    mn_template *t = mn_template_compile(engine, "fuzz.html", (const char *)data, size, &err);
    if (!t)
        return 0;
    mn_arena *arena = mn_arena_new(0);
    mn_context *ctx = mn_context_new(arena);
    mn_value *v = mn_value_from_json(arena, context_json, sizeof context_json - 1, NULL, 0);
    if (ctx && v)
        mn_context_update(ctx, v);
    mn_buf out;
    mn_buf_init(&out, arena);
    if (ctx)
        mn_template_render(t, ctx, &out, &err);
    mn_arena_free(arena);
    mn_template_free(t);
    return 0;
}
