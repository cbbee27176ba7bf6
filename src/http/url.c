/* url.c — percent-decoding, safe path normalisation, and query strings as Django's QueryDict.
 *
 * The path is decoded first and normalised second, as nginx does: after that, no encoding
 * trick ("%2e%2e", "..%2F", "%2F%2F") can leave a ".." segment or climb above the root, so
 * the router and the static file finder see one canonical path. Query fields keep Django's
 * leniency: a broken escape stays literal and bytes that are not UTF-8 become U+FFFD (what
 * Python's unquote(errors="replace") gives QueryDict), so views only ever see valid UTF-8. */
#include "http/parser.h"

#include <string.h>

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int mn__url_decode(const char *src, size_t len, char *out, size_t *out_len, bool plus_is_space,
                   bool strict)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_digit((unsigned char)src[i + 1]) : -1;
            int lo = i + 2 < len ? hex_digit((unsigned char)src[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                out[o++] = (char)(hi << 4 | lo);
                i += 2;
                continue;
            }
            if (strict)
                return MN_EINVAL;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        out[o++] = c;
    }
    *out_len = o;
    return MN_OK;
}

int mn__url_path_normalize(const char *in, size_t len, char *out, size_t *out_len)
{
    size_t n;
    if (len == 0 || in[0] != '/')
        return MN_EINVAL;
    if (mn__url_decode(in, len, out, &n, false, true) != MN_OK || memchr(out, '\0', n))
        return MN_EINVAL;
    /* In place: the write index w never passes the read index r. Invariant: out[0..w) is a
     * normalised prefix ending in '/' whenever another segment may follow. */
    size_t w = 1, r = 1;
    while (r < n) {
        if (out[r] == '/') {
            r++;
            continue;
        }
        size_t s = r;
        while (r < n && out[r] != '/')
            r++;
        size_t seg = r - s;
        if (seg == 1 && out[s] == '.')
            continue;
        if (seg == 2 && out[s] == '.' && out[s + 1] == '.') {
            if (w > 1) {
                w--; /* the '/' closing the last segment */
                while (w > 0 && out[w - 1] != '/')
                    w--;
            }
            continue;
        }
        memmove(out + w, out + s, seg);
        w += seg;
        if (r < n)
            out[w++] = '/';
    }
    *out_len = w;
    return MN_OK;
}

/* ---- UTF-8 repair: invalid sequences become U+FFFD, one per maximal invalid subpart (the
 * Unicode recommendation that Python's decoder follows). ---- */

/* Length of the valid sequence at s[0..n), or 0 when invalid; *bad is then the number of bytes
 * the U+FFFD replaces. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        *bad = 1;
        return 0;
    }
    size_t i = 1;
    for (; i <= need && i < n; i++) {
        unsigned char b = s[i];
        if (b < lo || b > hi)
            break;
        lo = 0x80;
        hi = 0xbf;
    }
    if (i == need + 1)
        return i;
    *bad = i;
    return 0;
}

bool mn__utf8_valid(const char *s, size_t n)
{
    size_t i = 0, bad;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)s + i, n - i, &bad);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

size_t mn__utf8_repair(const char *s, size_t n, char *out)
{
    size_t i = 0, o = 0, bad;
    while (i < n) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i, &bad);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += bad;
        }
    }
    return o;
}

/* ---- Field lists. ---- */

void mn__field_list_init(mn__field_list *l, mn_arena *arena)
{
    memset(l, 0, sizeof *l);
    l->arena = arena;
}

static int list_push(mn__field_list *l, mn_str name, mn_str value)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        mn_field *items =
            mn_arena_realloc(l->arena, l->items, l->cap * sizeof *items, cap * sizeof *items);
        if (!items)
            return MN_ENOMEM;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->len++] = (mn_field){name, value};
    return MN_OK;
}

int mn__field_list_add(mn__field_list *l, mn_str name, mn_str value)
{
    char *n = mn_arena_strndup(l->arena, name.ptr ? name.ptr : "", name.len);
    char *v = mn_arena_strndup(l->arena, value.ptr ? value.ptr : "", value.len);
    if (!n || !v)
        return MN_ENOMEM;
    return list_push(l, (mn_str){n, name.len}, (mn_str){v, value.len});
}

