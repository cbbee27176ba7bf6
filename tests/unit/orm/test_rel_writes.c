/* test_rel_writes.c — writes that go through names and relations as Django's do: a number
 * set to NULL by name, many-to-many written from the related_name side and through an
 * explicit model with defaults, m2m_changed actions, bulk_create(update_conflicts) keys. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* a number with choices (full_clean's message quotes a string value only) */
static const mn_choice STAR_CHOICES[] = {{"1", "one"}, {"2", "two"}, {NULL, NULL}};
/* clang-format off */
#define STARRED_FIELDS(F)                                                                  \
    F(id, MN_BIGAUTO)                                                                      \
    F(stars, MN_SMALLINT, .choices = STAR_CHOICES, .default_int = 1)
/* clang-format on */
MN_MODEL(Starred, relw, STARRED_FIELDS)

LIBRARY_SUITE(orm_rel_writes);

/* ---- O23: age = None on a number holding a value ---- */
Test(orm_rel_writes, obj_set_null_clears_numbers_holding_a_value)
{
    Everything *e = mn_new(t.o, Everything);
    cr_assert_not_null(e);
    e->small = 3;
    e->big = 4;
    e->ratio = 4.5;
    e->flag = true;
    e->span = 7;
    cr_assert_eq(mn_save(t.o, e), 0, "%s", mn_orm_error(t.o));
    const char *names[] = {"small", "big", "ratio", "flag", "span"};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(mn_obj_set(t.o, e, names[i], mn_arg_null()), 0, "%s", mn_orm_error(t.o));
        cr_expect(mn_obj_is_null(e, names[i]), "%s reads as NULL", names[i]);
    }
    cr_assert_eq(mn_save(t.o, e), 0, "%s", mn_orm_error(t.o));
    Everything *back = mn_get(mn_all(t.o, Everything), "pk", e->id);
    cr_assert_not_null(back, "%s", mn_orm_error(t.o));
    for (size_t i = 0; i < 5; i++)
        cr_expect(mn_obj_is_null(back, names[i]), "%s saved as NULL", names[i]);
}

Test(orm_rel_writes, obj_set_null_bit_clears_numbers_holding_a_value)
{
    Everything *e = mn_new(t.o, Everything);
    e->small = 3;
    e->ratio = 2.5;
    e->flag = true;
    cr_assert_eq(mn_save(t.o, e), 0, "%s", mn_orm_error(t.o));
    mn_obj_set_null(e, "small", true);
    mn_obj_set_null(e, "ratio", true);
    mn_obj_set_null(e, "flag", true);
    cr_expect(mn_obj_is_null(e, "small") && mn_obj_is_null(e, "ratio") &&
              mn_obj_is_null(e, "flag"));
    cr_assert_eq(mn_save(t.o, e), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Everything), "pk", e->id, "small__isnull", true,
                                       "ratio__isnull", true, "flag__isnull", true)),
                 1);
}

Test(orm_rel_writes, bulk_update_writes_a_number_set_to_null)
{
    Everything *a = mn_new(t.o, Everything), *b = mn_new(t.o, Everything);
    a->big = 3;
    b->big = 4;
    cr_assert_eq(mn_save(t.o, a), 0);
    cr_assert_eq(mn_save(t.o, b), 0);
    cr_assert_eq(mn_obj_set(t.o, a, "big", mn_arg_null()), 0);
    b->big = 9;
    void *objs[] = {a, b};
    cr_assert_geq(mn_bulk_update(t.o, &Everything_model, objs, 2, "big", 0), 0, "%s",
                  mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Everything), "big__isnull", true)), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Everything), "big", 9)), 1);
}

