/* test_big_in.c — __in lists longer than a statement may carry parameters (PostgreSQL 65535,
 * SQLite's SQLITE_MAX_VARIABLE_NUMBER): filter()/exclude() with 100,000 ids, in_bulk() with
 * 70,000 text keys, prefetch_related() (reverse FK, M2M, forward FK) over 70,000 parents,
 * every column type, and the NULL semantics of short and long lists alike. A long list
 * travels as one parameter (docs/postgresql.md) and must match as IN (...) does. */
#include "helper_db.h"
#include "helper_models.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* clang-format off */
#define HOLDER_FIELDS(F)                                                                    \
    F(id, MN_BIGAUTO)                                                                       \
    F(n, MN_INT, .default_int = 0)                                                          \
    F(labels, MN_M2M, .to = "Label", .through = "bigin.Labelling", .related_name = "holders")
MN_MODEL(Holder, bigin, HOLDER_FIELDS);

#define LABEL_FIELDS(F)                                                                     \
    F(code, MN_CHAR, .max_length = 12, .primary_key = true)                                 \
    F(n, MN_INT, .default_int = 0)
MN_MODEL(Label, bigin, LABEL_FIELDS);

#define LABELLING_FIELDS(F)                                                                 \
    F(id, MN_BIGAUTO)                                                                       \
    F(holder, MN_FK, .to = "Holder", .on_delete = MN_CASCADE)                               \
    F(label, MN_FK, .to = "Label", .on_delete = MN_CASCADE)
MN_MODEL(Labelling, bigin, LABELLING_FIELDS);

#define ITEM_FIELDS(F)                                                                      \
    F(id, MN_BIGAUTO)                                                                       \
    F(holder, MN_FK, .to = "Holder", .on_delete = MN_SET_NULL, .null = true,                \
      .related_name = "items")                                                              \
    F(uid, MN_UUID, .null = true)                                                           \
    F(price, MN_DECIMAL, .max_digits = 10, .decimal_places = 2, .null = true)
MN_MODEL(Item, bigin, ITEM_FIELDS);
/* clang-format on */

DB_SUITE(orm_big_in);

enum { MANY = 100000, PARENTS = 70000 };

static void bulk(const mn_model *m, void **objs, size_t n)
{
    cr_assert_eq(mn_bulk_create(t.o, m, objs, n, NULL), 0, "bulk_create %s: %s", m->name,
                 mn_orm_error(t.o));
}

/* n holders, holder i with n = i */
static Holder **holders(size_t n)
{
    Holder **hs = mn_arena_alloc(t.arena, n * sizeof *hs);
    cr_assert_not_null(hs);
    for (size_t i = 0; i < n; i++) {
        hs[i] = mn_new(t.o, Holder);
        hs[i]->n = (int64_t)i;
    }
    bulk(&Holder_model, (void **)hs, n);
    return hs;
}

static size_t count(mn_qs *qs)
{
    int64_t n = mn_qs_count(qs);
    cr_assert_geq(n, 0, "%s", mn_orm_error(t.o));
    return (size_t)n;
}

