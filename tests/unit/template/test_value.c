/* test_value.c — template values follow Python's semantics, since Django's output is
 * Python's str(): float repr, list/dict repr, dates, truth, equality, ordering, lookups, and
 * the JSON converter used by `manouche render`. Expected strings come from CPython. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <manouche/value.h>

static mn_arena *a;
static void setup(void)
{
    a = mn_arena_new(0);
}
static void teardown(void)
{
    mn_arena_free(a);
}

static const char *text(const mn_value *v)
{
    mn_str s;
    cr_assert_eq(mn_value_to_text(v, a, &s), 0);
    return mn_arena_strndup(a, s.ptr, s.len);
}

Test(value, double_str_is_python_repr, .init = setup, .fini = teardown)
{
    static const struct {
        double d;
        const char *s;
    } cases[] = {
        {0.1, "0.1"},
        {1e16, "1e+16"},
        {1.5e-05, "1.5e-05"},
        {100.0, "100.0"},
        {1.0 / 3, "0.3333333333333333"},
        {-0.0, "-0.0"},
        {123456789012345680.0, "1.2345678901234568e+17"},
        {1e22, "1e+22"},
        {0.0001, "0.0001"},
        {2.5, "2.5"},
        {1e-7, "1e-07"},
        {9999999999999998.0, "9999999999999998.0"},
        /* the exact-division fast path and its edges (outputs from CPython's repr) */
        {435.54, "435.54"},
        {0.30000000000000004, "0.30000000000000004"},
        {999999999999999.9, "999999999999999.9"},
        {1000000000000000.0, "1000000000000000.0"},
        {123456.789, "123456.789"},
        {0.00012345, "0.00012345"},
        {2.675, "2.675"},
        {5e-324, "5e-324"},
        {1.7976931348623157e+308, "1.7976931348623157e+308"},
        {1234567890123.4568, "1234567890123.4568"},
        {100000000000000.5, "100000000000000.5"},
        {100.10000000000001, "100.10000000000001"},
        {-868.35, "-868.35"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_str_eq(text(mn_value_double(a, cases[i].d)), cases[i].s);
}

/* repr is the shortest "%.{p}e" that reads back, whichever way it is computed */
Test(value, double_str_round_trips_shortest, .init = setup, .fini = teardown)
{
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double d;
        if (i % 2) {
            d = (double)(x % 100000000) / 100.0 * pow(10, (int)(x >> 40) % 12 - 6);
        } else {
            uint64_t bits = x & 0x7fefffffffffffffull;
            memcpy(&d, &bits, sizeof d);
        }
        char want[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(want, sizeof want, "%.*e", prec - 1, d);
            if (strtod(want, NULL) == d)
                break;
        }
        mn_str gs;
        if (mn_value_to_text(mn_value_double(a, d), a, &gs) != 0)
            cr_assert_fail("str() of %.17g failed", d);
        const char *got = mn_arena_strndup(a, gs.ptr, gs.len);
        /* asserted only on a mismatch: 40,000 passing asserts cost a minute under
         * --full-stats */
        if (strtod(got, NULL) != d)
            cr_assert_fail("%s does not read back as %.17g", got, d);
        /* same significant digits as the reference */
        char gd[40], wd[40];
        size_t ng = 0, nw = 0;
        const char *e = strpbrk(got, "e");
        for (const char *p = got; *p && p != e; p++)
            if (*p >= '0' && *p <= '9' && (ng || *p != '0'))
                gd[ng++] = *p;
        while (ng > 1 && gd[ng - 1] == '0')
            ng--;
        for (const char *p = want; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9')
                wd[nw++] = *p;
        while (nw > 1 && wd[nw - 1] == '0')
            nw--;
        gd[ng] = wd[nw] = 0;
        if (d != 0 && strcmp(gd, wd) != 0)
            cr_assert_fail("repr %s of %.17g has the digits %s, not %s", got, d, gd, wd);
    }
}

Test(value, containers_str_is_python_repr, .init = setup, .fini = teardown)
{
    const char *json = "[\"a\", \"it's\", \"q\\\"\", 1, 1.5, null, true, {\"k\": [1]}]";
    mn_value *v = mn_value_from_json(a, json, strlen(json), NULL, 0);
    cr_assert(v);
    cr_assert_str_eq(text(v), "['a', \"it's\", 'q\"', 1, 1.5, None, True, {'k': [1]}]");
}