/* ---- O1: the reverse many-to-many manager (tag.books.add(book)) ---- */
Test(orm_rel_writes, reverse_m2m_add_remove_set_clear)
{
    Tag *x = mn_create(t.o, Tag, "name", "x");
    cr_assert_not_null(x, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, x, "books", (const void *[]){lib.dune, lib.emma}, 2), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, x, "books")), 2);
    cr_expect_eq(mn_qs_count(mn_filter(mn_related(t.o, lib.dune, "tags"), "name", "x")), 1,
                 "seen from the forward side");
    cr_assert_eq(mn_m2m_remove(t.o, x, "books", (const void *[]){lib.emma}, 1), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, x, "books")), 1);
    cr_assert_eq(mn_m2m_set(t.o, x, "books", (const void *[]){lib.odes, lib.sql}, 2), 0, "%s",
                 mn_orm_error(t.o));
    mn_rows *r = mn_qs_fetch(mn_qs_order_by(mn_related(t.o, x, "books"), "title"));
    cr_assert_not_null(r);
    cr_assert_eq(r->len, 2);
    cr_expect_str_eq(((Book *)r->items[0])->title, lib.odes->title);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.dune, "tags")), 1, "dune keeps classic only");
    cr_assert_eq(mn_m2m_clear(t.o, x, "books"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, x, "books")), 0);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.odes, "tags")), 2, "other links stay");
}

Test(orm_rel_writes, m2m_wrong_name_never_suggests_itself)
{
    cr_expect_eq(mn_m2m_add(t.o, lib.classic, "bookz", (const void *[]){lib.dune}, 1), MN_EFIELD);
    cr_expect(strstr(mn_orm_error(t.o), "did you mean 'books'"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_obj_set(t.o, lib.classic, "books", mn_arg_null()), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "Direct assignment to the reverse side of a many-to-many "
                                        "set is prohibited. Use books.set() instead.");
    cr_expect_eq(mn_obj_set(t.o, lib.ann, "books", mn_arg_null()), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "Direct assignment to the reverse side of a related "
                                        "set is prohibited. Use books.set() instead.");
    /* a reverse foreign key's manager (Django's RelatedManager): add() works, clear() only
     * on a nullable key */
    cr_expect_eq(mn_m2m_add(t.o, lib.ann, "books", (const void *[]){lib.dune}, 1), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_m2m_clear(t.o, lib.ann, "books"), MN_EINVAL);
    cr_expect(strstr(mn_orm_error(t.o), "Book.author cannot be NULL"), "%s", mn_orm_error(t.o));
}

Test(orm_rel_writes, m2m_refuses_an_instance_of_the_wrong_model)
{
    cr_expect_eq(mn_m2m_add(t.o, lib.dune, "tags", (const void *[]){lib.emma}, 1), MN_EINVAL);
    cr_expect(strstr(mn_orm_error(t.o), "'Tag' instance expected, got <Book: "), "%s",
              mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.dune, "tags")), 1, "nothing linked");
    Tag *unsaved = mn_new(t.o, Tag);
    cr_expect_eq(mn_m2m_add(t.o, lib.dune, "tags", (const void *[]){unsaved}, 1), MN_EINVAL);
}

/* ---- O12: explicit through model: defaults and through_defaults ---- */
Test(orm_rel_writes, m2m_add_on_explicit_through_fills_defaults)
{
    Club *c = mn_create(t.o, Club, "name", "readers");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, c, "members", (const void *[]){lib.ann}, 1), 0, "%s",
                 mn_orm_error(t.o));
    Membership *m = mn_get(mn_all(t.o, Membership), "club", c, "author", lib.ann);
    cr_assert_not_null(m, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(m->role, "member");
    cr_assert_eq(mn_m2m_add_through(t.o, c, "members", (const void *[]){lib.bob}, 1,
                                    MN_KVS("role", "chair"), 1),
                 0, "%s", mn_orm_error(t.o));
    m = mn_get(mn_all(t.o, Membership), "club", c, "author", lib.bob);
    cr_assert_not_null(m, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(m->role, "chair");
    cr_assert_eq(mn_m2m_add(t.o, c, "members", (const void *[]){lib.ann, lib.bob}, 2), 0);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Membership)), 2, "no duplicate through rows");
    cr_assert_eq(mn_m2m_add(t.o, lib.cy, "clubs", (const void *[]){c}, 1), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, c, "members")), 3, "added from the reverse side");
    cr_assert_eq(mn_m2m_set_through(t.o, c, "members", (const void *[]){lib.bob, lib.cy}, 2,
                                    MN_KVS("role", "guest"), 1),
                 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_all(t.o, Membership)), 2, "ann removed");
    m = mn_get(mn_all(t.o, Membership), "club", c, "author", lib.bob);
    cr_assert_not_null(m);
    cr_expect_str_eq(m->role, "chair", "a kept link keeps its row");
}

