/* test_audit2.c — behaviour checked against Django by the second ORM audit: the order of the
 * delete signals in a cascade, and where the N+1 warning says the repeated query came from. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <manouche/template.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

DB_SUITE(orm_audit2);

static Question *new_question(const char *text)
{
    mn_datetime dt = {.year = 2024, .month = 5, .day = 1, .hour = 12};
    Question *q = mn_create(t.o, Question, "text", text, "pub_date", &dt);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    return q;
}

static Choice *new_choice(Question *q, const char *text)
{
    Choice *c = mn_create(t.o, Choice, "question", q, "text", text);
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    return c;
}

/* ---- delete signals: every pre_delete first, then each model's delete and post_delete ---- */

static char events[512];
static int64_t children_seen = -1;

static int record(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                  void *user)
{
    (void)created, (void)user;
    size_t len = strlen(events);
    snprintf(events + len, sizeof events - len, "%s%s %s %lld", len ? ", " : "",
             sig == MN_PRE_DELETE ? "pre" : "post", sender->name, (long long)mn_obj_pk(obj));
    if (sig == MN_PRE_DELETE && sender == &Question_model)
        children_seen = mn_qs_count(mn_related(o, obj, "choices"));
    return 0;
}

Test(orm_audit2, a_cascade_sends_every_pre_delete_before_deleting_anything)
{
    Question *q = new_question("Parent");
    Choice *c1 = new_choice(q, "one"), *c2 = new_choice(q, "two");
    const mn_model *models[] = {&Question_model, &Choice_model};
    for (size_t i = 0; i < 2; i++) {
        mn_signal_connect(MN_PRE_DELETE, models[i], record, NULL);
        mn_signal_connect(MN_POST_DELETE, models[i], record, NULL);
    }
    int64_t n = mn_qs_delete(mn_all(t.o, Question), NULL);
    cr_assert_eq(n, 3, "%s", mn_orm_error(t.o));
    /* Django's Collector.delete(): pre_delete for the collected instances (children first,
     * by pk), then per model the DELETE and its post_delete, instances in reverse */
    char want[256];
    snprintf(want, sizeof want,
             "pre Choice %lld, pre Choice %lld, pre Question %lld, post Choice %lld, "
             "post Choice %lld, post Question %lld",
             (long long)c1->id, (long long)c2->id, (long long)q->id, (long long)c2->id,
             (long long)c1->id, (long long)q->id);
    cr_expect_str_eq(events, want);
    cr_expect_eq(children_seen, 2, "the parent's pre_delete still sees its children");
}

static int refuse(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                  void *user)
{
    (void)sig, (void)sender, (void)obj, (void)created, (void)o, (void)user;
    return MN_EINVAL;
}

Test(orm_audit2, a_refused_pre_delete_deletes_nothing)
{
    Question *q = new_question("Kept");
    new_choice(q, "one");
    mn_signal_connect(MN_PRE_DELETE, &Question_model, refuse, NULL);
    cr_expect_lt(mn_delete(t.o, q, NULL), 0);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Choice)), 1, "the children are still there");
    cr_expect_eq(mn_qs_count(mn_all(t.o, Question)), 1);
}

/* ---- the N+1 warning names where the repeated query was written ---- */

/* The log written between log_start() and log_end(), at DEBUG level. */
static char log_path[32];
static int log_fd = -1;

static void log_start(void)
{
    snprintf(log_path, sizeof log_path, "/tmp/mn-audit2-XXXXXX");
    log_fd = mkstemp(log_path);
    cr_assert_geq(log_fd, 0);
    mn_log_configure(MN_LOG_DEBUG, false, log_fd);
}

static const char *log_end(void)
{
    char *buf = mn_arena_alloc(t.arena, 16384);
    cr_assert_not_null(buf);
    lseek(log_fd, 0, SEEK_SET);
    ssize_t n = read(log_fd, buf, 16383);
    buf[n > 0 ? n : 0] = '\0';
    close(log_fd);
    unlink(log_path);
    mn_log_configure(MN_LOG_INFO, false, 2);
    return buf;
}

static void questions_with_choices(int n)
{
    for (int i = 0; i < n; i++) {
        Question *q = new_question(mn_arena_printf(t.arena, "Q%d", i));
        new_choice(q, "a");
        new_choice(q, "b");
    }
}

Test(orm_audit2, the_n_plus_1_warning_names_the_line_of_a_related_manager_loop)
{
    questions_with_choices(4);
    mn_rows *qs = mn_qs_fetch(mn_all(t.o, Question));
    cr_assert_not_null(qs, "%s", mn_orm_error(t.o));
    log_start();
    mn_orm_warn_repeats(t.o, 2);
    int64_t total = 0;
    for (size_t i = 0; i < qs->len; i++)
        total += mn_qs_count(mn_related(t.o, qs->items[i], "choices")); /* the line named */
    int line = __LINE__ - 1;
    const char *log = log_end();
    cr_expect_eq(total, 8);
    const char *warn = strstr(log, "N+1 queries");
    cr_assert_not_null(warn, "no N+1 warning in: %s", log);
    const char *where = mn_arena_printf(t.arena, "test_audit2.c:%d (use", line);
    cr_expect(strstr(warn, where), "the warning does not name %s: %s", where, log);
}

