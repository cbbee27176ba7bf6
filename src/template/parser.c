/* parser.c — turns tokens into a node tree, compiles `var|filter:arg` expressions and
 * {% if %} conditions, with Django's error messages (django.template.base.Parser,
 * FilterExpression, smartif.IfParser). Errors carry the template, line, column and source
 * line; nesting is bounded so no input can exhaust the stack. */
#include "template/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARSE_DEPTH 200

int mn__parser_error(parser *p, const token *tok, const char *fmt, ...)
{
    mn_template_error *err = p->err;
    if (!err || err->code)
        return MN_EINVAL;
    err->code = MN_EINVAL;
    snprintf(err->template_name, sizeof err->template_name, "%s",
             p->tpl->name ? p->tpl->name : "<string>");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (!tok)
        tok = p->cur;
    if (tok) {
        const char *src = p->tpl->source;
        size_t off = tok->offset, ls = off;
        while (ls > 0 && src[ls - 1] != '\n')
            ls--;
        size_t le = off;
        while (le < p->tpl->source_len && src[le] != '\n')
            le++;
        err->line = tok->line;
        err->column = (int)(off - ls) + 1;
        snprintf(err->source_line, sizeof err->source_line, "%.*s", (int)(le - ls), src + ls);
    }
    return MN_EINVAL;
}

node *mn__new_node(parser *p, node_type type, const token *tok)
{
    node *n = mn_arena_calloc(p->arena, 1, sizeof *n);
    if (!n)
        return NULL;
    n->type = type;
    n->tpl = p->tpl;
    if (tok) {
        n->line = tok->line;
        const char *src = p->tpl->source;
        size_t ls = tok->offset;
        while (ls > 0 && src[ls - 1] != '\n')
            ls--;
        n->column = (int)(tok->offset - ls) + 1;
    }
    return n;
}

mn_str mn__tag_name(mn_str c)
{
    size_t i = 0;
    while (i < c.len && c.ptr[i] != ' ' && c.ptr[i] != '\t' && c.ptr[i] != '\n' &&
           c.ptr[i] != '\r' && c.ptr[i] != '\f' && c.ptr[i] != '\v')
        i++;
    return (mn_str){c.ptr, i};
}

/* ---- Library lookups across the loaded libraries (later loads win). ---- */

static const filter_def *find_filter(parser *p, mn_str name)
{
    for (int i = p->nextra_filters - 1; i >= 0; i--)
        if (mn_str_eq_cstr(name, p->extra_filters[i]->name))
            return p->extra_filters[i];
    for (int i = p->nlibs - 1; i >= 0; i--) {
        const filter_def *f = mn__library_filter(p->libs[i], name);
        if (f)
            return f;
    }
    return NULL;
}

static const tag_def *find_tag(parser *p, mn_str name)
{
    for (int i = p->nextra_tags - 1; i >= 0; i--)
        if (mn_str_eq_cstr(name, p->extra_tags[i]->name))
            return p->extra_tags[i];
    for (int i = p->nlibs - 1; i >= 0; i--) {
        const tag_def *t = mn__library_tag(p->libs[i], name);
        if (t)
            return t;
    }
    return NULL;
}

/* ---- Expressions. ---- */

static bool is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           (unsigned char)c >= 0x80;
}
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* strdq / strsq at s[i]: returns the end index or 0. */
static size_t match_quoted(mn_str s, size_t i)
{
    if (i >= s.len || (s.ptr[i] != '"' && s.ptr[i] != '\''))
        return 0;
    return mn__quoted_end(s, i);
}

/* constant: _("...") | _('...') | "..." | '...' */
static size_t match_constant(mn_str s, size_t i)
{
    if (i + 1 < s.len && s.ptr[i] == '_' && s.ptr[i + 1] == '(') {
        size_t e = match_quoted(s, i + 2);
        if (e && e < s.len && s.ptr[e] == ')')
            return e + 1;
        return 0;
    }
    return match_quoted(s, i);
}

