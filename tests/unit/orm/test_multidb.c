/* test_multidb.c — several databases as Django's "Multiple databases": an instance remembers
 * the database it came from (_state.db) and saves, deletes, refreshes and follows its
 * relations there; a using() queryset does every write there too; a router's write database
 * takes select_for_update, get_or_create, update_or_create, the delete collector's lookups
 * and the M2M through rows; a router without an answer leaves the instance's database.
 * "default" is the test database (SQLite, or PostgreSQL in the _pg variant), "other" a
 * second SQLite file. */
#include "helper_multidb.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

MULTIDB_SUITE(orm_multidb)

/* A Question with the same primary key in both databases, different text. */
static void two_questions(Question **qd, Question **qo)
{
    *qd = mn_create(t.o, Question, "text", "on default", "pub_date", &when);
    cr_assert_not_null(*qd, "%s", mn_orm_error(t.o));
    *qo = mn_qs_create(ON(Question, "other"), "text", "on other", "pub_date", &when);
    cr_assert_not_null(*qo, "%s", mn_orm_error(t.o));
    cr_assert_eq((*qd)->id, (*qo)->id, "the test needs one key in both databases");
}

Test(orm_multidb, an_instance_remembers_its_database)
{
    Question *qd, *qo;
    Question *fresh = mn_new(t.o, Question);
    cr_expect_null(db_of(fresh), "a new instance has no database yet");
    two_questions(&qd, &qo);
    cr_expect_str_eq(db_of(qd), "default");
    cr_expect_str_eq(db_of(qo), "other");

    Question *q = mn_get(ON(Question, "other"), "pk", qo->id);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(q), "other");
    cr_expect_str_eq(db_of(mn_get(mn_all(t.o, Question), "pk", qd->id)), "default");

    /* save() goes back where it came from, never over default's row with that key */
    q->text = "edited";
    cr_assert_eq(mn_save(t.o, q), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(mn_filter(ON(Question, "other"), "text", "edited")), 1);
    Question *d = mn_get(mn_all(t.o, Question), "pk", qd->id);
    cr_assert_not_null(d, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(d->text, "on default");
    cr_assert_eq(mn_save_fields(t.o, q, "text"), 0, "%s", mn_orm_error(t.o));

    /* refresh_from_db() reads from it */
    cr_assert_geq(mn_update(mn_filter(ON(Question, "other"), "pk", q->id), "text", "changed"), 1);
    cr_assert_eq(mn_refresh(t.o, q), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(q->text, "changed");
    cr_assert_geq(mn_update(mn_filter(ON(Question, "other"), "pk", q->id), "text", "again"), 1);
    cr_assert_eq(mn_refresh_fields(t.o, q, "text"), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(q->text, "again");

    /* delete() removes that row only */
    cr_expect_eq(mn_delete(t.o, q, NULL), 1, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Question, "other")), 0);
    cr_expect_eq(count(mn_all(t.o, Question)), 1, "default's row with the same key stays");
}

