/* test_tags.c — every built-in tag against Django's own output: tag_cases.inc is generated
 * by gen_tag_cases.py, which renders each template with Django (python3-django). */
#include <criterion/criterion.h>
#include <stdbool.h>

#include "helper_engine.h"

struct tag_case {
    const char *name;
    const char *src;
    const char *expected; /* output, or a piece of the error message */
    bool error;
};

#include "tag_cases.inc"

Test(tags, match_django_output_and_errors, .init = engine_setup, .fini = engine_teardown)
{
    int failures = 0;
    for (size_t i = 0; i < sizeof tag_cases / sizeof tag_cases[0]; i++) {
        const struct tag_case *c = &tag_cases[i];
        mn_arena *a = mn_arena_new(0);
        char *out;
        mn_template_error err;
        int rc = helper_render(engine, a, c->src, tag_cases_context, &out, &err);
        if (helper_case_differs(c->name, c->src, c->expected, c->error, rc, out, &err))
            failures++;
        mn_arena_free(a);
    }
    cr_assert_eq(failures, 0, "%d of %zu tag cases differ from Django", failures,
                 sizeof tag_cases / sizeof tag_cases[0]);
}
