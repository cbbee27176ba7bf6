/* fuzz_core_json_writer.c — builds a document from the input bytes twice, with the streaming
 * writer and as a jansson tree, then checks that the writer's output parses with jansson and
 * equals the tree (strings with NUL bytes, numbers, nesting, duplicate keys alike). A string that
 * is not valid UTF-8 must be refused by both. */
#include <manouche/json.h>

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t n;
    bool refused; /* a value jansson refuses too (invalid UTF-8, NaN): stop comparing */
} input;

static uint8_t take(input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static size_t take_bytes(input *in, const char **s)
{
    size_t len = take(in) % 24;
    if (len > in->n)
        len = in->n;
    *s = (const char *)in->p;
    in->p += len;
    in->n -= len;
    return len;
}

static json_t *gen(input *in, mn_json_writer *w, int depth)
{
    uint8_t op = take(in);
    switch (depth >= 12 ? op % 5 : op % 7) {
    case 0: CHECK(mn_json_write_null(w) == 0); return json_null();
    case 1: CHECK(mn_json_write_bool(w, op & 8) == 0); return json_boolean(op & 8);
    case 2: {
        int64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = (int64_t)((uint64_t)v << 8 | take(in));
        CHECK(mn_json_write_int(w, v) == 0);
        return json_integer(v);
    }
    case 3: {
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = bits << 8 | take(in);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d)) {
            CHECK(mn_json_write_double(w, d) == MN_EINVAL);
            in->refused = true;
            return NULL;
        }
        CHECK(mn_json_write_double(w, d) == 0);
        return json_real(d);
    }
    case 4: {
        const char *s;
        size_t len = take_bytes(in, &s);
        json_t *v = json_stringn(s, len);
        int rc = mn_json_write_string_n(w, s, len);
        CHECK((rc == 0) == (v != NULL));
        if (!v)
            in->refused = true;
        return v;
    }
    case 5: {
        json_t *arr = json_array();
        CHECK(mn_json_begin_array(w) == 0);
        size_t count = take(in) % 5;
        for (size_t i = 0; i < count && !in->refused; i++) {
            json_t *v = gen(in, w, depth + 1);
            if (v)
                json_array_append_new(arr, v);
        }
        if (!in->refused)
            CHECK(mn_json_end_array(w) == 0);
        return arr;
    }
    default: {
        json_t *obj = json_object();
        CHECK(mn_json_begin_object(w) == 0);
        size_t count = take(in) % 5;
        for (size_t i = 0; i < count && !in->refused; i++) {
            const char *raw;
            size_t klen = take_bytes(in, &raw);
            char k[24]; /* jansson reads no NUL in a key: those become '0' */
            for (size_t j = 0; j < klen; j++)
                k[j] = raw[j] ? raw[j] : '0';
            json_t *probe = json_stringn(k, klen);
            int rc = mn_json_key_n(w, k, klen);
            CHECK((rc == 0) == (probe != NULL));
            json_decref(probe);
            if (rc) {
                in->refused = true;
                break;
            }
            json_t *v = gen(in, w, depth + 1);
            if (v)
                json_object_setn_new(obj, k, klen, v);
        }
        if (!in->refused)
            CHECK(mn_json_end_object(w) == 0);
        return obj;
    }
    }
}

static void emit(mn_json_writer *w, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        size_t klen;
        json_t *m;
        mn_json_begin_object(w);
        json_object_keylen_foreach(v, k, klen, m)
        {
            mn_json_key_n(w, k, klen);
            emit(w, m);
        }
        mn_json_end_object(w);
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *m;
        mn_json_begin_array(w);
        json_array_foreach(v, i, m) emit(w, m);
        mn_json_end_array(w);
        break;
    }
    case JSON_STRING: mn_json_write_string_n(w, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: mn_json_write_int(w, json_integer_value(v)); break;
    case JSON_REAL: mn_json_write_double(w, json_real_value(v)); break;
    case JSON_TRUE: mn_json_write_bool(w, true); break;
    case JSON_FALSE: mn_json_write_bool(w, false); break;
    case JSON_NULL: mn_json_write_null(w); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mn_buf out;
    mn_buf_init(&out, NULL);
    mn_json_writer w;
    mn_json_writer_init(&w, &out);
    input in = {data, size, false};
    json_t *built = gen(&in, &w, 0);
    if (in.refused) {
        CHECK(mn_json_writer_finish(&w) == MN_EINVAL);
    } else {
        CHECK(mn_json_writer_finish(&w) == 0);
        json_error_t e;
        json_t *parsed = json_loadb(out.data, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        CHECK(parsed != NULL);
        CHECK(json_equal(parsed, built));
        /* The parsed document written again reads back as itself. */
        mn_buf again;
        mn_buf_init(&again, NULL);
        mn_json_writer_init(&w, &again);
        emit(&w, parsed);
        CHECK(mn_json_writer_finish(&w) == 0);
        json_t *reparsed = json_loadb(again.data, again.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        CHECK(reparsed != NULL && json_equal(reparsed, parsed));
        json_decref(reparsed);
        json_decref(parsed);
        mn_buf_free(&again);
    }
    json_decref(built);
    mn_buf_free(&out);
    return 0;
}