Test(orm_multidb, relations_follow_the_instance_database)
{
    Question *qd, *qo;
    two_questions(&qd, &qo);
    /* a new Choice pointing at other's question belongs to other (Django's descriptor) */
    Choice *c = mn_create(t.o, Choice, "question", qo, "text", "c-other");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(c), "other");
    cr_expect_eq(count(ON(Choice, "other")), 1);
    cr_expect_eq(count(mn_all(t.o, Choice)), 0);

    Question *q = mn_qs_first(ON(Question, "other"));
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(mn_related(t.o, q, "choices")), 1, "reverse FK on other");
    cr_expect_eq(count(mn_related(t.o, qd, "choices")), 0);

    Choice *co = mn_qs_first(ON(Choice, "other"));
    cr_assert_not_null(co, "%s", mn_orm_error(t.o));
    Question *parent = mn_fk_get(t.o, co, "question");
    cr_assert_not_null(parent, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(parent->text, "on other");
    cr_expect_str_eq(db_of(parent), "other");

    /* prefetch_related's queries and select_related's objects */
    mn_rows *rows = mn_qs_fetch(mn_qs_prefetch_related(ON(Question, "other"), "choices"));
    cr_assert(rows && rows->len == 1, "%s", mn_orm_error(t.o));
    mn_rows *pre = mn_qs_fetch(mn_related(t.o, rows->items[0], "choices"));
    cr_assert(pre && pre->len == 1, "prefetched on other: %s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(pre->items[0]), "other");
    rows = mn_qs_fetch(mn_qs_prefetch_related(ON(Choice, "other"), "question"));
    cr_assert(rows && rows->len == 1, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(((Choice *)rows->items[0])->question.obj), "other");
    rows = mn_qs_fetch(mn_qs_select_related(ON(Choice, "other"), "question"));
    cr_assert(rows && rows->len == 1, "%s", mn_orm_error(t.o));
    Question *joined = ((Choice *)rows->items[0])->question.obj;
    cr_assert_not_null(joined);
    cr_expect_str_eq(db_of(joined), "other");
    cr_expect_str_eq(joined->text, "on other");

    /* many-to-many from an instance of other: the through rows are other's */
    Author *au = mn_qs_create(ON(Author, "other"), "name", "Ann");
    cr_assert_not_null(au, "%s", mn_orm_error(t.o));
    Book *b = mn_create(t.o, Book, "title", "B", "author", au);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(b), "other");
    Tag *t1 = mn_qs_create(ON(Tag, "other"), "name", "t1");
    Tag *t2 = mn_qs_create(ON(Tag, "other"), "name", "t2");
    cr_assert(t1 && t2, "%s", mn_orm_error(t.o));
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    const void *tags[] = {t1, t2};
    cr_assert_eq(mn_m2m_add(t.o, b, "tags", tags, 2), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(mn_qs_using(mn_qs_all(t.o, through), "other")), 2);
    cr_expect_eq(count(mn_qs_all(t.o, through)), 0);
    cr_expect_eq(count(mn_related(t.o, b, "tags")), 2);
    cr_expect_eq(count(mn_related(t.o, t1, "books")), 1);
    cr_assert_eq(mn_m2m_set(t.o, b, "tags", tags + 1, 1), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(mn_related(t.o, b, "tags")), 1);
    cr_assert_eq(mn_m2m_remove(t.o, b, "tags", tags + 1, 1), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(mn_qs_using(mn_qs_all(t.o, through), "other")), 0);
    cr_assert_eq(mn_m2m_add(t.o, b, "tags", tags, 1), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_clear(t.o, b, "tags"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(mn_qs_using(mn_qs_all(t.o, through), "other")), 0);
    Club *club = mn_qs_create(ON(Club, "other"), "name", "club");
    cr_assert_not_null(club, "%s", mn_orm_error(t.o));
    const void *who[] = {au};
    cr_assert_eq(mn_m2m_add_through(t.o, club, "members", who, 1, MN_KVS("role", "chair"), 1), 0,
                 "%s", mn_orm_error(t.o));
    cr_expect_eq(count(mn_filter(ON(Membership, "other"), "role", "chair")), 1);
    cr_expect_eq(count(mn_all(t.o, Membership)), 0);
}

Test(orm_multidb, a_using_queryset_writes_to_its_database)
{
    Question *qd, *qo;
    two_questions(&qd, &qo);
    cr_assert_not_null(mn_create(t.o, Choice, "question", qd, "text", "c-default"));
    cr_assert_not_null(mn_create(t.o, Choice, "question", qo, "text", "c-other"));

    /* delete(): the lookups, the cascade and the DELETEs all on other */
    mn_delete_report rep;
    cr_expect_eq(mn_qs_delete(ON(Question, "other"), &rep), 2, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Choice, "other")), 0);
    cr_expect_eq(count(ON(Question, "other")), 0);
    cr_expect_eq(count(mn_all(t.o, Choice)), 1, "default's choice stays");
    cr_expect_eq(count(mn_all(t.o, Question)), 1);

    /* get_or_create / update_or_create */
    bool created = false;
    Question *g = mn_qs_get_or_create(ON(Question, "other"), MN_KVS("text", "goc"), 1,
                                      MN_KVS("pub_date", &when), 1, &created);
    cr_assert_not_null(g, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_str_eq(db_of(g), "other");
    cr_expect_eq(count(mn_filter(ON(Question, "other"), "text", "goc")), 1);
    cr_expect_eq(count(mn_filter(mn_all(t.o, Question), "text", "goc")), 0);
    g = mn_qs_get_or_create(ON(Question, "other"), MN_KVS("text", "goc"), 1,
                            MN_KVS("pub_date", &when), 1, &created);
    cr_assert_not_null(g, "%s", mn_orm_error(t.o));
    cr_expect_not(created, "found on other");
    Question *u = mn_qs_update_or_create(ON(Question, "other"), MN_KVS("text", "goc"), 1,
                                         MN_KVS("text", "updated"), 1, &created);
    cr_assert_not_null(u, "%s", mn_orm_error(t.o));
    cr_expect_not(created);
    cr_expect_eq(count(mn_filter(ON(Question, "other"), "text", "updated")), 1);
    cr_expect_eq(count(mn_filter(mn_all(t.o, Question), "text", "updated")), 0);

    /* bulk_create on a named database */
    Tag *objs[3];
    for (int i = 0; i < 3; i++) {
        objs[i] = mn_new(t.o, Tag);
        objs[i]->name = "bulk";
    }
    cr_assert_eq(mn_bulk_create(t.o, &Tag_model, (void **)objs, 3, &(mn_bulk_opts){.db = "other"}),
                 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Tag, "other")), 3);
    cr_expect_eq(count(mn_all(t.o, Tag)), 0);
    cr_expect_str_eq(db_of(objs[2]), "other");

    /* save(using=...): "moving an object from one database to another" */
    cr_expect_eq(count(mn_filter(ON(Question, "other"), "text", "on default")), 0);
    cr_assert_eq(mn_save_using(t.o, qd, "other"), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(qd), "other");
    cr_expect_eq(count(mn_filter(ON(Question, "other"), "pk", qd->id, "text", "on default")), 1);
    cr_expect_eq(count(mn_filter(mn_all(t.o, Question), "pk", qd->id)), 1, "still on default");

    cr_expect_eq(mn_save_using(t.o, qd, "nope"), MN_ENOTFOUND);
    cr_expect_str_eq(mn_orm_error(t.o), "no database 'nope' in this session");
    cr_expect_null(mn_qs_create(ON(Question, "nope"), "text", "x", "pub_date", &when));
    cr_expect_eq(mn_orm_errcode(t.o), MN_ENOTFOUND);
}

