/* filters_number.c — Django's number and logic filters: add, divisibleby, floatformat,
 * filesizeformat, get_digit, pluralize, yesno, default, default_if_none.
 *
 * floatformat is the subtle one: Django turns the value into a Decimal (from repr() of a
 * float, so 1.005 is exactly 1.005) and rounds with ROUND_HALF_UP, so it must not go through
 * C's binary printf. It is done here on the decimal digits, as text. */
#include "template/filters_internal.h"
#include "template/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BUF(name)                                                                                  \
    mn_buf name;                                                                                   \
    mn_buf_init(&name, c->arena)

/* as django.utils.numberformat.format with the en locale: '.' decimal separator, ',' every
 * three digits when grouping. decimal_pos < 0: keep the decimals as they are. */
int mn__number_format(mn_buf *out, mn_str s, int decimal_pos, bool grouping)
{
    if (s.len && s.ptr[0] == '-') {
        mn_buf_putc(out, '-');
        s.ptr++, s.len--;
    }
    const char *dot = memchr(s.ptr, '.', s.len);
    size_t int_len = dot ? (size_t)(dot - s.ptr) : s.len;
    mn_str dec = dot ? (mn_str){dot + 1, s.len - int_len - 1} : (mn_str){"", 0};
    for (size_t i = 0; i < int_len; i++) {
        if (grouping && i && (int_len - i) % 3 == 0)
            mn_buf_putc(out, ',');
        mn_buf_putc(out, s.ptr[i]);
    }
    if (decimal_pos >= 0 && dec.len > (size_t)decimal_pos)
        dec.len = (size_t)decimal_pos;
    size_t want = decimal_pos >= 0 ? (size_t)decimal_pos : dec.len;
    if (want) {
        mn_buf_putc(out, '.');
        mn_buf_put_str(out, dec);
        for (size_t i = dec.len; i < want; i++)
            mn_buf_putc(out, '0');
    }
    return mn_buf_reserve(out, 1);
}

/* ---- A decimal number as text digits: value = (-1)^neg * digits * 10^exp. ---- */
typedef struct decnum {
    bool neg;
    char *digits; /* no leading zeros except a lone "0" */
    size_t n;
    int64_t exp;
} decnum;

/* Parses Python's repr of a float or str of a Decimal ("-1.5e-05", "1E+2", "12.50"). */
static bool dec_parse(mn_arena *a, mn_str s, decnum *d)
{
    memset(d, 0, sizeof *d);
    d->digits = mn_arena_alloc(a, s.len + 2);
    if (!d->digits)
        return false;
    size_t i = 0;
    if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+'))
        d->neg = s.ptr[i++] == '-';
    bool any = false, point = false;
    for (; i < s.len; i++) {
        char ch = s.ptr[i];
        if (ch >= '0' && ch <= '9') {
            any = true;
            if (d->n || ch != '0')
                d->digits[d->n++] = ch;
            if (point)
                d->exp--;
        } else if (ch == '.' && !point) {
            point = true;
        } else {
            break;
        }
    }
    if (!any)
        return false;
    if (i < s.len && (s.ptr[i] == 'e' || s.ptr[i] == 'E')) {
        int64_t e = 0;
        mn_str es = {s.ptr + i + 1, s.len - i - 1};
        if (es.len && es.ptr[0] == '+')
            es.ptr++, es.len--;
        if (mn_str_to_i64(es, &e) < 0 || e > 100000 || e < -100000)
            return false;
        d->exp += e;
        i = s.len;
    }
    if (i != s.len)
        return false;
    if (!d->n)
        d->digits[d->n++] = '0';
    return true;
}

/* The digit at power of ten `pos` (0 units, -1 tenths ...). */
static int dec_digit(const decnum *d, int64_t pos)
{
    int64_t idx = (int64_t)d->n - 1 - (pos - d->exp);
    if (pos < d->exp || idx < 0)
        return 0;
    return d->digits[idx] - '0';
}