/* [\w.]+ | [-+.]?\d[\d.e]* */
static size_t match_var(mn_str s, size_t i)
{
    size_t j = i;
    while (j < s.len && (is_word(s.ptr[j]) || s.ptr[j] == '.'))
        j++;
    if (j > i)
        return j;
    j = i;
    if (j < s.len && (s.ptr[j] == '-' || s.ptr[j] == '+' || s.ptr[j] == '.'))
        j++;
    if (j >= s.len || !is_digit(s.ptr[j]))
        return 0;
    j++;
    while (j < s.len && (is_digit(s.ptr[j]) || s.ptr[j] == '.' || s.ptr[j] == 'e'))
        j++;
    return j;
}

typedef struct filter_match {
    size_t start, end;
    mn_str name;
    mn_str arg;
    bool has_arg;
} filter_match;

/* \s*\|\s*(\w+)(?::(constant|var))? at i */
static bool match_filter(mn_str s, size_t i, filter_match *m)
{
    size_t j = i;
    while (j < s.len && is_ws(s.ptr[j]))
        j++;
    if (j >= s.len || s.ptr[j] != '|')
        return false;
    j++;
    while (j < s.len && is_ws(s.ptr[j]))
        j++;
    size_t ns = j;
    while (j < s.len && is_word(s.ptr[j]))
        j++;
    if (j == ns)
        return false;
    m->start = i;
    m->name = (mn_str){s.ptr + ns, j - ns};
    m->has_arg = false;
    if (j < s.len && s.ptr[j] == ':') {
        size_t e = match_constant(s, j + 1);
        if (!e)
            e = match_var(s, j + 1);
        if (e) {
            m->has_arg = true;
            m->arg = (mn_str){s.ptr + j + 1, e - j - 1};
            j = e;
        }
    }
    m->end = j;
    return true;
}