/* A primary/replica router: writes to default, reads from other (a replica that lags). */
static const char *primary_replica(const mn_model *m, bool write, void *user)
{
    (void)m, (void)user;
    return write ? "default" : "other";
}

Test(orm_multidb, for_write_operations_use_the_router_write_database)
{
    cr_assert_not_null(
        mn_qs_create(ON(Question, "other"), "text", "stale-on-replica", "pub_date", &when));
    cr_assert_not_null(mn_create(t.o, Question, "text", "fresh-on-primary", "pub_date", &when));
    mn_orm_set_router(t.o, primary_replica, NULL);
    cr_expect_eq(count(mn_all(t.o, Question)), 1, "reads go to the replica");

    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    Question *q = mn_qs_first(mn_qs_select_for_update(mn_all(t.o, Question)));
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(q->text, "fresh-on-primary", "select_for_update reads the primary");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));

    bool created = true;
    q = mn_qs_get_or_create(mn_all(t.o, Question), MN_KVS("text", "fresh-on-primary"), 1, NULL, 0,
                            &created);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    cr_expect_not(created, "get_or_create looks on the primary");
    cr_expect_str_eq(db_of(q), "default");
    q = mn_qs_update_or_create(mn_all(t.o, Question), MN_KVS("text", "fresh-on-primary"), 1,
                               MN_KVS("text", "renamed"), 1, &created);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    cr_expect_not(created);
    cr_expect_eq(count(mn_filter(ON(Question, "default"), "text", "renamed")), 1);
    cr_expect_eq(count(ON(Question, "default")), 1, "no duplicate on the primary");

    /* the delete collector finds the children on the primary, not the lagging replica */
    Question *p = mn_create(t.o, Question, "text", "parent", "pub_date", &when);
    cr_assert_not_null(p, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Choice, "question", p, "text", "child"));
    mn_delete_report rep;
    cr_expect_eq(mn_delete(t.o, p, &rep), 2, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Choice, "default")), 0);
    cr_assert_not_null(mn_create(t.o, Choice, "question", q, "text", "child2"));
    cr_expect_eq(mn_qs_delete(mn_all(t.o, Question), NULL), 2, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Question, "default")), 0);
    cr_expect_eq(count(ON(Question, "other")), 1, "the replica is not written");

    /* set() reads the current links where it writes them */
    Author *au = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(au, "%s", mn_orm_error(t.o));
    Book *b = mn_create(t.o, Book, "title", "B", "author", au);
    Tag *t1 = mn_create(t.o, Tag, "name", "t1"), *t2 = mn_create(t.o, Tag, "name", "t2");
    cr_assert(b && t1 && t2, "%s", mn_orm_error(t.o));
    const void *tags[] = {t1, t2};
    cr_assert_eq(mn_m2m_add(t.o, b, "tags", tags, 1), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_set(t.o, b, "tags", tags + 1, 1), 0, "%s", mn_orm_error(t.o));
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    cr_expect_eq(count(mn_qs_using(mn_qs_all(t.o, through), "default")), 1);
    cr_expect_eq(count(mn_filter(mn_qs_using(mn_qs_all(t.o, through), "default"), "tag", t2)), 1);

    /* an instance read from the replica is saved where the router writes */
    Question *r = mn_qs_first(mn_all(t.o, Question));
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(r), "other");
    r->text = "written";
    cr_assert_eq(mn_save(t.o, r), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(r), "default");
    cr_expect_eq(count(mn_filter(ON(Question, "default"), "text", "written")), 1);
    cr_expect_eq(count(mn_filter(ON(Question, "other"), "text", "written")), 0);
    mn_orm_set_router(t.o, NULL, NULL);
}

