/* test_rel_templates.c — instances in templates as Django's: a field left out by only() or
 * defer() is loaded when read (one query), a repr names the model (<Book: ...>), a missing
 * reverse one-to-one and a default accessor replaced by related_name render as invalid. */
#include "helper_data.h"
#include "helper_db.h"
#include "helper_render.h"

#include <criterion/criterion.h>
#include <manouche/template.h>
#include <stdio.h>
#include <string.h>

static testdb t;
static library lib;
static mn_template_engine *engine;
static void setup(void)
{
    tdb_open(&t);
    library_fill(t.o, &lib);
    engine = mn_template_engine_new();
}
static void teardown(void)
{
    mn_template_engine_free(engine);
    tdb_close(&t);
}
TestSuite(orm_rel_templates, .init = setup, .fini = teardown);

Test(orm_rel_templates, deferred_field_is_loaded_when_a_template_reads_it)
{
    Book *b = mn_qs_first(mn_qs_order_by(mn_qs_only(mn_all(t.o, Book), "title"), "id"));
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_assert_eq(b->id, lib.dune->id);
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    cr_expect_str_eq(render_var(engine, &t,
                                "{{ b.title }} {{ b.pages }} {{ b.pages }} {{ b.rating }}", "b",
                                mn_obj_value(t.o, b)),
                     "Dune 412 412 4.5");
    cr_expect_eq(log.count, 2, "one query per deferred field, once");
    mn_orm_set_log(t.o, NULL);
    cr_expect_eq(b->pages, 412, "the struct member is filled too");
}

Test(orm_rel_templates, deferred_foreign_key_is_loaded)
{
    Book *b = mn_qs_first(mn_qs_order_by(mn_qs_defer(mn_all(t.o, Book), "author,price"), "id"));
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(render_var(engine, &t, "{{ b.author_id }} {{ b.author.name }} {{ b.price }}",
                                "b", mn_obj_value(t.o, b)),
                     mn_arena_printf(t.arena, "%lld Ann 19.99", (long long)lib.ann->id));
}

Test(orm_rel_templates, refresh_fields_reloads_only_the_named_fields)
{
    Book *b = mn_get(mn_all(t.o, Book), "pk", lib.emma->id);
    cr_assert_not_null(b);
    cr_assert_eq(mn_update(mn_filter(mn_all(t.o, Book), "pk", b->id), "pages", 999, "title", "X"),
                 1);
    cr_assert_eq(mn_refresh_fields(t.o, b, "pages"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(b->pages, 999);
    cr_expect_str_eq(b->title, "Emma", "not named: left as it was");
    cr_expect_neq(mn_refresh_fields(t.o, b, "pagez"), 0);
    cr_expect(strstr(mn_orm_error(t.o), "pages"), "%s", mn_orm_error(t.o));
}

Test(orm_rel_templates, repr_names_the_model)
{
    const char *id = mn_arena_printf(t.arena, "%lld", (long long)lib.dune->id);
    cr_expect_str_eq(
        render_var(engine, &t, "{{ books|slice:\":1\" }}", "books",
                   mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "id"))),
        mn_arena_printf(t.arena, "&lt;QuerySet [&lt;Book: Book object (%s)&gt;]&gt;", id),
        "a sliced queryset is still a QuerySet, as Django's");
    cr_expect_str_eq(render_var(engine, &t, "{{ books|slice:\"::5\" }}", "books",
                                mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "id"))),
                     mn_arena_printf(t.arena, "[&lt;Book: Book object (%s)&gt;]", id),
                     "with a step it is a list");
    mn_value *a = mn_obj_value(t.o, lib.dune), *b = mn_obj_value(t.o, lib.dune);
    cr_expect(mn_value_equal(a, b), "two values of one instance are equal");
    cr_expect_str_eq(render_var(engine, &t, "{% if x == x %}eq{% endif %}", "x", a), "eq");
}

