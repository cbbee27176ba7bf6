/* filters_urlize.c — urlize and urlizetrunc (django.utils.html.urlize and smart_urlquote).
 *
 * Text is split on whitespace, '<', '>' and quotes; a word holding '.', '@' or ':' loses
 * its wrapping and trailing punctuation and becomes a link when it starts with http(s)://,
 * www., looks like name.com/.org/..., or is a simple e-mail address. The href is re-quoted
 * the way smart_urlquote does it (urlsplit, IDNA host, query re-encoded with quote_plus,
 * path and fragment unquoted then quoted). */
#include "template/filters_internal.h"

#include <string.h>

#define BUF(name)                                                                                  \
    mn_buf name;                                                                                   \
    mn_buf_init(&name, c->arena)

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* \w of a str pattern at s[i]: letters, digits and '_'. Outside ASCII, everything but the
 * common punctuation, symbol, space and combining-mark blocks counts as a letter. */
static bool word_at(mn_str s, size_t i)
{
    uint32_t c = mn__utf8_next(s.ptr, s.len, &i);
    if (c < 0x80)
        return is_alpha((char)c) || is_digit((char)c) || c == '_';
    if (c <= 0xBF)
        return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
               (c >= 0xBC && c <= 0xBE);
    if (c == 0xD7 || c == 0xF7 || mn__uni_combining(c) || mn__uni_space(c))
        return false;
    return !((c >= 0x2000 && c <= 0x206F) || (c >= 0x2190 && c <= 0x2BFF) ||
             (c >= 0x3000 && c <= 0x303F) || (c >= 0xFE30 && c <= 0xFE4F) ||
             (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0x1F000 && c <= 0x1FAFF));
}

static bool ieq_prefix(mn_str s, const char *p)
{
    size_t n = strlen(p);
    if (s.len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s.ptr[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
        if (ch != p[i])
            return false;
    }
    return true;
}

/* html.unescape for the references urlize meets: numeric ones and the common names. */
static int html_unescape(mn_buf *b, mn_str s)
{
    static const struct {
        const char *name;
        const char *text;
    } names[] = {{"amp", "&"},         {"lt", "<"},          {"gt", ">"},
                 {"quot", "\""},       {"apos", "'"},        {"nbsp", "\xc2\xa0"},
                 {"AMP", "&"},         {"LT", "<"},          {"GT", ">"},
                 {"QUOT", "\""},       {"copy", "\xc2\xa9"}, {"reg", "\xc2\xae"},
                 {"COPY", "\xc2\xa9"}, {"REG", "\xc2\xae"}};
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] != '&') {
            mn_buf_putc(b, s.ptr[i]);
            continue;
        }
        size_t k = i + 1;
        if (k < s.len && s.ptr[k] == '#') {
            k++;
            bool hex = k < s.len && (s.ptr[k] == 'x' || s.ptr[k] == 'X');
            if (hex)
                k++;
            size_t ds = k;
            uint32_t cp = 0;
            while (k < s.len &&
                   (hex ? (is_digit(s.ptr[k]) || strchr("abcdefABCDEF", s.ptr[k]))
                        : is_digit(s.ptr[k])) &&
                   s.ptr[k]) {
                char ch = s.ptr[k];
                uint32_t d = is_digit(ch) ? (uint32_t)(ch - '0') : (uint32_t)((ch | 32) - 'a' + 10);
                if (cp < 0x110000)
                    cp = cp * (hex ? 16 : 10) + d;
                k++;
            }
            if (k > ds) {
                if (k < s.len && s.ptr[k] == ';')
                    k++;
                if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    cp = 0xFFFD;
                mn__utf8_put(b, cp);
                i = k - 1;
                continue;
            }
            mn_buf_putc(b, '&');
            continue;
        }
        bool done = false;
        for (size_t n = 0; n < sizeof names / sizeof names[0] && !done; n++) {
            size_t len = strlen(names[n].name);
            bool needs_semicolon = names[n].name[0] == 'a' && names[n].name[1] == 'p'; /* apos */
            if (k + len <= s.len && memcmp(s.ptr + k, names[n].name, len) == 0 &&
                (!needs_semicolon || (k + len < s.len && s.ptr[k + len] == ';'))) {
                mn_buf_puts(b, names[n].text);
                i = k + len - 1;
                if (k + len < s.len && s.ptr[k + len] == ';')
                    i++;
                done = true;
            }
        }
        if (!done)
            mn_buf_putc(b, '&');
    }
    return mn_buf_reserve(b, 1);
}

