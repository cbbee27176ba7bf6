/* store.c — the in-memory polls data (see store.h), seeded with the tutorial's questions. */
#include "store.h"

static poll_question questions[] = {
    {1, "What's up?", 1764460800},        /* 2025-11-30 */
    {2, "What's your favourite framework?", 1764547200},
    {3, "Tabs or spaces?", 1764633600},
    {4, "A question from the future", 4102444800}, /* 2100: never listed, as the tutorial */
};

static poll_choice choices[] = {
    {1, 1, "Not much", 0},
    {2, 1, "The sky", 0},
    {3, 1, "Just hacking again", 0},
    {4, 2, "Manouche", 0},
    {5, 2, "Django", 0},
    {6, 3, "Tabs", 0},
    {7, 3, "Spaces", 0},
    {8, 4, "Who knows", 0},
};

enum {
    QUESTION_COUNT = sizeof questions / sizeof questions[0],
    CHOICE_COUNT = sizeof choices / sizeof choices[0],
};

static int published(const poll_question *q)
{
    return q->pub_date <= time(NULL);
}

size_t polls_latest_questions(const poll_question **out, size_t max)
{
    size_t n = 0;
    for (size_t i = QUESTION_COUNT; i-- > 0 && n < max;)
        if (published(&questions[i]))
            out[n++] = &questions[i];
    return n;
}

const poll_question *polls_question_get(int64_t id)
{
    for (size_t i = 0; i < QUESTION_COUNT; i++)
        if (questions[i].id == id && published(&questions[i]))
            return &questions[i];
    return NULL;
}

size_t polls_choices_of(int64_t question_id, const poll_choice **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < CHOICE_COUNT && n < max; i++)
        if (choices[i].question_id == question_id)
            out[n++] = &choices[i];
    return n;
}

int polls_vote(int64_t question_id, int64_t choice_id)
{
    for (size_t i = 0; i < CHOICE_COUNT; i++)
        if (choices[i].id == choice_id && choices[i].question_id == question_id) {
            choices[i].votes++;
            return 0;
        }
    return -1;
}
