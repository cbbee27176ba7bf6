/* test_audit_tmpl.c — instances and querysets in templates, each expectation Django's output:
 * str(), pk, foreign keys (lazy, cached, null), reverse accessors with the default name,
 * related-manager methods, querysets in for/if/with/regroup/dictsort, field types through
 * filters (time zones, decimals, booleans, JSON), values() rows, query counts with
 * select_related/prefetch_related, and failures. */
#include "helper_data.h"
#include "helper_db.h"
#include "helper_render.h"

#include <criterion/criterion.h>
#include <manouche/template.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static testdb t;
static library lib;
static mn_template_engine *engine;
static mn_dblog qlog;
static void setup(void)
{
    tdb_open(&t);
    library_fill(t.o, &lib);
    engine = mn_template_engine_new();
    mn_dblog_init(&qlog, t.arena);
}
static void teardown(void)
{
    mn_orm_set_log(t.o, NULL);
    mn_template_engine_free(engine);
    tdb_close(&t);
}
TestSuite(orm_audit_tmpl, .init = setup, .fini = teardown);

/* Renders src; returns the render's code, the output in *out and the error in *err. */
static int render_rc(const char *src, const char *name, mn_value *v, const char **out,
                     mn_template_error *err)
{
    memset(err, 0, sizeof *err);
    mn_template *tpl = mn_template_compile(engine, "t", src, strlen(src), err);
    cr_assert_not_null(tpl, "%s", err->message);
    mn_context *ctx = mn_context_new(t.arena);
    mn_context_set(ctx, name, v);
    mn_buf b;
    mn_buf_init(&b, t.arena);
    int rc = mn_template_render(tpl, ctx, &b, err);
    *out = mn_buf_cstr(&b);
    return rc;
}

static const char *R(const char *src, const char *name, mn_value *v)
{
    return render_var(engine, &t, src, name, v);
}

static const char *id_of(int64_t id)
{
    return mn_arena_printf(t.arena, "%lld", (long long)id);
}

static size_t log_start(void)
{
    qlog.count = 0;
    mn_orm_set_log(t.o, &qlog);
    return 0;
}

Test(orm_audit_tmpl, str_pk_and_foreign_keys)
{
    Book *b = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    mn_value *v = mn_obj_value(t.o, b);
    const char *aid = id_of(lib.ann->id), *bid = id_of(b->id);
    cr_expect_str_eq(R("{{ b }}|{{ b.pk }}|{{ b.id }}", "b", v),
                     mn_arena_printf(t.arena, "Book object (%s)|%s|%s", bid, bid, bid));
    log_start();
    cr_expect_str_eq(R("{{ b.author_id }}", "b", v), aid);
    cr_expect_eq(qlog.count, 0, "the id column needs no query");
    cr_expect_str_eq(
        R("{{ b.author }}|{{ b.author.name }}|{{ b.author.name }}|{{ b.author.pk }}", "b", v),
        mn_arena_printf(t.arena, "Author object (%s)|Ann|Ann|%s", aid, aid));
    cr_expect_eq(qlog.count, 1, "one query, then the cached instance");
    cr_expect_str_eq(R("{{ b.author.name }}", "b", v), "Ann");
    cr_expect_eq(qlog.count, 1, "still cached on a later render");
}

Test(orm_audit_tmpl, null_foreign_key)
{
    /* ann has no mentor: Django renders None as "None", |default replaces it, and a lookup
     * through it is invalid ("") */
    mn_value *v = mn_obj_value(t.o, lib.ann);
    cr_expect_str_eq(R("[{{ a.mentor }}][{{ a.mentor_id }}][{{ a.mentor|default:'none' }}]"
                       "[{{ a.mentor.name }}][{{ a.mentor_id|default_if_none:'-' }}]"
                       "[{% if a.mentor %}y{% else %}n{% endif %}]"
                       "[{% if a.mentor is None %}isnone{% endif %}]",
                       "a", v),
                     "[None][None][none][][-][n][isnone]");
    Review *r = mn_create(t.o, Review, "stars", 1, "body", "orphan");
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(R("[{{ r.book.title|default:'no book' }}][{{ r.book|yesno:'a,b,c' }}]", "r",
                       mn_obj_value(t.o, r)),
                     "[no book][c]");
    /* bob's mentor is ann */
    Author *bob = mn_get(mn_all(t.o, Author), "name", "Bob");
    cr_expect_str_eq(R("{{ a.mentor.name }}", "a", mn_obj_value(t.o, bob)), "Ann");
}

