/* value_json.c — JSON (jansson) to template values, and ISO date/time parsing, for the
 * `manouche render` command and tests. Tagged one-key objects ({"__date__": "..."}) carry
 * the kinds JSON has no syntax for. */
#include <manouche/value.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int digits(const char *s, size_t len, size_t *pos, int n, int32_t *out)
{
    int32_t v = 0;
    for (int i = 0; i < n; i++) {
        if (*pos >= len || s[*pos] < '0' || s[*pos] > '9')
            return -1;
        v = v * 10 + (s[(*pos)++] - '0');
    }
    *out = v;
    return 0;
}

static int parse_time_part(const char *s, size_t len, size_t *pos, mn_datetime *t)
{
    if (digits(s, len, pos, 2, &t->hour) || *pos >= len || s[(*pos)++] != ':' ||
        digits(s, len, pos, 2, &t->minute))
        return -1;
    if (*pos < len && s[*pos] == ':') {
        (*pos)++;
        if (digits(s, len, pos, 2, &t->second))
            return -1;
        if (*pos < len && s[*pos] == '.') {
            (*pos)++;
            int32_t us = 0;
            int n = 0;
            while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
                if (n < 6)
                    us = us * 10 + (s[*pos] - '0');
                n++;
                (*pos)++;
            }
            if (!n)
                return -1;
            for (; n < 6; n++)
                us *= 10;
            t->microsecond = us;
        }
    }
    if (*pos < len && (s[*pos] == 'Z' || s[*pos] == 'z')) {
        (*pos)++;
        t->aware = true;
        t->utc_offset = 0;
        t->tzname = "UTC";
    } else if (*pos < len && (s[*pos] == '+' || s[*pos] == '-')) {
        int sign = s[(*pos)++] == '-' ? -1 : 1;
        int32_t hh, mm = 0;
        if (digits(s, len, pos, 2, &hh))
            return -1;
        if (*pos < len && s[*pos] == ':')
            (*pos)++;
        if (*pos < len && digits(s, len, pos, 2, &mm))
            return -1;
        t->aware = true;
        t->utc_offset = sign * (hh * 3600 + mm * 60);
    }
    if (t->hour > 23 || t->minute > 59 || t->second > 59)
        return -1;
    return 0;
}

int mn_datetime_parse(const char *s, size_t len, mn_datetime *out, mn_value_kind *kind)
{
    mn_datetime t;
    memset(&t, 0, sizeof t);
    size_t pos = 0;
    if (len >= 5 && s[2] == ':') {
        t.year = 1900, t.month = 1, t.day = 1;
        if (parse_time_part(s, len, &pos, &t) || pos != len)
            return MN_EINVAL;
        *out = t;
        *kind = MN_VALUE_TIME;
        return MN_OK;
    }
    if (digits(s, len, &pos, 4, &t.year) || pos >= len || s[pos++] != '-' ||
        digits(s, len, &pos, 2, &t.month) || pos >= len || s[pos++] != '-' ||
        digits(s, len, &pos, 2, &t.day))
        return MN_EINVAL;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > mdays[t.month - 1] || t.year < 1)
        return MN_EINVAL;
    if (t.month == 2 && t.day == 29 &&
        !((t.year % 4 == 0 && t.year % 100 != 0) || t.year % 400 == 0))
        return MN_EINVAL;
    if (pos == len) {
        *out = t;
        *kind = MN_VALUE_DATE;
        return MN_OK;
    }
    if (s[pos] != 'T' && s[pos] != ' ' && s[pos] != 't')
        return MN_EINVAL;
    pos++;
    if (parse_time_part(s, len, &pos, &t) || pos != len)
        return MN_EINVAL;
    *out = t;
    *kind = MN_VALUE_DATETIME;
    return MN_OK;
}

static mn_value *convert(mn_arena *a, const json_t *j, int depth);

/* str(Decimal(s)) as Python writes it: leading zeros and '+' dropped, the exponent folded in,
 * scientific notation with a capital E when the exponent is positive or the number is
 * smaller than 1E-6 ("1e-10" -> "1E-10", "1.5e3" -> "1.5E+3", "1e-6" -> "0.000001"). Text
 * that is no finite decimal is kept as given. */