/* ---- O4: m2m_changed actions ---- */
static char events[512];
static int on_m2m(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                  void *user)
{
    (void)sig;
    (void)sender;
    (void)user;
    const mn_m2m_change *ch = mn_m2m_changed_info(o);
    cr_assert_not_null(ch);
    size_t len = strlen(events);
    snprintf(events + len, sizeof events - len, "%s%s%s:%s:%zu:%s%s", len ? " " : "",
             ch->action_name, ch->reverse ? "(r)" : "", ch->model->name, ch->npk,
             ((mn_obj *)obj)->model->name, created ? "+" : "");
    return 0;
}

Test(orm_rel_writes, m2m_changed_sends_django_actions)
{
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    events[0] = '\0';
    cr_assert_eq(mn_signal_connect(MN_M2M_CHANGED, through, on_m2m, NULL), 0);
    /* sql has tech; adding tech again and poetry reports only poetry */
    cr_assert_eq(mn_m2m_add(t.o, lib.sql, "tags", (const void *[]){lib.tech, lib.poetry}, 2), 0);
    cr_assert_eq(mn_m2m_remove(t.o, lib.sql, "tags", (const void *[]){lib.poetry}, 1), 0);
    cr_assert_eq(mn_m2m_clear(t.o, lib.sql, "tags"), 0);
    cr_assert_eq(mn_m2m_add(t.o, lib.classic, "books", (const void *[]){lib.sql}, 1), 0);
    mn_signal_disconnect(MN_M2M_CHANGED, through, on_m2m, NULL);
    cr_expect_str_eq(events, "pre_add:Tag:1:Book+ post_add:Tag:1:Book+ "
                             "pre_remove:Tag:1:Book post_remove:Tag:1:Book "
                             "pre_clear:Tag:0:Book post_clear:Tag:0:Book "
                             "pre_add(r):Book:1:Tag+ post_add(r):Book:1:Tag+");
    cr_expect_null(mn_m2m_changed_info(t.o), "nothing outside a receiver");
}

Test(orm_rel_writes, m2m_set_sends_remove_then_add_of_the_difference)
{
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    events[0] = '\0';
    cr_assert_eq(mn_signal_connect(MN_M2M_CHANGED, through, on_m2m, NULL), 0);
    /* odes has poetry and classic */
    cr_assert_eq(mn_m2m_set(t.o, lib.odes, "tags", (const void *[]){lib.classic, lib.tech}, 2), 0,
                 "%s", mn_orm_error(t.o));
    mn_signal_disconnect(MN_M2M_CHANGED, through, on_m2m, NULL);
    cr_expect_str_eq(events, "pre_remove:Tag:1:Book post_remove:Tag:1:Book "
                             "pre_add:Tag:1:Book+ post_add:Tag:1:Book+");
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.odes, "tags")), 2);
}

static int refuse_pre_remove(mn_signal sig, const mn_model *sender, void *obj, bool created,
                             mn_orm *o, void *user)
{
    (void)sig;
    (void)sender;
    (void)obj;
    (void)created;
    (void)user;
    const mn_m2m_change *ch = mn_m2m_changed_info(o);
    return ch && ch->action == MN_M2M_PRE_REMOVE ? MN_EINVAL : 0;
}