Test(orm_audit_tmpl, reverse_foreign_key_with_the_default_name)
{
    Club *c = mn_create(t.o, Club, "name", "Readers");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Membership, "club", c, "author", lib.bob, "role", "chair"));
    cr_assert_not_null(mn_create(t.o, Membership, "club", c, "author", lib.ann));
    mn_value *v = mn_obj_value(t.o, c);
    cr_expect_str_eq(R("{{ c.membership_set.count }}:{% for m in c.membership_set.all %}"
                       "{{ m.author.name }}/{{ m.role }};{% endfor %}",
                       "c", v),
                     "2:Bob/chair;Ann/member;");
    cr_expect_str_eq(R("{% for x in c.members.all %}{{ x.name }} {% endfor %}", "c", v),
                     "Ann Bob ");
    cr_expect_str_eq(R("{{ a.clubs.all.0.name }} {{ a.membership_set.first.role }}", "a",
                       mn_obj_value(t.o, lib.bob)),
                     "Readers chair");
}

Test(orm_audit_tmpl, related_manager_methods)
{
    mn_value *odes = mn_obj_value(t.o, lib.odes), *cy = mn_obj_value(t.o, lib.cy);
    /* Tag is ordered by name */
    cr_expect_str_eq(R("{{ b.tags.count }} {{ b.tags.exists }} {{ b.tags.first.name }} "
                       "{{ b.tags.last.name }} {{ b.tags.all|length }}",
                       "b", odes),
                     "2 True classic poetry 2");
    cr_expect_str_eq(R("{{ a.books.count }} {{ a.books.exists }} [{{ a.books.first }}] "
                       "[{{ a.books.last.title }}] {% if a.books.all %}y{% else %}n{% endif %}",
                       "a", cy),
                     "0 False [None] [] n");
    cr_expect_str_eq(R("{% if t.books.exists %}{{ t.books.count }}{% endif %}", "t",
                       mn_obj_value(t.o, lib.classic)),
                     "3");
}

Test(orm_audit_tmpl, for_empty_if_length_index)
{
    mn_value *v = mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "title"));
    cr_expect_str_eq(R("{% for b in bs %}{{ forloop.counter }}.{{ b.title|slice:':2' }}"
                       "{{ forloop.revcounter0 }}{% if forloop.first %}F{% endif %} "
                       "{% empty %}none{% endfor %}",
                       "bs", v),
                     "1.Du3F 2.Em2 3.Od1 4.SQ0 ");
    mn_value *none = mn_qs_value(mn_filter(mn_all(t.o, Book), "title", "Nope"));
    cr_expect_str_eq(R("{% for b in bs %}x{% empty %}none{% endfor %}"
                       "[{% if bs %}y{% else %}n{% endif %}][{{ bs|length }}][{{ bs.0 }}]"
                       "[{{ bs.count }}][{{ bs.exists }}][{{ bs.first }}]",
                       "bs", none),
                     "none[n][0][][0][False][None]");
    mn_value *w = mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "-pages"));
    cr_expect_str_eq(R("{{ bs.0.title }}|{{ bs.3.pages }}|[{{ bs.9 }}]|{{ bs.first.title }}|"
                       "{{ bs.last.title }}",
                       "bs", w),
                     "SQL in Depth|80|[]|SQL in Depth|Odes 50% off_sale");
    cr_expect_str_eq(R("{{ bs|first }}|{{ bs|last }}", "bs",
                       mn_qs_value(mn_qs_order_by(mn_all(t.o, Tag), "name"))),
                     mn_arena_printf(t.arena, "Tag object (%s)|Tag object (%s)",
                                     id_of(lib.classic->id), id_of(lib.tech->id)));
}

