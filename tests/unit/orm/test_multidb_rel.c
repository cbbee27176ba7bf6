/* test_multidb_rel.c — the router across databases, as Django's "Multiple databases":
 * a relation (foreign key, one-to-one, many-to-many add, set or remove) between instances of
 * two databases is refused unless the router's allow_relation says yes; and a router is asked
 * once per query, so a router that answers differently on each call (a random replica) still
 * compiles, runs and labels each query's instances on one database. "default" is the test
 * database (SQLite, or PostgreSQL in the _pg variant), "other" a second SQLite file. */
#include "helper_multidb.h"

#include <criterion/criterion.h>
#include <string.h>

MULTIDB_SUITE(orm_multidb_rel)

static Question *question_on(const char *alias, const char *text)
{
    Question *q = mn_qs_create(ON(Question, alias), "text", text, "pub_date", &when);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    return q;
}

static const char *assign_refusal(const void *related)
{
    return mn_arena_printf(mn_orm_arena(t.o),
                           "Cannot assign \"<%s: %s>\": the current database router prevents "
                           "this relation.",
                           ((const mn_obj *)related)->model->name, mn_obj_str(t.o, related));
}

Test(orm_multidb_rel, a_foreign_key_to_another_database_is_refused)
{
    Question *qd = question_on("default", "on default");
    Question *qo = question_on("other", "on other");
    Choice *c = mn_create(t.o, Choice, "question", qd, "text", "c");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(c), "default");

    /* Django: ValueError, and the instance keeps its relation */
    cr_expect_eq(mn_obj_set(t.o, c, "question", mn_arg_obj(qo)), MN_EINVAL);
    const char *want = assign_refusal(qo);
    if (strcmp(mn_orm_error(t.o), want) != 0)
        cr_expect_fail("got \"%s\", want \"%s\"", mn_orm_error(t.o), want);
    cr_expect_eq(c->question.obj, qd);
    cr_expect_eq(c->question.id, qd->id);
    cr_expect_str_eq(db_of(c), "default");

    /* the same database: allowed */
    Question *qd2 = question_on("default", "second");
    cr_expect_eq(mn_obj_set(t.o, c, "question", mn_arg_obj(qd2)), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(c->question.obj, qd2);

    /* a new instance takes its related object's database, as before */
    Choice *n = mn_new(t.o, Choice);
    cr_assert_not_null(n);
    cr_expect_eq(mn_obj_set(t.o, n, "question", mn_arg_obj(qo)), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(n), "other");
    /* and then belongs to it: a question of default is refused */
    cr_expect_eq(mn_obj_set(t.o, n, "question", mn_arg_obj(qd)), MN_EINVAL);
    cr_expect_eq(n->question.obj, qo);
}

Test(orm_multidb_rel, a_one_to_one_to_another_database_is_refused)
{
    Author *ad = mn_create(t.o, Author, "name", "Ann");
    Author *ao = mn_qs_create(ON(Author, "other"), "name", "Bob");
    cr_assert(ad && ao, "%s", mn_orm_error(t.o));
    Profile *p = mn_create(t.o, Profile, "author", ad, "bio", "b");
    cr_assert_not_null(p, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_obj_set(t.o, p, "author", mn_arg_obj(ao)), MN_EINVAL);
    const char *want = assign_refusal(ao);
    if (strcmp(mn_orm_error(t.o), want) != 0)
        cr_expect_fail("got \"%s\", want \"%s\"", mn_orm_error(t.o), want);
    cr_expect_eq(p->author.obj, ad);
}

/* Django's documented primary/replica router: writes to the primary, reads from a replica,
 * and relations allowed within the pool. */
