/* test_audit_writes.c — a black-box audit of writes against Django's documented behaviour:
 * the delete collector (cascades over several levels, RESTRICT reached through a CASCADE
 * path as in Django's docs, PROTECT found below a cascade, SET_DEFAULT, DO_NOTHING),
 * save(update_fields) edge cases, update() through joins, bulk operations in batches,
 * prefetch with custom querysets and nested reverse relations, many-to-many writes through
 * an explicit model, and on_commit with savepoints. */
#include "helper_data.h"
#include "helper_db.h"
#include "helper_render.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* Django's RESTRICT example (ref/models/fields, on_delete=RESTRICT) */
/* clang-format off */
#define ARTIST_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                      \
    F(name, MN_CHAR, .max_length = 20)
#define ALBUM_FIELDS(F)                                                                    \
    F(id, MN_BIGAUTO)                                                                      \
    F(artist, MN_FK, .to = "Artist", .on_delete = MN_CASCADE, .related_name = "albums")
#define SONG_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(artist, MN_FK, .to = "Artist", .on_delete = MN_CASCADE, .related_name = "songs")     \
    F(album, MN_FK, .to = "Album", .on_delete = MN_RESTRICT, .related_name = "songs")
/* a third level under polls.Choice, and a PROTECT below a cascade */
#define VOTE_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(choice, MN_FK, .to = "polls.Choice", .on_delete = MN_CASCADE, .related_name = "votes") \
    F(voter, MN_CHAR, .max_length = 20)
#define RECEIPT_FIELDS(F)                                                                  \
    F(id, MN_BIGAUTO)                                                                      \
    F(vote, MN_FK, .to = "Vote", .on_delete = MN_PROTECT, .related_name = "receipts")
/* SET_DEFAULT to a section whose key is known, DO_NOTHING below it */
#define SECTION_FIELDS(F)                                                                  \
    F(id, MN_BIGINT, .primary_key = true)                                                  \
    F(name, MN_CHAR, .max_length = 20)
#define ITEM_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(section, MN_FK, .to = "Section", .on_delete = MN_SET_DEFAULT, .default_int = 1,      \
      .related_name = "items")
#define NOTE_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(item, MN_FK, .to = "Item", .on_delete = MN_DO_NOTHING, .related_name = "notes")
/* clang-format on */
MN_MODEL(Artist, auditw, ARTIST_FIELDS)
MN_MODEL(Album, auditw, ALBUM_FIELDS)
MN_MODEL(Song, auditw, SONG_FIELDS)
MN_MODEL(Vote, auditw, VOTE_FIELDS)
MN_MODEL(Receipt, auditw, RECEIPT_FIELDS)
MN_MODEL(Section, auditw, SECTION_FIELDS)
MN_MODEL(Item, auditw, ITEM_FIELDS)
MN_MODEL(Note, auditw, NOTE_FIELDS)

DB_SUITE(orm_audit_writes);

static int64_t count(const mn_model *m)
{
    return mn_qs_count(mn_qs_all(t.o, m));
}

static int64_t report_count(const mn_delete_report *r, const char *label)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i].label, label) == 0)
            return r->items[i].count;
    return 0;
}

static Question *question(const char *text)
{
    mn_datetime now = {.year = 2024, .month = 1, .day = 1, .aware = true};
    Question *q = mn_create(t.o, Question, "text", text, "pub_date", &now);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    return q;
}

static Choice *choice(Question *q, const char *text, int votes)
{
    Choice *c = mn_create(t.o, Choice, "question", q, "text", text, "votes", votes);
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    return c;
}

static Vote *vote(Choice *c, const char *voter)
{
    Vote *v = mn_create(t.o, Vote, "choice", c, "voter", voter);
    cr_assert_not_null(v, "%s", mn_orm_error(t.o));
    return v;
}

/* ---- the delete collector ---- */

Test(orm_audit_writes, cascade_over_three_levels_counts_each_model)
{
    Question *q = question("q");
    Choice *a = choice(q, "a", 0), *b = choice(q, "b", 0);
    vote(a, "x");
    vote(a, "y");
    vote(b, "z");
    Question *other = question("other");
    vote(choice(other, "c", 0), "w");
    mn_delete_report rep;
    cr_assert_eq(mn_delete(t.o, q, &rep), 6, "%s", mn_orm_error(t.o));
    cr_expect_eq(rep.total, 6);
    cr_expect_eq(rep.n, 3);
    cr_expect_eq(report_count(&rep, "polls.Question"), 1);
    cr_expect_eq(report_count(&rep, "polls.Choice"), 2);
    cr_expect_eq(report_count(&rep, "auditw.Vote"), 3);
    cr_expect_eq(count(&Vote_model), 1, "the other question's vote stays");
    cr_expect_eq(count(&Choice_model), 1);
    /* a queryset delete reports the same way */
    cr_assert_eq(mn_qs_delete(mn_all(t.o, Question), &rep), 3, "%s", mn_orm_error(t.o));
    cr_expect_eq(report_count(&rep, "auditw.Vote"), 1);
    /* nothing to delete: (0, {}) */
    cr_assert_eq(mn_qs_delete(mn_all(t.o, Question), &rep), 0);
    cr_expect_eq(rep.total, 0);
    cr_expect_eq(rep.n, 0);
}

/* The example of Django's documentation for RESTRICT: a song restricted through its album
 * may go when it is deleted through a CASCADE of the same operation. */
Test(orm_audit_writes, restrict_allows_what_a_cascade_of_the_same_delete_removes)
{
    Artist *one = mn_create(t.o, Artist, "name", "artist one");
    Artist *two = mn_create(t.o, Artist, "name", "artist two");
    cr_assert(one && two, "%s", mn_orm_error(t.o));
    Album *album_one = mn_create(t.o, Album, "artist", one);
    Album *album_two = mn_create(t.o, Album, "artist", two);
    cr_assert(album_one && album_two, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Song, "artist", one, "album", album_one));
    cr_assert_not_null(mn_create(t.o, Song, "artist", one, "album", album_two));

    cr_expect_eq(mn_delete(t.o, album_one, NULL), MN_ERESTRICTED);
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Cannot delete some instances of model 'Album' because they are referenced "
                     "through restricted foreign keys: 'Song.album'.");
    /* the message names the model deleted, not the one the restricted key points at */
    cr_expect_eq(mn_delete(t.o, two, NULL), MN_ERESTRICTED);
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Cannot delete some instances of model 'Artist' because they are referenced "
                     "through restricted foreign keys: 'Song.album'.");
    cr_expect_eq(count(&Album_model), 2, "nothing was deleted");

    mn_delete_report rep;
    cr_assert_eq(mn_delete(t.o, one, &rep), 4, "%s", mn_orm_error(t.o));
    cr_expect_eq(report_count(&rep, "auditw.Song"), 2);
    cr_expect_eq(report_count(&rep, "auditw.Album"), 1);
    cr_expect_eq(report_count(&rep, "auditw.Artist"), 1);
    cr_expect_eq(count(&Song_model), 0);
    /* artist two's album has no songs left: it goes too now */
    cr_expect_eq(mn_delete(t.o, two, &rep), 2, "%s", mn_orm_error(t.o));
}

/* A PROTECT found below a cascade: Django's collector re-raises it at each level, naming the
 * model deleted and the cascading relation that led to the protected rows. */
Test(orm_audit_writes, protect_below_a_cascade_names_the_deleted_model)
{
    Question *q = question("q");
    Vote *v = vote(choice(q, "a", 0), "x");
    cr_assert_not_null(mn_create(t.o, Receipt, "vote", v));
    cr_expect_eq(mn_delete(t.o, v, NULL), MN_EPROTECTED);
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Cannot delete some instances of model 'Vote' because they are referenced "
                     "through protected foreign keys: 'Receipt.vote'.");
    cr_expect_eq(mn_delete(t.o, q, NULL), MN_EPROTECTED);
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Cannot delete some instances of model 'Question' because they are "
                     "referenced through protected foreign keys: 'Choice.question'.");
    cr_expect_eq(count(&Question_model) + count(&Choice_model) + count(&Vote_model), 3,
                 "nothing was deleted");
}

Test(orm_audit_writes, set_default_points_at_the_default_and_do_nothing_is_left_to_the_database)
{
    cr_assert_not_null(mn_create(t.o, Section, "id", 1, "name", "misc"));
    Section *s = mn_create(t.o, Section, "id", 2, "name", "tools");
    cr_assert_not_null(s, "%s", mn_orm_error(t.o));
    Item *fresh = mn_new(t.o, Item);
    cr_expect_eq(fresh->section.id, 1, "the default applies to a new instance");
    Item *i1 = mn_create(t.o, Item, "section", s);
    Item *i2 = mn_create(t.o, Item, "section", s);
    cr_assert(i1 && i2, "%s", mn_orm_error(t.o));
    mn_delete_report rep;
    cr_assert_eq(mn_delete(t.o, s, &rep), 1, "%s", mn_orm_error(t.o));
    cr_expect_eq(rep.n, 1, "updated rows are not counted as deleted");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Item), "section", 1)), 2);

    /* DO_NOTHING: the collector leaves the note, the foreign key constraint refuses */
    cr_assert_not_null(mn_create(t.o, Note, "item", i1));
    int64_t rc = mn_delete(t.o, i1, NULL);
    cr_expect_eq(rc, MN_EDB_INTEGRITY, "%lld: %s", (long long)rc, mn_orm_error(t.o));
    cr_expect_eq(count(&Item_model), 2, "the item is still there");
    cr_expect_eq(count(&Note_model), 1);
    /* the session is usable after the failed delete */
    cr_expect_eq(mn_delete(t.o, i2, NULL), 1, "%s", mn_orm_error(t.o));
}