Test(orm_audit_tmpl, dictsort_regroup_join_with)
{
    mn_value *v = mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "title"));
    cr_expect_str_eq(R("{% for b in bs|dictsort:'pages' %}{{ b.pages }} {% endfor %}|"
                       "{% for b in bs|dictsortreversed:'author.name' %}{{ b.author.name }}"
                       "{% endfor %}|{% for b in bs|dictsort:'price' %}{{ b.price }} {% endfor %}",
                       "bs", v),
                     "80 320 412 510 |BobBobAnnAnn|7.50 12.00 19.99 45.10 ");
    mn_value *g = mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "genre,title"));
    cr_expect_str_eq(R("{% regroup bs by get_genre_display as gs %}{% for x in gs %}"
                       "{{ x.grouper }}:{% for b in x.list %}{{ b.title|slice:':1' }}{% endfor %};"
                       "{% endfor %}",
                       "bs", g),
                     "Fiction:DE;Non-fiction:S;Poetry:O;");
    mn_value *byauthor = mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "author__name,title"));
    cr_expect_str_eq(R("{% regroup bs by author as gs %}{% for x in gs %}"
                       "{{ x.grouper.name }}={{ x.list|length }};{% endfor %}",
                       "bs", byauthor),
                     "Ann=2;Bob=2;");
    mn_value *titles =
        mn_qs_value(mn_qs_values_list(mn_qs_order_by(mn_all(t.o, Book), "title"), "title", true));
    cr_expect_str_eq(R("{{ ts|join:', ' }}", "ts", titles),
                     "Dune, Emma, Odes 50% off_sale, SQL in Depth");
    mn_value *pairs =
        mn_qs_value(mn_qs_values_list(mn_qs_order_by(mn_all(t.o, Tag), "name"), "name", false));
    cr_expect_str_eq(R("{% for p in ps %}{{ p|join:'-' }}{{ p.0 }} {% endfor %}", "ps", pairs),
                     "classicclassic poetrypoetry techtech ");
    log_start();
    cr_expect_str_eq(R("{% with bs=a.books.all %}{{ bs|length }}:{% for b in bs %}{{ b.title }} "
                       "{% endfor %}{{ bs.count }}{% endwith %}",
                       "a", mn_obj_value(t.o, lib.ann)),
                     "2:Dune Emma 2");
    cr_expect_eq(qlog.count, 1, "with keeps the evaluated queryset");
}

Test(orm_audit_tmpl, datetimes_in_the_current_time_zone)
{
    mn_datetime dt = {
        .year = 2025, .month = 12, .day = 31, .hour = 23, .minute = 30, .aware = true};
    Question *q = mn_create(t.o, Question, "text", "New year?", "pub_date", &dt);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    Question *got = mn_get(mn_all(t.o, Question), "pk", q->id);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    mn_value *v = mn_obj_value(t.o, got);
    cr_expect_str_eq(R("{{ q.pub_date|date:'Y-m-d H:i e' }}", "q", v), "2025-12-31 23:30 UTC");
    mn_template_options *opt = mn_template_engine_options(engine);
    opt->time_zone_offset = 3600;
    opt->time_zone_name = "CET";
    /* Django's template_localtime: an aware datetime shows in the current time zone */
    cr_expect_str_eq(R("{{ q.pub_date|date:'Y-m-d H:i T' }}|{{ q.pub_date|time:'H:i' }}|"
                       "{{ q.pub_date }}",
                       "q", v),
                     "2026-01-01 00:30 CET|00:30|Jan. 1, 2026, 12:30 a.m.");
    cr_expect_str_eq(
        R("{{ b.published|date:'D d M Y' }}|{{ b.published }}", "b", mn_obj_value(t.o, lib.dune)),
        "Sun 14 Mar 2021|March 14, 2021");
}

