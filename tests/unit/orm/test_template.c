/* test_template.c — instances and querysets inside templates: fields, FK traversal,
 * reverse relations ({% for c in question.choices.all %}), get_FOO_display,
 * get_absolute_url, counts, and laziness (no query until the template needs rows). */
#include "helper_data.h"
#include "helper_db.h"
#include "helper_render.h"

#include <criterion/criterion.h>
#include <manouche/template.h>
#include <string.h>

static testdb t;
static mn_template_engine *engine;
static void setup(void)
{
    tdb_open(&t);
    engine = mn_template_engine_new();
}
static void teardown(void)
{
    mn_template_engine_free(engine);
    tdb_close(&t);
}
TestSuite(orm_template, .init = setup, .fini = teardown);

Test(orm_template, fields_relations_and_methods)
{
    mn_datetime dt = {.year = 2025, .month = 5, .day = 17, .hour = 9, .aware = true};
    Question *q = mn_create(t.o, Question, "text", "Best <pet>?", "pub_date", &dt);
    cr_assert_not_null(q);
    cr_assert_not_null(mn_create(t.o, Choice, "question", q, "text", "Cat", "votes", 3));
    cr_assert_not_null(mn_create(t.o, Choice, "question", q, "text", "Dog", "votes", 5));
    mn_value *v = mn_obj_value(t.o, q);
    cr_expect_str_eq(
        render_var(engine, &t,
                   "{{ question.text }}|{{ question.id }}|{{ question.pub_date|date:'Y-m-d' }}",
                   "question", v),
        mn_arena_printf(t.arena, "Best &lt;pet&gt;?|%lld|2025-05-17", (long long)q->id));
    cr_expect_str_eq(render_var(engine, &t,
                                "{% for c in question.choices.all %}{{ c.text }}={{ c.votes }};"
                                "{% endfor %}{{ question.choices.count }}",
                                "question", v),
                     "Cat=3;Dog=5;2");
    cr_expect_str_eq(
        render_var(engine, &t, "{{ question.get_absolute_url }}|{{ question }}", "question", v),
        mn_arena_printf(t.arena, "/polls/%lld/|Best &lt;pet&gt;?", (long long)q->id));
    Choice *c = mn_get(mn_all(t.o, Choice), "text", "Dog");
    cr_expect_str_eq(render_var(engine, &t, "{{ c.question.text|upper }} {{ c.question_id }}", "c",
                                mn_obj_value(t.o, c)),
                     mn_arena_printf(t.arena, "BEST &lt;PET&gt;? %lld", (long long)q->id));
    cr_expect_str_eq(render_var(engine, &t, "[{{ question.nope }}]", "question", v), "[]");
}

Test(orm_template, choices_display_and_lazy_querysets)
{
    library lib;
    library_fill(t.o, &lib);
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_qs *qs = mn_qs_order_by(mn_all(t.o, Book), "title");
    mn_value *v = mn_qs_value(qs);
    cr_expect_eq(log.count, 0, "building the value runs nothing");
    cr_expect_str_eq(render_var(engine, &t,
                                "{% for b in books %}{{ b.get_genre_display }}/{{ b.author.name }}"
                                "{% if not forloop.last %}, {% endif %}{% endfor %}",
                                "books", v),
                     "Fiction/Ann, Fiction/Ann, Poetry/Bob, Non-fiction/Bob");
    cr_expect_str_eq(
        render_var(engine, &t, "{{ books|length }} {% if books %}yes{% endif %}", "books", v),
        "4 yes");
    size_t after = log.count;
    render_var(engine, &t, "{% for b in books %}{% endfor %}", "books", v);
    cr_expect_eq(log.count, after, "the rows are cached after the first run");
    cr_expect_str_eq(render_var(engine, &t, "{% for t in b.tags.all %}{{ t.name }} {% endfor %}",
                                "b", mn_obj_value(t.o, lib.odes)),
                     "classic poetry ");
    cr_expect_str_eq(render_var(engine, &t, "{{ a.books.count }} {{ a.mentees.first.name }}", "a",
                                mn_obj_value(t.o, lib.ann)),
                     "2 Bob");
    mn_orm_set_log(t.o, NULL);
}