/* ---- save() ---- */

static int saves[8];
static int count_saves(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                       void *user)
{
    (void)sender, (void)obj, (void)o, (void)user;
    saves[sig * 2 + created]++;
    return 0;
}

Test(orm_audit_writes, save_update_fields_edge_cases)
{
    Question *q = question("q");
    /* the primary key is not a field update_fields may name */
    cr_expect_lt(mn_save_fields(t.o, q, "id"), 0);
    cr_expect_str_eq(mn_orm_error(t.o),
                     "The following fields do not exist in this model, are m2m fields, primary "
                     "keys, or are non-concrete fields: id");
    cr_expect_lt(mn_save_fields(t.o, q, "text,choices"), 0, "a reverse relation is refused");
    cr_expect_lt(mn_save_fields(t.o, q, "nope"), 0);
    /* update_fields=[]: nothing is saved and no signal is sent */
    memset(saves, 0, sizeof saves);
    mn_signal_connect(MN_PRE_SAVE, &Question_model, count_saves, NULL);
    mn_signal_connect(MN_POST_SAVE, &Question_model, count_saves, NULL);
    q->text = "changed";
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    cr_expect_eq(mn_save_fields(t.o, q, ""), 0, "%s", mn_orm_error(t.o));
    mn_orm_set_log(t.o, NULL);
    cr_expect_eq(log.count, 0, "no query");
    cr_expect_eq(saves[MN_PRE_SAVE * 2] + saves[MN_POST_SAVE * 2], 0, "no signal");
    /* the attribute name of a foreign key is a valid name too */
    Choice *c = choice(q, "a", 1);
    Question *q2 = question("q2");
    c->question.id = q2->id;
    c->question.obj = NULL;
    cr_expect_eq(mn_save_fields(t.o, c, "question_id"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, q2, "choices")), 1);
    mn_signal_disconnect(MN_PRE_SAVE, &Question_model, count_saves, NULL);
    mn_signal_disconnect(MN_POST_SAVE, &Question_model, count_saves, NULL);
    /* an unsaved instance */
    Question *n = mn_new(t.o, Question);
    n->text = "new";
    cr_expect_eq(mn_save_fields(t.o, n, "text"), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "Cannot force an update in save() with no primary key.");
}

Test(orm_audit_writes, save_after_the_row_went_away)
{
    Question *q = question("q");
    int64_t id = q->id;
    /* deleted elsewhere: update_fields fails, a plain save() inserts the row again */
    cr_assert_eq(mn_qs_delete(mn_filter(mn_all(t.o, Question), "pk", id), NULL), 1);
    q->text = "back";
    cr_expect_eq(mn_save_fields(t.o, q, "text"), MN_EDOES_NOT_EXIST);
    cr_expect_str_eq(mn_orm_error(t.o), "Save with update_fields did not affect any rows.");
    memset(saves, 0, sizeof saves);
    mn_signal_connect(MN_POST_SAVE, &Question_model, count_saves, NULL);
    cr_expect_eq(mn_save(t.o, q), 0, "%s", mn_orm_error(t.o));
    mn_signal_disconnect(MN_POST_SAVE, &Question_model, count_saves, NULL);
    cr_expect_eq(saves[MN_POST_SAVE * 2 + 1], 1, "post_save says created");
    cr_expect_eq(q->id, id, "with the same key");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "pk", id, "text", "back")), 1);
    /* deleted through the instance: its key is cleared, save() makes a new row */
    cr_assert_eq(mn_delete(t.o, q, NULL), 1);
    cr_expect_eq(q->id, 0);
    cr_expect_eq(mn_save_fields(t.o, q, "text"), MN_EINVAL);
    cr_expect_eq(mn_delete(t.o, q, NULL), MN_EINVAL, "a deleted instance cannot be deleted again");
    cr_expect_eq(mn_save(t.o, q), 0, "%s", mn_orm_error(t.o));
    cr_expect_neq(q->id, 0);
    cr_expect_neq(q->id, id);
    cr_expect_eq(count(&Question_model), 1);
}

/* ---- update() ---- */

Test(orm_audit_writes, update_through_joins_counts_each_row_once)
{
    library lib;
    library_fill(t.o, &lib);
    /* a filter over a forward FK */
    int64_t n = mn_update(mn_filter(mn_all(t.o, Book), "author__name", "Ann"), "rating", 1.0);
    cr_expect_eq(n, 2, "%lld: %s", (long long)n, mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "rating", 1.0)), 2);
    /* a filter over a many-to-many: odes has two tags, counted once */
    n = mn_update(mn_filter(mn_all(t.o, Book), "tags__name__in", MN_IN_STR("classic", "poetry")),
                  "pages", mn_F_add(t.o, "pages", 1));
    cr_expect_eq(n, 3, "%lld: %s", (long long)n, mn_orm_error(t.o));
    Book *odes = mn_get(mn_all(t.o, Book), "pk", lib.odes->id);
    cr_assert_not_null(odes);
    cr_expect_eq(odes->pages, 81, "F() + 1 applied once");
    /* a filter over a reverse FK */
    n = mn_update(mn_filter(mn_all(t.o, Book), "reviews__stars__gte", 2), "in_print", false);
    cr_expect_eq(n, 2, "dune (two reviews) and sql: %lld: %s", (long long)n, mn_orm_error(t.o));
    /* rows matched, not rows changed */
    cr_expect_eq(mn_update(mn_all(t.o, Book), "genre", "fi"), 4);
    cr_expect_eq(mn_update(mn_all(t.o, Book), "genre", "fi"), 4);
    /* a field of a related model cannot be updated */
    cr_expect_lt(mn_update(mn_all(t.o, Book), "author__name", "x"), 0);
}

/* ---- get_or_create / update_or_create ---- */

Test(orm_audit_writes, get_or_create_with_an_instance_lookup_and_defaults)
{
    Question *q = question("q");
    bool created = false;
    mn_qs *cs = mn_all(t.o, Choice);
    Choice *c = mn_qs_get_or_create(cs, MN_KVS("question", q, "text", "a"), 2, MN_KVS("votes", 5),
                                    1, &created);
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(c->votes, 5);
    cr_expect_eq(c->question.id, q->id);
    Choice *again = mn_qs_get_or_create(cs, MN_KVS("question", q, "text", "a"), 2,
                                        MN_KVS("votes", 9), 1, &created);
    cr_assert_not_null(again, "%s", mn_orm_error(t.o));
    cr_expect(!created);
    cr_expect_eq(again->id, c->id);
    cr_expect_eq(again->votes, 5, "defaults are not applied to a row found");
    /* update_or_create: the defaults update what it finds */
    Choice *u = mn_qs_update_or_create(cs, MN_KVS("question", q, "text", "a"), 2,
                                       MN_KVS("votes", 9), 1, &created);
    cr_assert_not_null(u, "%s", mn_orm_error(t.o));
    cr_expect(!created);
    cr_expect_eq(u->id, c->id);
    cr_expect_eq(mn_qs_count(mn_filter(cs, "votes", 9)), 1);
    /* more than one row: MultipleObjectsReturned, nothing created */
    choice(q, "a", 0);
    cr_expect_null(mn_qs_get_or_create(cs, MN_KVS("text", "a"), 1, NULL, 0, &created));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EMULTIPLE);
    cr_expect_null(mn_qs_update_or_create(cs, MN_KVS("text", "a"), 1, NULL, 0, &created));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EMULTIPLE);
    cr_expect_eq(count(&Choice_model), 2);
}

/* ---- bulk ---- */

Test(orm_audit_writes, bulk_create_in_batches_sets_every_key_and_bulk_update_counts_rows)
{
    enum { N = 7 };
    Tag *tags[N];
    for (int i = 0; i < N; i++) {
        tags[i] = mn_new(t.o, Tag);
        tags[i]->name = mn_arena_printf(t.arena, "t%d", i);
    }
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    cr_assert_eq(
        mn_bulk_create(t.o, &Tag_model, (void **)tags, N, &(mn_bulk_opts){.batch_size = 3}), 0,
        "%s", mn_orm_error(t.o));
    mn_orm_set_log(t.o, NULL);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        bad += tags[i]->id == 0 || !tags[i]->_mn.persisted;
        bad += i && tags[i]->id <= tags[i - 1]->id;
        Tag *back = mn_get(mn_all(t.o, Tag), "pk", tags[i]->id);
        bad += !back || strcmp(back->name, tags[i]->name) != 0;
    }
    cr_expect_eq(bad, 0, "every object has the key of its row");
    size_t inserts = 0;
    for (size_t i = 0; i < log.count; i++)
        inserts += strncmp(log.entries[i].sql, "INSERT", 6) == 0;
    cr_expect_eq(inserts, 3, "ceil(7 / 3) statements");

    for (int i = 0; i < N; i++)
        tags[i]->name = mn_arena_printf(t.arena, "u%d", i);
    cr_expect_eq(mn_bulk_update(t.o, &Tag_model, (void **)tags, N, "name", 2), N);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Tag), "name__startswith", "u")), N);
    /* a row deleted meanwhile is not counted */
    cr_assert_eq(mn_delete(t.o, mn_get(mn_all(t.o, Tag), "pk", tags[0]->id), NULL), 1);
    cr_expect_eq(mn_bulk_update(t.o, &Tag_model, (void **)tags, N, "name", 0), N - 1);
    cr_expect_eq(mn_bulk_update(t.o, &Tag_model, (void **)tags, 0, "name", 0), 0);
    cr_expect_lt(mn_bulk_update(t.o, &Tag_model, (void **)tags, N, "id", 0), 0,
                 "bulk_update() cannot be used with primary key fields");
}

