/* test_audit_fields.c — a black-box audit of field types and model metadata against Django:
 * extreme values of every type round-tripped through both databases, full_clean's messages
 * (decimal digits, UUID forms, JSON, unique_together of three fields), verbose names derived
 * as Django derives them, and db_column used by every kind of query. */
#include "helper_db.h"
#include "helper_models.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* clang-format off */
#define KIND_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(i16, MN_SMALLINT, .null = true)                                                      \
    F(i32, MN_INT, .null = true)                                                           \
    F(i64, MN_BIGINT, .null = true)                                                        \
    F(p16, MN_POSSMALLINT, .null = true)                                                   \
    F(p64, MN_POSBIGINT, .null = true)                                                     \
    F(fl, MN_FLOAT, .null = true)                                                          \
    F(dec, MN_DECIMAL, .max_digits = 12, .decimal_places = 4, .null = true)                \
    F(name, MN_CHAR, .max_length = 20, .null = true, .blank = true)                        \
    F(day, MN_DATE, .null = true)                                                          \
    F(at, MN_DATETIME, .null = true)                                                       \
    F(clock, MN_TIME, .null = true)                                                        \
    F(span, MN_DURATION, .null = true)                                                     \
    F(uid, MN_UUID, .null = true)                                                          \
    F(doc, MN_JSON, .null = true)                                                          \
    F(blob, MN_BINARY, .null = true)
/* renamed columns on a plain field and on a foreign key */
#define SHELFMARK_FIELDS(F)                                                                \
    F(id, MN_BIGAUTO)                                                                      \
    F(code, MN_CHAR, .max_length = 10, .db_column = "shelf_code")                          \
    F(rank, MN_INT, .db_column = "shelf_rank", .default_int = 0)
#define VOLUME_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                      \
    F(title, MN_CHAR, .max_length = 50, .db_column = "vol_title")                          \
    F(mark, MN_FK, .to = "ShelfMark", .db_column = "mark_ref", .null = true,               \
      .on_delete = MN_SET_NULL, .related_name = "volumes")
/* three-field unique_together and verbose names Django derives */
#define HTTPREQUESTLOG_FIELDS(F)                                                           \
    F(id, MN_BIGAUTO)                                                                      \
    F(host_name, MN_CHAR, .max_length = 20)                                                \
    F(port, MN_INT)                                                                        \
    F(path, MN_CHAR, .max_length = 20, .verbose_name = "url_path")
#define PRICED_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                      \
    F(price, MN_DECIMAL, .max_digits = 4, .decimal_places = 2, .null = true)               \
    F(rate, MN_DECIMAL, .max_digits = 3, .decimal_places = 3, .null = true)                \
    F(ref, MN_UUID, .null = true)                                                          \
    F(doc, MN_JSON, .null = true)
#define WIDE_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(amount, MN_DECIMAL, .max_digits = 30, .decimal_places = 10, .null = true)            \
    F(token, MN_CHAR, .max_length = 12, .default_fn = next_token, .editable = MN_NO)       \
    F(stamp, MN_UUID, .default_fn = mn_default_uuid4)                                      \
    F(level, MN_SMALLINT, .choices = LEVELS, .default_int = 1)                              \
    F(label, MN_CHAR, .max_length = 3, .choices = LABELS, .blank = true)
#define SEAT_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(room, MN_CHAR, .max_length = 10)                                                     \
    F(number, MN_INT)                                                                      \
    F(active, MN_BOOL, .default_bool = true)                                               \
    F(price, MN_INT, .default_int = 10)
/* clang-format on */
MN_MODEL(Seat, auditf, SEAT_FIELDS,
         .constraints = (const mn_constraint[]){
             {MN_CONSTRAINT_UNIQUE, "one_active_seat", "room,number", "active=true"},
             {MN_CONSTRAINT_CHECK, "price_range", NULL, "price__gte=0,price__lte=1000"},
             {0}})
static void next_token(const mn_fielddef *f, void *obj, mn_arena *a)
{
    static int next = 1;
    *(const char **)((char *)obj + f->offset) = mn_arena_printf(a, "T-%04d", next++);
}
static const mn_choice LEVELS[] = {{"1", "low"}, {"2", "high"}, {NULL, NULL}};
static const mn_choice LABELS[] = {{"a", "A"}, {"b", "B"}, {NULL, NULL}};
MN_MODEL(Kind, auditf, KIND_FIELDS)
MN_MODEL(Wide, auditf, WIDE_FIELDS)
MN_MODEL(ShelfMark, auditf, SHELFMARK_FIELDS)
MN_MODEL(Volume, auditf, VOLUME_FIELDS, .ordering = "title")
MN_MODEL(HTTPRequestLog, auditf, HTTPREQUESTLOG_FIELDS, .unique_together = "host_name,port,path")
MN_MODEL(Priced, auditf, PRICED_FIELDS)

