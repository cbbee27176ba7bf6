/* filters_date.c — Django's date filters (date, time, timesince, timeuntil) and the PHP-style
 * format engine behind them and the {% now %} tag (django.utils.dateformat).
 *
 * Values arrive already converted to the current time zone when aware (the filters are
 * registered with MN_FILTER_EXPECTS_LOCALTIME); naive values are taken to be in the engine's
 * time zone (Django's default timezone), which is what 'O', 'T', 'Z', 'U' and 'r' report for
 * them. Names of months and days are the en locale's. */
#include "template/filters_internal.h"
#include "template/internal.h"

#include <string.h>
#include <time.h>

#define BUF(name)                                                                                  \
    mn_buf name;                                                                                   \
    mn_buf_init(&name, c->arena)

static const char *const month_names[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};
static const char *const month_ap[] = {"Jan.", "Feb.", "March", "April", "May",  "June",
                                       "July", "Aug.", "Sept.", "Oct.",  "Nov.", "Dec."};
static const char *const day_names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};

/* The zone settings of the call (UTC when a caller passes no options). */
static int32_t zone_offset(const mn_filter_call *c)
{
    return c->options ? c->options->time_zone_offset : 0;
}

static const char *zone_name(const mn_filter_call *c)
{
    return c->options && c->options->time_zone_name ? c->options->time_zone_name : "UTC";
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[(m - 1) % 12];
}

/* Monday = 0 ... Sunday = 6 (Python's weekday()). */
static int weekday(const mn_datetime *t)
{
    int64_t days = mn__days_from_civil(t->year, t->month, t->day);
    int64_t w = (days + 3) % 7; /* 1970-01-01 was a Thursday */
    return (int)(w < 0 ? w + 7 : w);
}

static int day_of_year(const mn_datetime *t)
{
    return (int)(mn__days_from_civil(t->year, t->month, t->day) -
                 mn__days_from_civil(t->year, 1, 1)) +
           1;
}

/* date.isocalendar(): ISO year and week number. */
static void iso_week(const mn_datetime *t, int64_t *iso_year, int *week)
{
    int64_t days = mn__days_from_civil(t->year, t->month, t->day);
    int wd = weekday(t);
    int64_t thursday = days - wd + 3;
    /* the ISO year is the year of that Thursday */
    int64_t y = t->year;
    if (thursday < mn__days_from_civil(y, 1, 1))
        y--;
    else if (thursday >= mn__days_from_civil(y + 1, 1, 1))
        y++;
    *iso_year = y;
    *week = (int)((thursday - mn__days_from_civil(y, 1, 1)) / 7) + 1;
}

/* Appends v zero-padded to width digits (printf's %0*d without the format parsing: dates
 * are formatted on every row of a page). */
static int put_num(mn_buf *b, int64_t v, int width)
{
    char tmp[24];
    int n = 0;
    bool neg = v < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0 && n < 20);
    while (n < width && n < 20)
        tmp[sizeof tmp - 1 - n++] = '0';
    if (neg)
        tmp[sizeof tmp - 1 - n++] = '-';
    return mn_buf_append(b, tmp + sizeof tmp - n, (size_t)n);
}

/* What a format character may read: dates have no time fields and no zone. */
typedef struct fmt_ctx {
    const mn_datetime *t;
    mn_value_kind kind;
    bool has_zone;  /* TimeFormat.timezone is set (datetimes only) */
    int32_t offset; /* the zone's UTC offset */
    const char *tzname;
    bool aware; /* the value has its own tzinfo */
} fmt_ctx;

static bool is_time_char(char ch)
{
    return strchr("aAefgGhHiOPsTuZ", ch) != NULL;
}

static bool is_format_char(char ch)
{
    return ch && strchr("aAbcdDeEfFgGhHiIjlLmMnNoOPrsStTUuwWyYzZ", ch) != NULL;
}

static int put_offset(mn_buf *b, int32_t off, bool colon)
{
    char sign = off < 0 ? '-' : '+';
    int32_t a = off < 0 ? -off : off;
    return colon ? mn_buf_printf(b, "%c%02d:%02d", sign, a / 3600, (a / 60) % 60)
                 : mn_buf_printf(b, "%c%02d%02d", sign, a / 3600, (a / 60) % 60);
}

