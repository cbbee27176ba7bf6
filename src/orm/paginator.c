/* paginator.c — Django's Paginator over a queryset: one COUNT, then the page's rows as a
 * LIMIT/OFFSET slice. Page numbers are validated as Django's validate_number(): a number that
 * is not an integer is MN_EPAGE_NOT_AN_INTEGER, one below 1 or past the last page
 * MN_EEMPTY_PAGE, each with Django's message; get_page() turns both into a page that exists. */
#include "internal.h"

static bool space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Python's int(text): surrounding whitespace, an optional sign, then digits, with single
 * underscores allowed between them. A number too large for int64_t saturates: Python's int has
 * no bound, so it is still an integer, just out of range. MN_EINVAL when it is not one. */
static int parse_number(const char *s, int64_t *out)
{
    if (!s)
        return MN_EINVAL;
    while (space(*s))
        s++;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (*s < '0' || *s > '9')
        return MN_EINVAL;
    int64_t n = 0;
    bool big = false;
    for (; (*s >= '0' && *s <= '9') || *s == '_'; s++) {
        if (*s == '_') {
            if (s[1] < '0' || s[1] > '9')
                return MN_EINVAL; /* "1__0", "10_" */
            continue;
        }
        int d = *s - '0';
        if (n > (INT64_MAX - d) / 10)
            big = true;
        else
            n = n * 10 + d;
    }
    while (space(*s))
        s++;
    if (*s)
        return MN_EINVAL;
    *out = big ? (neg ? INT64_MIN : INT64_MAX) : (neg ? -n : n);
    return 0;
}

enum { PAGE_EXACT, PAGE_FALLBACK };

/* number_ok false: the page number given was not an integer. empty_first_page: Django's
 * allow_empty_first_page. */
static int paginate(mn_qs *qs, int64_t per_page, int64_t orphans, bool empty_first_page,
                    bool number_ok, int64_t number, int mode, mn_page *out)
{
    memset(out, 0, sizeof *out);
    if (!qs)
        return MN_EINVAL;
    if (per_page <= 0)
        return mn__orm_fail(qs->o, MN_EINVAL, "per_page must be a positive integer");
    if (orphans < 0)
        return mn__orm_fail(qs->o, MN_EINVAL, "orphans must not be negative");
    int64_t count = mn_qs_count(qs);
    if (count < 0)
        return (int)count;
    /* num_pages: ceil(max(1, count - orphans) / per_page), so 1 for an empty list, or 0
     * without allow_empty_first_page */
    int64_t hits = count - orphans > 1 ? count - orphans : 1;
    int64_t pages = count == 0 && !empty_first_page ? 0 : hits / per_page + (hits % per_page != 0);
    if (!number_ok) {
        if (mode == PAGE_EXACT)
            return mn__orm_fail(qs->o, MN_EPAGE_NOT_AN_INTEGER,
                                "That page number is not an integer");
        number = 1;
    } else if (number < 1 || number > pages) {
        if (mode == PAGE_EXACT)
            return mn__orm_fail(qs->o, MN_EEMPTY_PAGE,
                                number < 1 ? "That page number is less than 1"
                                           : "That page contains no results");
        number = pages;
    }
    /* With no pages at all, get_page()'s fallback is no page either: Django's page(1) after
     * a number that is not an integer, page(num_pages = 0) after one out of range. */
    if (pages == 0)
        return mn__orm_fail(qs->o, MN_EEMPTY_PAGE,
                            number < 1 ? "That page number is less than 1"
                                       : "That page contains no results");
    int64_t bottom = (number - 1) * per_page;
    int64_t top = number == pages ? count : bottom + per_page;
    out->number = number;
    out->num_pages = pages;
    out->count = count;
    out->has_previous = number > 1;
    out->has_next = number < pages;
    out->previous_page_number = number > 1 ? number - 1 : 0;
    out->next_page_number = number < pages ? number + 1 : 0;
    out->start_index = count ? bottom + 1 : 0;
    out->end_index = top;
    out->rows = mn_qs_fetch(mn_qs_slice(qs, bottom, top));
    return out->rows ? 0 : (qs->o->errcode ? qs->o->errcode : MN_ENOMEM);
}

int mn_paginate(mn_qs *qs, int64_t per_page, int64_t orphans, int64_t number, mn_page *out)
{
    return paginate(qs, per_page, orphans, true, true, number, PAGE_EXACT, out);
}

int mn_paginate_str(mn_qs *qs, int64_t per_page, int64_t orphans, const char *number, mn_page *out)
{
    int64_t n = 0;
    bool ok = parse_number(number, &n) == 0;
    return paginate(qs, per_page, orphans, true, ok, n, PAGE_EXACT, out);
}

int mn_paginate_get_page(mn_qs *qs, int64_t per_page, int64_t orphans, const char *number,
                         mn_page *out)
{
    int64_t n = 0;
    bool ok = parse_number(number, &n) == 0;
    return paginate(qs, per_page, orphans, true, ok, n, PAGE_FALLBACK, out);
}

int mn_paginate_ex(mn_qs *qs, int64_t per_page, const char *number, const mn_paginate_opts *opts,
                   mn_page *out)
{
    mn_paginate_opts none = {0};
    if (!opts)
        opts = &none;
    int64_t n = 0;
    bool ok = parse_number(number, &n) == 0;
    return paginate(qs, per_page, opts->orphans, !opts->no_empty_first_page, ok, n,
                    opts->get_page ? PAGE_FALLBACK : PAGE_EXACT, out);
}
