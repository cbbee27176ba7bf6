/* convert.c — values between the three places they live: C struct members (mn_datetime,
 * decimal text, int64...), bound parameters (mn_dbparam) and result cells, plus template
 * values. It fixes how each type is stored (see model.c's header comment): datetimes in UTC,
 * decimals exact (scaled integers on SQLite, quantised NUMERIC text on PostgreSQL), uuids in
 * canonical form. Conversions check their input and fail with Django's messages. */
#include "compile.h"      /* mn__django_class */
#include "rel_internal.h" /* mn__load_deferred */

#include <manouche/json.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>

/* ---- dates: proleptic Gregorian day numbers (Howard Hinnant's algorithms) ---- */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int32_t *y, int32_t *m, int32_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int32_t)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int32_t)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int32_t)(yoe + era * 400 + (*m <= 2));
}

/* Normalises an aware datetime to UTC (naive ones are taken as UTC already). */
static mn_datetime to_utc(const mn_datetime *in)
{
    mn_datetime dt = *in;
    if (dt.aware && dt.utc_offset != 0) {
        int64_t secs = days_from_civil(dt.year, dt.month, dt.day) * 86400 + dt.hour * 3600 +
                       dt.minute * 60 + dt.second - dt.utc_offset;
        int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
        int64_t rem = secs - days * 86400;
        civil_from_days(days, &dt.year, &dt.month, &dt.day);
        dt.hour = (int32_t)(rem / 3600);
        dt.minute = (int32_t)(rem % 3600 / 60);
        dt.second = (int32_t)(rem % 60);
    }
    dt.aware = true;
    dt.utc_offset = 0;
    dt.tzname = "UTC";
    return dt;
}

/* A value Python's date/datetime/time could hold: year 1..9999, a day that exists in its
 * month, hours 0..23 and so on. Checked before the value is written anywhere, since SQLite
 * would store 2024-02-30 as given while PostgreSQL refuses it. */
static bool datetime_valid(const mn_datetime *v, mn_ftype t)
{
    if (t != MN_DATE) {
        if (v->hour < 0 || v->hour > 23 || v->minute < 0 || v->minute > 59 || v->second < 0 ||
            v->second > 59 || v->microsecond < 0 || v->microsecond > 999999)
            return false;
        if (t == MN_TIME)
            return true;
    }
    static const int8_t mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (v->year < 1 || v->year > 9999 || v->month < 1 || v->month > 12 || v->day < 1)
        return false;
    bool leap = v->year % 4 == 0 && (v->year % 100 != 0 || v->year % 400 == 0);
    return v->day <= mdays[v->month - 1] + (v->month == 2 && leap);
}

/* Django's message for a value of the right shape that is no real date/datetime/time (same
 * wording as validate.c's full_clean). */
static const char *invalid_datetime_message(mn_arena *ar, const char *shown, mn_ftype t)
{
    return mn_arena_printf(ar,
                           "\xe2\x80\x9c%s\xe2\x80\x9d value has the correct format (%s) but it is "
                           "an invalid %s.",
                           shown,
                           t == MN_DATE   ? "YYYY-MM-DD"
                           : t == MN_TIME ? "HH:MM[:ss[.uuuuuu]]"
                                          : "YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ]",
                           t == MN_DATE   ? "date"
                           : t == MN_TIME ? "time"
                                          : "date/time");
}

/* The text the database gets; an impossible value (see datetime_valid) is written as given,
 * for the error message, and MN_EINVAL returned. */
int mn__format_datetime(const mn_datetime *in, mn_ftype t, mn_dbdialect d, char *buf, size_t n)
{
    if (!datetime_valid(in, t)) {
        int len = 0;
        if (t != MN_TIME)
            len = snprintf(buf, n, "%04d-%02d-%02d%s", in->year, in->month, in->day,
                           t == MN_DATE ? "" : " ");
        if (t != MN_DATE && (size_t)len < n) {
            len += snprintf(buf + len, n - (size_t)len, "%02d:%02d:%02d", in->hour, in->minute,
                            in->second);
            if (in->microsecond && (size_t)len < n)
                snprintf(buf + len, n - (size_t)len, ".%06d", in->microsecond);
        }
        return MN_EINVAL;
    }
    if (t == MN_DATE) {
        /* an aware datetime given to a DateField is its date in UTC (Django's to_python
         * converts it to the current time zone first) */
        mn_datetime dt = in->aware && in->utc_offset ? to_utc(in) : *in;
        return snprintf(buf, n, "%04d-%02d-%02d", dt.year, dt.month, dt.day);
    }
    if (t == MN_TIME) {
        if (in->microsecond)
            return snprintf(buf, n, "%02d:%02d:%02d.%06d", in->hour, in->minute, in->second,
                            in->microsecond);
        return snprintf(buf, n, "%02d:%02d:%02d", in->hour, in->minute, in->second);
    }
    mn_datetime dt = to_utc(in);
    int len = snprintf(buf, n, "%04d-%02d-%02d %02d:%02d:%02d", dt.year, dt.month, dt.day, dt.hour,
                       dt.minute, dt.second);
    if (dt.microsecond)
        len += snprintf(buf + len, n - (size_t)len, ".%06d", dt.microsecond);
    if (d == MN_DIALECT_POSTGRESQL)
        len += snprintf(buf + len, n - (size_t)len, "+00:00");
    return len;
}