static const char *all_other(const mn_model *m, bool write, void *user)
{
    (void)m, (void)write, (void)user;
    return "other";
}

Test(orm_multidb, m2m_through_rows_go_where_the_router_writes)
{
    mn_orm_set_router(t.o, all_other, NULL);
    Author *au = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(au, "%s", mn_orm_error(t.o));
    Book *b = mn_create(t.o, Book, "title", "B", "author", au);
    Tag *tag = mn_create(t.o, Tag, "name", "t");
    Club *club = mn_create(t.o, Club, "name", "c");
    cr_assert(b && tag && club, "%s", mn_orm_error(t.o));
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    const void *tags[] = {tag}, *who[] = {au};
    cr_assert_eq(mn_m2m_add(t.o, b, "tags", tags, 1), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, club, "members", who, 1), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(mn_qs_using(mn_qs_all(t.o, through), "other")), 1);
    cr_expect_eq(count(mn_qs_using(mn_qs_all(t.o, through), "default")), 0);
    cr_expect_eq(count(ON(Membership, "other")), 1);
    cr_expect_eq(count(ON(Membership, "default")), 0);
    cr_expect_eq(count(mn_related(t.o, b, "tags")), 1);
    cr_assert_eq(mn_m2m_set(t.o, b, "tags", NULL, 0), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(mn_qs_using(mn_qs_all(t.o, through), "other")), 0);
    cr_expect_gt(mn_delete(t.o, club, NULL), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Membership, "other")), 0);
    mn_orm_set_router(t.o, NULL, NULL);
}

/* A router that writes everything to other and has no answer for reads. */
static const char *writes_to_other(const mn_model *m, bool write, void *user)
{
    (void)m, (void)user;
    return write ? "other" : NULL;
}

/* get_or_create and update_or_create without using() open their block on the router's write
 * database (Django: atomic(using=self.db) of a _for_write queryset), not on default: a broken
 * block on default does not stop them. */
