#ifndef HELPER_ENGINE_H
#define HELPER_ENGINE_H
#include <manouche/template.h>

mn_template_engine *helper_engine(void);
/* Compiles src, renders it with the JSON object as context; 0 and *out (in a), or the
 * error code with err filled. */
int helper_render(mn_template_engine *e, mn_arena *a, const char *src, const char *json, char **out,
                  mn_template_error *err);
#endif