static bool digits(const char *s, size_t len, size_t at, size_t n, int32_t *out)
{
    if (at + n > len)
        return false;
    int32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[at + i]))
            return false;
        v = v * 10 + (s[at + i] - '0');
    }
    *out = v;
    return true;
}

static size_t parse_time_part(const char *s, size_t len, size_t i, mn_datetime *out)
{
    if (!digits(s, len, i, 2, &out->hour) || i + 2 >= len || s[i + 2] != ':' ||
        !digits(s, len, i + 3, 2, &out->minute))
        return 0;
    i += 5;
    if (i < len && s[i] == ':') {
        if (!digits(s, len, i + 1, 2, &out->second))
            return 0;
        i += 3;
        if (i < len && (s[i] == '.' || s[i] == ',')) {
            i++;
            int32_t us = 0, nd = 0;
            while (i < len && isdigit((unsigned char)s[i])) {
                if (nd < 6)
                    us = us * 10 + (s[i] - '0'), nd++;
                i++;
            }
            if (nd == 0)
                return 0;
            while (nd++ < 6)
                us *= 10;
            out->microsecond = us;
        }
    }
    return i;
}

/* 0, MN_EINVAL for text of the wrong shape, or WRONG_VALUE for the right shape holding no
 * real date/time ("2024-02-30", "25:00"), which Django words differently. */
enum { WRONG_VALUE = 1 };
static int parse_datetime(const char *s, size_t len, mn_ftype t, mn_datetime *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    if (t == MN_TIME) {
        i = parse_time_part(s, len, 0, out);
        if (!i || i != len)
            return MN_EINVAL;
        return datetime_valid(out, MN_TIME) ? 0 : WRONG_VALUE;
    }
    if (!digits(s, len, 0, 4, &out->year) || len < 10 || s[4] != '-' ||
        !digits(s, len, 5, 2, &out->month) || s[7] != '-' || !digits(s, len, 8, 2, &out->day))
        return MN_EINVAL;
    i = 10;
    if (i < len && (s[i] == ' ' || s[i] == 'T')) {
        i = parse_time_part(s, len, i + 1, out);
        if (!i)
            return MN_EINVAL;
        if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
            out->aware = true;
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i] == '-' ? -1 : 1;
            int32_t hh = 0, mm = 0;
            if (!digits(s, len, i + 1, 2, &hh))
                return MN_EINVAL;
            i += 3;
            if (i < len && s[i] == ':')
                i++;
            if (i < len && digits(s, len, i, 2, &mm))
                i += 2;
            out->aware = true;
            out->utc_offset = sign * (hh * 3600 + mm * 60);
        }
    }
    if (i != len)
        return MN_EINVAL;
    if (!datetime_valid(out, MN_DATETIME))
        return WRONG_VALUE;
    if (t == MN_DATETIME)
        *out = to_utc(out);
    else if (t == MN_DATE)
        out->hour = out->minute = out->second = out->microsecond = 0;
    return 0;
}

int mn__parse_datetime(const char *s, size_t len, mn_ftype t, mn_datetime *out)
{
    return parse_datetime(s, len, t, out) ? MN_EINVAL : 0;
}

