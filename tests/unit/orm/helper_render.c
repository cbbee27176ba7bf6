/* helper_render.c — see helper_render.h. */
#include "helper_render.h"

#include <criterion/criterion.h>
#include <string.h>

const char *render_var(mn_template_engine *engine, testdb *t, const char *src, const char *name,
                       mn_value *v)
{
    mn_template_error err;
    memset(&err, 0, sizeof err);
    mn_template *tpl = mn_template_compile(engine, "t", src, strlen(src), &err);
    cr_assert_not_null(tpl);
    mn_context *ctx = mn_context_new(t->arena);
    mn_context_set(ctx, name, v);
    mn_buf out;
    mn_buf_init(&out, t->arena);
    int rc = mn_template_render(tpl, ctx, &out, &err);
    cr_assert_eq(rc, 0, "render failed: %s", mn_orm_error(t->o));
    return mn_buf_cstr(&out);
}
