/* store.h — the polls data: the Question and Choice models and the few queries the views run.
 *
 * The models are DESIGN.md's X-macro lists, the single source of truth the ORM (and later
 * migrations, forms and the admin) reads. The data lives in DATABASE_URL (default: the SQLite
 * file db.sqlite3 in this folder); the tables are made at the first request and seeded with
 * the tutorial's questions when empty. Every query goes through the request's session
 * (mn_req_orm), so it is logged, counted by tests and, on PostgreSQL, parks the coroutine. */
#ifndef POLLS_STORE_H
#define POLLS_STORE_H

#include <manouche/manouche.h>

#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define QUESTION_FIELDS(F)                                   \
    F(id,       MN_BIGAUTO)                                  \
    F(text,     MN_CHAR,     .max_length = 200)              \
    F(pub_date, MN_DATETIME, .verbose_name = "date published")
/* clang-format on */
MN_MODEL(Question, polls, QUESTION_FIELDS)

/* clang-format off */
#define CHOICE_FIELDS(F)                                     \
    F(id,       MN_BIGAUTO)                                  \
    F(question, MN_FK,  .to = "polls.Question", .on_delete = MN_CASCADE, \
                        .related_name = "choices")           \
    F(text,     MN_CHAR, .max_length = 200)                  \
    F(votes,    MN_INT,  .default_int = 0)
/* clang-format on */
MN_MODEL(Choice, polls, CHOICE_FIELDS)

/* Writes the tutorial's questions and choices when there is no question yet: 0 or negative. */
int polls_seed_if_empty(mn_orm *o) MN_MAY_YIELD;
/* The request's session, after seeding an empty database once per process. */
mn_orm *polls_orm(mn_req *r) MN_MAY_YIELD;
/* The questions published up to now (lazy; `now` is kept in a), or NULL without memory. */
mn_qs *polls_published(mn_orm *o, mn_arena *a);
/* The questions published up to now, newest first (lazy: runs when iterated). */
mn_qs *polls_latest_questions(mn_req *r, int64_t max);
/* A published question; ends the view with 404 when there is none. */
Question *polls_question_or_404(mn_req *r, int64_t id) MN_MAY_YIELD;
/* The choices of q in id order (lazy). As mn_related, it passes on the caller's file and
 * line: an N+1 warning then names the view's loop, not this helper. */
mn_qs *polls_choices_of_at(mn_req *r, const Question *q, const char *file, int line);
#define polls_choices_of(r, q) polls_choices_of_at((r), (q), __FILE__, __LINE__)
/* Adds one vote to choice_id of q in one UPDATE (F("votes") + 1, no lost votes under
 * concurrency): 1, 0 when that choice is not q's, negative on a database error. */
int64_t polls_vote(mn_req *r, const Question *q, int64_t choice_id) MN_MAY_YIELD;

#endif