const mn_field *mn__field_list_get(const mn__field_list *l, mn_str name)
{
    for (size_t i = l->len; i-- > 0;)
        if (mn_str_eq(l->items[i].name, name))
            return &l->items[i];
    return NULL;
}

size_t mn__field_list_get_all(const mn__field_list *l, mn_str name, mn_str *out, size_t max)
{
    size_t found = 0;
    for (size_t i = 0; i < l->len; i++) {
        if (!mn_str_eq(l->items[i].name, name))
            continue;
        if (found < max)
            out[found] = l->items[i].value;
        found++;
    }
    return found;
}

/* Decodes one name or value of a query into a NUL-terminated arena string, as Python's
 * unquote(errors="replace") does on the text QueryDict made of the raw bytes: each run of
 * escapes is decoded as UTF-8 with U+FFFD for what is not; raw bytes are kept, or, when the
 * whole query was not UTF-8 (QueryDict then decodes it as latin-1), each byte above 0x7f is
 * the character of that latin-1 code. */
static int decode_component(mn_arena *a, const char *s, size_t n, bool latin1, mn_str *out)
{
    /* Output is at most 2n bytes (an escape: 3 bytes in, at most one U+FFFD out; a latin-1
     * byte: 2 out); the escaped bytes of the current run go after it (n / 3 at most). */
    char *buf = mn_arena_alloc(a, 2 * n + 1 + n / 3 + 1);
    if (!buf)
        return MN_ENOMEM;
    char *run = buf + 2 * n + 1;
    size_t o = 0, i = 0;
    while (i < n) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hex_digit((unsigned char)s[i + 1])) >= 0 &&
            (lo = hex_digit((unsigned char)s[i + 2])) >= 0) {
            size_t r = 0;
            do {
                run[r++] = (char)(hi << 4 | lo);
                i += 3;
            } while (i < n && s[i] == '%' && i + 2 < n &&
                     (hi = hex_digit((unsigned char)s[i + 1])) >= 0 &&
                     (lo = hex_digit((unsigned char)s[i + 2])) >= 0);
            o += mn__utf8_repair(run, r, buf + o);
            continue;
        }
        unsigned char c = (unsigned char)s[i++];
        if (c == '+')
            c = ' ';
        if (c >= 0x80 && latin1) {
            buf[o++] = (char)(0xc0 | c >> 6);
            buf[o++] = (char)(0x80 | (c & 0x3f));
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    *out = (mn_str){buf, o};
    return MN_OK;
}

/* as Python's urllib.parse.parse_qsl(keep_blank_values=True, max_num_fields=...), which is
 * what django.http.QueryDict calls */
int mn__query_parse(const char *qs, size_t len, size_t max_fields, mn__field_list *out)
{
    if (len == 0)
        return MN_OK; /* also when qs is NULL: an absent query */
    if (max_fields) {
        size_t fields = 1;
        for (const char *p = qs, *end = qs + len; (p = memchr(p, '&', (size_t)(end - p))); p++)
            if (++fields > max_fields)
                return MN_ETOOBIG;
    }
    bool latin1 = !mn__utf8_valid(qs, len);
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(qs + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - qs) : len;
        if (end > i) {
            const char *field = qs + i;
            size_t flen = end - i;
            const char *eq = memchr(field, '=', flen);
            size_t nlen = eq ? (size_t)(eq - field) : flen;
            mn_str name, value;
            int rc = decode_component(out->arena, field, nlen, latin1, &name);
            if (rc == MN_OK)
                rc = eq ? decode_component(out->arena, eq + 1, flen - nlen - 1, latin1, &value)
                        : decode_component(out->arena, "", 0, latin1, &value);
            if (rc == MN_OK)
                rc = list_push(out, name, value);
            if (rc != MN_OK)
                return rc;
        }
        i = end + 1;
    }
    return MN_OK;
}
