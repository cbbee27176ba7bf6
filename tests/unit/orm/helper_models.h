/* helper_models.h — the models every ORM test uses: the polls tutorial, a small library
 * (authors, books, tags, reviews, shelves: every on_delete and relation kind), and a model
 * with one field of each type. */
#ifndef MN_TEST_HELPER_MODELS_H
#define MN_TEST_HELPER_MODELS_H

#include <manouche/orm.h>

/* clang-format off */
#define QUESTION_FIELDS(F)                                                                 \
    F(id, MN_BIGAUTO)                                                                      \
    F(text, MN_CHAR, .max_length = 200)                                                    \
    F(pub_date, MN_DATETIME, .verbose_name = "date published")
/* clang-format on */
MN_MODEL(Question, QUESTION_FIELDS);

/* clang-format off */
#define CHOICE_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                      \
    F(question, MN_FK, .to = "polls.Question", .on_delete = MN_CASCADE,                    \
      .related_name = "choices")                                                           \
    F(text, MN_CHAR, .max_length = 200)                                                    \
    F(votes, MN_INT, .default_int = 0)
/* clang-format on */
/* the one-line form of DESIGN.md (no separate MN_MODEL_DEFINE; this header is in every file) */
MN_MODEL(Choice, polls, CHOICE_FIELDS)

/* clang-format off */
#define AUTHOR_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                      \
    F(name, MN_CHAR, .max_length = 100, .unique = true)                                    \
    F(email, MN_EMAIL, .null = true, .blank = true)                                        \
    F(mentor, MN_FK, .to = "self", .on_delete = MN_SET_NULL, .null = true, .blank = true,  \
      .related_name = "mentees")
/* clang-format on */
MN_MODEL(Author, AUTHOR_FIELDS);

/* clang-format off */
#define TAG_FIELDS(F)                                                                      \
    F(id, MN_BIGAUTO)                                                                      \
    F(name, MN_SLUG, .max_length = 30)
/* clang-format on */
MN_MODEL(Tag, TAG_FIELDS);

extern const mn_choice GENRE_CHOICES[];
/* clang-format off */
#define BOOK_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(title, MN_CHAR, .max_length = 200)                                                   \
    F(author, MN_FK, .to = "Author", .on_delete = MN_PROTECT, .related_name = "books")     \
    F(price, MN_DECIMAL, .max_digits = 8, .decimal_places = 2, .default_str = "0.00")      \
    F(pages, MN_POSINT, .default_int = 100)                                                \
    F(published, MN_DATE, .null = true)                                                    \
    F(rating, MN_FLOAT, .default_float = 0)                                                \
    F(in_print, MN_BOOL, .default_bool = true)                                             \
    F(genre, MN_CHAR, .max_length = 2, .choices = GENRE_CHOICES, .default_str = "fi")      \
    F(tags, MN_M2M, .to = "Tag", .related_name = "books")
/* clang-format on */
MN_MODEL(Book, BOOK_FIELDS);

/* clang-format off */
#define REVIEW_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                      \
    F(book, MN_FK, .to = "Book", .on_delete = MN_SET_NULL, .null = true,                   \
      .related_name = "reviews")                                                           \
    F(stars, MN_SMALLINT, .default_int = 3)                                                \
    F(body, MN_TEXT, .blank = true)
/* clang-format on */
MN_MODEL(Review, REVIEW_FIELDS);

/* clang-format off */
#define SHELF_FIELDS(F)                                                                    \
    F(id, MN_BIGAUTO)                                                                      \
    F(book, MN_FK, .to = "Book", .on_delete = MN_RESTRICT, .related_name = "shelves")      \
    F(label, MN_CHAR, .max_length = 20)
/* clang-format on */
MN_MODEL(Shelf, SHELF_FIELDS);

/* clang-format off */
#define PROFILE_FIELDS(F)                                                                  \
    F(id, MN_BIGAUTO)                                                                      \
    F(author, MN_O2O, .to = "Author", .on_delete = MN_CASCADE, .related_name = "profile")  \
    F(bio, MN_TEXT, .blank = true, .validators = {no_shouting})                           \
    F(code, MN_CHAR, .max_length = 12, .default_fn = make_code, .editable = MN_NO,          \
      .help_text = "generated")
/* clang-format on */
int no_shouting(const mn_fielddef *f, const void *obj, mn_arena *a, const char **msg);
void make_code(const mn_fielddef *f, void *obj, mn_arena *a);
MN_MODEL(Profile, PROFILE_FIELDS);

/* clang-format off */
#define CLUB_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(name, MN_CHAR, .max_length = 50)                                                     \
    F(members, MN_M2M, .to = "Author", .through = "library.Membership",                    \
      .related_name = "clubs")
/* clang-format on */
MN_MODEL(Club, CLUB_FIELDS);

/* clang-format off */
#define MEMBERSHIP_FIELDS(F)                                                               \
    F(id, MN_BIGAUTO)                                                                      \
    F(club, MN_FK, .to = "Club", .on_delete = MN_CASCADE)                                  \
    F(author, MN_FK, .to = "Author", .on_delete = MN_CASCADE)                              \
    F(role, MN_CHAR, .max_length = 20, .default_str = "member")
/* clang-format on */
MN_MODEL(Membership, MEMBERSHIP_FIELDS);

/* clang-format off */
#define STAMPED_FIELDS(F)                                                                  \
    F(created, MN_DATETIME, .auto_now_add = true)                                          \
    F(updated, MN_DATETIME, .auto_now = true)
/* clang-format on */
/* clang-format off */
#define EVERYTHING_FIELDS(F)                                                               \
    F(id, MN_BIGAUTO)                                                                      \
    STAMPED_FIELDS(F)                                                                      \
    F(small, MN_SMALLINT, .null = true)                                                    \
    F(big, MN_BIGINT, .null = true)                                                        \
    F(ratio, MN_FLOAT, .null = true)                                                       \
    F(amount, MN_DECIMAL, .max_digits = 12, .decimal_places = 3, .null = true)             \
    F(flag, MN_BOOL, .null = true)                                                         \
    F(url, MN_URL, .blank = true)                                                          \
    F(day, MN_DATE, .null = true)                                                          \
    F(at, MN_DATETIME, .null = true)                                                       \
    F(clock, MN_TIME, .null = true)                                                        \
    F(span, MN_DURATION, .null = true)                                                     \
    F(uid, MN_UUID, .null = true, .unique = true)                                          \
    F(doc, MN_JSON, .null = true)                                                          \
    F(blob, MN_BINARY, .null = true)                                                       \
    F(ip, MN_GENERICIP, .null = true)
/* clang-format on */
MN_MODEL(Everything, EVERYTHING_FIELDS);

#endif