static mn_str unescaped(mn_arena *a, mn_str s)
{
    if (!memchr(s.ptr, '&', s.len))
        return s;
    mn_buf b;
    mn_buf_init(&b, a);
    html_unescape(&b, s);
    return (mn_str){b.data ? b.data : "", b.len};
}

/* Python's quote(s, safe): UTF-8 bytes; letters, digits, '_.-~' and safe kept. */
static void quote(mn_buf *b, mn_str s, const char *safe, bool plus)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (is_alpha((char)ch) || is_digit((char)ch) || ch == '_' || ch == '.' || ch == '-' ||
            ch == '~' || (ch && ch < 128 && strchr(safe, ch)))
            mn_buf_putc(b, (char)ch);
        else if (plus && ch == ' ')
            mn_buf_putc(b, '+');
        else
            mn_buf_printf(b, "%%%02X", ch);
    }
}

static int hexval(char ch)
{
    if (is_digit(ch))
        return ch - '0';
    if ((ch | 32) >= 'a' && (ch | 32) <= 'f')
        return (ch | 32) - 'a' + 10;
    return -1;
}

/* unquote: %XX to bytes (the bytes are kept; they are UTF-8 in practice). */
static mn_str unquote(mn_arena *a, mn_str s, bool plus)
{
    if (!memchr(s.ptr, '%', s.len) && !(plus && memchr(s.ptr, '+', s.len)))
        return s;
    mn_buf b;
    mn_buf_init(&b, a);
    for (size_t i = 0; i < s.len; i++) {
        int h, l;
        if (s.ptr[i] == '%' && i + 2 < s.len + 0 && (h = hexval(s.ptr[i + 1])) >= 0 &&
            (l = hexval(s.ptr[i + 2])) >= 0) {
            mn_buf_putc(&b, (char)(h * 16 + l));
            i += 2;
        } else {
            mn_buf_putc(&b, plus && s.ptr[i] == '+' ? ' ' : s.ptr[i]);
        }
    }
    return (mn_str){b.data ? b.data : "", b.len};
}

static void unquote_quote(mn_arena *a, mn_buf *out, mn_str s)
{
    quote(out, unquote(a, s, false), "!$&'()*+,;=:/?#[]@~", false);
}

/* ---- IDNA (encodings.idna): ASCII labels pass, others become xn-- punycode. ---- */

