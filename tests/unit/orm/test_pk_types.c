/* test_pk_types.c — relations to models whose primary key is not an integer: a Country keyed
 * by its code (CharField(primary_key=True)) and a Document keyed by a uuid (UUIDField with
 * default=uuid4), reached through ForeignKey, OneToOne and ManyToMany. Every path a Django
 * user takes: schema, create/save, filters across the relation, select_related,
 * prefetch_related both ways, the delete collector, bulk operations, values(), templates and
 * full_clean. Runs on SQLite and PostgreSQL like every ORM test. */
#include "helper_db.h"
#include "helper_render.h"
#include "orm/internal.h" /* the query cache's slots */

#include <criterion/criterion.h>
#include <manouche/template.h>
#include <string.h>

/* clang-format off */
#define COUNTRY_FIELDS(F)                                                                   \
    F(code, MN_CHAR, .max_length = 2, .primary_key = true)                                  \
    F(name, MN_CHAR, .max_length = 100)
MN_MODEL(Country, geo, COUNTRY_FIELDS, .ordering = "code", .verbose_name_plural = "countries");

#define CITY_FIELDS(F)                                                                      \
    F(id, MN_BIGAUTO)                                                                       \
    F(name, MN_CHAR, .max_length = 100)                                                     \
    F(country, MN_FK, .to = "Country", .on_delete = MN_CASCADE, .related_name = "cities")
MN_MODEL(City, geo, CITY_FIELDS, .ordering = "name");

#define CAPITAL_FIELDS(F)                                                                   \
    F(id, MN_BIGAUTO)                                                                       \
    F(name, MN_CHAR, .max_length = 100)                                                     \
    F(country, MN_O2O, .to = "Country", .null = true, .on_delete = MN_SET_NULL,             \
      .related_name = "capital")
MN_MODEL(Capital, geo, CAPITAL_FIELDS);

#define DOCUMENT_FIELDS(F)                                                                  \
    F(id, MN_UUID, .primary_key = true, .default_fn = mn_default_uuid4)                     \
    F(title, MN_CHAR, .max_length = 100)                                                    \
    F(countries, MN_M2M, .to = "Country", .related_name = "documents")
MN_MODEL(Document, geo, DOCUMENT_FIELDS, .ordering = "title");

#define REVISION_FIELDS(F)                                                                  \
    F(id, MN_BIGAUTO)                                                                       \
    F(document, MN_FK, .to = "Document", .on_delete = MN_PROTECT, .related_name = "revisions") \
    F(number, MN_INT, .default_int = 1)
MN_MODEL(Revision, geo, REVISION_FIELDS, .ordering = "number");

/* A OneToOneField as the primary key (Django's parent_link tables, profile tables): the row's
 * key is the related row's key, text here; and a foreign key to such a model. */
#define CENSUS_FIELDS(F)                                                                    \
    F(country, MN_O2O, .to = "Country", .primary_key = true, .on_delete = MN_CASCADE,       \
      .related_name = "census")                                                             \
    F(population, MN_BIGINT, .default_int = 0)
MN_MODEL(Census, geo, CENSUS_FIELDS, .ordering = "country");

#define DISTRICT_FIELDS(F)                                                                  \
    F(id, MN_BIGAUTO)                                                                       \
    F(census, MN_FK, .to = "Census", .on_delete = MN_CASCADE, .related_name = "districts") \
    F(name, MN_CHAR, .max_length = 50)
MN_MODEL(District, geo, DISTRICT_FIELDS, .ordering = "name");

#define ABSTRACT_FIELDS(F)                                                                  \
    F(document, MN_O2O, .to = "Document", .primary_key = true, .on_delete = MN_CASCADE,     \
      .related_name = "abstract")                                                           \
    F(text, MN_TEXT, .blank = true)
MN_MODEL(Abstract, geo, ABSTRACT_FIELDS);
/* clang-format on */

static testdb t;
static Country *fr, *de;
static void setup(void)
{
    tdb_open(&t);
    fr = mn_create(t.o, Country, "code", "FR", "name", "France");
    de = mn_create(t.o, Country, "code", "DE", "name", "Germany");
    cr_assert(fr && de, "%s", mn_orm_error(t.o));
}
static void teardown(void)
{
    tdb_close(&t);
}
TestSuite(orm_pk_types, .init = setup, .fini = teardown);