DB_SUITE(orm_audit_fields);

static const char *error_for(const mn_validation *v, const char *field)
{
    for (size_t i = 0; i < v->n; i++)
        if ((!field && !v->errors[i].field) ||
            (field && v->errors[i].field && strcmp(v->errors[i].field, field) == 0))
            return v->errors[i].message;
    return NULL;
}

static Kind *reload(Kind *k)
{
    Kind *got = mn_get(mn_all(t.o, Kind), "pk", k->id);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    return got;
}

/* ---- round trips ---- */

Test(orm_audit_fields, integer_extremes_round_trip)
{
    Kind *k = mn_new(t.o, Kind);
    k->i16 = -32768;
    k->i32 = INT32_MIN;
    k->i64 = INT64_MIN;
    k->p16 = 32767;
    k->p64 = INT64_MAX;
    cr_assert_eq(mn_save(t.o, k), 0, "%s", mn_orm_error(t.o));
    Kind *g = reload(k);
    cr_expect_eq(g->i16, -32768);
    cr_expect_eq(g->i32, INT32_MIN);
    cr_expect_eq(g->i64, INT64_MIN);
    cr_expect_eq(g->p16, 32767);
    cr_expect_eq(g->p64, INT64_MAX);
    g->i64 = INT64_MAX;
    g->i32 = INT32_MAX;
    cr_assert_eq(mn_save(t.o, g), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Kind), "i64", INT64_MAX)), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Kind), "i64__gt", INT64_MAX - 1)), 1);
    cr_expect_eq(reload(g)->i32, INT32_MAX);
    /* PositiveSmallIntegerField bounds with Django's validator messages */
    mn_validation v;
    cr_assert_eq(mn_obj_set(t.o, g, "p16", mn_arg_int(-1)), 0);
    cr_assert_eq(mn_full_clean(t.o, g, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "p16"), "Ensure this value is greater than or equal to 0.");
    g->p16 = 32768;
    cr_assert_eq(mn_full_clean(t.o, g, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "p16"), "Ensure this value is less than or equal to 32767.");
    g->p16 = 0;
    cr_expect_eq(mn_full_clean(t.o, g, &v), 0, "%s", v.n ? v.errors[0].message : "");
}

Test(orm_audit_fields, floats_round_trip_exactly_and_infinities_survive)
{
    double vals[] = {0.1, -1e308, 5e-324, 1.7976931348623157e308, INFINITY, -INFINITY};
    int bad = 0;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        Kind *k = mn_new(t.o, Kind);
        k->fl = vals[i];
        if (mn_save(t.o, k) != 0) {
            cr_log_error("save %g: %s", vals[i], mn_orm_error(t.o));
            bad++;
            continue;
        }
        Kind *g = reload(k);
        if (g->fl != vals[i] || mn_obj_is_null(g, "fl")) {
            cr_log_error("%.17g read back as %.17g", vals[i], g->fl);
            bad++;
        }
    }
    cr_expect_eq(bad, 0);
}