static int put_tzname(mn_buf *b, const fmt_ctx *f)
{
    if (f->tzname)
        return mn_buf_puts(b, f->tzname);
    if (!f->offset)
        return mn_buf_puts(b, "UTC");
    mn_buf_puts(b, "UTC");
    return put_offset(b, f->offset, true);
}

/* 12-hour clock with minutes left off when zero ('f'). */
static int put_f(mn_buf *b, const mn_datetime *t)
{
    int g = t->hour % 12 ? t->hour % 12 : 12;
    if (t->minute == 0)
        return put_num(b, g, 1);
    put_num(b, g, 1);
    mn_buf_putc(b, ':');
    return put_num(b, t->minute, 2);
}

static int put_iso(mn_buf *b, const fmt_ctx *f)
{
    const mn_datetime *t = f->t;
    if (f->kind != MN_VALUE_TIME)
        mn_buf_printf(b, "%04d-%02d-%02d", t->year, t->month, t->day);
    if (f->kind == MN_VALUE_DATE)
        return MN_OK;
    if (f->kind == MN_VALUE_DATETIME)
        mn_buf_putc(b, 'T');
    mn_buf_printf(b, "%02d:%02d:%02d", t->hour, t->minute, t->second);
    if (t->microsecond)
        mn_buf_printf(b, ".%06d", t->microsecond);
    if (f->aware)
        return put_offset(b, t->utc_offset, true);
    return MN_OK;
}

static int64_t epoch_seconds(const fmt_ctx *f)
{
    const mn_datetime *t = f->t;
    int64_t s = mn__days_from_civil(t->year, t->month, t->day) * 86400;
    if (f->kind == MN_VALUE_DATETIME)
        s += t->hour * 3600 + t->minute * 60 + t->second;
    return s - f->offset;
}