static size_t count_rows(mn_qs *qs)
{
    int64_t n = mn_qs_count(qs);
    cr_assert_geq(n, 0, "%s", mn_orm_error(t.o));
    return (size_t)n;
}

/* The CREATE TABLE SQL of m in dialect d. */
static const char *schema_of(const mn_model *m, mn_dbdialect d)
{
    mn_buf b;
    mn_buf_init(&b, t.arena);
    cr_assert_eq(mn_schema_sql(m, d, t.arena, &b), 0, "%s", m->name);
    return mn_buf_cstr(&b);
}

#define EXPECT_SCHEMA_HAS(m, d, needle)                                                            \
    do {                                                                                           \
        const char *sql_ = schema_of(m, d);                                                        \
        cr_expect_not_null(strstr(sql_, needle), "%s", sql_);                                      \
    } while (0)

Test(orm_pk_types, schema_gives_the_fk_column_the_target_key_type)
{
    EXPECT_SCHEMA_HAS(&City_model, MN_DIALECT_POSTGRESQL,
                      "\"country_id\" varchar(2) NOT NULL REFERENCES \"geo_country\" (\"code\")");
    EXPECT_SCHEMA_HAS(&Revision_model, MN_DIALECT_POSTGRESQL,
                      "\"document_id\" uuid NOT NULL REFERENCES \"geo_document\" (\"id\")");
    EXPECT_SCHEMA_HAS(&Revision_model, MN_DIALECT_SQLITE, "\"document_id\" char(36) NOT NULL");
    /* the automatic M2M table: both sides take their model's key type */
    const mn_model *through = mn_model_field(&Document_model, "countries")->through_model;
    EXPECT_SCHEMA_HAS(through, MN_DIALECT_POSTGRESQL, "\"document_id\" uuid NOT NULL");
    EXPECT_SCHEMA_HAS(through, MN_DIALECT_POSTGRESQL, "\"country_id\" varchar(2) NOT NULL");
}

Test(orm_pk_types, create_with_instance_text_key_or_struct_member)
{
    City *paris = mn_create(t.o, City, "name", "Paris", "country", fr);
    cr_assert_not_null(paris, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(paris->country.key, "FR");
    cr_expect_eq(paris->country.obj, fr);
    City *lyon = mn_create(t.o, City, "name", "Lyon", "country", "FR");
    cr_assert_not_null(lyon, "%s", mn_orm_error(t.o));
    City *berlin = mn_new(t.o, City);
    berlin->name = "Berlin";
    berlin->country.key = "DE"; /* Django's city.country_id = "DE" */
    cr_assert_eq(mn_save(t.o, berlin), 0, "%s", mn_orm_error(t.o));
    City *back = mn_get(mn_all(t.o, City), "pk", berlin->id);
    cr_assert_not_null(back, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(back->country.key, "DE");
    cr_expect_eq(back->country.id, 0);
    Country *c = mn_fk_get(t.o, back, "country");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(c->name, "Germany");
    /* the country's own pk is text: get, str, refresh, save as an update */
    Country *got = mn_get(mn_all(t.o, Country), "pk", "FR");
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(mn_obj_str(t.o, got), "Country object (FR)");
    cr_expect_str_eq(mn_obj_pk_text(t.o, got), "FR");
    cr_expect_eq(mn_obj_pk(got), 0, "no integer key");
    got->name = "République française";
    cr_assert_eq(mn_save(t.o, got), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_all(t.o, Country)), 2, "saved as an update, not a second row");
    cr_assert_eq(mn_refresh(t.o, fr), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(fr->name, "République française");
    /* a text key given as an integer id is a mistake the save names */
    City *wrong = mn_new(t.o, City);
    wrong->name = "Nowhere";
    wrong->country.id = 3;
    cr_expect_eq(mn_save(t.o, wrong), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o),
                     "City.country points to Country, whose primary key 'code' is a CharField: "
                     "set country.key (the text key), not country.id");
    /* a key that is not there: the database refuses it */
    cr_expect_null(mn_create(t.o, City, "name", "Atlantis", "country", "ZZ"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY);
}

Test(orm_pk_types, filters_across_the_relation)
{
    cr_assert_not_null(mn_create(t.o, City, "name", "Paris", "country", fr));
    cr_assert_not_null(mn_create(t.o, City, "name", "Lyon", "country", "FR"));
    cr_assert_not_null(mn_create(t.o, City, "name", "Berlin", "country", de));
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "country", "FR")), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "country_id", "FR")), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "country__code", "DE")), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "country", de)), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "country__name__startswith", "Fra")), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "country__in", MN_IN_STR("DE", "IT"))), 1);
    cr_expect_eq(count_rows(mn_exclude(mn_all(t.o, City), "country", "FR")), 1);
    /* reverse: countries by their cities */
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Country), "cities__name", "Lyon")), 1);
    Country *c = mn_get(mn_all(t.o, Country), "cities__name", "Berlin");
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(c->code, "DE");
    cr_expect_eq(count_rows(mn_related(t.o, fr, "cities")), 2);
    /* ordering across the relation and update() of the FK column */
    mn_rows *rows = mn_qs_fetch(mn_qs_order_by(mn_all(t.o, City), "-country__name,name"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(((City *)rows->items[0])->name, "Berlin");
    cr_expect_eq(mn_update(mn_filter(mn_all(t.o, City), "name", "Lyon"), "country", "DE"), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "country", "DE")), 2);
}

