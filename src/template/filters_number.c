/* filters_number.c — placeholder until the family lands. */
#include "template/filters_internal.h"

void mn__filters_register_number(mn_template_library *lib)
{
    (void)lib;
}
