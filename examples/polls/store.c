/* store.c — the polls queries (see store.h) and the tutorial's sample data, written when the
 * database has no question yet. */
#include "store.h"

#include <time.h>

static mn_datetime utc(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    mn_datetime dt = {tm.tm_year + 1900,
                      tm.tm_mon + 1,
                      tm.tm_mday,
                      tm.tm_hour,
                      tm.tm_min,
                      tm.tm_sec,
                      0,
                      0,
                      true,
                      "UTC"};
    return dt;
}

/* Fixed ids, so that the tutorial's links (/polls/1/, choice=2) mean the same everywhere. */
static const struct {
    int64_t id;
    const char *text;
    time_t pub_date;
} questions[] = {
    {1, "What's up?", 1764460800}, /* 2025-11-30 */
    {2, "What's your favourite framework?", 1764547200},
    {3, "Tabs or spaces?", 1764633600},
    {4, "A question from the future", 4102444800}, /* 2100: never listed, as the tutorial */
};

static const struct {
    int64_t id, question;
    const char *text;
} choices[] = {
    {1, 1, "Not much"}, {2, 1, "The sky"},   {3, 1, "Just hacking again"},
    {4, 2, "Manouche"}, {5, 2, "Django"},    {6, 3, "Tabs"},
    {7, 3, "Spaces"},   {8, 4, "Who knows"},
};

static int seed(mn_orm *o, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < sizeof questions / sizeof questions[0]; i++) {
        mn_datetime when = utc(questions[i].pub_date);
        if (!mn_create(o, Question, "id", questions[i].id, "text", questions[i].text, "pub_date",
                       &when))
            return mn_orm_errcode(o);
    }
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
        if (!mn_create(o, Choice, "id", choices[i].id, "question", choices[i].question, "text",
                       choices[i].text))
            return mn_orm_errcode(o);
    /* PostgreSQL's identity sequences do not see explicit ids: move them past the seed, so
     * that the next question or choice created gets a free id (SQLite's AUTOINCREMENT does). */
    mn_dbconn *c = mn_orm_conn(o, NULL);
    if (c && mn_dbconn_dialect(c) == MN_DIALECT_POSTGRESQL)
        return mn_dbconn_exec_script(
            c, "SELECT setval(pg_get_serial_sequence('polls_question', 'id'), "
               "(SELECT max(id) FROM polls_question));"
               "SELECT setval(pg_get_serial_sequence('polls_choice', 'id'), "
               "(SELECT max(id) FROM polls_choice))");
    return 0;
}

int polls_seed_if_empty(mn_orm *o)
{
    int64_t n = mn_qs_count(mn_all(o, Question));
    if (n < 0)
        return (int)n;
    int rc = n == 0 ? mn_atomic(o, seed, NULL) : 0;
    if (rc == MN_EDB_INTEGRITY) /* another worker seeded first */
        rc = 0;
    if (rc == 0)
        mn_orm_clear_error(o);
    return rc;
}

mn_orm *polls_orm(mn_req *r)
{
    static bool seeded; /* once per worker process */
    mn_orm *o = mn_req_orm(r);
    if (!seeded && polls_seed_if_empty(o) != 0)
        mn_http_500(r, mn_orm_error(o));
    seeded = true;
    return o;
}

mn_qs *polls_published(mn_orm *o, mn_arena *a)
{
    /* the queryset is lazy and keeps the pointer: the value must outlive this frame */
    mn_datetime *now = mn_arena_alloc(a, sizeof *now);
    if (!now)
        return NULL;
    *now = utc(time(NULL));
    return mn_filter(mn_all(o, Question), "pub_date__lte", now);
}

static mn_qs *published(mn_req *r)
{
    mn_qs *qs = polls_published(polls_orm(r), mn_req_arena(r));
    if (!qs)
        mn_http_500(r, "out of memory");
    return qs;
}

mn_qs *polls_latest_questions(mn_req *r, int64_t max)
{
    return mn_qs_slice(mn_qs_order_by(published(r), "-pub_date"), 0, max);
}

Question *polls_question_or_404(mn_req *r, int64_t id)
{
    polls_orm(r);
    mn_datetime now = utc(time(NULL)); /* get_or_404 runs the query before returning */
    return mn_get_or_404(r, Question, "pk", id, "pub_date__lte", &now);
}

mn_qs *polls_choices_of_at(mn_req *r, const Question *q, const char *file, int line)
{
    return mn_qs_order_by(mn_related_at(polls_orm(r), q, "choices", file, line), "id");
}

int64_t polls_vote(mn_req *r, const Question *q, int64_t choice_id)
{
    mn_orm *o = polls_orm(r);
    return mn_update(mn_filter(mn_all(o, Choice), "pk", choice_id, "question", q->id), "votes",
                     mn_F_add(o, "votes", 1));
}