Test(orm_rel_templates, missing_reverse_one_to_one_and_replaced_accessor_are_invalid)
{
    mn_value *ann = mn_obj_value(t.o, lib.ann);
    cr_expect_str_eq(render_var(engine, &t, "[{{ a.profile }}][{{ a.profile.bio }}]", "a", ann),
                     "[][]");
    cr_expect_str_eq(
        render_var(engine, &t, "[{% if a.profile %}yes{% else %}no{% endif %}]", "a", ann), "[no]");
    Profile *p = mn_create(t.o, Profile, "author", lib.ann, "bio", "hello");
    cr_assert_not_null(p, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(
        render_var(engine, &t, "[{{ a.profile.bio }}]", "a", mn_obj_value(t.o, lib.ann)),
        "[hello]");
    mn_value *out = NULL;
    cr_expect_eq(mn_value_lookup(ann, mn_str_from("book_set"), t.arena, &out), MN_ENOTFOUND,
                 "related_name replaces book_set");
    cr_expect_eq(mn_value_lookup(ann, mn_str_from("books"), t.arena, &out), 0);
}

Test(orm_rel_templates, deferred_field_read_by_name_is_loaded)
{
    Book *b = mn_qs_first(mn_qs_order_by(mn_qs_defer(mn_all(t.o, Book), "pages"), "id"));
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    mn_value *v = mn_obj_get_value(t.o, b, "pages");
    cr_assert_not_null(v, "%s", mn_orm_error(t.o));
    int64_t pages = 0;
    cr_assert_eq(mn_value_to_int(v, &pages), 0);
    cr_expect_eq(pages, 412);
    cr_expect_str_eq(mn_obj_display(t.o, b, "pages"), "412");
}

Test(orm_rel_templates, a_queryset_whose_query_fails_fails_the_render)
{
    /* a query that fails when it runs: FOR UPDATE outside a transaction (PostgreSQL only;
     * SQLite ignores it, so there the queryset renders) */
    mn_qs *qs = mn_qs_select_for_update(mn_qs_order_by(mn_all(t.o, Tag), "name"));
    const char *src = "[{{ tags }}]";
    mn_template_error err;
    memset(&err, 0, sizeof err);
    mn_template *tpl = mn_template_compile(engine, "t", src, strlen(src), &err);
    cr_assert_not_null(tpl);
    mn_context *ctx = mn_context_new(t.arena);
    mn_context_set(ctx, "tags", mn_qs_value(qs));
    mn_buf out;
    mn_buf_init(&out, t.arena);
    int rc = mn_template_render(tpl, ctx, &out, &err);
    if (tdb_is_pg(&t)) {
        cr_expect_lt(rc, 0, "the error is not swallowed");
        cr_expect_null(strstr(mn_buf_cstr(&out), "QuerySet"), "no half-written repr: %s",
                       mn_buf_cstr(&out));
    } else {
        cr_expect_eq(rc, 0);
        cr_expect(strstr(mn_buf_cstr(&out), "&lt;QuerySet [&lt;Tag: "), "%s", mn_buf_cstr(&out));
    }
}

Test(orm_rel_templates, a_queryset_inside_a_list_prints_as_python_would)
{
    mn_value *l = mn_value_list(t.arena, 1);
    mn_qs *qs = mn_qs_order_by(mn_filter(mn_all(t.o, Book), "title", "Dune"), "id");
    cr_assert_eq(mn_value_list_append(t.arena, l, mn_qs_value(qs)), 0);
    /* Python: str([qs]) is "[<QuerySet [<Book: Book object (1)>]>]" (Book has no __str__),
     * not "[<QuerySet: <QuerySet ...>>]" */
    char want[64];
    snprintf(want, sizeof want, "[<QuerySet [<Book: Book object (%lld)>]>]",
             (long long)lib.dune->id);
    cr_expect_str_eq(render_var(engine, &t, "{{ l|safe }}", "l", l), want);
}
