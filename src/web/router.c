/* router.c — Django's path()/re_path()/include() compiled once, matched without allocating.
 *
 * Route tables are flattened at start-up: every endpoint carries its full pattern (include
 * prefixes in front) and full name ("polls:detail"). A path() chain that uses only the
 * built-in converters becomes a list of parts (literal text, converter) matched by a small
 * backtracking walker that gives the same answers as Django's regex (`[^/]+` etc.) without
 * touching the heap. Anything else (re_path, user converters) is compiled to one anchored
 * PCRE2 pattern with JIT and a match block made once per route. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "web/internal.h"

#include <pcre2.h>
#include <stdio.h>
#include <string.h>

enum { CONV_STR, CONV_INT, CONV_SLUG, CONV_UUID, CONV_PATH, CONV_USER };

typedef struct part {
    bool literal;
    const char *text; /* literal text (not NUL-terminated) */
    size_t len;
    int conv;                 /* CONV_* */
    const mn_converter *user; /* CONV_USER */
    size_t param;             /* index of the captured parameter */
} part;

typedef struct param {
    char *name; /* NULL: positional group */
    int conv;   /* CONV_* or -1 for a regex group */
    const mn_converter *user;
    pcre2_code *check; /* reverse: value must fully match (regex groups, user) */
} param;

typedef struct croute {
    const mn_route *route;
    char *full_name;
    char *full_pattern;
    const char *methods;
    part *parts; /* fast path; NULL when re is used */
    size_t part_count;
    pcre2_code *re;
    pcre2_match_data *md;
    uint32_t *group_param; /* capture group number -> param index + 1 (0: unused) */
    uint32_t group_count;
    param params[MN_ROUTE_MAX_PARAMS];
    size_t param_count;
    /* reverse recipe: parts for path() chains; for re_path, literal pieces and params */
    part *rev;
    size_t rev_count;
    bool reversible;
    /* a path() chain of literals only ("json", "api/v1/"): matched as one string */
    bool exact;
    const char *exact_text;
    size_t exact_len;
} croute;

struct mn_router {
    croute *routes;
    size_t count, cap;
    const mn_converter *user; /* NULL-name-terminated */
    mn_arena *arena;          /* strings and parts */
};

static const mn_converter builtin_convs[] = {
    {"str", "[^/]+", NULL},
    {"int", "[0-9]+", NULL},
    {"slug", "[-a-zA-Z0-9_]+", NULL},
    {"uuid", "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", NULL},
    {"path", ".+", NULL},
};

/* ---- Compiling. ---- */

typedef struct build {
    mn_router *rt;
    char *err;
    size_t errlen;
} build;

static int fail(build *b, const char *fmt, ...) MN_PRINTF(2, 3);
static int fail(build *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (b->err && b->errlen)
        vsnprintf(b->err, b->errlen, fmt, ap);
    va_end(ap);
    return MN_EINVAL;
}

