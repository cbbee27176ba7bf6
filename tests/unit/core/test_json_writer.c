/* Tests for src/core/json_writer.c: what a client reads back, escaping, refusals. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <manouche/json.h>
#include <math.h>
#include <string.h>

static mn_arena *arena;
static mn_buf out;
static mn_json_writer w;

static void setup(void)
{
    arena = mn_arena_new(256);
    mn_buf_init(&out, arena);
    mn_json_writer_init(&w, &out);
}

static void teardown(void)
{
    mn_arena_free(arena);
}

TestSuite(json_writer, .init = setup, .fini = teardown);

Test(json_writer, writes_nested_compact_documents)
{
    mn_json_begin_object(&w);
    mn_json_key(&w, "message");
    mn_json_write_string(&w, "Hello, World!");
    mn_json_key(&w, "list");
    mn_json_begin_array(&w);
    mn_json_write_int(&w, -42);
    mn_json_write_int(&w, INT64_MAX);
    mn_json_write_bool(&w, true);
    mn_json_write_bool(&w, false);
    mn_json_write_null(&w);
    mn_json_begin_object(&w);
    mn_json_end_object(&w);
    mn_json_begin_array(&w);
    mn_json_end_array(&w);
    mn_json_end_array(&w);
    mn_json_key(&w, "pi");
    mn_json_write_double(&w, 3.5);
    mn_json_end_object(&w);
    cr_assert_eq(mn_json_writer_finish(&w), MN_OK);
    cr_assert_str_eq(mn_buf_cstr(&out),
                     "{\"message\":\"Hello, World!\",\"list\":[-42,9223372036854775807,true,"
                     "false,null,{},[]],\"pi\":3.5}");
}

Test(json_writer, escapes_quotes_backslashes_and_control_characters)
{
    const char s[] = "a\"b\\c/\b\f\n\r\t\x01\x1f\x7f";
    mn_json_write_string_n(&w, s, sizeof s - 1);
    cr_assert_eq(mn_json_writer_finish(&w), MN_OK);
    cr_assert_str_eq(mn_buf_cstr(&out), "\"a\\\"b\\\\c/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
}

Test(json_writer, keeps_nul_bytes_and_valid_utf8_as_jansson_reads_them)
{
    const char s[] = "caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x8e\xb8\0end";
    mn_json_begin_array(&w);
    mn_json_write_string_n(&w, s, sizeof s - 1);
    mn_json_end_array(&w);
    cr_assert_eq(mn_json_writer_finish(&w), MN_OK);
    json_error_t e;
    json_t *v = json_loadb(out.data, out.len, JSON_ALLOW_NUL, &e);
    cr_assert_not_null(v, "%s", e.text);
    json_t *str = json_array_get(v, 0);
    cr_assert_eq(json_string_length(str), sizeof s - 1);
    cr_assert_eq(memcmp(json_string_value(str), s, sizeof s - 1), 0);
    json_decref(v);
}

Test(json_writer, refuses_invalid_utf8)
{
    const char *bad[] = {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xc3", "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mn_buf_reset(&out);
        mn_json_writer_init(&w, &out);
        cr_assert_eq(mn_json_write_string(&w, bad[i]), MN_EINVAL, "case %zu", i);
        cr_assert_eq(mn_json_writer_finish(&w), MN_EINVAL);
    }
}

Test(json_writer, doubles_read_back_exactly_and_stay_reals)
{
    const double vals[] = {0.1, 1.0 / 3, 1e300, -2.5e-310, 100.0, -0.0, 123456789012345678.0};
    mn_json_begin_array(&w);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        mn_json_write_double(&w, vals[i]);
    mn_json_end_array(&w);
    cr_assert_eq(mn_json_writer_finish(&w), MN_OK);
    json_t *v = json_loadb(out.data, out.len, 0, NULL);
    cr_assert_not_null(v, "%.*s", (int)out.len, out.data);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        json_t *x = json_array_get(v, i);
        cr_assert(json_is_real(x), "item %zu is not a real", i);
        cr_assert_eq(json_real_value(x), vals[i]);
    }
    json_decref(v);
    cr_assert_not_null(strstr(mn_buf_cstr(&out), "100.0"));
}

Test(json_writer, refuses_nan_and_infinity)
{
    cr_assert_eq(mn_json_write_double(&w, NAN), MN_EINVAL);
    mn_json_writer_init(&w, &out);
    cr_assert_eq(mn_json_write_double(&w, -INFINITY), MN_EINVAL);
}

Test(json_writer, refuses_misuse_and_the_error_sticks)
{
    mn_json_begin_object(&w);
    cr_assert_eq(mn_json_write_int(&w, 1), MN_EINVAL); /* a value where a key is due */
    size_t len = out.len;
    cr_assert_eq(mn_json_key(&w, "k"), MN_EINVAL);
    cr_assert_eq(out.len, len);
    cr_assert_eq(mn_json_writer_finish(&w), MN_EINVAL);

    mn_json_writer_init(&w, &out);
    mn_json_begin_array(&w);
    cr_assert_eq(mn_json_key(&w, "k"), MN_EINVAL); /* keys only in objects */

    mn_json_writer_init(&w, &out);
    mn_json_begin_array(&w);
    cr_assert_eq(mn_json_end_object(&w), MN_EINVAL); /* mismatched close */

    mn_json_writer_init(&w, &out);
    mn_json_begin_object(&w);
    mn_json_key(&w, "k");
    cr_assert_eq(mn_json_end_object(&w), MN_EINVAL); /* a key without its value */

    mn_json_writer_init(&w, &out);
    cr_assert_eq(mn_json_writer_finish(&w), MN_EINVAL); /* nothing written */
    mn_json_begin_array(&w);
    cr_assert_eq(mn_json_writer_finish(&w), MN_EINVAL); /* still open */
    mn_json_end_array(&w);
    cr_assert_eq(mn_json_writer_finish(&w), MN_OK);
    cr_assert_eq(mn_json_write_null(&w), MN_EINVAL); /* a second top-level value */
}