/* ---- prefetch_related ---- */

Test(orm_audit_writes, prefetch_nested_reverse_relations_and_a_custom_queryset)
{
    Question *q1 = question("q1"), *q2 = question("q2");
    Choice *a = choice(q1, "a", 3), *b = choice(q1, "b", 0);
    (void)b;
    choice(q2, "c", 7);
    vote(a, "x");
    vote(a, "y");
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *qs = mn_qs_fetch(
        mn_qs_prefetch_related(mn_qs_order_by(mn_all(t.o, Question), "id"), "choices__votes"));
    cr_assert_not_null(qs, "%s", mn_orm_error(t.o));
    cr_expect_eq(log.count, 3, "questions, choices, votes");
    cr_assert_eq(qs->len, 2);
    mn_rows *cs = mn_qs_fetch(mn_related(t.o, qs->items[0], "choices"));
    cr_assert_not_null(cs);
    cr_assert_eq(cs->len, 2);
    size_t votes = 0;
    for (size_t i = 0; i < cs->len; i++)
        votes += mn_qs_fetch(mn_related(t.o, cs->items[i], "votes"))->len;
    cr_expect_eq(votes, 2);
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, qs->items[1], "choices"))->len, 1);
    cr_expect_eq(log.count, 3, "nothing more was queried");

    /* Prefetch("choices", queryset=Choice.objects.filter(votes__gt=0).order_by("-votes")) */
    log.count = 0;
    mn_qs *custom = mn_qs_order_by(mn_filter(mn_all(t.o, Choice), "votes__gt", 0), "-votes");
    qs =
        mn_qs_fetch(mn_qs_prefetch(mn_qs_order_by(mn_all(t.o, Question), "id"), "choices", custom));
    cr_assert_not_null(qs, "%s", mn_orm_error(t.o));
    cr_expect_eq(log.count, 2);
    cs = mn_qs_fetch(mn_related(t.o, qs->items[0], "choices"));
    cr_assert_eq(cs->len, 1, "only the choice with votes");
    cr_expect_str_eq(((Choice *)cs->items[0])->text, "a");
    cr_expect_eq(log.count, 2);
    mn_orm_set_log(t.o, NULL);
}

/* ---- many-to-many through an explicit model ---- */

Test(orm_audit_writes, explicit_through_remove_set_and_clear)
{
    Author *ann = mn_create(t.o, Author, "name", "Ann");
    Author *bob = mn_create(t.o, Author, "name", "Bob");
    Author *cy = mn_create(t.o, Author, "name", "Cy");
    Club *club = mn_create(t.o, Club, "name", "readers");
    cr_assert(ann && bob && cy && club, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, club, "members", (const void *[]){ann, bob}, 2), 0, "%s",
                 mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, club, "members", (const void *[]){ann}, 1), 0);
    cr_expect_eq(count(&Membership_model), 2, "add() links only what is not linked");
    cr_assert_eq(mn_m2m_remove(t.o, club, "members", (const void *[]){ann}, 1), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, club, "members")), 1);
    cr_assert_eq(mn_m2m_set(t.o, club, "members", (const void *[]){bob, cy}, 2), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, club, "members")), 2);
    cr_expect_eq(mn_qs_count(mn_related(t.o, cy, "clubs")), 1, "the reverse accessor");
    cr_assert_eq(mn_m2m_clear(t.o, cy, "clubs"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, club, "members")), 1);
    cr_assert_eq(mn_m2m_clear(t.o, club, "members"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(&Membership_model), 0);
    cr_expect_eq(count(&Author_model), 3, "the authors stay");
    /* deleting an author removes its memberships (CASCADE on the through model) */
    cr_assert_eq(mn_m2m_add(t.o, club, "members", (const void *[]){ann, bob}, 2), 0);
    mn_delete_report rep;
    cr_assert_eq(mn_delete(t.o, ann, &rep), 2, "%s", mn_orm_error(t.o));
    cr_expect_eq(report_count(&rep, "library.Membership"), 1);
}

/* ---- transactions ---- */

static int ran[8];
static void mark(void *arg)
{
    ran[(intptr_t)arg]++;
}

static int inner_fails(mn_orm *o, void *arg)
{
    (void)arg;
    mn_on_commit(o, mark, (void *)2);
    mn_create(o, Tag, "name", "inner");
    return 1; /* rolled back */
}

Test(orm_audit_writes, on_commit_of_a_rolled_back_savepoint_is_dropped_the_outer_kept)
{
    memset(ran, 0, sizeof ran);
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    mn_on_commit(t.o, mark, (void *)1);
    cr_assert_not_null(mn_create(t.o, Tag, "name", "outer"));
    cr_expect_neq(mn_atomic(t.o, inner_fails, NULL), 0);
    /* an integrity error in a savepoint leaves the outer block usable */
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    mn_on_commit(t.o, mark, (void *)3);
    Section *dup = mn_create(t.o, Section, "id", 5, "name", "a");
    cr_assert_not_null(dup, "%s", mn_orm_error(t.o));
    cr_expect_null(mn_create(t.o, Section, "id", 5, "name", "b"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY);
    cr_expect_lt(mn_atomic_end(t.o, true), 0, "the failed block is rolled back");
    cr_assert_not_null(mn_create(t.o, Tag, "name", "after"), "%s", mn_orm_error(t.o));
    cr_expect_eq(ran[1] + ran[2] + ran[3], 0, "nothing before the outermost commit");
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(ran[1], 1);
    cr_expect_eq(ran[2], 0);
    cr_expect_eq(ran[3], 0);
    cr_expect_eq(count(&Tag_model), 2, "outer and after");
    cr_expect_eq(count(&Section_model), 0);
}

/* ---- full_clean ---- */

/* clang-format off */
#define PAGE_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(slug, MN_SLUG, .max_length = 50, .unique = true)                                     \
    F(short_name, MN_CHAR, .max_length = 20, .unique = true)                               \
    F(grade, MN_CHAR, .max_length = 1, .blank = true)                                      \
    F(owner, MN_FK, .to = "library.Author", .null = true, .on_delete = MN_SET_NULL)         \
    F(title, MN_CHAR, .max_length = 20)
/* clang-format on */
MN_MODEL(Page, auditw, PAGE_FIELDS, .unique_together = "owner,title")

static const char *error_for(const mn_validation *v, const char *field)
{
    for (size_t i = 0; i < v->n; i++)
        if ((field == NULL && v->errors[i].field == NULL) ||
            (field && v->errors[i].field && strcmp(v->errors[i].field, field) == 0))
            return v->errors[i].message;
    return NULL;
}

Test(orm_audit_writes, full_clean_messages_and_unique_checks)
{
    Page *p = mn_create(t.o, Page, "slug", "home", "short_name", "Home", "title", "t");
    cr_assert_not_null(p, "%s", mn_orm_error(t.o));
    Page *dup = mn_new(t.o, Page);
    dup->slug = "home";
    dup->short_name = "Home";
    dup->grade = "AB";
    dup->title = "t";
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, dup, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "slug"), "Page with this Slug already exists.");
    cr_expect_str_eq(error_for(&v, "short_name"), "Page with this Short name already exists.");
    cr_expect_str_eq(error_for(&v, "grade"),
                     "Ensure this value has at most 1 character (it has 2).");
    /* unique_together is not checked while one of its fields is NULL */
    cr_expect_null(error_for(&v, NULL), "%s", error_for(&v, NULL));
    cr_expect_eq(v.n, 3);

    /* a blank value with choices is only "cannot be blank" */
    Book *b = mn_new(t.o, Book);
    b->title = "x";
    b->genre = "";
    Author *a = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(a);
    b->author.id = a->id;
    cr_assert_eq(mn_full_clean(t.o, b, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "genre"), "This field cannot be blank.");
    cr_expect_eq(v.n, 1);

    /* unique_together with both set */
    p->owner.id = a->id;
    cr_assert_eq(mn_save(t.o, p), 0, "%s", mn_orm_error(t.o));
    Page *same = mn_new(t.o, Page);
    same->slug = "other";
    same->short_name = "Other";
    same->title = "t";
    same->owner.id = a->id;
    cr_assert_eq(mn_full_clean(t.o, same, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, NULL), "Page with this Owner and Title already exists.");
    cr_expect_eq(v.n, 1);
}

/* ---- refusals of update(), delete() and many-to-many writes ---- */