static char punycode_digit(uint32_t d)
{
    return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

static uint32_t punycode_adapt(uint32_t delta, uint32_t numpoints, bool first)
{
    delta = first ? delta / 700 : delta / 2;
    delta += delta / numpoints;
    uint32_t k = 0;
    while (delta > ((36 - 1) * 26) / 2) {
        delta /= 36 - 1;
        k += 36;
    }
    return k + (36 * delta) / (delta + 38);
}

/* RFC 3492 encoding of a label given as code points. */
static bool punycode_encode(mn_buf *b, const uint32_t *cps, size_t n)
{
    uint32_t nn = 128, delta = 0, bias = 72;
    size_t h, basic = 0;
    for (size_t i = 0; i < n; i++)
        if (cps[i] < 128) {
            mn_buf_putc(b, (char)cps[i]);
            basic++;
        }
    h = basic;
    if (basic)
        mn_buf_putc(b, '-');
    while (h < n) {
        uint32_t m = 0xFFFFFFFF;
        for (size_t i = 0; i < n; i++)
            if (cps[i] >= nn && cps[i] < m)
                m = cps[i];
        if ((uint64_t)(m - nn) * (h + 1) + delta > 0xFFFFFFF0u)
            return false;
        delta += (m - nn) * (uint32_t)(h + 1);
        nn = m;
        for (size_t i = 0; i < n; i++) {
            if (cps[i] < nn)
                delta++;
            if (cps[i] == nn) {
                uint32_t q = delta;
                for (uint32_t k = 36;; k += 36) {
                    uint32_t t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
                    if (q < t)
                        break;
                    mn_buf_putc(b, punycode_digit(t + (q - t) % (36 - t)));
                    q = (q - t) / (36 - t);
                }
                mn_buf_putc(b, punycode_digit(q));
                bias = punycode_adapt(delta, (uint32_t)h + 1, h == basic);
                delta = 0;
                h++;
            }
        }
        delta++;
        nn++;
    }
    return true;
}

/* ToASCII of one label of a non-ASCII domain: ASCII labels pass unchanged; others go
 * through (a subset of) nameprep — NFC, lowercase, ß to ss, invisible characters removed —
 * and become xn--punycode. */
static bool nameprep_label(mn_arena *a, mn_str label, mn_buf *out)
{
    bool ascii = true;
    for (size_t i = 0; i < label.len; i++)
        ascii &= (unsigned char)label.ptr[i] < 128;
    size_t before = out->len;
    if (!ascii) {
        mn_buf nfc;
        mn_buf_init(&nfc, a);
        if (mn__uni_nfc(&nfc, label) < 0)
            return false;
        mn_str t = {nfc.data ? nfc.data : "", nfc.len};
        uint32_t *cps = mn_arena_alloc(a, (3 * t.len + 1) * sizeof *cps);
        if (!cps)
            return false;
        size_t n = 0;
        bool all_ascii = true;
        for (size_t k = 0; k < t.len;) {
            uint32_t cp = mn__utf8_next(t.ptr, t.len, &k);
            if (cp == 0xAD || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF)
                continue;
            if (cp == 0xDF) {
                cps[n++] = 's', cps[n++] = 's';
                continue;
            }
            if (cp == 0x2026) {
                cps[n++] = '.', cps[n++] = '.', cps[n++] = '.';
                continue;
            }
            cp = cp == 0x3C2 ? 0x3C3 : mn__uni_lower(cp);
            all_ascii &= cp < 128;
            cps[n++] = cp;
        }
        if (all_ascii) {
            for (size_t k = 0; k < n; k++)
                mn_buf_putc(out, (char)cps[k]);
        } else {
            mn_buf_puts(out, "xn--");
            if (!punycode_encode(out, cps, n))
                return false;
        }
    } else {
        mn_buf_put_str(out, label);
    }
    size_t len = out->len - before;
    return len > 0 && len < 64;
}

/* domain.encode('idna'): false on Python's UnicodeError (an empty or too long label). */
static bool idna(mn_arena *a, mn_str host, mn_buf *out)
{
    bool ascii = true;
    for (size_t i = 0; i < host.len; i++)
        ascii &= (unsigned char)host.ptr[i] < 128;
    size_t start = 0;
    for (size_t i = 0; i <= host.len; i++) {
        if (i < host.len && host.ptr[i] != '.')
            continue;
        mn_str label = {host.ptr + start, i - start};
        bool last = i == host.len;
        if (ascii) {
            if ((!last && label.len == 0) || label.len >= 64)
                return false;
            mn_buf_put_str(out, label);
        } else if (label.len || !last) {
            if (!label.len)
                return false;
            if (!nameprep_label(a, label, out))
                return false;
        }
        if (!last)
            mn_buf_putc(out, '.');
        start = i + 1;
    }
    return true;
}

/* A bracketed host must be an IPv6 address (or IPvFuture). */
static bool bracketed_ok(mn_str netloc)
{
    const char *at = NULL;
    for (size_t i = 0; i < netloc.len; i++)
        if (netloc.ptr[i] == '@')
            at = netloc.ptr + i;
    mn_str hp = at ? (mn_str){at + 1, netloc.len - (size_t)(at + 1 - netloc.ptr)} : netloc;
    const char *open = memchr(hp.ptr, '[', hp.len);
    if (!open)
        return true;
    if (open != hp.ptr)
        return false;
    const char *close = memchr(hp.ptr, ']', hp.len);
    if (!close || close < open)
        return false;
    size_t after = hp.len - (size_t)(close + 1 - hp.ptr);
    if (after && close[1] != ':')
        return false;
    mn_str host = {open + 1, (size_t)(close - open - 1)};
    if (host.len && host.ptr[0] == 'v')
        return host.len > 3 && memchr(host.ptr, '.', host.len);
    int colons = 0;
    for (size_t i = 0; i < host.len; i++) {
        char ch = host.ptr[i];
        if (ch == ':')
            colons++;
        else if (!(hexval(ch) >= 0 || ch == '.'))
            return false;
    }
    return colons >= 2;
}

/* django.utils.html.smart_urlquote */
static void smart_urlquote(mn_arena *a, mn_str url, mn_buf *out)
{
    mn_str scheme = {"", 0}, netloc = {"", 0}, query = {"", 0}, fragment = {"", 0};
    mn_str rest = url;
    const char *colon = memchr(url.ptr, ':', url.len);
    if (colon && colon > url.ptr && (unsigned char)url.ptr[0] < 128 && is_alpha(url.ptr[0])) {
        bool ok = true;
        for (const char *p = url.ptr; p < colon; p++)
            ok &= is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-' || *p == '.';
        if (ok) {
            scheme = (mn_str){url.ptr, (size_t)(colon - url.ptr)};
            rest = (mn_str){colon + 1, url.len - scheme.len - 1};
        }
    }
    if (rest.len >= 2 && rest.ptr[0] == '/' && rest.ptr[1] == '/') {
        size_t d = 2;
        while (d < rest.len && !strchr("/?#", rest.ptr[d]))
            d++;
        netloc = (mn_str){rest.ptr + 2, d - 2};
        rest = (mn_str){rest.ptr + d, rest.len - d};
        bool ob = memchr(netloc.ptr, '[', netloc.len), cb = memchr(netloc.ptr, ']', netloc.len);
        if (ob != cb || (ob && !bracketed_ok(netloc))) {
            unquote_quote(a, out, url); /* ValueError: Invalid IPv6 URL */
            return;
        }
    }
    const char *hash = memchr(rest.ptr, '#', rest.len);
    if (hash) {
        fragment = (mn_str){hash + 1, rest.len - (size_t)(hash + 1 - rest.ptr)};
        rest.len = (size_t)(hash - rest.ptr);
    }
    const char *q = memchr(rest.ptr, '?', rest.len);
    if (q) {
        query = (mn_str){q + 1, rest.len - (size_t)(q + 1 - rest.ptr)};
        rest.len = (size_t)(q - rest.ptr);
    }
    mn_buf host;
    mn_buf_init(&host, a);
    if (!idna(a, netloc, &host)) {
        unquote_quote(a, out, url);
        return;
    }
    /* urlunsplit */
    for (size_t i = 0; i < scheme.len; i++) {
        char ch = scheme.ptr[i];
        mn_buf_putc(out, ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch);
    }
    if (scheme.len)
        mn_buf_putc(out, ':');
    bool uses_netloc = !scheme.len || ieq_prefix(scheme, "http") || ieq_prefix(scheme, "ftp") ||
                       ieq_prefix(scheme, "ws") || ieq_prefix(scheme, "file");
    if (host.len || (scheme.len && uses_netloc &&
                     !(rest.len >= 2 && rest.ptr[0] == '/' && rest.ptr[1] == '/'))) {
        mn_buf_puts(out, "//");
        mn_buf_append(out, host.data, host.len);
        if (rest.len && rest.ptr[0] != '/')
            mn_buf_putc(out, '/');
    }
    unquote_quote(a, out, rest);
    if (query.len) {
        /* parse_qsl(keep_blank_values=True), unquote each, then urlencode (quote_plus) */
        mn_buf qb;
        mn_buf_init(&qb, a);
        size_t start = 0;
        bool first = true;
        for (size_t i = 0; i <= query.len; i++) {
            if (i < query.len && query.ptr[i] != '&')
                continue;
            mn_str part = {query.ptr + start, i - start};
            start = i + 1;
            if (!part.len)
                continue;
            const char *eq = memchr(part.ptr, '=', part.len);
            mn_str name = eq ? (mn_str){part.ptr, (size_t)(eq - part.ptr)} : part;
            mn_str value = eq ? (mn_str){eq + 1, part.len - name.len - 1} : (mn_str){"", 0};
            if (!first)
                mn_buf_putc(&qb, '&');
            first = false;
            quote(&qb, unquote(a, unquote(a, name, true), false), "", true);
            mn_buf_putc(&qb, '=');
            quote(&qb, unquote(a, unquote(a, value, true), false), "", true);
        }
        if (qb.len) {
            mn_buf_putc(out, '?');
            mn_buf_append(out, qb.data, qb.len);
        }
    }
    if (fragment.len) {
        mn_buf_putc(out, '#');
        unquote_quote(a, out, fragment);
    }
}

/* ^www\.|^(?!http)\w[^@]+\.(com|edu|gov|int|mil|net|org)($|/.*)$ (case-insensitive) */
static bool simple_url_2(mn_str m)
{
    if (ieq_prefix(m, "www."))
        return true;
    if (!m.len || ieq_prefix(m, "http") || !word_at(m, 0))
        return false;
    size_t first = 0;
    mn__utf8_next(m.ptr, m.len, &first); /* \w is one code point */
    static const char *const tlds[] = {"com", "edu", "gov", "int", "mil", "net", "org"};
    for (size_t p = first + 1; p < m.len; p++) {
        if (m.ptr[p - 1] == '@')
            break; /* [^@]+ cannot pass an '@' */
        if (m.ptr[p] != '.')
            continue;
        for (size_t t = 0; t < 7; t++) {
            mn_str after = {m.ptr + p + 1, m.len - p - 1};
            if (ieq_prefix(after, tlds[t]) && (after.len == 3 || after.ptr[3] == '/'))
                return true;
        }
    }
    return false;
}

/* ^https?://\[?\w (case-insensitive) */
static bool simple_url(mn_str m)
{
    size_t k;
    if (ieq_prefix(m, "http://"))
        k = 7;
    else if (ieq_prefix(m, "https://"))
        k = 8;
    else
        return false;
    if (k < m.len && m.ptr[k] == '[')
        k++;
    return k < m.len && word_at(m, k);
}

static bool is_email_simple(mn_str v)
{
    const char *at = memchr(v.ptr, '@', v.len);
    if (!at || v.ptr[0] == '@' || v.ptr[v.len - 1] == '@')
        return false;
    mn_str p2 = {at + 1, v.len - (size_t)(at + 1 - v.ptr)};
    if (memchr(p2.ptr, '@', p2.len) || mn__utf8_count(p2) > 63)
        return false;
    return memchr(p2.ptr, '.', p2.len) && p2.ptr[0] != '.';
}

static size_t count_ch(mn_str s, char ch)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++)
        n += s.ptr[i] == ch;
    return n;
}