static bool is_ident(mn_str s)
{
    if (s.len == 0 || (s.ptr[0] >= '0' && s.ptr[0] <= '9'))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static int find_conv(const mn_router *rt, mn_str name, const mn_converter **user)
{
    *user = NULL;
    for (size_t i = 0; rt->user && rt->user[i].name; i++)
        if (mn_str_eq_cstr(name, rt->user[i].name)) {
            *user = &rt->user[i];
            return CONV_USER;
        }
    for (int i = 0; i < CONV_USER; i++)
        if (mn_str_eq_cstr(name, builtin_convs[i].name))
            return i;
    return -1;
}

/* Splits a path() pattern into parts, appending to *parts. */
static int parse_path(build *b, croute *cr, const char *pat, part **parts, size_t *count,
                      size_t *cap)
{
    const char *p = pat;
    while (*p) {
        if (*count == *cap) {
            size_t ncap = *cap ? *cap * 2 : 8;
            part *n = mn_arena_realloc(b->rt->arena, *parts, *cap * sizeof *n, ncap * sizeof *n);
            if (!n)
                return MN_ENOMEM;
            *parts = n;
            *cap = ncap;
        }
        part *pt = &(*parts)[*count];
        memset(pt, 0, sizeof *pt);
        if (*p != '<') {
            const char *lt = strchr(p, '<');
            size_t n = lt ? (size_t)(lt - p) : strlen(p);
            if (memchr(p, '>', n))
                return fail(b, "%s: '>' without '<'", pat);
            pt->literal = true;
            pt->text = p;
            pt->len = n;
            p += n;
            (*count)++;
            continue;
        }
        const char *gt = strchr(p, '>');
        if (!gt)
            return fail(b, "%s: '<' without a closing '>'", pat);
        mn_str inside = {p + 1, (size_t)(gt - p - 1)};
        const char *colon = memchr(inside.ptr, ':', inside.len);
        mn_str conv = MN_STR_LIT("str"), name = inside;
        if (colon) {
            conv = (mn_str){inside.ptr, (size_t)(colon - inside.ptr)};
            name = (mn_str){colon + 1, inside.len - conv.len - 1};
        }
        if (!is_ident(name))
            return fail(b, "%s: '%.*s' is not a valid parameter name", pat, (int)name.len,
                        name.ptr);
        pt->conv = find_conv(b->rt, conv, &pt->user);
        if (pt->conv < 0)
            return fail(b, "%s: unknown converter '%.*s'", pat, (int)conv.len, conv.ptr);
        if (cr->param_count == MN_ROUTE_MAX_PARAMS)
            return fail(b, "%s: more than %d parameters", pat, MN_ROUTE_MAX_PARAMS);
        param *pr = &cr->params[cr->param_count];
        pr->name = mn_arena_strndup(b->rt->arena, name.ptr, name.len);
        if (!pr->name)
            return MN_ENOMEM;
        pr->conv = pt->conv;
        pr->user = pt->user;
        pt->param = cr->param_count++;
        (*count)++;
        p = gt + 1;
    }
    return 0;
}

static int append_regex_escaped(mn_buf *re, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strchr("\\^$.|?*+()[]{}", s[i]) && mn_buf_putc(re, '\\') != 0)
            return MN_ENOMEM;
        if (mn_buf_putc(re, s[i]) != 0)
            return MN_ENOMEM;
    }
    return 0;
}

static const char *conv_regex(int conv, const mn_converter *user)
{
    return conv == CONV_USER ? user->regex : builtin_convs[conv].regex;
}