Test(orm_multidb, get_or_create_opens_its_block_where_the_router_writes)
{
    cr_assert_not_null(mn_qs_create(ON(Author, "default"), "name", "Bob"), "%s", mn_orm_error(t.o));
    mn_orm_set_router(t.o, writes_to_other, NULL);
    cr_assert_eq(mn_atomic_begin_using(t.o, "default"), 0, "%s", mn_orm_error(t.o));
    cr_expect_null(mn_qs_create(ON(Author, "default"), "name", "Bob"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "default's block is broken");

    bool created = false;
    Author *a =
        mn_qs_get_or_create(mn_all(t.o, Author), MN_KVS("name", "Ann"), 1, NULL, 0, &created);
    cr_expect_not_null(a, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_str_eq(db_of(a), "other");
    a = mn_qs_update_or_create(mn_all(t.o, Author), MN_KVS("name", "Ann"), 1,
                               MN_KVS("email", "ann@example.com"), 1, &created);
    cr_expect_not_null(a, "update: %s", mn_orm_error(t.o));
    cr_expect_not(created);
    a = mn_qs_update_or_create(mn_all(t.o, Author), MN_KVS("name", "Cy"), 1, NULL, 0, &created);
    cr_expect_not_null(a, "create: %s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(mn_atomic_depth(t.o), 1, "their blocks on other have ended");
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "default rolled back");
    mn_orm_set_router(t.o, NULL, NULL);

    cr_expect_eq(count(ON(Author, "other")), 2, "Ann and Cy, committed on other");
    cr_expect_eq(count(mn_filter(ON(Author, "other"), "email", "ann@example.com")), 1);
    cr_expect_eq(count(ON(Author, "default")), 1, "Bob alone");
}

/* A router with no opinion on writes, recording the instance it was asked about. */
static const void *hinted;
static const char *reads_only(const mn_model *m, bool write, void *user)
{
    mn_orm *o = user;
    (void)m;
    if (write)
        hinted = mn_orm_route_instance(o);
    return write ? NULL : "default";
}

Test(orm_multidb, a_router_without_an_answer_leaves_the_instance_database)
{
    Question *qd, *qo;
    two_questions(&qd, &qo);
    mn_orm_set_router(t.o, reads_only, t.o);
    Question *q = mn_get(ON(Question, "other"), "pk", qo->id);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    q->text = "kept on other";
    hinted = NULL;
    cr_assert_eq(mn_save(t.o, q), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(hinted, q, "the router is told which instance is saved");
    cr_expect_null(mn_orm_route_instance(t.o), "outside a router: none");
    cr_expect_eq(count(mn_filter(ON(Question, "other"), "text", "kept on other")), 1);
    cr_expect_eq(count(mn_filter(ON(Question, "default"), "text", "kept on other")), 0);
    /* a new instance with no database of its own: default */
    Question *n = mn_create(t.o, Question, "text", "new", "pub_date", &when);
    cr_assert_not_null(n, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(db_of(n), "default");
    mn_orm_set_router(t.o, NULL, NULL);
}

static int committed;
static void note_commit(void *arg)
{
    (void)arg;
    committed++;
}

Test(orm_multidb, atomic_on_a_named_database)
{
    /* rolled back: nothing reaches other */
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_qs_create(ON(Tag, "other"), "name", "gone"), "%s", mn_orm_error(t.o));
    /* a block on default inside: a transaction of its own (Django's atomic() in
     * atomic(using='other')) */
    cr_expect_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_depth(t.o), 2, "the depth counts the blocks of every database");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_end(t.o, false), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Tag, "other")), 0);

    /* with a router sending writes to other, a block there makes them atomic */
    mn_orm_set_router(t.o, all_other, NULL);
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Tag, "name", "kept"), "%s", mn_orm_error(t.o));
    committed = 0;
    cr_assert_eq(mn_on_commit_using(t.o, "other", note_commit, NULL), 0);
    cr_assert_eq(mn_on_commit_using(t.o, "default", note_commit, NULL), 0);
    cr_expect_eq(committed, 1, "no block on default: at once");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(committed, 2, "after other's commit");
    mn_orm_set_router(t.o, NULL, NULL);
    cr_expect_eq(count(ON(Tag, "other")), 1);
    cr_expect_eq(count(ON(Tag, "default")), 0);

    /* a failed statement marks other's block, not default's connection */
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_qs_create(ON(Author, "other"), "name", "Ann"), "%s", mn_orm_error(t.o));
    cr_expect_null(mn_qs_create(ON(Author, "other"), "name", "Ann"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(ON(Author, "other")), MN_ETRANSACTION_MANAGEMENT);
    cr_expect_eq(count(ON(Author, "default")), 0, "default is not in the block");
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "rolled back");
    cr_expect_eq(count(ON(Author, "other")), 0);

    cr_expect_eq(mn_atomic_begin_using(t.o, "nope"), MN_ENOTFOUND);
    cr_expect_eq(mn_atomic_depth(t.o), 0);
}

static const char *writes_to_default(const mn_model *m, bool write, void *user)
{
    (void)m, (void)user;
    return write ? "default" : NULL;
}

static Author *unsaved_author(const char *name)
{
    Author *a = mn_new(t.o, Author);
    cr_assert_not_null(a);
    a->name = name;
    return a;
}

/* bulk_create and bulk_update take part in the block of the database they write to, whoever
 * names it (no router, a router naming "default", a using() alias), and only that block. */