/* One format character (Django's DateFormat/TimeFormat method of that name). */
static int put_char(mn_buf *b, const fmt_ctx *f, char ch)
{
    const mn_datetime *t = f->t;
    int g = t->hour % 12 ? t->hour % 12 : 12;
    switch (ch) {
    case 'a': return mn_buf_puts(b, t->hour > 11 ? "p.m." : "a.m.");
    case 'A': return mn_buf_puts(b, t->hour > 11 ? "PM" : "AM");
    case 'e': return f->has_zone && f->aware ? put_tzname(b, f) : MN_OK;
    case 'f': return put_f(b, t);
    case 'g': return put_num(b, g, 1);
    case 'G': return put_num(b, t->hour, 1);
    case 'h': return put_num(b, g, 2);
    case 'H': return put_num(b, t->hour, 2);
    case 'i': return put_num(b, t->minute, 2);
    case 'O': return f->has_zone ? put_offset(b, f->offset, false) : MN_OK;
    case 'P':
        if (t->minute == 0 && t->hour == 0)
            return mn_buf_puts(b, "midnight");
        if (t->minute == 0 && t->hour == 12)
            return mn_buf_puts(b, "noon");
        put_f(b, t);
        return mn_buf_puts(b, t->hour > 11 ? " p.m." : " a.m.");
    case 's': return put_num(b, t->second, 2);
    case 'T': return f->has_zone ? put_tzname(b, f) : MN_OK;
    case 'u': return put_num(b, t->microsecond, 6);
    case 'Z': return f->has_zone ? mn_buf_printf(b, "%d", f->offset) : MN_OK;
    default: break;
    }
    if (f->kind == MN_VALUE_TIME && ch == 'c')
        return put_iso(b, f);
    if (f->kind == MN_VALUE_TIME && ch == 'I')
        return MN_OK; /* no zone: '' before any date field is read */
    if (f->kind == MN_VALUE_TIME)
        return MN_EINVAL; /* a time has no date fields: AttributeError */
    switch (ch) {
    case 'b': {
        char m3[4];
        memcpy(m3, month_names[t->month - 1], 3);
        m3[0] = (char)(m3[0] + 32);
        m3[3] = 0;
        return mn_buf_puts(b, m3);
    }
    case 'c': return put_iso(b, f);
    case 'd': return put_num(b, t->day, 2);
    case 'D': return mn_buf_append(b, day_names[weekday(t)], 3);
    case 'E':
    case 'F': return mn_buf_puts(b, month_names[t->month - 1]);
    case 'I': return f->has_zone ? mn_buf_putc(b, '0') : MN_OK;
    case 'j': return put_num(b, t->day, 1);
    case 'l': return mn_buf_puts(b, day_names[weekday(t)]);
    case 'L': return mn_buf_puts(b, is_leap(t->year) ? "True" : "False");
    case 'm': return put_num(b, t->month, 2);
    case 'M': return mn_buf_append(b, month_names[t->month - 1], 3);
    case 'n': return put_num(b, t->month, 1);
    case 'N': return mn_buf_puts(b, month_ap[t->month - 1]);
    case 'o': {
        int64_t y;
        int w;
        iso_week(t, &y, &w);
        return mn_buf_printf(b, "%lld", (long long)y);
    }
    case 'r': {
        /* email.utils.format_datetime of the value made aware */
        mn_buf_printf(b, "%.3s, %02d %.3s %04d %02d:%02d:%02d ", day_names[weekday(t)], t->day,
                      month_names[t->month - 1], t->year, t->hour, t->minute, t->second);
        return put_offset(b, f->offset, false);
    }
    case 'S':
        if (t->day >= 11 && t->day <= 13)
            return mn_buf_puts(b, "th");
        return mn_buf_puts(b, t->day % 10 == 1   ? "st"
                              : t->day % 10 == 2 ? "nd"
                              : t->day % 10 == 3 ? "rd"
                                                 : "th");
    case 't': return put_num(b, days_in_month(t->year, t->month), 2);
    case 'U': return mn_buf_printf(b, "%lld", (long long)epoch_seconds(f));
    case 'w': return put_num(b, (weekday(t) + 1) % 7, 1);
    case 'W': {
        int64_t y;
        int w;
        iso_week(t, &y, &w);
        return put_num(b, w, 1);
    }
    case 'y': return put_num(b, (int)(t->year % 100), 2);
    case 'Y': return put_num(b, t->year, 1);
    case 'z': return put_num(b, day_of_year(t), 1);
    default: return MN_EINVAL;
    }
}

/* The en locale's named formats (django/conf/locale/en/formats.py). */
static mn_str named_format(mn_str fmt)
{
    static const char *const names[][2] = {
        {"DATE_FORMAT", "N j, Y"},
        {"DATETIME_FORMAT", "N j, Y, P"},
        {"TIME_FORMAT", "P"},
        {"YEAR_MONTH_FORMAT", "F Y"},
        {"MONTH_DAY_FORMAT", "F j"},
        {"SHORT_DATE_FORMAT", "m/d/Y"},
        {"SHORT_DATETIME_FORMAT", "m/d/Y P"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (mn_str_eq_cstr(fmt, names[i][0]))
            return mn_str_from(names[i][1]);
    return fmt;
}

/* Appends a literal piece of the format: a backslash escapes the next character. */
static int put_literal(mn_buf *b, mn_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '\\' && i + 1 < s.len)
            i++;
        if (mn_buf_putc(b, s.ptr[i]) < 0)
            return MN_ENOMEM;
    }
    return MN_OK;
}

