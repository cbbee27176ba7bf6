/* test_to_field.c — ForeignKey(to_field=...) and OneToOneField(to_field=...): relations that
 * hold another unique field of the target than its primary key (a Nation's two-letter code,
 * a Team's shirt number). The column stores that field's value, and every path follows it:
 * schema, create/save, filters across the relation, select_related, prefetch_related both
 * ways, the delete collector (CASCADE, SET_NULL, PROTECT), values(), templates, full_clean,
 * and the registry's checks of a to_field that is missing or not unique (Django's fields.E312
 * and fields.E311). Runs on SQLite and PostgreSQL like every ORM test. */
#include "helper_db.h"
#include "helper_render.h"

#include <criterion/criterion.h>
#include <manouche/template.h>
#include <string.h>

/* clang-format off */
#define NATION_FIELDS(F)                                                                    \
    F(id, MN_BIGAUTO)                                                                       \
    F(code, MN_CHAR, .max_length = 2, .unique = true)                                       \
    F(name, MN_CHAR, .max_length = 100)
MN_MODEL(Nation, tofield, NATION_FIELDS, .ordering = "code");

#define TOWN_FIELDS(F)                                                                      \
    F(id, MN_BIGAUTO)                                                                       \
    F(name, MN_CHAR, .max_length = 100)                                                     \
    F(nation, MN_FK, .to = "Nation", .to_field = "code", .on_delete = MN_CASCADE,           \
      .related_name = "towns")
MN_MODEL(Town, tofield, TOWN_FIELDS, .ordering = "name");

/* an O2O by code that protects its nation */
#define EMBASSY_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                       \
    F(nation, MN_O2O, .to = "Nation", .to_field = "code", .on_delete = MN_PROTECT,          \
      .related_name = "embassy")                                                            \
    F(street, MN_CHAR, .max_length = 100)
MN_MODEL(Embassy, tofield, EMBASSY_FIELDS);

/* an integer to_field: the shirt number, not the row's id */
#define TEAM_FIELDS(F)                                                                      \
    F(id, MN_BIGAUTO)                                                                       \
    F(number, MN_INT, .unique = true)                                                       \
    F(name, MN_CHAR, .max_length = 100)
MN_MODEL(Team, tofield, TEAM_FIELDS, .ordering = "number");

#define PLAYER_FIELDS(F)                                                                    \
    F(id, MN_BIGAUTO)                                                                       \
    F(name, MN_CHAR, .max_length = 100)                                                     \
    F(team, MN_FK, .to = "Team", .to_field = "number", .null = true,                        \
      .on_delete = MN_SET_NULL, .related_name = "players")
MN_MODEL(Player, tofield, PLAYER_FIELDS, .ordering = "name");

#define SPARE_FIELDS(F) F(id, MN_BIGAUTO)
MN_MODEL(Spare, tofield, SPARE_FIELDS);
/* clang-format on */

static testdb t;
static Nation *fr, *de;
static Team *red, *blue; /* numbers 10 and 20, ids 1 and 2: never the same */
static void setup(void)
{
    tdb_open(&t);
    fr = mn_create(t.o, Nation, "code", "FR", "name", "France");
    de = mn_create(t.o, Nation, "code", "DE", "name", "Germany");
    red = mn_create(t.o, Team, "number", 10, "name", "Red");
    blue = mn_create(t.o, Team, "number", 20, "name", "Blue");
    cr_assert(fr && de && red && blue, "%s", mn_orm_error(t.o));
}
static void teardown(void)
{
    tdb_close(&t);
}
TestSuite(orm_to_field, .init = setup, .fini = teardown);

static size_t count_rows(mn_qs *qs)
{
    int64_t n = mn_qs_count(qs);
    cr_assert_geq(n, 0, "%s", mn_orm_error(t.o));
    return (size_t)n;
}

static const char *schema_of(const mn_model *m, mn_dbdialect d)
{
    mn_buf b;
    mn_buf_init(&b, t.arena);
    cr_assert_eq(mn_schema_sql(m, d, t.arena, &b), 0, "%s", m->name);
    return mn_buf_cstr(&b);
}

