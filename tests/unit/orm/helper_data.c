/* helper_data.c — see helper_data.h. */
#include "helper_data.h"

#include <criterion/criterion.h>
#include <manouche/core.h>

static Author *author(mn_orm *o, const char *name, const char *email)
{
    Author *a = mn_create(o, Author, "name", name, "email", email);
    cr_assert_not_null(a, "author %s: %s", name, mn_orm_error(o));
    return a;
}

static Book *book(mn_orm *o, const char *title, Author *a, const char *price, int pages,
                  const char *published, double rating, const char *genre)
{
    Book *b = mn_create(o, Book, "title", title, "author", a, "price", price, "pages", pages,
                        "published", published, "rating", rating, "genre", genre);
    cr_assert_not_null(b, "book %s: %s", title, mn_orm_error(o));
    return b;
}

void library_fill(mn_orm *o, library *lib)
{
    lib->ann = author(o, "Ann", "ann@example.com");
    lib->bob = author(o, "Bob", NULL);
    lib->cy = author(o, "Cy", "cy@example.org");
    lib->bob->mentor.id = lib->ann->id;
    cr_assert_eq(mn_save(o, lib->bob), 0, "%s", mn_orm_error(o));
    /* 2021-03-14 is a Sunday; 2020-12-31 a Thursday in ISO week 53 */
    lib->dune = book(o, "Dune", lib->ann, "19.99", 412, "2021-03-14", 4.5, "fi");
    lib->emma = book(o, "Emma", lib->ann, "7.50", 320, "2020-12-31", 3.9, "fi");
    lib->odes = book(o, "Odes 50% off_sale", lib->bob, "12.00", 80, NULL, 4.1, "po");
    lib->sql = book(o, "SQL in Depth", lib->bob, "45.10", 510, "2019-07-01", 4.8, "nf");
    lib->classic = mn_create(o, Tag, "name", "classic");
    lib->poetry = mn_create(o, Tag, "name", "poetry");
    lib->tech = mn_create(o, Tag, "name", "tech");
    cr_assert(lib->classic && lib->poetry && lib->tech, "%s", mn_orm_error(o));
    cr_assert_eq(mn_m2m_add(o, lib->dune, "tags", (const void *[]){lib->classic}, 1), 0, "%s",
                 mn_orm_error(o));
    cr_assert_eq(mn_m2m_add(o, lib->emma, "tags", (const void *[]){lib->classic}, 1), 0);
    cr_assert_eq(mn_m2m_add(o, lib->odes, "tags", (const void *[]){lib->poetry, lib->classic}, 2),
                 0);
    cr_assert_eq(mn_m2m_add(o, lib->sql, "tags", (const void *[]){lib->tech}, 1), 0);
    cr_assert_not_null(mn_create(o, Review, "book", lib->dune, "stars", 5, "body", "great"));
    cr_assert_not_null(mn_create(o, Review, "book", lib->dune, "stars", 2, "body", "long"));
    cr_assert_not_null(mn_create(o, Review, "book", lib->sql, "stars", 4, "body", ""));
}

const char *library_names(testdb *t, mn_qs *qs)
{
    mn_rows *rows = mn_qs_fetch(qs);
    cr_assert_not_null(rows, "%s", mn_orm_error(t->o));
    mn_buf b;
    mn_buf_init(&b, t->arena);
    for (size_t i = 0; i < rows->len; i++) {
        mn_obj *h = rows->items[i];
        const char *s = h->model == &Book_model     ? ((Book *)h)->title
                        : h->model == &Author_model ? ((Author *)h)->name
                        : h->model == &Tag_model    ? ((Tag *)h)->name
                        : h->model == &Review_model ? ((Review *)h)->body
                                                    : "?";
        mn_buf_printf(&b, "%s%s", i ? "," : "", s);
    }
    return mn_buf_cstr(&b);
}