/* Writes d rounded half-up to `places` decimals as "-123.45" (no exponent). */
static int dec_quantize(mn_buf *out, const decnum *d, int places)
{
    int64_t top = d->exp + (int64_t)d->n - 1; /* highest power present */
    if (top < 0)
        top = 0;
    int64_t ndig = top + places + 1;
    char small[64];
    char *buf =
        ndig + 2 <= (int64_t)sizeof small ? small : mn_arena_alloc(out->arena, (size_t)ndig + 2);
    if (!buf)
        return MN_ENOMEM;
    /* digits from 10^top down to 10^-places, plus one carry slot in front */
    buf[0] = '0';
    for (int64_t k = 0; k < ndig; k++)
        buf[k + 1] = (char)('0' + dec_digit(d, top - k));
    if (dec_digit(d, -places - 1) >= 5) {
        int64_t k = ndig;
        while (buf[k] == '9')
            buf[k--] = '0';
        buf[k]++;
    }
    size_t start = buf[0] == '0' ? 1 : 0;
    size_t int_digits = (size_t)(top + 1) + (start ? 0 : 1);
    bool zero = true;
    for (int64_t k = 0; k <= ndig; k++)
        if (buf[k] != '0')
            zero = false;
    /* strip leading zeros of the integer part, keep one */
    size_t p = start, int_end = start + int_digits;
    while (p + 1 < int_end && buf[p] == '0')
        p++;
    /* sign, integer digits, point and decimals assembled in place, then one append (was four
     * appends each checking room) */
    bool minus = d->neg && !zero;
    if (places > 0) {
        /* buf has ndig + 2 bytes: the decimals move right by one for the point */
        memmove(buf + int_end + 1, buf + int_end, (size_t)places);
        buf[int_end] = '.';
    }
    size_t end = int_end + (places > 0 ? (size_t)places + 1 : 0);
    if (minus) {
        if (p > 0) {
            buf[--p] = '-';
        } else {
            if (mn_buf_putc(out, '-') < 0)
                return MN_ENOMEM;
        }
    }
    return mn_buf_append(out, buf + p, end - p);
}

/* The text Django builds its Decimal from: repr() of an int or float, str() of a Decimal,
 * float() of a numeric string. false: floatformat returns ''. */
static bool floatformat_input(const mn_filter_call *c, const mn_value *v, mn_str *text)
{
    mn_buf b;
    mn_buf_init(&b, c->arena);
    switch (mn_value_kind_of(v)) {
    case MN_VALUE_INT:
    case MN_VALUE_DOUBLE:
        if (mn_value_write_text(v, c->arena, &b) < 0)
            return false;
        break;
    case MN_VALUE_DECIMAL: {
        /* Django 3.2 reads a Decimal through float(): repr(Decimal) is no number */
        double d;
        mn_value *dv;
        if (mn_value_to_double(v, &d) < 0 || !(dv = mn_value_double(c->arena, d)) ||
            mn_value_write_text(dv, c->arena, &b) < 0)
            return false;
        break;
    }
    case MN_VALUE_BOOL: mn_buf_puts(&b, v->u.b ? "1.0" : "0.0"); break;
    case MN_VALUE_STRING: {
        double d;
        if (mn_value_to_double(v, &d) < 0)
            return false;
        mn_value *dv = mn_value_double(c->arena, d);
        if (!dv || mn_value_write_text(dv, c->arena, &b) < 0)
            return false;
        break;
    }
    default: return false;
    }
    *text = (mn_str){b.data ? b.data : "", b.len};
    return true;
}