static const char *primary_replica(const mn_model *m, bool write, void *user)
{
    (void)m, (void)user;
    return write ? "default" : "other";
}
static int in_pool(const void *obj1, const void *obj2, void *user)
{
    (void)obj1, (void)obj2, (void)user;
    return 1;
}
static int no_opinion(const void *obj1, const void *obj2, void *user)
{
    (void)obj1, (void)obj2, (void)user;
    return -1;
}
static int never(const void *obj1, const void *obj2, void *user)
{
    (void)obj1, (void)obj2;
    ++*(int *)user;
    return 0;
}

Test(orm_multidb_rel, the_router_allow_relation_decides)
{
    Question *qo = question_on("other", "read from the replica");
    question_on("default", "on the primary"); /* the same key on both */
    mn_orm_set_router(t.o, primary_replica, NULL);
    Question *q = mn_qs_first(mn_all(t.o, Question));
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(q), "other");

    /* the new Choice is routed to the primary: without allow_relation, two databases */
    Choice *c = mn_new(t.o, Choice);
    cr_expect_eq(mn_obj_set(t.o, c, "question", mn_arg_obj(q)), MN_EINVAL);
    cr_expect_null(db_of(c), "a refused assignment leaves the instance as it was");
    mn_orm_set_allow_relation(t.o, no_opinion, NULL);
    cr_expect_eq(mn_obj_set(t.o, c, "question", mn_arg_obj(q)), MN_EINVAL, "no opinion: default");

    /* the pool's router says yes: saved on the primary */
    mn_orm_set_allow_relation(t.o, in_pool, NULL);
    cr_expect_eq(mn_obj_set(t.o, c, "question", mn_arg_obj(q)), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(c), "default");
    cr_expect_eq(mn_obj_set(t.o, c, "text", mn_arg_str("c")), 0);
    cr_assert_eq(mn_save(t.o, c), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Choice, "default")), 1);
    cr_expect_eq(count(ON(Choice, "other")), 0);

    /* and a router saying no refuses even within one database */
    int asked = 0;
    mn_orm_set_allow_relation(t.o, never, &asked);
    Choice *same = mn_qs_first(ON(Choice, "default"));
    Question *qd = mn_qs_first(ON(Question, "default"));
    cr_assert(same && qd, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_obj_set(t.o, same, "question", mn_arg_obj(qd)), MN_EINVAL);
    cr_expect_eq(asked, 1);
    (void)qo;
    mn_orm_set_allow_relation(t.o, NULL, NULL);
    mn_orm_set_router(t.o, NULL, NULL);
}

