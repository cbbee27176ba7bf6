/* views.c — the polls views of the Django tutorial (parts 3 and 4): index, detail, results
 * and vote, plus a small JSON API. The data comes from the models in store.h through the
 * request's ORM session; templates read the model instances directly (question.text,
 * question.choices.all). */
#include "polls.h"
#include "store.h"

#include <jansson.h>
#include <string.h>

static void index_view(mn_req *r)
{
    mn_render(r, "polls/index.html",
              MN_CTX("latest_question_list", mn_qs_value(polls_latest_questions(r, 5))));
}

static void detail(mn_req *r)
{
    Question *q = polls_question_or_404(r, mn_path_int(r, "question_id"));
    mn_render(r, "polls/detail.html", MN_CTX("question", mn_obj_value(polls_orm(r), q)));
}

static void results(mn_req *r)
{
    Question *q = polls_question_or_404(r, mn_path_int(r, "question_id"));
    mn_render(r, "polls/results.html", MN_CTX("question", mn_obj_value(polls_orm(r), q)));
}

static void vote(mn_req *r)
{
    Question *q = polls_question_or_404(r, mn_path_int(r, "question_id"));
    const char *choice = mn_req_form(r, "choice");
    int64_t choice_id, voted = 0;
    if (choice && mn_str_to_i64(mn_str_from(choice), &choice_id) == 0)
        voted = polls_vote(r, q, choice_id);
    if (voted < 0) /* the database failed: an error, as Django's exception, not a form error */
        mn_http_500(r, mn_orm_error(polls_orm(r)));
    if (voted != 1) {
        /* redisplay the voting form, as the tutorial does */
        mn_resp_status(r, 200);
        mn_render(r, "polls/detail.html",
                  MN_CTX("question", mn_obj_value(polls_orm(r), q), "error_message",
                         "You didn't select a choice."));
        return;
    }
    /* redirect after a POST, so that Back does not vote twice */
    mn_redirect(r, mn_reverse(r, "polls:results", q->id));
}

static void api_questions(mn_req *r)
{
    json_t *list = json_array();
    MN_FOREACH(Question, q, polls_latest_questions(r, 5))
    {
        json_t *choices = json_array();
        MN_FOREACH(Choice, c, polls_choices_of(r, q))
        {
            json_array_append_new(choices,
                                  json_pack("{s:I, s:s, s:I}", "id", (json_int_t)c->id,
                                            "choice_text", c->text, "votes", (json_int_t)c->votes));
        }
        json_array_append_new(list, json_pack("{s:I, s:s, s:o}", "id", (json_int_t)q->id,
                                              "question_text", q->text, "choices", choices));
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