Test(orm_multidb, bulk_writes_join_the_block_of_their_database)
{
    /* a router that names "default" for writes: a failed bulk_update marks default's block */
    Author *ann = mn_create(t.o, Author, "name", "Ann");
    Author *bob = mn_create(t.o, Author, "name", "Bob");
    cr_assert(ann && bob, "%s", mn_orm_error(t.o));
    mn_orm_set_router(t.o, writes_to_default, NULL);
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Tag, "name", "before"), "%s", mn_orm_error(t.o));
    bob->name = "Ann";
    cr_expect_lt(mn_bulk_update(t.o, &Author_model, (void **)&bob, 1, "name", 0), 0);
    cr_expect_null(mn_create(t.o, Tag, "name", "after"), "the block is marked");
    cr_expect_eq(mn_orm_errcode(t.o), MN_ETRANSACTION_MANAGEMENT);
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "rolled back");
    mn_orm_set_router(t.o, NULL, NULL);
    cr_expect_eq(count(ON(Tag, "default")), 0, "'before' was rolled back");

    /* a failed bulk_create into other, inside a block on other */
    cr_assert_not_null(mn_qs_create(ON(Author, "other"), "name", "Ann"), "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_qs_create(ON(Tag, "other"), "name", "before"), "%s", mn_orm_error(t.o));
    Author *dup = unsaved_author("Ann");
    cr_expect_eq(
        mn_bulk_create(t.o, &Author_model, (void **)&dup, 1, &(mn_bulk_opts){.db = "other"}),
        MN_EDB_INTEGRITY);
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "rolled back");
    cr_expect_eq(count(ON(Tag, "other")), 0, "'before' was rolled back on other");

    /* a failed bulk_create on default while a block is open on other leaves other's block
     * usable */
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    dup = unsaved_author("Ann");
    cr_expect_eq(mn_bulk_create(t.o, &Author_model, (void **)&dup, 1, NULL), MN_EDB_INTEGRITY);
    cr_expect_not_null(mn_qs_create(ON(Tag, "other"), "name", "fine"), "%s", mn_orm_error(t.o));
    /* and on_commit for default, which has no block, runs at once */
    committed = 0;
    cr_assert_eq(mn_on_commit(t.o, note_commit, NULL), 0);
    cr_expect_eq(committed, 1, "default has no block: at once");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Tag, "other")), 1);
}

/* ---- blocks on several databases (Django keeps the transaction state per connection) ---- */

static void tag_on(const char *alias, const char *name)
{
    cr_assert_not_null(mn_qs_create(ON(Tag, alias), "name", name), "%s on %s: %s", name, alias,
                       mn_orm_error(t.o));
}

Test(orm_multidb, blocks_on_two_databases_nest_independently)
{
    /* other's block inside default's: rolling back the inner one leaves default's alone */
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    tag_on("default", "d1");
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    tag_on("other", "o1");
    cr_expect_eq(mn_atomic_end(t.o, false), 0, "%s", mn_orm_error(t.o));
    tag_on("default", "d2");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Tag, "default")), 2);
    cr_expect_eq(count(ON(Tag, "other")), 0, "other's block was rolled back");

    /* a committed inner block on other stays committed when default's rolls back */
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    tag_on("default", "d3");
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    tag_on("other", "o2");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_end(t.o, false), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Tag, "default")), 2, "d3 was rolled back");
    cr_expect_eq(count(ON(Tag, "other")), 1, "o2 was committed");

    /* default inside other, and a savepoint on other inside both: each end closes the
     * innermost block, on its own database */
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    tag_on("default", "d4");
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_depth(t.o), 3);
    tag_on("other", "o3");
    cr_expect_eq(mn_atomic_end(t.o, false), 0, "back to other's savepoint: %s", mn_orm_error(t.o));
    tag_on("other", "o4");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "default commits: %s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Tag, "default")), 3, "d4 is committed while other's block is open");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "other commits: %s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_depth(t.o), 0);
    cr_expect_eq(count(mn_filter(ON(Tag, "other"), "name", "o3")), 0);
    cr_expect_eq(count(mn_filter(ON(Tag, "other"), "name", "o4")), 1);
}

Test(orm_multidb, a_failed_statement_marks_only_the_block_of_its_database)
{
    cr_assert_not_null(mn_qs_create(ON(Author, "other"), "name", "Ann"), "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_qs_create(ON(Author, "default"), "name", "Bob"), "%s", mn_orm_error(t.o));

    /* fails on other: other's block refuses queries, default's goes on */
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    tag_on("default", "before");
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    tag_on("other", "gone");
    cr_expect_null(mn_qs_create(ON(Author, "other"), "name", "Ann"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(ON(Tag, "other")), MN_ETRANSACTION_MANAGEMENT);
    cr_expect_eq(count(ON(Tag, "default")), 1, "default's block is not marked");
    tag_on("default", "during");
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "other rolled back");
    tag_on("default", "after");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Tag, "default")), 3);
    cr_expect_eq(count(ON(Tag, "other")), 0);

    /* fails on default, inside other's block: only default's block is marked */
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    cr_expect_null(mn_qs_create(ON(Author, "default"), "name", "Bob"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(ON(Tag, "default")), MN_ETRANSACTION_MANAGEMENT);
    tag_on("other", "kept");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "other commits: %s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_begin(t.o), MN_ETRANSACTION_MANAGEMENT, "default's block is marked");
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "default rolled back");
    cr_expect_eq(mn_atomic_depth(t.o), 0);
    cr_expect_eq(count(ON(Tag, "other")), 1);
    cr_expect_eq(count(ON(Tag, "default")), 3);
}

