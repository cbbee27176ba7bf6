/* lexer.c — splits template source into text, {{ variable }}, {% block %} and {# comment #}
 * tokens exactly as Django's Lexer does: a tag never spans a line, the first closer on the
 * line ends it, and inside {% verbatim %} everything but the matching end tag is text. */
#include "template/internal.h"

#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static mn_str strip(mn_str s)
{
    while (s.len && is_space(s.ptr[0]))
        s.ptr++, s.len--;
    while (s.len && is_space(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/* Where the tag starting at `i` ends (index after the closer), or 0 when it does not close
 * on its line. */
static size_t tag_end(const char *src, size_t len, size_t i)
{
    char open = src[i + 1];
    char close = open == '{' ? '}' : open; /* {{ }}  {% %}  {# #} */
    for (size_t j = i + 2; j + 1 < len; j++) {
        if (src[j] == '\n')
            return 0;
        if (src[j] == close && src[j + 1] == '}')
            return j + 2;
    }
    return 0;
}

typedef struct tok_vec {
    mn_arena *a;
    token *items;
    int n, cap;
} tok_vec;

static int push(tok_vec *v, tok_type type, mn_str contents, size_t offset, int line)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 32;
        token *t =
            mn_arena_realloc(v->a, v->items, (size_t)v->cap * sizeof *t, (size_t)cap * sizeof *t);
        if (!t)
            return MN_ENOMEM;
        v->items = t;
        v->cap = cap;
    }
    v->items[v->n++] = (token){type, contents, offset, line};
    return MN_OK;
}

static int count_lines(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == '\n';
    return c;
}

int mn__template_tokenize(mn_arena *a, const char *src, size_t len, token **out)
{
    tok_vec v = {.a = a};
    size_t text_start = 0, i = 0;
    int line = 1;
    mn_str verbatim_end = {NULL, 0}; /* non-empty while inside {% verbatim %} */
    while (i + 1 < len) {
        if (src[i] != '{' || (src[i + 1] != '%' && src[i + 1] != '{' && src[i + 1] != '#')) {
            i++;
            continue;
        }
        size_t end = tag_end(src, len, i);
        if (!end) {
            i++;
            continue;
        }
        if (i > text_start) {
            mn_str text = {src + text_start, i - text_start};
            if (push(&v, TOK_TEXT, text, text_start, line) < 0)
                return MN_ENOMEM;
            line += count_lines(text.ptr, text.len);
        }
        mn_str whole = {src + i, end - i};
        mn_str inside = strip((mn_str){src + i + 2, end - i - 4});
        char kind = src[i + 1];
        int rc;
        if (kind == '%') {
            if (verbatim_end.len) {
                if (mn_str_eq(inside, verbatim_end)) {
                    verbatim_end.len = 0;
                    rc = push(&v, TOK_BLOCK, inside, i, line);
                } else {
                    rc = push(&v, TOK_TEXT, whole, i, line);
                }
            } else {
                if (mn_str_eq_cstr(inside, "verbatim") || mn_str_starts_with(inside, "verbatim ")) {
                    /* Django matches content[:9] in ('verbatim', 'verbatim ') */
                    char *e = mn_arena_alloc(a, inside.len + 4);
                    if (!e)
                        return MN_ENOMEM;
                    memcpy(e, "end", 3);
                    memcpy(e + 3, inside.ptr, inside.len);
                    verbatim_end = (mn_str){e, inside.len + 3};
                }
                rc = push(&v, TOK_BLOCK, inside, i, line);
            }
        } else if (verbatim_end.len) {
            rc = push(&v, TOK_TEXT, whole, i, line);
        } else {
            rc = push(&v, kind == '{' ? TOK_VAR : TOK_COMMENT, inside, i, line);
        }
        if (rc < 0)
            return rc;
        line += count_lines(whole.ptr, whole.len);
        i = end;
        text_start = end;
    }
    if (text_start < len &&
        push(&v, TOK_TEXT, (mn_str){src + text_start, len - text_start}, text_start, line) < 0)
        return MN_ENOMEM;
    *out = v.items;
    return v.n;
}

size_t mn__quoted_end(mn_str s, size_t i)
{
    char q = s.ptr[i];
    for (size_t j = i + 1; j < s.len; j++) {
        if (s.ptr[j] == '\\') {
            j++;
            continue;
        }
        if (s.ptr[j] == q)
            return j + 1;
    }
    return 0;
}

int mn__template_smart_split(mn_arena *a, mn_str s, mn_str **bits)
{
    int n = 0, cap = 8;
    mn_str *out = mn_arena_alloc(a, (size_t)cap * sizeof *out);
    if (!out)
        return MN_ENOMEM;
    size_t i = 0;
    while (i < s.len) {
        if (is_space(s.ptr[i])) {
            i++;
            continue;
        }
        size_t start = i, j = i;
        int quotes = 0;
        /* [^\s'"]* ( quoted [^\s'"]* )+ */
        for (;;) {
            while (j < s.len && !is_space(s.ptr[j]) && s.ptr[j] != '"' && s.ptr[j] != '\'')
                j++;
            if (j < s.len && (s.ptr[j] == '"' || s.ptr[j] == '\'')) {
                size_t e = mn__quoted_end(s, j);
                if (!e)
                    break;
                j = e;
                quotes++;
                continue;
            }
            break;
        }
        size_t end;
        if (quotes) {
            /* the match ends after the last complete quoted part and its trailing run */
            end = j;
            if (end < s.len && (s.ptr[end] == '"' || s.ptr[end] == '\'')) {
                /* an unclosed quote follows: the bit stops before it */
            }
        } else {
            end = start;
            while (end < s.len && !is_space(s.ptr[end]))
                end++;
        }
        if (n == cap) {
            mn_str *g =
                mn_arena_realloc(a, out, (size_t)cap * sizeof *g, (size_t)cap * 2 * sizeof *g);
            if (!g)
                return MN_ENOMEM;
            out = g;
            cap *= 2;
        }
        out[n++] = (mn_str){s.ptr + start, end - start};
        i = end;
    }
    *bits = out;
    return n;
}