Test(orm_multidb_rel, m2m_changes_with_an_instance_of_another_database_are_refused)
{
    Author *au = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(au, "%s", mn_orm_error(t.o));
    Book *b = mn_create(t.o, Book, "title", "B", "author", au);
    Tag *td = mn_create(t.o, Tag, "name", "here");
    Tag *to = mn_qs_create(ON(Tag, "other"), "name", "there");
    cr_assert(b && td && to, "%s", mn_orm_error(t.o));
    const void *both[] = {td, to};
    cr_expect_eq(mn_m2m_add(t.o, b, "tags", both, 2), MN_EINVAL);
    const char *want = mn_arena_printf(mn_orm_arena(t.o),
                                       "Cannot add \"<Tag: %s>\": instance is on database "
                                       "\"default\", value is on database \"other\"",
                                       mn_obj_str(t.o, to));
    if (strcmp(mn_orm_error(t.o), want) != 0)
        cr_expect_fail("got \"%s\", want \"%s\"", mn_orm_error(t.o), want);
    cr_expect_eq(count(mn_related(t.o, b, "tags")), 0, "nothing added");
    cr_expect_eq(mn_m2m_set(t.o, b, "tags", both, 2), MN_EINVAL, "set() adds: checked");
    cr_expect_eq(count(mn_related(t.o, b, "tags")), 0, "nothing set");
    /* from the other side too */
    const void *books[] = {b};
    cr_expect_eq(mn_m2m_add(t.o, to, "books", books, 1), MN_EINVAL);

    /* remove() too: other's tag has the key of default's, whose link stays */
    cr_assert_eq(mn_m2m_add(t.o, b, "tags", both, 1), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(td->id, to->id, "the test needs one key in both databases");
    cr_expect_eq(mn_m2m_remove(t.o, b, "tags", both + 1, 1), MN_EINVAL);
    if (strncmp(mn_orm_error(t.o), "Cannot remove \"<Tag: ", 21) != 0)
        cr_expect_fail("got \"%s\"", mn_orm_error(t.o));
    cr_expect_eq(count(mn_related(t.o, b, "tags")), 1);

    /* allowed by the router: the through row goes to the instance's database */
    mn_orm_set_allow_relation(t.o, in_pool, NULL);
    cr_expect_eq(mn_m2m_add(t.o, b, "tags", both + 1, 1), 0, "%s", mn_orm_error(t.o));
    mn_orm_set_allow_relation(t.o, NULL, NULL);
}

/* A router that alternates between the databases on every call, as a random replica would. */
static int calls;
static const char *alternating(const mn_model *m, bool write, void *user)
{
    (void)m, (void)user;
    if (write)
        return "default";
    return calls++ % 2 ? "other" : "default";
}

static int on_default = 3, on_other = 2;

static void fill(void)
{
    for (int i = 0; i < on_default; i++)
        question_on("default", "on default");
    for (int i = 0; i < on_other; i++)
        question_on("other", "on other");
}

static int check_row(void *row, void *user)
{
    Question *q = row;
    const char **db = user, *mine = db_of(q);
    if (!*db)
        *db = mine;
    if (!mine || strcmp(mine, *db) != 0)
        cr_expect_fail("one iterator, two databases: %s and %s", *db, mine ? mine : "none");
    else if (strcmp(q->text, strcmp(mine, "other") == 0 ? "on other" : "on default") != 0)
        cr_expect_fail("row \"%s\" labelled %s", q->text, mine);
    return 0;
}

Test(orm_multidb_rel, a_router_is_asked_once_per_query)
{
    fill();
    mn_orm_set_router(t.o, alternating, NULL);
    bool seen_default = false, seen_other = false;
    for (int round = 0; round < 4; round++) {
        int before = calls;
        mn_rows *rows = mn_qs_fetch(mn_all(t.o, Question));
        cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
        cr_expect_eq(calls - before, 1, "the router is asked once per fetch");
        cr_assert_gt(rows->len, 0);
        const char *db = db_of(rows->items[0]);
        cr_expect_eq(rows->len, (size_t)(strcmp(db, "other") == 0 ? on_other : on_default),
                     "the rows of one database, labelled %s", db);
        for (size_t i = 0; i < rows->len; i++) {
            Question *q = rows->items[i];
            cr_expect_str_eq(db_of(q), db);
            if (strcmp(q->text, strcmp(db, "other") == 0 ? "on other" : "on default") != 0)
                cr_expect_fail("row \"%s\" labelled %s", q->text, db);
        }
        seen_default |= strcmp(db, "default") == 0;
        seen_other |= strcmp(db, "other") == 0;

        before = calls;
        int64_t n = count(mn_all(t.o, Question));
        cr_expect_eq(calls - before, 1, "the router is asked once per count");
        cr_expect(n == on_default || n == on_other, "count() ran on one database: %lld",
                  (long long)n);

        /* an aggregate and exists(): one database each, and their SQL for it */
        const char *agg = tdb_repr(
            &t, mn_qs_aggregate(mn_all(t.o, Question), "n", mn_Count(t.o, "id", false, NULL)));
        if (strcmp(agg, "{'n': 3}") != 0 && strcmp(agg, "{'n': 2}") != 0)
            cr_expect_fail("aggregate() on one database: %s", agg);
        cr_expect_eq(mn_qs_exists(mn_filter(mn_all(t.o, Question), "text", "on other")) >= 0, 1,
                     "%s", mn_orm_error(t.o));

        /* get() and first(): the instance says where it came from */
        Question *f = mn_qs_first(mn_all(t.o, Question));
        cr_assert_not_null(f, "%s", mn_orm_error(t.o));
        if (strcmp(f->text, strcmp(db_of(f), "other") == 0 ? "on other" : "on default") != 0)
            cr_expect_fail("first() read \"%s\" labelled %s", f->text, db_of(f));

        /* iterator(): every chunk from the database it opened on */
        const char *itdb = NULL;
        cr_expect_eq(mn_qs_iterator(mn_all(t.o, Question), 1, check_row, &itdb), 0, "%s",
                     mn_orm_error(t.o));

        /* select_related objects come from the same rows */
        rows = mn_qs_fetch(mn_qs_select_related(mn_all(t.o, Choice), "question"));
        cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    }
    cr_expect(seen_default && seen_other, "the router alternated");
    mn_orm_set_router(t.o, NULL, NULL);
}

Test(orm_multidb_rel, related_objects_of_a_pinned_query_share_its_database)
{
    Question *qd = question_on("default", "on default");
    Question *qo = question_on("other", "on other");
    cr_assert_not_null(mn_create(t.o, Choice, "question", qd, "text", "on default"));
    cr_assert_not_null(mn_create(t.o, Choice, "question", qo, "text", "on other"));
    mn_orm_set_router(t.o, alternating, NULL);
    for (int round = 0; round < 4; round++) {
        mn_rows *rows = mn_qs_fetch(mn_qs_select_related(mn_all(t.o, Choice), "question"));
        cr_assert(rows && rows->len == 1, "%s", mn_orm_error(t.o));
        Choice *c = rows->items[0];
        Question *q = c->question.obj;
        cr_assert_not_null(q);
        cr_expect_str_eq(db_of(q), db_of(c));
        cr_expect_str_eq(q->text, c->text, "the joined question is of the choice's database");
        if (strcmp(c->text, strcmp(db_of(c), "other") == 0 ? "on other" : "on default") != 0)
            cr_expect_fail("choice \"%s\" labelled %s", c->text, db_of(c));
    }
    mn_orm_set_router(t.o, NULL, NULL);
}

/* ---- a side without a database takes the other side's (Django's related descriptors) ---- */

/* A router that writes questions to other and has no answer for the rest. */
static const char *questions_to_other(const mn_model *m, bool write, void *user)
{
    (void)user;
    return write && m == &Question_model ? "other" : NULL;
}

Test(orm_multidb_rel, an_unsaved_related_object_takes_the_instance_database)
{
    Question *qo = question_on("other", "on other");
    Choice *co = mn_qs_create(ON(Choice, "other"), "question", qo, "text", "c");
    cr_assert_not_null(co, "%s", mn_orm_error(t.o));

    /* as Django's test_foreign_key_cross_database_protection: the new question given to a
     * choice of other belongs to other, and is saved there without using() */
    Question *nq = mn_new(t.o, Question);
    cr_assert_not_null(nq);
    cr_expect_null(db_of(nq));
    cr_expect_eq(mn_obj_set(t.o, co, "question", mn_arg_obj(nq)), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(nq), "other");
    cr_expect_str_eq(db_of(co), "other");
    cr_expect_eq(mn_obj_set(t.o, nq, "text", mn_arg_str("new")), 0);
    cr_expect_eq(mn_obj_set(t.o, nq, "pub_date", mn_arg_dt(&when)), 0);
    cr_assert_eq(mn_save(t.o, nq), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Question, "default")), 0, "nothing on default");
    cr_expect_eq(count(ON(Question, "other")), 2);
    cr_assert_eq(mn_save(t.o, co), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(mn_filter(ON(Choice, "other"), "question__text", "new")), 1);

    /* neither side has a database: both take default's */
    Choice *c = mn_new(t.o, Choice);
    Question *q = mn_new(t.o, Question);
    cr_assert(c && q);
    cr_expect_eq(mn_obj_set(t.o, c, "question", mn_arg_obj(q)), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(c), "default");
    cr_expect_str_eq(db_of(q), "default");
}

