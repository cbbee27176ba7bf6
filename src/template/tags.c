/* tags.c — compile functions of the built-in tags (django.template.defaulttags and
 * loader_tags): each checks its arguments with Django's messages and builds one node; the
 * nodes are rendered in render.c. */
#include "template/internal.h"

#include <stdio.h>
#include <string.h>

#define NODE(type)                                                                                 \
    node *n = mn__new_node(p, type, tok);                                                          \
    if (!n)                                                                                        \
    return MN_ENOMEM

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0)                                                                               \
            return rc_;                                                                            \
    } while (0)

static int parse_until(parser *p, const char *const *until, nodelist *out, const token **end)
{
    return mn__parse_nodelist(p, until, out, end);
}

/* Parses up to `end_name` and checks the end tag is exactly it. */
static int parse_body(parser *p, const char *end_name, nodelist *out)
{
    const char *until[] = {end_name, NULL};
    const token *end = NULL;
    return parse_until(p, until, out, &end);
}

static mn_str *split_plain(parser *p, mn_str contents, int *n)
{
    /* token.contents.split() */
    mn_str *bits = mn_arena_alloc(p->arena, (contents.len / 2 + 2) * sizeof *bits);
    if (!bits)
        return NULL;
    int k = 0;
    size_t i = 0;
    while (i < contents.len) {
        while (i < contents.len &&
               (contents.ptr[i] == ' ' || contents.ptr[i] == '\t' || contents.ptr[i] == '\n' ||
                contents.ptr[i] == '\r' || contents.ptr[i] == '\f' || contents.ptr[i] == '\v'))
            i++;
        if (i >= contents.len)
            break;
        size_t s = i;
        while (i < contents.len &&
               !(contents.ptr[i] == ' ' || contents.ptr[i] == '\t' || contents.ptr[i] == '\n' ||
                 contents.ptr[i] == '\r' || contents.ptr[i] == '\f' || contents.ptr[i] == '\v'))
            i++;
        bits[k++] = (mn_str){contents.ptr + s, i - s};
    }
    *n = k;
    return bits;
}

static int exprs(parser *p, const token *tok, mn_str *bits, int n, mn_template_expr ***out)
{
    mn_template_expr **v = mn_arena_alloc(p->arena, (size_t)(n ? n : 1) * sizeof *v);
    if (!v)
        return MN_ENOMEM;
    for (int i = 0; i < n; i++)
        TRY(mn__compile_expr(p, tok, bits[i], &v[i]));
    *out = v;
    return MN_OK;
}

#define BIT(i, s) mn_str_eq_cstr(bits[i], s)
#define NAME (int)bits[0].len, bits[0].ptr

static int t_autoescape(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits != 2)
        return mn__parser_error(p, tok, "'autoescape' tag requires exactly one argument.");
    if (!BIT(1, "on") && !BIT(1, "off"))
        return mn__parser_error(p, tok, "'autoescape' argument should be 'on' or 'off'");
    NODE(N_AUTOESCAPE);
    n->u.autoescape.on = BIT(1, "on");
    TRY(parse_body(p, "endautoescape", &n->u.autoescape.body));
    *out = n;
    return MN_OK;
}

static int add_named(parser *p, named_node **arr, int *count, mn_str name, node *n)
{
    named_node *g = mn_arena_realloc(p->arena, *arr, (size_t)*count * sizeof *g,
                                     (size_t)(*count + 1) * sizeof *g);
    if (!g)
        return MN_ENOMEM;
    g[*count] = (named_node){name, n};
    *arr = g;
    (*count)++;
    return MN_OK;
}

static int t_block(parser *p, const token *tok, mn_str *bits_unused, int nb, node **out)
{
    (void)bits_unused;
    (void)nb;
    int nbits;
    mn_str *bits = split_plain(p, tok->contents, &nbits);
    if (!bits)
        return MN_ENOMEM;
    if (nbits != 2)
        return mn__parser_error(p, tok, "'%.*s' tag takes only one argument", NAME);
    mn_template *t = p->tpl;
    for (int i = 0; i < t->nblocks; i++)
        if (mn_str_eq(t->blocks[i].name, bits[1]))
            return mn__parser_error(p, tok, "'%.*s' tag with name '%.*s' appears more than once",
                                    NAME, (int)bits[1].len, bits[1].ptr);
    NODE(N_BLOCK);
    n->u.block.name = bits[1];
    TRY(add_named(p, &t->blocks, &t->nblocks, bits[1], n));
    const char *until[] = {"endblock", NULL};
    const token *end = NULL;
    TRY(parse_until(p, until, &n->u.block.body, &end));
    if (!mn_str_eq_cstr(end->contents, "endblock")) {
        int ne;
        mn_str *eb = split_plain(p, end->contents, &ne);
        if (!eb)
            return MN_ENOMEM;
        if (ne != 2 || !mn_str_eq(eb[1], bits[1]) || end->contents.len != 9 + bits[1].len)
            return mn__parser_error(p, end,
                                    "Invalid block tag on line %d: 'endblock', expected "
                                    "'endblock' or 'endblock %.*s'. Did you forget to register "
                                    "or load this tag?",
                                    end->line, (int)bits[1].len, bits[1].ptr);
    }
    *out = n;
    return MN_OK;
}

