/* json_writer.c — the streaming JSON writer of manouche/json.h.
 *
 * The state is two bit sets indexed by depth, so a writer lives on the stack and writing a
 * value is a few branches and one append; single bytes are stored straight into the
 * buffer's spare room, and a string that needs no escape (the common case) costs one
 * reserve, one scan and one memcpy, its quotes (and a key's comma and colon) included. */
#include <manouche/json.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mn_json_writer_init(mn_json_writer *w, mn_buf *out)
{
    *w = (mn_json_writer){.out = out};
}

int mn_json_writer_finish(const mn_json_writer *w)
{
    if (w->err)
        return w->err;
    return w->done ? MN_OK : MN_EINVAL;
}

static int fail(mn_json_writer *w, int err)
{
    if (!w->err)
        w->err = err;
    return w->err;
}

static uint64_t bit(unsigned depth)
{
    return (uint64_t)1 << (depth - 1);
}

/* One byte: stored directly while the buffer has room (mn_buf keeps one spare byte). */
static inline int put1(mn_json_writer *w, char c)
{
    mn_buf *b = w->out;
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        return MN_OK;
    }
    return mn_buf_putc(b, c) != 0 ? fail(w, MN_ENOMEM) : MN_OK;
}

/* Writes the separator a value needs where it stands, refusing a value where none may go. */
static int before_value(mn_json_writer *w)
{
    if (w->err)
        return w->err;
    if (w->depth == 0)
        return w->done ? fail(w, MN_EINVAL) : MN_OK;
    if (w->is_object & bit(w->depth)) {
        if (!w->key_pending)
            return fail(w, MN_EINVAL);
        w->key_pending = false;
        return MN_OK;
    }
    if ((w->has_items & bit(w->depth)) && put1(w, ',') != 0)
        return w->err;
    w->has_items |= bit(w->depth);
    return MN_OK;
}

static void after_value(mn_json_writer *w)
{
    if (w->depth == 0)
        w->done = true;
}

static int put(mn_json_writer *w, const char *s, size_t n)
{
    if (mn_buf_append(w->out, s, n) != 0)
        return fail(w, MN_ENOMEM);
    return MN_OK;
}

static int scalar(mn_json_writer *w, const char *s, size_t n)
{
    int rc = before_value(w);
    if (rc)
        return rc;
    rc = put(w, s, n);
    if (!rc)
        after_value(w);
    return rc;
}

/* 0: copied as is; 1: escaped; 2: the start of a multi-byte UTF-8 sequence (or invalid). */
static inline int byte_class(unsigned char c)
{
    if (c >= 0x80)
        return 2;
    return c < 0x20 || c == '"' || c == '\\';
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), 0 when it is not one:
 * overlong forms, surrogates and code points above U+10FFFF are refused, as RFC 3629 says. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t k;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (k > n)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

/* byte_class() != 0, as a table for the byte-at-a-time tail. */
static const bool needs_care[256] = {
    [0 ... 0x1f] = true,
    ['"'] = true,
    ['\\'] = true,
    [0x80 ... 0xff] = true,
};

static inline bool word_is_plain(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t x;
    memcpy(&x, p, 8);
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    uint64_t hit = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | x;
    return (hit & highs) == 0;
}

/* How many bytes at the start of s need no escape. Eight bytes at a time first: a word is
 * plain when none of its bytes is below 0x20, a quote, a backslash or above 0x7f (the zero-
 * byte tests may flag a byte above a true hit, never miss one; a flagged word is re-read
 * byte by byte). */
static inline size_t plain_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        if (!word_is_plain(s + i))
            break;
    /* The last few bytes: one overlapping word when the string has eight. */
    if (i + 8 > n && n >= 8 && i < n && word_is_plain(s + n - 8))
        return n;
    while (i < n && !needs_care[s[i]])
        i++;
    return i;
}

/* The rest of a quoted string from its first byte that needs attention (escapes, UTF-8
 * checks); the opening quote and the plain bytes before are written. */
static int put_quoted_slow(mn_json_writer *w, const unsigned char *s, size_t i, size_t n)
{
    static const char HEX[] = "0123456789abcdef";
    const char *str = (const char *)s;
    while (i < n) {
        size_t start = i;
        i += plain_prefix(s + i, n - i);
        if (i > start && put(w, str + start, i - start) != 0)
            return w->err;
        if (i == n)
            break;
        if (byte_class(s[i]) == 2) {
            size_t k = utf8_len(s + i, n - i);
            if (k == 0)
                return fail(w, MN_EINVAL);
            if (put(w, str + i, k) != 0)
                return w->err;
            i += k;
            continue;
        }
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (s[i]) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = HEX[s[i] >> 4];
            esc[5] = HEX[s[i] & 0xf];
            elen = 6;
        }
        if (put(w, esc, elen) != 0)
            return w->err;
        i++;
    }
    return put1(w, '"');
}