Test(orm_audit_tmpl, decimals_booleans_json_and_display)
{
    Book *odes = mn_get(mn_all(t.o, Book), "pk", lib.odes->id);
    cr_assert_not_null(odes);
    mn_value *v = mn_obj_value(t.o, odes);
    cr_expect_str_eq(R("{{ b.price }}|{{ b.price|floatformat }}|{{ b.price|floatformat:2 }}|"
                       "{{ b.price|floatformat:'-3' }}|{{ b.rating|floatformat:1 }}|{{ b.rating }}|"
                       "{{ b.price|add:'1' }}",
                       "b", v),
                     "12.00|12|12.00|12|4.1|4.1|13");
    cr_expect_str_eq(
        R("{{ b.in_print }}|{{ b.in_print|yesno:'y,n' }}|{{ b.in_print|yesno }}", "b", v),
        "True|y|yes");
    Everything *e = mn_create(t.o, Everything, "doc",
                              "{\"k\": {\"xs\": [1, \"<b>\"]}, \"n\": null}", "amount", "3.500");
    cr_assert_not_null(e, "%s", mn_orm_error(t.o));
    Everything *got = mn_get(mn_all(t.o, Everything), "pk", e->id);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    mn_value *ev = mn_obj_value(t.o, got);
    cr_expect_str_eq(R("{{ e.doc.k.xs.0 }}|{{ e.doc.k.xs.1 }}|{{ e.doc.k.xs|length }}|"
                       "[{{ e.doc.n }}]|[{{ e.doc.missing }}]|{{ e.flag|yesno:'y,n,maybe' }}|"
                       "{{ e.amount }}|{{ e.amount|floatformat }}|[{{ e.day }}]",
                       "e", ev),
                     "1|&lt;b&gt;|2|[None]|[]|maybe|3.500|3.5|[None]");
    /* the whole document prints as Python's dict would; a tag-like key stays plain data */
    cr_expect_str_eq(R("{{ e.doc }}", "e", ev),
                     "{&#x27;k&#x27;: {&#x27;xs&#x27;: [1, &#x27;&lt;b&gt;&#x27;]}, "
                     "&#x27;n&#x27;: None}");
    got->doc = "{\"__safe__\": \"<b>\"}";
    cr_assert_eq(mn_save(t.o, got), 0, "%s", mn_orm_error(t.o));
    got = mn_get(mn_all(t.o, Everything), "pk", e->id);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(
        R("{% for k, x in e.doc.items %}{{ k }}={{ x }}{% endfor %}", "e", mn_obj_value(t.o, got)),
        "__safe__=&lt;b&gt;");
    /* a stored value outside the choices shows as it is */
    cr_assert_eq(mn_update(mn_filter(mn_all(t.o, Book), "pk", lib.odes->id), "genre", "zz"), 1,
                 "%s", mn_orm_error(t.o));
    Book *zz = mn_get(mn_all(t.o, Book), "pk", lib.odes->id);
    cr_assert_not_null(zz);
    cr_expect_str_eq(R("{{ b.get_genre_display }}|{{ b.genre }}|[{{ b.get_absolute_url }}]|"
                       "[{{ b.get_title_display }}]",
                       "b", mn_obj_value(t.o, zz)),
                     "zz|zz|[]|[]");
}

Test(orm_audit_tmpl, autoescape_of_field_values)
{
    Author *a = mn_create(t.o, Author, "name", "<i>O'Neil & co</i>");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    Book *b = mn_create(t.o, Book, "title", "\"Q\" <script>", "author", a, "genre", "po");
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    mn_value *v = mn_obj_value(t.o, b);
    cr_expect_str_eq(R("{{ b.title }}|{{ b.author.name }}|{{ b.author.name|safe }}|"
                       "{% autoescape off %}{{ b.title }}{% endautoescape %}",
                       "b", v),
                     "&quot;Q&quot; &lt;script&gt;|&lt;i&gt;O&#x27;Neil &amp; co&lt;/i&gt;|"
                     "<i>O'Neil & co</i>|\"Q\" <script>");
}