static int t_comment(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    (void)bits;
    (void)nbits;
    while (p->pos < p->ntokens) {
        const token *t = &p->tokens[p->pos++];
        if (t->type == TOK_BLOCK && mn_str_eq_cstr(t->contents, "endcomment")) {
            NODE(N_COMMENT);
            *out = n;
            return MN_OK;
        }
    }
    return mn__parser_error(p, tok,
                            "Unclosed tag on line %d: 'comment'. Looking for one of: "
                            "endcomment.",
                            tok->line);
}

static int t_csrf(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    (void)bits;
    (void)nbits;
    NODE(N_CSRF);
    *out = n;
    return MN_OK;
}

static int t_cycle(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits < 2)
        return mn__parser_error(p, tok, "'cycle' tag requires at least two arguments");
    if (nbits == 2) {
        if (!p->ncycles)
            return mn__parser_error(p, tok, "No named cycles in template. '%.*s' is not defined",
                                    (int)bits[1].len, bits[1].ptr);
        for (int i = 0; i < p->ncycles; i++) {
            if (mn_str_eq(p->cycles[i].name, bits[1])) {
                NODE(N_CYCLE);
                n->u.cycle.target = p->cycles[i].n;
                p->last_cycle = p->cycles[i].n;
                *out = n;
                return MN_OK;
            }
        }
        return mn__parser_error(p, tok, "Named cycle '%.*s' does not exist", (int)bits[1].len,
                                bits[1].ptr);
    }
    bool as_form = false, silent = false;
    int nvals = nbits - 1;
    if (nbits > 4) {
        if (BIT(nbits - 3, "as")) {
            if (!BIT(nbits - 1, "silent"))
                return mn__parser_error(p, tok,
                                        "Only 'silent' flag is allowed after cycle's name, not "
                                        "'%.*s'.",
                                        (int)bits[nbits - 1].len, bits[nbits - 1].ptr);
            as_form = silent = true;
            nbits--;
        } else if (BIT(nbits - 2, "as")) {
            as_form = true;
        }
    }
    NODE(N_CYCLE);
    n->u.cycle.target = n;
    if (as_form) {
        nvals = nbits - 3;
        n->u.cycle.as_name = bits[nbits - 1];
        n->u.cycle.silent = silent;
        TRY(add_named(p, &p->cycles, &p->ncycles, bits[nbits - 1], n));
    } else {
        nvals = nbits - 1;
    }
    TRY(exprs(p, tok, bits + 1, nvals, &n->u.cycle.values));
    n->u.cycle.nvalues = nvals;
    p->last_cycle = n;
    *out = n;
    return MN_OK;
}

static int t_debug(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    (void)bits;
    (void)nbits;
    NODE(N_DEBUG);
    *out = n;
    return MN_OK;
}

/* construct_relative_path: './x' and '../x' are relative to the current template. */
static int relative_name(parser *p, const token *tok, mn_str bit, mn_str *out)
{
    *out = bit;
    if (bit.len < 4 || (bit.ptr[0] != '"' && bit.ptr[0] != '\''))
        return MN_OK;
    mn_str inner = {bit.ptr + 1, bit.len - 2};
    if (!mn_str_starts_with(inner, "./") && !mn_str_starts_with(inner, "../"))
        return MN_OK;
    const char *cur = p->tpl->name;
    const char *slash = strrchr(cur, '/');
    char base[1024];
    size_t blen = slash ? (size_t)(slash - cur) : 0;
    if (blen >= sizeof base)
        blen = 0;
    memcpy(base, cur, blen);
    base[blen] = 0;
    while (inner.len) {
        if (mn_str_starts_with(inner, "./")) {
            inner.ptr += 2, inner.len -= 2;
        } else if (mn_str_starts_with(inner, "../")) {
            if (!blen)
                return mn__parser_error(p, tok,
                                        "The relative path '%.*s' points outside the file "
                                        "hierarchy that template '%s' is in.",
                                        (int)(bit.len - 2), bit.ptr + 1, p->tpl->name);
            char *s = strrchr(base, '/');
            blen = s ? (size_t)(s - base) : 0;
            base[blen] = 0;
            inner.ptr += 3, inner.len -= 3;
        } else {
            break;
        }
    }
    char *r =
        mn_arena_printf(p->arena, "\"%s%s%.*s\"", base, blen ? "/" : "", (int)inner.len, inner.ptr);
    if (!r)
        return MN_ENOMEM;
    *out = mn_str_from(r);
    return MN_OK;
}