Test(orm_big_in, filter_and_exclude_with_100000_ids)
{
    size_t nh = 50000;
    Holder **hs = holders(nh);
    /* the odd holders, then ids no row has */
    int64_t *ids = mn_arena_alloc(t.arena, MANY * sizeof *ids);
    cr_assert_not_null(ids);
    size_t n = 0;
    for (size_t i = 1; i < nh; i += 2)
        ids[n++] = hs[i]->id;
    for (int64_t missing = hs[nh - 1]->id + 1; n < MANY; missing++)
        ids[n++] = missing;
    mn_arg list = mn_arg_ints(ids, n, t.arena);
    mn_rows *rows = mn_qs_fetch(mn_filter(mn_all(t.o, Holder), "id__in", list));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_eq(rows->len, nh / 2);
    size_t wrong = 0;
    for (size_t i = 0; i < rows->len; i++)
        wrong += ((Holder *)rows->items[i])->n % 2 != 1;
    cr_expect_eq(wrong, 0, "only the listed rows");
    cr_expect_eq(count(mn_exclude(mn_all(t.o, Holder), "id__in", list)), nh / 2);
    cr_expect_eq(count(mn_exclude(mn_all(t.o, Holder), "pk__in", list, "n__lt", 10)), nh - 5,
                 "exclude(pk__in=..., n__lt=10): NOT (both)");
    cr_expect_eq(count(mn_filter(mn_all(t.o, Holder), "pk__in", list, "n__lt", 10)), 5);
    /* the whole list is one parameter, whatever the database's limit */
    size_t np = 0;
    const char *sql = mn_qs_sql(mn_filter(mn_all(t.o, Holder), "id__in", list), &np);
    cr_assert_not_null(sql, "%s", mn_orm_error(t.o));
    cr_expect_eq(np, 1);
    /* the same statement text whatever the list's length, on PostgreSQL */
    if (tdb_is_pg(&t)) {
        const char *big = mn_qs_sql(mn_filter(mn_all(t.o, Holder), "id__in", list), NULL);
        const char *two = mn_qs_sql(mn_filter(mn_all(t.o, Holder), "id__in", MN_IN(1, 2)), NULL);
        cr_assert_not_null(big);
        cr_assert_not_null(two);
        if (!strstr(two, "= ANY(") || strcmp(big, two) != 0)
            cr_expect_fail("one statement for both lengths: %s", two);
    }
    /* in_bulk with as many integer keys */
    mn_value *d = mn_qs_in_bulk(mn_all(t.o, Holder), ids, n);
    cr_assert_not_null(d, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_value_dict_len(d), nh / 2);
}

Test(orm_big_in, in_bulk_with_70000_text_keys)
{
    size_t nl = 60000, nk = PARENTS;
    Label **ls = mn_arena_alloc(t.arena, nl * sizeof *ls);
    const char **keys = mn_arena_alloc(t.arena, nk * sizeof *keys);
    cr_assert(ls && keys);
    for (size_t i = 0; i < nl; i++) {
        ls[i] = mn_new(t.o, Label);
        ls[i]->code = mn_arena_printf(t.arena, "L%06zu", i);
        ls[i]->n = (int64_t)i;
        keys[i] = ls[i]->code;
    }
    bulk(&Label_model, (void **)ls, nl);
    for (size_t i = nl; i < nk; i++)
        keys[i] = mn_arena_printf(t.arena, "x'%zu\"\\", i); /* none such, quotes and all */
    mn_value *d = mn_qs_in_bulk_strs(mn_all(t.o, Label), keys, nk);
    cr_assert_not_null(d, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_value_dict_len(d), nl);
    size_t wrong = 0;
    for (size_t i = 0; i < nl; i++) {
        mn_str k = mn_value_dict_key(d, i);
        const mn_value *v = mn_value_dict_value(d, i);
        const Label *l = v && v->kind == MN_VALUE_OBJECT ? v->u.obj.self : NULL;
        wrong += !l || strlen(l->code) != k.len || memcmp(l->code, k.ptr, k.len) != 0;
    }
    cr_expect_eq(wrong, 0, "each key holds its own row");
    cr_expect_not_null(mn_value_dict_get(d, "L000042", 7));
    cr_expect_null(mn_value_dict_get(d, "x'60000\"\\", 9));
    /* a short list is the same lookup inline on SQLite: the quoting agrees */
    mn_value *few = mn_qs_in_bulk_strs(mn_all(t.o, Label), keys + nl - 2, 3);
    cr_assert_not_null(few, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_value_dict_len(few), 2);
}