Test(orm_audit_tmpl, values_rows_are_dicts)
{
    mn_value *v = mn_qs_value(
        mn_qs_values(mn_qs_order_by(mn_all(t.o, Book), "title"), "title,author__name,pages"));
    cr_expect_str_eq(R("{% for d in ds %}{{ d.title }}/{{ d.author__name }}/{{ d.pages }};"
                       "{% endfor %}",
                       "ds", v),
                     "Dune/Ann/412;Emma/Ann/320;Odes 50% off_sale/Bob/80;SQL in Depth/Bob/510;");
    cr_expect_str_eq(R("{{ ds.0 }}|{% for k, x in ds.1.items %}{{ k }}={{ x }} {% endfor %}|"
                       "{{ ds|dictsort:'pages'|first }}",
                       "ds", v),
                     "{&#x27;title&#x27;: &#x27;Dune&#x27;, &#x27;author__name&#x27;: "
                     "&#x27;Ann&#x27;, &#x27;pages&#x27;: 412}|title=Emma author__name=Ann "
                     "pages=320 |{&#x27;title&#x27;: &#x27;Odes 50% off_sale&#x27;, "
                     "&#x27;author__name&#x27;: &#x27;Bob&#x27;, &#x27;pages&#x27;: 80}");
}

Test(orm_audit_tmpl, query_counts_with_select_and_prefetch_related)
{
    mn_value *v = mn_qs_value(mn_qs_prefetch_related(
        mn_qs_select_related(mn_qs_order_by(mn_all(t.o, Book), "title"), "author"),
        "tags,reviews"));
    log_start();
    cr_expect_str_eq(R("{% for b in bs %}{{ b.author.name }}({{ b.author_id|yesno:'1,0' }}):"
                       "{% for x in b.tags.all %}{{ x.name }},{% endfor %}"
                       "{{ b.tags.count }}/{{ b.reviews.count }}/{{ b.reviews.all|length }}"
                       "/{{ b.tags.exists }};{% endfor %}",
                       "bs", v),
                     "Ann(1):classic,1/2/2/True;Ann(1):classic,1/0/0/True;"
                     "Bob(1):classic,poetry,2/0/0/True;Bob(1):tech,1/1/1/True;");
    cr_expect_eq(qlog.count, 3, "books+authors, tags, reviews: %zu", qlog.count);
    /* the same page without them: the N+1 queries */
    mn_value *plain = mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "title"));
    log_start();
    R("{% for b in bs %}{{ b.author.name }}{% endfor %}", "bs", plain);
    cr_expect_eq(qlog.count, 5, "%zu", qlog.count);
    /* a reverse FK prefetched from the other side */
    mn_value *authors = mn_qs_value(mn_qs_prefetch_related(mn_all(t.o, Author), "books"));
    log_start();
    cr_expect_str_eq(R("{% for a in as %}{{ a.name }}={{ a.books.all|length }}"
                       "{% for b in a.books.all %}.{% endfor %};{% endfor %}",
                       "as", authors),
                     "Ann=2..;Bob=2..;Cy=0;");
    for (size_t i = 0; getenv("AUDIT_DEBUG") && i < qlog.count; i++)
        fprintf(stderr, "%s\n", qlog.entries[i].sql);
    cr_expect_eq(qlog.count, 2, "%zu", qlog.count);
}