Test(orm_audit_writes, writes_django_refuses)
{
    library lib;
    library_fill(t.o, &lib);
    /* delete() after values() */
    cr_expect_lt(mn_qs_delete(mn_qs_values(mn_all(t.o, Review), "stars"), NULL), 0);
    cr_expect_eq(count(&Review_model), 3, "nothing was deleted");
    /* update() of a many-to-many field, or with a joined F() */
    cr_expect_lt(mn_update(mn_all(t.o, Book), "tags", 1), 0);
    cr_expect_lt(mn_update(mn_all(t.o, Book), "title", mn_F(t.o, "author__name")), 0);
    Book *dune = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_expect_str_eq(dune->title, "Dune");
    /* many-to-many with an unsaved instance on either side */
    Tag *unsaved = mn_new(t.o, Tag);
    unsaved->name = "new";
    cr_expect_lt(mn_m2m_add(t.o, lib.dune, "tags", (const void *[]){unsaved}, 1), 0);
    Book *nb = mn_new(t.o, Book);
    nb->title = "new";
    cr_expect_lt(mn_m2m_add(t.o, nb, "tags", (const void *[]){lib.tech}, 1), 0);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.dune, "tags")), 1);
    /* removing what is not linked changes nothing */
    cr_expect_eq(mn_m2m_remove(t.o, lib.dune, "tags", (const void *[]){lib.tech}, 1), 0);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.dune, "tags")), 1);
    /* set([]) clears */
    cr_expect_eq(mn_m2m_set(t.o, lib.dune, "tags", NULL, 0), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.dune, "tags")), 0);
}

Test(orm_audit_writes, get_or_create_by_pk_and_bulk_update_of_a_foreign_key)
{
    bool created = false;
    Section *s = mn_qs_get_or_create(mn_all(t.o, Section), MN_KVS("pk", 9), 1,
                                     MN_KVS("name", "nine"), 1, &created);
    cr_assert_not_null(s, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(s->id, 9);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Section), "pk", 9, "name", "nine")), 1);
    Question *q1 = question("q1"), *q2 = question("q2");
    Choice *cs[3] = {choice(q1, "a", 0), choice(q1, "b", 0), choice(q1, "c", 0)};
    for (int i = 0; i < 3; i++) {
        cs[i]->question.id = q2->id;
        cs[i]->question.obj = NULL;
        cs[i]->votes = i + 1;
    }
    cr_expect_eq(mn_bulk_update(t.o, &Choice_model, (void **)cs, 3, "question, votes", 2), 3, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_related(t.o, q2, "choices"), "votes__gt", 0)), 3);
}

/* update_or_create(defaults=..., create_defaults=...), Django 5.0; the row found is saved with
 * update_fields (Django 4.2): with no defaults and no date field, nothing is saved. */
Test(orm_audit_writes, update_or_create_with_create_defaults)
{
    Question *q = question("q");
    bool created = false;
    mn_qs *cs = mn_all(t.o, Choice);
    Choice *c =
        mn_qs_update_or_create_defaults(cs, MN_KVS("question", q, "text", "a"), 2,
                                        MN_KVS("votes", 5), 1, MN_KVS("votes", 1), 1, &created);
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(c->votes, 1, "create_defaults fill the new row");
    c = mn_qs_update_or_create_defaults(cs, MN_KVS("question", q, "text", "a"), 2,
                                        MN_KVS("votes", 5), 1, MN_KVS("votes", 1), 1, &created);
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect(!created);
    cr_expect_eq(mn_qs_count(mn_filter(cs, "votes", 5)), 1, "defaults update the row found");
    /* an empty create_defaults is not "none given" */
    c = mn_qs_update_or_create_defaults(cs, MN_KVS("question", q, "text", "b"), 2,
                                        MN_KVS("votes", 5), 1, MN_KVS("votes", 0), 0, &created);
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(c->votes, 0);
    /* the update writes only the defaults' fields */
    memset(saves, 0, sizeof saves);
    mn_signal_connect(MN_POST_SAVE, &Choice_model, count_saves, NULL);
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    c = mn_qs_update_or_create(cs, MN_KVS("pk", c->id), 1, MN_KVS("votes", 8), 1, &created);
    mn_orm_set_log(t.o, NULL);
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    size_t updates = 0, bad = 0;
    for (size_t i = 0; i < log.count; i++)
        if (strncmp(log.entries[i].sql, "UPDATE", 6) == 0) {
            updates++;
            bad += strstr(log.entries[i].sql, "\"text\"") != NULL;
        }
    cr_expect_eq(updates, 1);
    cr_expect_eq(bad, 0, "text is not written");
    cr_expect_eq(saves[MN_POST_SAVE * 2], 1);
    c = mn_qs_update_or_create(cs, MN_KVS("pk", c->id), 1, NULL, 0, &created);
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect(!created);
    cr_expect_eq(saves[MN_POST_SAVE * 2], 1, "no defaults: nothing saved, no signal");
    mn_signal_disconnect(MN_POST_SAVE, &Choice_model, count_saves, NULL);
}

/* c.question_id = other.id after c.question was loaded: Django drops the cached question, so
 * the new key is what is saved and what c.question gives. */
Test(orm_audit_writes, a_key_assigned_after_the_relation_was_loaded_wins)
{
    Question *q1 = question("q1"), *q2 = question("q2");
    choice(q1, "a", 0);
    Choice *c = mn_qs_first(mn_qs_select_related(mn_all(t.o, Choice), "question"));
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_assert_not_null(c->question.obj);
    c->question.id = q2->id;
    Question *got = mn_fk_get(t.o, c, "question");
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_eq(got->id, q2->id, "the relation follows the new key");
    c = mn_qs_first(mn_qs_select_related(mn_all(t.o, Choice), "question"));
    c->question.id = q2->id;
    cr_assert_eq(mn_save(t.o, c), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, q2, "choices")), 1, "the new key is saved");
    cr_expect_eq(mn_qs_count(mn_related(t.o, q1, "choices")), 0);
    /* in bulk_update too */
    c = mn_qs_first(mn_qs_select_related(mn_all(t.o, Choice), "question"));
    c->question.id = q1->id;
    cr_expect_eq(mn_bulk_update(t.o, &Choice_model, (void **)&c, 1, "question", 0), 1, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, q1, "choices")), 1);
    /* an instance assigned before it was saved still gives its key once saved */
    Question *q3 = mn_new(t.o, Question);
    q3->text = "q3";
    q3->pub_date = q1->pub_date;
    Choice *n = mn_new(t.o, Choice);
    n->text = "n";
    cr_assert_eq(mn_obj_set(t.o, n, "question", mn_arg_obj(q3)), 0);
    cr_assert_eq(mn_save(t.o, q3), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_save(t.o, n), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, q3, "choices")), 1);
}

/* A prefetched relation answers all() from its cache, but a filter or an ordering on it is a
 * new query, as Django's related manager. A forward FK can be prefetched too. */
Test(orm_audit_writes, a_filter_on_a_prefetched_relation_queries_again)
{
    Question *q = question("q");
    choice(q, "a", 3);
    choice(q, "b", 0);
    choice(q, "c", 5);
    Question *p = mn_qs_first(mn_qs_prefetch_related(mn_all(t.o, Question), "choices"));
    cr_assert_not_null(p, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, p, "choices"))->len, 3);
    cr_expect_eq(mn_qs_count(mn_related(t.o, p, "choices")), 3);
    mn_rows *r = mn_qs_fetch(mn_filter(mn_related(t.o, p, "choices"), "votes__gt", 0));
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_expect_eq(r->len, 2, "the filter applies");
    cr_expect_eq(mn_qs_count(mn_filter(mn_related(t.o, p, "choices"), "votes__gt", 0)), 2);
    cr_expect_eq(mn_qs_count(mn_exclude(mn_related(t.o, p, "choices"), "votes", 0)), 2);
    r = mn_qs_fetch(mn_qs_order_by(mn_related(t.o, p, "choices"), "-votes"));
    cr_assert_not_null(r);
    cr_assert_eq(r->len, 3);
    cr_expect_str_eq(((Choice *)r->items[0])->text, "c", "the ordering applies");
    r = mn_qs_fetch(mn_qs_slice(mn_qs_order_by(mn_related(t.o, p, "choices"), "votes"), 0, 1));
    cr_assert_not_null(r);
    cr_assert_eq(r->len, 1);
    cr_expect_str_eq(((Choice *)r->items[0])->text, "b");
    cr_expect_eq(mn_qs_exists(mn_filter(mn_related(t.o, p, "choices"), "votes", 42)), 0);

    /* prefetch_related("question") on the forward side: one query for every question */
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *cs = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Choice), "question"));
    cr_assert_not_null(cs, "%s", mn_orm_error(t.o));
    size_t bad = 0;
    for (size_t i = 0; i < cs->len; i++) {
        Question *got = mn_fk_get(t.o, cs->items[i], "question");
        bad += !got || got->id != q->id;
    }
    mn_orm_set_log(t.o, NULL);
    cr_expect_eq(bad, 0);
    cr_expect_eq(log.count, 2, "choices, then their questions");
}

/* m2m_changed as Django's related manager sends it: add() of what is linked already still
 * sends pre_add/post_add (with an empty pk_set), remove() reports every key it was given,
 * clear() of nothing still sends its actions, and an empty add() or remove() sends nothing. */