Test(orm_pk_types, select_related_and_prefetch_forward_and_reverse)
{
    cr_assert_not_null(mn_create(t.o, City, "name", "Paris", "country", fr));
    cr_assert_not_null(mn_create(t.o, City, "name", "Lyon", "country", fr));
    cr_assert_not_null(mn_create(t.o, City, "name", "Berlin", "country", de));
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *rows = mn_qs_fetch(mn_qs_select_related(mn_all(t.o, City), "country"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 3);
    cr_expect_str_eq(((Country *)((City *)rows->items[0])->country.obj)->name, "Germany");
    cr_expect_str_eq(((Country *)mn_fk_get(t.o, rows->items[2], "country"))->code, "FR");
    cr_expect_eq(log.count, 1, "one query with the join");

    log.count = 0;
    rows = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, City), "country"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    for (size_t i = 0; i < rows->len; i++)
        cr_expect_not_null(mn_fk_get(t.o, rows->items[i], "country"));
    cr_expect_str_eq(((Country *)((City *)rows->items[1])->country.obj)->name, "France");
    cr_expect_eq(log.count, 2, "cities, then their countries");

    log.count = 0;
    rows = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Country), "cities"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    mn_rows *de_cities = mn_qs_fetch(mn_related(t.o, rows->items[0], "cities"));
    mn_rows *fr_cities = mn_qs_fetch(mn_related(t.o, rows->items[1], "cities"));
    cr_assert(de_cities && fr_cities);
    cr_expect_eq(de_cities->len, 1);
    cr_expect_eq(fr_cities->len, 2);
    cr_expect_eq(log.count, 2, "countries, then all their cities");
    mn_orm_set_log(t.o, NULL);
}