Test(orm_to_field, schema_references_the_to_field_column)
{
    const char *town = schema_of(&Town_model, MN_DIALECT_POSTGRESQL);
    cr_expect_not_null(strstr(town, "\"nation_id\" varchar(2) NOT NULL REFERENCES "
                                    "\"tofield_nation\" (\"code\")"),
                       "%s", town);
    const char *player = schema_of(&Player_model, MN_DIALECT_POSTGRESQL);
    cr_expect_not_null(strstr(player, "\"team_id\" integer NULL REFERENCES \"tofield_team\" "
                                      "(\"number\")"),
                       "%s", player);
    const char *emb = schema_of(&Embassy_model, MN_DIALECT_SQLITE);
    cr_expect_not_null(strstr(emb, "REFERENCES \"tofield_nation\" (\"code\")"), "%s", emb);
    cr_expect_eq(mn_model_field(&Town_model, "nation")->rel_field,
                 mn_model_field(&Nation_model, "code"));
}

Test(orm_to_field, create_and_save_store_the_to_field_value)
{
    Town *paris = mn_create(t.o, Town, "name", "Paris", "nation", fr);
    cr_assert_not_null(paris, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(paris->nation.key, "FR", "the code, not the id");
    cr_expect_eq(paris->nation.obj, fr);
    Town *lyon = mn_create(t.o, Town, "name", "Lyon", "nation", "FR");
    cr_assert_not_null(lyon, "%s", mn_orm_error(t.o));
    Town *bonn = mn_new(t.o, Town);
    bonn->name = "Bonn";
    bonn->nation.key = "DE"; /* Django's town.nation_id = "DE" */
    cr_assert_eq(mn_save(t.o, bonn), 0, "%s", mn_orm_error(t.o));
    Town *back = mn_get(mn_all(t.o, Town), "pk", bonn->id);
    cr_assert_not_null(back, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(back->nation.key, "DE");
    Nation *n = mn_fk_get(t.o, back, "nation");
    cr_assert_not_null(n, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(n->name, "Germany");
    /* an instance assigned to the struct: its code is sent at save */
    Town *metz = mn_new(t.o, Town);
    metz->name = "Metz";
    metz->nation.obj = fr;
    cr_assert_eq(mn_save(t.o, metz), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(metz->nation.key, "FR");
    /* an integer to_field: the team's number goes in the id */
    Player *ann = mn_create(t.o, Player, "name", "Ann", "team", blue);
    cr_assert_not_null(ann, "%s", mn_orm_error(t.o));
    cr_expect_eq(ann->team.id, 20);
    Player *bob = mn_new(t.o, Player);
    bob->name = "Bob";
    bob->team.obj = red;
    cr_assert_eq(mn_save(t.o, bob), 0, "%s", mn_orm_error(t.o));
    Player *got = mn_get(mn_all(t.o, Player), "pk", bob->id);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_eq(got->team.id, 10);
    cr_expect_str_eq(((Team *)mn_fk_get(t.o, got, "team"))->name, "Red");
    /* a value the target does not hold: the database refuses it */
    cr_expect_null(mn_create(t.o, Town, "name", "Atlantis", "nation", "ZZ"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY);
    /* an integer given for a text to_field is named */
    Town *wrong = mn_new(t.o, Town);
    wrong->name = "Nowhere";
    wrong->nation.id = fr->id;
    cr_expect_eq(mn_save(t.o, wrong), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Town.nation points to Nation, whose to_field 'code' is a CharField: set "
                     "nation.key (the text key), not nation.id");
}

Test(orm_to_field, filters_across_the_relation)
{
    cr_assert_not_null(mn_create(t.o, Town, "name", "Paris", "nation", fr));
    cr_assert_not_null(mn_create(t.o, Town, "name", "Lyon", "nation", fr));
    cr_assert_not_null(mn_create(t.o, Town, "name", "Bonn", "nation", de));
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation", fr)), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation", "DE")), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation_id", "FR")), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation__name", "Germany")), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation__pk", de->id)), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation__in", MN_IN_STR("DE", "IT"))), 1);
    cr_expect_eq(count_rows(mn_exclude(mn_all(t.o, Town), "nation", fr)), 1);
    mn_arg both[] = {mn_arg_obj(fr), mn_arg_obj(de)};
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation__in", mn_arg_list(both, 2))), 3);
    mn_qs *french = mn_filter(mn_all(t.o, Nation), "name", "France");
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation__in", french)), 2,
                 "a queryset of nations stands for their codes");
    /* nation__code is the column itself: no join */
    size_t np = 0;
    const char *sql = mn_qs_sql(mn_filter(mn_all(t.o, Town), "nation__code", "FR"), &np);
    cr_assert_not_null(sql, "%s", mn_orm_error(t.o));
    cr_expect_null(strstr(sql, "JOIN"), "%s", sql);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation__code", "FR")), 2);
    /* reverse: nations by their towns, and the related manager */
    Nation *n = mn_get(mn_all(t.o, Nation), "towns__name", "Bonn");
    cr_assert_not_null(n, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(n->code, "DE");
    cr_expect_eq(count_rows(mn_related(t.o, fr, "towns")), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Nation), "towns__isnull", true)), 0);
    /* integers: team=obj compares its number, not its id */
    cr_assert_not_null(mn_create(t.o, Player, "name", "Ann", "team", blue));
    cr_assert_not_null(mn_create(t.o, Player, "name", "Bob", "team", red));
    cr_assert_not_null(mn_create(t.o, Player, "name", "Cy", "team", 20));
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Player), "team", blue)), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Player), "team", 20)), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Player), "team__number__gte", 15)), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Player), "team__name", "Red")), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Team), "players__name", "Cy")), 1);
    cr_expect_eq(count_rows(mn_related(t.o, blue, "players")), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Player), "team__in",
                                      mn_filter(mn_all(t.o, Team), "name", "Red"))),
                 1);
    /* update() sets the column to the target's code */
    cr_expect_eq(mn_update(mn_filter(mn_all(t.o, Town), "name", "Lyon"), "nation", de), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation", "DE")), 2);
}

