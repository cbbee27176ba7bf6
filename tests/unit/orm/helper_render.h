/* helper_render.h — renders a template over ORM values inside a test. */
#ifndef MN_TEST_HELPER_RENDER_H
#define MN_TEST_HELPER_RENDER_H

#include "helper_db.h"

#include <manouche/template.h>

/* Renders src with NAME bound to v, output in t's arena; fails the test when the template does
 * not compile or the render fails. */
const char *render_var(mn_template_engine *engine, testdb *t, const char *src, const char *name,
                       mn_value *v);

#endif
