#ifndef HELPER_ENGINE_H
#define HELPER_ENGINE_H
#include <manouche/template.h>

#include <stdbool.h>

/* An engine with the fixture templates (base.html, mid.html, inc.html, cyc.html). */
mn_template_engine *helper_engine(void);
/* Compiles src, renders it with ctx; 0 and *out (in a), or the error code with err filled. */
int helper_render_context(mn_template_engine *e, mn_arena *a, const char *src, mn_context *ctx,
                          char **out, mn_template_error *err);
/* helper_render_context with a fresh context holding the JSON object (json may be NULL). */
int helper_render(mn_template_engine *e, mn_arena *a, const char *src, const char *json, char **out,
                  mn_template_error *err);
/* Compares the outcome of rendering one generated case (tag_cases.inc, filter_cases.inc) with
 * Django's: expected is the output, or a piece of the error message when error is set. Logs
 * the difference and returns true when they differ. */
bool helper_case_differs(const char *name, const char *src, const char *expected, bool error,
                         int rc, const char *out, const mn_template_error *err);

/* The fixture most tests share, `.init = engine_setup, .fini = engine_teardown`: a
 * helper_engine() and an arena for the test's renders, both freed after the test. */
extern mn_template_engine *engine;
extern mn_arena *arena;
void engine_setup(void);
void engine_teardown(void);
/* Renders src with the JSON context (may be NULL) in the fixture's engine; the output, or the
 * test fails with the error. */
char *render(const char *src, const char *json);
/* Renders src as render() does, expecting an error: the error, or the test fails. */
mn_template_error render_error(const char *src, const char *json);
#endif
