/* weak_filters.c — a weak, empty mn__template_register_builtin_filters() so the tree links
 * before (or without) src/template/filters*.c. The real definition there is strong and wins;
 * this file sorts after filters*.c so the archive hands the linker the real one first. */
#include "template/filters.h"

__attribute__((weak)) void mn__template_register_builtin_filters(mn_template_library *lib)
{
    (void)lib;
}