static int t_extends(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits != 2)
        return mn__parser_error(p, tok, "'%.*s' takes one argument", NAME);
    NODE(N_EXTENDS);
    mn_str name;
    TRY(relative_name(p, tok, bits[1], &name));
    TRY(mn__compile_expr(p, tok, name, &n->u.extends.parent));
    TRY(parse_until(p, NULL, &n->u.extends.body, NULL));
    for (int i = 0; i < n->u.extends.body.n; i++)
        if (n->u.extends.body.items[i]->type == N_EXTENDS)
            return mn__parser_error(p, tok,
                                    "'%.*s' cannot appear more than once in the same "
                                    "template",
                                    NAME);
    *out = n;
    return MN_OK;
}

static int t_filter(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    (void)bits;
    mn_str rest = {tok->contents.ptr + 6, tok->contents.len - 6};
    while (rest.len && (rest.ptr[0] == ' ' || rest.ptr[0] == '\t'))
        rest.ptr++, rest.len--;
    if (nbits < 2)
        return mn__parser_error(p, tok, "'filter' tag requires an argument");
    char *src = mn_arena_printf(p->arena, "var|%.*s", (int)rest.len, rest.ptr);
    if (!src)
        return MN_ENOMEM;
    NODE(N_FILTER);
    TRY(mn__compile_expr(p, tok, mn_str_from(src), &n->u.filter.filter));
    for (int i = 0; i < n->u.filter.filter->nfilters; i++) {
        const char *fname = n->u.filter.filter->filters[i].def->name;
        if (!strcmp(fname, "escape") || !strcmp(fname, "safe"))
            return mn__parser_error(p, tok,
                                    "\"filter %s\" is not permitted.  Use the \"autoescape\" tag "
                                    "instead.",
                                    fname);
    }
    TRY(parse_body(p, "endfilter", &n->u.filter.body));
    *out = n;
    return MN_OK;
}

static int t_firstof(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits < 2)
        return mn__parser_error(p, tok, "'firstof' statement requires at least one argument");
    NODE(N_FIRSTOF);
    int nv = nbits - 1;
    if (nv >= 2 && BIT(nbits - 2, "as")) {
        n->u.firstof.as_name = bits[nbits - 1];
        nv -= 2;
    }
    TRY(exprs(p, tok, bits + 1, nv, &n->u.firstof.values));
    n->u.firstof.nvalues = nv;
    *out = n;
    return MN_OK;
}

static int t_for(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits < 4)
        return mn__parser_error(p, tok, "'for' statements should have at least four words: %.*s",
                                (int)tok->contents.len, tok->contents.ptr);
    bool reversed = BIT(nbits - 1, "reversed");
    int in_index = reversed ? nbits - 3 : nbits - 2;
    if (!BIT(in_index, "in"))
        return mn__parser_error(p, tok,
                                "'for' statements should use the format 'for x in y': "
                                "%.*s",
                                (int)tok->contents.len, tok->contents.ptr);
    NODE(N_FOR);
    n->u.forloop.reversed = reversed;
    /* ' '.join(bits[1:in_index]) split on ' *, *' */
    mn_buf joined;
    mn_buf_init(&joined, p->arena);
    for (int i = 1; i < in_index; i++) {
        if (i > 1)
            mn_buf_putc(&joined, ' ');
        mn_buf_put_str(&joined, bits[i]);
    }
    if (!mn_buf_cstr(&joined))
        return MN_ENOMEM;
    int nvars = 1;
    for (size_t i = 0; i < joined.len; i++)
        nvars += joined.data[i] == ',';
    n->u.forloop.vars = mn_arena_alloc(p->arena, (size_t)nvars * sizeof(mn_str));
    if (!n->u.forloop.vars)
        return MN_ENOMEM;
    size_t s = 0;
    for (size_t i = 0; i <= joined.len; i++) {
        if (i == joined.len || joined.data[i] == ',') {
            size_t a = s, b = i;
            while (a < b && joined.data[a] == ' ')
                a++;
            while (b > a && joined.data[b - 1] == ' ')
                b--;
            mn_str v = {joined.data + a, b - a};
            bool bad = v.len == 0;
            for (size_t k = 0; k < v.len; k++)
                if (v.ptr[k] == ' ' || v.ptr[k] == '"' || v.ptr[k] == '\'' || v.ptr[k] == '|')
                    bad = true;
            if (bad)
                return mn__parser_error(p, tok, "'for' tag received an invalid argument: %.*s",
                                        (int)tok->contents.len, tok->contents.ptr);
            n->u.forloop.vars[n->u.forloop.nvars++] = mn__intern_name(p, v);
            s = i + 1;
        }
    }
    TRY(mn__compile_expr(p, tok, bits[in_index + 1], &n->u.forloop.seq));
    const char *until[] = {"empty", "endfor", NULL};
    const token *end = NULL;
    TRY(parse_until(p, until, &n->u.forloop.body, &end));
    if (mn_str_eq_cstr(end->contents, "empty")) {
        n->u.forloop.has_empty = true;
        TRY(parse_body(p, "endfor", &n->u.forloop.empty));
    }
    *out = n;
    return MN_OK;
}