static void bump(void *arg)
{
    (*(int *)arg)++;
}

Test(orm_multidb, on_commit_waits_for_the_block_of_its_database)
{
    int on_default = 0, on_other = 0;
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_on_commit_using(t.o, "other", bump, &on_other), 0);
    cr_assert_eq(mn_on_commit(t.o, bump, &on_default), 0);
    cr_expect_eq(on_default + on_other, 0, "both databases have a block");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(on_other, 1, "other's block committed");
    cr_expect_eq(on_default, 0, "default's block is still open");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(on_default, 1);

    /* a rollback drops the callbacks of its own database only */
    on_default = on_other = 0;
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_on_commit(t.o, bump, &on_default), 0);
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_on_commit_using(t.o, "other", bump, &on_other), 0);
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o)); /* a savepoint on default */
    cr_assert_eq(mn_on_commit(t.o, bump, &on_default), 0);
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_end(t.o, false), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(on_other, 0, "other rolled back");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(on_default, 2, "default's two callbacks ran at its commit");
    cr_expect_eq(on_other, 0);
}

/* Django's Collector runs in atomic(using=...) whatever block is open elsewhere: a cascade
 * on other that fails half-way deletes nothing there. */
Test(orm_multidb, a_cascade_delete_on_other_inside_a_default_block_is_atomic)
{
    Question *qo = mn_qs_create(ON(Question, "other"), "text", "q", "pub_date", &when);
    cr_assert_not_null(qo, "%s", mn_orm_error(t.o));
    for (int i = 0; i < 2; i++)
        cr_assert_not_null(mn_create(t.o, Choice, "question", qo, "text", "c"), "%s",
                           mn_orm_error(t.o));
    cr_assert_eq(count(ON(Choice, "other")), 2);
    /* the question's DELETE (after its choices') fails */
    mn_dbconn *c = mn_orm_conn(t.o, "other");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_dbconn_exec_script(c, "CREATE TRIGGER keep_questions BEFORE DELETE ON "
                                          "polls_question BEGIN SELECT RAISE(ABORT, 'kept'); END"),
                 0, "%s", mn_dbconn_errmsg(c));

    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    tag_on("default", "d");
    cr_expect_lt(mn_delete(t.o, qo, NULL), 0, "the trigger refuses");
    cr_expect_eq(mn_atomic_depth(t.o), 1, "the delete's own block on other has ended");
    cr_expect_eq(count(ON(Choice, "other")), 2, "the choices' DELETE was rolled back");
    tag_on("default", "d2");
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "default's block is not marked: %s",
                 mn_orm_error(t.o));
    cr_expect_eq(count(ON(Tag, "default")), 2);

    c = mn_orm_conn(t.o, "other");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_dbconn_exec_script(c, "DROP TRIGGER keep_questions"), 0, "%s",
                 mn_dbconn_errmsg(c));
    cr_expect_eq(count(ON(Choice, "other")), 2);
    cr_expect_gt(mn_delete(t.o, qo, NULL), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Choice, "other")), 0);
}

/* ATOMIC_REQUESTS opens a block on default around the view; a view's update_or_create on
 * other runs in a transaction of its own there (Django: atomic(using=self.db)), which
 * commits whatever the request's block does. */
Test(orm_multidb, update_or_create_on_other_under_atomic_requests)
{
    cr_assert_not_null(mn_qs_create(ON(Author, "other"), "name", "Ann"), "%s", mn_orm_error(t.o));
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    cr_assert_eq(mn_orm_add_db(o, other.db), 0);
    cr_assert_eq(mn_orm_request_begin(o, true), 0, "%s", mn_orm_error(o));
    cr_assert_not_null(mn_create(o, Tag, "name", "view"), "%s", mn_orm_error(o));
    bool created = true;
    Author *ann =
        mn_qs_update_or_create(mn_qs_using(mn_all(o, Author), "other"), MN_KVS("name", "Ann"), 1,
                               MN_KVS("email", "ann@example.com"), 1, &created);
    cr_expect_not_null(ann, "%s", mn_orm_error(o));
    cr_expect_not(created);
    cr_expect_eq(mn_atomic_depth(o), 1, "update_or_create's block on other has ended");
    /* a duplicate on other fails its own block, not the request's */
    cr_expect_null(mn_qs_update_or_create(mn_qs_using(mn_all(o, Author), "other"),
                                          MN_KVS("name", "Zed"), 1, MN_KVS("name", "Ann"), 1,
                                          &created));
    cr_expect_not_null(mn_create(o, Tag, "name", "still"), "%s", mn_orm_error(o));
    cr_expect_eq(mn_orm_request_end(o, false), 0, "%s", mn_orm_error(o));
    mn_arena_free(a);
    cr_expect_eq(count(ON(Tag, "default")), 0, "the request's block rolled back");
    cr_expect_eq(count(mn_filter(ON(Author, "other"), "email", "ann@example.com")), 1,
                 "the update on other was committed");
    cr_expect_eq(count(ON(Author, "other")), 1, "no Zed");
}