static pcre2_code *compile_re(build *b, const char *pattern, const char *shown, uint32_t extra)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                      PCRE2_ANCHORED | PCRE2_DOLLAR_ENDONLY | PCRE2_DUPNAMES | PCRE2_UTF | extra,
                      &ec, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        fail(b, "%s: invalid regular expression at offset %zu: %s", shown, (size_t)off,
             (const char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort: the interpreter also works */
    return re;
}

/* A check regex for reverse: the whole value must match. */
static pcre2_code *compile_check(build *b, const char *inner, const char *shown)
{
    mn_buf t;
    mn_buf_init(&t, b->rt->arena);
    if (mn_buf_printf(&t, "(?:%s)\\z", inner) != 0 || !mn_buf_cstr(&t))
        return NULL;
    return compile_re(b, t.data, shown, 0);
}

/* Scans a re_path pattern for a reverse recipe: literal text and named groups only (as
 * Django's normalize(), reduced to the patterns people write for URLs). */
static int parse_re_reverse(build *b, croute *cr, const char *pat, size_t first_param)
{
    mn_arena *a = b->rt->arena;
    size_t n = strlen(pat), cap = 8;
    part *rev = mn_arena_realloc(a, cr->rev, cr->rev_count * sizeof *rev,
                                 (cr->rev_count + cap + n) * sizeof *rev);
    if (!rev)
        return MN_ENOMEM;
    cr->rev = rev;
    size_t i = 0, param_i = first_param;
    if (pat[0] == '^')
        i++;
    while (i < n) {
        char c = pat[i];
        if (c == '$' && i + 1 == n)
            break;
        part *pt = &cr->rev[cr->rev_count];
        memset(pt, 0, sizeof *pt);
        if (c == '\\' && i + 1 < n && strchr(".-/\\_~!$&'()*+,;=:@?[]{}|^", pat[i + 1])) {
            pt->literal = true;
            pt->text = &pat[i + 1];
            pt->len = 1;
            cr->rev_count++;
            i += 2;
            continue;
        }
        if (c == '(') {
            /* a named group: (?P<name>...) or (?<name>...) with balanced parentheses */
            size_t depth = 0, j = i;
            for (; j < n; j++) {
                if (pat[j] == '\\') {
                    j++;
                    continue;
                }
                if (pat[j] == '(')
                    depth++;
                else if (pat[j] == ')' && --depth == 0)
                    break;
            }
            if (j >= n || (strncmp(&pat[i], "(?P<", 4) != 0 && strncmp(&pat[i], "(?<", 3) != 0))
                return 0; /* not reversible: reverse says so */
            if (j + 1 < n && strchr("?*+{", pat[j + 1]))
                return 0;
            if (param_i >= cr->param_count)
                return 0;
            pt->literal = false;
            pt->param = param_i++;
            pt->conv = -1;
            cr->rev_count++;
            i = j + 1;
            continue;
        }
        if (strchr(".*+?|[]{}()^$\\", c))
            return 0;
        pt->literal = true;
        pt->text = &pat[i];
        pt->len = 1;
        cr->rev_count++;
        i++;
    }
    cr->reversible = param_i == cr->param_count;
    return 0;
}

/* The regex of a re_path group, for the reverse value check: text between '>' and the
 * matching ')' of the group that starts at pat[i]. */
static int add_re_params(build *b, croute *cr, const char *pat)
{
    /* pcre2's name table tells us which groups are named; positional ones are used only
     * when there are no named groups (as Django). */
    uint32_t names = 0, entry_size = 0, groups = 0;
    PCRE2_SPTR table;
    pcre2_pattern_info(cr->re, PCRE2_INFO_NAMECOUNT, &names);
    pcre2_pattern_info(cr->re, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(cr->re, PCRE2_INFO_NAMETABLE, &table);
    pcre2_pattern_info(cr->re, PCRE2_INFO_CAPTURECOUNT, &groups);
    cr->group_count = groups;
    cr->group_param = mn_arena_calloc(b->rt->arena, groups + 1, sizeof *cr->group_param);
    if (!cr->group_param)
        return MN_ENOMEM;
    /* params already known from path() parts keep their order; the rest follow in group
     * order (pcre2's name table is sorted by name, not by position) */
    size_t known = cr->param_count;
    for (uint32_t g = 1; g <= groups; g++) {
        const char *name = NULL;
        for (uint32_t k = 0; k < names && !name; k++) {
            PCRE2_SPTR e = table + (size_t)k * entry_size;
            if ((((uint32_t)e[0] << 8) | e[1]) == g)
                name = (const char *)(e + 2);
        }
        if (!name)
            continue;
        size_t idx = SIZE_MAX;
        for (size_t q = 0; q < cr->param_count; q++)
            if (cr->params[q].name && strcmp(cr->params[q].name, name) == 0)
                idx = q;
        if (idx == SIZE_MAX) {
            if (cr->param_count == MN_ROUTE_MAX_PARAMS)
                return fail(b, "%s: more than %d parameters", pat, MN_ROUTE_MAX_PARAMS);
            idx = cr->param_count++;
            cr->params[idx].name = mn_arena_strdup(b->rt->arena, name);
            cr->params[idx].conv = -1;
        }
        cr->group_param[g] = (uint32_t)idx + 1;
    }
    if (names == 0) {
        for (uint32_t g = 1; g <= groups && cr->param_count < MN_ROUTE_MAX_PARAMS; g++) {
            cr->params[cr->param_count].conv = -1;
            cr->group_param[g] = (uint32_t)++cr->param_count;
        }
    }
    /* value checks for the re_path groups, in group order as they appear in the pattern */
    size_t q = known;
    for (size_t i = 0; pat[i] && q < cr->param_count; i++) {
        if (pat[i] == '\\') {
            i++;
            continue;
        }
        if (pat[i] != '(' || (strncmp(&pat[i], "(?P<", 4) != 0 && strncmp(&pat[i], "(?<", 3) != 0))
            continue;
        const char *gt = strchr(&pat[i], '>');
        if (!gt)
            break;
        size_t depth = 1, j = (size_t)(gt - pat) + 1, start = j;
        for (; pat[j]; j++) {
            if (pat[j] == '\\' && pat[j + 1]) {
                j++;
                continue;
            }
            if (pat[j] == '(')
                depth++;
            else if (pat[j] == ')' && --depth == 0)
                break;
        }
        char *inner = mn_arena_strndup(b->rt->arena, &pat[start], j - start);
        if (!inner)
            return MN_ENOMEM;
        cr->params[q].check = compile_check(b, inner, pat);
        if (!cr->params[q].check)
            return MN_EINVAL;
        q++;
    }
    return 0;
}

typedef struct chain {
    const char *patterns[16];
    const char *namespaces[16];
    size_t depth;
} chain;

static int add_endpoint(build *b, const chain *ch, const mn_route *rt_entry)
{
    mn_router *rt = b->rt;
    if (rt->count == rt->cap) {
        size_t ncap = rt->cap ? rt->cap * 2 : 32;
        croute *n = mn_realloc(rt->routes, ncap * sizeof *n);
        if (!n)
            return MN_ENOMEM;
        rt->routes = n;
        rt->cap = ncap;
    }
    croute *cr = &rt->routes[rt->count];
    memset(cr, 0, sizeof *cr);
    cr->route = rt_entry;
    cr->methods = rt_entry->methods;

    /* full pattern and name */
    mn_buf t;
    mn_buf_init(&t, rt->arena);
    for (size_t i = 0; i < ch->depth; i++)
        if (mn_buf_puts(&t, ch->patterns[i]) != 0)
            return MN_ENOMEM;
    if (mn_buf_puts(&t, rt_entry->pattern) != 0 || !mn_buf_cstr(&t))
        return MN_ENOMEM;
    cr->full_pattern = t.data;
    if (rt_entry->name) {
        mn_buf_init(&t, rt->arena);
        for (size_t i = 0; i < ch->depth; i++)
            if (ch->namespaces[i] && mn_buf_printf(&t, "%s:", ch->namespaces[i]) != 0)
                return MN_ENOMEM;
        if (mn_buf_puts(&t, rt_entry->name) != 0 || !mn_buf_cstr(&t))
            return MN_ENOMEM;
        cr->full_name = t.data;
    }

    /* path() parts of the prefixes and, for path() endpoints, of the endpoint */
    size_t cap = 0;
    int rc;
    for (size_t i = 0; i < ch->depth; i++)
        if ((rc = parse_path(b, cr, ch->patterns[i], &cr->parts, &cr->part_count, &cap)) != 0)
            return rc;
    bool is_re = rt_entry->kind == MN_ROUTE_RE_PATH;
    if (!is_re &&
        (rc = parse_path(b, cr, rt_entry->pattern, &cr->parts, &cr->part_count, &cap)) != 0) {
        if (rc == MN_EINVAL && ch->depth)
            return rc;
        return rc;
    }
    bool user = false;
    for (size_t i = 0; i < cr->part_count; i++)
        user |= !cr->parts[i].literal && cr->parts[i].conv == CONV_USER;
    cr->rev = cr->parts;
    cr->rev_count = cr->part_count;
    cr->reversible = true;
    for (size_t i = 0; i < cr->param_count; i++)
        if (cr->params[i].conv == CONV_USER &&
            !(cr->params[i].check = compile_check(b, cr->params[i].user->regex, cr->full_pattern)))
            return MN_EINVAL;
    rt->count++; /* from here on mn_router_free releases what this route holds */
    if (!is_re && !user) {
        bool literal = cr->param_count == 0;
        for (size_t i = 0; i < cr->part_count; i++)
            literal &= cr->parts[i].literal;
        if (literal) {
            mn_buf_init(&t, rt->arena);
            for (size_t i = 0; i < cr->part_count; i++)
                if (mn_buf_append(&t, cr->parts[i].text, cr->parts[i].len) != 0)
                    return MN_ENOMEM;
            if (!mn_buf_cstr(&t))
                return MN_ENOMEM;
            cr->exact = true;
            cr->exact_text = t.data;
            cr->exact_len = t.len;
        }
        return 0;
    }

    /* the regex form: prefix parts as named groups, then the endpoint */
    mn_buf re;
    mn_buf_init(&re, rt->arena);
    for (size_t i = 0; i < cr->part_count; i++) {
        const part *pt = &cr->parts[i];
        rc = pt->literal ? append_regex_escaped(&re, pt->text, pt->len)
                         : mn_buf_printf(&re, "(?P<%s>%s)", cr->params[pt->param].name,
                                         conv_regex(pt->conv, pt->user));
        if (rc != 0)
            return MN_ENOMEM;
    }
    if (is_re) {
        const char *p = rt_entry->pattern;
        if (mn_buf_puts(&re, p[0] == '^' ? p + 1 : p) != 0)
            return MN_ENOMEM;
    } else if (mn_buf_puts(&re, "\\z") != 0) {
        return MN_ENOMEM;
    }
    if (!mn_buf_cstr(&re))
        return MN_ENOMEM;
    cr->re = compile_re(b, re.data, cr->full_pattern, 0);
    if (!cr->re)
        return MN_EINVAL;
    cr->md = pcre2_match_data_create_from_pattern(cr->re, NULL);
    if (!cr->md)
        return MN_ENOMEM;
    size_t known = cr->param_count;
    if ((rc = add_re_params(b, cr, rt_entry->pattern)) != 0)
        return rc;
    if (is_re) {
        cr->reversible = false;
        rc = parse_re_reverse(b, cr, rt_entry->pattern, known);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int add_table(build *b, chain *ch, const mn_route *routes)
{
    for (const mn_route *r = routes; r->kind != MN_ROUTE_END; r++) {
        if (!r->pattern)
            return fail(b, "a route without a pattern (name %s)", r->name ? r->name : "none");
        int rc;
        switch (r->kind) {
        case MN_ROUTE_PATH:
        case MN_ROUTE_RE_PATH:
            if (!r->view)
                return fail(b, "%s: route without a view", r->pattern);
            if ((rc = add_endpoint(b, ch, r)) != 0)
                return rc;
            break;
        case MN_ROUTE_INCLUDE:
            if (!r->children)
                return fail(b, "%s: include() without a route table", r->pattern);
            if (ch->depth == 16)
                return fail(b, "%s: include() nested more than 16 deep", r->pattern);
            ch->patterns[ch->depth] = r->pattern;
            ch->namespaces[ch->depth] = r->name;
            ch->depth++;
            rc = add_table(b, ch, r->children);
            ch->depth--;
            if (rc != 0)
                return rc;
            break;
        default: return fail(b, "%s: unknown route kind %d", r->pattern, (int)r->kind);
        }
    }
    return 0;
}

mn_router *mn_router_new(const mn_route *routes, const mn_converter *converters, char *err,
                         size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    mn_router *rt = mn_calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->arena = mn_arena_new(8192);
    rt->user = converters;
    build b = {rt, err, errlen};
    if (!rt->arena) {
        mn_free(rt);
        return NULL;
    }
    for (size_t i = 0; converters && converters[i].name; i++)
        if (!converters[i].regex || !is_ident(mn_str_from(converters[i].name))) {
            fail(&b, "converter '%s': needs an identifier name and a regex", converters[i].name);
            mn_router_free(rt);
            return NULL;
        }
    chain ch = {{0}, {0}, 0};
    int rc = routes ? add_table(&b, &ch, routes) : 0;
    if (rc != 0) {
        if (rc == MN_ENOMEM)
            fail(&b, "out of memory compiling the routes");
        mn_router_free(rt);
        return NULL;
    }
    return rt;
}

void mn_router_free(mn_router *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->count; i++) {
        croute *cr = &rt->routes[i];
        pcre2_match_data_free(cr->md);
        pcre2_code_free(cr->re);
        for (size_t j = 0; j < cr->param_count; j++)
            pcre2_code_free(cr->params[j].check);
    }
    mn_free(rt->routes);
    mn_arena_free(rt->arena);
    mn_free(rt);
}

/* ---- Matching. ---- */

static bool is_slug_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static bool is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_uuid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex_lower(s[i]))
            return false;
    }
    return true;
}

