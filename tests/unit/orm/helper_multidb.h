/* helper_multidb.h — the fixture of the multiple-database tests: the test database `t`
 * ("default") and a second SQLite database `other`, plus the small helpers their tests share. */
#ifndef MN_TEST_HELPER_MULTIDB_H
#define MN_TEST_HELPER_MULTIDB_H

#include "helper_db.h"
#include "helper_models.h"

#include <criterion/criterion.h>

/* Declares `t`, `other` and the suite NAME, each of whose tests starts on fresh databases. */
#define MULTIDB_SUITE(name)                                                                        \
    static testdb t;                                                                               \
    static tdb_other other;                                                                        \
    static void multidb_suite_setup(void)                                                          \
    {                                                                                              \
        tdb_open(&t);                                                                              \
        tdb_other_open(&t, &other);                                                                \
    }                                                                                              \
    static void multidb_suite_teardown(void)                                                       \
    {                                                                                              \
        tdb_close(&t); /* gives back the session's connections, "other"'s too */                   \
        tdb_other_close(&other);                                                                   \
    }                                                                                              \
    TestSuite(name, .init = multidb_suite_setup, .fini = multidb_suite_teardown);                  \
    /* the row count of qs; fails the test when the query fails */                                 \
    static inline int64_t count(mn_qs *qs)                                                         \
    {                                                                                              \
        int64_t n = mn_qs_count(qs);                                                               \
        cr_assert_geq(n, 0, "%s", mn_orm_error(t.o));                                              \
        return n;                                                                                  \
    }

#define ON(Model, alias) mn_qs_using(mn_all(t.o, Model), (alias))

/* The database an instance came from or was saved to (Django's _state.db). */
static inline const char *db_of(const void *obj)
{
    return obj ? ((const mn_obj *)obj)->db : "(no object)";
}

/* The pub_date the tests give their questions. */
static const mn_datetime when = {2024, 5, 1, 12, 0, 0, 0, 0, true, "UTC"};

#endif
