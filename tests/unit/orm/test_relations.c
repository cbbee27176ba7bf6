/* test_relations.c — one-to-one (forward and reverse), many-to-many through an explicit
 * model, nested prefetch_related, and field options that run code (validators, callable
 * defaults). */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <string.h>

LIBRARY_SUITE(orm_relations);

Test(orm_relations, one_to_one_both_ways)
{
    Profile *p = mn_create(t.o, Profile, "author", lib.ann, "bio", "Writes.");
    cr_assert_not_null(p, "%s", mn_orm_error(t.o));
    cr_expect_eq(strncmp(p->code, "P-", 2), 0, "callable default: %s", p->code);
    cr_expect_null(mn_create(t.o, Profile, "author", lib.ann), "one profile per author");
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY);
    Profile *back = mn_fk_get(t.o, lib.ann, "profile");
    cr_assert_not_null(back, "%s", mn_orm_error(t.o));
    cr_expect_eq(back->id, p->id);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Author), "profile__bio__startswith", "Wri")), 1);
    cr_expect_str_eq(((Author *)mn_fk_get(t.o, p, "author"))->name, "Ann");
    cr_expect_eq(mn_model_field(&Profile_model, "code")->editable, MN_NO);
    cr_expect_str_eq(mn_model_field(&Profile_model, "code")->help_text, "generated");
}

Test(orm_relations, validators_run_in_full_clean)
{
    Profile *p = mn_new(t.o, Profile);
    p->author.id = lib.bob->id;
    p->bio = "HELLO!";
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, p, &v), MN_EVALIDATION);
    cr_assert_eq(v.n, 1);
    cr_expect_str_eq(v.errors[0].field, "bio");
    cr_expect_str_eq(v.errors[0].message, "No shouting, please.");
}

Test(orm_relations, explicit_through_model)
{
    Club *c = mn_create(t.o, Club, "name", "Readers");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Membership, "club", c, "author", lib.ann, "role", "chair"));
    cr_assert_not_null(mn_create(t.o, Membership, "club", c, "author", lib.bob));
    cr_expect_eq(mn_qs_count(mn_related(t.o, c, "members")), 2);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Club), "members__name", "Ann")), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Author), "clubs__name", "Readers")), 2);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Author), "membership__role", "chair")), 1);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.bob, "clubs")), 1);
    mn_delete_report rep;
    cr_assert_eq(mn_delete(t.o, c, &rep), 3, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_all(t.o, Membership)), 0);
}

Test(orm_relations, nested_prefetch)
{
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *authors = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Author), "books__tags"));
    cr_assert_not_null(authors, "%s", mn_orm_error(t.o));
    cr_expect_eq(log.count, 3, "authors, their books, those books' tags");
    mn_rows *books = mn_qs_fetch(mn_related(t.o, authors->items[1], "books"));
    cr_assert_eq(books->len, 2);
    size_t tags = 0;
    for (size_t i = 0; i < books->len; i++)
        tags += mn_qs_fetch(mn_related(t.o, books->items[i], "tags"))->len;
    cr_expect_eq(tags, 3, "odes: classic, poetry; sql: tech");
    cr_expect_eq(log.count, 3, "nothing more was queried");
    mn_orm_set_log(t.o, NULL);
}
