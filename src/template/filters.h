/* filters.h — internal seam between the template engine and the built-in filters.
 *
 * The engine calls mn__template_register_builtin_filters() once per engine, with the
 * built-in library (name ""), right after registering the built-in tags; the filters
 * (src/template/filters*.c) add themselves with mn_template_library_add_filter(). */
#ifndef MN_TEMPLATE_FILTERS_H
#define MN_TEMPLATE_FILTERS_H

#include <manouche/template.h>

void mn__template_register_builtin_filters(mn_template_library *lib);

#endif
