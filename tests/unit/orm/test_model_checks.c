/* test_model_checks.c — Meta.ordering is checked when the registry gets ready (Django's
 * system check models.E015), so a misspelt name is reported before any query runs, naming
 * the model and the closest valid name; fixing it makes the registry usable again. */
#include <criterion/criterion.h>
#include <manouche/orm.h>
#include <string.h>

/* clang-format off */
#define SHOW_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(title, MN_CHAR, .max_length = 100)                                                   \
    F(opened, MN_DATE, .null = true)
MN_MODEL(Show, checks, SHOW_FIELDS, .ordering = "-opned,title");

#define SEAT_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(show, MN_FK, .to = "Show", .related_name = "seats")                                  \
    F(row, MN_CHAR, .max_length = 2)
MN_MODEL(Seat, checks, SEAT_FIELDS, .ordering = "show__opened__year,-show__title,row,?");

#define LATE_FIELDS(F) F(id, MN_BIGAUTO)
MN_MODEL(Late, checks, LATE_FIELDS);
/* clang-format on */

/* Registers a model again: the registry is checked afresh on its next use. */
static void recheck(void)
{
    static mn_model again[8];
    static size_t n;
    cr_assert_lt(n, 8);
    again[n] = Late_model;
    again[n].name = "Late2";
    again[n].fields = NULL;
    again[n].db_table = "checks_late2";
    mn_model_register(&again[n++]);
}

static const char *ready_error(const char *ordering_show, const char *ordering_seat)
{
    Show_model.ordering = ordering_show;
    Seat_model.ordering = ordering_seat;
    recheck();
    const char *why = NULL;
    int rc = mn_models_ready(&why);
    if (rc == 0)
        return "";
    cr_expect_eq(rc, MN_EFIELD);
    return why ? why : "(no reason)";
}

Test(orm_model_checks, a_misspelt_ordering_is_reported_at_registration)
{
    const char *why = NULL;
    cr_assert_eq(mn_models_ready(&why), MN_EFIELD, "the declared ordering is wrong");
    cr_expect_str_eq(why, "checks.Show: (models.E015) 'ordering' refers to the nonexistent field, "
                          "related field, or lookup 'opned'; did you mean 'opened'?");
    /* every entry point says so before touching a database */
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = mn_orm_new(a, NULL);
    cr_expect_null(mn_qs_all(o, &Show_model));
    cr_expect_eq(mn_orm_errcode(o), MN_EFIELD);
    cr_expect_not_null(strstr(mn_orm_error(o), "(models.E015)"), "%s", mn_orm_error(o));
    mn_arena_free(a);

    cr_expect_str_eq(ready_error("-opened,title", "show__opend"),
                     "checks.Seat: (models.E015) 'ordering' refers to the nonexistent field, "
                     "related field, or lookup 'show__opend'; did you mean 'show__opened'?");
    cr_expect_str_eq(ready_error("title__bogus", NULL),
                     "checks.Show: (models.E015) 'ordering' refers to the nonexistent field, "
                     "related field, or lookup 'title__bogus'.");
    cr_expect_str_eq(ready_error("zzzzzz", NULL),
                     "checks.Show: (models.E015) 'ordering' refers to the nonexistent field, "
                     "related field, or lookup 'zzzzzz'.");
    /* valid: fields, pk, attnames, relations both ways, transforms, random, descending */
    cr_expect_str_eq(ready_error("-opened,pk,seats__row", "show__opened__year,-show_id,row,?"), "");
    cr_expect_str_eq(ready_error("+title", "-show__title"), "");
}