/* ---- decimals: text <-> integer scaled by 10^places, exactly ---- */
int mn__decimal_parse(mn_arena *a, const char *s, const char **plain, int *ndigits, int *exponent)
{
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    const char *first = NULL; /* first significant digit */
    int n = 0, frac = 0, nd = 0;
    bool point = false;
    for (; *p && *p != 'e' && *p != 'E' && !isspace((unsigned char)*p); p++) {
        if (*p == '.' && !point) {
            point = true;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            return MN_EINVAL;
        nd++;
        frac += point;
        if (!first && *p != '0')
            first = p;
        n += first != NULL;
    }
    if (!nd)
        return MN_EINVAL;
    long exp = 0;
    if (*p == 'e' || *p == 'E') {
        char *end;
        p++;
        if (!isdigit((unsigned char)*p) &&
            !((*p == '-' || *p == '+') && isdigit((unsigned char)p[1])))
            return MN_EINVAL;
        exp = strtol(p, &end, 10);
        p = end;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p || exp > 1000 || exp < -1000)
        return MN_EINVAL;
    exp -= frac;
    if (ndigits)
        *ndigits = n;
    if (exponent)
        *exponent = (int)exp;
    if (!plain)
        return 0;
    /* the significant digits, without the point */
    mn_buf d;
    mn_buf_init(&d, a);
    for (const char *q = first; q && n && d.len < (size_t)n; q++)
        if (*q != '.')
            mn_buf_putc(&d, *q);
    if (!n)
        mn_buf_putc(&d, '0');
    mn_buf b;
    mn_buf_init(&b, a);
    if (neg && n)
        mn_buf_putc(&b, '-');
    if (exp >= 0) {
        mn_buf_append(&b, d.data, d.len);
        for (long i = 0; i < exp && n; i++)
            mn_buf_putc(&b, '0');
    } else if (d.len > (size_t)-exp) {
        mn_buf_append(&b, d.data, d.len - (size_t)-exp);
        mn_buf_putc(&b, '.');
        mn_buf_append(&b, d.data + d.len - (size_t)-exp, (size_t)-exp);
    } else {
        mn_buf_puts(&b, "0.");
        for (long i = (long)d.len; i < -exp; i++)
            mn_buf_putc(&b, '0');
        mn_buf_append(&b, d.data, d.len);
    }
    *plain = mn_buf_cstr(&b);
    return *plain ? 0 : MN_ENOMEM;
}

static int decimal_to_scaled(const char *s, int places, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    while (*p == ' ')
        p++;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    __int128 v = 0;
    int frac = -1, nd = 0;
    bool round_up = false;
    for (; *p; p++) {
        if (*p == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            return MN_EINVAL;
        nd++;
        if (frac >= 0) {
            if (frac == places) {
                if (frac == places && !round_up && *p >= '5')
                    round_up = true;
                frac++;
                continue;
            }
            if (frac > places)
                continue;
            frac++;
        }
        v = v * 10 + (*p - '0');
        if (v > INT64_MAX)
            return MN_ETOOBIG;
    }
    if (!nd)
        return MN_EINVAL;
    for (int f = frac < 0 ? 0 : (frac > places ? places : frac); f < places; f++) {
        v *= 10;
        if (v > INT64_MAX)
            return MN_ETOOBIG;
    }
    if (round_up)
        v++;
    *out = (int64_t)(neg ? -v : v);
    return 0;
}

/* How many digits s has once rounded to places (half away from zero, as PostgreSQL's numeric
 * and decimal_to_scaled), leading zeros left out; -1 when s is no decimal number. */
static int rounded_digits(const char *s, int places)
{
    const char *p = s;
    while (*p == ' ')
        p++;
    if (*p == '-' || *p == '+')
        p++;
    int kept = 0;          /* digits kept so far, from the first non-zero one */
    bool all_nines = true; /* every kept digit is a 9: rounding up adds one */
    bool round_up = false;
    int frac = -1, nd = 0;
    for (; *p; p++) {
        if (*p == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            return -1;
        nd++;
        if (frac >= 0 && frac++ >= places) {
            if (frac == places + 1)
                round_up = *p >= '5';
            continue;
        }
        if (kept || *p != '0') {
            kept++;
            all_nines &= *p == '9';
        }
    }
    if (!nd)
        return -1;
    int pad = places - (frac < 0 ? 0 : frac > places ? places : frac); /* 1 is 1.00 */
    if (kept && pad)
        kept += pad, all_nines = false;
    return kept + (round_up && all_nines);
}

/* A value for DecimalField f as decimal text without exponent (Decimal("0E-10"), "1e3" as
 * "1000"); NULL when it is no text or number (or memory ran out). */
static const char *decimal_text(mn_arena *ar, const mn_fielddef *f, mn_arg a)
{
    const char *text = NULL;
    if (a.type == MN_ARG_VALUE && a.v.value &&
        (mn_value_kind_of(a.v.value) == MN_VALUE_DECIMAL ||
         mn_value_kind_of(a.v.value) == MN_VALUE_STRING))
        text = mn_arena_strndup(ar, a.v.value->u.str.ptr, a.v.value->u.str.len);
    else if (a.type == MN_ARG_STR)
        text = a.v.s;
    else if (a.type == MN_ARG_INT)
        text = mn_arena_printf(ar, "%lld", (long long)a.v.i);
    else if (a.type == MN_ARG_FLOAT)
        text = mn_arena_printf(ar, "%.*f", f->decimal_places, a.v.f);
    const char *plain;
    if (text && mn__decimal_parse(ar, text, &plain, NULL, NULL) == 0)
        text = plain;
    return text;
}

int mn__decimal_fits(mn_orm *o, const mn_fielddef *f, mn_arg a)
{
    const char *text = decimal_text(o->arena, f, a);
    int md = f->max_digits ? f->max_digits : 18; /* as schema.c's numeric(18, ...) */
    int n = text ? rounded_digits(text, f->decimal_places) : -1;
    if (n <= md) /* fits, or no number: its conversion says so */
        return 0;
    /* PostgreSQL refuses it (22003); SQLite's scaled integer would keep it silently */
    return mn__orm_fail(o, MN_EDB_DATA,
                        "numeric field overflow: '%s' does not fit %s.%s (max_digits=%d, "
                        "decimal_places=%d: at most %d digit%s before the decimal point)",
                        text, f->model->name, f->name, md, f->decimal_places,
                        md - f->decimal_places, md - f->decimal_places == 1 ? "" : "s");
}

static char *scaled_to_decimal(mn_arena *a, int64_t v, int places)
{
    char digits_buf[32];
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    int n = snprintf(digits_buf, sizeof digits_buf, "%llu", (unsigned long long)u);
    mn_buf b;
    mn_buf_init(&b, a);
    if (v < 0)
        mn_buf_putc(&b, '-');
    if (n <= places) {
        mn_buf_puts(&b, "0");
        if (places) {
            mn_buf_putc(&b, '.');
            for (int i = n; i < places; i++)
                mn_buf_putc(&b, '0');
            mn_buf_puts(&b, digits_buf);
        }
    } else {
        mn_buf_append(&b, digits_buf, (size_t)(n - places));
        if (places) {
            mn_buf_putc(&b, '.');
            mn_buf_puts(&b, digits_buf + n - places);
        }
    }
    return mn_buf_cstr(&b);
}

/* ---- conversions ---- */
int mn__uuid_normalise(mn_arena *a, const char *s, const char **out)
{
    char hex[33];
    size_t n = 0;
    /* uuid.UUID(hex=...) drops "urn:" and "uuid:", then braces and hyphens */
    if (strncmp(s, "urn:", 4) == 0)
        s += 4;
    if (strncmp(s, "uuid:", 5) == 0)
        s += 5;
    for (const char *p = s; *p; p++) {
        if (*p == '-' || (*p == '{' && p == s) || (*p == '}' && !p[1]))
            continue;
        if (!isxdigit((unsigned char)*p) || n >= 32)
            return MN_EINVAL;
        hex[n++] = (char)tolower((unsigned char)*p);
    }
    if (n != 32)
        return MN_EINVAL;
    hex[32] = '\0';
    *out =
        mn_arena_printf(a, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    return *out ? 0 : MN_ENOMEM;
}

static int text_param(mn_orm *o, const char *s, mn_dbparam *out)
{
    (void)o;
    *out = mn_dbp_text(s);
    return 0;
}

/* A GenericIPAddressField value as Django stores it: an IPv6 address compressed and in lower
 * case (clean_ipv6_address; PostgreSQL's inet does the same), "" as NULL. */
static int ip_param(mn_orm *o, const char *s, mn_dbparam *out)
{
    unsigned char addr[16];
    char buf[INET6_ADDRSTRLEN];
    if (!*s) {
        *out = mn_dbp_null();
        return 0;
    }
    if (strchr(s, ':') && inet_pton(AF_INET6, s, addr) == 1 &&
        inet_ntop(AF_INET6, addr, buf, sizeof buf)) {
        const char *norm = mn_arena_strdup(o->arena, buf);
        if (!norm)
            return MN_ENOMEM;
        s = norm;
    }
    *out = mn_dbp_text(s);
    return 0;
}

/* A decoded document (a JSONField's value in a values() row, Django's dict or list) as JSON
 * text again. */
static int value_json(mn_json_writer *w, const mn_value *v, int depth)
{
    int rc = 0;
    if (depth > 100)
        return MN_EINVAL;
    switch (mn_value_kind_of(v)) {
    case MN_VALUE_NONE: return mn_json_write_null(w);
    case MN_VALUE_BOOL: return mn_json_write_bool(w, v->u.b);
    case MN_VALUE_INT: return mn_json_write_int(w, v->u.i);
    case MN_VALUE_DOUBLE: return mn_json_write_double(w, v->u.d);
    case MN_VALUE_STRING: return mn_json_write_string_n(w, v->u.str.ptr, v->u.str.len);
    case MN_VALUE_LIST:
        rc = mn_json_begin_array(w);
        for (size_t i = 0; rc == 0 && i < v->u.list.len; i++)
            rc = value_json(w, v->u.list.items[i], depth + 1);
        return rc ? rc : mn_json_end_array(w);
    case MN_VALUE_DICT:
        rc = mn_json_begin_object(w);
        for (size_t i = 0; rc == 0 && i < v->u.dict.len; i++) {
            const mn_value_dict_entry *e = &v->u.dict.entries[i];
            rc = mn_json_key_n(w, e->key.ptr, e->key.len);
            if (rc == 0)
                rc = value_json(w, e->value, depth + 1);
        }
        return rc ? rc : mn_json_end_object(w);
    default: return MN_EINVAL; /* Python's json.dumps refuses a Decimal, a date... */
    }
}

int mn__arg_param(mn_orm *o, const mn_fielddef *f, mn_arg a, mn_dbdialect d, mn_dbparam *out)
{
    mn_arena *ar = o->arena;
    if (a.type == MN_ARG_NULL || (a.type == MN_ARG_STR && !a.v.s)) {
        *out = mn_dbp_null();
        return 0;
    }
    if (a.type == MN_ARG_VALUE) {
        const mn_value *v = a.v.value;
        switch (mn_value_kind_of(v)) {
        case MN_VALUE_NONE: a = mn_arg_null(); break;
        case MN_VALUE_BOOL: a = mn_arg_bool(v->u.b); break;
        case MN_VALUE_INT: a = mn_arg_int(v->u.i); break;
        case MN_VALUE_DOUBLE: a = mn_arg_float(v->u.d); break;
        case MN_VALUE_DATE:
        case MN_VALUE_DATETIME:
        case MN_VALUE_TIME: a = mn_arg_dt(&v->u.dt); break;
        case MN_VALUE_STRING:
        case MN_VALUE_DECIMAL:
            a = mn_arg_str(mn_arena_strndup(ar, v->u.str.ptr, v->u.str.len));
            break;
        default: {
            /* what values() gives back goes in again: a timedelta, a JSON document */
            int64_t us;
            mn_buf text;
            mn_json_writer w;
            mn_buf_init(&text, ar);
            mn_json_writer_init(&w, &text);
            if (mn_value_duration(v, &us))
                a = mn_arg_int(us);
            else if (f->type == MN_JSON && value_json(&w, v, 0) == 0 &&
                     mn_json_writer_finish(&w) == 0 && mn_buf_cstr(&text))
                a = mn_arg_str(text.data);
            else
                return mn__orm_fail(o, MN_EINVAL, "%s.%s: unsupported value type", f->model->name,
                                    f->name);
        }
        }
        return mn__arg_param(o, f, a, d, out);
    }
    if (a.type == MN_ARG_INSTANCE) { /* an instance stands for its primary key */
        const mn_model *want = f->type == MN_FK || f->type == MN_O2O ? f->rel_model
                               : f == f->model->pk                   ? f->model
                                                                     : NULL;
        const mn_obj *x = a.v.obj;
        if (want && x && x->model != want) /* as Django's related lookups */
            return mn__orm_fail(o, MN_EINVAL, "Cannot query \"%s\": Must be \"%s\" instance.",
                                mn_obj_str(o, x), want->name);
        mn_arg k = mn__rel_arg(x, f); /* its pk, or the to_field a FK/O2O holds */
        if (k.type != MN_ARG_STR) {
            *out = k.type == MN_ARG_INT ? mn_dbp_int(k.v.i) : mn_dbp_null();
            return 0;
        }
        a = k; /* a text key goes through the column's conversion (uuids normalised) */
    }
    mn_ftype t = f->type;
    if (t == MN_FK || t == MN_O2O)
        t = f->rel_model && f->rel_model->pk ? mn__key_field(f)->type : MN_BIGINT;
    if (mn__is_int_type(t)) {
        switch (a.type) {
        case MN_ARG_INT:
        case MN_ARG_BOOL: *out = mn_dbp_int(a.type == MN_ARG_INT ? a.v.i : a.v.b); return 0;
        case MN_ARG_FLOAT: *out = mn_dbp_int((int64_t)a.v.f); return 0;
        case MN_ARG_STR: {
            int64_t v;
            if (mn_str_to_i64(mn_str_trim(mn_str_from(a.v.s)), &v) != 0)
                return mn__orm_fail(o, MN_EINVAL, "Field '%s' expected a number but got '%s'.",
                                    f->name, a.v.s);
            *out = mn_dbp_int(v);
            return 0;
        }
        default: break;
        }
    } else if (t == MN_FLOAT) {
        if (a.type == MN_ARG_FLOAT || a.type == MN_ARG_INT) {
            *out = mn_dbp_float(a.type == MN_ARG_FLOAT ? a.v.f : (double)a.v.i);
            return 0;
        }
        if (a.type == MN_ARG_STR) {
            char *end;
            double v = strtod(a.v.s, &end);
            if (end == a.v.s || *end)
                return mn__orm_fail(o, MN_EINVAL, "Field '%s' expected a number but got '%s'.",
                                    f->name, a.v.s);
            *out = mn_dbp_float(v);
            return 0;
        }
    } else if (t == MN_DECIMAL) {
        const char *text = decimal_text(ar, f, a);
        if (text) {
            if (d == MN_DIALECT_POSTGRESQL) {
                /* quantised to decimal_places as SQLite's scaled integer is, so both
                 * databases store (and give back) the same digits; wider ones go as given */
                int64_t scaled;
                int rc = decimal_to_scaled(text, f->decimal_places, &scaled);
                if (rc == MN_EINVAL)
                    return mn__orm_fail(o, MN_EINVAL, "'%s' value must be a decimal number.", text);
                if (rc == 0)
                    text = scaled_to_decimal(ar, scaled, f->decimal_places);
                return text_param(o, text, out);
            }
            int64_t v;
            int rc = decimal_to_scaled(text, f->decimal_places, &v);
            if (rc == MN_ETOOBIG) /* not "no number": say which limit it is */
                return mn__orm_fail(o, MN_EDB_DATA,
                                    "'%s' does not fit %s.%s on SQLite, which keeps a decimal "
                                    "as a 64-bit integer scaled by 10^%d (at most 18 digits)",
                                    text, f->model ? f->model->name : "?", f->name,
                                    f->decimal_places);
            if (rc != 0)
                return mn__orm_fail(o, MN_EINVAL, "'%s' value must be a decimal number.", text);
            *out = mn_dbp_int(v);
            return 0;
        }
    } else if (t == MN_BOOL) {
        if (a.type == MN_ARG_BOOL || a.type == MN_ARG_INT) {
            *out = mn_dbp_bool(a.type == MN_ARG_BOOL ? a.v.b : a.v.i != 0);
            return 0;
        }
        if (a.type == MN_ARG_STR) {
            mn_str s = mn_str_from(a.v.s);
            if (mn_str_ieq_cstr(s, "true") || mn_str_eq_cstr(s, "1") || mn_str_eq_cstr(s, "t"))
                *out = mn_dbp_bool(true);
            else if (mn_str_ieq_cstr(s, "false") || mn_str_eq_cstr(s, "0") ||
                     mn_str_eq_cstr(s, "f"))
                *out = mn_dbp_bool(false);
            else
                return mn__orm_fail(o, MN_EINVAL, "'%s' value must be either True or False.",
                                    a.v.s);
            return 0;
        }
    } else if (t == MN_DATE || t == MN_DATETIME || t == MN_TIME) {
        mn_datetime dt;
        if (a.type == MN_ARG_DATETIME) {
            dt = *a.v.dt;
        } else if (a.type == MN_ARG_STR) {
            mn_ftype pt = t == MN_DATETIME && strlen(a.v.s) == 10 ? MN_DATE : t;
            int rc = parse_datetime(a.v.s, strlen(a.v.s), pt, &dt);
            if (rc == WRONG_VALUE)
                return mn__orm_fail(o, MN_EINVAL, "%s.%s: %s", f->model->name, f->name,
                                    invalid_datetime_message(ar, a.v.s, pt));
            if (rc)
                return mn__orm_fail(o, MN_EINVAL, "'%s' value has an invalid %s format.", a.v.s,
                                    t == MN_DATE   ? "date"
                                    : t == MN_TIME ? "time"
                                                   : "datetime");
        } else {
            goto mismatch;
        }
        char buf[80];
        if (mn__format_datetime(&dt, t, d, buf, sizeof buf) < 0)
            return mn__orm_fail(o, MN_EINVAL, "%s.%s: %s", f->model->name, f->name,
                                invalid_datetime_message(ar, buf, t));
        *out = mn_dbp_text(mn_arena_strdup(ar, buf));
        return out->v.s.ptr ? 0 : MN_ENOMEM;
    } else if (t == MN_UUID) {
        if (a.type == MN_ARG_STR) {
            const char *norm;
            if (mn__uuid_normalise(ar, a.v.s, &norm) != 0)
                return mn__orm_fail(o, MN_EINVAL, "'%s' is not a valid UUID.", a.v.s);
            return text_param(o, norm, out);
        }
    } else if (t == MN_BINARY) {
        if (a.type == MN_ARG_BYTES) {
            *out = mn_dbp_blob(a.v.bytes.ptr, a.v.bytes.len);
            return 0;
        }
        if (a.type == MN_ARG_STR) {
            *out = mn_dbp_blob(a.v.s, strlen(a.v.s));
            return 0;
        }
    } else if (mn__is_text_type(t)) {
        switch (a.type) {
        case MN_ARG_STR:
            return t == MN_GENERICIP ? ip_param(o, a.v.s, out) : text_param(o, a.v.s, out);
        case MN_ARG_INT: return text_param(o, mn_arena_printf(ar, "%lld", (long long)a.v.i), out);
        case MN_ARG_FLOAT: return text_param(o, mn_arena_printf(ar, "%g", a.v.f), out);
        case MN_ARG_BOOL: return text_param(o, a.v.b ? "True" : "False", out);
        default: break;
        }
    }
mismatch:
    return mn__orm_fail(o, MN_EINVAL, "%s.%s: a value of the wrong type was given", f->model->name,
                        f->name);
}

int mn__obj_param(mn_orm *o, const void *obj, const mn_fielddef *f, mn_dbdialect d, mn_dbparam *out)
{
    if (mn__is_null(obj, f)) {
        *out = mn_dbp_null();
        return 0;
    }
    const void *p = mn__fptr(obj, f);
    switch (f->type) {
    case MN_FK:
    case MN_O2O: {
        const mn_fk *fk = p;
        if (fk->obj && !fk->id && !fk->key && !mn__pk_set(fk->obj))
            return mn__orm_fail(o, MN_EINVAL,
                                "save() prohibited to prevent data loss due to unsaved related "
                                "object '%s'.",
                                f->name);
        if (mn__fk_is_text(f)) {
            if (!fk->key && !fk->obj)
                return mn__orm_fail(o, MN_EINVAL,
                                    "%s.%s points to %s, whose %s '%s' is a %s: set "
                                    "%s.key (the text key), not %s.id",
                                    f->model->name, f->name, f->rel_model->name,
                                    f->to_field ? "to_field" : "primary key",
                                    mn__rel_field(f)->name,
                                    mn__django_class(mn__rel_field(f)->type), f->name, f->name);
            mn_arg k = mn__fk_arg(obj, f);
            if (k.type == MN_ARG_NULL) {
                *out = mn_dbp_null();
                return 0;
            }
            return mn__arg_param(o, f, k, d, out);
        }
        if (fk->key && !fk->id && !fk->obj) /* an integer key given as text: "3" */
            return mn__arg_param(o, f, mn_arg_str(fk->key), d, out);
        if (fk->obj && !fk->id) {
            mn_arg k = f->to_field ? mn__rel_arg(fk->obj, f) : mn_arg_int(mn_obj_pk(fk->obj));
            *out = k.type == MN_ARG_INT ? mn_dbp_int(k.v.i) : mn_dbp_null();
        } else
            *out = mn_dbp_int(fk->id);
        return 0;
    }
    case MN_FLOAT: *out = mn_dbp_float(*(const double *)p); return 0;
    case MN_BOOL: *out = mn_dbp_bool(*(const bool *)p); return 0;
    case MN_DECIMAL: {
        const char *s = *(const char *const *)p;
        int rc = mn__decimal_fits(o, f, mn_arg_str(s ? s : "0")); /* a write: as PostgreSQL */
        return rc ? rc : mn__arg_param(o, f, mn_arg_str(s ? s : "0"), d, out);
    }
    case MN_DATE:
    case MN_DATETIME:
    case MN_TIME: return mn__arg_param(o, f, mn_arg_dt(p), d, out);
    case MN_BINARY: {
        const mn_str *s = p;
        *out = mn_dbp_blob(s->ptr, s->len);
        return 0;
    }
    case MN_UUID: {
        const char *s = *(const char *const *)p;
        if (!s) {
            *out = mn_dbp_null();
            return 0;
        }
        return mn__arg_param(o, f, mn_arg_str(s), d, out);
    }
    case MN_M2M: return MN_EINVAL;
    default:
        if (mn__is_int_type(f->type)) {
            *out = mn_dbp_int(*(const int64_t *)p);
            return 0;
        }
        {
            /* NULL is None (the default is "", mn__apply_defaults): the database says
             * whether the column takes it, as Django leaves it to (IntegrityError) */
            const char *s = *(const char *const *)p;
            if (s && f->type == MN_GENERICIP)
                return ip_param(o, s, out);
            *out = s ? mn_dbp_text(s) : mn_dbp_null();
            return 0;
        }
    }
}

static int cell_i64(const mn_dbcell *c, int64_t *v)
{
    switch (c->type) {
    case MN_DBT_INT:
    case MN_DBT_BOOL: *v = c->v.i; return 0;
    case MN_DBT_FLOAT: *v = (int64_t)c->v.f; return 0;
    case MN_DBT_TEXT:
        if (c->v.s.len && (c->v.s.ptr[0] == 't' || c->v.s.ptr[0] == 'f') && c->v.s.len == 1) {
            *v = c->v.s.ptr[0] == 't';
            return 0;
        }
        return mn_str_to_i64(c->v.s, v);
    default: return MN_EINVAL;
    }
}

int mn__cell_store(mn_orm *o, void *obj, const mn_fielddef *f, const mn_dbcell *c, mn_dbdialect d)
{
    mn_arena *a = o->arena;
    void *p = mn__fptr(obj, f);
    mn__set_null(obj, f, c->type == MN_DBT_NULL);
    if (c->type == MN_DBT_NULL) {
        if (mn__is_text_type(f->type) || f->type == MN_DECIMAL)
            *(const char **)p = NULL;
        else if (f->type == MN_FK || f->type == MN_O2O)
            ((mn_fk *)p)->id = 0, ((mn_fk *)p)->key = NULL;
        return 0;
    }
    switch (f->type) {
    case MN_FK:
    case MN_O2O: {
        mn_fk *fk = p;
        if (mn__fk_is_text(f)) {
            const char *k = c->type == MN_DBT_TEXT || c->type == MN_DBT_BLOB
                                ? c->v.s.ptr /* already a NUL-terminated arena copy */
                            : c->type == MN_DBT_INT ? mn_arena_printf(a, "%lld", (long long)c->v.i)
                                                    : NULL;
            if (!k)
                return MN_EINVAL;
            if (!fk->key || strcmp(fk->key, k) != 0)
                fk->obj = NULL;
            fk->key = k;
            return 0;
        }
        int64_t v = 0;
        int rc = cell_i64(c, &v);
        if (fk->id != v)
            fk->obj = NULL;
        fk->id = v;
        return rc;
    }
    case MN_FLOAT:
        if (c->type == MN_DBT_FLOAT)
            *(double *)p = c->v.f;
        else if (c->type == MN_DBT_INT)
            *(double *)p = (double)c->v.i;
        else
            *(double *)p = strtod(mn_arena_strndup(a, c->v.s.ptr, c->v.s.len), NULL);
        return 0;
    case MN_BOOL: {
        int64_t v = 0;
        int rc = cell_i64(c, &v);
        *(bool *)p = v != 0;
        return rc;
    }
    case MN_DECIMAL:
        if (c->type == MN_DBT_INT && d == MN_DIALECT_SQLITE) /* the database it was read from */
            *(const char **)p = scaled_to_decimal(a, c->v.i, f->decimal_places);
        else if (c->type == MN_DBT_TEXT)
            *(const char **)p = mn_arena_strndup(a, c->v.s.ptr, c->v.s.len);
        else if (c->type == MN_DBT_INT)
            *(const char **)p = mn_arena_printf(a, "%lld", (long long)c->v.i);
        else
            *(const char **)p = mn_arena_printf(a, "%.*f", f->decimal_places, c->v.f);
        return 0;
    case MN_DATE:
    case MN_DATETIME:
    case MN_TIME:
        if (c->type != MN_DBT_TEXT)
            return MN_EINVAL;
        return mn__parse_datetime(c->v.s.ptr, c->v.s.len, f->type, p);
    case MN_BINARY: {
        mn_str *s = p;
        char *copy = mn_arena_alloc(a, c->v.s.len + 1);
        if (!copy)
            return MN_ENOMEM;
        memcpy(copy, c->v.s.ptr, c->v.s.len);
        copy[c->v.s.len] = '\0';
        s->ptr = copy;
        s->len = c->v.s.len;
        return 0;
    }
    default:
        if (mn__is_int_type(f->type))
            return cell_i64(c, (int64_t *)p);
        if (c->type == MN_DBT_TEXT || c->type == MN_DBT_BLOB)
            *(const char **)p = c->v.s.ptr; /* already a NUL-terminated arena copy */
        else if (c->type == MN_DBT_INT)
            *(const char **)p = mn_arena_printf(a, "%lld", (long long)c->v.i);
        else
            *(const char **)p = mn_arena_printf(a, "%g", c->v.f);
        return 0;
    }
}

mn_value *mn__decimal_cell(mn_orm *o, const mn_dbcell *c, int scale)
{
    mn_arena *a = o->arena;
    const char *t;
    switch (c->type) {
    case MN_DBT_NULL: return mn_value_none();
    case MN_DBT_INT:
    case MN_DBT_BOOL: t = scaled_to_decimal(a, c->v.i, scale < 0 ? 0 : scale); break;
    case MN_DBT_FLOAT:
        /* a quotient SQLite computed as a REAL: 15 significant digits, as Django's
         * create_decimal() does for such a value */
        t = mn_arena_printf(a, "%.15g", c->v.f);
        if (strchr(t, 'e') || strchr(t, 'n') || strchr(t, 'i'))
            return mn_value_double(a, c->v.f);
        break;
    default: return mn_value_decimal(a, c->v.s.ptr, c->v.s.len);
    }
    return t ? mn_value_decimal(a, t, strlen(t)) : NULL;
}

mn_value *mn__cell_value(mn_orm *o, const mn_fielddef *f, const mn_dbcell *c, mn_dbdialect d)
{
    mn_arena *a = o->arena;
    if (c->type == MN_DBT_NULL)
        return mn_value_none();
    if (f && c->type == MN_DBT_FLOAT && mn__is_int_type(f->type))
        /* an integer column never reads back as a float: the value comes from arithmetic
         * with a float (F("pages") * 1.5), which Django types as a FloatField */
        return mn_value_double(a, c->v.f);
    if (f && f->type != MN_M2M) {
        /* Store into a scratch instance, then read it back as a value. */
        void *obj = mn_arena_calloc(a, 1, f->model->size);
        if (!obj)
            return NULL;
        ((mn_obj *)obj)->model = f->model;
        if (mn__cell_store(o, obj, f, c, d) != 0)
            return mn_value_none();
        mn_value *v = mn_obj_get_value(o, obj, f->name);
        /* Django's from_db_value: a JSONField reads back as its document, a DurationField as
         * a timedelta, in values(), annotations and aggregates as on instances */
        if (v && f->type == MN_JSON)
            return mn__json_field_value(a, v);
        if (v && f->type == MN_DURATION)
            return mn__duration_value(a, v);
        return v;
    }
    switch (c->type) {
    case MN_DBT_INT:
    case MN_DBT_BOOL: return mn_value_int(a, c->v.i);
    case MN_DBT_FLOAT: return mn_value_double(a, c->v.f);
    default: return mn_value_str(a, c->v.s.ptr, c->v.s.len);
    }
}

mn_value *mn_obj_get_value(mn_orm *o, const void *obj, const char *field)
{
    const mn_obj *h = obj;
    const mn_fielddef *f = mn_model_field(h->model, field);
    mn_arena *a = o ? o->arena : h->orm->arena;
    if (!f)
        return NULL;
    /* a field only()/defer() left out is loaded on first read, as Django's */
    if ((h->deferred & (UINT64_C(1) << f->index)) &&
        mn__load_deferred(o ? o : h->orm, (void *)obj, f) != 0)
        return NULL;
    if (mn__is_null(obj, f))
        return mn_value_none();
    const void *p = mn__fptr(obj, f);
    switch (f->type) {
    case MN_FK:
    case MN_O2O: {
        mn_arg k = mn__fk_arg(obj, f);
        if (k.type == MN_ARG_STR)
            return mn_value_str_ref(a, k.v.s, strlen(k.v.s));
        return k.type == MN_ARG_INT ? mn_value_int(a, k.v.i) : mn_value_none();
    }
    case MN_FLOAT: return mn_value_double(a, *(const double *)p);
    case MN_BOOL: return mn_value_bool(*(const bool *)p);
    case MN_DECIMAL: {
        const char *s = *(const char *const *)p;
        return s ? mn_value_decimal(a, s, strlen(s)) : mn_value_none();
    }
    case MN_DATE: {
        const mn_datetime *dt = p;
        return mn_value_date(a, dt->year, dt->month, dt->day);
    }
    case MN_DATETIME: return mn_value_datetime(a, p);
    case MN_TIME: return mn_value_time(a, p);
    case MN_BINARY: {
        const mn_str *s = p;
        return mn_value_str(a, s->ptr ? s->ptr : "", s->len);
    }
    case MN_M2M: return mn_value_none();
    default:
        if (mn__is_int_type(f->type))
            return mn_value_int(a, *(const int64_t *)p);
        {
            const char *s = *(const char *const *)p;
            return mn_value_str_ref(a, s ? s : "", s ? strlen(s) : 0);
        }
    }
}

void mn__apply_defaults(mn_orm *o, const mn_model *m, void *obj)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        void *p = mn__fptr(obj, f);
        if (f->default_fn) {
            f->default_fn(f, obj, o->arena);
            continue;
        }
        switch (f->type) {
        case MN_FLOAT:
            *(double *)p = f->default_float;
            if (f->null && f->default_float == 0)
                mn__set_null(obj, f, true);
            break;
        case MN_BOOL:
            *(bool *)p = f->default_bool;
            if (f->null && !f->default_bool)
                mn__set_null(obj, f, true);
            break;
        case MN_DATE:
        case MN_DATETIME:
        case MN_TIME:
            if (f->default_str)
                mn__parse_datetime(f->default_str, strlen(f->default_str), f->type, p);
            else if (f->null)
                mn__set_null(obj, f, true);
            break;
        case MN_BINARY: /* b"" unless null=True, as Django's BinaryField */
            if (!f->null)
                ((mn_str *)p)->ptr = "";
            break;
        case MN_M2M: break;
        case MN_FK:
        case MN_O2O:
            if (mn__fk_is_text(f)) {
                ((mn_fk *)p)->key = f->default_str;
                if (f->null && !f->default_str)
                    mn__set_null(obj, f, true);
                break;
            }
            ((mn_fk *)p)->id = f->default_int;
            if (f->null && !f->default_int)
                mn__set_null(obj, f, true);
            break;
        default:
            if (mn__is_int_type(f->type)) {
                *(int64_t *)p = f->default_int;
                if (f->null && !f->default_int)
                    mn__set_null(obj, f, true);
            } else {
                /* Django's Field.get_default(): a field that allows empty strings (char,
                 * text, email, url, slug, file path) defaults to "" unless null=True; the
                 * others (uuid, JSON, IP address, decimal) to None. A primary key stays
                 * unset (NULL) until the program gives it: "" would read as a saved key. */
                bool empty_ok =
                    f->type >= MN_CHAR && f->type <= MN_FILEPATH && !f->null && !f->primary_key;
                *(const char **)p = f->default_str ? f->default_str : empty_ok ? "" : NULL;
                if (!f->default_str && f->null)
                    mn__set_null(obj, f, true);
            }
            break;
        }
    }
}