Test(orm_multidb_rel, the_router_places_an_unsaved_related_object)
{
    Choice *cd = mn_create(t.o, Choice, "question", question_on("default", "q"), "text", "c");
    cr_assert_not_null(cd, "%s", mn_orm_error(t.o));
    mn_orm_set_router(t.o, questions_to_other, NULL);

    /* the new question goes where the router writes questions: another database than the
     * choice's, refused; and a refusal changes neither side */
    Question *nq = mn_new(t.o, Question);
    cr_assert_not_null(nq);
    cr_expect_eq(mn_obj_set(t.o, cd, "question", mn_arg_obj(nq)), MN_EINVAL);
    cr_expect_null(db_of(nq), "a refused assignment leaves the related object as it was");
    cr_expect_str_eq(db_of(cd), "default");

    /* both new: the choice is placed first, given a question without a database (default),
     * then the question where the router writes it (other): refused too */
    Choice *c = mn_new(t.o, Choice);
    cr_assert_not_null(c);
    cr_expect_eq(mn_obj_set(t.o, c, "question", mn_arg_obj(nq)), MN_EINVAL);
    cr_expect(!db_of(c) && !db_of(nq));

    /* allowed by the router: each side keeps the database it was given */
    mn_orm_set_allow_relation(t.o, in_pool, NULL);
    Question *nq2 = mn_new(t.o, Question);
    cr_assert_not_null(nq2);
    cr_expect_eq(mn_obj_set(t.o, cd, "question", mn_arg_obj(nq2)), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(nq2), "other");
    cr_expect_str_eq(db_of(cd), "default");
    mn_orm_set_allow_relation(t.o, NULL, NULL);
    mn_orm_set_router(t.o, NULL, NULL);
}

