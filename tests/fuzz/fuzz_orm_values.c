/* fuzz_orm_values.c — values coming back from the database: a text or blob cell is stored
 * into a field of every type (datetimes, decimals, uuids, numbers, booleans...) and read
 * back as a template value, also into foreign keys whose target key is text (a CharField or
 * UUIDField primary key). Properties: no crash, no leak, no out-of-bounds read. */
#include "orm/internal.h"

#include <stdlib.h>

/* clang-format off */
#define KEY_FIELDS(F) F(code, MN_CHAR, .max_length = 8, .primary_key = true)
MN_MODEL(Key, KEY_FIELDS);
MN_MODEL_DEFINE(Key, fz, KEY_FIELDS);
#define DOC_FIELDS(F) F(id, MN_UUID, .primary_key = true)
MN_MODEL(Doc, DOC_FIELDS);
MN_MODEL_DEFINE(Doc, fz, DOC_FIELDS);

/* foreign keys to a text and a uuid primary key read their key back as text */
#define ALL_FIELDS(F)                                                                      \
    F(id, MN_BIGAUTO)                                                                      \
    F(key, MN_FK, .to = "Key", .null = true)                                               \
    F(doc, MN_FK, .to = "Doc", .null = true)                                               \
    F(i, MN_INT, .null = true)                                                             \
    F(f, MN_FLOAT, .null = true)                                                           \
    F(d, MN_DECIMAL, .max_digits = 12, .decimal_places = 3, .null = true)                  \
    F(b, MN_BOOL, .null = true)                                                            \
    F(s, MN_CHAR, .max_length = 10)                                                        \
    F(day, MN_DATE, .null = true)                                                          \
    F(at, MN_DATETIME, .null = true)                                                       \
    F(clock, MN_TIME, .null = true)                                                        \
    F(u, MN_UUID, .null = true)                                                            \
    F(bin, MN_BINARY, .null = true)                                                        \
    F(j, MN_JSON, .null = true)
/* clang-format on */
MN_MODEL(All, ALL_FIELDS);
MN_MODEL_DEFINE(All, fz, ALL_FIELDS);

static mn_db *db;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db) {
        char err[100];
        db = mn_db_new(&(mn_dbconfig){.url = "sqlite://:memory:"}, err, sizeof err);
        if (!db)
            return 0;
    }
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = mn_orm_new(a, db);
    All *obj = mn_obj_new(o, &All_model);
    if (!obj) {
        mn_arena_free(a);
        return 0;
    }
    char *copy = mn_arena_alloc(a, size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (size_t k = 1; k < All_model.nfields; k++) {
        const mn_fielddef *f = &All_model.fields[k];
        mn_dbcell text = {.type = MN_DBT_TEXT, .v.s = {copy, size}};
        /* a cell as each database gives it back (SQLite's decimals are scaled integers) */
        for (int d = 0; d < 2; d++) {
            mn_dbdialect dialect = d ? MN_DIALECT_POSTGRESQL : MN_DIALECT_SQLITE;
            mn__cell_store(o, obj, f, &text, dialect);
            mn_obj_get_value(o, obj, f->name);
            mn__cell_value(o, f, &text, dialect);
        }
        mn_obj_set(o, obj, f->name, mn_arg_str(copy));
        mn_dbparam p;
        mn__obj_param(o, obj, f, MN_DIALECT_SQLITE, &p);
        mn__obj_param(o, obj, f, MN_DIALECT_POSTGRESQL, &p);
    }
    mn_validation v;
    (void)v;
    mn_datetime dt;
    mn__parse_datetime(copy, size, MN_DATETIME, &dt);
    mn__parse_datetime(copy, size, MN_TIME, &dt);
    mn_arena_free(a);
    return 0;
}