Test(orm_big_in, prefetch_over_70000_parents)
{
    Holder **hs = holders(PARENTS);
    enum { NLABELS = 10 };
    Label *labels[NLABELS];
    for (size_t i = 0; i < NLABELS; i++) {
        labels[i] = mn_new(t.o, Label);
        labels[i]->code = mn_arena_printf(t.arena, "tag%zu", i);
    }
    bulk(&Label_model, (void **)labels, NLABELS);
    /* items: none for i % 3 == 0, one else, a second one for i % 5 == 0; labels: i % 10, and
     * (i + 1) % 10 too for i % 4 == 0 */
    size_t ni = 0, nl = 0;
    Item **items = mn_arena_alloc(t.arena, 2 * PARENTS * sizeof *items);
    Labelling **links = mn_arena_alloc(t.arena, 2 * PARENTS * sizeof *links);
    cr_assert(items && links);
    for (size_t i = 0; i < PARENTS; i++) {
        size_t want = (i % 3 != 0) + (i % 5 == 0);
        for (size_t k = 0; k < want; k++) {
            items[ni] = mn_new(t.o, Item);
            items[ni++]->holder.id = hs[i]->id;
        }
        for (size_t k = 0; k < 1u + (i % 4 == 0); k++) {
            links[nl] = mn_new(t.o, Labelling);
            links[nl]->holder.id = hs[i]->id;
            links[nl++]->label.key = labels[(i + k) % NLABELS]->code;
        }
    }
    bulk(&Item_model, (void **)items, ni);
    bulk(&Labelling_model, (void **)links, nl);

    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *rows = mn_qs_fetch(
        mn_qs_prefetch_related(mn_qs_order_by(mn_all(t.o, Holder), "n"), "items,labels"));
    mn_orm_set_log(t.o, NULL);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, PARENTS);
    cr_expect_eq(log.count, 3, "one query per relation");
    mn_orm_set_log(t.o, &log);
    log.count = 0;
    size_t bad_items = 0, bad_labels = 0;
    for (size_t i = 0; i < PARENTS; i++) {
        Holder *h = rows->items[i];
        mn_rows *its = mn_qs_fetch(mn_related(t.o, h, "items"));
        mn_rows *lbs = mn_qs_fetch(mn_related(t.o, h, "labels"));
        size_t want = (i % 3 != 0) + (i % 5 == 0);
        bad_items += !its || its->len != want;
        for (size_t k = 0; its && k < its->len; k++)
            bad_items += ((Item *)its->items[k])->holder.id != h->id;
        size_t nwant = 1u + (i % 4 == 0);
        bad_labels += !lbs || lbs->len != nwant;
        for (size_t k = 0; lbs && k < lbs->len; k++) {
            const char *code = ((Label *)lbs->items[k])->code;
            bad_labels += strcmp(code, labels[i % NLABELS]->code) != 0 &&
                          strcmp(code, labels[(i + 1) % NLABELS]->code) != 0;
        }
    }
    mn_orm_set_log(t.o, NULL);
    cr_expect_eq(bad_items, 0, "reverse FK: every parent has its own items");
    cr_expect_eq(bad_labels, 0, "M2M: every parent has its own labels");
    cr_expect_eq(log.count, 0, "the prefetched rows are used");

    /* the forward FK from every item: one query for their ~47,000 distinct holders */
    log.count = 0;
    mn_orm_set_log(t.o, &log);
    mn_rows *its = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Item), "holder"));
    mn_orm_set_log(t.o, NULL);
    cr_assert_not_null(its, "%s", mn_orm_error(t.o));
    cr_expect_eq(its->len, ni);
    cr_expect_eq(log.count, 2);
    size_t bad = 0;
    for (size_t k = 0; k < its->len; k++) {
        const Item *it = its->items[k];
        bad += !it->holder.obj || ((Holder *)it->holder.obj)->id != it->holder.id;
    }
    cr_expect_eq(bad, 0, "each item's holder loaded");
}