Test(orm_to_field, select_related_joins_on_the_to_field)
{
    cr_assert_not_null(mn_create(t.o, Town, "name", "Paris", "nation", fr));
    cr_assert_not_null(mn_create(t.o, Town, "name", "Bonn", "nation", de));
    cr_assert_not_null(mn_create(t.o, Player, "name", "Ann", "team", blue));
    cr_assert_not_null(mn_create(t.o, Player, "name", "Zed"));
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *rows = mn_qs_fetch(mn_qs_select_related(mn_all(t.o, Town), "nation"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    cr_expect_str_eq(((Nation *)((Town *)rows->items[0])->nation.obj)->name, "Germany");
    cr_expect_str_eq(((Nation *)((Town *)rows->items[1])->nation.obj)->name, "France");
    rows = mn_qs_fetch(mn_qs_select_related(mn_all(t.o, Player), "team"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    Team *tm = ((Player *)rows->items[0])->team.obj;
    cr_assert_not_null(tm);
    cr_expect_str_eq(tm->name, "Blue");
    cr_expect_null(((Player *)rows->items[1])->team.obj, "a NULL key joins nothing");
    cr_expect_eq(log.count, 2, "one query each");
    mn_orm_set_log(t.o, NULL);
}

Test(orm_to_field, prefetch_related_matches_on_the_to_field)
{
    cr_assert_not_null(mn_create(t.o, Town, "name", "Paris", "nation", fr));
    cr_assert_not_null(mn_create(t.o, Town, "name", "Lyon", "nation", fr));
    cr_assert_not_null(mn_create(t.o, Town, "name", "Bonn", "nation", de));
    cr_assert_not_null(mn_create(t.o, Player, "name", "Ann", "team", blue));
    cr_assert_not_null(mn_create(t.o, Player, "name", "Bob", "team", blue));
    cr_assert_not_null(mn_create(t.o, Player, "name", "Cy", "team", red));
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    /* forward */
    mn_rows *rows = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Town), "nation"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 3);
    cr_expect_str_eq(((Nation *)((Town *)rows->items[0])->nation.obj)->code, "DE");
    cr_expect_str_eq(((Nation *)((Town *)rows->items[1])->nation.obj)->code, "FR");
    cr_expect_str_eq(((Nation *)((Town *)rows->items[2])->nation.obj)->code, "FR");
    rows = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Player), "team"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 3);
    cr_expect_str_eq(((Team *)((Player *)rows->items[2])->team.obj)->name, "Red");
    cr_expect_eq(log.count, 4, "two queries per prefetch");
    /* reverse */
    log.count = 0;
    rows = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Nation), "towns"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    mn_rows *de_towns = mn_qs_fetch(mn_related(t.o, rows->items[0], "towns"));
    mn_rows *fr_towns = mn_qs_fetch(mn_related(t.o, rows->items[1], "towns"));
    cr_assert(de_towns && fr_towns);
    cr_expect_eq(de_towns->len, 1);
    cr_expect_eq(fr_towns->len, 2);
    rows = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Team), "players"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    mn_rows *reds = mn_qs_fetch(mn_related(t.o, rows->items[0], "players"));
    mn_rows *blues = mn_qs_fetch(mn_related(t.o, rows->items[1], "players"));
    cr_assert(reds && blues);
    cr_expect_eq(reds->len, 1);
    cr_expect_eq(blues->len, 2);
    cr_expect_eq(log.count, 4, "the owners, then all their rows, twice; none per object");
    mn_orm_set_log(t.o, NULL);
}