/* The longest prefix of s the converter's character class allows. */
static size_t conv_span(int conv, const char *s, size_t len)
{
    size_t i = 0;
    switch (conv) {
    case CONV_STR:
        while (i < len && s[i] != '/')
            i++;
        return i;
    case CONV_INT:
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        return i;
    case CONV_SLUG:
        while (i < len && is_slug_char(s[i]))
            i++;
        return i;
    case CONV_UUID: return len >= 36 && is_uuid(s, 36) ? 36 : 0;
    default: /* path: anything, '/' included (Python's '.' stops at a newline) */
        while (i < len && s[i] != '\n')
            i++;
        return i;
    }
}

/* Converters next to each other ("<str:a><int:b>") make the split points a search, which a
 * hostile path could make exponential. Every attempt spends one step of a budget far above
 * what a real route needs; a path that exhausts it does not match (404), in bounded time. */
enum { MATCH_BUDGET = 100000 };

static bool match_parts(const part *p, size_t n, const char *s, size_t len, mn_str *caps,
                        size_t *budget)
{
    if (*budget == 0)
        return false;
    --*budget;
    if (n == 0)
        return len == 0;
    if (p->literal) {
        if (len < p->len || memcmp(s, p->text, p->len) != 0)
            return false;
        return match_parts(p + 1, n - 1, s + p->len, len - p->len, caps, budget);
    }
    size_t max = conv_span(p->conv, s, len);
    for (size_t l = max; l >= 1; l--) {
        if (p->conv == CONV_UUID && l != 36)
            break;
        /* cheap pruning: the next literal must follow */
        if (n > 1 && p[1].literal &&
            (len - l < p[1].len || memcmp(s + l, p[1].text, p[1].len) != 0))
            continue;
        if (match_parts(p + 1, n - 1, s + l, len - l, caps, budget)) {
            caps[p->param] = (mn_str){s, l};
            return true;
        }
    }
    return false;
}