static char m2m_events[256];
static int on_m2m(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                  void *user)
{
    (void)sig, (void)sender, (void)obj, (void)created, (void)user;
    const mn_m2m_change *ch = mn_m2m_changed_info(o);
    size_t len = strlen(m2m_events);
    snprintf(m2m_events + len, sizeof m2m_events - len, "%s%s:%zu", len ? " " : "",
             ch ? ch->action_name : "?", ch ? ch->npk : 0);
    return 0;
}

Test(orm_audit_writes, m2m_changed_for_writes_that_change_nothing)
{
    Book *b = mn_new(t.o, Book);
    Author *a = mn_create(t.o, Author, "name", "Ann");
    Tag *x = mn_create(t.o, Tag, "name", "x"), *y = mn_create(t.o, Tag, "name", "y");
    cr_assert(a && x && y);
    b->title = "b";
    b->author.id = a->id;
    cr_assert_eq(mn_save(t.o, b), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, b, "tags", (const void *[]){x}, 1), 0);
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    m2m_events[0] = '\0';
    mn_signal_connect(MN_M2M_CHANGED, through, on_m2m, NULL);
    cr_expect_eq(mn_m2m_add(t.o, b, "tags", (const void *[]){x}, 1), 0);
    cr_expect_eq(mn_m2m_remove(t.o, b, "tags", (const void *[]){x, y}, 2), 0);
    cr_expect_eq(mn_m2m_clear(t.o, b, "tags"), 0);
    cr_expect_eq(mn_m2m_add(t.o, b, "tags", NULL, 0), 0);
    cr_expect_eq(mn_m2m_remove(t.o, b, "tags", NULL, 0), 0);
    mn_signal_disconnect(MN_M2M_CHANGED, through, on_m2m, NULL);
    cr_expect_str_eq(m2m_events,
                     "pre_add:0 post_add:0 pre_remove:2 post_remove:2 pre_clear:0 post_clear:0");
}

/* A callback registered in a savepoint that was released belongs to the enclosing block
 * from then on: rolling that block back drops it (Django's savepoint ids). */
Test(orm_audit_writes, on_commit_of_a_released_savepoint_follows_its_parent)
{
    memset(ran, 0, sizeof ran);
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    mn_on_commit(t.o, mark, (void *)1);
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    mn_on_commit(t.o, mark, (void *)2);
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    mn_on_commit(t.o, mark, (void *)3);
    cr_assert_not_null(mn_create(t.o, Tag, "name", "deep"));
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "released into the middle block");
    cr_assert_eq(mn_atomic_end(t.o, false), 0, "the middle block rolled back");
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    mn_on_commit(t.o, mark, (void *)4);
    cr_assert_eq(mn_atomic_end(t.o, true), 0);
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(ran[1], 1);
    cr_expect_eq(ran[2], 0);
    cr_expect_eq(ran[3], 0, "dropped with the middle block");
    cr_expect_eq(ran[4], 1);
    cr_expect_eq(count(&Tag_model), 0);
}

/* update() and delete() ignore what only shapes a SELECT (ordering, select_related,
 * distinct, only), and do nothing on none(). */
Test(orm_audit_writes, update_and_delete_of_shaped_querysets)
{
    library lib;
    library_fill(t.o, &lib);
    mn_qs *shaped = mn_qs_only(
        mn_qs_distinct(mn_qs_order_by(mn_qs_select_related(mn_all(t.o, Book), "author"), "-title")),
        "title");
    int64_t n = mn_update(shaped, "rating", 2.0);
    cr_expect_eq(n, 4, "%lld: %s", (long long)n, mn_orm_error(t.o));
    n = mn_update(
        mn_filter(mn_qs_order_by(mn_all(t.o, Book), "author__name"), "author__name", "Bob"),
        "rating", 3.0);
    cr_expect_eq(n, 2, "%lld: %s", (long long)n, mn_orm_error(t.o));
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    cr_expect_eq(mn_update(mn_qs_none(t.o, &Book_model), "rating", 9.0), 0);
    cr_expect_eq(mn_qs_delete(mn_qs_none(t.o, &Review_model), NULL), 0);
    mn_orm_set_log(t.o, NULL);
    cr_expect_eq(log.count, 0, "none() runs no query");
    mn_delete_report rep;
    n = mn_qs_delete(
        mn_qs_order_by(mn_qs_select_related(mn_all(t.o, Review), "book__author"), "-stars"), &rep);
    cr_expect_eq(n, 3, "%lld: %s", (long long)n, mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "rating", 9.0)), 0);
}

/* Prefetch("choices__votes", queryset=...) customises the last level; an explicit through
 * model's relation prefetches from both sides; attnames work in create and get_or_create. */
Test(orm_audit_writes, nested_custom_prefetch_through_models_and_attnames)
{
    Question *q = question("q");
    Choice *a = mn_create(t.o, Choice, "question_id", q->id, "text", "a");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_expect_eq(a->question.id, q->id);
    bool created = false;
    Choice *b = mn_qs_get_or_create(mn_all(t.o, Choice), MN_KVS("question_id", q->id, "text", "b"),
                                    2, NULL, 0, &created);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(b->question.id, q->id);
    vote(a, "x");
    vote(a, "y");
    vote(b, "x");
    mn_qs *xs = mn_filter(mn_all(t.o, Vote), "voter", "x");
    mn_rows *qs = mn_qs_fetch(mn_qs_prefetch(mn_all(t.o, Question), "choices__votes", xs));
    cr_assert_not_null(qs, "%s", mn_orm_error(t.o));
    cr_assert_eq(qs->len, 1);
    mn_rows *cs = mn_qs_fetch(mn_related(t.o, qs->items[0], "choices"));
    cr_assert_not_null(cs);
    cr_expect_eq(cs->len, 2, "the choices level is not filtered");
    size_t votes = 0;
    for (size_t i = 0; i < cs->len; i++)
        votes += mn_qs_fetch(mn_related(t.o, cs->items[i], "votes"))->len;
    cr_expect_eq(votes, 2, "only x's votes");

    Author *ann = mn_create(t.o, Author, "name", "Ann");
    Author *bob = mn_create(t.o, Author, "name", "Bob");
    Club *c1 = mn_create(t.o, Club, "name", "c1");
    Club *c2 = mn_create(t.o, Club, "name", "c2");
    cr_assert(ann && bob && c1 && c2);
    cr_assert_eq(mn_m2m_add(t.o, c1, "members", (const void *[]){ann, bob}, 2), 0);
    cr_assert_eq(mn_m2m_add(t.o, c2, "members", (const void *[]){ann}, 1), 0);
    mn_rows *clubs =
        mn_qs_fetch(mn_qs_prefetch_related(mn_qs_order_by(mn_all(t.o, Club), "name"), "members"));
    cr_assert_not_null(clubs, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, clubs->items[0], "members"))->len, 2);
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, clubs->items[1], "members"))->len, 1);
    mn_rows *authors =
        mn_qs_fetch(mn_qs_prefetch_related(mn_qs_order_by(mn_all(t.o, Author), "name"), "clubs"));
    cr_assert_not_null(authors, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, authors->items[0], "clubs"))->len, 2);
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, authors->items[1], "clubs"))->len, 1);
}

/* The same object twice in add() or set() is linked once, as Django's set of keys; a key
 * given instead of an instance works too (Django's add(*pks)). */
Test(orm_audit_writes, m2m_add_and_set_link_a_repeated_object_once)
{
    Author *a = mn_create(t.o, Author, "name", "Ann");
    Book *b = mn_create(t.o, Book, "title", "b", "author", a);
    Tag *x = mn_create(t.o, Tag, "name", "x"), *y = mn_create(t.o, Tag, "name", "y");
    cr_assert(a && b && x && y, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_m2m_add(t.o, b, "tags", (const void *[]){x, x}, 2), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, b, "tags")), 1);
    cr_expect_eq(mn_m2m_set(t.o, b, "tags", (const void *[]){y, y, x}, 3), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, b, "tags")), 2);
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    cr_expect_eq(mn_qs_count(mn_qs_all(t.o, through)), 2);
    Club *c = mn_create(t.o, Club, "name", "c");
    cr_assert_not_null(c);
    cr_expect_eq(mn_m2m_add(t.o, c, "members", (const void *[]){a, a}, 2), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(count(&Membership_model), 1);
}

/* Inside an atomic block, a refused delete and a get_or_create whose insert fails leave the
 * block usable: the delete refuses before writing, get_or_create inserts in a savepoint. */
Test(orm_audit_writes, refused_writes_leave_the_enclosing_block_usable)
{
    Author *ann = mn_create(t.o, Author, "name", "Ann", "email", "ann@x.org");
    cr_assert_not_null(ann);
    cr_assert_not_null(mn_create(t.o, Book, "title", "b", "author", ann));
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    cr_expect_eq(mn_delete(t.o, ann, NULL), MN_EPROTECTED);
    bool created = true;
    cr_expect_null(mn_qs_get_or_create(
        mn_all(t.o, Author), MN_KVS("name", "Ann", "email", "other@x.org"), 2, NULL, 0, &created));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    cr_expect(!created);
    cr_expect_not_null(mn_create(t.o, Tag, "name", "still usable"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(&Tag_model), 1);
    cr_expect_eq(count(&Author_model), 1);
}

/* A new instance whose explicit primary key is taken fails full_clean (Django checks the
 * primary key's uniqueness while adding); the saved instance does not collide with itself. */
Test(orm_audit_writes, full_clean_checks_a_taken_explicit_primary_key)
{
    Section *s = mn_create(t.o, Section, "id", 1, "name", "misc");
    cr_assert_not_null(s, "%s", mn_orm_error(t.o));
    Section *dup = mn_new(t.o, Section);
    dup->id = 1;
    dup->name = "again";
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, dup, &v), MN_EVALIDATION);
    cr_expect_str_eq(error_for(&v, "id"), "Section with this Id already exists.");
    cr_expect_eq(mn_full_clean(t.o, s, &v), 0, "%s", v.n ? v.errors[0].message : "");
}