Test(orm_audit_tmpl, missing_attributes_render_as_invalid)
{
    mn_value *v = mn_obj_value(t.o, lib.dune);
    cr_expect_str_eq(
        R("[{{ b.nope }}][{{ b.author.nope }}][{{ b.tags.nope }}][{{ b.tags.all.nope }}]"
          "[{{ b.nope.deeper }}][{{ b.get_nope_display }}]"
          "[{% for x in b.nope %}x{% empty %}e{% endfor %}]",
          "b", v),
        "[][][][][][][e]");
    mn_template_options *opt = mn_template_engine_options(engine);
    opt->string_if_invalid = "INVALID";
    cr_expect_str_eq(R("[{{ b.nope }}][{{ b.author.nope }}]", "b", v), "[INVALID][INVALID]");
}

/* A queryset whose query fails when it runs: a filter on a field the model lacks. */
static mn_qs *failing_qs(void)
{
    return mn_filter(mn_all(t.o, Book), "bogus", 1);
}

Test(orm_audit_tmpl, a_failing_query_fails_the_render_and_names_the_problem)
{
    static const char *const srcs[] = {
        "{% for b in bs %}{{ b }}{% endfor %}",
        "{{ bs|length }}",
        "{% if bs %}y{% endif %}",
        "{{ bs.count }}",
        "{{ bs.exists }}",
        "[{{ bs.first }}]",
        "[{{ bs.last }}]",
        "[{{ bs.0 }}]",
        "[{{ bs|slice:':1'|length }}]",
        "[{{ bs|first }}]",
    };
    int bad = 0;
    char first_bad[256] = "";
    for (size_t i = 0; i < sizeof srcs / sizeof *srcs; i++) {
        const char *out;
        mn_template_error err;
        int rc = render_rc(srcs[i], "bs", mn_qs_value(failing_qs()), &out, &err);
        if (rc >= 0 || !strstr(err.message, "bogus")) {
            if (getenv("AUDIT_DEBUG"))
                fprintf(stderr, "%s -> rc %d, out '%s', msg '%s'\n", srcs[i], rc, out, err.message);
            if (!bad++)
                snprintf(first_bad, sizeof first_bad, "%s -> rc %d, out '%s', msg '%s'", srcs[i],
                         rc, out, err.message);
        }
    }
    cr_expect_eq(bad, 0, "%d templates did not fail naming 'bogus'; first: %s", bad, first_bad);
}