/* Django's add() asks allow_relation with the objects as they are: one without a database
 * (an instance built with a known key, never read) is not on the instance's. */
Test(orm_multidb_rel, m2m_add_of_an_instance_without_a_database_is_refused)
{
    Author *au = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(au, "%s", mn_orm_error(t.o));
    Book *b = mn_create(t.o, Book, "title", "B", "author", au);
    Tag *saved = mn_create(t.o, Tag, "name", "here");
    cr_assert(b && saved, "%s", mn_orm_error(t.o));
    Tag *built = mn_new(t.o, Tag);
    cr_assert_not_null(built);
    cr_assert_eq(mn_obj_set(t.o, built, "id", mn_arg_int(saved->id)), 0, "%s", mn_orm_error(t.o));
    const void *tags[] = {built};
    cr_expect_eq(mn_m2m_add(t.o, b, "tags", tags, 1), MN_EINVAL);
    const char *want = mn_arena_printf(mn_orm_arena(t.o),
                                       "Cannot add \"<Tag: %s>\": instance is on database "
                                       "\"default\", value is on database \"None\"",
                                       mn_obj_str(t.o, built));
    if (strcmp(mn_orm_error(t.o), want) != 0)
        cr_expect_fail("got \"%s\", want \"%s\"", mn_orm_error(t.o), want);
    cr_expect_null(db_of(built), "add() does not place the value");
    cr_expect_eq(count(mn_related(t.o, b, "tags")), 0);

    /* the router's answer decides, as for any relation */
    mn_orm_set_allow_relation(t.o, in_pool, NULL);
    cr_expect_eq(mn_m2m_add(t.o, b, "tags", tags, 1), 0, "%s", mn_orm_error(t.o));
    mn_orm_set_allow_relation(t.o, NULL, NULL);
    cr_expect_eq(count(mn_related(t.o, b, "tags")), 1);
}