/* select_related("book__author") keeps a review without a book (LEFT JOIN all the way) and
 * gives None for it; the others come with their book and author, in one query. */
Test(orm_audit_writes, select_related_through_a_null_foreign_key)
{
    library lib;
    library_fill(t.o, &lib);
    cr_assert_not_null(mn_create(t.o, Review, "stars", 1, "body", "orphan"));
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *rs = mn_qs_fetch(
        mn_qs_select_related(mn_qs_order_by(mn_all(t.o, Review), "id"), "book__author"));
    cr_assert_not_null(rs, "%s", mn_orm_error(t.o));
    cr_assert_eq(rs->len, 4);
    size_t bad = 0;
    for (size_t i = 0; i < 3; i++) {
        Book *b = ((Review *)rs->items[i])->book.obj;
        bad += !b || !b->author.obj || !((Author *)b->author.obj)->name;
    }
    Review *orphan = rs->items[3];
    mn_orm_set_log(t.o, NULL);
    cr_expect_eq(bad, 0);
    cr_expect_null(orphan->book.obj);
    cr_expect(mn_obj_is_null(orphan, "book"));
    cr_expect_null(mn_fk_get(t.o, orphan, "book"));
    cr_expect_eq(log.count, 1);
}

/* update() sets a foreign key from an instance, its attname or NULL, as Django's. */
Test(orm_audit_writes, update_sets_foreign_keys_by_instance_attname_or_null)
{
    library lib;
    library_fill(t.o, &lib);
    Question *q1 = question("q1"), *q2 = question("q2");
    choice(q1, "a", 0);
    choice(q1, "b", 0);
    mn_qs *cs = mn_all(t.o, Choice);
    cr_expect_eq(mn_update(cs, "question", q2), 2, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, q2, "choices")), 2);
    cr_expect_eq(mn_update(cs, "question_id", q1->id), 2, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, q1, "choices")), 2);
    cr_expect_eq(mn_update(mn_all(t.o, Review), "book", mn_arg_null()), 3, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Review), "book__isnull", true)), 3);
    cr_expect_lt(mn_update(mn_all(t.o, Review), "book", q1), 0, "a Question is not a Book");
}

/* save(update_fields=[...]) runs pre_save (auto_now) for the fields named only: a timestamp
 * not named is neither written nor changed on the instance. */