static mn_value *decimal_value(mn_arena *a, const char *s, size_t len)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    char *digits = mn_arena_alloc(a, len + 1);
    if (!digits)
        return NULL;
    size_t nd = 0, ndigits = 0;
    int64_t exp = 0;
    bool point = false;
    for (; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            ndigits++;
            if (nd || s[i] != '0')
                digits[nd++] = s[i];
            if (point)
                exp--;
        } else if (s[i] == '.' && !point) {
            point = true;
        } else {
            break;
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E') && ndigits) {
        int64_t e = 0;
        mn_str es = {s + i + 1, len - i - 1};
        if (es.len && es.ptr[0] == '+')
            es.ptr++, es.len--;
        size_t d0 = es.len && es.ptr[0] == '-' ? 1 : 0; /* a digit must follow the sign */
        if (es.len <= d0 || es.ptr[d0] < '0' || es.ptr[d0] > '9')
            return mn_value_decimal(a, s, len);
        if (mn_str_to_i64(es, &e) < 0 || e > 1000000 || e < -1000000)
            return mn_value_decimal(a, s, len);
        exp += e;
        i = len;
    }
    if (i != len || !ndigits)
        return mn_value_decimal(a, s, len);
    if (!nd)
        digits[nd++] = '0';
    int64_t adjusted = exp + (int64_t)nd - 1;
    mn_buf b;
    mn_buf_init(&b, a);
    if (neg)
        mn_buf_putc(&b, '-');
    if (exp <= 0 && adjusted >= -6) {
        int64_t dot = (int64_t)nd + exp; /* digits before the point */
        if (exp == 0) {
            mn_buf_append(&b, digits, nd);
        } else if (dot > 0) {
            mn_buf_append(&b, digits, (size_t)dot);
            mn_buf_putc(&b, '.');
            mn_buf_append(&b, digits + dot, nd - (size_t)dot);
        } else {
            mn_buf_puts(&b, "0.");
            for (int64_t k = 0; k < -dot; k++)
                mn_buf_putc(&b, '0');
            mn_buf_append(&b, digits, nd);
        }
    } else {
        mn_buf_putc(&b, digits[0]);
        if (nd > 1) {
            mn_buf_putc(&b, '.');
            mn_buf_append(&b, digits + 1, nd - 1);
        }
        mn_buf_printf(&b, "E%c%lld", adjusted < 0 ? '-' : '+',
                      (long long)(adjusted < 0 ? -adjusted : adjusted));
    }
    if (mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn_value_decimal(a, b.data, b.len);
}

static mn_value *tagged(mn_arena *a, const json_t *j)
{
    if (json_object_size(j) != 1)
        return NULL;
    const char *key = json_object_iter_key(json_object_iter((json_t *)j));
    const json_t *val = json_object_iter_value(json_object_iter((json_t *)j));
    if (!json_is_string(val) || strncmp(key, "__", 2) != 0)
        return NULL;
    const char *s = json_string_value(val);
    size_t len = json_string_length(val);
    if (strcmp(key, "__safe__") == 0)
        return mn_value_safe(a, s, len);
    if (strcmp(key, "__decimal__") == 0)
        return decimal_value(a, s, len);
    mn_value_kind want;
    if (strcmp(key, "__date__") == 0)
        want = MN_VALUE_DATE;
    else if (strcmp(key, "__datetime__") == 0)
        want = MN_VALUE_DATETIME;
    else if (strcmp(key, "__time__") == 0)
        want = MN_VALUE_TIME;
    else
        return NULL;
    mn_datetime dt;
    mn_value_kind kind;
    if (mn_datetime_parse(s, len, &dt, &kind) < 0)
        return NULL;
    if (want == MN_VALUE_DATETIME && kind == MN_VALUE_DATE)
        kind = MN_VALUE_DATETIME;
    if (kind != want)
        return NULL;
    if (kind == MN_VALUE_DATE)
        return mn_value_date(a, dt.year, dt.month, dt.day);
    return kind == MN_VALUE_TIME ? mn_value_time(a, &dt) : mn_value_datetime(a, &dt);
}

/* Python's int has no width limit but jansson's stops at 64 bits: a document with a wider
 * integer literal is read again with each such literal turned into a string that starts
 * with this marker (a NUL byte no JSON text of ours begins a string with), and the marker
 * string becomes a DECIMAL value that prints its digits. */
static const char wide_marker[] = "\\u0000mn-wide-int:";
#define WIDE_PREFIX "\0mn-wide-int:"

static bool fits_int64(const char *s, size_t n)
{
    bool neg = s[0] == '-';
    size_t nd = n - neg;
    static const char max[] = "9223372036854775807", min[] = "9223372036854775808";
    if (nd != 19)
        return nd < 19;
    return memcmp(s + neg, neg ? min : max, 19) <= 0;
}