Test(orm_pk_types, uuid_keys_and_many_to_many_between_text_keys)
{
    Document *a = mn_create(t.o, Document, "title", "Atlas");
    Document *b = mn_create(t.o, Document, "title", "Brochure");
    cr_assert(a && b, "%s", mn_orm_error(t.o));
    cr_assert_eq(strlen(a->id), 36, "uuid4 default: %s", a->id);
    cr_expect_eq(a->id[14], '4');
    cr_expect_neq(strcmp(a->id, b->id), 0);
    Document *got = mn_get(mn_all(t.o, Document), "pk", a->id);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(got->title, "Atlas");
    /* a uuid in another spelling finds the same row */
    char upper[37];
    for (size_t i = 0; i <= 36; i++)
        upper[i] = (char)(a->id[i] >= 'a' && a->id[i] <= 'f' ? a->id[i] - 32 : a->id[i]);
    cr_expect_not_null(mn_get(mn_all(t.o, Document), "pk", upper), "%s", mn_orm_error(t.o));
    /* get() by a text pk reuses its compiled statement; a bad key still gets its message */
    mn_dblog log0;
    mn_dblog_init(&log0, t.arena);
    mn_orm_set_log(t.o, &log0);
    cr_expect_not_null(mn_get(mn_all(t.o, Document), "pk", b->id));
    cr_expect_not_null(mn_get(mn_all(t.o, Country), "pk", "DE"));
    cr_expect_not_null(mn_get(mn_all(t.o, Country), "code", "FR"));
    mn_orm_set_log(t.o, NULL);
    cr_assert_eq(log0.count, 3);
    cr_expect_str_eq(log0.entries[1].sql, log0.entries[2].sql);
    cr_expect_not_null(atomic_load(&mrt(&Country_model)->sql_cache[tdb_is_pg(&t)][SHAPE_PK_GET]),
                       "get() by a text pk is a cached shape");
    cr_expect_not_null(atomic_load(&mrt(&Document_model)->sql_cache[tdb_is_pg(&t)][SHAPE_PK_GET]));
    cr_expect_null(mn_get(mn_all(t.o, Document), "pk", "nope"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "'nope' is not a valid UUID.");
    cr_expect_null(mn_get(mn_all(t.o, Country), "pk", "XX"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDOES_NOT_EXIST);

    Revision *r = mn_create(t.o, Revision, "document", a, "number", 2);
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(r->document.key, a->id);
    Revision *r2 = mn_get(mn_all(t.o, Revision), "document__title", "Atlas");
    cr_assert_not_null(r2, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(((Document *)mn_fk_get(t.o, r2, "document"))->title, "Atlas");

    const void *both[] = {fr, de};
    cr_assert_eq(mn_m2m_add(t.o, a, "countries", both, 2), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, b, "countries", both, 1), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_related(t.o, a, "countries")), 2);
    cr_expect_eq(count_rows(mn_related(t.o, de, "documents")), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Document), "countries__code", "FR")), 2);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Country), "documents__title", "Atlas")), 2);

    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *docs = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Document), "countries"));
    cr_assert_not_null(docs, "%s", mn_orm_error(t.o));
    cr_assert_eq(docs->len, 2);
    mn_rows *ac = mn_qs_fetch(mn_related(t.o, docs->items[0], "countries"));
    mn_rows *bc = mn_qs_fetch(mn_related(t.o, docs->items[1], "countries"));
    cr_assert(ac && bc);
    cr_expect_eq(ac->len, 2);
    cr_expect_eq(bc->len, 1);
    mn_rows *cs = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Country), "documents"));
    cr_assert_not_null(cs, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, cs->items[0], "documents"))->len, 1, "DE");
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, cs->items[1], "documents"))->len, 2, "FR");
    cr_expect_eq(log.count, 4, "two queries per prefetch, none per object");
    mn_orm_set_log(t.o, NULL);

    cr_assert_eq(mn_m2m_remove(t.o, a, "countries", both, 1), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_related(t.o, a, "countries")), 1);
    cr_assert_eq(mn_m2m_set(t.o, b, "countries", both + 1, 1), 0, "%s", mn_orm_error(t.o));
    mn_rows *left = mn_qs_fetch(mn_related(t.o, b, "countries"));
    cr_assert(left && left->len == 1);
    cr_expect_str_eq(((Country *)left->items[0])->code, "DE");
}