Test(orm_audit_writes, update_fields_touches_auto_now_only_when_named)
{
    Everything *e = mn_new(t.o, Everything);
    cr_assert_eq(mn_save(t.o, e), 0, "%s", mn_orm_error(t.o));
    mn_datetime before = e->updated;
    before.microsecond = (before.microsecond + 1) % 1000000; /* tell a touch from no change */
    e->updated = before;
    e->small = 4;
    cr_assert_eq(mn_save_fields(t.o, e, "small"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(e->updated.microsecond, before.microsecond, "not touched");
    cr_expect_eq(e->updated.second, before.second);
    cr_assert_eq(mn_save_fields(t.o, e, "small,updated"), 0, "%s", mn_orm_error(t.o));
    Everything *back = mn_get(mn_all(t.o, Everything), "pk", e->id);
    cr_assert_not_null(back);
    cr_expect_eq(back->updated.microsecond, e->updated.microsecond, "touched and written");
    cr_expect_eq(back->small, 4);
}

/* Prefetch("choices", queryset=Choice.objects.order_by("-votes")[:2]): Django 4.2+ slices
 * per instance (two choices for each question), never the whole prefetch. */
Test(orm_audit_writes, a_sliced_prefetch_queryset_slices_per_instance)
{
    Question *q1 = question("q1"), *q2 = question("q2");
    choice(q1, "a", 1);
    choice(q1, "b", 3);
    choice(q1, "c", 2);
    choice(q2, "d", 5);
    choice(q2, "e", 4);
    choice(q2, "f", 6);
    mn_qs *top2 = mn_qs_slice(mn_qs_order_by(mn_all(t.o, Choice), "-votes"), 0, 2);
    mn_rows *qs =
        mn_qs_fetch(mn_qs_prefetch(mn_qs_order_by(mn_all(t.o, Question), "id"), "choices", top2));
    cr_assert_not_null(qs, "%s", mn_orm_error(t.o));
    cr_assert_eq(qs->len, 2);
    mn_rows *c1 = mn_qs_fetch(mn_related(t.o, qs->items[0], "choices"));
    mn_rows *c2 = mn_qs_fetch(mn_related(t.o, qs->items[1], "choices"));
    cr_assert(c1 && c2);
    cr_assert_eq(c1->len, 2);
    cr_assert_eq(c2->len, 2);
    cr_expect_str_eq(((Choice *)c1->items[0])->text, "b");
    cr_expect_str_eq(((Choice *)c1->items[1])->text, "c");
    cr_expect_str_eq(((Choice *)c2->items[0])->text, "f");
    cr_expect_str_eq(((Choice *)c2->items[1])->text, "d");
    /* an offset without a stop, on a many-to-many */
    Author *ann = mn_create(t.o, Author, "name", "Ann");
    Author *bob = mn_create(t.o, Author, "name", "Bob");
    Author *cy = mn_create(t.o, Author, "name", "Cy");
    Club *k1 = mn_create(t.o, Club, "name", "k1"), *k2 = mn_create(t.o, Club, "name", "k2");
    cr_assert(ann && bob && cy && k1 && k2, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, k1, "members", (const void *[]){ann, bob, cy}, 3), 0);
    cr_assert_eq(mn_m2m_add(t.o, k2, "members", (const void *[]){cy, bob}, 2), 0);
    mn_qs *rest = mn_qs_slice(mn_qs_order_by(mn_all(t.o, Author), "name"), 1, -1);
    mn_rows *clubs =
        mn_qs_fetch(mn_qs_prefetch(mn_qs_order_by(mn_all(t.o, Club), "name"), "members", rest));
    cr_assert_not_null(clubs, "%s", mn_orm_error(t.o));
    mn_rows *m1 = mn_qs_fetch(mn_related(t.o, clubs->items[0], "members"));
    mn_rows *m2 = mn_qs_fetch(mn_related(t.o, clubs->items[1], "members"));
    cr_assert(m1 && m2);
    cr_assert_eq(m1->len, 2, "bob, cy");
    cr_assert_eq(m2->len, 1, "cy");
    cr_expect_str_eq(((Author *)m1->items[0])->name, "Bob");
    cr_expect_str_eq(((Author *)m2->items[0])->name, "Cy");
}

/* The slice of a sliced Prefetch is taken by the database (ROW_NUMBER() OVER (PARTITION BY
 * the key ...)), as Django's: the prefetch reads only the rows it keeps, whatever the window
 * (a stop, an offset, both, past the end, an empty one). */
Test(orm_audit_writes, a_sliced_prefetch_reads_only_the_sliced_rows)
{
    Question *q1 = question("q1"), *q2 = question("q2");
    question("q3"); /* no choices: an empty list */
    for (int i = 0; i < 5; i++) {
        choice(q1, mn_arena_printf(t.arena, "a%d", i), i);
        choice(q2, mn_arena_printf(t.arena, "b%d", i), 10 - i);
    }
    struct {
        int64_t low, high;
        const char *want; /* each question's choices, "|" between questions */
        size_t rows;      /* rows the prefetch reads */
    } cases[] = {
        {0, 2, "a4,a3|b0,b1|", 4}, {1, 3, "a3,a2|b1,b2|", 4}, {3, -1, "a1,a0|b3,b4|", 4},
        {4, 9, "a0|b4|", 2},       {2, 2, "||", 0},
    };
    int bad = 0;
    char why[256] = "";
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        mn_qs *sliced =
            mn_qs_slice(mn_qs_order_by(mn_all(t.o, Choice), "-votes"), cases[k].low, cases[k].high);
        mn_dblog log;
        mn_dblog_init(&log, t.arena);
        mn_orm_set_log(t.o, &log);
        mn_rows *qs = mn_qs_fetch(
            mn_qs_prefetch(mn_qs_order_by(mn_all(t.o, Question), "id"), "choices", sliced));
        mn_orm_set_log(t.o, NULL);
        cr_assert_not_null(qs, "%s", mn_orm_error(t.o));
        mn_buf got;
        mn_buf_init(&got, t.arena);
        for (size_t i = 0; i < qs->len; i++) {
            mn_rows *cs = mn_qs_fetch(mn_related(t.o, qs->items[i], "choices"));
            cr_assert_not_null(cs, "%s", mn_orm_error(t.o));
            for (size_t j = 0; j < cs->len; j++)
                mn_buf_printf(&got, "%s%s", j ? "," : "", ((Choice *)cs->items[j])->text);
            mn_buf_puts(&got, i + 1 < qs->len ? "|" : "");
        }
        /* the second query is the prefetch: the rows it read, counted by running it again */
        const char *sql = log.count == 2 ? log.entries[1].sql : "";
        mn_dbresult res = {0};
        int rc = log.count == 2
                     ? mn_dbconn_exec(mn_orm_conn(t.o, NULL), t.arena, sql, log.entries[1].params,
                                      log.entries[1].nparams, &res)
                     : -1;
        if (rc != 0 || res.nrows != cases[k].rows ||
            strcmp(mn_buf_cstr(&got), cases[k].want) != 0 || !strstr(sql, "ROW_NUMBER() OVER") ||
            strstr(sql, "LIMIT")) {
            bad++;
            snprintf(why, sizeof why, "[%lld:%lld] %s, %zu rows (%s)", (long long)cases[k].low,
                     (long long)cases[k].high, mn_buf_cstr(&got), res.nrows, sql);
        }
    }
    cr_expect_eq(bad, 0, "%s", why);
    /* distinct(): numbered rows would all be distinct, so the rows are read whole and cut */
    mn_qs *sliced =
        mn_qs_slice(mn_qs_distinct(mn_qs_order_by(mn_all(t.o, Choice), "-votes")), 0, 2);
    mn_rows *qs =
        mn_qs_fetch(mn_qs_prefetch(mn_qs_order_by(mn_all(t.o, Question), "id"), "choices", sliced));
    cr_assert_not_null(qs, "%s", mn_orm_error(t.o));
    mn_rows *c1 = mn_qs_fetch(mn_related(t.o, qs->items[1], "choices"));
    cr_assert(c1 && c1->len == 2, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(((Choice *)c1->items[0])->text, "b0");
    cr_expect_str_eq(((Choice *)c1->items[1])->text, "b1");
}

/* Prefetch(..., to_attr=...): the rows go to a list attribute, the relation stays unloaded;
 * forward, reverse, many-to-many and nested; a name taken by a field is refused. */
Test(orm_audit_writes, prefetch_to_attr)
{
    Question *q = question("q");
    Choice *a = choice(q, "a", 3);
    choice(q, "b", 0);
    vote(a, "x");
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_qs *popular = mn_filter(mn_all(t.o, Choice), "votes__gt", 0);
    Question *p = mn_qs_first(
        mn_qs_prefetch_to_attr(mn_all(t.o, Question), "choices", popular, "popular_choices"));
    cr_assert_not_null(p, "%s", mn_orm_error(t.o));
    cr_expect_eq(log.count, 2);
    mn_rows *pc = mn_obj_prefetched(p, "popular_choices");
    cr_assert_not_null(pc);
    cr_assert_eq(pc->len, 1);
    cr_expect_str_eq(((Choice *)pc->items[0])->text, "a");
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, p, "choices"))->len, 2, "the relation is whole");
    cr_expect_eq(log.count, 3, "and queried: to_attr did not fill it");
    mn_orm_set_log(t.o, NULL);

    mn_template_engine *engine = mn_template_engine_new();
    cr_expect_str_eq(render_var(engine, &t,
                                "{% for c in q.popular_choices %}{{ c.text }}{% endfor %}"
                                "|{{ q.popular_choices|length }}",
                                "q", mn_obj_value(t.o, p)),
                     "a|1");
    mn_template_engine_free(engine);

    /* nested: the last level goes to to_attr on each choice */
    mn_rows *qs = mn_qs_fetch(
        mn_qs_prefetch_to_attr(mn_all(t.o, Question), "choices__votes", NULL, "all_votes"));
    cr_assert_not_null(qs, "%s", mn_orm_error(t.o));
    mn_rows *cs = mn_qs_fetch(mn_related(t.o, qs->items[0], "choices"));
    cr_assert_not_null(cs);
    size_t votes = 0, missing = 0;
    for (size_t i = 0; i < cs->len; i++) {
        mn_rows *v = mn_obj_prefetched(cs->items[i], "all_votes");
        missing += v == NULL;
        votes += v ? v->len : 0;
    }
    cr_expect_eq(missing, 0);
    cr_expect_eq(votes, 1);

    /* forward: the instance (or none) */
    mn_rows *vs = mn_qs_fetch(mn_qs_prefetch_to_attr(mn_all(t.o, Vote), "choice", NULL, "ch"));
    cr_assert_not_null(vs, "%s", mn_orm_error(t.o));
    mn_rows *ch = mn_obj_prefetched(vs->items[0], "ch");
    cr_assert(ch && ch->len == 1);
    cr_expect_eq(((Choice *)ch->items[0])->id, a->id);
    cr_expect_null(((Vote *)vs->items[0])->choice.obj, "the relation itself is not loaded");

    /* many-to-many */
    Author *ann = mn_create(t.o, Author, "name", "Ann");
    Club *c = mn_create(t.o, Club, "name", "c");
    cr_assert(ann && c);
    cr_assert_eq(mn_m2m_add(t.o, c, "members", (const void *[]){ann}, 1), 0);
    Club *got = mn_qs_first(mn_qs_prefetch_to_attr(mn_all(t.o, Club), "members", NULL, "people"));
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_obj_prefetched(got, "people")->len, 1);

    cr_expect_null(mn_qs_prefetch_to_attr(mn_all(t.o, Question), "choices", NULL, "text"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "to_attr=text conflicts with a field on the Question model.");
    cr_expect_null(mn_qs_prefetch_to_attr(mn_all(t.o, Question), "choices__votes", NULL, "votes"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "to_attr=votes conflicts with a field on the Choice model.");
}

/* pre_save/post_save receivers see update_fields (Django's update_fields argument). */
static char seen_fields[4][64];
static int record_fields(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                         void *user)
{
    (void)sender, (void)obj, (void)created, (void)user;
    const char *f = mn_save_update_fields(o);
    snprintf(seen_fields[sig == MN_PRE_SAVE ? 0 : 1], sizeof seen_fields[0], "%s", f ? f : "None");
    return 0;
}

Test(orm_audit_writes, save_receivers_see_update_fields)
{
    mn_signal_connect(MN_PRE_SAVE, &Choice_model, record_fields, NULL);
    mn_signal_connect(MN_POST_SAVE, &Choice_model, record_fields, NULL);
    Question *q = question("q");
    Choice *c = choice(q, "a", 0);
    cr_expect_str_eq(seen_fields[0], "None");
    cr_expect_str_eq(seen_fields[1], "None");
    c->votes = 2;
    cr_assert_eq(mn_save_fields(t.o, c, "votes, question_id"), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(seen_fields[0], "votes,question");
    cr_expect_str_eq(seen_fields[1], "votes,question");
    bool created;
    cr_assert_not_null(mn_qs_update_or_create(mn_all(t.o, Choice), MN_KVS("pk", c->id), 1,
                                              MN_KVS("text", "b"), 1, &created));
    cr_expect_str_eq(seen_fields[1], "text");
    mn_signal_disconnect(MN_PRE_SAVE, &Choice_model, record_fields, NULL);
    mn_signal_disconnect(MN_POST_SAVE, &Choice_model, record_fields, NULL);
    cr_expect_null(mn_save_update_fields(t.o), "nothing outside a receiver");
}

/* save(update_fields=[...]) naming a field left out by only(): Django reads it (a deferred
 * attribute loads on access) and writes back what is stored, never a blank. */
Test(orm_audit_writes, update_fields_naming_a_deferred_field_keeps_its_value)
{
    library lib;
    library_fill(t.o, &lib);
    Book *b = mn_get(mn_qs_only(mn_all(t.o, Book), "title"), "pk", lib.dune->id);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    b->title = "Dune II";
    cr_assert_eq(mn_save_fields(t.o, b, "title,pages,price,published"), 0, "%s", mn_orm_error(t.o));
    Book *back = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_assert_not_null(back);
    cr_expect_str_eq(back->title, "Dune II");
    cr_expect_eq(back->pages, 412);
    cr_expect_str_eq(back->price, "19.99");
    cr_expect_eq(back->published.year, 2021);
    /* and a plain save() leaves deferred fields alone */
    b = mn_get(mn_qs_defer(mn_all(t.o, Book), "pages"), "pk", lib.dune->id);
    b->title = "Dune III";
    cr_assert_eq(mn_save(t.o, b), 0, "%s", mn_orm_error(t.o));
    back = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_expect_eq(back->pages, 412);
    cr_expect_str_eq(back->title, "Dune III");
}

/* A field left out by only() and then assigned directly is written by save(), with or
 * without update_fields, and by bulk_update (Django: assigning the attribute loads it). */
Test(orm_audit_writes, a_deferred_field_assigned_directly_is_saved)
{
    library lib;
    library_fill(t.o, &lib);
    Book *b = mn_get(mn_qs_only(mn_all(t.o, Book), "title"), "pk", lib.dune->id);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    b->pages = 500;
    cr_assert_eq(mn_save(t.o, b), 0, "%s", mn_orm_error(t.o));
    Book *back = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_expect_eq(back->pages, 500);
    cr_expect_str_eq(back->price, "19.99", "an untouched deferred field keeps its value");
    b = mn_get(mn_qs_only(mn_all(t.o, Book), "title"), "pk", lib.dune->id);
    b->pages = 600;
    cr_assert_eq(mn_save_fields(t.o, b, "pages"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(((Book *)mn_get(mn_all(t.o, Book), "pk", lib.dune->id))->pages, 600);
    b = mn_get(mn_qs_only(mn_all(t.o, Book), "title"), "pk", lib.dune->id);
    b->pages = 700;
    cr_expect_eq(mn_bulk_update(t.o, &Book_model, (void **)&b, 1, "pages", 0), 1, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(((Book *)mn_get(mn_all(t.o, Book), "pk", lib.dune->id))->pages, 700);
}

/* full_clean() of an instance loaded with only(): Django's clean_fields reads every field,
 * loading the deferred ones, so a valid row stays valid. */
Test(orm_audit_writes, full_clean_of_a_deferred_instance)
{
    library lib;
    library_fill(t.o, &lib);
    Book *b = mn_get(mn_qs_only(mn_all(t.o, Book), "title"), "pk", lib.dune->id);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    mn_validation v;
    cr_expect_eq(mn_full_clean(t.o, b, &v), 0, "%s: %s", v.n ? v.errors[0].field : "",
                 v.n ? v.errors[0].message : "");
}

/* The reverse manager's create(), get_or_create() and update_or_create() set the foreign key
 * to the instance (Django's RelatedManager: q.choices.create(text=...)). */
Test(orm_audit_writes, related_manager_create_sets_the_foreign_key)
{
    Question *q = question("q");
    Choice *c = mn_qs_create(mn_related(t.o, q, "choices"), "text", "a");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect_eq(c->question.id, q->id);
    bool created = false;
    Choice *g = mn_qs_get_or_create(mn_related(t.o, q, "choices"), MN_KVS("text", "b"), 1, NULL, 0,
                                    &created);
    cr_assert_not_null(g, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(g->question.id, q->id);
    Choice *u = mn_qs_update_or_create(mn_related(t.o, q, "choices"), MN_KVS("text", "c"), 1,
                                       MN_KVS("votes", 4), 1, &created);
    cr_assert_not_null(u, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(u->question.id, q->id);
    cr_expect_eq(mn_qs_count(mn_related(t.o, q, "choices")), 3);
}

/* A many-to-many manager's create() and get_or_create() link what they create, from both
 * sides (Django's book.tags.create(name=...)). */
Test(orm_audit_writes, m2m_manager_create_links_the_new_row)
{
    Author *a = mn_create(t.o, Author, "name", "Ann");
    Book *b = mn_create(t.o, Book, "title", "b", "author", a);
    cr_assert(a && b, "%s", mn_orm_error(t.o));
    Tag *x = mn_qs_create(mn_related(t.o, b, "tags"), "name", "x");
    cr_assert_not_null(x, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, b, "tags")), 1);
    bool created = false;
    Tag *y =
        mn_qs_get_or_create(mn_related(t.o, b, "tags"), MN_KVS("name", "y"), 1, NULL, 0, &created);
    cr_assert_not_null(y, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(mn_qs_count(mn_related(t.o, b, "tags")), 2);
    Tag *again =
        mn_qs_get_or_create(mn_related(t.o, b, "tags"), MN_KVS("name", "y"), 1, NULL, 0, &created);
    cr_assert_not_null(again, "%s", mn_orm_error(t.o));
    cr_expect(!created);
    cr_expect_eq(again->id, y->id);
    Book *c = mn_qs_create(mn_related(t.o, x, "books"), "title", "c", "author", a);
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, x, "books")), 2, "the reverse side links too");
    /* explicit through: the through row takes its defaults */
    Club *club = mn_create(t.o, Club, "name", "c");
    cr_assert_not_null(club);
    Author *m = mn_qs_create(mn_related(t.o, club, "members"), "name", "Member");
    cr_assert_not_null(m, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Membership), "role", "member")), 1);
}