/* prefix (0-1 byte), the quoted string, then suffix (0-1 byte): one reserve and one copy
 * when the string needs no escape. */
static int put_quoted(mn_json_writer *w, char prefix, const char *str, size_t n, char suffix)
{
    const unsigned char *s = (const unsigned char *)str;
    mn_buf *b = w->out;
    if (n > SIZE_MAX - 4 || mn_buf_reserve(b, n + 4) != 0)
        return fail(w, MN_ENOMEM);
    if (prefix)
        b->data[b->len++] = prefix;
    b->data[b->len++] = '"';
    size_t plain = plain_prefix(s, n);
    memcpy(b->data + b->len, str, plain);
    b->len += plain;
    if (plain < n && put_quoted_slow(w, s, plain, n) != 0)
        return w->err;
    if (plain == n)
        b->data[b->len++] = '"';
    return suffix ? put1(w, suffix) : MN_OK;
}

int mn_json_key_n(mn_json_writer *w, const char *key, size_t n)
{
    if (w->err)
        return w->err;
    if (!key || w->depth == 0 || !(w->is_object & bit(w->depth)) || w->key_pending)
        return fail(w, MN_EINVAL);
    char comma = (w->has_items & bit(w->depth)) ? ',' : 0;
    w->has_items |= bit(w->depth);
    if (put_quoted(w, comma, key, n, ':') != 0)
        return w->err;
    w->key_pending = true;
    return MN_OK;
}

int mn_json_key(mn_json_writer *w, const char *key)
{
    return mn_json_key_n(w, key, key ? strlen(key) : 0);
}

static int begin(mn_json_writer *w, bool object)
{
    int rc = before_value(w);
    if (rc)
        return rc;
    if (w->depth == MN_JSON_MAX_DEPTH)
        return fail(w, MN_EINVAL);
    if (put1(w, object ? '{' : '[') != 0)
        return w->err;
    w->depth++;
    w->has_items &= ~bit(w->depth);
    if (object)
        w->is_object |= bit(w->depth);
    else
        w->is_object &= ~bit(w->depth);
    return MN_OK;
}

static int end(mn_json_writer *w, bool object)
{
    if (w->err)
        return w->err;
    if (w->depth == 0 || !(w->is_object & bit(w->depth)) != !object || w->key_pending)
        return fail(w, MN_EINVAL);
    if (put1(w, object ? '}' : ']') != 0)
        return w->err;
    w->depth--;
    after_value(w);
    return MN_OK;
}

int mn_json_begin_object(mn_json_writer *w)
{
    return begin(w, true);
}

int mn_json_end_object(mn_json_writer *w)
{
    return end(w, true);
}

int mn_json_begin_array(mn_json_writer *w)
{
    return begin(w, false);
}

int mn_json_end_array(mn_json_writer *w)
{
    return end(w, false);
}

int mn_json_write_string_n(mn_json_writer *w, const char *s, size_t n)
{
    if (!s)
        return mn_json_write_null(w);
    int rc = before_value(w);
    if (rc)
        return rc;
    rc = put_quoted(w, 0, s, n, 0);
    if (!rc)
        after_value(w);
    return rc;
}

int mn_json_write_string(mn_json_writer *w, const char *s)
{
    return mn_json_write_string_n(w, s, s ? strlen(s) : 0);
}

int mn_json_write_int(mn_json_writer *w, int64_t v)
{
    int rc = before_value(w);
    if (rc)
        return rc;
    if (mn_buf_put_i64(w->out, v) != 0)
        return fail(w, MN_ENOMEM);
    after_value(w);
    return MN_OK;
}

int mn_json_write_double(mn_json_writer *w, double v)
{
    if (w->err)
        return w->err;
    if (!isfinite(v))
        return fail(w, MN_EINVAL);
    /* The shortest of %.15g..%.17g that reads back as v; a ".0" keeps it a real for readers
     * that tell integers from reals (jansson does). */
    char text[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(text, sizeof text - 2, "%.*g", prec, v);
        if (strtod(text, NULL) == v)
            break;
    }
    if (n <= 0 || (size_t)n >= sizeof text - 2)
        return fail(w, MN_EINVAL);
    if (!strpbrk(text, ".eE")) {
        text[n++] = '.';
        text[n++] = '0';
    }
    return scalar(w, text, (size_t)n);
}

int mn_json_write_bool(mn_json_writer *w, bool v)
{
    return v ? scalar(w, "true", 4) : scalar(w, "false", 5);
}

int mn_json_write_null(mn_json_writer *w)
{
    return scalar(w, "null", 4);
}