Test(orm_pk_types, delete_collector_follows_text_keys)
{
    cr_assert_not_null(mn_create(t.o, City, "name", "Paris", "country", fr));
    cr_assert_not_null(mn_create(t.o, City, "name", "Lyon", "country", fr));
    cr_assert_not_null(mn_create(t.o, City, "name", "Berlin", "country", de));
    Capital *cap = mn_create(t.o, Capital, "name", "Paris", "country", fr);
    cr_assert_not_null(cap, "%s", mn_orm_error(t.o));
    Document *d = mn_create(t.o, Document, "title", "Atlas");
    cr_assert_not_null(d);
    const void *one[] = {fr};
    cr_assert_eq(mn_m2m_add(t.o, d, "countries", one, 1), 0, "%s", mn_orm_error(t.o));

    mn_delete_report rep;
    int64_t n = mn_delete(t.o, fr, &rep);
    cr_assert_eq(n, 4, "the country, two cities, one m2m row: %s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_all(t.o, City)), 1, "CASCADE");
    cr_expect_eq(count_rows(mn_all(t.o, Country)), 1);
    cr_assert_eq(mn_refresh(t.o, cap), 0, "%s", mn_orm_error(t.o));
    cr_expect(mn_obj_is_null(cap, "country"), "SET_NULL");
    cr_expect_null(cap->country.key);
    cr_expect_eq(count_rows(mn_related(t.o, d, "countries")), 0);

    /* PROTECT through a uuid key */
    cr_assert_not_null(mn_create(t.o, Revision, "document", d));
    cr_expect_eq(mn_delete(t.o, d, NULL), MN_EPROTECTED);
    cr_expect_not_null(strstr(mn_orm_error(t.o), "'Revision.document'"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_delete(mn_all(t.o, Revision), NULL), 1);
    cr_expect_eq(mn_qs_delete(mn_filter(mn_all(t.o, Document), "title", "Atlas"), NULL), 1);
    cr_expect_eq(mn_qs_delete(mn_all(t.o, Country), NULL), 2, "DE and Berlin");
}

Test(orm_pk_types, bulk_create_and_update_with_text_keys)
{
    Country *it = mn_new(t.o, Country), *es = mn_new(t.o, Country);
    it->code = "IT", it->name = "Italy";
    es->code = "ES", es->name = "Spain";
    void *countries[] = {it, es};
    cr_assert_eq(mn_bulk_create(t.o, &Country_model, countries, 2, NULL), 0, "%s",
                 mn_orm_error(t.o));
    City *cities[4];
    const char *names[] = {"Rome", "Milan", "Madrid", "Seville"};
    for (size_t i = 0; i < 4; i++) {
        cities[i] = mn_new(t.o, City);
        cities[i]->name = names[i];
        if (i < 2)
            cities[i]->country.obj = it; /* the instance: its key is taken */
        else
            cities[i]->country.key = "ES";
    }
    cr_assert_eq(mn_bulk_create(t.o, &City_model, (void **)cities, 4, NULL), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_gt(cities[3]->id, 0);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "country", "IT")), 2);
    cities[1]->country = (mn_fk){.key = "FR"};
    cities[2]->country = (mn_fk){.obj = de};
    cities[3]->name = "Sevilla";
    cr_expect_eq(mn_bulk_update(t.o, &City_model, (void **)cities + 1, 3, "country,name", 0), 3,
                 "%s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "country", "FR")), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "country", "DE")), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, City), "name", "Sevilla")), 1);
    /* bulk_update of rows keyed by text */
    it->name = "Italia";
    es->name = "España";
    cr_expect_eq(mn_bulk_update(t.o, &Country_model, countries, 2, "name", 0), 2, "%s",
                 mn_orm_error(t.o));
    cr_expect_not_null(mn_get(mn_all(t.o, Country), "name", "Italia"));
}

Test(orm_pk_types, values_and_values_list_give_the_key)
{
    cr_assert_not_null(mn_create(t.o, City, "name", "Paris", "country", fr));
    mn_rows *flat = mn_qs_fetch(mn_qs_values_list(mn_all(t.o, City), "country", true));
    cr_assert_not_null(flat, "%s", mn_orm_error(t.o));
    cr_assert_eq(flat->len, 1);
    cr_expect_eq(mn_str_eq_cstr(mn_value_string(flat->items[0]), "FR"), true);
    mn_rows *dicts = mn_qs_fetch(mn_qs_values(mn_all(t.o, City), NULL));
    cr_assert_not_null(dicts, "%s", mn_orm_error(t.o));
    mn_value *cid = mn_value_dict_get(dicts->items[0], "country_id", 10);
    cr_assert_not_null(cid);
    cr_expect_eq(mn_str_eq_cstr(mn_value_string(cid), "FR"), true);
    mn_rows *names = mn_qs_fetch(mn_qs_values_list(mn_all(t.o, City), "country__name", true));
    cr_assert_not_null(names, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_str_eq_cstr(mn_value_string(names->items[0]), "France"), true);
    mn_value *bulk = mn_qs_in_bulk(mn_all(t.o, Country), NULL, 0);
    cr_assert_not_null(bulk);
    cr_expect_not_null(mn_value_dict_get(bulk, "DE", 2), "in_bulk keyed by the text pk");
}

Test(orm_pk_types, templates_follow_text_keys)
{
    City *paris = mn_create(t.o, City, "name", "Paris", "country", "FR");
    cr_assert_not_null(paris, "%s", mn_orm_error(t.o));
    City *c = mn_get(mn_all(t.o, City), "pk", paris->id);
    cr_assert_not_null(c);
    mn_template_engine *engine = mn_template_engine_new();
    cr_expect_str_eq(render_var(engine, &t,
                                "{{ city.name }}, {{ city.country.name }} ({{ city.country_id }}); "
                                "{% for x in city.country.cities.all %}{{ x.name }}{% endfor %}",
                                "city", mn_obj_value(t.o, c)),
                     "Paris, France (FR); Paris");
    mn_template_engine_free(engine);
}

Test(orm_pk_types, full_clean_checks_text_keys)
{
    City *c = mn_new(t.o, City);
    c->name = "Atlantis";
    c->country.key = "ZZ";
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, c, &v), MN_EVALIDATION);
    cr_assert_eq(v.n, 1);
    cr_expect_str_eq(v.errors[0].field, "country");
    cr_expect_str_eq(v.errors[0].message, "country instance with code 'ZZ' does not exist.");
    c->country.key = "DE";
    cr_expect_eq(mn_full_clean(t.o, c, &v), 0, "%s", mn_orm_error(t.o));
    /* the text primary key itself: required, max_length, and unique for a new row */
    Country *dup = mn_new(t.o, Country);
    dup->code = "FRA";
    dup->name = "France again";
    cr_assert_eq(mn_full_clean(t.o, dup, &v), MN_EVALIDATION);
    cr_expect_str_eq(v.errors[0].message, "Ensure this value has at most 2 characters (it has 3).");
    dup->code = "FR";
    cr_assert_eq(mn_full_clean(t.o, dup, &v), MN_EVALIDATION);
    cr_expect_str_eq(v.errors[0].field, "code");
    cr_expect_str_eq(v.errors[0].message, "Country with this Code already exists.");
    cr_expect_eq(mn_full_clean(t.o, fr, &v), 0, "a saved row is not its own duplicate: %s",
                 mn_orm_error(t.o));
    Revision *r = mn_new(t.o, Revision);
    r->document.key = "2f1c8a52-6a55-4f4b-9d0e-3c1f8a6b2d11";
    cr_assert_eq(mn_full_clean(t.o, r, &v), MN_EVALIDATION);
    cr_expect_str_eq(v.errors[0].message, "document instance with id "
                                          "'2f1c8a52-6a55-4f4b-9d0e-3c1f8a6b2d11' does not exist.");
}