/* Each list at both lengths, inline and as one parameter on SQLite: the same rows. */
Test(orm_big_in, null_semantics_short_and_long_lists)
{
    Holder **hs = holders(3);
    Item *items[5];
    for (size_t i = 0; i < 5; i++) {
        items[i] = mn_new(t.o, Item);
        if (i < 3)
            items[i]->holder.id = hs[i]->id; /* items 3 and 4: no holder */
        else
            mn_obj_set_null(items[i], "holder", true);
    }
    bulk(&Item_model, (void **)items, 5);
    /* [h0, h1] and the same padded past the inline length with ids no row has */
    size_t n = 2000;
    int64_t *ids = mn_arena_alloc(t.arena, n * sizeof *ids);
    cr_assert_not_null(ids);
    ids[0] = hs[0]->id;
    ids[1] = hs[1]->id;
    for (size_t i = 2; i < n; i++)
        ids[i] = hs[2]->id + (int64_t)i;
    mn_arg lists[] = {mn_arg_ints(ids, 2, t.arena), mn_arg_ints(ids, n, t.arena)};
    for (size_t l = 0; l < 2; l++) {
        cr_expect_eq(count(mn_filter(mn_all(t.o, Item), "holder__in", lists[l])), 2,
                     "list %zu: a NULL holder is in no list", l);
        /* Django: exclude() keeps the rows whose column is NULL */
        cr_expect_eq(count(mn_exclude(mn_all(t.o, Item), "holder__in", lists[l])), 3,
                     "list %zu: exclude keeps the rows without a holder", l);
        cr_expect_eq(count(mn_filter(mn_all(t.o, Item), "holder__id__in", lists[l])), 2);
    }
    cr_expect_eq(count(mn_filter(mn_all(t.o, Item), "holder__in", MN_IN())), 0,
                 "an empty list matches nothing");
    cr_expect_eq(count(mn_exclude(mn_all(t.o, Item), "holder__in", MN_IN())), 5);
    /* a NULL among the values matches no row, short or long */
    mn_arg with_null[2];
    for (size_t l = 0; l < 2; l++) {
        size_t len = l ? n : 2;
        mn_arg *vals = mn_arena_alloc(t.arena, len * sizeof *vals);
        cr_assert_not_null(vals);
        for (size_t i = 0; i < len; i++)
            vals[i] = i == 1 ? mn_arg_null() : mn_arg_int(ids[i]);
        with_null[l] = mn_arg_list(vals, len);
        cr_expect_eq(count(mn_filter(mn_all(t.o, Item), "holder__in", with_null[l])), 1,
                     "list %zu with NULL", l);
    }
    /* Django drops None from the list: exclude([h0, None]) keeps every row but h0's item,
     * the rows without a holder included, and [None] alone is the empty list */
    for (size_t l = 0; l < 2; l++)
        cr_expect_eq(count(mn_exclude(mn_all(t.o, Item), "holder__in", with_null[l])), 4,
                     "list %zu: exclude with a NULL value", l);
    mn_arg only_null = mn_arg_list((mn_arg[]){mn_arg_null()}, 1);
    cr_expect_eq(count(mn_filter(mn_all(t.o, Item), "holder__in", only_null)), 0);
    cr_expect_eq(count(mn_exclude(mn_all(t.o, Item), "holder__in", only_null)), 5);
}