Test(orm_audit2, the_n_plus_1_warning_names_the_template_of_a_lazy_relation)
{
    questions_with_choices(4);
    mn_template_engine *engine = mn_template_engine_new();
    cr_assert_not_null(engine);
    const char *src = "<ul>\n"
                      "{% for q in questions %}<li>{{ q.text }}: {{ q.choices.all|length }}</li>"
                      "{% endfor %}\n"
                      "</ul>\n";
    mn_template_error err = {0};
    mn_template *tpl = mn_template_compile(engine, "polls/index.html", src, strlen(src), &err);
    cr_assert_not_null(tpl, "%s", err.message);
    mn_context *ctx = mn_context_new(t.arena);
    mn_context_set(ctx, "questions", mn_qs_value(mn_qs_order_by(mn_all(t.o, Question), "id")));
    mn_buf out;
    mn_buf_init(&out, t.arena);
    log_start();
    mn_orm_warn_repeats(t.o, 2);
    int rc = mn_template_render(tpl, ctx, &out, &err);
    const char *log = log_end();
    mn_template_engine_free(engine);
    cr_assert_eq(rc, 0, "%s", err.message);
    const char *html = mn_buf_cstr(&out);
    cr_expect(strstr(html, "<li>Q3: 2</li>"), "%s", html);
    const char *warn = strstr(log, "N+1 queries");
    cr_assert_not_null(warn, "no N+1 warning in: %s", log);
    cr_expect(strstr(warn, " at polls/index.html:2 "), "the warning does not name the template: %s",
              log);
    cr_expect(strstr(warn, "polls_choice"), "%s", log);
    int line = -1;
    cr_expect_null(mn_template_current(&line), "no template once the render is over");
    cr_expect_eq(line, 0);
}

Test(orm_audit2, a_foreign_key_loaded_in_a_template_loop_names_the_template)
{
    questions_with_choices(3);
    mn_template_engine *engine = mn_template_engine_new();
    cr_assert_not_null(engine);
    const char *src = "{% for c in choices %}\n{{ c.question.text }}{% endfor %}";
    mn_template_error err = {0};
    mn_template *tpl = mn_template_compile(engine, "polls/choices.html", src, strlen(src), &err);
    cr_assert_not_null(tpl, "%s", err.message);
    mn_context *ctx = mn_context_new(t.arena);
    mn_context_set(ctx, "choices", mn_qs_value(mn_all(t.o, Choice)));
    mn_buf out;
    mn_buf_init(&out, t.arena);
    log_start();
    mn_orm_warn_repeats(t.o, 2);
    int rc = mn_template_render(tpl, ctx, &out, &err);
    const char *log = log_end();
    mn_template_engine_free(engine);
    cr_assert_eq(rc, 0, "%s", err.message);
    const char *warn = strstr(log, "N+1 queries");
    cr_assert_not_null(warn, "no N+1 warning in: %s", log);
    cr_expect(strstr(warn, " at polls/choices.html:2 "), "%s", log);
    cr_expect(strstr(warn, "polls_question"), "%s", log);
}

/* ---- get_FOO_display exists only for a field with choices, as in Django ---- */

Test(orm_audit2, get_foo_display_is_invalid_for_a_field_without_choices)
{
    Author *a = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    Book *b = mn_create(t.o, Book, "title", "Odes", "author", a, "genre", "po");
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    mn_template_engine *engine = mn_template_engine_new();
    cr_assert_not_null(engine);
    mn_template_engine_options(engine)->string_if_invalid = "INVALID";
    const char *src = "{{ b.get_genre_display }}|{{ b.get_title_display }}|"
                      "{{ b.get_author_display }}|{{ b.get_nosuch_display }}";
    mn_template_error err = {0};
    mn_template *tpl = mn_template_compile(engine, "book.html", src, strlen(src), &err);
    cr_assert_not_null(tpl, "%s", err.message);
    mn_context *ctx = mn_context_new(t.arena);
    mn_context_set(ctx, "b", mn_obj_value(t.o, b));
    mn_buf out;
    mn_buf_init(&out, t.arena);
    int rc = mn_template_render(tpl, ctx, &out, &err);
    mn_template_engine_free(engine);
    cr_assert_eq(rc, 0, "%s", err.message);
    cr_expect_str_eq(mn_buf_cstr(&out), "Poetry|INVALID|INVALID|INVALID");
}
