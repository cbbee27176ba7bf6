/* test_basics.c — the first things a user does with a model: create tables from metadata,
 * create/save/get/filter/count/order_by/delete, and what a wrong field name says. */
#include "helper_db.h"
#include "helper_models.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

DB_SUITE(orm_basics);

static Question *question(const char *text, int year)
{
    mn_datetime dt = {.year = year, .month = 4, .day = 1, .hour = 12, .aware = true};
    Question *q = mn_create(t.o, Question, "text", text, "pub_date", &dt);
    cr_assert_not_null(q, "create: %s", mn_orm_error(t.o));
    return q;
}

Test(orm_basics, create_assigns_primary_keys_and_get_reads_back)
{
    Question *a = question("What's new?", 2024);
    Question *b = question("Who are you?", 2025);
    cr_assert_gt(a->id, 0);
    cr_assert_eq(b->id, a->id + 1);
    Question *got = mn_get(mn_all(t.o, Question), "pk", a->id);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_assert_str_eq(got->text, "What's new?");
    cr_assert_eq(got->pub_date.year, 2024);
    cr_assert_eq(got->pub_date.hour, 12);
    cr_assert(got->pub_date.aware);
}

Test(orm_basics, save_updates_an_existing_row)
{
    Question *q = question("Old", 2020);
    q->text = "New";
    cr_assert_eq(mn_save(t.o, q), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_qs_count(mn_all(t.o, Question)), 1);
    Question *got = mn_get(mn_all(t.o, Question), "id", q->id);
    cr_assert_str_eq(got->text, "New");
}

Test(orm_basics, get_distinguishes_missing_and_multiple)
{
    question("a", 2020);
    question("b", 2020);
    cr_assert_null(mn_get(mn_all(t.o, Question), "text", "zzz"));
    cr_assert_eq(mn_orm_errcode(t.o), MN_EDOES_NOT_EXIST);
    cr_assert_str_eq(mn_orm_error(t.o), "Question matching query does not exist.");
    cr_assert_null(mn_get(mn_all(t.o, Question), "pub_date__year", 2020));
    cr_assert_eq(mn_orm_errcode(t.o), MN_EMULTIPLE);
    cr_assert_str_eq(mn_orm_error(t.o), "get() returned more than one Question -- it returned 2!");
}

Test(orm_basics, wrong_field_name_suggests_the_closest)
{
    cr_assert_null(mn_qs_fetch(mn_filter(mn_all(t.o, Question), "pub_dte__year", 2024)));
    cr_assert_eq(mn_orm_errcode(t.o), MN_EFIELD);
    cr_assert_str_eq(mn_orm_error(t.o),
                     "Question has no field 'pub_dte'; did you mean 'pub_date'?");
    cr_assert_null(mn_qs_fetch(mn_filter(mn_all(t.o, Choice), "question__txet", "x")));
    cr_assert_str_eq(mn_orm_error(t.o),
                     "Question has no field 'txet'; did you mean 'text'? (in 'question__txet')");
    cr_assert_null(mn_qs_fetch(mn_filter(mn_all(t.o, Question), "text__startwith", "x")));
    cr_assert(strstr(mn_orm_error(t.o), "did you mean 'startswith'?"), "%s", mn_orm_error(t.o));
    cr_assert_null(mn_qs_fetch(mn_filter(mn_all(t.o, Question), "zzzzzzzz", 1)));
    cr_assert_str_eq(mn_orm_error(t.o),
                     "Question has no field 'zzzzzzzz'; choices are: id, text, pub_date, choices");
    cr_assert_null(mn_qs_fetch(mn_qs_order_by(mn_all(t.o, Question), "-pub_dat")));
    cr_assert_str_eq(mn_orm_error(t.o),
                     "Question has no field 'pub_dat'; did you mean 'pub_date'?");
}

Test(orm_basics, filter_order_count_and_delete)
{
    question("c", 2022);
    question("a", 2021);
    question("b", 2023);
    mn_qs *qs = mn_qs_order_by(mn_all(t.o, Question), "-pub_date");
    mn_rows *rows = mn_qs_fetch(qs);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 3);
    cr_assert_str_eq(((Question *)rows->items[0])->text, "b");
    cr_assert_str_eq(((Question *)rows->items[2])->text, "a");
    cr_assert_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "pub_date__year__gte", 2022)), 2);
    Question *a = mn_get(mn_all(t.o, Question), "text", "a");
    cr_assert_not_null(a);
    mn_delete_report rep;
    cr_assert_eq(mn_delete(t.o, a, &rep), 1, "%s", mn_orm_error(t.o));
    cr_assert_eq(rep.n, 1);
    cr_assert_str_eq(rep.items[0].label, "polls.Question");
    cr_assert_eq(mn_qs_count(mn_all(t.o, Question)), 2);
    size_t n = 0;
    MN_FOREACH(Question, q, mn_qs_order_by(mn_all(t.o, Question), "text"))
    {
        cr_assert_str_eq(q->text, n == 0 ? "b" : "c");
        n++;
    }
    cr_assert_eq(n, 2);
}

Test(orm_basics, runs_on_the_database_the_environment_names)
{
    const char *url = getenv("MN_TEST_DATABASE_URL");
    cr_assert_str_eq(mn_db_vendor(t.db), url && *url ? "postgresql" : "sqlite");
    cr_assert_eq(tdb_is_pg(&t), url && *url);
}