static int t_if(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    NODE(N_IF);
    int cap = 4;
    n->u.ifn.conds = mn_arena_alloc(p->arena, (size_t)cap * sizeof(cond *));
    n->u.ifn.bodies = mn_arena_alloc(p->arena, (size_t)cap * sizeof(nodelist));
    if (!n->u.ifn.conds || !n->u.ifn.bodies)
        return MN_ENOMEM;
    const char *until[] = {"elif", "else", "endif", NULL};
    const token *cur = tok;
    for (;;) {
        if (n->u.ifn.n == cap) {
            n->u.ifn.conds =
                mn_arena_realloc(p->arena, n->u.ifn.conds, (size_t)cap * sizeof(cond *),
                                 (size_t)cap * 2 * sizeof(cond *));
            n->u.ifn.bodies =
                mn_arena_realloc(p->arena, n->u.ifn.bodies, (size_t)cap * sizeof(nodelist),
                                 (size_t)cap * 2 * sizeof(nodelist));
            if (!n->u.ifn.conds || !n->u.ifn.bodies)
                return MN_ENOMEM;
            cap *= 2;
        }
        int k = n->u.ifn.n;
        if (cur == tok) {
            TRY(mn__parse_cond(p, tok, bits + 1, nbits - 1, &n->u.ifn.conds[k]));
        } else {
            mn_str *eb;
            int ne = mn__template_smart_split(p->arena, cur->contents, &eb);
            if (ne < 0)
                return ne;
            TRY(mn__parse_cond(p, cur, eb + 1, ne - 1, &n->u.ifn.conds[k]));
        }
        const token *end = NULL;
        p->cur = tok;
        TRY(parse_until(p, until, &n->u.ifn.bodies[k], &end));
        n->u.ifn.n++;
        if (mn_str_starts_with(end->contents, "elif")) {
            cur = end;
            continue;
        }
        if (mn_str_eq_cstr(end->contents, "else")) {
            const char *until_end[] = {"endif", NULL};
            if (n->u.ifn.n == cap) {
                n->u.ifn.conds =
                    mn_arena_realloc(p->arena, n->u.ifn.conds, (size_t)cap * sizeof(cond *),
                                     (size_t)(cap + 1) * sizeof(cond *));
                n->u.ifn.bodies =
                    mn_arena_realloc(p->arena, n->u.ifn.bodies, (size_t)cap * sizeof(nodelist),
                                     (size_t)(cap + 1) * sizeof(nodelist));
                if (!n->u.ifn.conds || !n->u.ifn.bodies)
                    return MN_ENOMEM;
                cap++;
            }
            k = n->u.ifn.n;
            n->u.ifn.conds[k] = NULL;
            TRY(parse_until(p, until_end, &n->u.ifn.bodies[k], &end));
            n->u.ifn.n++;
        }
        if (!mn_str_eq_cstr(end->contents, "endif"))
            return mn__parser_error(p, end, "Malformed template tag at line %d: \"%.*s\"",
                                    end->line, (int)end->contents.len, end->contents.ptr);
        break;
    }
    *out = n;
    return MN_OK;
}

