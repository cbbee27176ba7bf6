/* filters.c — registers Django's built-in filters (the strong definition of the seam in
 * filters.h) and holds the helpers every filter family shares.
 *
 * Each family lives in its own file (filters_string.c, filters_html.c, filters_number.c,
 * filters_list.c, filters_date.c) and registers itself; the behaviour of each filter is
 * Django's (django/template/defaultfilters.py), checked against Django's own output by
 * tests/unit/template/test_filters.c. */
#include "template/filters.h"

#include "template/filters_internal.h"
#include "template/internal.h"

#include <string.h>

void mn__template_register_builtin_filters(mn_template_library *lib)
{
    mn__filters_register_string(lib);
    mn__filters_register_html(lib);
    mn__filters_register_number(lib);
    mn__filters_register_list(lib);
    mn__filters_register_date(lib);
}

int mn__ftext(const mn_filter_call *c, const mn_value *v, mn_str *out)
{
    return mn_value_to_text(v, c->arena, out);
}

mn_value *mn__fresult(const mn_filter_call *c, mn_buf *b, bool safe)
{
    const char *p = b->data ? b->data : "";
    return safe ? mn_value_safe_ref(c->arena, p, b->len) : mn_value_str_ref(c->arena, p, b->len);
}

bool mn__fint(const mn_value *arg, int64_t *out)
{
    return arg && mn_value_to_int(arg, out) == MN_OK;
}

int mn__fescape(mn_buf *b, mn_str s)
{
    return mn_template_escape(b, s.ptr, s.len);
}

int mn__fcond_escape(const mn_filter_call *c, const mn_value *v, mn_buf *b)
{
    mn_str t;
    int rc = mn__ftext(c, v, &t);
    if (rc < 0)
        return rc;
    if (mn_value_is_safe(v))
        return mn_buf_put_str(b, t);
    return mn__fescape(b, t);
}

mn_value *mn__fchars(const mn_filter_call *c, mn_str s)
{
    mn_value *l = mn_value_list(c->arena, s.len);
    if (!l)
        return NULL;
    for (size_t i = 0; i < s.len;) {
        size_t at = i;
        mn__utf8_next(s.ptr, s.len, &i);
        mn_value *ch = mn_value_str_ref(c->arena, s.ptr + at, i - at);
        if (!ch || mn_value_list_append(c->arena, l, ch) < 0)
            return NULL;
    }
    return l;
}

mn_value *mn__ffail(const mn_filter_call *c, const char *msg)
{
    mn_filter_fail(c, "%s", msg);
    return NULL;
}