/* {"__decimal__": TEXT} is Decimal(TEXT): str() of it as CPython's decimal module writes it */
Test(value, decimal_str_as_python, .init = setup, .fini = teardown)
{
    static const char *const cases[][2] = {
        {"1e-10", "1E-10"},
        {"1.5e3", "1.5E+3"},
        {"0.00001", "0.00001"},
        {"1E2", "1E+2"},
        {"12.50", "12.50"},
        {"-0", "-0"},
        {"0.0000001", "1E-7"},
        {"+1.5", "1.5"},
        {"001.5", "1.5"},
        {"0E-10", "0E-10"},
        {"0.000", "0.000"},
        {"1.0E+2", "1.0E+2"},
        {"-1.23e-2", "-0.0123"},
        {"123e0", "123"},
        {"5e+0", "5"},
        {"0.0000010", "0.0000010"},
        {"-00.00e5", "-0E+3"},
        {"1e-6", "0.000001"},
        {"1e-7", "1E-7"},
        {".5", "0.5"},
        {"5.", "5"},
        {"12345678901234567890e-25", "0.0000012345678901234567890"},
        {"NaN", "NaN"},
        {"1e", "1e"}, /* not finite decimals: kept as given */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"__decimal__\": \"%s\"}", cases[i][0]);
        mn_value *v = mn_value_from_json(a, json, strlen(json), NULL, 0);
        cr_assert(v, "%s", json);
        cr_expect_eq(mn_value_kind_of(v), MN_VALUE_DECIMAL);
        cr_expect_str_eq(text(v), cases[i][1], "Decimal('%s')", cases[i][0]);
    }
}

Test(value, dates_str_as_python, .init = setup, .fini = teardown)
{
    const char *json =
        "[{\"__datetime__\": \"2008-01-02T03:04:05.000006\"}, {\"__time__\": \"03:04\"},"
        " {\"__date__\": \"2008-01-02\"}, {\"__datetime__\": \"2008-01-02 03:04:05+01:30\"}]";
    mn_value *v = mn_value_from_json(a, json, strlen(json), NULL, 0);
    cr_assert(v);
    cr_expect_str_eq(text(mn_value_list_get(v, 0)), "2008-01-02 03:04:05.000006");
    cr_expect_str_eq(text(mn_value_list_get(v, 1)), "03:04:00");
    cr_expect_str_eq(text(mn_value_list_get(v, 2)), "2008-01-02");
    cr_expect_str_eq(text(mn_value_list_get(v, 3)), "2008-01-02 03:04:05+01:30");
    mn_datetime dt;
    mn_value_kind k;
    cr_expect_eq(mn_datetime_parse("2023-02-29", 10, &dt, &k), MN_EINVAL);
    cr_expect_eq(mn_datetime_parse("2024-02-29", 10, &dt, &k), 0);
}

Test(value, truth_equality_and_ordering, .init = setup, .fini = teardown)
{
    cr_expect_eq(mn_value_truth(mn_value_none(), a), 0);
    cr_expect_eq(mn_value_truth(mn_value_cstr(a, ""), a), 0);
    cr_expect_eq(mn_value_truth(mn_value_decimal(a, "0.00", 4), a), 0);
    cr_expect_eq(mn_value_truth(mn_value_decimal(a, "0.01", 4), a), 1);
    cr_expect_eq(mn_value_truth(mn_value_list(a, 0), a), 0);
    cr_expect(mn_value_equal(mn_value_int(a, 1), mn_value_double(a, 1.0)));
    cr_expect(mn_value_equal(mn_value_int(a, 1), mn_value_true()));
    cr_expect(!mn_value_equal(mn_value_int(a, 1), mn_value_cstr(a, "1")));
    int c;
    cr_expect_eq(mn_value_compare(mn_value_cstr(a, "a"), mn_value_cstr(a, "b"), &c), 0);
    cr_expect_lt(c, 0);
    cr_expect_eq(mn_value_compare(mn_value_none(), mn_value_int(a, 1), &c), MN_EINVAL);
    cr_expect_eq(mn_value_compare(mn_value_cstr(a, "a"), mn_value_int(a, 1), &c), MN_EINVAL);
}