Test(json_writer, limits_nesting_depth)
{
    for (int i = 0; i < MN_JSON_MAX_DEPTH; i++)
        cr_assert_eq(mn_json_begin_array(&w), MN_OK);
    cr_assert_eq(mn_json_begin_array(&w), MN_EINVAL);
}

Test(json_writer, appends_after_existing_content_on_the_heap)
{
    mn_buf heap;
    mn_buf_init(&heap, NULL);
    mn_buf_puts(&heap, "x=");
    mn_json_writer_init(&w, &heap);
    mn_json_begin_array(&w);
    for (int i = 0; i < 1000; i++)
        mn_json_write_string(&w, "0123456789");
    mn_json_end_array(&w);
    cr_assert_eq(mn_json_writer_finish(&w), MN_OK);
    cr_assert_eq(heap.len, 2 + 2 + 1000 * 12 + 999);
    cr_assert_eq(memcmp(heap.data, "x=[\"0123456789\",", 16), 0);
    mn_buf_free(&heap);
}

/* Plain runs are scanned eight bytes at a time: a byte that needs care must be found at every
 * position of a word and of the tail, in keys and in values, and read back unchanged. */
Test(json_writer, finds_special_bytes_at_every_position)
{
    static const char specials[] = {'"', '\\', '\n', '\x01', '\x1f'};
    for (size_t len = 1; len <= 40; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t k = 0; k < sizeof specials + 1; k++) {
                char text[41];
                memset(text, 'a', len);
                text[len] = '\0';
                /* the last kind: a two-byte UTF-8 letter cut short at the end is invalid,
                 * whole elsewhere valid */
                if (k < sizeof specials)
                    text[pos] = specials[k];
                else if (pos + 1 < len)
                    text[pos] = '\xc3', text[pos + 1] = '\xa9';
                out.len = 0;
                mn_json_writer_init(&w, &out);
                mn_json_begin_object(&w);
                mn_json_key_n(&w, text, len);
                mn_json_write_string_n(&w, text, len);
                mn_json_end_object(&w);
                /* asserts only on a failure: thousands of passing ones cost seconds each
                 * under --full-stats */
                if (mn_json_writer_finish(&w) != MN_OK)
                    cr_assert_fail("len %zu pos %zu kind %zu: finish failed", len, pos, k);
                json_error_t e;
                json_t *doc = json_loadb(out.data, out.len, 0, &e);
                if (!doc)
                    cr_assert_fail("len %zu pos %zu kind %zu: %s", len, pos, k, e.text);
                const char *key;
                json_t *val;
                json_object_foreach(doc, key, val)
                {
                    if (strcmp(key, text) != 0 || !json_is_string(val) ||
                        strcmp(json_string_value(val), text) != 0)
                        cr_assert_fail("len %zu pos %zu kind %zu: read back differently", len, pos,
                                       k);
                }
                if (json_object_size(doc) != 1)
                    cr_assert_fail("len %zu pos %zu kind %zu: %zu members", len, pos, k,
                                   json_object_size(doc));
                json_decref(doc);
            }
        }
    }
}
