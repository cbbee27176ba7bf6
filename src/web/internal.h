/* web/internal.h — what the files of the web layer share and nobody else sees. */
#ifndef MN_WEB_INTERNAL_H
#define MN_WEB_INTERNAL_H

#include <manouche/web.h>

#include <stdarg.h>
#include <stddef.h>

/* For mn_reverse(): how to read the variadic arguments of route `name` (is_int has room for
 * MN_ROUTE_MAX_PARAMS). 0 or MN_ENOTFOUND. */
int mn__router_param_kinds(const mn_router *router, const char *name, bool *is_int,
                           size_t *count);

#endif