Test(orm_to_field, delete_cascades_sets_null_and_protects_through_the_to_field)
{
    cr_assert_not_null(mn_create(t.o, Town, "name", "Paris", "nation", fr));
    cr_assert_not_null(mn_create(t.o, Town, "name", "Lyon", "nation", fr));
    cr_assert_not_null(mn_create(t.o, Town, "name", "Bonn", "nation", de));
    /* CASCADE */
    int64_t n = mn_delete(t.o, fr, NULL);
    cr_expect_eq(n, 3, "the nation and its two towns: %s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_all(t.o, Town)), 1);
    /* SET_NULL */
    Player *ann = mn_create(t.o, Player, "name", "Ann", "team", blue);
    Player *bob = mn_create(t.o, Player, "name", "Bob", "team", red);
    cr_assert(ann && bob, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_delete(t.o, blue, NULL), 1, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_refresh(t.o, ann), 0, "%s", mn_orm_error(t.o));
    cr_expect(mn_obj_is_null(ann, "team"));
    cr_assert_eq(mn_refresh(t.o, bob), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(bob->team.id, 10, "the other team's player keeps it");
    /* PROTECT through a OneToOneField by code */
    Embassy *e = mn_create(t.o, Embassy, "nation", de, "street", "Unter den Linden");
    cr_assert_not_null(e, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(e->nation.key, "DE");
    cr_expect_eq(mn_delete(t.o, de, NULL), MN_EPROTECTED);
    cr_expect_not_null(strstr(mn_orm_error(t.o), "'Embassy.nation'"), "%s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_all(t.o, Nation)), 1);
    Embassy *back = mn_fk_get(t.o, de, "embassy");
    cr_assert_not_null(back, "reverse one-to-one: %s", mn_orm_error(t.o));
    cr_expect_eq(back->id, e->id);
    cr_expect_eq(mn_delete(t.o, e, NULL), 1);
    cr_expect_eq(mn_qs_delete(mn_all(t.o, Nation), NULL), 2, "DE and Bonn");
}

Test(orm_to_field, bulk_operations_and_get_or_create)
{
    Player *ps[3];
    const char *names[] = {"Ann", "Bob", "Cy"};
    for (size_t i = 0; i < 3; i++) {
        ps[i] = mn_new(t.o, Player);
        ps[i]->name = names[i];
    }
    ps[0]->team.obj = blue; /* the instance: its number is taken */
    ps[1]->team.id = 10;    /* or the number itself */
    cr_assert_eq(mn_bulk_create(t.o, &Player_model, (void **)ps, 3, NULL), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Player), "team", blue)), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Player), "team__name", "Red")), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Player), "team__isnull", true)), 1);
    ps[1]->team = (mn_fk){.obj = blue};
    ps[2]->team = (mn_fk){.id = 10};
    mn_obj_set_null(ps[2], "team", false);
    cr_expect_eq(mn_bulk_update(t.o, &Player_model, (void **)ps + 1, 2, "team", 0), 2, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Player), "team", 20)), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Player), "team", red)), 1);
    bool created = false;
    Town *x = mn_qs_get_or_create(mn_all(t.o, Town), MN_KVS("name", "Metz", "nation", fr), 2, NULL,
                                  0, &created);
    cr_assert_not_null(x, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_str_eq(x->nation.key, "FR");
    Town *y = mn_qs_get_or_create(mn_all(t.o, Town), MN_KVS("name", "Metz", "nation", fr), 2, NULL,
                                  0, &created);
    cr_assert_not_null(y, "%s", mn_orm_error(t.o));
    cr_expect(!created);
    cr_expect_eq(y->id, x->id);
}