static int t_ifchanged(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    NODE(N_IFCHANGED);
    const char *until[] = {"else", "endifchanged", NULL};
    const token *end = NULL;
    TRY(parse_until(p, until, &n->u.ifchanged.body, &end));
    if (mn_str_eq_cstr(end->contents, "else"))
        TRY(parse_body(p, "endifchanged", &n->u.ifchanged.other));
    TRY(exprs(p, tok, bits + 1, nbits - 1, &n->u.ifchanged.values));
    n->u.ifchanged.nvalues = nbits - 1;
    *out = n;
    return MN_OK;
}

static int t_include(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits < 2)
        return mn__parser_error(p, tok,
                                "'%.*s' tag takes at least one argument: the name of the "
                                "template to be included.",
                                NAME);
    NODE(N_INCLUDE);
    bool seen_with = false, seen_only = false;
    int i = 2;
    while (i < nbits) {
        mn_str opt = bits[i++];
        if ((mn_str_eq_cstr(opt, "with") && seen_with) ||
            (mn_str_eq_cstr(opt, "only") && seen_only))
            return mn__parser_error(p, tok, "The '%.*s' option was specified more than once.",
                                    (int)opt.len, opt.ptr);
        if (mn_str_eq_cstr(opt, "with")) {
            seen_with = true;
            int used;
            TRY(mn__parse_kwargs(p, tok, bits + i, nbits - i, &used, &n->u.include.extra,
                                 &n->u.include.nextra));
            if (!used)
                return mn__parser_error(p, tok,
                                        "\"with\" in '%.*s' tag needs at least one "
                                        "keyword argument.",
                                        NAME);
            i += used;
        } else if (mn_str_eq_cstr(opt, "only")) {
            seen_only = true;
            n->u.include.only = true;
        } else {
            return mn__parser_error(p, tok, "Unknown argument for '%.*s' tag: '%.*s'.", NAME,
                                    (int)opt.len, opt.ptr);
        }
    }
    mn_str name;
    TRY(relative_name(p, tok, bits[1], &name));
    TRY(mn__compile_expr(p, tok, name, &n->u.include.name));
    *out = n;
    return MN_OK;
}

static int t_load(parser *p, const token *tok, mn_str *b_unused, int nb, node **out)
{
    (void)b_unused;
    (void)nb;
    int nbits;
    mn_str *bits = split_plain(p, tok->contents, &nbits);
    if (!bits)
        return MN_ENOMEM;
    bool from = nbits >= 4 && BIT(nbits - 2, "from");
    int first = from ? nbits - 1 : 1, last = from ? nbits : nbits;
    for (int i = first; i < last; i++) {
        const mn_template_library *lib = NULL;
        for (const mn_template_library *l = p->engine->libraries; l; l = l->next)
            if (l->name[0] && mn_str_eq_cstr(bits[i], l->name))
                lib = l;
        if (!lib) {
            char names[512];
            size_t k = 0;
            names[0] = 0;
            for (const mn_template_library *l = p->engine->libraries; l && k < sizeof names;
                 l = l->next)
                if (l->name[0])
                    k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", k ? "\n" : "",
                                          l->name);
            return mn__parser_error(p, tok,
                                    "'%.*s' is not a registered tag library. Must be one "
                                    "of:\n%s",
                                    (int)bits[i].len, bits[i].ptr, names);
        }
        if (!from) {
            if (p->nlibs == p->cap_libs) {
                const mn_template_library **g =
                    mn_arena_realloc(p->arena, p->libs, (size_t)p->cap_libs * sizeof *g,
                                     (size_t)p->cap_libs * 2 * sizeof *g);
                if (!g)
                    return MN_ENOMEM;
                p->libs = g;
                p->cap_libs *= 2;
            }
            p->libs[p->nlibs++] = lib;
            continue;
        }
        for (int k = 1; k < nbits - 2; k++) {
            const filter_def *f = mn__library_filter(lib, bits[k]);
            const tag_def *t = mn__library_tag(lib, bits[k]);
            if (!f && !t)
                return mn__parser_error(p, tok,
                                        "'%.*s' is not a valid tag or filter in tag "
                                        "library '%s'",
                                        (int)bits[k].len, bits[k].ptr, lib->name);
            if (f) {
                const filter_def **g = mn_arena_realloc(
                    p->arena, p->extra_filters, (size_t)p->nextra_filters * sizeof *g,
                    (size_t)(p->nextra_filters + 1) * sizeof *g);
                if (!g)
                    return MN_ENOMEM;
                g[p->nextra_filters++] = f;
                p->extra_filters = g;
            }
            if (t) {
                const tag_def **g =
                    mn_arena_realloc(p->arena, p->extra_tags, (size_t)p->nextra_tags * sizeof *g,
                                     (size_t)(p->nextra_tags + 1) * sizeof *g);
                if (!g)
                    return MN_ENOMEM;
                g[p->nextra_tags++] = t;
                p->extra_tags = g;
            }
        }
    }
    NODE(N_COMMENT); /* renders nothing, but counts as a tag before {% extends %} */
    *out = n;
    return MN_OK;
}