int mn__date_format(const mn_filter_call *c, const mn_value *v, mn_str fmt, bool time_only,
                    mn_buf *out)
{
    mn_value_kind k = mn_value_kind_of(v);
    if (k != MN_VALUE_DATE && k != MN_VALUE_DATETIME && k != MN_VALUE_TIME)
        return MN_EINVAL;
    fmt = named_format(fmt);
    const mn_datetime *t = &v->u.dt;
    fmt_ctx f = {t, k, false, 0, NULL, false};
    if (k == MN_VALUE_DATETIME) {
        f.has_zone = true;
        f.aware = t->aware;
        f.offset = t->aware ? t->utc_offset : zone_offset(c);
        f.tzname = t->aware ? t->tzname : zone_name(c);
    } else if (k == MN_VALUE_DATE) {
        f.offset = zone_offset(c);
    }
    size_t lit = 0;
    for (size_t i = 0; i < fmt.len; i++) {
        char ch = fmt.ptr[i];
        if (!is_format_char(ch) || (i > 0 && fmt.ptr[i - 1] == '\\'))
            continue;
        if (put_literal(out, (mn_str){fmt.ptr + lit, i - lit}) < 0)
            return MN_ENOMEM;
        lit = i + 1;
        if (time_only && !is_time_char(ch))
            return MN_EINVAL; /* TimeFormat has no such method */
        if (k == MN_VALUE_DATE && (is_time_char(ch) || ch == 'r'))
            return MN_EUNSUPPORTED;
        int rc = put_char(out, &f, ch);
        if (rc < 0)
            return rc;
    }
    if (put_literal(out, (mn_str){fmt.ptr + lit, fmt.len - lit}) < 0)
        return MN_ENOMEM;
    return mn_buf_reserve(out, 1);
}

static bool empty_or_none(const mn_value *v)
{
    return mn_value_is_none(v) || (mn_value_kind_of(v) == MN_VALUE_STRING && !v->u.str.len);
}

/* The format argument (or the named default). */
static mn_str format_arg(const mn_filter_call *c, const mn_value *arg, const char *dflt)
{
    mn_str f = mn_str_from(dflt);
    if (arg && !mn_value_is_none(arg)) {
        mn_str t;
        if (mn__ftext(c, arg, &t) == 0 && t.len)
            f = t;
    }
    return f;
}

/* A value that is not a date: Django formats the literal parts and fails (AttributeError,
 * then '') at the first format character, so only a format without one comes out. */
static mn_value *format_not_a_date(const mn_filter_call *c, mn_str fmt)
{
    for (size_t i = 0; i < fmt.len; i++)
        if (is_format_char(fmt.ptr[i]) && !(i > 0 && fmt.ptr[i - 1] == '\\'))
            return mn_value_empty_string();
    BUF(b);
    if (put_literal(&b, fmt) < 0)
        return mn_value_empty_string();
    return mn__fresult(c, &b, false);
}

static mn_value *f_date(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    if (empty_or_none(v))
        return mn_value_empty_string();
    mn_str fmt = named_format(format_arg(c, arg, "DATE_FORMAT"));
    mn_value_kind k = mn_value_kind_of(v);
    if (k != MN_VALUE_DATE && k != MN_VALUE_DATETIME && k != MN_VALUE_TIME)
        return format_not_a_date(c, fmt);
    BUF(b);
    int rc = mn__date_format(c, v, fmt, false, &b);
    if (rc == MN_EUNSUPPORTED)
        return mn__ffail(c, "The format for date objects may not contain time-related format "
                            "specifiers.");
    if (rc < 0)
        return mn_value_empty_string();
    return mn__fresult(c, &b, false);
}

static mn_value *f_time(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    if (empty_or_none(v))
        return mn_value_empty_string();
    mn_str fmt = named_format(format_arg(c, arg, "TIME_FORMAT"));
    mn_value_kind k = mn_value_kind_of(v);
    if (k != MN_VALUE_DATETIME && k != MN_VALUE_TIME)
        return format_not_a_date(c, fmt);
    BUF(b);
    if (mn__date_format(c, v, fmt, true, &b) < 0)
        return mn_value_empty_string();
    return mn__fresult(c, &b, false);
}

/* ---- timesince / timeuntil (django.utils.timesince). ---- */

/* Microseconds since the epoch of the value's wall clock, shifted to UTC when aware. */
static int64_t instant_us(const mn_datetime *t, bool datetime)
{
    int64_t s = mn__days_from_civil(t->year, t->month, t->day) * 86400;
    if (datetime) {
        s += t->hour * 3600 + t->minute * 60 + t->second;
        if (t->aware)
            s -= t->utc_offset;
        return s * 1000000 + t->microsecond;
    }
    return s * 1000000;
}

static int64_t leapdays(int64_t y1, int64_t y2)
{
    y1--, y2--;
#define FLOORDIV(a, b) ((a) / (b) - (((a) % (b) != 0) && (((a) < 0) != ((b) < 0))))
    return (FLOORDIV(y2, 4) - FLOORDIV(y1, 4)) - (FLOORDIV(y2, 100) - FLOORDIV(y1, 100)) +
           (FLOORDIV(y2, 400) - FLOORDIV(y1, 400));
}

