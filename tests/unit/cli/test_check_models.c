/* `check` runs the model checks as Django's system checks do: a Meta.ordering naming a field
 * that does not exist (models.E015) is an error, reported with the model and the closest
 * name, before any request or query. (Its own executable: the broken model is registered
 * for the whole process.) */
#include <manouche/cli.h>
#include <manouche/orm.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

/* clang-format off */
#define TICKET_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                      \
    F(title, MN_CHAR, .max_length = 100)                                                   \
    F(opened, MN_DATE, .null = true)
MN_MODEL(Ticket, desk, TICKET_FIELDS, .ordering = "-opend");
/* clang-format on */

static void v(mn_req *r)
{
    mn_resp_puts(r, "ok");
}

static const mn_route urls[] = {
    MN_PATH("", v, "index"),
    MN_END,
};

static const mn_app desk = {"desk", NULL, NULL, NULL, NULL, NULL, NULL, NULL};
static const mn_app *const apps[] = {&desk, NULL};
static const mn_project project = {"desk", urls, apps, NULL,          NULL,
                                   NULL,   NULL, NULL, "/nonexistent"};

Test(cli_check_models, a_misspelt_ordering_fails_check, .init = cr_redirect_stdout)
{
    cr_redirect_stderr();
    char *argv[] = {(char *)"./desk", (char *)"check", NULL};
    cr_assert_eq(mn_main(2, argv, &project), MN_EXIT_FAILURE);
    fflush(stdout);
    fflush(stderr);
    cr_assert_stderr_eq_str("\nERRORS:\ndesk.Ticket: (models.E015) 'ordering' refers to the "
                            "nonexistent field, related field, or lookup 'opend'; did you mean "
                            "'opened'?\n");
}