static bool match_route(const croute *cr, mn_str path, mn_route_match *m)
{
    if (!cr->re) {
        size_t budget = MATCH_BUDGET;
        if (!match_parts(cr->parts, cr->part_count, path.ptr, path.len, m->params, &budget))
            return false;
    } else {
        int rc = pcre2_match(cr->re, (PCRE2_SPTR)path.ptr, path.len, 0, 0, cr->md, NULL);
        if (rc < 0)
            return false;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(cr->md);
        for (size_t i = 0; i < cr->param_count; i++)
            m->params[i] = (mn_str){"", 0};
        for (uint32_t g = 1; g <= cr->group_count && (int)g < rc; g++) {
            uint32_t idx = cr->group_param[g];
            if (idx && ov[2 * g] != PCRE2_UNSET)
                m->params[idx - 1] =
                    (mn_str){path.ptr + ov[2 * g], (size_t)(ov[2 * g + 1] - ov[2 * g])};
        }
    }
    for (size_t i = 0; i < cr->param_count; i++)
        if (cr->params[i].user && cr->params[i].user->accepts &&
            !cr->params[i].user->accepts(m->params[i]))
            return false;
    m->route = cr->route;
    m->full_name = cr->full_name;
    m->full_pattern = cr->full_pattern;
    m->param_count = cr->param_count;
    for (size_t i = 0; i < cr->param_count; i++)
        m->param_names[i] = cr->params[i].name;
    return true;
}