/* unescape_string_literal: strips the quotes, \<quote> -> quote, \\ -> \ */
static mn_value *string_literal(mn_arena *a, mn_str lit)
{
    char q = lit.ptr[0];
    mn_str in = {lit.ptr + 1, lit.len - 2};
    char *out = mn_arena_alloc(a, in.len + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    /* Python: s[1:-1].replace(r'\%s' % quote, quote).replace(r'\\', '\\') */
    char *tmp = mn_arena_alloc(a, in.len + 1);
    if (!tmp)
        return NULL;
    size_t t = 0;
    for (size_t i = 0; i < in.len; i++) {
        if (in.ptr[i] == '\\' && i + 1 < in.len && in.ptr[i + 1] == q) {
            tmp[t++] = q;
            i++;
        } else {
            tmp[t++] = in.ptr[i];
        }
    }
    for (size_t i = 0; i < t; i++) {
        if (tmp[i] == '\\' && i + 1 < t && tmp[i + 1] == '\\') {
            out[n++] = '\\';
            i++;
        } else {
            out[n++] = tmp[i];
        }
    }
    return mn_value_safe_ref(a, out, n);
}

/* Django's Variable(): a number, a string literal, or a dotted lookup path. */
static int compile_variable(parser *p, const token *tok, mn_str var, arg_expr *out)
{
    memset(out, 0, sizeof *out);
    out->text = var;
    /* numbers */
    bool has_dot_or_e = false;
    for (size_t i = 0; i < var.len; i++)
        if (var.ptr[i] == '.' || var.ptr[i] == 'e' || var.ptr[i] == 'E')
            has_dot_or_e = true;
    char tmp[64];
    if (var.len && var.len < sizeof tmp) {
        memcpy(tmp, var.ptr, var.len);
        tmp[var.len] = 0;
        char *end;
        if (has_dot_or_e) {
            /* Python float(): digits, optional sign, '.', exponent; and not ending in '.' */
            bool ok = var.ptr[var.len - 1] != '.';
            for (size_t i = 0; i < var.len && ok; i++) {
                char c = var.ptr[i];
                if (!(is_digit(c) || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+' ||
                      c == '_'))
                    ok = false;
            }
            if (ok) {
                double d = strtod(tmp, &end);
                if (*end == 0 && end != tmp) {
                    out->literal = mn_value_double(p->arena, d);
                    return out->literal ? MN_OK : MN_ENOMEM;
                }
            }
        } else {
            mn_str t = var;
            if (t.len && (t.ptr[0] == '+' || t.ptr[0] == '-'))
                t.ptr++, t.len--;
            bool digits = t.len > 0;
            for (size_t i = 0; i < t.len; i++)
                if (!is_digit(t.ptr[i]))
                    digits = false;
            if (digits) {
                long long v = strtoll(tmp, &end, 10);
                if (*end == 0) {
                    out->literal = mn_value_int(p->arena, v);
                    return out->literal ? MN_OK : MN_ENOMEM;
                }
            }
        }
    }
    if (var.len >= 2 && var.ptr[0] == '_' && var.ptr[1] == '(' && var.ptr[var.len - 1] == ')') {
        mn_str inner = {var.ptr + 2, var.len - 3};
        if (inner.len >= 2 && (inner.ptr[0] == '"' || inner.ptr[0] == '\'') &&
            inner.ptr[inner.len - 1] == inner.ptr[0]) {
            out->literal = string_literal(p->arena, inner);
            return out->literal ? MN_OK : MN_ENOMEM;
        }
    }
    if (var.len >= 2 && (var.ptr[0] == '"' || var.ptr[0] == '\'') &&
        var.ptr[var.len - 1] == var.ptr[0]) {
        out->literal = string_literal(p->arena, var);
        return out->literal ? MN_OK : MN_ENOMEM;
    }
    if (!var.len || var.ptr[0] == '_')
        goto underscore;
    for (size_t i = 0; i + 1 < var.len; i++)
        if (var.ptr[i] == '.' && var.ptr[i + 1] == '_')
            goto underscore;
    int n = 1;
    for (size_t i = 0; i < var.len; i++)
        n += var.ptr[i] == '.';
    out->path = mn_arena_alloc(p->arena, (size_t)n * sizeof(mn_str));
    out->hint = mn_arena_calloc(p->arena, (size_t)n, sizeof *out->hint);
    if (!out->path || !out->hint)
        return MN_ENOMEM;
    out->npath = 0;
    size_t start = 0;
    for (size_t i = 0; i <= var.len; i++) {
        if (i == var.len || var.ptr[i] == '.') {
            out->path[out->npath++] = (mn_str){var.ptr + start, i - start};
            start = i + 1;
        }
    }
    out->path[0] = mn__intern_name(p, out->path[0]);
    return MN_OK;
underscore:
    return mn__parser_error(p, tok,
                            "Variables and attributes may not begin with underscores: '%.*s'",
                            (int)var.len, var.ptr);
}

static int check_filter_args(parser *p, const token *tok, const filter_def *f, bool has_arg)
{
    bool takes = f->flags & (MN_FILTER_ARG | MN_FILTER_ARG_OPTIONAL);
    bool needs = f->flags & MN_FILTER_ARG;
    if ((has_arg && !takes) || (!has_arg && needs)) {
        int alen = takes ? 2 : 1;
        int dlen = (f->flags & MN_FILTER_ARG_OPTIONAL) ? 1 : 0;
        return mn__parser_error(p, tok, "%s requires %d arguments, %d provided", f->name,
                                alen - dlen, has_arg ? 2 : 1);
    }
    return MN_OK;
}

int mn__compile_expr(parser *p, const token *tok, mn_str s, mn_template_expr **out)
{
    mn_template_expr *x = mn_arena_calloc(p->arena, 1, sizeof *x);
    if (!x)
        return MN_ENOMEM;
    size_t upto = 0;
    bool have_var = false;
    int cap = 0;
    while (upto <= s.len) {
        size_t start = upto, end = 0;
        filter_match fm;
        bool is_filter = false;
        if (!have_var && upto == 0) {
            end = match_constant(s, 0);
            if (!end)
                end = match_var(s, 0);
        }
        if (!end) {
            if (upto < s.len && match_filter(s, upto, &fm)) {
                is_filter = true;
                end = fm.end;
            } else {
                /* search for the next match to word the error as Django does */
                size_t k;
                for (k = upto + 1; k < s.len; k++)
                    if (match_filter(s, k, &fm))
                        break;
                if (upto == s.len)
                    break;
                if (k < s.len)
                    return mn__parser_error(
                        p, tok, "Could not parse some characters: %.*s|%.*s|%.*s", (int)upto, s.ptr,
                        (int)(k - upto), s.ptr + upto, (int)(s.len - k), s.ptr + k);
                return mn__parser_error(p, tok, "Could not parse the remainder: '%.*s' from '%.*s'",
                                        (int)(s.len - upto), s.ptr + upto, (int)s.len, s.ptr);
            }
        }
        (void)start;
        if (!have_var) {
            if (is_filter)
                return mn__parser_error(p, tok, "Could not find variable at start of %.*s.",
                                        (int)s.len, s.ptr);
            int rc = compile_variable(p, tok, (mn_str){s.ptr, end}, &x->var);
            if (rc < 0)
                return rc;
            have_var = true;
        } else {
            const filter_def *f = find_filter(p, fm.name);
            if (!f)
                return mn__parser_error(p, tok, "Invalid filter: '%.*s'", (int)fm.name.len,
                                        fm.name.ptr);
            int rc = check_filter_args(p, tok, f, fm.has_arg);
            if (rc < 0)
                return rc;
            if (x->nfilters == cap) {
                int ncap = cap ? cap * 2 : 4;
                filter_call *g = mn_arena_realloc(p->arena, x->filters, (size_t)cap * sizeof *g,
                                                  (size_t)ncap * sizeof *g);
                if (!g)
                    return MN_ENOMEM;
                x->filters = g;
                cap = ncap;
            }
            filter_call *fc = &x->filters[x->nfilters++];
            memset(fc, 0, sizeof *fc);
            fc->def = f;
            fc->has_arg = fm.has_arg;
            if (fm.has_arg) {
                rc = compile_variable(p, tok, fm.arg, &fc->arg);
                if (rc < 0)
                    return rc;
            }
        }
        upto = end;
        if (upto == s.len)
            break;
    }
    if (!have_var)
        return mn__parser_error(p, tok, "Could not find variable at start of %.*s.", (int)s.len,
                                s.ptr);
    *out = x;
    return MN_OK;
}

/* ---- {% if %} conditions: a Pratt parser with Django's binding powers. ---- */

typedef struct cparser {
    parser *p;
    const token *tok;
    mn_str *bits;
    int nbits;
    int pos;
    int depth;
} cparser;

static int op_of(cparser *c, int i, int *consumed)
{
    mn_str b = c->bits[i];
    *consumed = 1;
    if (mn_str_eq_cstr(b, "or"))
        return C_OR;
    if (mn_str_eq_cstr(b, "and"))
        return C_AND;
    if (mn_str_eq_cstr(b, "not")) {
        if (i + 1 < c->nbits && mn_str_eq_cstr(c->bits[i + 1], "in")) {
            *consumed = 2;
            return C_NOT_IN;
        }
        return C_NOT;
    }
    if (mn_str_eq_cstr(b, "in"))
        return C_IN;
    if (mn_str_eq_cstr(b, "is")) {
        if (i + 1 < c->nbits && mn_str_eq_cstr(c->bits[i + 1], "not")) {
            *consumed = 2;
            return C_IS_NOT;
        }
        return C_IS;
    }
    static const struct {
        const char *s;
        int op;
    } cmp[] = {{"==", C_EQ}, {"!=", C_NE}, {"<", C_LT}, {">", C_GT}, {"<=", C_LE}, {">=", C_GE}};
    for (size_t k = 0; k < sizeof cmp / sizeof cmp[0]; k++)
        if (mn_str_eq_cstr(b, cmp[k].s))
            return cmp[k].op;
    return C_VALUE;
}

static int lbp_of(int op)
{
    switch (op) {
    case C_OR: return 6;
    case C_AND: return 7;
    case C_NOT: return 8;
    case C_IN:
    case C_NOT_IN: return 9;
    case C_VALUE: return 0;
    default: return 10;
    }
}

static const char *op_name(int op)
{
    static const char *const names[] = {"",       "or", "and", "not", "in", "not in", "is",
                                        "is not", "==", "!=",  "<",   ">",  "<=",     ">="};
    return names[op];
}

static int cond_expression(cparser *c, int rbp, cond **out);

static int cond_nud(cparser *c, int at, int op, cond **out)
{
    parser *p = c->p;
    if (op == C_VALUE) {
        cond *v = mn_arena_calloc(p->arena, 1, sizeof *v);
        if (!v)
            return MN_ENOMEM;
        v->op = C_VALUE;
        int rc = mn__compile_expr(p, c->tok, c->bits[at], &v->value);
        if (rc < 0)
            return rc;
        *out = v;
        return MN_OK;
    }
    if (op == C_NOT) {
        cond *v = mn_arena_calloc(p->arena, 1, sizeof *v);
        if (!v)
            return MN_ENOMEM;
        v->op = C_NOT;
        int rc = cond_expression(c, lbp_of(C_NOT), &v->a);
        if (rc < 0)
            return rc;
        *out = v;
        return MN_OK;
    }
    return mn__parser_error(p, c->tok, "Not expecting '%s' in this position in if tag.",
                            op_name(op));
}

/* The token at c->pos: op code (C_VALUE for operands) or -1 at the end. */
static int peek(cparser *c, int *consumed)
{
    if (c->pos >= c->nbits) {
        *consumed = 0;
        return -1;
    }
    return op_of(c, c->pos, consumed);
}

static int cond_expression(cparser *c, int rbp, cond **out)
{
    if (++c->depth > MAX_PARSE_DEPTH)
        return mn__parser_error(c->p, c->tok, "if expression nested too deeply");
    int consumed;
    int at = c->pos;
    int op = peek(c, &consumed);
    if (op < 0)
        return mn__parser_error(c->p, c->tok, "Unexpected end of expression in if tag.");
    c->pos += consumed;
    cond *left = NULL;
    int rc = cond_nud(c, at, op, &left);
    if (rc < 0)
        return rc;
    for (;;) {
        at = c->pos;
        op = peek(c, &consumed);
        int lbp = op < 0 ? 0 : lbp_of(op);
        if (rbp >= lbp)
            break;
        c->pos += consumed;
        if (op == C_VALUE || op == C_NOT) {
            if (op == C_VALUE)
                return mn__parser_error(c->p, c->tok,
                                        "Not expecting '%.*s' in this position in if tag.",
                                        (int)c->bits[at].len, c->bits[at].ptr);
            return mn__parser_error(c->p, c->tok, "Not expecting '%s' as infix operator in if tag.",
                                    op_name(op));
        }
        cond *n = mn_arena_calloc(c->p->arena, 1, sizeof *n);
        if (!n)
            return MN_ENOMEM;
        n->op = (cond_op)op;
        n->a = left;
        rc = cond_expression(c, lbp, &n->b);
        if (rc < 0)
            return rc;
        left = n;
    }
    c->depth--;
    *out = left;
    return MN_OK;
}

int mn__parse_cond(parser *p, const token *tok, mn_str *bits, int nbits, cond **out)
{
    cparser c = {p, tok, bits, nbits, 0, 0};
    int rc = cond_expression(&c, 0, out);
    if (rc < 0)
        return rc;
    if (c.pos < nbits) {
        /* Django's display(): operators by name, operands as written */
        return mn__parser_error(p, tok, "Unused '%.*s' at end of if expression.",
                                (int)bits[c.pos].len, bits[c.pos].ptr);
    }
    return MN_OK;
}

/* ---- Keyword arguments (token_kwargs): name=value. ---- */

bool mn__is_kwarg(mn_str bit)
{
    size_t i = 0;
    while (i < bit.len && is_word(bit.ptr[i]))
        i++;
    return i > 0 && i < bit.len && bit.ptr[i] == '=';
}

int mn__parse_kwargs(parser *p, const token *tok, mn_str *bits, int nbits, int *used, kwarg **out,
                     int *nout)
{
    kwarg *kw = mn_arena_alloc(p->arena, (size_t)(nbits ? nbits : 1) * sizeof *kw);
    if (!kw)
        return MN_ENOMEM;
    int n = 0, i = 0;
    while (i < nbits && mn__is_kwarg(bits[i])) {
        mn_str b = bits[i];
        size_t eq = 0;
        while (b.ptr[eq] != '=')
            eq++;
        kw[n].name = (mn_str){b.ptr, eq};
        int rc = mn__compile_expr(p, tok, (mn_str){b.ptr + eq + 1, b.len - eq - 1}, &kw[n].value);
        if (rc < 0)
            return rc;
        n++;
        i++;
    }
    *used = i;
    *out = kw;
    *nout = n;
    return MN_OK;
}

/* ---- The parse loop. ---- */

static int nl_add(parser *p, nodelist *nl, int *cap, node *n)
{
    if (nl->n == *cap) {
        int ncap = *cap ? *cap * 2 : 8;
        node **g = mn_arena_realloc(p->arena, nl->items, (size_t)*cap * sizeof *g,
                                    (size_t)ncap * sizeof *g);
        if (!g)
            return MN_ENOMEM;
        nl->items = g;
        *cap = ncap;
    }
    nl->items[nl->n++] = n;
    return MN_OK;
}

static bool in_until(const char *const *until, mn_str cmd)
{
    for (int i = 0; until && until[i]; i++)
        if (mn_str_eq_cstr(cmd, until[i]))
            return true;
    return false;
}

/* "'a', 'b' or 'c'" (get_text_list). */
static void text_list(const char *const *until, char *buf, size_t size)
{
    size_t n = 0;
    int count = 0;
    while (until[count])
        count++;
    buf[0] = 0;
    for (int i = 0; i < count && n < size; i++) {
        const char *sep = i == 0 ? "" : (i == count - 1 ? " or " : ", ");
        n += (size_t)snprintf(buf + n, size - n, "%s'%s'", sep, until[i]);
    }
}

static int compile_custom(parser *p, const token *tok, const tag_def *def, node **out);

int mn__parse_nodelist(parser *p, const char *const *until, nodelist *out, const token **end)
{
    const token *opener = p->cur;
    memset(out, 0, sizeof *out);
    int cap = 0;
    if (++p->depth > MAX_PARSE_DEPTH)
        return mn__parser_error(p, opener, "Templates nested too deeply (more than %d levels)",
                                MAX_PARSE_DEPTH);
    while (p->pos < p->ntokens) {
        const token *tok = &p->tokens[p->pos++];
        node *n = NULL;
        switch (tok->type) {
        case TOK_COMMENT: continue;
        case TOK_TEXT:
            if (!tok->contents.len)
                continue;
            n = mn__new_node(p, N_TEXT, tok);
            if (!n)
                return MN_ENOMEM;
            n->u.text = tok->contents;
            break;
        case TOK_VAR: {
            if (!tok->contents.len)
                return mn__parser_error(p, tok, "Empty variable tag on line %d", tok->line);
            n = mn__new_node(p, N_VAR, tok);
            if (!n)
                return MN_ENOMEM;
            int rc = mn__compile_expr(p, tok, tok->contents, &n->u.expr);
            if (rc < 0)
                return rc;
            break;
        }
        case TOK_BLOCK: {
            if (!tok->contents.len)
                return mn__parser_error(p, tok, "Empty block tag on line %d", tok->line);
            mn_str cmd = mn__tag_name(tok->contents);
            if (in_until(until, cmd)) {
                if (end)
                    *end = tok;
                p->depth--;
                p->cur = opener;
                return MN_OK;
            }
            const tag_def *def = find_tag(p, cmd);
            if (!def) {
                if (until && until[0]) {
                    char list[256];
                    text_list(until, list, sizeof list);
                    return mn__parser_error(p, tok,
                                            "Invalid block tag on line %d: '%.*s', expected %s. "
                                            "Did you forget to register or load this tag?",
                                            tok->line, (int)cmd.len, cmd.ptr, list);
                }
                return mn__parser_error(p, tok,
                                        "Invalid block tag on line %d: '%.*s'. Did you forget "
                                        "to register or load this tag?",
                                        tok->line, (int)cmd.len, cmd.ptr);
            }
            p->cur = tok;
            int rc;
            if (def->kind == TAG_BUILTIN) {
                mn_str *bits;
                int nbits = mn__template_smart_split(p->arena, tok->contents, &bits);
                if (nbits < 0)
                    return nbits;
                rc = def->builtin(p, tok, bits, nbits, &n);
            } else {
                rc = compile_custom(p, tok, def, &n);
            }
            p->cur = opener;
            if (rc < 0)
                return rc;
            if (n && n->type == N_EXTENDS && out->n > 0) {
                /* ExtendsNode.must_be_first: no tag before it in the same nodelist */
                bool nontext = false;
                for (int i = 0; i < out->n; i++)
                    if (out->items[i]->type != N_TEXT)
                        nontext = true;
                if (nontext)
                    return mn__parser_error(
                        p, tok,
                        "<ExtendsNode: extends %.*s> must be the first tag "
                        "in the template.",
                        (int)(tok->contents.len > 8 ? tok->contents.len - 8 : 0),
                        tok->contents.ptr + 8);
            }
            break;
        }
        }
        if (n) {
            int rc = nl_add(p, out, &cap, n);
            if (rc < 0)
                return rc;
        }
    }
    if (until && until[0]) {
        char list[256];
        size_t k = 0;
        list[0] = 0;
        for (int i = 0; until[i] && k < sizeof list; i++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", until[i]);
        mn_str cmd = opener ? mn__tag_name(opener->contents) : (mn_str){"", 0};
        return mn__parser_error(p, opener,
                                "Unclosed tag on line %d: '%.*s'. Looking for one of: %s.",
                                opener ? opener->line : 0, (int)cmd.len, cmd.ptr, list);
    }
    p->depth--;
    return MN_OK;
}

/* ---- Simple, inclusion and custom tags. ---- */

static int compile_custom(parser *p, const token *tok, const tag_def *def, node **out)
{
    if (def->kind == TAG_CUSTOM) {
        node *n = mn__new_node(p, N_CUSTOM, tok);
        if (!n)
            return MN_ENOMEM;
        n->u.custom.def = def;
        int rc = def->compile((mn_tag_parser *)p, tok->contents, def->userdata, &n->u.custom.data);
        if (rc < 0) {
            if (!p->err || !p->err->code)
                mn__parser_error(p, tok, "'%s' tag failed to compile: %s", def->name,
                                 mn_strerror(rc));
            return rc;
        }
        *out = n;
        return MN_OK;
    }
    mn_str *bits;
    int nbits = mn__template_smart_split(p->arena, tok->contents, &bits);
    if (nbits < 0)
        return nbits;
    node *n = mn__new_node(p, def->kind == TAG_SIMPLE ? N_SIMPLE : N_INCLUSION, tok);
    if (!n)
        return MN_ENOMEM;
    n->u.simple.def = def;
    int last = nbits;
    if (def->kind == TAG_SIMPLE && nbits >= 3 && mn_str_eq_cstr(bits[nbits - 2], "as")) {
        n->u.simple.as_name = bits[nbits - 1];
        last = nbits - 2;
    }
    n->u.simple.args = mn_arena_alloc(p->arena, (size_t)nbits * sizeof(mn_template_expr *));
    n->u.simple.kwargs = mn_arena_alloc(p->arena, (size_t)nbits * sizeof(kwarg));
    if (!n->u.simple.args || !n->u.simple.kwargs)
        return MN_ENOMEM;
    for (int i = 1; i < last; i++) {
        int rc;
        if (mn__is_kwarg(bits[i])) {
            int used, nk;
            kwarg *kw;
            rc = mn__parse_kwargs(p, tok, bits + i, 1, &used, &kw, &nk);
            if (rc < 0)
                return rc;
            for (int k = 0; k < n->u.simple.nkwargs; k++)
                if (mn_str_eq(n->u.simple.kwargs[k].name, kw[0].name))
                    return mn__parser_error(p, tok,
                                            "'%s' received multiple values for keyword argument "
                                            "'%.*s'",
                                            def->name, (int)kw[0].name.len, kw[0].name.ptr);
            n->u.simple.kwargs[n->u.simple.nkwargs++] = kw[0];
        } else {
            if (n->u.simple.nkwargs)
                return mn__parser_error(p, tok,
                                        "'%s' received some positional argument(s) after some "
                                        "keyword argument(s)",
                                        def->name);
            rc = mn__compile_expr(p, tok, bits[i], &n->u.simple.args[n->u.simple.nargs]);
            if (rc < 0)
                return rc;
            n->u.simple.nargs++;
        }
    }
    if (n->u.simple.nargs < def->min_args)
        return mn__parser_error(p, tok,
                                "'%s' did not receive value(s) for the argument(s): %d "
                                "required, %d given",
                                def->name, def->min_args, n->u.simple.nargs);
    if (def->max_args >= 0 && n->u.simple.nargs > def->max_args)
        return mn__parser_error(p, tok, "'%s' received too many positional arguments", def->name);
    *out = n;
    return MN_OK;
}

/* ---- The public parser helpers for custom tags. ---- */

mn_arena *mn_tag_parser_arena(mn_tag_parser *tp)
{
    return ((parser *)tp)->arena;
}

int mn_tag_parser_split(mn_tag_parser *tp, mn_str contents, mn_str **bits)
{
    return mn__template_smart_split(((parser *)tp)->arena, contents, bits);
}

int mn_tag_parser_compile_expr(mn_tag_parser *tp, mn_str text, mn_template_expr **out)
{
    parser *p = (parser *)tp;
    return mn__compile_expr(p, p->cur, text, out);
}

int mn_tag_parser_parse_until(mn_tag_parser *tp, const char *const *end_tags,
                              mn_template_nodelist **out, mn_str *which)
{
    parser *p = (parser *)tp;
    nodelist *nl = mn_arena_calloc(p->arena, 1, sizeof *nl);
    if (!nl)
        return MN_ENOMEM;
    const token *end = NULL;
    const token *cur = p->cur;
    int rc = mn__parse_nodelist(p, end_tags, nl, &end);
    p->cur = cur;
    if (rc < 0)
        return rc;
    if (which)
        *which = end ? end->contents : (mn_str){"", 0};
    *out = nl;
    return MN_OK;
}

int mn_tag_parser_error(mn_tag_parser *tp, const char *fmt, ...)
{
    parser *p = (parser *)tp;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mn__parser_error(p, p->cur, "%s", msg);
}

const char mn__forloop_name[] = "forloop";

mn_str mn__intern_name(parser *p, mn_str name)
{
    if (name.len == 7 && memcmp(name.ptr, mn__forloop_name, 7) == 0)
        return (mn_str){mn__forloop_name, 7};
    for (int i = 0; i < p->nnames; i++)
        if (mn_str_eq(p->names[i], name))
            return p->names[i];
    if (p->nnames >= 256) /* a compile stays linear for hostile templates */
        return name;
    if (p->nnames == p->cap_names) {
        int cap = p->cap_names ? p->cap_names * 2 : 16;
        mn_str *g = mn_arena_realloc(p->arena, p->names, (size_t)p->cap_names * sizeof *g,
                                     (size_t)cap * sizeof *g);
        if (!g)
            return name; /* only slower */
        p->names = g;
        p->cap_names = cap;
    }
    p->names[p->nnames++] = name;
    return name;
}
