/* rel_internal.h — private entry points shared by write.c, related.c, bulk.c, tmpl.c and
 * validate.c (relations, writes and the template interface) that internal.h does not hold. */
#ifndef MN_ORM_REL_INTERNAL_H
#define MN_ORM_REL_INTERNAL_H

#include "internal.h"

/* Sets a number, boolean or duration field to zero, so that its null bit reads as NULL
 * (the bit only marks a zero as NULL; see mn__is_null). Other types are left alone. */
void mn__zero_value(void *obj, const mn_fielddef *f);

/* Loads a field left out by only()/defer() if obj has it deferred (one query); 0 when
 * nothing was deferred. */
int mn__load_deferred(mn_orm *o, void *obj, const mn_fielddef *f);

#endif