/* trail = piece + trail, in place when piece sits right before it in the word. */
static void prepend(mn_arena *a, mn_str *trail, mn_str piece)
{
    if (piece.ptr + piece.len == trail->ptr) {
        trail->ptr = piece.ptr;
        trail->len += piece.len;
        return;
    }
    mn_buf t;
    mn_buf_init(&t, a);
    mn_buf_put_str(&t, piece);
    mn_buf_put_str(&t, *trail);
    *trail = (mn_str){t.data ? t.data : "", t.len};
}

/* trim_punctuation: wrapping ( ) [ ] and trailing .,:;! move to lead and trail. */
static void trim_punctuation(mn_arena *a, mn_str *lead, mn_str *middle, mn_str *trail)
{
    static const char pairs[2][2] = {{'(', ')'}, {'[', ']'}};
    bool trimmed = true;
    while (trimmed) {
        trimmed = false;
        for (int p = 0; p < 2; p++) {
            if (middle->len && middle->ptr[0] == pairs[p][0]) {
                middle->ptr++, middle->len--;
                lead->len++; /* lead is the word's prefix: it grows in place */
                trimmed = true;
            }
            if (middle->len && middle->ptr[middle->len - 1] == pairs[p][1] &&
                count_ch(*middle, pairs[p][1]) == count_ch(*middle, pairs[p][0]) + 1) {
                middle->len--;
                prepend(a, trail, (mn_str){middle->ptr + middle->len, 1});
                trimmed = true;
            }
        }
        mn_str un = unescaped(a, *middle);
        size_t stripped = un.len;
        while (stripped && strchr(".,:;!", un.ptr[stripped - 1]) && un.ptr[stripped - 1])
            stripped--;
        if (stripped != un.len) {
            /* Django slices the escaped middle with the unescaped lengths */
            size_t cut = un.len - stripped;
            size_t keep = stripped <= middle->len ? stripped : middle->len;
            size_t newlen = cut <= middle->len ? middle->len - cut : 0;
            prepend(a, trail, (mn_str){middle->ptr + keep, middle->len - keep});
            middle->len = newlen;
            trimmed = true;
        }
    }
}

