/* test_delete_blocked.c — what a refused or empty delete tells the caller: the instances
 * behind a ProtectedError or RestrictedError (Django's protected_objects and
 * restricted_objects), and the per-model count of an instance delete whose row was already
 * gone (Django's fast path reports the model with 0). */
#include "helper_db.h"
#include "helper_models.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* clang-format off */
#define POST_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(title, MN_CHAR, .max_length = 20)
#define COMMENT_FIELDS(F)                                                                  \
    F(id, MN_BIGAUTO)                                                                      \
    F(post, MN_FK, .to = "Post", .on_delete = MN_CASCADE, .related_name = "comments")     \
    F(body, MN_CHAR, .max_length = 20)
/* protected below the cascade from a post, by two models */
#define LIKE_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(comment, MN_FK, .to = "Comment", .on_delete = MN_PROTECT, .related_name = "likes")  \
    F(who, MN_CHAR, .max_length = 20)
#define REPORT_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                      \
    F(comment, MN_FK, .to = "Comment", .on_delete = MN_PROTECT, .related_name = "reports")
/* only DO_NOTHING points at a Page: its delete takes Django's fast path */
#define PAGE_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(name, MN_CHAR, .max_length = 20)
#define VISIT_FIELDS(F)                                                                    \
    F(id, MN_BIGAUTO)                                                                      \
    F(page, MN_FK, .to = "Page", .on_delete = MN_DO_NOTHING, .related_name = "visits")
/* clang-format on */
MN_MODEL(Post, delblk, POST_FIELDS)
MN_MODEL(Comment, delblk, COMMENT_FIELDS)
MN_MODEL(Like, delblk, LIKE_FIELDS)
MN_MODEL(Report, delblk, REPORT_FIELDS)
MN_MODEL(Page, delblk, PAGE_FIELDS)
MN_MODEL(Visit, delblk, VISIT_FIELDS)

DB_SUITE(orm_delete_blocked);

/* "Model:pk,..." of the blocked objects, in their order. */
static const char *blocked(void)
{
    const mn_rows *rows = mn_delete_blocked_objects(t.o);
    if (!rows)
        return "(null)";
    mn_buf b;
    mn_buf_init(&b, t.arena);
    for (size_t i = 0; i < rows->len; i++) {
        const mn_obj *h = rows->items[i];
        mn_buf_printf(&b, "%s%s:%lld", i ? "," : "", h->model->name,
                      (long long)mn_obj_pk(rows->items[i]));
    }
    return mn_buf_cstr(&b) ? b.data : "";
}

Test(orm_delete_blocked, protected_objects_are_the_rows_that_protect)
{
    Author *ann = mn_create(t.o, Author, "name", "Ann");
    Author *bob = mn_create(t.o, Author, "name", "Bob");
    cr_assert(ann && bob, "%s", mn_orm_error(t.o));
    Book *b1 = mn_create(t.o, Book, "title", "one", "author", ann);
    Book *b2 = mn_create(t.o, Book, "title", "two", "author", ann);
    cr_assert(b1 && b2 && mn_create(t.o, Book, "title", "other", "author", bob), "%s",
              mn_orm_error(t.o));
    cr_expect_eq(mn_delete(t.o, ann, NULL), MN_EPROTECTED);
    const mn_rows *rows = mn_delete_blocked_objects(t.o);
    cr_assert_not_null(rows);
    cr_assert_eq(rows->len, 2, "ann's books, not bob's");
    cr_expect_eq(((Book *)rows->items[0])->id, b1->id);
    cr_expect_str_eq(((Book *)rows->items[1])->title, "two", "full instances");
    cr_expect_eq(((mn_obj *)rows->items[0])->model, &Book_model);
    /* the error stays the refusal's, not that of the query that loaded the rows */
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Cannot delete some instances of model 'Author' because they are "
                     "referenced through protected foreign keys: 'Book.author'.");
    /* a queryset delete: every author's books, each once */
    cr_expect_eq(mn_qs_delete(mn_all(t.o, Author), NULL), MN_EPROTECTED);
    cr_expect_eq(mn_delete_blocked_objects(t.o) ? mn_delete_blocked_objects(t.o)->len : 0, 3);
    /* a delete that is not refused leaves none */
    Author *cy = mn_create(t.o, Author, "name", "Cy");
    cr_assert_not_null(cy, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_delete(t.o, cy, NULL), 1, "%s", mn_orm_error(t.o));
    cr_expect_null(mn_delete_blocked_objects(t.o));
}

/* A PROTECT below a cascade: the protected rows are those of the deepest level, from every
 * protecting relation, as Django gathers them across the collector's levels. */