static int t_lorem(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    NODE(N_LOREM);
    n->u.lorem.random = BIT(nbits - 1, "random");
    if (n->u.lorem.random)
        nbits--;
    n->u.lorem.method = 'b';
    if (nbits > 1 && bits[nbits - 1].len == 1 &&
        (bits[nbits - 1].ptr[0] == 'w' || bits[nbits - 1].ptr[0] == 'p' ||
         bits[nbits - 1].ptr[0] == 'b')) {
        n->u.lorem.method = bits[nbits - 1].ptr[0];
        nbits--;
    }
    mn_str count = {"1", 1};
    if (nbits > 1)
        count = bits[--nbits];
    if (nbits != 1)
        return mn__parser_error(p, tok, "Incorrect format for '%.*s' tag", NAME);
    TRY(mn__compile_expr(p, tok, count, &n->u.lorem.count));
    *out = n;
    return MN_OK;
}

static int t_now(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    NODE(N_NOW);
    if (nbits == 4 && BIT(2, "as")) {
        n->u.now.as_name = bits[3];
        nbits = 2;
    }
    if (nbits != 2 || bits[1].len < 2)
        return mn__parser_error(p, tok, "'now' statement takes one argument");
    n->u.now.format = (mn_str){bits[1].ptr + 1, bits[1].len - 2};
    *out = n;
    return MN_OK;
}

static int t_regroup(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits != 6)
        return mn__parser_error(p, tok, "'regroup' tag takes five arguments");
    NODE(N_REGROUP);
    TRY(mn__compile_expr(p, tok, bits[1], &n->u.regroup.target));
    if (!BIT(2, "by"))
        return mn__parser_error(p, tok, "second argument to 'regroup' tag must be 'by'");
    if (!BIT(4, "as"))
        return mn__parser_error(p, tok, "next-to-last argument to 'regroup' tag must be 'as'");
    n->u.regroup.as_name = bits[5];
    char *e = mn_arena_printf(p->arena, "%.*s.%.*s", (int)bits[5].len, bits[5].ptr,
                              (int)bits[3].len, bits[3].ptr);
    if (!e)
        return MN_ENOMEM;
    TRY(mn__compile_expr(p, tok, mn_str_from(e), &n->u.regroup.by));
    *out = n;
    return MN_OK;
}

static int t_resetcycle(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits > 2)
        return mn__parser_error(p, tok, "'%.*s' tag accepts at most one argument.", NAME);
    NODE(N_RESETCYCLE);
    if (nbits == 2) {
        for (int i = 0; i < p->ncycles; i++)
            if (mn_str_eq(p->cycles[i].name, bits[1]))
                n->u.resetcycle.target = p->cycles[i].n;
        if (!n->u.resetcycle.target)
            return mn__parser_error(p, tok, "Named cycle '%.*s' does not exist.", (int)bits[1].len,
                                    bits[1].ptr);
    } else {
        if (!p->last_cycle)
            return mn__parser_error(p, tok, "No cycles in template.");
        n->u.resetcycle.target = p->last_cycle;
    }
    *out = n;
    return MN_OK;
}

static int t_spaceless(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    (void)bits;
    (void)nbits;
    NODE(N_SPACELESS);
    TRY(parse_body(p, "endspaceless", &n->u.spaceless.body));
    *out = n;
    return MN_OK;
}

static int t_templatetag(parser *p, const token *tok, mn_str *b_unused, int nb, node **out)
{
    (void)b_unused;
    (void)nb;
    static const char *const names[] = {"openblock", "closeblock", "openvariable", "closevariable",
                                        "openbrace", "closebrace", "opencomment",  "closecomment"};
    static const char *const values[] = {"{%", "%}", "{{", "}}", "{", "}", "{#", "#}"};
    int nbits;
    mn_str *bits = split_plain(p, tok->contents, &nbits);
    if (!bits)
        return MN_ENOMEM;
    if (nbits != 2)
        return mn__parser_error(p, tok, "'templatetag' statement takes one argument");
    for (int i = 0; i < 8; i++) {
        if (BIT(1, names[i])) {
            NODE(N_TEXT);
            n->u.text = mn_str_from(values[i]);
            *out = n;
            return MN_OK;
        }
    }
    return mn__parser_error(p, tok,
                            "Invalid templatetag argument: '%.*s'. Must be one of: ['openblock', "
                            "'closeblock', 'openvariable', 'closevariable', 'openbrace', "
                            "'closebrace', 'opencomment', 'closecomment']",
                            (int)bits[1].len, bits[1].ptr);
}

