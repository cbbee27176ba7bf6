/* cookie_parse.c — the Cookie request header and the Set-Cookie response header, as Django
 * reads and writes them.
 *
 * Reading is lenient on purpose (django.http.cookie.parse_cookie): browsers send whatever
 * other sites' scripts stored, and one odd cookie must not hide the session cookie next to it.
 * Writing is strict: a name or attribute that could split the header or inject another
 * attribute is refused, and values are quoted exactly as Python's http.cookies does so that
 * Django and Manouche cookies round-trip through each other. */
#include "http/parser.h"

#include <string.h>
#include <time.h>

/* Length of the Python whitespace character (str.isspace) at the start of s[0..n), or 0:
 * ASCII whitespace, the C0 separators 0x1c-0x1f, and the Unicode spaces in UTF-8. */
static size_t space_at(const unsigned char *s, size_t n)
{
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r') || (s[0] >= 0x1c && s[0] <= 0x1f))
        return 1;
    if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
        return 2;
    if (n < 3)
        return 0;
    if ((s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) || /* U+1680 */
        (s[0] == 0xe2 && s[1] == 0x80 &&
         (s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 ||
          s[2] == 0xaf)) ||                               /* U+2000-200A, 2028/9, 202F */
        (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) || /* U+205F */
        (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80))   /* U+3000 */
        return 3;
    return 0;
}

/* The same at the end of s[0..n): the start of a whitespace character ending there. */
static size_t space_before(const unsigned char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++)
        if (space_at(s + n - k, k) == k)
            return k;
    return 0;
}

/* str.strip() on the text Django decodes from the header (UTF-8, errors replaced) */
static mn_str py_strip(const char *s, size_t n)
{
    size_t k;
    while (n && (k = space_at((const unsigned char *)s, n)) != 0) {
        s += k;
        n -= k;
    }
    while (n && (k = space_before((const unsigned char *)s, n)) != 0)
        n -= k;
    return (mn_str){s, n};
}

/* as http.cookies._unquote: "..." loses its quotes, then \ooo (first digit 0-3) is a byte and
 * \X is X. */
static mn_str unquote(mn_arena *a, mn_str v)
{
    if (v.len < 2 || v.ptr[0] != '"' || v.ptr[v.len - 1] != '"')
        return v;
    const char *s = v.ptr + 1;
    size_t n = v.len - 2;
    char *out = mn_arena_alloc(a, n + 1);
    if (!out)
        return (mn_str){NULL, 0};
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 == n || s[i + 1] == '\n') {
            out[o++] = s[i];
            continue;
        }
        if (i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
            s[i + 3] >= '0' && s[i + 3] <= '7') {
            /* chr(code): a latin-1 character, in UTF-8 (2 bytes for 4 escape bytes) */
            unsigned code =
                (unsigned)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            if (code < 0x80) {
                out[o++] = (char)code;
            } else {
                out[o++] = (char)(0xc0 | code >> 6);
                out[o++] = (char)(0x80 | (code & 0x3f));
            }
            i += 3;
        } else {
            out[o++] = s[i + 1];
            i++;
        }
    }
    out[o] = '\0';
    return (mn_str){out, o};
}

int mn__cookie_parse(const char *header, size_t len, mn__field_list *out)
{
    if (len == 0)
        return MN_OK;
    if (!mn__utf8_valid(header, len)) {
        char *fixed = mn_arena_alloc(out->arena, 3 * len + 1);
        if (!fixed)
            return MN_ENOMEM;
        len = mn__utf8_repair(header, len, fixed);
        header = fixed;
    }
    size_t i = 0;
    while (i <= len) {
        const char *semi = memchr(header + i, ';', len - i);
        size_t end = semi ? (size_t)(semi - header) : len;
        const char *chunk = header + i;
        size_t clen = end - i;
        const char *eq = memchr(chunk, '=', clen);
        mn_str key, val;
        if (eq) {
            key = py_strip(chunk, (size_t)(eq - chunk));
            val = py_strip(eq + 1, clen - (size_t)(eq - chunk) - 1);
        } else {
            /* an empty name, as browsers do (Mozilla bug 169091) */
            key = (mn_str){chunk, 0};
            val = py_strip(chunk, clen);
        }
        if (key.len || val.len) {
            val = unquote(out->arena, val);
            if (!val.ptr)
                return MN_ENOMEM;
            /* a dict: a repeated name keeps its first place and takes the last value */
            mn_field *existing = NULL;
            for (size_t k = 0; k < out->len && !existing; k++)
                if (mn_str_eq(out->items[k].name, key))
                    existing = &out->items[k];
            if (existing) {
                char *v = mn_arena_strndup(out->arena, val.ptr, val.len);
                if (!v)
                    return MN_ENOMEM;
                existing->value = (mn_str){v, val.len};
            } else if (mn__field_list_add(out, key, val) != MN_OK) {
                return MN_ENOMEM;
            }
        }
        if (!semi)
            break;
        i = end + 1;
    }
    return MN_OK;
}

/* ---- Set-Cookie ---- */

