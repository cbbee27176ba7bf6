/* filters_string.c — Django's string filters: case, padding, cutting, truncation, word
 * wrapping, slugs, URL quoting and printf-style formatting.
 *
 * Each one copies its Python original (django/template/defaultfilters.py and
 * django/utils/text.py) including its quirks: lengths count code points, Python's str.split()
 * whitespace splits words, and an argument Python's int() rejects either fails silently or
 * aborts the render exactly where Django's filter raises. */
#include "template/filters_internal.h"
#include "template/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BUF(name)                                                                                  \
    mn_buf name;                                                                                   \
    mn_buf_init(&name, c->arena)

/* The argument as Python's str(); an absent argument is the empty string. */
static mn_str arg_text(const mn_filter_call *c, const mn_value *arg)
{
    mn_str t = {"", 0};
    if (arg && mn__ftext(c, arg, &t) < 0)
        t = (mn_str){"", 0};
    return t;
}

/* as django.template.defaultfilters.addslashes */
static mn_value *f_addslashes(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    BUF(b);
    mn_str s = v->u.str;
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        if (ch == '\\' || ch == '"' || ch == '\'')
            mn_buf_putc(&b, '\\');
        if (mn_buf_putc(&b, ch) < 0)
            return NULL;
    }
    return mn__fresult(c, &b, false);
}

static mn_value *f_capfirst(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    mn_str s = v->u.str;
    if (!s.len)
        return v;
    BUF(b);
    size_t i = 0;
    uint32_t first = mn__utf8_next(s.ptr, s.len, &i);
    mn__uni_put_case(&b, first, 'u');
    if (mn_buf_append(&b, s.ptr + i, s.len - i) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

/* Python's str.center/ljust/rjust; int(arg) failing raises as in Django. */
static mn_value *pad(const mn_filter_call *c, mn_value *v, mn_value *arg, char how)
{
    int64_t width;
    if (!mn__fint(arg, &width))
        return mn__ffail(c, "invalid literal for int() with base 10");
    mn_str s = v->u.str;
    int64_t len = (int64_t)mn__utf8_count(s);
    if (width <= len)
        return v;
    if (width - len > 100000000)
        return mn__ffail(c, "width too large");
    int64_t marg = width - len, left;
    if (how == 'l')
        left = 0;
    else if (how == 'r')
        left = marg;
    else
        left = marg / 2 + (marg & width & 1);
    BUF(b);
    if (mn_buf_reserve(&b, s.len + (size_t)marg) < 0)
        return NULL;
    for (int64_t i = 0; i < left; i++)
        mn_buf_putc(&b, ' ');
    mn_buf_put_str(&b, s);
    for (int64_t i = left; i < marg; i++)
        mn_buf_putc(&b, ' ');
    return mn__fresult(c, &b, false);
}

static mn_value *f_center(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    return pad(c, v, arg, 'c');
}
static mn_value *f_ljust(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    return pad(c, v, arg, 'l');
}
static mn_value *f_rjust(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    return pad(c, v, arg, 'r');
}

/* as defaultfilters.cut: the result stays safe unless ';' was cut (it may end an entity). */
static mn_value *f_cut(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    mn_str s = v->u.str, what = arg_text(c, arg);
    bool safe = v->safe && !(what.len == 1 && what.ptr[0] == ';');
    if (!what.len)
        return safe ? v : mn_value_str_ref(c->arena, s.ptr, s.len);
    BUF(b);
    for (size_t i = 0; i < s.len;) {
        if (i + what.len <= s.len && memcmp(s.ptr + i, what.ptr, what.len) == 0) {
            i += what.len;
            continue;
        }
        if (mn_buf_putc(&b, s.ptr[i++]) < 0)
            return NULL;
    }
    return mn__fresult(c, &b, safe);
}

/* as django.utils.html.escapejs: the result is safe. */
static mn_value *f_escapejs(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    BUF(b);
    mn_str s = v->u.str;
    for (size_t i = 0; i < s.len;) {
        size_t at = i;
        uint32_t cp = mn__utf8_next(s.ptr, s.len, &i);
        int rc;
        if ((cp < 128 && strchr("\\'\"><&=-;`", (int)cp) && cp) || cp < 32 || cp == 0x2028 ||
            cp == 0x2029)
            rc = mn_buf_printf(&b, "\\u%04X", cp);
        else
            rc = mn_buf_append(&b, s.ptr + at, i - at);
        if (rc < 0)
            return NULL;
    }
    return mn__fresult(c, &b, true);
}

/* Python's urllib.parse.quote: UTF-8 bytes, letters/digits/'_.-~' and `safe` kept. */
static int quote(mn_buf *b, mn_str s, const char *safe, size_t nsafe)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-' || ch == '~' ||
                    (ch < 128 && ch && memchr(safe, ch, nsafe));
        int rc = keep ? mn_buf_putc(b, (char)ch) : mn_buf_printf(b, "%%%02X", ch);
        if (rc < 0)
            return rc;
    }
    return MN_OK;
}