Test(orm_delete_blocked, protected_objects_below_a_cascade_come_from_every_relation)
{
    Post *p = mn_create(t.o, Post, "title", "p");
    Post *other = mn_create(t.o, Post, "title", "other");
    cr_assert(p && other, "%s", mn_orm_error(t.o));
    Comment *c1 = mn_create(t.o, Comment, "post", p, "body", "c1");
    Comment *c2 = mn_create(t.o, Comment, "post", p, "body", "c2");
    Comment *c3 = mn_create(t.o, Comment, "post", other, "body", "c3");
    cr_assert(c1 && c2 && c3, "%s", mn_orm_error(t.o));
    Like *l1 = mn_create(t.o, Like, "comment", c1, "who", "x");
    Like *l2 = mn_create(t.o, Like, "comment", c2, "who", "y");
    Report *r1 = mn_create(t.o, Report, "comment", c2);
    cr_assert(l1 && l2 && r1 && mn_create(t.o, Like, "comment", c3, "who", "z"), "%s",
              mn_orm_error(t.o));
    cr_expect_eq(mn_delete(t.o, p, NULL), MN_EPROTECTED);
    const char *want_likes_first =
        mn_arena_printf(t.arena, "Like:%lld,Like:%lld,Report:%lld", (long long)l1->id,
                        (long long)l2->id, (long long)r1->id);
    const char *want_reports_first =
        mn_arena_printf(t.arena, "Report:%lld,Like:%lld,Like:%lld", (long long)r1->id,
                        (long long)l1->id, (long long)l2->id);
    const char *got = blocked();
    cr_expect(strcmp(got, want_likes_first) == 0 || strcmp(got, want_reports_first) == 0, "%s",
              got);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Comment)), 3, "nothing was deleted");
}

/* Django's RESTRICT example: the restricted objects are the rows the delete would leave
 * pointing at a deleted row, not those a cascade of the same delete removes. */
Test(orm_delete_blocked, restricted_objects_are_the_rows_left_behind)
{
    Author *ann = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(ann, "%s", mn_orm_error(t.o));
    Book *b1 = mn_create(t.o, Book, "title", "one", "author", ann);
    Book *b2 = mn_create(t.o, Book, "title", "two", "author", ann);
    cr_assert(b1 && b2, "%s", mn_orm_error(t.o));
    Shelf *s1 = mn_create(t.o, Shelf, "book", b1, "label", "a");
    Shelf *s2 = mn_create(t.o, Shelf, "book", b1, "label", "b");
    cr_assert(s1 && s2 && mn_create(t.o, Shelf, "book", b2, "label", "c"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_delete(t.o, b1, NULL), MN_ERESTRICTED);
    cr_expect_str_eq(blocked(), mn_arena_printf(t.arena, "Shelf:%lld,Shelf:%lld", (long long)s1->id,
                                                (long long)s2->id));
    cr_expect_eq(mn_qs_delete(mn_all(t.o, Book), NULL), MN_ERESTRICTED);
    cr_expect_eq(mn_delete_blocked_objects(t.o) ? mn_delete_blocked_objects(t.o)->len : 0, 3);
    /* an empty queryset delete is no refusal */
    cr_expect_eq(mn_qs_delete(mn_filter(mn_all(t.o, Book), "title", "none"), NULL), 0);
    cr_expect_null(mn_delete_blocked_objects(t.o));
}

/* Model.delete() of a row already gone: Django's fast path returns (0, {"delblk.Page": 0});
 * a model something cascades from takes the collector's path, (0, {}). */
Test(orm_delete_blocked, deleting_a_row_already_gone_reports_the_model_with_zero)
{
    Page *pg = mn_create(t.o, Page, "name", "home");
    cr_assert_not_null(pg, "%s", mn_orm_error(t.o));
    Page *stale = mn_get(mn_all(t.o, Page), "pk", pg->id);
    cr_assert_not_null(stale, "%s", mn_orm_error(t.o));
    mn_delete_report rep;
    cr_assert_eq(mn_delete(t.o, pg, &rep), 1, "%s", mn_orm_error(t.o));
    cr_expect_eq(rep.n, 1);
    cr_expect_eq(rep.total, 1);
    cr_assert_eq(mn_delete(t.o, stale, &rep), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(rep.total, 0);
    cr_assert_eq(rep.n, 1);
    cr_expect_str_eq(rep.items[0].label, "delblk.Page");
    cr_expect_eq(rep.items[0].count, 0);

    Post *p = mn_create(t.o, Post, "title", "p");
    cr_assert_not_null(p, "%s", mn_orm_error(t.o));
    Post *gone = mn_get(mn_all(t.o, Post), "pk", p->id);
    cr_assert_not_null(gone, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_delete(t.o, p, NULL), 1, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_delete(t.o, gone, &rep), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(rep.n, 0, "comments cascade from a post: no fast path");
}

static int on_delete(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                     void *user)
{
    (*(int *)user)++;
    return 0;
}

/* A delete signal receiver takes the fast path away, as in Django. */
Test(orm_delete_blocked, a_delete_receiver_reports_a_gone_row_with_no_model)
{
    Page *pg = mn_create(t.o, Page, "name", "home");
    cr_assert_not_null(pg, "%s", mn_orm_error(t.o));
    Page *stale = mn_get(mn_all(t.o, Page), "pk", pg->id);
    cr_assert_not_null(stale, "%s", mn_orm_error(t.o));
    int calls = 0;
    mn_signal_connect(MN_POST_DELETE, &Page_model, on_delete, &calls);
    mn_delete_report rep;
    cr_expect_eq(mn_delete(t.o, pg, &rep), 1, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_delete(t.o, stale, &rep), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(rep.n, 0);
    mn_signal_disconnect(MN_POST_DELETE, &Page_model, on_delete, &calls);
    cr_expect_eq(calls, 1);
}