Test(orm_audit_fields, decimals_are_exact_in_every_form)
{
    struct {
        const char *in, *out;
    } cases[] = {
        {"12345678.1234", "12345678.1234"},
        {"-12345678.1234", "-12345678.1234"},
        {"0.0001", "0.0001"},
        {"-0.0001", "-0.0001"},
        {"0E-10", "0.0000"},
        {"1E+3", "1000.0000"},
        {"-1.5e2", "-150.0000"},
        {"00012.5", "12.5000"},
        {"+7", "7.0000"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Kind *k = mn_create(t.o, Kind, "dec", cases[i].in);
        if (!k) {
            cr_log_error("%s: %s", cases[i].in, mn_orm_error(t.o));
            bad++;
            continue;
        }
        Kind *g = reload(k);
        if (!g->dec || strcmp(g->dec, cases[i].out) != 0) {
            cr_log_error("%s read back as %s", cases[i].in, g->dec ? g->dec : "NULL");
            bad++;
        }
        if (mn_qs_count(mn_filter(mn_all(t.o, Kind), "pk", k->id, "dec", cases[i].in)) != 1) {
            cr_log_error("filter dec=%s: %s", cases[i].in, mn_orm_error(t.o));
            bad++;
        }
    }
    cr_expect_eq(bad, 0);
}

Test(orm_audit_fields, datetimes_are_stored_in_utc_and_read_back_aware)
{
    /* 2023-12-31 23:30:00.000123-05:00 is 2024-01-01 04:30:00.000123 UTC */
    mn_datetime ny = {.year = 2023,
                      .month = 12,
                      .day = 31,
                      .hour = 23,
                      .minute = 30,
                      .microsecond = 123,
                      .aware = true,
                      .utc_offset = -5 * 3600};
    mn_datetime old = {.year = 1850, .month = 3, .day = 1};
    mn_datetime clock = {.hour = 23, .minute = 59, .second = 59, .microsecond = 999999};
    Kind *k = mn_create(t.o, Kind, "at", &ny, "day", &old, "clock", &clock);
    cr_assert_not_null(k, "%s", mn_orm_error(t.o));
    Kind *g = reload(k);
    cr_expect(g->at.aware);
    cr_expect_eq(g->at.utc_offset, 0);
    cr_expect_eq(g->at.year, 2024);
    cr_expect_eq(g->at.month, 1);
    cr_expect_eq(g->at.day, 1);
    cr_expect_eq(g->at.hour, 4);
    cr_expect_eq(g->at.minute, 30);
    cr_expect_eq(g->at.microsecond, 123);
    cr_expect_eq(g->day.year, 1850);
    cr_expect_eq(g->day.month, 3);
    cr_expect_eq(g->clock.microsecond, 999999);
    cr_expect_eq(g->clock.second, 59);
    /* a filter with another offset finds the same instant */
    mn_datetime tokyo = {.year = 2024,
                         .month = 1,
                         .day = 1,
                         .hour = 13,
                         .minute = 30,
                         .microsecond = 123,
                         .aware = true,
                         .utc_offset = 9 * 3600};
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Kind), "at", &tokyo)), 1, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Kind), "at__year", 2024)), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Kind), "day__lt", "1900-01-01")), 1);
    /* an aware datetime given to a DateField is its date in UTC */
    mn_datetime early = {
        .year = 2024, .month = 3, .day = 1, .hour = 1, .aware = true, .utc_offset = 5 * 3600};
    Kind *e = mn_create(t.o, Kind, "day", &early);
    cr_assert_not_null(e, "%s", mn_orm_error(t.o));
    cr_expect_eq(reload(e)->day.month, 2);
    cr_expect_eq(reload(e)->day.day, 29);
    /* the extremes Python's datetime holds */
    mn_datetime lo = {.year = 1, .month = 1, .day = 1, .aware = true};
    mn_datetime hi = {.year = 9999,
                      .month = 12,
                      .day = 31,
                      .hour = 23,
                      .minute = 59,
                      .second = 59,
                      .microsecond = 999999,
                      .aware = true};
    Kind *a = mn_create(t.o, Kind, "at", &lo, "day", &lo);
    Kind *b = mn_create(t.o, Kind, "at", &hi, "day", &hi);
    cr_assert(a && b, "%s", mn_orm_error(t.o));
    cr_expect_eq(reload(a)->at.year, 1);
    cr_expect_eq(reload(a)->day.year, 1);
    cr_expect_eq(reload(b)->at.microsecond, 999999);
    cr_expect_eq(reload(b)->day.year, 9999);
}

Test(orm_audit_fields, durations_negative_and_large)
{
    int64_t vals[] = {-1, -86400000000LL * 3 - 5, 86399999999999999LL /* ~999999999 days */, 0};
    int bad = 0;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        Kind *k = mn_new(t.o, Kind);
        cr_assert_eq(mn_obj_set(t.o, k, "span", mn_arg_int(vals[i])), 0);
        if (mn_save(t.o, k) != 0 || reload(k)->span != vals[i] ||
            mn_obj_is_null(reload(k), "span")) {
            cr_log_error("duration %lld: %s", (long long)vals[i], mn_orm_error(t.o));
            bad++;
        }
    }
    cr_expect_eq(bad, 0);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Kind), "span__lt", 0)), 2);
}

Test(orm_audit_fields, uuid_text_forms_are_canonical)
{
    const char *forms[] = {
        "12345678-1234-5678-1234-567812345678", "{12345678-1234-5678-1234-567812345678}",
        "12345678123456781234567812345678", "12345678-1234-5678-1234-56781234567A"};
    int bad = 0;
    for (size_t i = 0; i < 4; i++) {
        Kind *k = mn_create(t.o, Kind, "uid", forms[i]);
        if (!k) {
            cr_log_error("%s: %s", forms[i], mn_orm_error(t.o));
            bad++;
            continue;
        }
        const char *want = i == 3 ? "12345678-1234-5678-1234-56781234567a"
                                  : "12345678-1234-5678-1234-567812345678";
        if (strcmp(reload(k)->uid, want) != 0) {
            cr_log_error("%s read back as %s", forms[i], reload(k)->uid);
            bad++;
        }
        /* full_clean accepts what Python's uuid.UUID accepts */
        mn_validation v;
        k->uid = forms[i];
        if (mn_full_clean(t.o, k, &v) != 0) {
            cr_log_error("full_clean %s: %s", forms[i], v.n ? v.errors[0].message : "");
            bad++;
        }
    }
    cr_expect_eq(bad, 0);
    cr_expect_eq(
        mn_qs_count(mn_filter(mn_all(t.o, Kind), "uid", "{12345678123456781234567812345678}")), 3,
        "%s", mn_orm_error(t.o));
    Kind *k = mn_new(t.o, Kind);
    k->uid = "1234";
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, k, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "uid"), "\xe2\x80\x9c"
                                           "1234\xe2\x80\x9d is not a valid UUID.");
}