Test(orm_audit_tmpl, durations_times_and_uuids_print_as_python)
{
    /* 1 day, 2:03:04.5 */
    int64_t us = ((24 + 2) * 3600 + 3 * 60 + 4) * INT64_C(1000000) + 500000;
    mn_datetime clock = {.hour = 14, .minute = 30};
    Everything *e = mn_create(t.o, Everything, "span", us, "clock", &clock, "uid",
                              "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
    cr_assert_not_null(e, "%s", mn_orm_error(t.o));
    Everything *got = mn_get(mn_all(t.o, Everything), "pk", e->id);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(R("{{ e.span }}|{{ e.clock }}|{{ e.clock|time:'H:i' }}|{{ e.uid }}", "e",
                       mn_obj_value(t.o, got)),
                     "1 day, 2:03:04.500000|2:30 p.m.|14:30|6ba7b810-9dad-11d1-80b4-00c04fd430c8");
    got->span = -1;
    cr_expect_str_eq(R("{{ e.span }}", "e", mn_obj_value(t.o, got)), "-1 day, 23:59:59.999999");
    got->span = 0;
    cr_expect_str_eq(R("{{ e.span }} {{ e.span|default:'none' }}", "e", mn_obj_value(t.o, got)),
                     "0:00:00 none");
    got->span = 2 * 86400 * INT64_C(1000000);
    cr_expect_str_eq(R("{{ e.span }}", "e", mn_obj_value(t.o, got)), "2 days, 0:00:00");
}

Test(orm_audit_tmpl, a_long_queryset_prints_twenty_rows_as_django)
{
    int failed = 0;
    for (int i = 0; i < 22; i++)
        failed += mn_create(t.o, Tag, "name", mn_arena_printf(t.arena, "t%02d", i)) == NULL;
    cr_assert_eq(failed, 0, "%s", mn_orm_error(t.o));
    mn_value *v = mn_qs_value(
        mn_qs_values_list(mn_filter(mn_all(t.o, Tag), "name__startswith", "t"), "name", true));
    const char *out = R("{{ ts|safe }}", "ts", v);
    cr_expect(strstr(out, "'t19', '...(remaining elements truncated)...']>") != NULL, "%s", out);
    cr_expect(strstr(out, "'t20'") == NULL, "%s", out);
    cr_expect_str_eq(R("{{ ts|length }}", "ts", v), "23", "the repr's LIMIT did not stick");
}

Test(orm_audit_tmpl, a_related_manager_is_not_a_queryset)
{
    /* Django: the manager answers its methods but is no sequence, and is always true */
    mn_value *cy = mn_obj_value(t.o, lib.cy), *odes = mn_obj_value(t.o, lib.odes);
    cr_expect_str_eq(R("{{ b.tags }}|{{ b.tags|length }}|[{{ b.tags.0 }}]|{{ b.tags.all.0.name }}|"
                       "{{ b.tags.count }}",
                       "b", odes),
                     "library.Tag.None|0|[]|classic|2");
    const char *out;
    mn_template_error err;
    cr_expect_lt(render_rc("{% for x in b.tags %}x{% endfor %}", "b", odes, &out, &err), 0);
    cr_expect_str_eq(err.message, "'ManyRelatedManager' object is not iterable");
    cr_expect_lt(render_rc("{% for x in a.books %}x{% endfor %}", "a", cy, &out, &err), 0);
    cr_expect_str_eq(err.message, "'RelatedManager' object is not iterable");
    cr_expect_str_eq(R("{% if a.books %}always{% endif %}|{% if a.books.all %}rows{% else %}none"
                       "{% endif %}|{{ a.books.all }}|{{ a.books.exists }}",
                       "a", cy),
                     "always|none|&lt;QuerySet []&gt;|False");
    mn_datetime when = {.year = 2025, .month = 1, .day = 1, .aware = true};
    Question *q = mn_create(t.o, Question, "text", "?", "pub_date", &when);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(R("{{ q.choices }}", "q", mn_obj_value(t.o, q)), "polls.Choice.None");
}

Test(orm_audit_tmpl, an_index_runs_a_one_row_query)
{
    /* Django's qs[1]: OFFSET 1 LIMIT 1, the queryset stays unevaluated */
    mn_value *v = mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "title"));
    log_start();
    cr_expect_str_eq(R("{{ bs.1.title }}", "bs", v), "Emma");
    cr_expect_eq(qlog.count, 1, "%zu", qlog.count);
    cr_expect(strstr(qlog.entries[0].sql, "LIMIT") != NULL, "%s", qlog.entries[0].sql);
    cr_expect_str_eq(R("[{{ bs.7 }}]", "bs", v), "[]");
    /* once evaluated, the rows answer */
    R("{% for b in bs %}{% endfor %}", "bs", v);
    size_t n = qlog.count;
    cr_expect_str_eq(R("{{ bs.3.title }}", "bs", v), "SQL in Depth");
    cr_expect_eq(qlog.count, n);
}

Test(orm_audit_tmpl, unsaved_and_dangling_instances)
{
    Book *b = mn_new(t.o, Book);
    cr_assert_not_null(b);
    /* An integer member has no None: the pk reads as the number it holds, so an id set to 0
     * on purpose (TechEmpower's extra fortune) renders 0, as Django's Fortune(id=0) does. */
    cr_expect_str_eq(
        R("{{ b }}|{{ b.pk }}|{{ b.pages }}|{{ b.get_genre_display }}", "b", mn_obj_value(t.o, b)),
        "Book object (None)|0|100|Fiction");
    /* a foreign key naming a row that is gone: Django's DoesNotExist, a silent failure */
    Book *d = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_assert_not_null(d);
    d->author.id = 999999;
    d->author.obj = NULL;
    cr_expect_str_eq(
        R("[{{ b.author }}][{{ b.author.name }}][{{ b.author_id }}]", "b", mn_obj_value(t.o, d)),
        "[][][999999]");
}

