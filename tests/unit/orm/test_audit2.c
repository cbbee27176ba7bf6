/* test_audit2.c — behaviour checked against Django by the second ORM audit: the order of the
 * delete signals in a cascade, and where the N+1 warning says the repeated query came from. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
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
