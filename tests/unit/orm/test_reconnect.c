/* test_reconnect.c — a database that goes away: the query in flight fails cleanly with an
 * OperationalError, and the same session's next query gets a fresh connection. On
 * PostgreSQL the server is really restarted (scripts/with-pg's MN_TEST_PG_CTL); on SQLite
 * there is no server and the test checks the session survives a failed statement. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

DB_SUITE(orm_reconnect);

Test(orm_reconnect, the_session_recovers_after_the_server_restarts)
{
    cr_assert_not_null(mn_raw(t.o, &Tag_model, "SELECT 1 AS id", NULL, 0), "%s", mn_orm_error(t.o));
    const char *ctl = getenv("MN_TEST_PG_CTL");
    if (!tdb_is_pg(&t) || !ctl) {
        cr_expect_null(mn_raw(t.o, &Tag_model, "SELECT nope", NULL, 0));
        cr_expect_not_null(mn_raw(t.o, &Tag_model, "SELECT 2 AS id", NULL, 0));
        return;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "\"%s\" restart >/dev/null 2>&1", ctl);
    cr_assert_eq(system(cmd), 0, "restarting the server");
    cr_expect_null(mn_raw(t.o, &Tag_model, "SELECT 1 AS id", NULL, 0),
                   "the old connection is gone");
    int code = mn_orm_errcode(t.o);
    cr_expect(code == MN_EDB_OPERATIONAL || code == MN_ECLOSED || code == MN_EIO,
              "a clean error: %d %s", code, mn_orm_error(t.o));
    mn_rows *r = mn_raw(t.o, &Tag_model, "SELECT 7 AS id", NULL, 0);
    cr_assert_not_null(r, "reconnected: %s", mn_orm_error(t.o));
    cr_expect_eq(((Tag *)r->items[0])->id, 7);
}
