/* test_abstract.c — children of an abstract base (`.base = &Entry_model`) take the Meta
 * options and methods they leave unset from it, as Django's children of an abstract model
 * inherit its Meta and methods: ordering, get_latest_by, indexes and constraints (named per
 * child table, so two children live in one schema), str and absolute_url; a child's own
 * option wins, a base may have a base, and a base that is not abstract is refused when the
 * registry gets ready. Runs on SQLite and PostgreSQL like every ORM test. */
#include "helper_db.h"
#include "helper_render.h"

#include <criterion/criterion.h>
#include <manouche/template.h>
#include <string.h>

static const char *entry_str(const void *obj, mn_arena *arena);
static const char *entry_url(const void *obj, mn_arena *arena);

static const mn_index entry_indexes[] = {{"rank_idx", "rank"}, {NULL, "-slug"}, {0}};
static const mn_constraint entry_constraints[] = {
    {MN_CONSTRAINT_UNIQUE, "slug_uniq", "slug", NULL},
    {MN_CONSTRAINT_CHECK, "rank_gte_0", NULL, "rank__gte=0"},
    {0},
};

/* clang-format off */
#define ENTRY_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                       \
    F(slug, MN_CHAR, .max_length = 40)                                                      \
    F(rank, MN_INT)
MN_MODEL(Entry, abst, ENTRY_FIELDS, .abstract = true, .ordering = "rank,slug",
         .get_latest_by = "rank", .indexes = entry_indexes, .constraints = entry_constraints,
         .str = entry_str, .absolute_url = entry_url);

/* two concrete children: everything from the base */
#define ARTICLE_FIELDS(F)                                                                   \
    ENTRY_FIELDS(F)                                                                         \
    F(body, MN_TEXT, .null = true)
MN_MODEL(Article, abst, ARTICLE_FIELDS, .base = &Entry_model);
MN_MODEL(Page, abst, ENTRY_FIELDS, .base = &Entry_model);

/* a child with its own ordering */
MN_MODEL(Memo, abst, ENTRY_FIELDS, .base = &Entry_model, .ordering = "-rank");

/* a chain: Dated is abstract on Entry, Diary concrete on Dated */
#define DATED_FIELDS(F)                                                                     \
    ENTRY_FIELDS(F)                                                                         \
    F(day, MN_INT)
MN_MODEL(Dated, abst, DATED_FIELDS, .abstract = true, .base = &Entry_model,
         .get_latest_by = "day");
MN_MODEL(Diary, abst, DATED_FIELDS, .base = &Dated_model);
/* clang-format on */

/* The base's struct is the children's first fields: its methods read any child. */
static const char *entry_str(const void *obj, mn_arena *arena)
{
    const Entry *e = obj;
    return mn_arena_printf(arena, "%s #%d", e->slug, (int)e->rank);
}

static const char *entry_url(const void *obj, mn_arena *arena)
{
    const Entry *e = obj;
    return mn_arena_printf(arena, "/e/%s/", e->slug);
}

DB_SUITE(orm_abstract);

static const char *schema_of(const mn_model *m)
{
    mn_buf b;
    mn_buf_init(&b, t.arena);
    mn_dbdialect d = tdb_is_pg(&t) ? MN_DIALECT_POSTGRESQL : MN_DIALECT_SQLITE;
    cr_assert_eq(mn_schema_sql(m, d, t.arena, &b), 0, "%s", m->name);
    return mn_buf_cstr(&b);
}

/* "str, str, ..." of qs's instances, in their order */
static const char *strs(mn_qs *qs)
{
    mn_rows *r = mn_qs_fetch(qs);
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    mn_buf b;
    mn_buf_init(&b, t.arena);
    for (size_t i = 0; i < r->len; i++) {
        if (i)
            mn_buf_puts(&b, ", ");
        mn_buf_puts(&b, mn_obj_str(t.o, r->items[i]));
    }
    return mn_buf_cstr(&b);
}