static mn_value *timesince(const mn_filter_call *c, mn_value *v, mn_value *arg, bool reversed)
{
    int truth = mn_value_truth(v, c->arena);
    if (truth <= 0)
        return mn_value_empty_string();
    mn_value_kind k = mn_value_kind_of(v);
    if (k != MN_VALUE_DATE && k != MN_VALUE_DATETIME)
        return mn__ffail(c, "object has no attribute 'year'");
    bool d_aware = k == MN_VALUE_DATETIME && v->u.dt.aware;
    mn_datetime now;
    bool now_aware;
    bool now_dt = true;
    int truth_arg = arg ? mn_value_truth(arg, c->arena) : 0;
    if (truth_arg > 0) {
        mn_value_kind ka = mn_value_kind_of(arg);
        if (ka != MN_VALUE_DATE && ka != MN_VALUE_DATETIME)
            return mn__ffail(c, "object has no attribute 'year'");
        now = arg->u.dt;
        now_dt = ka == MN_VALUE_DATETIME;
        now_aware = now_dt && now.aware;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t secs = (int64_t)ts.tv_sec;
        if (!d_aware)
            secs += zone_offset(c);
        memset(&now, 0, sizeof now);
        mn__datetime_from_epoch(secs, (int32_t)(ts.tv_nsec / 1000), &now);
        now.aware = d_aware;
        now_aware = d_aware;
    }
    if (d_aware != now_aware)
        return mn_value_empty_string(); /* naive - aware: TypeError */
    const mn_datetime *d = &v->u.dt;
    const mn_datetime *n = &now;
    bool d_dt = k == MN_VALUE_DATETIME, n_dt = now_dt;
    if (reversed) {
        const mn_datetime *tmp = d;
        d = n, n = tmp;
        bool tb = d_dt;
        d_dt = n_dt, n_dt = tb;
    }
    int64_t delta_us = instant_us(n, n_dt) - instant_us(d, d_dt);
    int64_t leap = leapdays(d->year, n->year);
    if (leap != 0) {
        if (is_leap(d->year))
            leap--;
        else if (is_leap(n->year))
            leap++;
    }
    delta_us -= leap * 86400 * 1000000;
    int64_t since = FLOORDIV(delta_us, 1000000);
    static const int64_t chunk_secs[] = {31536000, 2592000, 604800, 86400, 3600, 60};
    static const char *const names[] = {"year", "month", "week", "day", "hour", "minute"};
    BUF(b);
    if (since <= 0) {
        mn_buf_puts(&b, "0\xc2\xa0minutes");
        return mn__fresult(c, &b, false);
    }
    int i = 0;
    while (i < 6 && since / chunk_secs[i] == 0)
        i++;
    if (i == 6) {
        mn_buf_puts(&b, "0\xc2\xa0minutes");
        return mn__fresult(c, &b, false);
    }
    for (int depth = 0; i < 6 && depth < 2; i++, depth++) {
        int64_t count = since / chunk_secs[i];
        if (count == 0)
            break;
        if (depth)
            mn_buf_puts(&b, ", ");
        mn_buf_printf(&b, "%lld\xc2\xa0%s%s", (long long)count, names[i], count == 1 ? "" : "s");
        since -= chunk_secs[i] * count;
    }
    if (mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

static mn_value *f_timesince(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    return timesince(c, v, arg, false);
}

static mn_value *f_timeuntil(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    return timesince(c, v, arg, true);
}

void mn__filters_register_date(mn_template_library *lib)
{
    enum { L = MN_FILTER_EXPECTS_LOCALTIME, O = MN_FILTER_ARG_OPTIONAL };
    mn_template_library_add_filter(lib, "date", f_date, L | O);
    mn_template_library_add_filter(lib, "time", f_time, L | O);
    mn_template_library_add_filter(lib, "timesince", f_timesince, O);
    mn_template_library_add_filter(lib, "timeuntil", f_timeuntil, O);
}