static int t_url(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits < 2)
        return mn__parser_error(p, tok, "'%.*s' takes at least one argument, a URL pattern name.",
                                NAME);
    NODE(N_URL);
    TRY(mn__compile_expr(p, tok, bits[1], &n->u.url.view));
    int last = nbits;
    if (nbits - 2 >= 2 && BIT(nbits - 2, "as")) {
        n->u.url.as_name = bits[nbits - 1];
        last = nbits - 2;
    }
    n->u.url.args = mn_arena_alloc(p->arena, (size_t)nbits * sizeof(mn_template_expr *));
    n->u.url.kwargs = mn_arena_alloc(p->arena, (size_t)nbits * sizeof(kwarg));
    if (!n->u.url.args || !n->u.url.kwargs)
        return MN_ENOMEM;
    for (int i = 2; i < last; i++) {
        if (mn__is_kwarg(bits[i])) {
            int used, nk;
            kwarg *kw;
            TRY(mn__parse_kwargs(p, tok, bits + i, 1, &used, &kw, &nk));
            n->u.url.kwargs[n->u.url.nkwargs++] = kw[0];
        } else {
            TRY(mn__compile_expr(p, tok, bits[i], &n->u.url.args[n->u.url.nargs++]));
        }
    }
    *out = n;
    return MN_OK;
}

static int t_verbatim(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    (void)bits;
    (void)nbits;
    nodelist body;
    TRY(parse_body(p, "endverbatim", &body));
    mn_buf b;
    mn_buf_init(&b, p->arena);
    for (int i = 0; i < body.n; i++)
        if (body.items[i]->type == N_TEXT && mn_buf_put_str(&b, body.items[i]->u.text) < 0)
            return MN_ENOMEM;
    NODE(N_TEXT);
    n->u.text = (mn_str){b.data ? b.data : "", b.len};
    *out = n;
    return MN_OK;
}

static int t_widthratio(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    NODE(N_WIDTHRATIO);
    if (nbits == 6) {
        if (!BIT(4, "as"))
            return mn__parser_error(p, tok,
                                    "Invalid syntax in widthratio tag. Expecting 'as' "
                                    "keyword");
        n->u.widthratio.as_name = bits[5];
    } else if (nbits != 4) {
        return mn__parser_error(p, tok, "widthratio takes at least three arguments");
    }
    TRY(mn__compile_expr(p, tok, bits[1], &n->u.widthratio.value));
    TRY(mn__compile_expr(p, tok, bits[2], &n->u.widthratio.max));
    TRY(mn__compile_expr(p, tok, bits[3], &n->u.widthratio.width));
    *out = n;
    return MN_OK;
}

static int t_with(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    NODE(N_WITH);
    int used = 0;
    if (nbits >= 2 && mn__is_kwarg(bits[1])) {
        TRY(mn__parse_kwargs(p, tok, bits + 1, nbits - 1, &used, &n->u.with.vars,
                             &n->u.with.nvars));
    } else if (nbits >= 4 && BIT(2, "as")) {
        /* legacy: {% with value as name [and value2 as name2] %} */
        n->u.with.vars = mn_arena_alloc(p->arena, (size_t)nbits * sizeof(kwarg));
        if (!n->u.with.vars)
            return MN_ENOMEM;
        int i = 1;
        while (i + 2 < nbits && BIT(i + 1, "as")) {
            kwarg *kw = &n->u.with.vars[n->u.with.nvars++];
            kw->name = bits[i + 2];
            TRY(mn__compile_expr(p, tok, bits[i], &kw->value));
            i += 3;
            if (i < nbits && BIT(i, "and"))
                i++;
            else
                break;
        }
        used = i - 1;
    }
    if (!n->u.with.nvars)
        return mn__parser_error(p, tok, "'%.*s' expected at least one variable assignment", NAME);
    if (1 + used < nbits)
        return mn__parser_error(p, tok, "'%.*s' received an invalid token: '%.*s'", NAME,
                                (int)bits[1 + used].len, bits[1 + used].ptr);
    TRY(parse_body(p, "endwith", &n->u.with.body));
    *out = n;
    return MN_OK;
}

