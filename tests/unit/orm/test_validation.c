/* test_validation.c — full_clean(): every field error at once, with Django's messages,
 * including uniqueness against the database and foreign keys that point nowhere. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <string.h>

DB_SUITE(orm_validation);

static const char *error_for(const mn_validation *v, const char *field)
{
    for (size_t i = 0; i < v->n; i++)
        if ((!field && !v->errors[i].field) ||
            (field && v->errors[i].field && strcmp(v->errors[i].field, field) == 0))
            return v->errors[i].message;
    return NULL;
}

Test(orm_validation, a_valid_instance_passes)
{
    library lib;
    library_fill(t.o, &lib);
    mn_validation v;
    cr_expect_eq(mn_full_clean(t.o, lib.dune, &v), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(v.n, 0);
}

Test(orm_validation, every_field_error_is_reported)
{
    Author *ann = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(ann);
    Book *b = mn_new(t.o, Book);
    b->title = "";
    b->author.id = 987654;
    b->price = "123456.789";
    b->genre = "zz";
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, b, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "title"), "This field cannot be blank.");
    cr_expect_str_eq(error_for(&v, "author"), "author instance with id 987654 does not exist.");
    cr_expect_str_eq(error_for(&v, "price"),
                     "Ensure that there are no more than 8 digits in total.");
    cr_expect_str_eq(error_for(&v, "genre"), "Value 'zz' is not a valid choice.");
    cr_expect_eq(v.n, 4);

    Author *a = mn_new(t.o, Author);
    a->name = "Ann";
    a->email = "not-an-email";
    cr_assert_eq(mn_full_clean(t.o, a, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "name"), "Author with this Name already exists.");
    cr_expect_str_eq(error_for(&v, "email"), "Enter a valid email address.");
    cr_expect_eq(mn_full_clean(t.o, ann, &v), 0, "an instance does not collide with itself");

    Everything *e = mn_new(t.o, Everything);
    e->url = "notaurl";
    e->amount = "1.2345";
    e->doc = "{bad json";
    e->ip = "300.1.1.1";
    cr_assert_eq(mn_obj_set(t.o, e, "small", mn_arg_int(40000)), 0);
    cr_assert_eq(mn_full_clean(t.o, e, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "url"), "Enter a valid URL.");
    cr_expect_str_eq(error_for(&v, "amount"),
                     "Ensure that there are no more than 3 decimal places.");
    cr_expect_str_eq(error_for(&v, "doc"), "Value must be valid JSON.");
    cr_expect_str_eq(error_for(&v, "ip"), "Enter a valid IPv4 or IPv6 address.");
    cr_expect_str_eq(error_for(&v, "small"), "Ensure this value is less than or equal to 32767.");
}

Test(orm_validation, auto_now_fields_of_a_new_instance_are_not_required)
{
    /* auto_now / auto_now_add are blank=True in Django: save() fills them in */
    Everything *e = mn_new(t.o, Everything);
    mn_validation v;
    cr_expect_eq(mn_full_clean(t.o, e, &v), 0, "%s", v.n ? v.errors[0].message : "");
    cr_expect_null(error_for(&v, "created"));
    cr_expect_null(error_for(&v, "updated"));
}

Test(orm_validation, unique_together_and_slug_and_max_length)
{
    library lib;
    library_fill(t.o, &lib);
    Book *dup = mn_new(t.o, Book);
    dup->title = "Dune";
    dup->author.id = lib.ann->id;
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, dup, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, NULL), "Book with this Title and Author already exists.");
    Tag *tg = mn_new(t.o, Tag);
    tg->name = "no spaces allowed";
    cr_assert_eq(mn_full_clean(t.o, tg, &v), MN_EVALIDATION);
    cr_expect(strstr(error_for(&v, "name"), "slug"), "%s", error_for(&v, "name"));
    Question *q = mn_new(t.o, Question);
    char longtext[260];
    memset(longtext, 'x', 250);
    longtext[250] = '\0';
    q->text = longtext;
    cr_assert_eq(mn_full_clean(t.o, q, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "text"),
                     "Ensure this value has at most 200 characters (it has 250).");
    cr_expect_str_eq(error_for(&v, "pub_date"), "This field cannot be null.");
}

/* A date that does not exist (30 February, month 13, hour 25) is a field error with Django's
 * message, as save() refuses it; a leap day is fine. */
Test(orm_validation, an_impossible_date_or_time_is_a_field_error)
{
    Question *q = mn_new(t.o, Question);
    q->text = "when?";
    q->pub_date = (mn_datetime){.year = 2024, .month = 2, .day = 30, .hour = 12, .aware = true};
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, q, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "pub_date"),
                     "\xe2\x80\x9c"
                     "2024-02-30 12:00:00\xe2\x80\x9d value has the correct format "
                     "(YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ]) but it is an invalid date/time.");
    cr_expect_eq(v.n, 1);
    q->pub_date.day = 29;
    cr_expect_eq(mn_full_clean(t.o, q, &v), 0, "%s", v.n ? v.errors[0].message : "");

    Everything *e = mn_new(t.o, Everything);
    e->day = (mn_datetime){.year = 2023, .month = 13, .day = 1};
    e->clock = (mn_datetime){.hour = 25};
    cr_assert_eq(mn_full_clean(t.o, e, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "day"), "\xe2\x80\x9c"
                                           "2023-13-01\xe2\x80\x9d value has the correct format "
                                           "(YYYY-MM-DD) but it is an invalid date.");
    cr_expect_str_eq(error_for(&v, "clock"), "\xe2\x80\x9c"
                                             "25:00:00\xe2\x80\x9d value has the correct format "
                                             "(HH:MM[:ss[.uuuuuu]]) but it is an invalid time.");
    cr_expect_eq(v.n, 2);
}