static bool method_in(const char *methods, const char *method)
{
    if (!methods || !method)
        return true;
    if (strcmp(methods, method) == 0) /* "GET" for GET: the common case */
        return true;
    size_t n = strlen(method);
    bool get = false;
    for (const char *p = methods; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == n && strncasecmp(p, method, n) == 0)
            return true;
        get |= len == 3 && strncasecmp(p, "GET", 3) == 0;
        p += len;
    }
    return get && strcasecmp(method, "HEAD") == 0;
}

/* Appends the methods of a route to an "Allow" list, without repeats; HEAD goes with GET. */
static void allow_add(char *allow, size_t cap, const char *methods)
{
    for (const char *p = methods; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == 0)
            break;
        char m[32];
        if (len < sizeof m) {
            for (size_t i = 0; i < len; i++)
                m[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
            m[len] = '\0';
            for (int pass = 0; pass < 2; pass++) {
                const char *add = pass ? (strcmp(m, "GET") == 0 ? "HEAD" : NULL) : m;
                if (!add)
                    continue;
                /* already listed? */
                bool seen = false;
                for (const char *q = allow; *q;) {
                    size_t l = strcspn(q, ",");
                    if (l == strlen(add) && strncmp(q, add, l) == 0)
                        seen = true;
                    q += l;
                    while (*q == ',' || *q == ' ')
                        q++;
                }
                size_t used = strlen(allow);
                if (!seen && used + strlen(add) + 3 < cap)
                    snprintf(allow + used, cap - used, "%s%s", used ? ", " : "", add);
            }
        }
        p += len;
    }
}