/* Appends to out the text with every integer literal wider than 64 bits quoted behind the
 * marker; false when there is none (or on ENOMEM). */
static bool quote_wide_ints(const char *json, size_t len, mn_buf *out)
{
    bool found = false, in_str = false;
    size_t copied = 0; /* json[copied..] is not in out yet */
    for (size_t i = 0; i < len;) {
        if (in_str) {
            if (json[i] == '\\')
                i = i + 2 <= len ? i + 2 : len;
            else
                in_str = json[i++] != '"';
            continue;
        }
        if (json[i] == '"') {
            in_str = true;
            i++;
            continue;
        }
        if (json[i] != '-' && !(json[i] >= '0' && json[i] <= '9')) {
            i++;
            continue;
        }
        bool integer = true;
        size_t end = i + 1;
        while (end < len &&
               (json[end] == '-' || json[end] == '+' || json[end] == '.' || json[end] == 'e' ||
                json[end] == 'E' || (json[end] >= '0' && json[end] <= '9'))) {
            if (json[end] == '.' || json[end] == 'e' || json[end] == 'E')
                integer = false;
            end++;
        }
        if (integer && !fits_int64(json + i, end - i)) {
            found = true;
            if (mn_buf_append(out, json + copied, i - copied) < 0 || mn_buf_putc(out, '"') < 0 ||
                mn_buf_append(out, wide_marker, sizeof wide_marker - 1) < 0 ||
                mn_buf_append(out, json + i, end - i) < 0 || mn_buf_putc(out, '"') < 0)
                return false;
            copied = end;
        }
        i = end;
    }
    return found && mn_buf_append(out, json + copied, len - copied) == MN_OK;
}

static mn_value *string_value(mn_arena *a, const char *s, size_t len)
{
    size_t pl = sizeof WIDE_PREFIX - 1;
    if (len > pl && s[0] == 0 && memcmp(s, WIDE_PREFIX, pl) == 0) {
        mn_value *v = mn_value_decimal(a, s + pl, len - pl);
        if (v)
            v->wide_int = true;
        return v;
    }
    return mn_value_str(a, s, len);
}

static mn_value *convert(mn_arena *a, const json_t *j, int depth)
{
    if (depth > 200)
        return NULL;
    switch (json_typeof(j)) {
    case JSON_NULL: return mn_value_none();
    case JSON_TRUE: return mn_value_true();
    case JSON_FALSE: return mn_value_false();
    case JSON_INTEGER: return mn_value_int(a, (int64_t)json_integer_value(j));
    case JSON_REAL: return mn_value_double(a, json_real_value(j));
    case JSON_STRING: return string_value(a, json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        mn_value *l = mn_value_list(a, json_array_size(j));
        if (!l)
            return NULL;
        for (size_t i = 0; i < json_array_size(j); i++) {
            mn_value *item = convert(a, json_array_get(j, i), depth + 1);
            if (!item || mn_value_list_append(a, l, item) < 0)
                return NULL;
        }
        return l;
    }
    case JSON_OBJECT: {
        mn_value *t = tagged(a, j);
        if (t)
            return t;
        mn_value *d = mn_value_dict(a, json_object_size(j));
        if (!d)
            return NULL;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val)
        {
            mn_value *item = convert(a, val, depth + 1);
            if (!item || mn_value_dict_set(a, d, key, strlen(key), item) < 0)
                return NULL;
        }
        return d;
    }
    }
    return NULL;
}

mn_value *mn_value_from_jansson(mn_arena *a, const void *json_t_ptr)
{
    return json_t_ptr ? convert(a, json_t_ptr, 0) : NULL;
}

mn_value *mn_value_from_json(mn_arena *a, const char *json, size_t len, char *errbuf,
                             size_t errbuf_size)
{
    json_error_t jerr;
    json_t *j = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j && strstr(jerr.text, "too big")) {
        mn_buf wide;
        mn_buf_init(&wide, NULL);
        if (quote_wide_ints(json, len, &wide))
            j = json_loadb(wide.data, wide.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        mn_buf_free(&wide);
    }
    if (!j) {
        if (errbuf && errbuf_size)
            snprintf(errbuf, errbuf_size, "invalid JSON at line %d, column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        return NULL;
    }
    mn_value *v = convert(a, j, 0);
    json_decref(j);
    if (!v && errbuf && errbuf_size)
        snprintf(errbuf, errbuf_size, "JSON too deep, a bad tagged value, or out of memory");
    return v;
}
