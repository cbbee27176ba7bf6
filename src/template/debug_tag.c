/* debug_tag.c — {% debug %}: as Django's DebugNode, nothing unless DEBUG (the engine's
 * `debug` option); with it, each context frame from the innermost out, then the constants
 * frame Django's Context starts with, a blank line and the loaded "modules", all escaped.
 *
 * Each part is printed as Python's pprint.pformat prints a dict: keys sorted, on one line
 * when it fits in 80 columns, otherwise one item a line with nested dicts and lists broken
 * the same way. Two differences: long strings are never split into pieces, and C has no
 * sys.modules, so the modules shown are the engine's tag libraries. */
#include "template/internal.h"

#include <stdlib.h>
#include <string.h>

enum { PFORMAT_WIDTH = 80 };

typedef struct {
    mn_str key;
    mn_value *value;
} item;

static int cmp_item(const void *x, const void *y)
{
    const item *a = x, *b = y;
    size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
    int c = memcmp(a->key.ptr, b->key.ptr, n);
    return c ? c : (a->key.len > b->key.len) - (a->key.len < b->key.len);
}

/* a dict's items sorted by key (byte order of UTF-8 is code point order, as Python sorts) */
static item *sorted_items(const mn_value *d, mn_arena *a)
{
    item *it = mn_arena_alloc(a, (d->u.dict.len ? d->u.dict.len : 1) * sizeof *it);
    if (!it)
        return NULL;
    for (size_t i = 0; i < d->u.dict.len; i++)
        it[i] = (item){d->u.dict.entries[i].key, d->u.dict.entries[i].value};
    qsort(it, d->u.dict.len, sizeof *it, cmp_item);
    return it;
}

/* repr() with pformat's sorted dict keys at every level; raw: string values written as they
 * are (the "<library 'x'>" values of the modules dict) */
static int one_line(const mn_value *v, mn_arena *a, mn_buf *out, bool raw)
{
    int rc = MN_OK;
    if (v && v->kind == MN_VALUE_DICT) {
        item *it = sorted_items(v, a);
        if (!it)
            return MN_ENOMEM;
        rc = mn_buf_putc(out, '{');
        for (size_t i = 0; i < v->u.dict.len && rc == 0; i++) {
            mn_value key = {.kind = MN_VALUE_STRING, .u.str = it[i].key};
            if (i)
                mn_buf_puts(out, ", ");
            mn_value_write_repr(&key, a, out);
            mn_buf_puts(out, ": ");
            rc = one_line(it[i].value, a, out, raw);
        }
        return rc ? rc : mn_buf_putc(out, '}');
    }
    if (v && v->kind == MN_VALUE_LIST) {
        rc = mn_buf_putc(out, '[');
        for (size_t i = 0; i < v->u.list.len && rc == 0; i++) {
            if (i)
                mn_buf_puts(out, ", ");
            rc = one_line(v->u.list.items[i], a, out, raw);
        }
        return rc ? rc : mn_buf_putc(out, ']');
    }
    if (raw && v && v->kind == MN_VALUE_STRING)
        return mn_buf_put_str(out, v->u.str);
    return mn_value_write_repr(v ? v : mn_value_none(), a, out);
}

static size_t chars(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)p[i] & 0xC0) != 0x80;
    return c;
}

static int spaces(mn_buf *out, size_t n)
{
    int rc = MN_OK;
    while (n-- && rc == 0)
        rc = mn_buf_putc(out, ' ');
    return rc;
}

/* pprint.PrettyPrinter._format: the one-line repr when it fits in the width left, else the
 * container broken one item a line */
static int pformat(const mn_value *v, mn_arena *a, mn_buf *out, size_t indent, size_t allowance,
                   bool raw)
{
    mn_buf rep;
    mn_buf_init(&rep, a);
    int rc = one_line(v, a, &rep, raw);
    if (rc < 0)
        return rc;
    bool dict = v && v->kind == MN_VALUE_DICT && v->u.dict.len;
    bool list = v && v->kind == MN_VALUE_LIST && v->u.list.len;
    if ((!dict && !list) || chars(rep.data, rep.len) + indent + allowance <= PFORMAT_WIDTH)
        return mn_buf_append(out, rep.data, rep.len);
    size_t n = dict ? v->u.dict.len : v->u.list.len;
    item *it = dict ? sorted_items(v, a) : NULL;
    if (dict && !it)
        return MN_ENOMEM;
    rc = mn_buf_putc(out, dict ? '{' : '[');
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool last = i == n - 1;
        size_t at = indent + 1;
        if (dict) {
            mn_value key = {.kind = MN_VALUE_STRING, .u.str = it[i].key};
            size_t before = out->len;
            mn_value_write_repr(&key, a, out);
            at += chars(out->data + before, out->len - before) + 2;
            mn_buf_puts(out, ": ");
        }
        rc = pformat(dict ? it[i].value : v->u.list.items[i], a, out, at, last ? allowance + 1 : 1,
                     raw);
        if (rc == 0 && !last) {
            mn_buf_puts(out, ",\n");
            rc = spaces(out, indent + 1);
        }
    }
    return rc ? rc : mn_buf_putc(out, dict ? '}' : ']');
}

static int frame_dict(const ctx_frame *fr, mn_arena *a, mn_value **out)
{
    mn_value *d = mn_value_dict(a, (size_t)fr->n);
    if (!d)
        return MN_ENOMEM;
    for (int i = 0; i < fr->n; i++)
        if (mn_value_dict_set(a, d, fr->vars[i].name.ptr, fr->vars[i].name.len, fr->vars[i].value) <
            0)
            return MN_ENOMEM;
    *out = d;
    return MN_OK;
}

static int modules_dict(const mn_template_engine *e, mn_arena *a, mn_value **out)
{
    mn_value *d = mn_value_dict(a, 4);
    if (!d)
        return MN_ENOMEM;
    for (const mn_template_library *lib = e->libraries; lib; lib = lib->next) {
        const char *name = lib->name && *lib->name ? lib->name : "builtins";
        mn_buf b;
        mn_buf_init(&b, a);
        if (mn_buf_printf(&b, "<library '%s'>", name) < 0)
            return MN_ENOMEM;
        mn_value *s = mn_value_str_ref(a, b.data, b.len);
        if (!s || mn_value_dict_set(a, d, name, strlen(name), s) < 0)
            return MN_ENOMEM;
    }
    *out = d;
    return MN_OK;
}

int mn__render_debug(mn_template_state *r, mn_buf *out)
{
    if (!r->opt->debug)
        return MN_OK;
    mn_buf b;
    mn_buf_init(&b, r->arena);
    int rc = MN_OK;
    for (int f = r->ctx->nframes - 1; f >= 0 && rc == 0; f--) {
        mn_value *d;
        rc = frame_dict(&r->ctx->frames[f], r->arena, &d);
        if (rc == 0)
            rc = pformat(d, r->arena, &b, 0, 0, false);
    }
    mn_value *mods = NULL;
    if (rc == 0)
        rc = mn_buf_puts(&b, "{'False': False, 'None': None, 'True': True}\n\n");
    if (rc == 0)
        rc = modules_dict(r->engine, r->arena, &mods);
    if (rc == 0)
        rc = pformat(mods, r->arena, &b, 0, 0, true);
    if (rc < 0)
        return rc;
    return mn_template_escape(out, b.data ? b.data : "", b.len);
}
