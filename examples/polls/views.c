/* views.c — the polls views of the Django tutorial (parts 3 and 4): index, detail, results
 * and vote, plus a small JSON API. The data comes from store.h. */
#include "polls.h"
#include "store.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

enum { MAX_CHOICES = 32 };

static mn_value *question_value(mn_req *r, const poll_question *q, bool with_choices)
{
    mn_arena *a = mn_req_arena(r);
    mn_value *d = mn_value_dict(a, 4);
    struct tm tm;
    gmtime_r(&q->pub_date, &tm);
    mn_datetime dt = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, 0, 0, true, "UTC"};
    mn_value_dict_set_cstr(a, d, "id", mn_value_int(a, q->id));
    mn_value_dict_set_cstr(a, d, "question_text", mn_value_cstr(a, q->question_text));
    mn_value_dict_set_cstr(a, d, "pub_date", mn_value_datetime(a, &dt));
    if (with_choices) {
        const poll_choice *cs[MAX_CHOICES];
        size_t n = polls_choices_of(q->id, cs, MAX_CHOICES);
        mn_value *list = mn_value_list(a, n);
        for (size_t i = 0; i < n; i++) {
            mn_value *c = mn_value_dict(a, 3);
            mn_value_dict_set_cstr(a, c, "id", mn_value_int(a, cs[i]->id));
            mn_value_dict_set_cstr(a, c, "choice_text", mn_value_cstr(a, cs[i]->choice_text));
            mn_value_dict_set_cstr(a, c, "votes", mn_value_int(a, cs[i]->votes));
            mn_value_list_append(a, list, c);
        }
        /* question.choice_set.all, as the tutorial's templates say it */
        mn_value *set = mn_value_dict(a, 1);
        mn_value_dict_set_cstr(a, set, "all", list);
        mn_value_dict_set_cstr(a, d, "choice_set", set);
    }
    return d;
}

static const poll_question *get_question_or_404(mn_req *r)
{
    const poll_question *q = polls_question_get(mn_path_int(r, "question_id"));
    if (!q)
        mn_http_404(r, "No Question matches the given query.");
    return q;
}

static void index_view(mn_req *r)
{
    const poll_question *qs[5];
    size_t n = polls_latest_questions(qs, 5);
    mn_arena *a = mn_req_arena(r);
    mn_value *list = mn_value_list(a, n);
    for (size_t i = 0; i < n; i++)
        mn_value_list_append(a, list, question_value(r, qs[i], false));
    mn_render(r, "polls/index.html", MN_CTX("latest_question_list", list));
}

static void detail(mn_req *r)
{
    const poll_question *q = get_question_or_404(r);
    mn_render(r, "polls/detail.html", MN_CTX("question", question_value(r, q, true)));
}

static void results(mn_req *r)
{
    const poll_question *q = get_question_or_404(r);
    mn_render(r, "polls/results.html", MN_CTX("question", question_value(r, q, true)));
}

static void vote(mn_req *r)
{
    const poll_question *q = get_question_or_404(r);
    const char *choice = mn_req_form(r, "choice");
    int64_t choice_id;
    if (!choice || mn_str_to_i64(mn_str_from(choice), &choice_id) != 0 ||
        polls_vote(q->id, choice_id) != 0) {
        /* redisplay the voting form, as the tutorial does */
        mn_resp_status(r, 200);
        mn_render(r, "polls/detail.html",
                  MN_CTX("question", question_value(r, q, true), "error_message",
                         "You didn't select a choice."));
        return;
    }
    /* redirect after a POST, so that Back does not vote twice */
    mn_redirect(r, mn_reverse(r, "polls:results", q->id));
}

static void api_questions(mn_req *r)
{
    const poll_question *qs[5];
    size_t n = polls_latest_questions(qs, 5);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const poll_choice *cs[MAX_CHOICES];
        size_t k = polls_choices_of(qs[i]->id, cs, MAX_CHOICES);
        json_t *choices = json_array();
        for (size_t j = 0; j < k; j++)
            json_array_append_new(choices, json_pack("{s:I, s:s, s:I}", "id",
                                                     (json_int_t)cs[j]->id, "choice_text",
                                                     cs[j]->choice_text, "votes",
                                                     (json_int_t)cs[j]->votes));
        json_array_append_new(list, json_pack("{s:I, s:s, s:o}", "id", (json_int_t)qs[i]->id,
                                              "question_text", qs[i]->question_text,
                                              "choices", choices));
    }
    mn_json(r, 200, json_pack("{s:o}", "questions", list));
}

const mn_route polls_urls[] = {
    MN_PATH("", index_view, "index"),
    MN_PATH("<int:question_id>/", detail, "detail"),
    MN_PATH("<int:question_id>/results/", results, "results"),
    MN_PATH_METHODS("<int:question_id>/vote/", vote, "vote", "POST"),
    MN_PATH_METHODS("api/questions/", api_questions, "api-questions", "GET"),
    MN_END,
};