int mn_router_resolve(const mn_router *rt, mn_str path, const char *method, mn_route_match *m,
                      char *allow, size_t allow_len)
{
    if (path.len && path.ptr[0] == '/') {
        path.ptr++;
        path.len--;
    }
    if (allow && allow_len)
        allow[0] = '\0';
    bool wrong_method = false;
    for (size_t i = 0; i < rt->count; i++) {
        const croute *cr = &rt->routes[i];
        if (cr->exact) { /* most routes of most sites: rejected on the length alone */
            if (path.len != cr->exact_len || memcmp(path.ptr, cr->exact_text, path.len) != 0)
                continue;
            m->route = cr->route;
            m->full_name = cr->full_name;
            m->full_pattern = cr->full_pattern;
            m->param_count = 0;
        } else if (!match_route(cr, path, m)) {
            continue;
        }
        if (method_in(cr->methods, method))
            return 0;
        wrong_method = true;
        if (allow && allow_len)
            allow_add(allow, allow_len, cr->methods);
    }
    memset(m, 0, offsetof(mn_route_match, param_names));
    return wrong_method ? MN_EUNSUPPORTED : MN_ENOTFOUND;
}

/* ---- Reverse. ---- */

static bool value_ok(const param *pr, const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return false;
    if (pr->conv >= 0 && pr->conv < CONV_USER && conv_span(pr->conv, v, n) != n)
        return false;
    if (pr->check) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(pr->check, NULL);
        if (!md)
            return false;
        int rc = pcre2_match(pr->check, (PCRE2_SPTR)v, n, 0, 0, md, NULL);
        pcre2_match_data_free(md);
        if (rc < 0)
            return false;
    }
    if (pr->user && pr->user->accepts && !pr->user->accepts((mn_str){v, n}))
        return false;
    return true;
}