Test(orm_pk_types, cursor_pagination_in_bulk_and_unsaved_relations)
{
    const char *codes[] = {"ES", "IT", "A:", "A%"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_not_null(mn_create(t.o, Country, "code", codes[i], "name", "Same"), "%s",
                           mn_orm_error(t.o));
    /* four countries whose names tie: the text pk breaks the tie, page after page, even
     * with ':' and '%' in it */
    mn_qs *qs = mn_filter(mn_all(t.o, Country), "code__in", MN_IN_STR("ES", "IT", "A:", "A%"));
    mn_cursor_page page;
    const char *seen = "";
    const char *cursor = NULL;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(mn_paginate_cursor(qs, "name", 1, cursor, "s3cret", &page), 0, "%s",
                     mn_orm_error(t.o));
        cr_assert_eq(page.rows->len, 1);
        seen = mn_arena_printf(t.arena, "%s%s,", seen, ((Country *)page.rows->items[0])->code);
        cursor = page.next_cursor;
        cr_expect_eq(page.has_next, i < 3);
    }
    char sorted[4][3] = {"A%", "A:", "ES", "IT"}; /* byte order, as both databases sort */
    cr_expect_str_eq(
        seen, mn_arena_printf(t.arena, "%s,%s,%s,%s,", sorted[0], sorted[1], sorted[2], sorted[3]));

    mn_value *bulk =
        mn_qs_in_bulk_strs(mn_all(t.o, Country), (const char *[]){"FR", "IT", "XX"}, 3);
    cr_assert_not_null(bulk, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_value_dict_len(bulk), 2);
    cr_expect_not_null(mn_value_dict_get(bulk, "IT", 2));

    Country *unsaved = mn_new(t.o, Country);
    unsaved->name = "Nowhere";
    City *c = mn_new(t.o, City);
    c->name = "Ghost town";
    c->country.obj = unsaved;
    cr_expect_eq(mn_save(t.o, c), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "save() prohibited to prevent data loss due to unsaved "
                                        "related object 'country'.");
}