Test(orm_audit_fields, json_null_is_not_sql_null)
{
    Kind *sqlnull = mn_create(t.o, Kind, "name", "sql");
    Kind *jsonnull = mn_create(t.o, Kind, "name", "json", "doc", "null");
    const char *nested = "{\"k\": [1, {\"\xc3\xa9t\xc3\xa9\": \"\xe2\x82\xac\"}], "
                         "\"big\": 123456789012345678901234567890}";
    Kind *deep = mn_create(t.o, Kind, "name", "deep", "doc", nested);
    cr_assert(sqlnull && jsonnull && deep, "%s", mn_orm_error(t.o));
    cr_expect(mn_obj_is_null(reload(sqlnull), "doc"));
    Kind *g = reload(jsonnull);
    cr_expect_not(mn_obj_is_null(g, "doc"));
    cr_expect_str_eq(g->doc, "null");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Kind), "doc__isnull", true)), 1);
    g = reload(deep);
    cr_expect(strstr(g->doc, "123456789012345678901234567890"), "%s", g->doc);
    cr_expect(strstr(g->doc, "\xc3\xa9t\xc3\xa9"), "%s", g->doc);
    mn_validation v;
    cr_expect_eq(mn_full_clean(t.o, g, &v), 0, "%s", v.n ? v.errors[0].message : "");
}

Test(orm_audit_fields, binary_keeps_nul_bytes_and_empty_strings_stay_empty)
{
    static const char bytes[] = {'a', 0, 'b', 0, (char)0xff, 0};
    Kind *k = mn_new(t.o, Kind);
    k->blob = (mn_str){bytes, sizeof bytes};
    k->name = "";
    cr_assert_eq(mn_save(t.o, k), 0, "%s", mn_orm_error(t.o));
    Kind *g = reload(k);
    cr_expect_eq(g->blob.len, sizeof bytes);
    cr_expect_eq(memcmp(g->blob.ptr, bytes, sizeof bytes), 0);
    cr_expect_not(mn_obj_is_null(g, "name"), "'' is not NULL");
    cr_expect_str_eq(g->name, "");
    Kind *n = mn_create(t.o, Kind, "i16", 1);
    cr_assert_not_null(n);
    cr_expect(mn_obj_is_null(reload(n), "name"), "null=True char fields default to None");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Kind), "name", "")), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Kind), "name__isnull", true)), 1);
}

/* ---- full_clean ---- */

Test(orm_audit_fields, decimal_digits_are_counted_as_django_counts_them)
{
    /* max_digits=4, decimal_places=2 */
    struct {
        const char *in, *err;
    } cases[] = {
        {"0.00", NULL},
        {"0.05", NULL},
        {"99.99", NULL},
        {"-99.99", NULL},
        {"00.50", NULL},
        {"1E+1", NULL},
        {"999.9", "Ensure that there are no more than 2 digits before the decimal point."},
        {"1.234", "Ensure that there are no more than 2 decimal places."},
        {"12345", "Ensure that there are no more than 4 digits in total."},
        {"0E-10", "Ensure that there are no more than 4 digits in total."},
        {"0.000", "Ensure that there are no more than 2 decimal places."},
        {"abc", "\xe2\x80\x9c"
                "abc\xe2\x80\x9d value must be a decimal number."},
        {"NaN", "\xe2\x80\x9c"
                "NaN\xe2\x80\x9d value must be a decimal number."},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Priced *p = mn_new(t.o, Priced);
        p->price = cases[i].in;
        mn_validation v;
        int rc = mn_full_clean(t.o, p, &v);
        const char *got = error_for(&v, "price");
        bool ok =
            cases[i].err ? rc == MN_EVALIDATION && got && strcmp(got, cases[i].err) == 0 : rc == 0;
        if (!ok) {
            cr_log_error("%s: got %s", cases[i].in, got ? got : "no error");
            bad++;
        }
    }
    cr_expect_eq(bad, 0);
    /* a leading zero is no digit: max_digits = decimal_places = 3 takes 0.123 */
    Priced *p = mn_new(t.o, Priced);
    p->rate = "0.123";
    mn_validation v;
    cr_expect_eq(mn_full_clean(t.o, p, &v), 0, "%s", v.n ? v.errors[0].message : "");
    p->rate = "1.123";
    cr_assert_eq(mn_full_clean(t.o, p, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "rate"),
                     "Ensure that there are no more than 3 digits in total.");
}

Test(orm_audit_fields, json_with_big_integers_is_valid)
{
    Priced *p = mn_new(t.o, Priced);
    p->doc = "[123456789012345678901234567890, -99999999999999999999]";
    mn_validation v;
    cr_expect_eq(mn_full_clean(t.o, p, &v), 0, "%s", v.n ? v.errors[0].message : "");
    cr_expect_not_null(mn_create(t.o, Priced, "doc", p->doc), "%s", mn_orm_error(t.o));
}