Test(orm_to_field, values_templates_and_full_clean)
{
    Town *paris = mn_create(t.o, Town, "name", "Paris", "nation", fr);
    cr_assert_not_null(paris, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Player, "name", "Ann", "team", red));
    mn_rows *flat = mn_qs_fetch(mn_qs_values_list(mn_all(t.o, Town), "nation", true));
    cr_assert_not_null(flat, "%s", mn_orm_error(t.o));
    cr_assert_eq(flat->len, 1);
    cr_expect(mn_str_eq_cstr(mn_value_string(flat->items[0]), "FR"));
    flat = mn_qs_fetch(mn_qs_values_list(mn_all(t.o, Player), "team", true));
    cr_assert_not_null(flat, "%s", mn_orm_error(t.o));
    int64_t num = 0;
    cr_expect_eq(mn_value_to_int(flat->items[0], &num), 0);
    cr_expect_eq(num, 10);
    mn_template_engine *engine = mn_template_engine_new();
    Town *c = mn_get(mn_all(t.o, Town), "pk", paris->id);
    cr_assert_not_null(c);
    cr_expect_str_eq(render_var(engine, &t,
                                "{{ town.name }}, {{ town.nation.name }} ({{ town.nation_id }}); "
                                "{% for x in town.nation.towns.all %}{{ x.name }}{% endfor %}",
                                "town", mn_obj_value(t.o, c)),
                     "Paris, France (FR); Paris");
    mn_template_engine_free(engine);
    /* full_clean looks the key up by the to_field */
    Town *x = mn_new(t.o, Town);
    x->name = "Atlantis";
    x->nation.key = "ZZ";
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, x, &v), MN_EVALIDATION);
    cr_assert_eq(v.n, 1);
    cr_expect_str_eq(v.errors[0].message, "nation instance with code 'ZZ' does not exist.");
    x->nation.key = "DE";
    cr_expect_eq(mn_full_clean(t.o, x, &v), 0, "%s", v.n ? v.errors[0].message : "");
    Player *p = mn_new(t.o, Player);
    p->name = "Dan";
    p->team.id = 1; /* red's id, but no team has number 1 */
    cr_assert_eq(mn_full_clean(t.o, p, &v), MN_EVALIDATION);
    cr_expect_str_eq(v.errors[0].message, "team instance with number 1 does not exist.");
}

/* Registers a fresh model so that the registry is checked again on its next use. */
static const char *recheck(void)
{
    static mn_model again[4];
    static size_t n;
    cr_assert_lt(n, 4);
    again[n] = Spare_model;
    again[n].name = n == 0 ? "Spare2" : n == 1 ? "Spare3" : n == 2 ? "Spare4" : "Spare5";
    again[n].fields = NULL;
    mn_model_register(&again[n++]);
    const char *why = NULL;
    int rc = mn_models_ready(&why);
    if (rc == 0)
        return "";
    cr_expect_eq(rc, MN_EFIELD);
    return why ? why : "(no reason)";
}

Test(orm_to_field, the_registry_refuses_a_missing_or_non_unique_to_field)
{
    mn_fielddef *f = (mn_fielddef *)mn_model_field(&Town_model, "nation");
    cr_assert_not_null(f);
    f->to_field = "cod";
    cr_expect_str_eq(recheck(), "tofield.Town.nation: (fields.E312) The to_field 'cod' doesn't "
                                "exist on the related model 'tofield.Nation'.");
    f->to_field = "name";
    cr_expect_str_eq(recheck(), "tofield.Town.nation: (fields.E311) 'Nation.name' must be "
                                "unique because it is referenced by a foreign key.");
    f->to_field = "code";
    cr_expect_str_eq(recheck(), "", "fixed, the registry is usable again");
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Town), "nation", fr)), 0);
}