/* http.cookies._LegalChars: a value made only of these is written as is */
static bool legal_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~:", c));
}

/* characters that stay as they are inside a quoted value (_UnescapedChars) */
static bool unescaped_char(unsigned char c)
{
    return legal_char(c) || (c && strchr(" ()/<=>?@[]{}", c));
}

static bool all_legal(mn_str s)
{
    if (s.len == 0)
        return false; /* Python quotes the empty value: name="" */
    for (size_t i = 0; i < s.len; i++)
        if (!legal_char((unsigned char)s.ptr[i]))
            return false;
    return true;
}

/* as http.cookies._quote */
static int put_value(mn_buf *out, mn_str v)
{
    if (all_legal(v))
        return mn_buf_put_str(out, v);
    int rc = mn_buf_putc(out, '"');
    for (size_t i = 0; i < v.len && rc == MN_OK; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c == '"' || c == '\\')
            rc = mn_buf_printf(out, "\\%c", c);
        else if (unescaped_char(c))
            rc = mn_buf_putc(out, (char)c);
        else if ((c == 0xc2 || c == 0xc3) && i + 1 < v.len &&
                 ((unsigned char)v.ptr[i + 1] & 0xc0) == 0x80) {
            /* U+0080..U+00FF: Python escapes the character, not its UTF-8 bytes */
            unsigned code = (unsigned)(c & 0x1f) << 6 | ((unsigned char)v.ptr[++i] & 0x3f);
            rc = mn_buf_printf(out, "\\%03o", code);
        } else {
            rc = mn_buf_printf(out, "\\%03o", c);
        }
    }
    return rc ? rc : mn_buf_putc(out, '"');
}

/* Morsel reserved keys: a cookie may not be named after them (CookieError) */
static bool reserved_name(mn_str n)
{
    static const char *const reserved[] = {"expires",  "path",       "comment",  "domain",
                                           "max-age",  "secure",     "httponly", "version",
                                           "samesite", "partitioned"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (mn_str_ieq_cstr(n, reserved[i]))
            return true;
    return false;
}

/* attribute values must not end the attribute or the header: printable ASCII but ';' */
static bool safe_attr(mn_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < 0x20 || c >= 0x7f || c == ';')
            return false;
    }
    return true;
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

void mn__http_date(int64_t t, char out[30])
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        tt = 0;
        gmtime_r(&tt, &tm);
    }
    /* by hand: fixed width, and no snprintf truncation warnings to argue with */
    int year = tm.tm_year + 1900;
    char *p = out;
    memcpy(p, days + 3 * tm.tm_wday, 3);
    p[3] = ',';
    p[4] = ' ';
    p = put2(p + 5, tm.tm_mday);
    *p++ = ' ';
    memcpy(p, months + 3 * tm.tm_mon, 3);
    p[3] = ' ';
    p = put2(put2(p + 4, year / 100), year % 100);
    *p++ = ' ';
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
    memcpy(p, " GMT", 5);
}

int mn__cookie_format(mn_buf *out, const mn__set_cookie *c, int64_t now)
{
    if (!all_legal(c->name) || reserved_name(c->name))
        return MN_EINVAL;
    if ((c->path.ptr && !safe_attr(c->path)) || (c->domain.ptr && !safe_attr(c->domain)))
        return MN_EINVAL;
    if (c->same_site.ptr && !mn_str_ieq_cstr(c->same_site, "lax") &&
        !mn_str_ieq_cstr(c->same_site, "strict") && !mn_str_ieq_cstr(c->same_site, "none"))
        return MN_EINVAL;
    int64_t expires = c->expires;
    if (expires < 0 && c->max_age >= 0)
        expires = (now ? now : (int64_t)time(NULL)) + c->max_age;
    /* Morsel.OutputString: name=value, then attributes sorted by their lower-case key */
    int rc = mn_buf_put_str(out, c->name);
    rc |= mn_buf_putc(out, '=');
    rc |= put_value(out, c->value);
    if (c->domain.ptr && c->domain.len) {
        rc |= mn_buf_puts(out, "; Domain=");
        rc |= mn_buf_put_str(out, c->domain);
    }
    if (expires >= 0) {
        char date[30];
        mn__http_date(expires, date);
        rc |= mn_buf_printf(out, "; expires=%s", date);
    }
    if (c->http_only)
        rc |= mn_buf_puts(out, "; HttpOnly");
    if (c->max_age >= 0)
        rc |= mn_buf_printf(out, "; Max-Age=%lld", (long long)c->max_age);
    if (c->path.ptr && c->path.len) {
        rc |= mn_buf_puts(out, "; Path=");
        rc |= mn_buf_put_str(out, c->path);
    }
    if (c->same_site.ptr && c->same_site.len) {
        rc |= mn_buf_puts(out, "; SameSite=");
        rc |= mn_buf_put_str(out, c->same_site);
    }
    if (c->secure)
        rc |= mn_buf_puts(out, "; Secure");
    return rc ? MN_ENOMEM : MN_OK;
}