Test(orm_big_in, uuid_and_decimal_lists)
{
    size_t n = 1500;
    Item **items = mn_arena_alloc(t.arena, n * sizeof *items);
    const char **uids = mn_arena_alloc(t.arena, n * sizeof *uids);
    const char **prices = mn_arena_alloc(t.arena, n * sizeof *prices);
    cr_assert(items && uids && prices);
    for (size_t i = 0; i < n; i++) {
        items[i] = mn_new(t.o, Item);
        items[i]->uid = mn_arena_printf(t.arena, "0000%04zx-0000-4000-8000-%012zx", i, i * 7);
        items[i]->price = mn_arena_printf(t.arena, "%zu.%02zu", i, i % 100);
        mn_obj_set_null(items[i], "holder", true);
    }
    bulk(&Item_model, (void **)items, n);
    /* every other row, the uuids spelt in upper case without dashes, the prices with one
     * place where they can ("3.5" for 3.50), plus values no row has */
    size_t m = 0;
    for (size_t i = 0; i < n; i += 2, m++) {
        char hex[33];
        size_t h = 0;
        for (const char *p = items[i]->uid; *p; p++)
            if (*p != '-')
                hex[h++] = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
        hex[h] = '\0';
        uids[m] = mn_arena_strdup(t.arena, hex);
        size_t cents = i % 100;
        prices[m] =
            cents % 10 == 0 ? mn_arena_printf(t.arena, "%zu.%zu", i, cents / 10) : items[i]->price;
    }
    size_t found = m;
    for (; m < n; m++) {
        uids[m] = mn_arena_printf(t.arena, "ffffffff-0000-4000-8000-%012zx", m);
        prices[m] = mn_arena_printf(t.arena, "%zu.01", 100000 + m);
    }
    cr_expect_eq(count(mn_filter(mn_all(t.o, Item), "uid__in", mn_arg_strs(uids, m, t.arena))),
                 found);
    cr_expect_eq(count(mn_filter(mn_all(t.o, Item), "price__in", mn_arg_strs(prices, m, t.arena))),
                 found);
    cr_expect_eq(count(mn_exclude(mn_all(t.o, Item), "price__in", mn_arg_strs(prices, m, t.arena))),
                 n - found);
    /* a value of the wrong type names itself, as inline */
    uids[3] = "not-a-uuid";
    cr_expect_lt(
        mn_qs_count(mn_filter(mn_all(t.o, Item), "uid__in", mn_arg_strs(uids, m, t.arena))), 0);
    cr_expect_str_eq(mn_orm_error(t.o), "'not-a-uuid' is not a valid UUID.");
}

/* Every column type, its list short (inline on SQLite) and long (one parameter there; an
 * array on PostgreSQL either way, cast to the column's type): the row is found, and a list
 * of only other values finds nothing. */
Test(orm_big_in, every_column_type)
{
    cr_assert_not_null(mn_create(t.o, Everything, "small", 3, "big", 4, "ratio", 1.5, "amount",
                                 "2.125", "flag", true, "url", "http://a.example/", "day",
                                 "2024-02-03", "at", "2024-02-03T04:05:06Z"),
                       "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_update(mn_all(t.o, Everything), "clock", "04:05:06", "span", 1500000, "uid",
                           "12345678-1234-4234-8234-123456789abc", "blob",
                           mn_arg_bytes("\x00\"\\\xff", 4), "ip", "10.0.0.1"),
                 1, "%s", mn_orm_error(t.o));
    static const char *const lookups[] = {"small__in", "big__in",      "ratio__in",    "amount__in",
                                          "flag__in",  "url__in",      "day__in",      "at__in",
                                          "clock__in", "span__in",     "uid__in",      "blob__in",
                                          "ip__in",    "at__date__in", "day__year__in"};
    mn_arg hit[] = {mn_arg_int(3),
                    mn_arg_int(4),
                    mn_arg_float(1.5),
                    mn_arg_str("2.125"),
                    mn_arg_bool(true),
                    mn_arg_str("http://a.example/"),
                    mn_arg_str("2024-02-03"),
                    mn_arg_str("2024-02-03T04:05:06Z"),
                    mn_arg_str("04:05:06"),
                    mn_arg_int(1500000),
                    mn_arg_str("12345678123442348234123456789ABC"),
                    mn_arg_bytes("\x00\"\\\xff", 4),
                    mn_arg_str("10.0.0.1"),
                    mn_arg_str("2024-02-03"),
                    mn_arg_int(2024)};
    mn_arg miss[] = {mn_arg_int(9),
                     mn_arg_int(8),
                     mn_arg_float(2.5),
                     mn_arg_str("3.000"),
                     mn_arg_bool(false),
                     mn_arg_str("http://b.example/"),
                     mn_arg_str("2024-02-04"),
                     mn_arg_str("2024-02-03T04:05:07Z"),
                     mn_arg_str("04:05:07"),
                     mn_arg_int(2),
                     mn_arg_str("12345678-1234-4234-8234-123456789abd"),
                     mn_arg_bytes("\x00\"\\\xfe", 4),
                     mn_arg_str("10.0.0.2"),
                     mn_arg_str("2024-02-04"),
                     mn_arg_int(2025)};
    size_t long_n = 1001;
    mn_arg *vals = mn_arena_alloc(t.arena, long_n * sizeof *vals);
    cr_assert_not_null(vals);
    for (size_t c = 0; c < sizeof lookups / sizeof lookups[0]; c++) {
        const char *lk = lookups[c];
        for (size_t len = 2; len <= long_n; len += long_n - 2) {
            for (size_t i = 0; i < len; i++)
                vals[i] = miss[c];
            int64_t none =
                mn_qs_count(mn_filter(mn_all(t.o, Everything), lk, mn_arg_list(vals, len)));
            vals[len / 2] = hit[c];
            int64_t one =
                mn_qs_count(mn_filter(mn_all(t.o, Everything), lk, mn_arg_list(vals, len)));
            int64_t out =
                mn_qs_count(mn_exclude(mn_all(t.o, Everything), lk, mn_arg_list(vals, len)));
            if (none != 0 || one != 1 || out != 0)
                cr_expect_fail("%s, %zu values: %lld without, %lld with the row's value, %lld "
                               "excluded (%s)",
                               lk, len, (long long)none, (long long)one, (long long)out,
                               mn_orm_error(t.o));
        }
    }
}