Test(orm_audit_fields, unique_together_of_three_fields_lists_them_as_django)
{
    cr_assert_not_null(mn_create(t.o, HTTPRequestLog, "host_name", "a", "port", 80, "path", "/"));
    HTTPRequestLog *dup = mn_new(t.o, HTTPRequestLog);
    dup->host_name = "a";
    dup->port = 80;
    dup->path = "/";
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, dup, &v), MN_EVALIDATION, "%s", mn_orm_error(t.o));
    /* get_text_list(): "a, b and c"; labels are capfirst(verbose_name), an explicit one as
     * written */
    cr_expect_str_eq(error_for(&v, NULL),
                     "Http request log with this Host name, Port and Url_path already exists.");
}

Test(orm_audit_fields, verbose_names_derived_as_django)
{
    cr_expect_str_eq(mn_model_verbose_name(&HTTPRequestLog_model, false, t.arena),
                     "http request log");
    cr_expect_str_eq(mn_model_verbose_name(&HTTPRequestLog_model, true, t.arena),
                     "http request logs");
    cr_expect_str_eq(mn_model_verbose_name(&ShelfMark_model, false, t.arena), "shelf mark");
    /* a field's: its name with spaces for underscores, unless given */
    cr_assert_eq(mn_models_ready(NULL), 0);
    cr_expect_str_eq(mn_model_field(&HTTPRequestLog_model, "host_name")->verbose_name, "host name");
    cr_expect_str_eq(mn_model_field(&HTTPRequestLog_model, "path")->verbose_name, "url_path");
    cr_expect_str_eq(mn_model_field(&Volume_model, "mark")->verbose_name, "mark");
    /* auto_now and auto_now_add make a field editable=False and blank=True, as Django's */
    const mn_fielddef *created = mn_model_field(&Everything_model, "created");
    cr_expect_eq(created->editable, MN_NO);
    cr_expect(created->blank);
    cr_expect_eq(mn_model_field(&Everything_model, "updated")->editable, MN_NO);
    cr_expect_eq(mn_model_field(&Everything_model, "small")->editable, MN_YES);
    cr_expect_eq(mn_model_field(&Wide_model, "token")->editable, MN_NO);
}

/* ---- db_column everywhere ---- */

Test(orm_audit_fields, db_column_is_used_by_every_query)
{
    ShelfMark *a = mn_create(t.o, ShelfMark, "code", "A1", "rank", 2);
    ShelfMark *b = mn_create(t.o, ShelfMark, "code", "B2", "rank", 1);
    cr_assert(a && b, "%s", mn_orm_error(t.o));
    Volume *v1 = mn_create(t.o, Volume, "title", "one", "mark", a);
    Volume *v2 = mn_create(t.o, Volume, "title", "two", "mark", b);
    cr_assert(v1 && v2, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(
        tdb_rows_repr(
            &t, mn_qs_values_list(mn_qs_order_by(mn_all(t.o, ShelfMark), "rank"), "code", true)),
        "['B2', 'A1']");
    cr_expect_str_eq(
        tdb_rows_repr(&t, mn_qs_values(mn_filter(mn_all(t.o, Volume), "mark__code", "A1"),
                                       "title,mark,mark__rank")),
        "[{'title': 'one', 'mark': 1, 'mark__rank': 2}]");
    mn_rows *r = mn_qs_fetch(
        mn_qs_select_related(mn_qs_order_by(mn_all(t.o, Volume), "-mark__rank"), "mark"));
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_assert_eq(r->len, 2);
    cr_expect_str_eq(((ShelfMark *)((Volume *)r->items[0])->mark.obj)->code, "A1");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, ShelfMark), "volumes__title", "two")), 1);
    cr_expect_eq(mn_update(mn_filter(mn_all(t.o, ShelfMark), "code", "A1"), "rank",
                           mn_F_add(t.o, "rank", 10)),
                 1, "%s", mn_orm_error(t.o));
    /* bulk operations */
    ShelfMark *c = mn_new(t.o, ShelfMark), *d = mn_new(t.o, ShelfMark);
    c->code = "C3";
    d->code = "D4";
    void *objs[] = {c, d};
    cr_assert_eq(mn_bulk_create(t.o, &ShelfMark_model, objs, 2, NULL), 0, "%s", mn_orm_error(t.o));
    c->rank = 7;
    d->rank = 8;
    cr_expect_eq(mn_bulk_update(t.o, &ShelfMark_model, objs, 2, "rank", 0), 2, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, ShelfMark), "rank__gte", 7)), 3);
    mn_value *agg = mn_qs_aggregate(mn_all(t.o, ShelfMark), "m", mn_Max(t.o, "rank", NULL));
    cr_expect_str_eq(tdb_repr(&t, agg), "{'m': 12}");
    Volume *v3 = mn_new(t.o, Volume);
    v3->title = "three";
    v3->mark.id = c->id;
    void *vols[] = {v3};
    cr_assert_eq(mn_bulk_create(t.o, &Volume_model, vols, 1, NULL), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_qs_prefetch_related(mn_all(t.o, ShelfMark), "volumes")), 4);
    mn_delete_report rep;
    cr_expect_eq(mn_delete(t.o, a, &rep), 1, "%s", mn_orm_error(t.o));
    cr_expect(mn_obj_is_null(mn_get(mn_all(t.o, Volume), "pk", v1->id), "mark"),
              "SET_NULL through a renamed column");
}
/* mn_value arguments (MN_ARG of a template value) filter an integer field: full_clean's
 * unique checks pass the instance's values that way */