/* x[:max(0, limit - 1)] + '…' when longer than limit (code points). */
static mn_str trim_url(mn_arena *a, mn_str x, int64_t limit)
{
    if (limit < 0 || (int64_t)mn__utf8_count(x) <= limit)
        return x;
    mn_buf b;
    mn_buf_init(&b, a);
    mn_buf_append(&b, x.ptr, mn__utf8_offset(x, (size_t)(limit > 1 ? limit - 1 : 0)));
    mn_buf_puts(&b, "\xe2\x80\xa6");
    return (mn_str){b.data, b.len};
}

static bool is_sep(mn_str s, size_t i, size_t *next)
{
    char ch = s.ptr[i];
    if (ch == '<' || ch == '>' || ch == '"' || ch == '\'') {
        *next = i + 1;
        return true;
    }
    size_t k = i;
    bool sp = mn__uni_space(mn__utf8_next(s.ptr, s.len, &k));
    *next = k;
    return sp;
}

static int put_word(mn_buf *b, mn_str w, bool safe_input, bool autoescape)
{
    if (!safe_input && autoescape)
        return mn__fescape(b, w);
    return mn_buf_put_str(b, w);
}

/* Links one word, or returns false when it is not a link. */
static bool link_word(mn_arena *a, mn_buf *b, mn_str word, int64_t limit, bool safe_input,
                      bool autoescape)
{
    mn_str lead = {word.ptr, 0}, middle = word, trail = {word.ptr + word.len, 0};
    trim_punctuation(a, &lead, &middle, &trail);
    mn_buf url;
    mn_buf_init(&url, a);
    bool nofollow = true;
    if (middle.len <= 2048 && simple_url(middle)) {
        smart_urlquote(a, unescaped(a, middle), &url);
    } else if (middle.len <= 2048 && simple_url_2(middle)) {
        mn_buf full;
        mn_buf_init(&full, a);
        mn_buf_puts(&full, "http://");
        mn_buf_put_str(&full, unescaped(a, middle));
        smart_urlquote(a, (mn_str){full.data, full.len}, &url);
    } else if (!memchr(middle.ptr, ':', middle.len) && middle.len && is_email_simple(middle)) {
        const char *at = middle.ptr + middle.len;
        while (*--at != '@')
            ;
        mn_str local = {middle.ptr, (size_t)(at - middle.ptr)};
        mn_str domain = {at + 1, middle.len - local.len - 1};
        mn_buf host;
        mn_buf_init(&host, a);
        if (!idna(a, domain, &host))
            return mn_buf_put_str(b, word) == MN_OK; /* Django's `continue` */
        mn_buf_puts(&url, "mailto:");
        mn_buf_put_str(&url, local);
        mn_buf_putc(&url, '@');
        mn_buf_append(&url, host.data, host.len);
        nofollow = false;
    }
    if (!url.len)
        return false;
    mn_str trimmed = trim_url(a, middle, limit);
    bool esc = autoescape && !safe_input;
    if (esc)
        mn__fescape(b, lead);
    else
        mn_buf_put_str(b, lead);
    mn_buf_puts(b, "<a href=\"");
    mn__fescape(b, (mn_str){url.data, url.len});
    mn_buf_puts(b, nofollow ? "\" rel=\"nofollow\">" : "\">");
    if (esc)
        mn__fescape(b, trimmed);
    else
        mn_buf_put_str(b, trimmed);
    mn_buf_puts(b, "</a>");
    if (esc)
        mn__fescape(b, trail);
    else
        mn_buf_put_str(b, trail);
    return true;
}

