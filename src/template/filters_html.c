/* filters_html.c — placeholder until the family lands. */
#include "template/filters_internal.h"

void mn__filters_register_html(mn_template_library *lib)
{
    (void)lib;
}