Test(orm_audit_fields, an_integer_field_filters_by_a_template_value)
{
    cr_assert_not_null(mn_create(t.o, HTTPRequestLog, "host_name", "a", "port", 80, "path", "/"));
    mn_value *v = mn_value_int(t.arena, 80);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, HTTPRequestLog), "port", v)), 1, "%s",
                 mn_orm_error(t.o));
    mn_value *w = mn_value_str(t.arena, "80", 2);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, HTTPRequestLog), "port", w)), 1, "%s",
                 mn_orm_error(t.o));
}

/* EmailValidator and URLValidator take and refuse what Django's do. */
Test(orm_audit_fields, email_and_url_validators_follow_django)
{
    static const char *const good_emails[] = {"email@here.com",
                                              "weirder-email@here.and.there.com",
                                              "email@[127.0.0.1]",
                                              "email@[2001:dB8::1]",
                                              "example@valid-----hyphens.com",
                                              "email@localhost",
                                              "\"test@test\"@example.com",
                                              "a.b+c@example.co",
                                              "x@ex.c0m",
                                              "t@d\xc3\xa9j\xc3\xa0.example",
                                              NULL};
    static const char *const bad_emails[] = {"abc",
                                             "abc@",
                                             "abc@bar",
                                             "a @x.cz",
                                             "abc@.com",
                                             "something@@somewhere.com",
                                             "email@127.0.0.1",
                                             "email@[127.0.0.256]",
                                             "example@invalid-.com",
                                             "example@-invalid.com",
                                             "example@invalid.com-",
                                             "a..b@x.com",
                                             ".a@x.com",
                                             "trailingdot@shouldfail.com.",
                                             "email@x.c",
                                             "\xc3\xa9@x.com",
                                             NULL};
    static const char *const good_urls[] = {"http://www.djangoproject.com/",
                                            "HTTP://EXAMPLE.COM/",
                                            "http://localhost/",
                                            "http://localhost:8000/",
                                            "http://127.0.0.1:8000/django/",
                                            "http://[::1]:8080/",
                                            "http://example.com.",
                                            "http://userid:password@example.com:8080/",
                                            "http://xn--7sbb4ac0ad0be6cf.xn--p1ai",
                                            "https://example.com?x=1#y",
                                            "ftps://ftp.example.com",
                                            "http://0.0.0.0/",
                                            "http://\xe4\xbe\x8b\xe5\xad\x90.test",
                                            NULL};
    static const char *const bad_urls[] = {"foo",
                                           "http://",
                                           "http://example",
                                           "http://example.",
                                           "http://.com",
                                           "http://invalid-.com",
                                           "http://-invalid.com",
                                           "http://1.1.1.1.1",
                                           "http://999.1.1.1",
                                           "http://example.com:abc",
                                           "http://example.com:123456",
                                           "http://www.example.com/ a",
                                           "git://example.com",
                                           "http://exa_mple.com",
                                           "http://example.123",
                                           "http://[::1:2::3]:8080/",
                                           "http://a@b@example.com",
                                           "http://example.com:",
                                           NULL};
    int bad = 0;
    mn_validation v;
    for (int pass = 0; pass < 4; pass++) {
        const char *const *list = pass == 0   ? good_emails
                                  : pass == 1 ? bad_emails
                                  : pass == 2 ? good_urls
                                              : bad_urls;
        for (size_t i = 0; list[i]; i++) {
            Author *a = mn_new(t.o, Author);
            a->name = mn_arena_printf(t.arena, "n%d_%zu", pass, i);
            Everything *e = mn_new(t.o, Everything);
            if (pass < 2)
                a->email = list[i];
            else
                e->url = list[i];
            int rc = pass < 2 ? mn_full_clean(t.o, a, &v) : mn_full_clean(t.o, e, &v);
            const char *msg = error_for(&v, pass < 2 ? "email" : "url");
            const char *want = pass < 2 ? "Enter a valid email address." : "Enter a valid URL.";
            bool ok = pass % 2 == 0 ? rc == 0 : msg && strcmp(msg, want) == 0;
            if (!ok) {
                cr_log_error("%s: %s", list[i], msg ? msg : "accepted");
                bad++;
            }
        }
    }
    cr_expect_eq(bad, 0);
}