/* What floatformat gives back when it gives up: repr(value) (a string comes back quoted). */
static mn_value *input_val(const mn_filter_call *c, const mn_value *v)
{
    mn_buf b;
    mn_buf_init(&b, c->arena);
    if (mn_value_kind_of(v) == MN_VALUE_BOOL)
        mn_buf_puts(&b, v->u.b ? "True" : "False");
    else if (mn_value_write_repr(v, c->arena, &b) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

/* floatformat of a double to 1..15 places without the decimal detour, when that is exact:
 * r = round(v * 10^places) is the answer whenever r / 10^places, correctly rounded (IEEE
 * division of two exact operands is), gives v back. Then r * 10^-places is a decimal that
 * round-trips to v, and while |v| * 10^places < 1e15 the double's rounding interval is
 * narrower than 10^-places, so it is the only multiple of 10^-places in it and repr(v), the
 * shortest round-tripping decimal, is that number with fewer or equal decimals: quantizing
 * repr(v) to `places` decimals loses nothing and gives r. Writes "-123.45" into buf (at least
 * 48 bytes) and returns its length, or 0 when the exact path must decide (zero, large,
 * more decimals than asked: rounding cases). */
static size_t fixed_fast(double v, int places, char *buf)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    if (places < 1 || places > 15)
        return 0;
    double scale = pow10[places], c = v * scale;
    if (!(fabs(c) < 1e15))
        return 0; /* also NaN */
    /* round to an integer by adding and taking away 1.5 * 2^52 (|c| < 2^50); how it rounds a
     * half does not matter, as only an rr that gives v back is used */
    const double magic = 6755399441055744.0;
    double rr = c < 0 ? -((-c + magic) - magic) : (c + magic) - magic;
    if (rr == 0 || (double)(int64_t)rr != rr || rr / scale != v)
        return 0;
    uint64_t r = (uint64_t)fabs(rr);
    static const uint64_t p10[] = {1u,
                                   10u,
                                   100u,
                                   1000u,
                                   10000u,
                                   100000u,
                                   1000000u,
                                   10000000u,
                                   100000000u,
                                   1000000000u,
                                   10000000000u,
                                   100000000000u,
                                   1000000000000u,
                                   10000000000000u,
                                   100000000000000u,
                                   1000000000000000u};
    int digits = 1; /* of r, and at least places + 1: "0.05" */
    while (digits < 16 && r >= p10[digits])
        digits++;
    if (digits < places + 1)
        digits = places + 1;
    size_t n = rr < 0 ? 1 : 0, len = n + (size_t)digits + 1;
    if (n)
        buf[0] = '-';
    char *o = buf + len; /* written backwards, straight into place */
    for (int k = 0; k < digits; k++) {
        if (k == places)
            *--o = '.';
        *--o = (char)('0' + r % 10);
        r /= 10;
    }
    return len;
}

/* as django.template.defaultfilters.floatformat (with Django 4's 'u' suffix too) */
static mn_value *f_floatformat(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    bool grouping = false, l10n = true;
    int64_t p = -1;
    mn_str input = {"", 0};
    if (!(mn_value_kind_of(v) == MN_VALUE_DOUBLE && isfinite(v->u.d)) &&
        !floatformat_input(c, v, &input))
        return mn_value_empty_string();
    if (arg && arg->kind == MN_VALUE_INT) {
        p = arg->u.i; /* floatformat:2, the common form: no text round trip */
    } else if (arg) {
        mn_str a;
        if (mn__ftext(c, arg, &a) < 0)
            return NULL;
        if (arg->kind == MN_VALUE_STRING) {
            if (a.len >= 2 && (mn_str_eq_cstr((mn_str){a.ptr + a.len - 2, 2}, "gu") ||
                               mn_str_eq_cstr((mn_str){a.ptr + a.len - 2, 2}, "ug"))) {
                grouping = true, l10n = false, a.len -= 2;
            } else if (a.len && a.ptr[a.len - 1] == 'g') {
                grouping = true, a.len--;
            } else if (a.len && a.ptr[a.len - 1] == 'u') {
                l10n = false, a.len--;
            }
        }
        if (arg->kind == MN_VALUE_STRING && !arg->u.str.len)
            return input_val(c, v); /* int('') */
        if (a.len) {
            mn_value *av = mn_value_str_ref(c->arena, a.ptr, a.len);
            if (!av)
                return NULL;
            if (!mn__fint(arg->kind == MN_VALUE_STRING ? av : arg, &p))
                return input_val(c, v);
        }
    }
    if (!l10n)
        grouping = false; /* NUMBER_GROUPING is 0 outside the locale */
    if (!grouping && p > 0 && mn_value_kind_of(v) == MN_VALUE_DOUBLE) {
        char fb[48];
        size_t fn = fixed_fast(v->u.d, (int)p, fb);
        if (fn)
            return mn_value_safe(c->arena, fb, fn);
    }
    decnum d;
    char dbuf[24];
    if (mn_value_kind_of(v) == MN_VALUE_DOUBLE && isfinite(v->u.d)) {
        /* repr()'s digits straight from the double, without printing and re-parsing them */
        int e10;
        memset(&d, 0, sizeof d);
        d.neg = signbit(v->u.d) != 0;
        d.digits = dbuf;
        d.n = (size_t)mn__double_digits(v->u.d, dbuf, &e10);
        d.exp = (int64_t)e10 - (int64_t)d.n + 1;
        if (d.n == 1 && dbuf[0] == '0')
            d.exp = 0;
    } else if (!dec_parse(c->arena, input, &d)) {
        return input_val(c, v); /* inf, nan */
    }
    if ((int64_t)d.n + (d.exp < 0 ? -d.exp : d.exp) > 200)
        return input_val(c, v);
    bool has_fraction = false;
    for (int64_t k = d.exp; k < 0; k++)
        if (dec_digit(&d, k))
            has_fraction = true;
    if (p < -1000 || p > 1000)
        return input_val(c, v);
    BUF(num);
    BUF(out);
    if (!has_fraction && p < 0) {
        if (dec_quantize(&num, &d, 0) < 0 ||
            mn__number_format(&out, (mn_str){num.data, num.len}, 0, grouping) < 0)
            return NULL;
        return mn__fresult(c, &out, true);
    }
    int places = (int)(p < 0 ? -p : p);
    if (dec_quantize(&num, &d, places) < 0)
        return NULL;
    if (!grouping) /* dec_quantize's text is already numberformat's without grouping */
        return mn__fresult(c, &num, true);
    if (mn__number_format(&out, (mn_str){num.data, num.len}, places, grouping) < 0)
        return NULL;
    return mn__fresult(c, &out, true);
}

static bool to_int(const mn_value *v, int64_t *out)
{
    return mn_value_to_int(v, out) == MN_OK && mn_value_kind_of(v) != MN_VALUE_NONE;
}

/* as defaultfilters.add: int + int, else Python's + (strings, lists), else ''. */
static mn_value *f_add(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    int64_t x, y;
    mn_value_kind kv = mn_value_kind_of(v), ka = mn_value_kind_of(arg);
    bool vi = (kv == MN_VALUE_INT || kv == MN_VALUE_BOOL || kv == MN_VALUE_DOUBLE ||
               kv == MN_VALUE_DECIMAL || kv == MN_VALUE_STRING) &&
              to_int(v, &x);
    bool ai = (ka == MN_VALUE_INT || ka == MN_VALUE_BOOL || ka == MN_VALUE_DOUBLE ||
               ka == MN_VALUE_DECIMAL || ka == MN_VALUE_STRING) &&
              to_int(arg, &y);
    if (vi && ai) {
        int64_t sum;
        if (!__builtin_add_overflow(x, y, &sum))
            return mn_value_int(c->arena, sum);
        /* Python's ints do not overflow: write the exact sum as a decimal number */
        __int128 big = (__int128)x + y;
        char tmp[48], *p = tmp + sizeof tmp;
        bool neg = big < 0;
        unsigned __int128 u = neg ? -(unsigned __int128)big : (unsigned __int128)big;
        do
            *--p = (char)('0' + (int)(u % 10));
        while ((u /= 10) != 0);
        if (neg)
            *--p = '-';
        return mn_value_decimal(c->arena, p, (size_t)(tmp + sizeof tmp - p));
    }
    if (kv == MN_VALUE_STRING && ka == MN_VALUE_STRING) {
        BUF(b);
        mn_buf_put_str(&b, v->u.str);
        if (mn_buf_put_str(&b, arg->u.str) < 0 || mn_buf_reserve(&b, 1) < 0)
            return NULL;
        return mn__fresult(c, &b, v->safe && arg->safe);
    }
    if (kv == MN_VALUE_LIST && ka == MN_VALUE_LIST) {
        mn_value *l = mn_value_list(c->arena, v->u.list.len + arg->u.list.len);
        if (!l)
            return NULL;
        for (size_t i = 0; i < v->u.list.len; i++)
            mn_value_list_append(c->arena, l, v->u.list.items[i]);
        for (size_t i = 0; i < arg->u.list.len; i++)
            mn_value_list_append(c->arena, l, arg->u.list.items[i]);
        return l;
    }
    if ((kv == MN_VALUE_DOUBLE || kv == MN_VALUE_INT || kv == MN_VALUE_BOOL) &&
        (ka == MN_VALUE_DOUBLE || ka == MN_VALUE_INT || ka == MN_VALUE_BOOL)) {
        double a, b;
        mn_value_to_double(v, &a);
        mn_value_to_double(arg, &b);
        return mn_value_double(c->arena, a + b);
    }
    return mn_value_empty_string();
}

/* int(value) % int(arg) == 0; Python's ValueError aborts the render as in Django. */
static mn_value *f_divisibleby(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    int64_t x, y;
    if (!to_int(v, &x) || !to_int(arg, &y))
        return mn__ffail(c, "invalid literal for int() with base 10");
    if (y == 0)
        return mn__ffail(c, "integer division or modulo by zero");
    return mn_value_bool(y == -1 || x % y == 0);
}

/* as defaultfilters.get_digit: the arg-th digit from the right, 0 past the left end. */
static mn_value *f_get_digit(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    int64_t n, x;
    mn_value_kind k = mn_value_kind_of(v), ka = mn_value_kind_of(arg);
    /* int(arg) then int(value): a ValueError gives the value back, a TypeError raises */
    if (ka != MN_VALUE_INT && ka != MN_VALUE_BOOL && ka != MN_VALUE_DOUBLE &&
        ka != MN_VALUE_DECIMAL && ka != MN_VALUE_STRING)
        return mn__ffail(c, "TypeError: int() argument must be a string or a number");
    if (!to_int(arg, &n))
        return v;
    if (k != MN_VALUE_INT && k != MN_VALUE_BOOL && k != MN_VALUE_DOUBLE && k != MN_VALUE_DECIMAL &&
        k != MN_VALUE_STRING)
        return mn__ffail(c, "TypeError: int() argument must be a string or a number");
    char tmp[400];
    int len;
    bool big = false;
    if (k == MN_VALUE_DOUBLE && isfinite(v->u.d) && fabs(v->u.d) >= 9e18) {
        len = snprintf(tmp, sizeof tmp, "%.0f", trunc(v->u.d)); /* int() of a big float */
        big = true;
    } else {
        if (!to_int(v, &x))
            return v;
        len = snprintf(tmp, sizeof tmp, "%lld", (long long)x);
    }
    if (n < 1) /* Django returns the value after its int() conversion */
        return big ? mn_value_decimal(c->arena, tmp, (size_t)len) : mn_value_int(c->arena, x);
    if (n > len)
        return mn_value_int(c->arena, 0);
    char d = tmp[len - n];
    if (d == '-')
        return mn__ffail(c, "invalid literal for int() with base 10: '-'");
    return mn_value_int(c->arena, d - '0');
}

/* as defaultfilters.filesizeformat; spaces become no-break spaces (avoid_wrapping). */
static mn_value *f_filesizeformat(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    int64_t bytes;
    BUF(b);
    if (!to_int(v, &bytes) || mn_value_kind_of(v) == MN_VALUE_LIST)
        bytes = 0;
    bool neg = bytes < 0;
    double mag = neg ? -(double)bytes : (double)bytes;
    uint64_t ub = neg ? (uint64_t)0 - (uint64_t)bytes : (uint64_t)bytes;
    static const char *const units[] = {"KB", "MB", "GB", "TB", "PB"};
    if (neg)
        mn_buf_putc(&b, '-');
    if (ub < 1024) {
        mn_buf_printf(&b, "%llu\xc2\xa0%s", (unsigned long long)ub, ub == 1 ? "byte" : "bytes");
    } else {
        int u = 0;
        double scaled = mag / 1024.0;
        while (u < 4 && ub >= (1ull << (10 * (u + 2)))) {
            u++;
            scaled = mag / (double)(1ull << (10 * (u + 1)));
        }
        mn_buf_printf(&b, "%.1f\xc2\xa0%s", scaled, units[u]);
    }
    if (mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

/* as defaultfilters.pluralize: singular when float(value) == 1, or len(value) == 1. */
static mn_value *f_pluralize(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    mn_str a = {"s", 1};
    if (arg && mn__ftext(c, arg, &a) < 0)
        return NULL;
    const char *comma = memchr(a.ptr, ',', a.len);
    mn_str singular = {"", 0}, plural = a;
    if (comma) {
        singular = (mn_str){a.ptr, (size_t)(comma - a.ptr)};
        plural = (mn_str){comma + 1, a.len - singular.len - 1};
        if (memchr(plural.ptr, ',', plural.len))
            return mn_value_empty_string();
    }
    bool one;
    double d;
    switch (mn_value_kind_of(v)) {
    case MN_VALUE_INT:
    case MN_VALUE_BOOL:
    case MN_VALUE_DOUBLE:
    case MN_VALUE_DECIMAL:
        mn_value_to_double(v, &d);
        one = d == 1.0;
        break;
    case MN_VALUE_STRING:
        if (mn_value_to_double(v, &d) < 0)
            return mn_value_empty_string();
        one = d == 1.0;
        break;
    case MN_VALUE_LIST:
    case MN_VALUE_DICT:
    case MN_VALUE_OBJECT: {
        int64_t n;
        if (mn_value_length(v, c->arena, &n) < 0)
            return mn_value_empty_string();
        one = n == 1;
        break;
    }
    default: return mn_value_empty_string();
    }
    mn_str r = one ? singular : plural;
    return mn_value_str_ref(c->arena, r.ptr, r.len);
}

/* as defaultfilters.yesno: "yes,no,maybe"; with two choices None gives the second. */
static mn_value *f_yesno(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    mn_str a = {"yes,no,maybe", 12};
    if (arg && mn__ftext(c, arg, &a) < 0)
        return NULL;
    mn_str bits[3];
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= a.len; i++) {
        if (i < a.len && a.ptr[i] != ',')
            continue;
        if (n < 3)
            bits[n] = (mn_str){a.ptr + start, i - start};
        n++;
        start = i + 1;
    }
    if (n < 2)
        return v;
    if (n != 3)
        bits[2] = bits[1];
    mn_str r;
    if (mn_value_is_none(v)) {
        r = bits[2];
    } else {
        int t = mn_value_truth(v, c->arena);
        if (t < 0)
            return mn__ffail(c, "evaluating the value failed");
        r = t ? bits[0] : bits[1];
    }
    return mn_value_str_ref(c->arena, r.ptr, r.len);
}

static mn_value *f_default(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    int t = mn_value_truth(v, c->arena);
    if (t < 0)
        return mn__ffail(c, "evaluating the value failed");
    return t ? v : arg;
}

static mn_value *f_default_if_none(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)c;
    return mn_value_is_none(v) ? arg : v;
}

/* ---- Writers (internal.h). ---- */

/* floatformat:N (N > 0) of a double that fixed_fast can do; the rest declines. The digits
 * need no escaping. */
static int w_floatformat(const mn_filter_call *c, mn_value *v, mn_value *arg, bool escape,
                         mn_buf *out)
{
    (void)c, (void)escape;
    if (v->kind != MN_VALUE_DOUBLE || !arg || arg->kind != MN_VALUE_INT || arg->u.i < 1 ||
        arg->u.i > 15)
        return MN_FILTER_DECLINE;
    if (mn_buf_reserve(out, 48) < 0)
        return MN_ENOMEM;
    size_t n = fixed_fast(v->u.d, (int)arg->u.i, out->data + out->len);
    if (!n)
        return MN_FILTER_DECLINE;
    out->len += n;
    return MN_OK;
}

static int w_yesno(const mn_filter_call *c, mn_value *v, mn_value *arg, bool escape, mn_buf *out)
{
    mn_str a = {"yes,no,maybe", 12};
    if (arg) {
        if (arg->kind != MN_VALUE_STRING)
            return MN_FILTER_DECLINE;
        a = arg->u.str;
    }
    /* "yes,no[,maybe]": more than two commas is Django's ValueError, handled by f_yesno */
    const char *c1 = memchr(a.ptr, ',', a.len);
    if (!c1)
        return MN_FILTER_DECLINE; /* the value itself */
    const char *end = a.ptr + a.len;
    const char *c2 = memchr(c1 + 1, ',', (size_t)(end - c1 - 1));
    if (c2 && memchr(c2 + 1, ',', (size_t)(end - c2 - 1)))
        return MN_FILTER_DECLINE;
    mn_str bits[3];
    bits[0] = (mn_str){a.ptr, (size_t)(c1 - a.ptr)};
    bits[1] = (mn_str){c1 + 1, (size_t)((c2 ? c2 : end) - c1 - 1)};
    bits[2] = c2 ? (mn_str){c2 + 1, (size_t)(end - c2 - 1)} : bits[1];
    mn_str r;
    if (mn_value_is_none(v)) {
        r = bits[2];
    } else {
        int t = mn_value_truth(v, c->arena);
        if (t < 0) {
            mn_filter_fail(c, "evaluating the value failed");
            return t;
        }
        r = t ? bits[0] : bits[1];
    }
    return escape ? mn__escape(out, r.ptr, r.len) : mn__put(out, r.ptr, r.len);
}

/* default is not is_safe: the chosen value is written as itself */
static int w_default(const mn_filter_call *c, mn_value *v, mn_value *arg, bool escape, mn_buf *out)
{
    (void)escape;
    int t = mn_value_truth(v, c->arena);
    if (t < 0) {
        mn_filter_fail(c, "evaluating the value failed");
        return t;
    }
    return mn__write_value(c->render, t ? v : arg, out);
}

void mn__filters_register_number(mn_template_library *lib)
{
    enum { SAFE = MN_FILTER_IS_SAFE, A = MN_FILTER_ARG, O = MN_FILTER_ARG_OPTIONAL };
    mn_template_library_add_filter(lib, "add", f_add, A);
    mn_template_library_add_filter(lib, "divisibleby", f_divisibleby, A);
    mn_template_library_add_filter(lib, "floatformat", f_floatformat, SAFE | O);
    mn_template_library_add_filter(lib, "filesizeformat", f_filesizeformat, SAFE);
    mn_template_library_add_filter(lib, "get_digit", f_get_digit, A);
    mn_template_library_add_filter(lib, "pluralize", f_pluralize, O);
    mn_template_library_add_filter(lib, "yesno", f_yesno, O);
    mn_template_library_add_filter(lib, "default", f_default, A);
    mn__library_set_filter_writer(lib, "floatformat", w_floatformat);
    mn__library_set_filter_writer(lib, "yesno", w_yesno);
    mn__library_set_filter_writer(lib, "default", w_default);
    mn_template_library_add_filter(lib, "default_if_none", f_default_if_none, A);
}
