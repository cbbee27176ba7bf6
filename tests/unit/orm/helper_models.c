/* helper_models.c — the test models' metadata (see helper_models.h). */
#include "helper_models.h"

#include <stdio.h>
#include <string.h>

static const char *question_str(const void *obj, mn_arena *a)
{
    const Question *q = obj;
    return mn_arena_strdup(a, q->text ? q->text : "");
}

static const char *question_url(const void *obj, mn_arena *a)
{
    const Question *q = obj;
    return mn_arena_printf(a, "/polls/%lld/", (long long)q->id);
}

MN_MODEL_DEFINE(Question, polls, QUESTION_FIELDS, .str = question_str, .absolute_url = question_url,
                .get_latest_by = "pub_date");

const mn_choice GENRE_CHOICES[] = {
    {"fi", "Fiction"}, {"nf", "Non-fiction"}, {"po", "Poetry"}, {NULL, NULL}};

MN_MODEL_DEFINE(Author, library, AUTHOR_FIELDS, .ordering = "name");
MN_MODEL_DEFINE(Tag, library, TAG_FIELDS, .ordering = "name");
MN_MODEL_DEFINE(Book, library, BOOK_FIELDS,
                .constraints =
                    (const mn_constraint[]){
                        {MN_CONSTRAINT_CHECK, "price_not_negative", NULL, "price__gte=0"},
                        {MN_CONSTRAINT_UNIQUE, "unique_title_per_author", "title,author", NULL},
                        {0}},
                .indexes = (const mn_index[]){{NULL, "-published,title"}, {0}});
MN_MODEL_DEFINE(Review, library, REVIEW_FIELDS);
MN_MODEL_DEFINE(Shelf, library, SHELF_FIELDS);
MN_MODEL_DEFINE(Everything, misc, EVERYTHING_FIELDS, .db_table = "everything");

int no_shouting(const mn_fielddef *f, const void *obj, mn_arena *a, const char **msg)
{
    (void)f;
    (void)a;
    const Profile *p = obj;
    for (const char *c = p->bio ? p->bio : ""; *c; c++)
        if (*c == '!') {
            *msg = "No shouting, please.";
            return MN_EVALIDATION;
        }
    return 0;
}

void make_code(const mn_fielddef *f, void *obj, mn_arena *a)
{
    (void)f;
    static int next = 1;
    ((Profile *)obj)->code = mn_arena_printf(a, "P-%04d", next++);
}

MN_MODEL_DEFINE(Profile, library, PROFILE_FIELDS);
MN_MODEL_DEFINE(Club, library, CLUB_FIELDS);
MN_MODEL_DEFINE(Membership, library, MEMBERSHIP_FIELDS);