Test(orm_audit_fields, nan_on_postgresql_and_wide_decimals)
{
    Kind *k = mn_new(t.o, Kind);
    k->fl = NAN;
    int rc = mn_save(t.o, k);
    if (tdb_is_pg(&t)) {
        cr_assert_eq(rc, 0, "%s", mn_orm_error(t.o));
        cr_expect(isnan(reload(k)->fl), "NaN survives on PostgreSQL");
    }
    /* a DecimalField wider than 18 digits keeps every digit on PostgreSQL; SQLite's scaled
     * 64-bit integer cannot hold it and says so (no silent rounding) */
    const char *big = "12345678901234567890.1234567890";
    Wide *w = mn_create(t.o, Wide, "amount", big);
    if (!tdb_is_pg(&t)) {
        cr_expect_null(w);
        cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_DATA);
        cr_expect(strstr(mn_orm_error(t.o), "at most 18 digits"), "%s", mn_orm_error(t.o));
        big = "123456789.1234567890";
        w = mn_create(t.o, Wide, "amount", big);
    }
    cr_assert_not_null(w, "%s", mn_orm_error(t.o));
    Wide *g = mn_get(mn_all(t.o, Wide), "pk", w->id);
    cr_assert_not_null(g, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(g->amount, big);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Wide), "amount", big)), 1, "%s",
                 mn_orm_error(t.o));
}

Test(orm_audit_fields, callable_defaults_and_choices)
{
    Wide *a = mn_new(t.o, Wide), *b = mn_new(t.o, Wide);
    cr_expect_str_neq(a->token, b->token);
    cr_expect_eq(strncmp(a->token, "T-", 2), 0);
    cr_assert_not_null(a->stamp);
    cr_expect_str_neq(a->stamp, b->stamp, "a callable default is called per instance");
    cr_expect_eq(a->level, 1);
    cr_assert_eq(mn_save(t.o, a), 0, "%s", mn_orm_error(t.o));
    Wide *c = mn_create(t.o, Wide, "label", "b");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect_not_null(c->stamp);
    cr_expect_str_eq(mn_obj_display(t.o, c, "level"), "low");
    /* a bad choice is the only error Django reports for the field (validate() raises
     * before the validators run) */
    c->label = "zzzz";
    c->level = 3;
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, c, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "label"), "Value 'zzzz' is not a valid choice.");
    cr_expect_str_eq(error_for(&v, "level"), "Value 3 is not a valid choice.");
    cr_expect_eq(v.n, 2, "%s", v.n > 2 ? v.errors[2].message : "");
}

/* UniqueConstraint(fields=..., condition=Q(active=True)): a partial unique index on both
 * databases, and full_clean checks it among the matching rows only, with Django's default
 * violation message; CheckConstraint on a boolean field. */
Test(orm_audit_fields, partial_unique_constraint_and_boolean_checks)
{
    mn_buf b;
    mn_buf_init(&b, t.arena);
    cr_assert_eq(mn_schema_sql(&Seat_model, MN_DIALECT_POSTGRESQL, t.arena, &b), 0);
    const char *s = mn_buf_cstr(&b);
    cr_expect(strstr(s, "CREATE UNIQUE INDEX \"one_active_seat\" ON \"auditf_seat\" (\"room\", "
                        "\"number\") WHERE (\"active\" = true)"),
              "%s", s);
    cr_expect_null(strstr(s, "CONSTRAINT \"one_active_seat\""), "%s", s);
    mn_buf_init(&b, t.arena);
    cr_assert_eq(mn_schema_sql(&Seat_model, MN_DIALECT_SQLITE, t.arena, &b), 0);
    s = mn_buf_cstr(&b);
    cr_expect(strstr(s, "WHERE (\"active\" = 1)"), "%s", s);

    cr_assert_not_null(mn_create(t.o, Seat, "room", "A", "number", 1), "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Seat, "room", "A", "number", 1, "active", false), "%s",
                       mn_orm_error(t.o));
    Seat *dup = mn_new(t.o, Seat);
    dup->room = "A";
    dup->number = 1;
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, dup, &v), MN_EVALIDATION, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(error_for(&v, NULL), "Constraint \xe2\x80\x9c"
                                          "one_active_seat\xe2\x80\x9d is violated.");
    cr_expect_eq(v.n, 1);
    cr_expect_eq(mn_save(t.o, dup), MN_EDB_INTEGRITY, "the index enforces it");
    dup->active = false;
    cr_expect_eq(mn_full_clean(t.o, dup, &v), 0, "%s", v.n ? v.errors[0].message : "");
    cr_expect_eq(mn_save(t.o, dup), 0, "inactive seats may repeat: %s", mn_orm_error(t.o));

    /* a check constraint refusing a value, and one left out when its field has an error */
    Seat *x = mn_new(t.o, Seat);
    x->room = "B";
    x->price = 2000;
    cr_assert_eq(mn_full_clean(t.o, x, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, NULL), "Constraint \xe2\x80\x9c"
                                          "price_range\xe2\x80\x9d is violated.");
    x->price = 5;
    x->room = "far too long a name";
    cr_assert_eq(mn_full_clean(t.o, x, &v), MN_EVALIDATION);
    cr_expect_eq(v.n, 1, "%s", v.n > 1 ? v.errors[1].message : "");
}