Test(orm_audit_tmpl, dictsort_by_an_instance_is_an_error_django_swallows)
{
    mn_value *v = mn_qs_value(mn_qs_order_by(mn_all(t.o, Book), "title"));
    cr_expect_str_eq(R("[{{ bs|dictsort:'author' }}]", "bs", v), "[]");
    cr_expect_str_eq(
        R("{% for b in bs|dictsort:'author.name' %}{{ b.pages }} {% endfor %}", "bs", v),
        "412 320 80 510 ");
}

Test(orm_audit_tmpl, rows_of_a_reverse_accessor_know_their_parent)
{
    /* Django's related manager sets the parent on each row (known related objects), and a
     * prefetch does the same: b.author costs no query */
    log_start();
    cr_expect_str_eq(R("{% for b in a.books.all %}{{ b.author.name }} {% endfor %}", "a",
                       mn_obj_value(t.o, lib.ann)),
                     "Ann Ann ");
    cr_expect_eq(qlog.count, 1, "%zu", qlog.count);
    mn_value *authors = mn_qs_value(mn_qs_prefetch_related(mn_all(t.o, Author), "books"));
    log_start();
    cr_expect_str_eq(R("{% for a in as %}{% for b in a.books.all %}{{ b.author.name }}{% endfor %}"
                       "{% endfor %}",
                       "as", authors),
                     "AnnAnnBobBob");
    cr_expect_eq(qlog.count, 2, "%zu", qlog.count);
}

Test(orm_audit_tmpl, first_of_a_prefetched_ordered_relation_reads_the_cache)
{
    mn_value *v =
        mn_qs_value(mn_qs_prefetch_related(mn_qs_order_by(mn_all(t.o, Book), "title"), "tags"));
    log_start();
    cr_expect_str_eq(R("{% for b in bs %}{{ b.tags.first.name }} {% endfor %}", "bs", v),
                     "classic classic classic tech ");
    cr_expect_eq(qlog.count, 2, "Tag is ordered: first() slices the prefetched rows: %zu",
                 qlog.count);
}

Test(orm_audit_tmpl, a_date_field_refuses_time_specifiers)
{
    /* Django: "The format for date objects may not contain time-related format specifiers
     * (found 'H')." — a TypeError the date filter lets through */
    const char *out;
    mn_template_error err;
    int rc = render_rc("{{ b.published|date:'Y-m-d H:i' }}", "b", mn_obj_value(t.o, lib.dune), &out,
                       &err);
    cr_expect_lt(rc, 0, "%s", out);
    cr_expect(strstr(err.message, "time-related format specifiers") != NULL, "%s", err.message);
}

Test(orm_audit_tmpl, null_foreign_key_through_select_related)
{
    Review *r = mn_create(t.o, Review, "stars", 1, "body", "orphan");
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    mn_value *v = mn_qs_value(
        mn_qs_order_by(mn_qs_select_related(mn_all(t.o, Review), "book__author"), "stars,body"));
    log_start();
    cr_expect_str_eq(R("{% for x in rs %}{{ x.book.title|default:'-' }}/{{ x.book.author.name }}"
                       "/{{ x.book }};{% endfor %}",
                       "rs", v),
                     mn_arena_printf(t.arena,
                                     "-//None;Dune/Ann/Book object (%s);SQL in Depth/Bob/Book "
                                     "object (%s);Dune/Ann/Book object (%s);",
                                     id_of(lib.dune->id), id_of(lib.sql->id), id_of(lib.dune->id)));
    cr_expect_eq(qlog.count, 1, "%zu", qlog.count);
}