Test(orm_pk_types, uuid_select_related_counts_get_or_create_and_reverse_one_to_one)
{
    Document *d = mn_create(t.o, Document, "title", "Atlas");
    cr_assert_not_null(d, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Revision, "document", d, "number", 1));
    cr_assert_not_null(mn_create(t.o, Revision, "document", d->id, "number", 2));
    mn_rows *revs = mn_qs_fetch(mn_qs_select_related(mn_all(t.o, Revision), "document"));
    cr_assert_not_null(revs, "%s", mn_orm_error(t.o));
    cr_assert_eq(revs->len, 2);
    cr_expect_str_eq(((Document *)((Revision *)revs->items[1])->document.obj)->title, "Atlas");
    mn_validation v;
    cr_expect_eq(mn_full_clean(t.o, revs->items[0], &v), 0, "%s", mn_orm_error(t.o));

    cr_assert_not_null(mn_create(t.o, City, "name", "Paris", "country", fr));
    cr_assert_not_null(mn_create(t.o, City, "name", "Lyon", "country", fr));
    mn_rows *counted = mn_qs_fetch(
        mn_qs_annotate(mn_all(t.o, Country), "n", mn_Count(t.o, "cities", false, NULL)));
    cr_assert_not_null(counted, "%s", mn_orm_error(t.o));
    int64_t n_de = -1, n_fr = -1;
    mn_value_to_int(mn_obj_annotation(counted->items[0], "n"), &n_de);
    mn_value_to_int(mn_obj_annotation(counted->items[1], "n"), &n_fr);
    cr_expect_eq(n_de, 0);
    cr_expect_eq(n_fr, 2);

    bool created = true;
    City *lyon = mn_qs_get_or_create(mn_all(t.o, City), MN_KVS("name", "Lyon", "country", "FR"), 2,
                                     NULL, 0, &created);
    cr_assert_not_null(lyon, "%s", mn_orm_error(t.o));
    cr_expect(!created);
    City *bonn = mn_qs_get_or_create(mn_all(t.o, City), MN_KVS("name", "Bonn", "country", "DE"), 2,
                                     NULL, 0, &created);
    cr_assert_not_null(bonn, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_str_eq(bonn->country.key, "DE");

    cr_assert_not_null(mn_create(t.o, Capital, "name", "Berlin", "country", "DE"));
    Capital *cap = mn_fk_get(t.o, de, "capital");
    cr_assert_not_null(cap, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(cap->name, "Berlin");
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Country), "capital__name", "Berlin")), 1);
}