/* GenericIPAddressField stores an IPv6 address in its compressed, lower-case form (Django's
 * clean_ipv6_address), so both databases give back the same text. */
Test(orm_audit_fields, ipv6_addresses_are_normalised)
{
    Everything *e = mn_create(t.o, Everything, "ip", "2001:0DB8:0:0:0:0:0:0001");
    cr_assert_not_null(e, "%s", mn_orm_error(t.o));
    Everything *g = mn_get(mn_all(t.o, Everything), "pk", e->id);
    cr_assert_not_null(g, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(g->ip, "2001:db8::1");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Everything), "ip", "2001:db8::1")), 1);
    Everything *v4 = mn_create(t.o, Everything, "ip", "192.168.0.1");
    cr_assert_not_null(v4, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(((Everything *)mn_get(mn_all(t.o, Everything), "pk", v4->id))->ip,
                     "192.168.0.1");
    Everything *blank = mn_create(t.o, Everything, "ip", "");
    cr_assert_not_null(blank, "%s", mn_orm_error(t.o));
    cr_expect(mn_obj_is_null(mn_get(mn_all(t.o, Everything), "pk", blank->id), "ip"),
              "a blank address is stored as NULL, as Django's");
}

Test(orm_audit_fields, db_column_in_only_defer_refresh_and_upserts)
{
    ShelfMark *a = mn_create(t.o, ShelfMark, "code", "A1", "rank", 2);
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    ShelfMark *o1 = mn_qs_get(mn_filter(mn_qs_only(mn_all(t.o, ShelfMark), "code"), "pk", a->id));
    cr_assert_not_null(o1, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(o1->code, "A1");
    cr_assert_eq(mn_refresh_fields(t.o, o1, "rank"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(o1->rank, 2);
    ShelfMark *d = mn_qs_get(mn_filter(mn_qs_defer(mn_all(t.o, ShelfMark), "code"), "pk", a->id));
    cr_assert_not_null(d, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(tdb_repr(&t, mn_obj_get_value(t.o, d, "code")), "'A1'");
    a->rank = 5;
    cr_assert_eq(mn_save_fields(t.o, a, "rank"), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_refresh(t.o, o1), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(o1->rank, 5);
    bool created = true;
    ShelfMark *g = mn_qs_get_or_create(mn_all(t.o, ShelfMark), MN_KVS("code", "A1"), 1,
                                       MN_KVS("rank", 9), 1, &created);
    cr_assert_not_null(g, "%s", mn_orm_error(t.o));
    cr_expect_not(created);
    ShelfMark *u = mn_qs_update_or_create(mn_all(t.o, ShelfMark), MN_KVS("code", "Z9"), 1,
                                          MN_KVS("rank", 3), 1, &created);
    cr_assert_not_null(u, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, ShelfMark), "rank__in", MN_IN(3, 5))), 2);
    cr_expect_eq(
        mn_qs_count(mn_qs_distinct(mn_qs_values_list(mn_all(t.o, ShelfMark), "rank", true))), 2);
}

/* Django's JSONField: filter(doc=None) finds the JSON null, doc__isnull=True the SQL NULL. */
Test(orm_audit_fields, json_none_filter_finds_json_null)
{
    cr_assert_not_null(mn_create(t.o, Kind, "name", "sql"));
    cr_assert_not_null(mn_create(t.o, Kind, "name", "json", "doc", "null"));
    cr_assert_not_null(mn_create(t.o, Kind, "name", "obj", "doc", "{\"a\": null}"));
    cr_expect_str_eq(
        tdb_rows_repr(&t, mn_qs_values_list(mn_filter(mn_all(t.o, Kind), "doc", mn_arg_null()),
                                            "name", true)),
        "['json']");
    cr_expect_str_eq(
        tdb_rows_repr(
            &t, mn_qs_values_list(mn_filter(mn_all(t.o, Kind), "doc__isnull", true), "name", true)),
        "['sql']");
    cr_expect_str_eq(
        tdb_rows_repr(
            &t, mn_qs_values_list(
                    mn_qs_order_by(mn_exclude(mn_all(t.o, Kind), "doc", mn_arg_null()), "name"),
                    "name", true)),
        "['obj', 'sql']");
}