/* The SQL of the last logged query. */
static const char *last_sql(const mn_dblog *log)
{
    cr_assert_gt(log->count, 0, "a query ran");
    return log->entries[log->count - 1].sql;
}

/* Book has no __str__: Django's "Book object (pk)", escaped as the template prints it. */
static const char *book_repr(const Book *b)
{
    return mn_arena_printf(t.arena, "&lt;Book: Book object (%lld)&gt;", (long long)b->id);
}

Test(orm_template, sliced_queryset_stays_a_lazy_queryset)
{
    library lib;
    library_fill(t.o, &lib);
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_value *v = mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "title"));
    /* Django: books|slice is books[:2], a QuerySet (LIMIT 2), printed as one */
    cr_expect_str_eq(render_var(engine, &t, "{{ books|slice:\":2\" }}", "books", v),
                     mn_arena_printf(t.arena, "&lt;QuerySet [%s, %s]&gt;", book_repr(lib.dune),
                                     book_repr(lib.emma)));
    cr_expect_eq(log.count, 1, "one query");
    cr_expect(strstr(last_sql(&log), "LIMIT") != NULL, "%s", last_sql(&log));
    cr_expect_str_eq(render_var(engine, &t,
                                "{% for b in books|slice:\"1:3\" %}{{ b.title }};{% endfor %}",
                                "books", v),
                     "Emma;Odes 50% off_sale;");
    cr_expect(strstr(last_sql(&log), "OFFSET") != NULL, "%s", last_sql(&log));
    cr_expect_str_eq(render_var(engine, &t,
                                "{% with s=books|slice:\"2:\" %}{{ s|slice:\":1\" }} "
                                "{{ s|length }} {{ s.0.title }}{% endwith %}",
                                "books", v),
                     mn_arena_printf(t.arena, "&lt;QuerySet [%s]&gt; 2 Odes 50%% off_sale",
                                     book_repr(lib.odes)));
    /* a step gives a list, as Django's list(qs[a:b])[::step] */
    cr_expect_str_eq(
        render_var(engine, &t, "{{ books|slice:\"::2\" }}", "books", v),
        mn_arena_printf(t.arena, "[%s, %s]", book_repr(lib.dune), book_repr(lib.odes)));
    cr_expect_str_eq(render_var(engine, &t, "{{ books|slice:\"1::-1\"|length }}", "books", v), "3");
    /* negative bounds are Django's ValueError, which the slice filter answers with the
     * value itself; nothing has been fetched for the unsliced queryset so far */
    size_t before = log.count;
    cr_expect_str_eq(render_var(engine, &t, "{{ books|slice:\"-1:\"|length }}", "books", v), "4");
    cr_expect_eq(log.count, before + 1, "only the length query");
    mn_orm_set_log(t.o, NULL);
}

Test(orm_template, slice_of_an_evaluated_queryset_is_a_list)
{
    library lib;
    library_fill(t.o, &lib);
    mn_value *v = mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "-title"));
    /* once iterated, Django slices the result cache: a list, negative indices allowed */
    cr_expect_str_eq(render_var(engine, &t,
                                "{% for b in books %}{% endfor %}{{ books|slice:\"-1:\" }}",
                                "books", v),
                     mn_arena_printf(t.arena, "[%s]", book_repr(lib.dune)));
    /* values() querysets slice lazily too */
    mn_value *titles =
        mn_qs_value(mn_qs_values_list(mn_qs_order_by(mn_all(t.o, Book), "title"), "title", true));
    cr_expect_str_eq(render_var(engine, &t, "{{ titles|slice:\"1:2\" }}", "titles", titles),
                     "&lt;QuerySet [&#x27;Emma&#x27;]&gt;");
}