/* A reverse foreign key's manager: add() points rows at the instance, remove() and clear()
 * set a nullable key to NULL (Django's RelatedManager, bulk=True), set() does both. */
Test(orm_audit_writes, reverse_fk_manager_add_remove_clear_set)
{
    library lib;
    library_fill(t.o, &lib);
    /* reviews: dune has two, sql one */
    Review *free = mn_create(t.o, Review, "stars", 1, "body", "loose");
    cr_assert_not_null(free);
    cr_expect_eq(mn_m2m_add(t.o, lib.emma, "reviews", (const void *[]){free}, 1), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(free->book.id, lib.emma->id, "the instance given follows");
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.emma, "reviews")), 1);
    Review *dune1 = mn_qs_first(mn_qs_order_by(mn_related(t.o, lib.dune, "reviews"), "id"));
    cr_assert_not_null(dune1);
    cr_expect_eq(mn_m2m_remove(t.o, lib.emma, "reviews", (const void *[]){dune1}, 1),
                 MN_EDOES_NOT_EXIST);
    cr_expect(strstr(mn_orm_error(t.o), "is not related to"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_m2m_remove(t.o, lib.dune, "reviews", (const void *[]){dune1}, 1), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.dune, "reviews")), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Review), "book__isnull", true)), 1);
    cr_expect_eq(mn_m2m_set(t.o, lib.sql, "reviews", (const void *[]){dune1, free}, 2), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.sql, "reviews")), 2, "the old one left");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Review), "book__isnull", true)), 1);
    cr_expect_eq(mn_m2m_clear(t.o, lib.sql, "reviews"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Review), "book__isnull", true)), 3);
    cr_expect_eq(count(&Review_model), 4, "no row deleted");
    /* a key that cannot be NULL: add() and set() only */
    Question *q1 = question("q1"), *q2 = question("q2");
    Choice *c = choice(q1, "a", 0);
    cr_expect_eq(mn_m2m_clear(t.o, q1, "choices"), MN_EINVAL);
    cr_expect_eq(mn_m2m_remove(t.o, q1, "choices", (const void *[]){c}, 1), MN_EINVAL);
    cr_expect_eq(mn_m2m_set(t.o, q2, "choices", (const void *[]){c}, 1), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_related(t.o, q2, "choices")), 1);
    cr_expect_eq(mn_m2m_add(t.o, q1, "choices", (const void *[]){lib.dune}, 1), MN_EINVAL,
                 "a Book is not a Choice");
    Choice *unsaved = mn_new(t.o, Choice);
    cr_expect_eq(mn_m2m_add(t.o, q1, "choices", (const void *[]){unsaved}, 1), MN_EINVAL);
}

/* save(force_insert=True) / save(force_update=True), with Django's refusals. */
Test(orm_audit_writes, save_force_insert_and_force_update)
{
    Section *s = mn_new(t.o, Section);
    s->id = 3;
    s->name = "three";
    cr_expect_eq(mn_save_ex(t.o, s, &(mn_save_opts){.force_update = true}), MN_EDOES_NOT_EXIST);
    cr_expect_str_eq(mn_orm_error(t.o), "Forced update did not affect any rows.");
    cr_expect_eq(count(&Section_model), 0, "nothing inserted");
    cr_assert_eq(mn_save_ex(t.o, s, &(mn_save_opts){.force_insert = true}), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(count(&Section_model), 1);
    s->name = "THREE";
    cr_expect_eq(mn_save_ex(t.o, s, &(mn_save_opts){.force_update = true}), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Section), "name", "THREE")), 1);
    /* a saved instance forced to insert again: the key is taken */
    cr_expect_eq(mn_save_ex(t.o, s, &(mn_save_opts){.force_insert = true}), MN_EDB_INTEGRITY);
    cr_expect_eq(mn_save_ex(t.o, s, &(mn_save_opts){.force_insert = true, .force_update = true}),
                 MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "Cannot force both insert and updating in model saving.");
    cr_expect_eq(mn_save_ex(t.o, s, &(mn_save_opts){.force_insert = true, .update_fields = "name"}),
                 MN_EINVAL);
    Question *q = mn_new(t.o, Question);
    q->text = "q";
    cr_expect_eq(mn_save_ex(t.o, q, &(mn_save_opts){.force_update = true}), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "Cannot force an update in save() with no primary key.");
    cr_expect_eq(mn_save_ex(t.o, s, NULL), 0, "%s", mn_orm_error(t.o));
}

/* The Paginator over none() and over values() rows, with Django's 23/10/3 orphans example. */
Test(orm_audit_writes, paginator_over_none_values_and_djangos_orphans_example)
{
    mn_page p;
    cr_assert_eq(mn_paginate(mn_qs_none(t.o, &Tag_model), 10, 0, 1, &p), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect(p.count == 0 && p.num_pages == 1 && p.rows && p.rows->len == 0);
    Tag *tags[23];
    for (int i = 0; i < 23; i++) {
        tags[i] = mn_new(t.o, Tag);
        tags[i]->name = mn_arena_printf(t.arena, "t%02d", i);
    }
    cr_assert_eq(mn_bulk_create(t.o, &Tag_model, (void **)tags, 23, NULL), 0);
    mn_qs *vals = mn_qs_values(mn_qs_order_by(mn_all(t.o, Tag), "name"), "name");
    cr_assert_eq(mn_paginate(vals, 10, 3, 2, &p), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(p.num_pages, 2);
    cr_expect_eq(p.rows->len, 13, "the last page takes the 3 orphans");
    cr_expect_eq(p.start_index, 11);
    cr_expect_eq(p.end_index, 23);
    cr_expect_eq(mn_paginate(vals, 10, 3, 3, &p), MN_EEMPTY_PAGE);
}