static mn_value *urlize(const mn_filter_call *c, mn_value *v, int64_t limit)
{
    mn_str s = v->u.str;
    bool safe_input = v->safe;
    BUF(b);
    size_t i = 0;
    while (i < s.len) {
        size_t start = i, next;
        bool sep = is_sep(s, i, &next);
        while (i < s.len && is_sep(s, i, &next) == sep)
            i = next;
        mn_str w = {s.ptr + start, i - start};
        if (!sep &&
            (memchr(w.ptr, '.', w.len) || memchr(w.ptr, '@', w.len) || memchr(w.ptr, ':', w.len))) {
            if (link_word(c->arena, &b, w, limit, safe_input, c->autoescape))
                continue;
        }
        if (put_word(&b, w, safe_input, c->autoescape) < 0)
            return NULL;
    }
    if (mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn__fresult(c, &b, true);
}

static mn_value *f_urlize(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    return urlize(c, v, -1);
}

static mn_value *f_urlizetrunc(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    int64_t limit;
    if (!mn__fint(arg, &limit))
        return mn__ffail(c, "invalid literal for int() with base 10");
    return urlize(c, v, limit < 0 ? 0 : limit);
}

void mn__filters_register_urlize(mn_template_library *lib)
{
    enum { S = MN_FILTER_STRING, SAFE = MN_FILTER_IS_SAFE, AE = MN_FILTER_NEEDS_AUTOESCAPE };
    mn_template_library_add_filter(lib, "urlize", f_urlize, SAFE | S | AE);
    mn_template_library_add_filter(lib, "urlizetrunc", f_urlizetrunc,
                                   SAFE | S | AE | MN_FILTER_ARG);
}