static bool has(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

Test(orm_abstract, each_child_gets_the_bases_indexes_and_constraints_under_its_own_names)
{
    const char *article = schema_of(&Article_model);
    const char *page = schema_of(&Page_model);
    cr_expect(has(article, "CREATE INDEX \"abst_article_rank_idx\" ON \"abst_article\""), "%s",
              article);
    cr_expect(has(page, "CREATE INDEX \"abst_page_rank_idx\" ON \"abst_page\""), "%s", page);
    cr_expect(has(article, "\"abst_article_slug_uniq\""), "%s", article);
    cr_expect(has(page, "\"abst_page_slug_uniq\""), "%s", page);
    cr_expect(has(article, "\"abst_article_rank_gte_0\""), "%s", article);
    cr_expect(has(page, "\"abst_page_rank_gte_0\""), "%s", page);
    /* the unnamed index gets a generated name from each table */
    cr_expect(has(article, "CREATE INDEX \"abst_article_") && has(article, "_idx\" ON"), "%s",
              article);
    cr_expect(!has(article, "abst_page") && !has(page, "abst_article"));
    /* the base's arrays are left as declared */
    cr_expect_str_eq(entry_indexes[0].name, "rank_idx");
    cr_expect_str_eq(entry_constraints[0].name, "slug_uniq");
    /* not inherited: the table, the names, abstract */
    cr_expect_str_eq(mn_model_table(&Article_model), "abst_article");
    cr_expect_str_eq(mn_model_verbose_name(&Page_model, true, t.arena), "pages");
    cr_expect(!Article_model.abstract);
}

Test(orm_abstract, the_inherited_unique_constraint_holds_in_each_table)
{
    cr_assert_not_null(mn_create(t.o, Article, "slug", "a", "rank", 1), "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Page, "slug", "a", "rank", 1), "%s", mn_orm_error(t.o));
    cr_expect_null(mn_create(t.o, Article, "slug", "a", "rank", 2));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    cr_expect_null(mn_create(t.o, Page, "slug", "a", "rank", 2));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    /* and the CHECK */
    cr_expect_null(mn_create(t.o, Page, "slug", "b", "rank", -1));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_all(t.o, Article)), 1);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Page)), 1);
}

Test(orm_abstract, ordering_str_and_absolute_url_come_from_the_base)
{
    int ranks[] = {3, 1, 2};
    const char *slugs[] = {"c", "a", "b"};
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(mn_create(t.o, Article, "slug", slugs[i], "rank", ranks[i]));
        cr_assert_not_null(mn_create(t.o, Page, "slug", slugs[i], "rank", ranks[i]));
        cr_assert_not_null(mn_create(t.o, Memo, "slug", slugs[i], "rank", ranks[i]));
    }
    cr_expect_str_eq(strs(mn_all(t.o, Article)), "a #1, b #2, c #3");
    cr_expect_str_eq(strs(mn_all(t.o, Page)), "a #1, b #2, c #3");
    /* Memo's own ordering wins; its str is still the base's */
    cr_expect_str_eq(strs(mn_all(t.o, Memo)), "c #3, b #2, a #1");
    cr_expect_str_eq(Memo_model.ordering, "-rank");
    Page *p = mn_qs_latest(mn_all(t.o, Page), NULL);
    cr_assert_not_null(p, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(p->slug, "c");
    mn_template_engine *engine = mn_template_engine_new();
    cr_expect_str_eq(
        render_var(engine, &t, "{{ p }} at {{ p.get_absolute_url }}", "p", mn_obj_value(t.o, p)),
        "c #3 at /e/c/");
    mn_template_engine_free(engine);
}

Test(orm_abstract, a_base_can_have_a_base)
{
    cr_assert_not_null(mn_create(t.o, Diary, "slug", "x", "rank", 2, "day", 1));
    cr_assert_not_null(mn_create(t.o, Diary, "slug", "y", "rank", 1, "day", 5));
    cr_assert_not_null(mn_create(t.o, Diary, "slug", "z", "rank", 3, "day", 2));
    /* ordering and str from Entry, two levels up */
    cr_expect_str_eq(strs(mn_all(t.o, Diary)), "y #1, x #2, z #3");
    /* get_latest_by from Dated, the nearest base that sets it */
    Diary *d = mn_qs_latest(mn_all(t.o, Diary), NULL);
    cr_assert_not_null(d, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(d->slug, "y");
    cr_expect(has(schema_of(&Diary_model), "\"abst_diary_slug_uniq\""));
    cr_expect_null(mn_create(t.o, Diary, "slug", "x", "rank", 9, "day", 9));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    /* the abstract middle is left alone and still can't be queried */
    cr_expect_null(Dated_model.indexes);
    cr_expect_null(mn_qs_all(t.o, &Dated_model));
}

/* Not in the DB suite: the broken model must not reach the other tests' registry (each test
 * runs in its own process). */
Test(orm_abstract_checks, a_base_that_is_not_abstract_is_refused)
{
    static mn_model bad;
    bad = Page_model;
    bad.name = "Bad";
    bad.fields = NULL;
    bad.db_table = "abst_bad";
    bad.base = &Article_model;
    mn_model_register(&bad);
    const char *why = NULL;
    cr_assert_eq(mn_models_ready(&why), MN_EFIELD);
    cr_expect_str_eq(why, "abst.Bad: .base is abst.Article, which is not abstract: a base model "
                          "must set .abstract = true");
    /* one link further down the chain is checked too */
    static mn_model mid, low;
    mid = Dated_model;
    mid.name = "Mid";
    mid.fields = NULL;
    mid.base = &Page_model;
    low = Page_model;
    low.name = "Low";
    low.fields = NULL;
    low.db_table = "abst_low";
    low.base = &mid;
    bad.base = &Entry_model;
    mn_model_register(&low);
    cr_assert_eq(mn_models_ready(&why), MN_EFIELD);
    cr_expect_str_eq(why, "abst.Mid: .base is abst.Page, which is not abstract: a base model "
                          "must set .abstract = true");
}
