/* store.h — the polls data: questions and their choices.
 *
 * In memory for now, behind these few calls, so the views read like the Django tutorial's and
 * the move to the ORM touches this module only. Each worker process has its own copy. */
#ifndef POLLS_STORE_H
#define POLLS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct poll_question {
    int64_t id;
    const char *question_text;
    time_t pub_date;
} poll_question;

typedef struct poll_choice {
    int64_t id;
    int64_t question_id;
    const char *choice_text;
    int64_t votes;
} poll_choice;

/* The latest questions published up to now, newest first: fills out, returns how many. */
size_t polls_latest_questions(const poll_question **out, size_t max);
/* A question by id, NULL when there is none (or it is not published yet). */
const poll_question *polls_question_get(int64_t id);
/* The choices of a question in id order: fills out, returns how many. */
size_t polls_choices_of(int64_t question_id, const poll_choice **out, size_t max);
/* Adds one vote to choice_id of question_id: 0, or -1 when that choice is not the question's. */
int polls_vote(int64_t question_id, int64_t choice_id);

#endif