Test(orm_rel_writes, a_pre_receiver_can_refuse_the_change)
{
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    /* odes has poetry and classic */
    cr_assert_eq(mn_signal_connect(MN_M2M_CHANGED, through, refuse_pre_remove, NULL), 0);
    int rc = mn_m2m_remove(t.o, lib.odes, "tags", (const void *[]){lib.poetry}, 1);
    cr_expect_neq(rc, 0, "a pre_remove receiver refused");
    cr_expect(strstr(mn_orm_error(t.o), "pre_remove"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.odes, "tags")), 2, "nothing was removed");
    cr_expect_eq(mn_m2m_add(t.o, lib.odes, "tags", (const void *[]){lib.tech}, 1), 0,
                 "a post_ or other action's receiver result does not refuse: %s",
                 mn_orm_error(t.o));
    mn_signal_disconnect(MN_M2M_CHANGED, through, refuse_pre_remove, NULL);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.odes, "tags")), 3);
}

/* ---- O3: bulk_create(update_conflicts) sets the primary keys (Django 5.0) ---- */
Test(orm_rel_writes, bulk_create_update_conflicts_sets_pks)
{
    Author *a = mn_new(t.o, Author), *n = mn_new(t.o, Author);
    a->name = "Ann";
    a->email = "ann@new.example";
    n->name = "Newt";
    void *objs[] = {a, n};
    cr_assert_eq(mn_bulk_create(
                     t.o, &Author_model, objs, 2,
                     &(mn_bulk_opts){.update_conflicts_fields = "email", .unique_fields = "name"}),
                 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(a->id, lib.ann->id, "the updated row's key");
    cr_expect_gt(n->id, 0, "the inserted row's key");
    Author *back = mn_get(mn_all(t.o, Author), "pk", n->id);
    cr_assert_not_null(back);
    cr_expect_str_eq(back->name, "Newt");
    back = mn_get(mn_all(t.o, Author), "pk", lib.ann->id);
    cr_assert_not_null(back);
    cr_expect_str_eq(back->email, "ann@new.example");
}

/* ---- O6: smaller deviations ---- */
Test(orm_rel_writes, full_clean_of_a_char_field_set_to_null_says_null)
{
    Book *b = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_assert_not_null(b);
    b->title = NULL;
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, b, &v), MN_EVALIDATION);
    cr_assert_eq(v.n, 1);
    cr_expect_str_eq(v.errors[0].field, "title");
    cr_expect_str_eq(v.errors[0].message, "This field cannot be null.");
    Book *n = mn_new(t.o, Book);
    n->author.id = lib.ann->id;
    cr_assert_eq(mn_obj_set(t.o, n, "title", mn_arg_null()), 0);
    cr_assert_eq(mn_full_clean(t.o, n, &v), MN_EVALIDATION);
    cr_expect_str_eq(v.errors[0].message, "This field cannot be null.");
    n = mn_new(t.o, Book); /* never set: Django's default "" */
    n->author.id = lib.ann->id;
    cr_assert_eq(mn_full_clean(t.o, n, &v), MN_EVALIDATION);
    cr_expect_str_eq(v.errors[0].message, "This field cannot be blank.");
}

Test(orm_rel_writes, get_or_create_leaves_lookups_with_dunders_out_of_the_create)
{
    bool created = false;
    Author *a = mn_qs_get_or_create(mn_all(t.o, Author), MN_KVS("name__iexact", "ann"), 1, NULL, 0,
                                    &created);
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_expect_not(created);
    cr_expect_eq(a->id, lib.ann->id);
    a = mn_qs_get_or_create(mn_all(t.o, Author), MN_KVS("name__iexact", "eve"), 1,
                            MN_KVS("email", "eve@example.com"), 1, &created);
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(mn_orm_errcode(t.o), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(
        mn_qs_count(mn_filter(mn_all(t.o, Author), "name", "", "email", "eve@example.com")), 1,
        "created with name '' (the lookup is not a field)");
}

Test(orm_rel_writes, full_clean_choice_message_quotes_strings_only)
{
    Starred *x = mn_new(t.o, Starred);
    x->stars = 3;
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, x, &v), MN_EVALIDATION);
    cr_expect_str_eq(v.errors[0].message, "Value 3 is not a valid choice.");
    lib.dune->genre = "zz";
    cr_assert_eq(mn_full_clean(t.o, lib.dune, &v), MN_EVALIDATION);
    cr_expect_str_eq(v.errors[0].message, "Value 'zz' is not a valid choice.");
}