/* as django.utils.encoding.iri_to_uri */
static mn_value *f_iriencode(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    static const char safe[] = "/#%[]=:;$&()+,!?*@'~";
    BUF(b);
    if (quote(&b, v->u.str, safe, sizeof safe - 1) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

static mn_value *f_urlencode(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    mn_str safe = arg ? arg_text(c, arg) : (mn_str){"/", 1};
    BUF(b);
    if (quote(&b, v->u.str, safe.ptr, safe.len) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

/* as defaultfilters.linenumbers: zero-padded to the width of the line count. */
static mn_value *f_linenumbers(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    mn_str s = v->u.str;
    size_t nlines = 1;
    for (size_t i = 0; i < s.len; i++)
        nlines += s.ptr[i] == '\n';
    char tmp[32];
    int width = snprintf(tmp, sizeof tmp, "%zu", nlines);
    bool esc = c->autoescape && !v->safe;
    BUF(b);
    size_t start = 0, n = 0;
    for (size_t i = 0; i <= s.len; i++) {
        if (i < s.len && s.ptr[i] != '\n')
            continue;
        if (n)
            mn_buf_putc(&b, '\n');
        mn_buf_printf(&b, "%0*zu. ", width, ++n);
        mn_str line = {s.ptr + start, i - start};
        int rc = esc ? mn__fescape(&b, line) : mn_buf_put_str(&b, line);
        if (rc < 0)
            return NULL;
        start = i + 1;
    }
    return mn__fresult(c, &b, true);
}

static mn_value *f_lower(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    BUF(b);
    if (mn__uni_lower_str(&b, v->u.str) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

static mn_value *f_upper(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    BUF(b);
    if (mn__uni_upper_str(&b, v->u.str) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

/* list(str): one string per code point (never safe, as list() of a SafeString). */
static mn_value *f_make_list(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    return mn__fchars(c, v->u.str);
}

/* as django.utils.text.phone2numeric (letters of the lowered text become keypad digits) */
static mn_value *f_phone2numeric(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    static const char keys[] = "22233344455566677778889999";
    if (mn_value_kind_of(v) != MN_VALUE_STRING)
        return mn__ffail(c, "AttributeError: object has no attribute 'lower'");
    mn_str s = v->u.str;
    BUF(lowered);
    if (mn__uni_lower_str(&lowered, s) < 0)
        return NULL;
    for (size_t i = 0; i < lowered.len; i++)
        if (lowered.data[i] >= 'a' && lowered.data[i] <= 'z')
            lowered.data[i] = keys[lowered.data[i] - 'a'];
    return mn__fresult(c, &lowered, false);
}

static bool is_word_ascii(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

static bool is_space_ascii(char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

/* as django.utils.text.slugify: NFKD to ASCII, drop what is not \w, space or '-',
 * lowercase, runs of '-' and spaces become one '-', strip '-' and '_' at both ends. */
static mn_value *f_slugify(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    BUF(ascii);
    if (mn__uni_ascii_fold(&ascii, v->u.str) < 0)
        return NULL;
    BUF(b);
    bool in_sep = false;
    for (size_t i = 0; i < ascii.len; i++) {
        char ch = ascii.data[i];
        if (is_space_ascii(ch) || ch == '-') {
            in_sep = true;
            continue;
        }
        if (!is_word_ascii(ch))
            continue;
        if (in_sep)
            mn_buf_putc(&b, '-');
        in_sep = false;
        if (mn_buf_putc(&b, ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch) < 0)
            return NULL;
    }
    if (in_sep)
        mn_buf_putc(&b, '-');
    size_t start = 0, end = b.len;
    while (start < end && (b.data[start] == '-' || b.data[start] == '_'))
        start++;
    while (end > start && (b.data[end - 1] == '-' || b.data[end - 1] == '_'))
        end--;
    return mn_value_str_ref(c->arena, b.data ? b.data + start : "", end - start);
}

/* ---- stringformat: Python's `"%" + arg % value`. ---- */

typedef struct spec {
    char flags[8];
    int nflags;
    int width;     /* -1: none */
    int precision; /* -1: none */
    char conv;
} spec;

/* Parses "%[flags][width][.precision]conv" at f[*i] (just after the '%'). */
static bool parse_spec(mn_str f, size_t *i, spec *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->width = sp->precision = -1;
    while (*i < f.len && strchr("-+ #0", f.ptr[*i]) && f.ptr[*i]) {
        if (sp->nflags < 6)
            sp->flags[sp->nflags++] = f.ptr[*i];
        (*i)++;
    }
    while (*i < f.len && f.ptr[*i] >= '0' && f.ptr[*i] <= '9') {
        sp->width = (sp->width < 0 ? 0 : sp->width) * 10 + (f.ptr[*i] - '0');
        if (sp->width > 100000)
            return false;
        (*i)++;
    }
    if (*i < f.len && f.ptr[*i] == '.') {
        (*i)++;
        sp->precision = 0;
        while (*i < f.len && f.ptr[*i] >= '0' && f.ptr[*i] <= '9') {
            sp->precision = sp->precision * 10 + (f.ptr[*i] - '0');
            if (sp->precision > 100000)
                return false;
            (*i)++;
        }
    }
    while (*i < f.len && strchr("hlL", f.ptr[*i]) && f.ptr[*i]) /* Python ignores them */
        (*i)++;
    if (*i >= f.len)
        return false;
    sp->conv = f.ptr[(*i)++];
    return true;
}

static bool has_flag(const spec *sp, char flag)
{
    return memchr(sp->flags, flag, (size_t)sp->nflags) != NULL;
}

/* Pads text (code points) to the spec's width: '-' left-aligns. */
static int put_padded(mn_buf *b, mn_str t, const spec *sp)
{
    int64_t len = (int64_t)mn__utf8_count(t);
    int64_t padn = sp->width > len ? sp->width - len : 0;
    bool left = has_flag(sp, '-');
    for (int64_t k = 0; !left && k < padn; k++)
        mn_buf_putc(b, ' ');
    int rc = mn_buf_put_str(b, t);
    for (int64_t k = 0; left && k < padn; k++)
        mn_buf_putc(b, ' ');
    return rc;
}

/* A C printf of one number conversion with the spec's flags; Python and C agree for these. */
static int put_cnum(mn_buf *b, const spec *sp, char conv, bool is_int, int64_t iv, double dv)
{
    char fmt[32];
    size_t n = 0;
    fmt[n++] = '%';
    for (int k = 0; k < sp->nflags; k++)
        fmt[n++] = sp->flags[k];
    fmt[n++] = '*';
    bool with_prec = !is_int || sp->precision >= 0;
    if (with_prec) {
        fmt[n++] = '.';
        fmt[n++] = '*';
    }
    if (is_int) {
        fmt[n++] = 'l';
        fmt[n++] = 'l';
    }
    fmt[n++] = conv;
    fmt[n] = 0;
    int w = sp->width < 0 ? 0 : sp->width;
    int p = sp->precision < 0 ? (is_int ? 1 : 6) : sp->precision;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    if (!with_prec)
        return mn_buf_printf(b, fmt, w, (long long)iv);
    return is_int ? mn_buf_printf(b, fmt, w, p, (long long)iv) : mn_buf_printf(b, fmt, w, p, dv);
#pragma GCC diagnostic pop
}

/* Python's "%#o" writes a "0o" prefix (C writes "0"). */
static int put_alt_octal(mn_buf *b, const spec *sp, int64_t iv)
{
    char digits[32];
    uint64_t u = iv < 0 ? (uint64_t)0 - (uint64_t)iv : (uint64_t)iv;
    int n = snprintf(digits, sizeof digits, "%llo", (unsigned long long)u);
    int prec = sp->precision > n ? sp->precision : n;
    const char *sign = iv < 0 ? "-" : has_flag(sp, '+') ? "+" : has_flag(sp, ' ') ? " " : "";
    int64_t len = (int64_t)strlen(sign) + 2 + prec;
    int64_t padn = sp->width > len ? sp->width - len : 0;
    bool left = has_flag(sp, '-'), zero = has_flag(sp, '0') && !left;
    for (int64_t k = 0; !left && !zero && k < padn; k++)
        mn_buf_putc(b, ' ');
    mn_buf_puts(b, sign);
    mn_buf_puts(b, "0o");
    for (int64_t k = 0; zero && k < padn; k++)
        mn_buf_putc(b, '0');
    for (int k = n; k < prec; k++)
        mn_buf_putc(b, '0');
    mn_buf_append(b, digits, (size_t)n);
    for (int64_t k = 0; left && k < padn; k++)
        mn_buf_putc(b, ' ');
    return MN_OK;
}

/* Python's %x/%o of a negative number keeps the sign ("-7"); C's would not. */
static int put_int_conv(mn_buf *b, const spec *sp, int64_t iv)
{
    char conv = sp->conv == 'i' || sp->conv == 'u' ? 'd' : sp->conv;
    if (conv == 'o' && has_flag(sp, '#'))
        return put_alt_octal(b, sp, iv);
    if (iv >= 0 || conv == 'd')
        return put_cnum(b, sp, conv, true, iv, 0);
    /* Format the magnitude, then put the sign in front of the digits (or the padding). */
    mn_buf tmp;
    mn_buf_init(&tmp, b->arena);
    spec inner = *sp;
    inner.width = -1;
    inner.nflags = 0;
    if (has_flag(sp, '#'))
        inner.flags[inner.nflags++] = '#';
    put_cnum(&tmp, &inner, conv, true, iv == INT64_MIN ? INT64_MAX : -iv, 0);
    int64_t len = (int64_t)tmp.len + 1;
    int64_t padn = sp->width > len ? sp->width - len : 0;
    bool left = has_flag(sp, '-'), zero = has_flag(sp, '0') && !left;
    for (int64_t k = 0; !left && !zero && k < padn; k++)
        mn_buf_putc(b, ' ');
    mn_buf_putc(b, '-');
    for (int64_t k = 0; zero && k < padn; k++)
        mn_buf_putc(b, '0');
    mn_buf_append(b, tmp.data, tmp.len);
    for (int64_t k = 0; left && k < padn; k++)
        mn_buf_putc(b, ' ');
    return MN_OK;
}

/* Python's float formatting of inf/nan ("inf", "nan") with padding. */
static int put_float_conv(mn_buf *b, const spec *sp, double d)
{
    if (isfinite(d))
        return put_cnum(b, sp, sp->conv, false, 0, d);
    bool up = sp->conv >= 'A' && sp->conv <= 'Z';
    const char *t = isnan(d) ? (up ? "NAN" : "nan")
                    : d > 0  ? (up ? "INF" : "inf")
                             : (up ? "-INF" : "-inf");
    char tmp[8];
    size_t n = 0;
    if (!(d < 0) && has_flag(sp, '+'))
        tmp[n++] = '+';
    else if (!(d < 0) && has_flag(sp, ' '))
        tmp[n++] = ' ';
    n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%s", t);
    return put_padded(b, (mn_str){tmp, n}, sp);
}

/* Formats value by one conversion; false when Python raises (TypeError/ValueError). */
static bool format_one(const mn_filter_call *c, mn_buf *b, const spec *sp, mn_value *v)
{
    mn_value_kind k = mn_value_kind_of(v);
    bool numeric =
        k == MN_VALUE_BOOL || k == MN_VALUE_INT || k == MN_VALUE_DOUBLE || k == MN_VALUE_DECIMAL;
    switch (sp->conv) {
    case 's':
    case 'r':
    case 'a': {
        mn_str t;
        if (sp->conv == 's') {
            if (mn__ftext(c, v, &t) < 0)
                return false;
        } else {
            mn_buf rb;
            mn_buf_init(&rb, c->arena);
            if (mn_value_write_repr(v, c->arena, &rb) < 0)
                return false;
            t = (mn_str){rb.data ? rb.data : "", rb.len};
        }
        if (sp->precision >= 0)
            t.len = mn__utf8_offset(t, (size_t)sp->precision);
        return put_padded(b, t, sp) == MN_OK;
    }
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o': {
        if (!numeric)
            return false;
        if (k != MN_VALUE_INT && k != MN_VALUE_BOOL &&
            (sp->conv == 'x' || sp->conv == 'X' || sp->conv == 'o'))
            return false; /* these need an integer (__index__), not a float or Decimal */
        int64_t iv;
        if (mn_value_to_int(v, &iv) < 0)
            return false;
        return put_int_conv(b, sp, iv) == MN_OK;
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
        double d;
        if (!numeric || mn_value_to_double(v, &d) < 0)
            return false;
        return put_float_conv(b, sp, d) == MN_OK;
    }
    case 'c': {
        int64_t iv;
        BUF(ch);
        if (k == MN_VALUE_INT || k == MN_VALUE_BOOL) {
            if (mn_value_to_int(v, &iv) < 0 || iv < 0 || iv > 0x10FFFF)
                return false;
            mn__utf8_put(&ch, (uint32_t)iv);
        } else if (k == MN_VALUE_STRING && mn__utf8_count(v->u.str) == 1) {
            mn_buf_put_str(&ch, v->u.str);
        } else {
            return false;
        }
        return put_padded(b, (mn_str){ch.data, ch.len}, sp) == MN_OK;
    }
    default: return false;
    }
}

static mn_value *f_stringformat(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    mn_str f = arg_text(c, arg);
    BUF(b);
    size_t i = 0;
    spec first;
    /* Django prepends the '%': the argument starts with the conversion that takes value. */
    if (!parse_spec(f, &i, &first) || first.conv == '%' || !format_one(c, &b, &first, v))
        return mn_value_empty_string();
    while (i < f.len) {
        if (f.ptr[i] != '%') {
            mn_buf_putc(&b, f.ptr[i++]);
            continue;
        }
        i++;
        if (i < f.len && f.ptr[i] == '%') {
            mn_buf_putc(&b, '%');
            i++;
            continue;
        }
        return mn_value_empty_string(); /* not enough arguments */
    }
    return mn__fresult(c, &b, false);
}

/* as defaultfilters.title: str.title(), then lowercase a letter after an apostrophe that
 * follows a lowercase letter ("joe's") and a letter right after a digit ("1st"). */
static mn_value *f_title(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    mn_str s = v->u.str;
    BUF(b);
    bool prev_cased = false, ascii = true;
    size_t i = 0;
    while (i < s.len) {
        /* ASCII runs: no tables, title case of a letter is its upper case */
        if (mn_buf_reserve(&b, s.len - i) < 0)
            return NULL;
        char *o = b.data + b.len;
        for (; i < s.len && (unsigned char)s.ptr[i] < 0x80; i++) {
            char ch = s.ptr[i];
            bool alpha = (unsigned char)((ch | 32) - 'a') < 26;
            if (alpha)
                ch = prev_cased ? (char)(ch | 32) : (char)(ch & ~32);
            *o++ = ch;
            prev_cased = alpha;
        }
        b.len = (size_t)(o - b.data);
        if (i == s.len)
            break;
        ascii = false;
        size_t at = i;
        uint32_t cp = mn__utf8_next(s.ptr, s.len, &i);
        int rc = prev_cased ? mn__uni_lower_at(&b, s, at, i, cp) : mn__uni_put_case(&b, cp, 't');
        if (rc < 0)
            return NULL;
        prev_cased = mn__uni_cased(cp);
    }
    if (mn_buf_reserve(&b, 1) < 0)
        return NULL;
    char *t = b.data;
    /* re.sub("([a-z])'([A-Z])", ...) and re.sub(r'\d([A-Z])', ...): both need an ASCII
     * capital after a lower-case letter and ' or after a digit; a title-cased word has its
     * capital right after a non-letter, so scan for capitals only */
    /* re.sub's matches do not overlap ("Ab'C'D" gives "Ab'c'D"), and the quote rule runs
     * before the digit rule (the A of "1A'B" is still a capital when the quote rule looks) */
    size_t quote_end = 0, digit_lowered = 0;
    for (size_t k = 1; k < b.len; k++) {
        if (t[k] < 'A' || t[k] > 'Z')
            continue;
        if (t[k - 1] == '\'' && k >= 2 + quote_end && t[k - 2] >= 'a' && t[k - 2] <= 'z' &&
            (digit_lowered == 0 || digit_lowered != k - 2)) {
            t[k] = (char)(t[k] + 32);
            quote_end = k + 1; /* where the next match may start at the earliest */
        } else if (t[k - 1] >= '0' && t[k - 1] <= '9') {
            t[k] = (char)(t[k] + 32);
            digit_lowered = k;
        } else if (!ascii && ((unsigned char)t[k - 1] & 0x80)) {
            /* \d is any Unicode decimal digit: decode the code point that ends at k */
            size_t st = k - 1;
            while (st > 0 && ((unsigned char)t[st] & 0xC0) == 0x80)
                st--;
            size_t j = st;
            uint32_t cp = mn__utf8_next(t, b.len, &j);
            if (j == k && mn__uni_decimal(cp))
                t[k] = (char)(t[k] + 32), digit_lowered = k;
        }
    }
    return mn__fresult(c, &b, false);
}

/* as django.utils.text.Truncator.chars (truncate text '…'): NFC first, combining marks do
 * not count. */
static mn_value *f_truncatechars(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    int64_t length;
    if (!mn__fint(arg, &length))
        return v;
    BUF(nfc);
    if (mn__uni_nfc(&nfc, v->u.str) < 0)
        return NULL;
    mn_str t = {nfc.data ? nfc.data : "", nfc.len};
    int64_t truncate_len = length - 1;
    int64_t s_len = 0;
    size_t end_index = 0;
    bool have_end = false;
    for (size_t i = 0; i < t.len;) {
        size_t at = i;
        uint32_t cp = mn__utf8_next(t.ptr, t.len, &i);
        if (mn__uni_combining(cp))
            continue;
        s_len++;
        if (!have_end && s_len > truncate_len) {
            end_index = at;
            have_end = true;
        }
        if (s_len > length) {
            BUF(b);
            mn_buf_append(&b, t.ptr, end_index);
            if (mn_buf_puts(&b, "\xe2\x80\xa6") < 0)
                return NULL;
            return mn__fresult(c, &b, false);
        }
    }
    return mn_value_str_ref(c->arena, t.ptr, t.len);
}

/* as Truncator.words (truncate text ' …'): whitespace runs collapse to one space. */
static mn_value *f_truncatewords(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    int64_t length;
    if (!mn__fint(arg, &length))
        return v;
    mn_str s = v->u.str;
    int64_t nwords = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.len;) {
        bool sp = mn__uni_space(mn__utf8_next(s.ptr, s.len, &i));
        if (!sp && !in_word)
            nwords++;
        in_word = !sp;
    }
    int64_t keep = nwords;
    bool truncated = nwords > length;
    if (truncated)
        keep = length >= 0 ? length : (nwords + length > 0 ? nwords + length : 0);
    BUF(b);
    int64_t n = 0;
    in_word = false;
    for (size_t i = 0; i < s.len;) {
        size_t at = i;
        bool sp = mn__uni_space(mn__utf8_next(s.ptr, s.len, &i));
        if (!sp && !in_word) {
            if (n == keep)
                break;
            if (n++)
                mn_buf_putc(&b, ' ');
        }
        in_word = !sp;
        if (!sp)
            mn_buf_append(&b, s.ptr + at, i - at);
    }
    if (truncated) {
        static const char tail[] = " \xe2\x80\xa6";
        if (!(b.len >= sizeof tail - 1 &&
              memcmp(b.data + b.len - (sizeof tail - 1), tail, sizeof tail - 1) == 0))
            mn_buf_puts(&b, tail);
    }
    if (mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

static mn_value *f_wordcount(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    mn_str s = v->u.str;
    int64_t n = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.len;) {
        bool sp = mn__uni_space(mn__utf8_next(s.ptr, s.len, &i));
        if (!sp && !in_word)
            n++;
        in_word = !sp;
    }
    return mn_value_int(c->arena, n);
}

/* ---- wordwrap: textwrap.TextWrapper(width, break_long_words=False,
 * break_on_hyphens=False) applied to each line of text.splitlines(True). ---- */

static bool is_splitlines_break(uint32_t cp)
{
    return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
           cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

typedef struct chunk {
    size_t off, len; /* bytes in the munged line */
    size_t width;    /* code points */
    bool space;
} chunk;

/* Wraps one line (already split off); appends the wrapped lines, each followed by '\n'. */
static int wrap_line(mn_arena *a, mn_str line, int64_t width, mn_buf *out, size_t *nlines)
{
    /* expandtabs(8), then every ASCII whitespace becomes a space. */
    mn_buf m;
    mn_buf_init(&m, a);
    size_t col = 0;
    for (size_t i = 0; i < line.len;) {
        size_t at = i;
        uint32_t cp = mn__utf8_next(line.ptr, line.len, &i);
        if (cp == '\t') {
            do
                mn_buf_putc(&m, ' ');
            while (++col % 8);
        } else if (cp == '\n' || cp == '\r') {
            mn_buf_putc(&m, ' ');
            col = 0;
        } else if (cp == 0x0B || cp == 0x0C) {
            mn_buf_putc(&m, ' ');
            col++;
        } else {
            mn_buf_append(&m, line.ptr + at, i - at);
            col++;
        }
    }
    size_t nch = 0, cap = m.len + 1;
    chunk *ch = mn_arena_alloc(a, cap * sizeof *ch);
    if (!ch)
        return MN_ENOMEM;
    for (size_t i = 0; i < m.len;) {
        bool sp = m.data[i] == ' ';
        size_t start = i, w = 0;
        while (i < m.len && (m.data[i] == ' ') == sp) {
            mn__utf8_next(m.data, m.len, &i);
            w++;
        }
        ch[nch++] = (chunk){start, i - start, w, sp};
    }
    size_t next = 0, made = 0;
    while (next < nch) {
        if (ch[next].space && made)
            next++;
        size_t first = next;
        int64_t cur = 0;
        while (next < nch && cur + (int64_t)ch[next].width <= width)
            cur += (int64_t)ch[next++].width;
        if (next < nch && (int64_t)ch[next].width > width && next == first)
            next++;
        size_t last = next;
        if (last > first && ch[last - 1].space)
            last--;
        if (last > first) {
            if (*nlines)
                mn_buf_putc(out, '\n');
            (*nlines)++;
            made++;
            size_t from = ch[first].off, to = ch[last - 1].off + ch[last - 1].len;
            if (mn_buf_append(out, m.data + from, to - from) < 0)
                return MN_ENOMEM;
        }
    }
    return MN_OK;
}

static mn_value *f_wordwrap(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    int64_t width;
    if (!mn__fint(arg, &width))
        return mn__ffail(c, "invalid literal for int() with base 10");
    mn_str s = v->u.str;
    BUF(b);
    size_t nlines = 0, start = 0;
    if (s.len && width <= 0)
        return mn__ffail(c, "invalid width (must be > 0)");
    for (size_t i = 0; i < s.len;) {
        uint32_t cp = mn__utf8_next(s.ptr, s.len, &i);
        if (!is_splitlines_break(cp))
            continue;
        if (cp == '\r' && i < s.len && s.ptr[i] == '\n')
            i++;
        if (wrap_line(c->arena, (mn_str){s.ptr + start, i - start}, width, &b, &nlines) < 0)
            return NULL;
        start = i;
    }
    if (start < s.len &&
        wrap_line(c->arena, (mn_str){s.ptr + start, s.len - start}, width, &b, &nlines) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

/* ---- Writers (internal.h): the ASCII texts nearly every page has, cased and escaped in one
 * pass straight into the output. Other text declines to the filters above. ---- */

/* Room for s cased and escaped; false when s is not all ASCII. *escape is cleared when s has
 * nothing to escape. */
static bool ascii_reserve(mn_str s, bool *escape, mn_buf *out, int *rc)
{
    size_t extra = 0;
    unsigned char high = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        high |= ch;
        extra += mn__escape_extra[ch];
    }
    if (high & 0x80)
        return false;
    if (!extra)
        *escape = false;
    *rc = out->cap - out->len > s.len + extra ? MN_OK : mn_buf_reserve(out, s.len + extra);
    return true;
}

/* High bit of each byte of an ASCII word that is in [lo, hi). */
static inline uint64_t in_range(uint64_t w, unsigned char lo, unsigned char hi)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    return ((w | high) - ones * lo) & ~((w | high) - ones * hi) & high;
}

static int w_title(const mn_filter_call *c, mn_value *v, mn_value *arg, bool escape, mn_buf *out)
{
    (void)c, (void)arg;
    if (v->kind != MN_VALUE_STRING)
        return MN_FILTER_DECLINE;
    mn_str s = v->u.str;
    const uint64_t high = 0x8080808080808080u;
    if (out->cap - out->len <= s.len && mn_buf_reserve(out, s.len) < 0)
        return MN_ENOMEM;
    char *o = out->data + out->len;
    size_t k = 0;
    bool prev_cased = false;
    /* eight bytes at a time while they are ASCII with no quote, digit or byte to escape
     * (then the re.sub fixes cannot apply): a letter after a letter is lowered, any other
     * letter raised */
    for (;; k += 8) {
        bool tail = k + 8 > s.len;
        /* the last bytes: the word that ends the text, overlapping what is written (its
         * first bytes come out the same again: a byte's case depends on it and on whether
         * the byte before is a letter) */
        if (tail && (k == s.len || s.len < 8))
            break;
        size_t j = tail ? s.len - 8 : k;
        bool before_cased = prev_cased;
        if (tail) {
            char before = s.ptr[j - 1]; /* j >= 1: a tail follows at least one word */
            before_cased = (unsigned char)((before | 32) - 'a') < 26;
        }
        uint64_t w;
        memcpy(&w, s.ptr + j, 8);
        if ((w & high) || mn__has_byte(w, '\'') || in_range(w, '0', '9' + 1) ||
            (escape && mn__has_escapable(w)))
            break;
        uint64_t alpha = in_range(w | 0x2020202020202020u, 'a', 'z' + 1);
        uint64_t prev = (alpha << 8) | (before_cased ? 0x80u : 0);
        w |= (alpha & prev) >> 2;
        w &= ~((alpha & ~prev) >> 2);
        prev_cased = (alpha >> 63) != 0;
        memcpy(out->data + out->len + j, &w, 8);
        if (tail) {
            k = s.len;
            break;
        }
    }
    o = out->data + out->len + k;
    size_t at = out->len;
    out->len = (size_t)(o - out->data);
    if (k == s.len)
        return MN_OK;
    mn_str rest = {s.ptr + k, s.len - k};
    int rc;
    if (!ascii_reserve(rest, &escape, out, &rc)) {
        out->len = at;
        return MN_FILTER_DECLINE;
    }
    if (rc < 0)
        return rc;
    o = out->data + out->len;
    /* f_title's two passes in one: p1 and p2 are the two bytes before, as already written
     * (the word loop above made no re.sub fix, so the fix positions start unset) */
    size_t quote_end = 0, digit_lowered = 0;
    char p1 = k >= 1 ? o[-1] : 0, p2 = k >= 2 ? o[-2] : 0;
    for (; k < s.len; k++) {
        char ch = s.ptr[k];
        bool alpha = (unsigned char)((ch | 32) - 'a') < 26;
        if (alpha)
            ch = prev_cased ? (char)(ch | 32) : (char)(ch & ~32);
        prev_cased = alpha;
        if (k && ch >= 'A' && ch <= 'Z') {
            if (p1 == '\'' && k >= 2 + quote_end && p2 >= 'a' && p2 <= 'z' &&
                (digit_lowered == 0 || digit_lowered != k - 2)) {
                ch = (char)(ch + 32);
                quote_end = k + 1;
            } else if (p1 >= '0' && p1 <= '9') {
                ch = (char)(ch + 32);
                digit_lowered = k;
            }
        }
        p2 = p1, p1 = ch;
        if (escape)
            o = mn__escape_put(o, ch);
        else
            *o++ = ch;
    }
    out->len = (size_t)(o - out->data);
    return MN_OK;
}

static int write_case(mn_value *v, bool escape, mn_buf *out, bool upper)
{
    if (v->kind != MN_VALUE_STRING)
        return MN_FILTER_DECLINE;
    mn_str s = v->u.str;
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    /* eight bytes at a time while they are ASCII with nothing to escape: the case of the
     * letters flipped with word arithmetic (bit 5 of each byte in [from, from + 25]) */
    if (out->cap - out->len <= s.len && mn_buf_reserve(out, s.len) < 0)
        return MN_ENOMEM;
    char *o = out->data + out->len;
    size_t k = 0;
    uint64_t lo = ones * (unsigned char)(upper ? 'a' : 'A');
    uint64_t hi = ones * (unsigned char)((upper ? 'z' : 'Z') + 1);
    for (;; k += 8) {
        bool tail = k + 8 > s.len; /* the last word overlaps what is written, as in w_title */
        if (tail && (k == s.len || s.len < 8))
            break;
        size_t j = tail ? s.len - 8 : k;
        uint64_t w;
        memcpy(&w, s.ptr + j, 8);
        if ((w & high) || (escape && mn__has_escapable(w)))
            break;
        /* per byte: b >= lo and b < hi, as high bits of (b + 128 - lo) and (b + 128 - hi) */
        uint64_t ge = (w | high) - lo, lt = ~((w | high) - hi);
        uint64_t in = ge & lt & high;
        w ^= in >> 2; /* 0x80 >> 2 = 0x20 */
        memcpy(out->data + out->len + j, &w, 8);
        if (tail) {
            k = s.len;
            break;
        }
    }
    o = out->data + out->len + k;
    if (k < s.len) {
        mn_str rest = {s.ptr + k, s.len - k};
        size_t done = (size_t)(o - out->data) - out->len;
        int rc;
        /* the tail, or the rest of a text that is not plain: bytes one by one */
        size_t at = out->len;
        out->len += done;
        if (!ascii_reserve(rest, &escape, out, &rc)) {
            out->len = at;
            return MN_FILTER_DECLINE;
        }
        if (rc < 0)
            return rc;
        o = out->data + out->len;
        s = rest;
        k = 0;
    } else {
        out->len = (size_t)(o - out->data);
        return MN_OK;
    }
    char from = upper ? 'a' : 'A';
    for (; k < s.len; k++) {
        char ch = s.ptr[k];
        if ((unsigned char)(ch - from) < 26)
            ch = (char)(ch ^ 32);
        if (escape)
            o = mn__escape_put(o, ch);
        else
            *o++ = ch;
    }
    out->len = (size_t)(o - out->data);
    return MN_OK;
}

static int w_lower(const mn_filter_call *c, mn_value *v, mn_value *arg, bool escape, mn_buf *out)
{
    (void)c, (void)arg;
    return write_case(v, escape, out, false);
}

static int w_upper(const mn_filter_call *c, mn_value *v, mn_value *arg, bool escape, mn_buf *out)
{
    (void)c, (void)arg;
    return write_case(v, escape, out, true);
}

void mn__filters_register_string(mn_template_library *lib)
{
    enum { S = MN_FILTER_STRING, SAFE = MN_FILTER_IS_SAFE, A = MN_FILTER_ARG };
    mn_template_library_add_filter(lib, "addslashes", f_addslashes, SAFE | S);
    mn_template_library_add_filter(lib, "capfirst", f_capfirst, SAFE | S);
    mn_template_library_add_filter(lib, "center", f_center, SAFE | S | A);
    mn_template_library_add_filter(lib, "ljust", f_ljust, SAFE | S | A);
    mn_template_library_add_filter(lib, "rjust", f_rjust, SAFE | S | A);
    mn_template_library_add_filter(lib, "cut", f_cut, S | A);
    mn_template_library_add_filter(lib, "escapejs", f_escapejs, S);
    mn_template_library_add_filter(lib, "iriencode", f_iriencode, SAFE | S);
    mn_template_library_add_filter(lib, "urlencode", f_urlencode, S | MN_FILTER_ARG_OPTIONAL);
    mn_template_library_add_filter(lib, "linenumbers", f_linenumbers,
                                   SAFE | S | MN_FILTER_NEEDS_AUTOESCAPE);
    mn_template_library_add_filter(lib, "lower", f_lower, SAFE | S);
    mn_template_library_add_filter(lib, "upper", f_upper, S);
    mn_template_library_add_filter(lib, "make_list", f_make_list, S);
    mn_template_library_add_filter(lib, "phone2numeric", f_phone2numeric, SAFE);
    mn_template_library_add_filter(lib, "slugify", f_slugify, SAFE | S);
    mn_template_library_add_filter(lib, "stringformat", f_stringformat, SAFE | A);
    mn_template_library_add_filter(lib, "title", f_title, SAFE | S);
    mn_template_library_add_filter(lib, "truncatechars", f_truncatechars, SAFE | S | A);
    mn_template_library_add_filter(lib, "truncatewords", f_truncatewords, SAFE | S | A);
    mn_template_library_add_filter(lib, "wordcount", f_wordcount, S);
    mn_template_library_add_filter(lib, "wordwrap", f_wordwrap, SAFE | S | A);
    mn__library_set_filter_writer(lib, "title", w_title);
    mn__library_set_filter_writer(lib, "lower", w_lower);
    mn__library_set_filter_writer(lib, "upper", w_upper);
}