Test(orm_pk_types, one_to_one_primary_key_to_text_keys)
{
    EXPECT_SCHEMA_HAS(&Census_model, MN_DIALECT_POSTGRESQL,
                      "\"country_id\" varchar(2) NOT NULL PRIMARY KEY "
                      "REFERENCES \"geo_country\" (\"code\")");
    EXPECT_SCHEMA_HAS(
        &District_model, MN_DIALECT_POSTGRESQL,
        "\"census_id\" varchar(2) NOT NULL REFERENCES \"geo_census\" (\"country_id\")");

    /* create by instance or by key; the key is the pk */
    Census *cf = mn_create(t.o, Census, "country", fr, "population", 68);
    cr_assert_not_null(cf, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(cf->country.key, "FR");
    cr_expect_str_eq(mn_obj_pk_text(t.o, cf), "FR");
    Census *cd = mn_new(t.o, Census);
    cd->country.key = "DE";
    cd->population = 84;
    cr_assert_eq(mn_save(t.o, cd), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_all(t.o, Census)), 2);
    /* save() of a loaded row updates it */
    Census *got = mn_get(mn_all(t.o, Census), "pk", "FR");
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_eq(got->population, 68);
    cr_expect_str_eq(mn_obj_str(t.o, got), "Census object (FR)");
    got->population = 69;
    cr_assert_eq(mn_save(t.o, got), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_all(t.o, Census)), 2, "an update, not a second row");
    got = mn_get(mn_all(t.o, Census), "country", fr);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_eq(got->population, 69);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Census), "pk__in", MN_IN_STR("FR", "XX"))), 1);
    /* a second row for the same country is a unique violation */
    cr_expect_null(mn_create(t.o, Census, "country", "FR"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY);
    mn_validation v;
    Census *dup = mn_new(t.o, Census);
    dup->country.key = "FR";
    cr_assert_eq(mn_full_clean(t.o, dup, &v), MN_EVALIDATION);
    cr_expect_str_eq(v.errors[0].message, "Census with this Country already exists.");
    cr_expect_eq(mn_full_clean(t.o, got, &v), 0, "%s", mn_orm_error(t.o));

    /* both directions, joins and a foreign key to the O2O-keyed model */
    mn_rows *rows = mn_qs_fetch(mn_qs_select_related(mn_all(t.o, Census), "country"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    cr_expect_str_eq(((Country *)((Census *)rows->items[0])->country.obj)->name, "Germany");
    Census *back = mn_fk_get(t.o, de, "census");
    cr_assert_not_null(back, "%s", mn_orm_error(t.o));
    cr_expect_eq(back->population, 84);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Country), "census__population__gt", 80)), 1);
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Census), "country__name", "France")), 1);
    District *d1 = mn_create(t.o, District, "census", got, "name", "Paris 1er");
    District *d2 = mn_create(t.o, District, "census", "DE", "name", "Mitte");
    cr_assert(d1 && d2, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(d1->census.key, "FR");
    rows = mn_qs_fetch(mn_qs_select_related(mn_all(t.o, District), "census__country"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    Census *dc = ((District *)rows->items[0])->census.obj;
    cr_assert_not_null(dc);
    cr_expect_eq(dc->population, 84);
    cr_expect_str_eq(((Country *)dc->country.obj)->name, "Germany");
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, District), "census__country__name", "France")),
                 1);
    rows = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Census), "districts"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_related(t.o, got, "districts")), 1);

    /* templates */
    mn_template_engine *engine = mn_template_engine_new();
    cr_expect_str_eq(render_var(engine, &t,
                                "{{ c.pk }} {{ c.country.name }} {{ c.population }}"
                                "{% for d in c.districts.all %} {{ d.name }}{% endfor %}",
                                "c", mn_obj_value(t.o, got)),
                     "FR France 69 Paris 1er");
    mn_template_engine_free(engine);

    /* deleting the country cascades through the O2O key to its districts */
    mn_delete_report rep;
    int64_t n = mn_delete(t.o, fr, &rep);
    cr_assert_eq(n, 3, "country, census, district: %s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_all(t.o, Census)), 1);
    cr_expect_eq(count_rows(mn_all(t.o, District)), 1);
    cr_expect_eq(mn_delete(t.o, cd, NULL), 2, "census and its district: %s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_all(t.o, Country)), 1, "the parent row stays");
}

Test(orm_pk_types, one_to_one_primary_key_to_a_uuid)
{
    Document *d = mn_create(t.o, Document, "title", "Atlas");
    cr_assert_not_null(d, "%s", mn_orm_error(t.o));
    Abstract *a = mn_create(t.o, Abstract, "document", d, "text", "maps");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(mn_obj_pk_text(t.o, a), d->id);
    Abstract *got = mn_get(mn_all(t.o, Abstract), "pk", d->id);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(got->text, "maps");
    Abstract *rel = mn_fk_get(t.o, d, "abstract");
    cr_assert_not_null(rel, "%s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_filter(mn_all(t.o, Document), "abstract__text", "maps")), 1);
    cr_expect_eq(mn_qs_delete(mn_all(t.o, Document), NULL), 2, "%s", mn_orm_error(t.o));
    cr_expect_eq(count_rows(mn_all(t.o, Abstract)), 0);
}