Test(value, lookup_dict_then_attribute_then_index, .init = setup, .fini = teardown)
{
    const char *json = "{\"items\": \"key wins\", \"l\": [10, 20], \"s\": \"héllo\"}";
    mn_value *d = mn_value_from_json(a, json, strlen(json), NULL, 0), *out;
    cr_assert_eq(mn_value_lookup(d, mn_str_from("items"), a, &out), 0);
    cr_expect_str_eq(text(out), "key wins");
    cr_assert_eq(mn_value_lookup(d, mn_str_from("values"), a, &out), 0);
    cr_expect_eq(mn_value_list_len(out), 3);
    mn_value *l = mn_value_dict_get(d, "l", 1);
    cr_assert_eq(mn_value_lookup(l, mn_str_from("1"), a, &out), 0);
    cr_expect_eq(out->u.i, 20);
    cr_expect_eq(mn_value_lookup(l, mn_str_from("2"), a, &out), MN_ENOTFOUND);
    mn_value *s = mn_value_dict_get(d, "s", 1);
    cr_assert_eq(mn_value_lookup(s, mn_str_from("1"), a, &out), 0);
    cr_expect_str_eq(text(out), "é");
    int64_t n;
    cr_assert_eq(mn_value_length(s, a, &n), 0);
    cr_expect_eq(n, 5);
}

Test(value, json_errors_name_the_place, .init = setup, .fini = teardown)
{
    char msg[200];
    cr_assert_null(mn_value_from_json(a, "{\"a\": [1,}", 10, msg, sizeof msg));
    cr_assert(strstr(msg, "line 1"), "%s", msg);
}

Test(value, conversions_follow_python, .init = setup, .fini = teardown)
{
    int64_t i;
    double d;
    cr_expect_eq(mn_value_to_int(mn_value_cstr(a, " 42 "), &i), 0);
    cr_expect_eq(i, 42);
    cr_expect_eq(mn_value_to_int(mn_value_cstr(a, "4.2"), &i), MN_EINVAL);
    cr_expect_eq(mn_value_to_int(mn_value_double(a, -3.9), &i), 0);
    cr_expect_eq(i, -3);
    cr_expect_eq(mn_value_to_double(mn_value_cstr(a, "1e3"), &d), 0);
    cr_expect_eq(d, 1000.0);
    cr_expect_eq(mn_value_to_double(mn_value_cstr(a, "x"), &d), MN_EINVAL);
}

/* A dict of 200,000 keys (in_bulk over a large table, a big JSON document) is built and read
 * in linear time, keeps insertion order, and a second set of a key replaces its value. */
Test(value, large_dict_keeps_order_and_finds_every_key, .init = setup, .fini = teardown,
     .timeout = 20)
{
    enum { N = 200000 };
    mn_value *d = mn_value_dict(a, 0);
    char key[32];
    size_t failed = 0; /* counted, not asserted per key: --full-stats reports every assert */
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "k%d", i);
        failed += mn_value_dict_set(a, d, key, (size_t)n, mn_value_int(a, i)) != 0;
    }
    cr_assert_eq(failed, 0);
    int n = snprintf(key, sizeof key, "k%d", 77);
    cr_assert_eq(mn_value_dict_set(a, d, key, (size_t)n, mn_value_int(a, -1)), 0);
    cr_assert_eq(mn_value_dict_len(d), N);
    size_t wrong = 0;
    for (int i = 0; i < N; i++) {
        n = snprintf(key, sizeof key, "k%d", i);
        const mn_value *v = mn_value_dict_get(d, key, (size_t)n);
        int64_t got = 0;
        if (!v || mn_value_to_int(v, &got) || got != (i == 77 ? -1 : i))
            wrong++;
        mn_str k = mn_value_dict_key(d, (size_t)i);
        if (k.len != (size_t)n || memcmp(k.ptr, key, k.len))
            wrong++;
    }
    cr_assert_eq(wrong, 0, "%zu keys lost, misplaced or wrong", wrong);
    cr_assert_null(mn_value_dict_get(d, "k200000", 7));
    cr_assert_null(mn_value_dict_get(d, "", 0));
}