/* as django.urls.resolvers: quote(..., safe=RFC3986_SUBDELIMS + "/~:@") */
static int put_quoted(mn_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("-._~!$&'()*+,;=/:@", c);
        int rc = safe && c ? mn_buf_putc(out, (char)c)
                           : mn_buf_printf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static bool try_reverse(const croute *cr, size_t argc, const char *const *names,
                        const char *const *values, mn_buf *out)
{
    if (!cr->reversible || argc != cr->param_count)
        return false;
    const char *vals[MN_ROUTE_MAX_PARAMS];
    for (size_t i = 0; i < cr->param_count; i++) {
        vals[i] = NULL;
        if (!names) {
            vals[i] = values[i];
        } else {
            for (size_t k = 0; k < argc; k++)
                if (cr->params[i].name && strcmp(names[k], cr->params[i].name) == 0)
                    vals[i] = values[k];
        }
        if (!vals[i] || !value_ok(&cr->params[i], vals[i]))
            return false;
    }
    size_t start = out->len;
    if (mn_buf_putc(out, '/') != 0)
        return false;
    for (size_t i = 0; i < cr->rev_count; i++) {
        const part *pt = &cr->rev[i];
        int rc = pt->literal ? put_quoted(out, pt->text, pt->len)
                             : put_quoted(out, vals[pt->param], strlen(vals[pt->param]));
        if (rc != 0) {
            out->len = start;
            return false;
        }
    }
    /* as django.utils.http.escape_leading_slashes: "//host" would leave the site */
    if (out->len - start >= 2 && out->data[start + 1] == '/') {
        mn_buf tmp;
        mn_buf_init(&tmp, NULL);
        if (mn_buf_append(&tmp, out->data + start + 2, out->len - start - 2) != 0) {
            mn_buf_free(&tmp);
            return false;
        }
        out->len = start;
        int rc = mn_buf_puts(out, "/%2F");
        if (rc == 0)
            rc = mn_buf_append(out, tmp.data, tmp.len);
        mn_buf_free(&tmp);
        if (rc != 0)
            return false;
    }
    return true;
}

int mn_router_reverse(const mn_router *rt, const char *name, size_t argc, const char *const *names,
                      const char *const *values, mn_buf *out, char *err, size_t errlen)
{
    size_t tried = 0;
    for (size_t i = 0; i < rt->count; i++) {
        const croute *cr = &rt->routes[i];
        if (!cr->full_name || strcmp(cr->full_name, name) != 0)
            continue;
        tried++;
        if (try_reverse(cr, argc, names, values, out))
            return 0;
    }
    if (!err || !errlen)
        return MN_ENOTFOUND;
    if (tried == 0) {
        /* as Django: an unknown namespace is named as such */
        const char *colon = strrchr(name, ':');
        bool ns_known = !colon;
        for (size_t i = 0; colon && i < rt->count; i++)
            ns_known |= rt->routes[i].full_name &&
                        strncmp(rt->routes[i].full_name, name, (size_t)(colon - name) + 1) == 0;
        if (!ns_known)
            snprintf(err, errlen, "'%.*s' is not a registered namespace", (int)(colon - name),
                     name);
        else
            snprintf(err, errlen,
                     "Reverse for '%s' not found. '%s' is not a valid view function or pattern "
                     "name.",
                     name, name);
        return MN_ENOTFOUND;
    }
    mn_buf msg;
    mn_buf_init(&msg, NULL);
    mn_buf_printf(&msg, "Reverse for '%s' with ", name);
    if (argc == 0) {
        mn_buf_puts(&msg, "no arguments");
    } else if (names) {
        mn_buf_puts(&msg, "keyword arguments '{");
        for (size_t k = 0; k < argc; k++)
            mn_buf_printf(&msg, "%s'%s': '%s'", k ? ", " : "", names[k], values[k]);
        mn_buf_puts(&msg, "}'");
    } else {
        mn_buf_puts(&msg, "arguments '(");
        for (size_t k = 0; k < argc; k++)
            mn_buf_printf(&msg, "%s'%s'", k ? ", " : "", values[k]);
        mn_buf_puts(&msg, argc == 1 ? ",)'" : ")'");
    }
    mn_buf_printf(&msg, " not found. %zu pattern(s) tried: [", tried);
    size_t shown = 0;
    for (size_t i = 0; i < rt->count; i++) {
        const croute *cr = &rt->routes[i];
        if (cr->full_name && strcmp(cr->full_name, name) == 0)
            mn_buf_printf(&msg, "%s'%s'", shown++ ? ", " : "", cr->full_pattern);
    }
    mn_buf_putc(&msg, ']');
    snprintf(err, errlen, "%s", mn_buf_cstr(&msg) ? msg.data : "out of memory");
    mn_buf_free(&msg);
    return MN_ENOTFOUND;
}

bool mn_router_route_at(const mn_router *rt, size_t i, const char **full_pattern,
                        const char **full_name, const char **methods, mn_view *view)
{
    if (i >= rt->count)
        return false;
    const croute *cr = &rt->routes[i];
    if (full_pattern)
        *full_pattern = cr->full_pattern;
    if (full_name)
        *full_name = cr->full_name;
    if (methods)
        *methods = cr->methods;
    if (view)
        *view = cr->route->view;
    return true;
}

/* ---- Internal helpers for the view layer. ---- */

int mn__router_param_kinds(const mn_router *rt, const char *name, bool *is_int, size_t *count)
{
    for (size_t i = 0; i < rt->count; i++) {
        const croute *cr = &rt->routes[i];
        if (!cr->full_name || strcmp(cr->full_name, name) != 0)
            continue;
        *count = cr->param_count;
        for (size_t j = 0; j < cr->param_count; j++)
            is_int[j] = cr->params[j].conv == CONV_INT;
        return 0;
    }
    return MN_ENOTFOUND;
}