/* Across M2M both ways and on annotations, short and long (padded with values no row has). */
Test(orm_big_in, relations_and_annotations)
{
    Holder **hs = holders(3);
    Label *l0 = mn_create(t.o, Label, "code", "a\"b", "n", 0);
    Label *l1 = mn_create(t.o, Label, "code", "c\\d", "n", 1);
    cr_assert(l0 && l1, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, hs[0], "labels", (const void *[]){l0}, 1), 0, "%s",
                 mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, hs[1], "labels", (const void *[]){l0, l1}, 2), 0, "%s",
                 mn_orm_error(t.o));
    size_t n = 1200;
    const char **codes = mn_arena_alloc(t.arena, n * sizeof *codes);
    int64_t *ids = mn_arena_alloc(t.arena, n * sizeof *ids);
    cr_assert(codes && ids);
    for (size_t i = 0; i < n; i++) {
        codes[i] = mn_arena_printf(t.arena, "none%zu", i);
        ids[i] = hs[2]->id + 1 + (int64_t)i;
    }
    codes[n - 1] = l1->code;
    ids[n - 1] = hs[1]->id;
    for (size_t len = 1; len <= n; len += n - 1) {
        const char *const *cs = codes + n - len;
        const int64_t *is = ids + n - len;
        cr_expect_eq(
            count(mn_filter(mn_all(t.o, Holder), "labels__in", mn_arg_strs(cs, len, t.arena))), 1,
            "%zu codes", len);
        cr_expect_eq(
            count(mn_exclude(mn_all(t.o, Holder), "labels__in", mn_arg_strs(cs, len, t.arena))), 2,
            "%zu codes", len);
        cr_expect_eq(
            count(mn_filter(mn_all(t.o, Label), "holders__in", mn_arg_ints(is, len, t.arena))), 2,
            "%zu ids", len);
        mn_qs *counted =
            mn_qs_annotate(mn_all(t.o, Holder), "c", mn_Count(t.o, "labels", false, NULL));
        cr_expect_eq(count(mn_filter(counted, "c__in", mn_arg_ints((int64_t[]){2}, 1, t.arena))),
                     1);
        /* an annotation's value among len-1 values no holder's n has */
        int64_t *ns = mn_arena_alloc(t.arena, len * sizeof *ns);
        cr_assert_not_null(ns);
        for (size_t i = 0; i < len; i++)
            ns[i] = 1000 + (int64_t)i;
        ns[len - 1] = 1;
        mn_qs *named = mn_qs_annotate(mn_all(t.o, Holder), "m", mn_F(t.o, "n"));
        cr_expect_eq(count(mn_filter(named, "m__in", mn_arg_ints(ns, len, t.arena))), 1,
                     "%zu values for an annotation", len);
        cr_expect_eq(count(mn_filter(counted, "c__in", mn_arg_ints(ns, len, t.arena))), 1,
                     "%zu values for a Count", len);
    }
}
