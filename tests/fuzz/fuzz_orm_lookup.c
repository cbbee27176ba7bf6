/* fuzz_orm_lookup.c — lookup-string parsing and SQL compilation. The input is split on
 * newlines into a filter lookup path, an order_by list, a values() list and a
 * select_related path; each is compiled for both dialects. Properties: no crash, no leak,
 * and a lookup value never appears in the SQL text (it must be a bound parameter). */
#include <manouche/orm.h>

#include <stdlib.h>
#include <string.h>

/* clang-format off */
#define AUTHOR_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                      \
    F(name, MN_CHAR, .max_length = 50)                                                     \
    F(born, MN_DATE, .null = true)                                                         \
    F(mentor, MN_FK, .to = "self", .null = true, .on_delete = MN_SET_NULL)
/* clang-format on */
MN_MODEL(Author, AUTHOR_FIELDS);
MN_MODEL_DEFINE(Author, fz, AUTHOR_FIELDS);

/* clang-format off */
#define BOOK_FIELDS(F)                                                                     \
    F(id, MN_BIGAUTO)                                                                      \
    F(title, MN_CHAR, .max_length = 50)                                                    \
    F(price, MN_DECIMAL, .max_digits = 6, .decimal_places = 2)                             \
    F(at, MN_DATETIME)                                                                     \
    F(author, MN_FK, .to = "Author", .related_name = "books")                             \
    F(tags, MN_M2M, .to = "Tag", .related_name = "books")
/* clang-format on */
MN_MODEL(Book, BOOK_FIELDS);
MN_MODEL_DEFINE(Book, fz, BOOK_FIELDS);

/* clang-format off */
#define TAG_FIELDS(F) F(id, MN_BIGAUTO) F(name, MN_SLUG)
/* clang-format on */
MN_MODEL(Tag, TAG_FIELDS);
MN_MODEL_DEFINE(Tag, fz, TAG_FIELDS);

static mn_db *dbs[2];

static void check(mn_orm *o, mn_qs *qs)
{
    size_t n = 0;
    const char *sql = mn_qs_sql(qs, &n);
    if (sql && strstr(sql, "FUZZVALUE"))
        abort(); /* a value leaked into the SQL text */
    (void)o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dbs[0]) {
        char err[100];
        dbs[0] = mn_db_new(&(mn_dbconfig){.url = "sqlite://:memory:"}, err, sizeof err);
        dbs[1] = mn_db_new(&(mn_dbconfig){.url = "postgres://u@127.0.0.1:1/none"}, err, sizeof err);
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *parts[4] = {"", "", "", ""};
    char *p = text;
    for (int i = 0; i < 4 && p; i++) {
        parts[i] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    for (int d = 0; d < 2; d++) {
        if (!dbs[d])
            continue;
        mn_arena *a = mn_arena_new(0);
        mn_orm *o = mn_orm_new(a, dbs[d]);
        mn_qs *base = mn_qs_all(o, &Book_model);
        check(o, mn_qs_filter_kv(base, &(mn_kv){parts[0], mn_arg_str("FUZZVALUE")}, 1));
        check(o, mn_qs_exclude_kv(base, &(mn_kv){parts[0], mn_arg_int(7)}, 1));
        check(o, mn_qs_filter_kv(mn_qs_all(o, &Author_model),
                                 &(mn_kv){parts[0], MN_IN_STR("FUZZVALUE", "x")}, 1));
        check(o, mn_qs_order_by(base, parts[1]));
        check(o, mn_qs_values(base, parts[2]));
        check(o, mn_qs_select_related(base, parts[3]));
        check(o, mn_qs_annotate(base, "n", mn_Count(o, parts[0], false, NULL)));
        mn_arena_free(a);
    }
    free(text);
    return 0;
}