/* A lost connection to default while a block is open on other only: default has no block to
 * keep it for, so its next query reconnects (review finding 7). */
Test(orm_multidb, pg_a_lost_default_connection_reconnects_during_a_block_on_other)
{
    if (!tdb_is_pg(&t))
        return;
    cr_assert_eq(mn_atomic_begin_using(t.o, "other"), 0, "%s", mn_orm_error(t.o));
    tag_on("other", "o");
    cr_expect_null(
        mn_raw(t.o, &Tag_model, "SELECT pg_terminate_backend(pg_backend_pid()) AS id", NULL, 0));
    /* the next query reconnects (a new connection: without the test's search_path) */
    mn_rows *r = mn_raw(t.o, &Tag_model, "SELECT 7 AS id", NULL, 0);
    cr_expect_not_null(r, "reconnected: %s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "other's block is intact: %s", mn_orm_error(t.o));
    cr_expect_eq(count(ON(Tag, "other")), 1);
}

/* Plain SQL on other: its cells are decoded as other stores them (SQLite's scaled decimal and
 * text datetime), also when default is PostgreSQL (the _pg variant). */
Test(orm_multidb, a_plain_sql_cell_of_other_converts_as_other_stores_it)
{
    Author *au = mn_qs_create(ON(Author, "other"), "name", "Ann");
    cr_assert_not_null(au, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_qs_create(ON(Book, "other"), "title", "B", "author", au, "price", "1.50"),
                       "%s", mn_orm_error(t.o));
    Question *q = mn_qs_create(ON(Question, "other"), "text", "q", "pub_date", &when);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    const char *want_when = tdb_repr(&t, mn_obj_get_value(t.o, q, "pub_date"));

    mn_dbconn *c = mn_orm_conn(t.o, "other");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    mn_dbresult res;
    cr_assert_eq(mn_dbconn_exec(c, t.arena,
                                "SELECT price, pub_date FROM library_book, polls_question", NULL, 0,
                                &res),
                 0, "%s", mn_dbconn_errmsg(c));
    cr_assert_eq(res.nrows, 1);
    const mn_fielddef *price = mn_model_field(&Book_model, "price");
    const mn_fielddef *pub_date = mn_model_field(&Question_model, "pub_date");
    cr_expect_str_eq(
        tdb_repr(&t, mn_field_from_db_using(t.o, "other", price, mn_dbresult_cell(&res, 0, 0))),
        "Decimal('1.50')");
    cr_expect_str_eq(
        tdb_repr(&t, mn_field_from_db_using(t.o, "other", pub_date, mn_dbresult_cell(&res, 0, 1))),
        want_when);

    /* NULL is default, as mn_field_from_db; a name the session lacks is an error */
    Book *bd = mn_create(t.o, Book, "title", "D", "author", mn_create(t.o, Author, "name", "D"),
                         "price", "2.25");
    cr_assert_not_null(bd, "%s", mn_orm_error(t.o));
    mn_dbconn *cd = mn_orm_conn(t.o, NULL);
    cr_assert_not_null(cd, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_dbconn_exec(cd, t.arena, "SELECT price FROM library_book", NULL, 0, &res), 0,
                 "%s", mn_dbconn_errmsg(cd));
    cr_assert_eq(res.nrows, 1);
    cr_expect_str_eq(
        tdb_repr(&t, mn_field_from_db_using(t.o, NULL, price, mn_dbresult_cell(&res, 0, 0))),
        "Decimal('2.25')");
    cr_expect_null(mn_field_from_db_using(t.o, "nowhere", price, mn_dbresult_cell(&res, 0, 0)));
    cr_expect_eq(mn_orm_errcode(t.o), MN_ENOTFOUND);
    cr_expect_str_eq(mn_orm_error(t.o), "no database 'nowhere' in this session");
}