static int t_querystring(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    NODE(N_QUERYSTRING);
    int last = nbits;
    if (nbits >= 3 && BIT(nbits - 2, "as")) {
        n->u.querystring.as_name = bits[nbits - 1];
        last = nbits - 2;
    }
    n->u.querystring.kwargs = mn_arena_alloc(p->arena, (size_t)nbits * sizeof(kwarg));
    if (!n->u.querystring.kwargs)
        return MN_ENOMEM;
    for (int i = 1; i < last; i++) {
        kwarg *kw = &n->u.querystring.kwargs[n->u.querystring.nkwargs++];
        if (mn__is_kwarg(bits[i])) {
            int used, nk;
            kwarg *one;
            TRY(mn__parse_kwargs(p, tok, bits + i, 1, &used, &one, &nk));
            *kw = one[0];
        } else {
            if (n->u.querystring.nkwargs > 1 &&
                n->u.querystring.kwargs[n->u.querystring.nkwargs - 2].name.len)
                return mn__parser_error(p, tok,
                                        "'querystring' received a positional argument "
                                        "after a keyword argument");
            kw->name = (mn_str){"", 0};
            TRY(mn__compile_expr(p, tok, bits[i], &kw->value));
        }
    }
    *out = n;
    return MN_OK;
}

static int t_partialdef(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits < 2 || nbits > 3 || (nbits == 3 && !BIT(2, "inline")))
        return mn__parser_error(p, tok,
                                "'partialdef' tag requires a single argument, the "
                                "partial name, optionally followed by 'inline'");
    mn_template *t = p->tpl;
    for (int i = 0; i < t->npartials; i++)
        if (mn_str_eq(t->partials[i].name, bits[1]))
            return mn__parser_error(p, tok,
                                    "Partial '%.*s' is already defined in the '%s' "
                                    "template.",
                                    (int)bits[1].len, bits[1].ptr, t->name);
    NODE(N_PARTIALDEF);
    n->u.partialdef.name = bits[1];
    n->u.partialdef.is_inline = nbits == 3;
    const char *until[] = {"endpartialdef", NULL};
    const token *end = NULL;
    TRY(parse_until(p, until, &n->u.partialdef.body, &end));
    if (!mn_str_eq_cstr(end->contents, "endpartialdef")) {
        mn_str *eb;
        int ne = mn__template_smart_split(p->arena, end->contents, &eb);
        if (ne < 0)
            return ne;
        if (ne != 2 || !mn_str_eq(eb[1], bits[1]))
            return mn__parser_error(p, end,
                                    "Invalid block tag on line %d: '%.*s', expected "
                                    "'endpartialdef' or 'endpartialdef %.*s'.",
                                    end->line, (int)end->contents.len, end->contents.ptr,
                                    (int)bits[1].len, bits[1].ptr);
    }
    TRY(add_named(p, &t->partials, &t->npartials, bits[1], n));
    *out = n;
    return MN_OK;
}

static int t_partial(parser *p, const token *tok, mn_str *bits, int nbits, node **out)
{
    if (nbits != 2)
        return mn__parser_error(p, tok, "'partial' tag requires a single argument");
    NODE(N_PARTIAL);
    n->u.partial.name = bits[1];
    node **g = mn_arena_realloc(p->arena, p->partial_refs, (size_t)p->npartial_refs * sizeof *g,
                                (size_t)(p->npartial_refs + 1) * sizeof *g);
    if (!g)
        return MN_ENOMEM;
    g[p->npartial_refs++] = n;
    p->partial_refs = g;
    *out = n;
    return MN_OK;
}

void mn__register_builtin_tags(mn_template_library *lib)
{
    static const struct {
        const char *name;
        builtin_compile_fn fn;
    } tags[] = {
        {"autoescape", t_autoescape},
        {"block", t_block},
        {"comment", t_comment},
        {"csrf_token", t_csrf},
        {"cycle", t_cycle},
        {"debug", t_debug},
        {"extends", t_extends},
        {"filter", t_filter},
        {"firstof", t_firstof},
        {"for", t_for},
        {"if", t_if},
        {"ifchanged", t_ifchanged},
        {"include", t_include},
        {"load", t_load},
        {"lorem", t_lorem},
        {"now", t_now},
        {"regroup", t_regroup},
        {"resetcycle", t_resetcycle},
        {"spaceless", t_spaceless},
        {"templatetag", t_templatetag},
        {"url", t_url},
        {"verbatim", t_verbatim},
        {"widthratio", t_widthratio},
        {"with", t_with},
        {"querystring", t_querystring},
        {"partialdef", t_partialdef},
        {"partial", t_partial},
    };
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        mn__library_add_builtin_tag(lib, tags[i].name, tags[i].fn);
}
