/* cursor.c — cursor (keyset) pagination: each page continues after the last row of the
 * previous one (WHERE (field, pk) > (last field, last pk), NULL-aware: the NULL rows are
 * where the backend's ORDER BY puts them), so pages stay stable while rows are inserted and
 * deep pages cost no OFFSET scan. A previous page is the same query in the reversed order
 * (before the page's first row), its rows turned back. The cursor is opaque to clients:
 * base64url of "v2:<way>:<field>:<pk>:<N|V><value>" plus an HMAC-SHA256 tag under the
 * caller's secret, so a client can neither forge nor alter it. <way> is 'a' (the rows after
 * the position), 'b' (before it), or 'A'/'B' (from it on / up to it, for the way back from a
 * page that came out empty). A "v1:" cursor (no way) of earlier versions reads as 'a'. */
#include "internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url(mn_buf *out, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        mn_buf_putc(out, b64[(v >> 18) & 63]);
        mn_buf_putc(out, b64[(v >> 12) & 63]);
        if (i + 1 < n)
            mn_buf_putc(out, b64[(v >> 6) & 63]);
        if (i + 2 < n)
            mn_buf_putc(out, b64[v & 63]);
    }
}

static int unb64url(mn_buf *out, const char *s, size_t n)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = memchr(b64, s[i], 64);
        if (!k || !s[i])
            return MN_EINVAL;
        acc = (acc << 6) | (uint32_t)(k - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            mn_buf_putc(out, (char)((acc >> bits) & 0xff));
        }
    }
    return 0;
}

static void tag(const char *secret, const char *payload, size_t n, unsigned char mac[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)payload, n, mac, &len);
}

/* The position of a row: "<pk>:<N|V><value>", the pk's ':' and '%' escaped so it splits. */
static const char *row_position(mn_orm *o, const char *name, void *row)
{
    mn_value *v = mn_obj_get_value(o, row, name);
    mn_str text = {"", 0};
    bool null = !v || mn_value_is_none(v);
    if (!null && mn_value_to_text(v, o->arena, &text) != 0)
        return NULL;
    mn_buf pos;
    mn_buf_init(&pos, o->arena);
    for (const char *k = mn_obj_pk_text(o, row); k && *k; k++) {
        if (*k == ':' || *k == '%')
            mn_buf_printf(&pos, "%%%02X", (unsigned char)*k);
        else
            mn_buf_putc(&pos, *k);
    }
    mn_buf_printf(&pos, ":%c", null ? 'N' : 'V');
    mn_buf_put_str(&pos, text);
    return mn_buf_cstr(&pos);
}

static const char *make_cursor(mn_orm *o, const char *field, char way, const char *pos,
                               const char *secret)
{
    if (!pos)
        return NULL;
    mn_buf payload;
    mn_buf_init(&payload, o->arena);
    mn_buf_printf(&payload, "v2:%c:%s:%s", way, field, pos);
    if (!mn_buf_cstr(&payload))
        return NULL;
    unsigned char mac[32];
    tag(secret, payload.data, payload.len, mac);
    mn_buf out;
    mn_buf_init(&out, o->arena);
    b64url(&out, (const unsigned char *)payload.data, payload.len);
    mn_buf_putc(&out, '.');
    b64url(&out, mac, 16);
    return mn_buf_cstr(&out);
}

typedef struct position {
    char way;         /* 'a', 'A', 'b', 'B' */
    const char *text; /* "<pk>:<N|V><value>", to make the cursor of an empty page */
    mn_arg pk;
    const char *value; /* NULL: the row's field is NULL; text for the field's conversion */
} position;

/* Checks the tag and splits the payload. */
static int read_cursor(mn_orm *o, const mn_model *m, const char *cursor, const char *field,
                       const char *secret, position *at)
{
    const char *dot = strchr(cursor, '.');
    if (!dot)
        return MN_EINVAL;
    mn_buf payload, mac;
    mn_buf_init(&payload, o->arena);
    mn_buf_init(&mac, o->arena);
    if (unb64url(&payload, cursor, (size_t)(dot - cursor)) != 0 ||
        unb64url(&mac, dot + 1, strlen(dot + 1)) != 0 || mac.len != 16)
        return MN_EINVAL;
    unsigned char want[32];
    tag(secret, payload.data ? payload.data : "", payload.len, want);
    if (CRYPTO_memcmp(want, mac.data, 16) != 0)
        return MN_EINVAL;
    char *p = mn_buf_cstr(&payload);
    if (!p || strlen(p) != payload.len)
        return MN_EINVAL;
    if (strncmp(p, "v1:", 3) == 0) {
        at->way = 'a';
        p += 3;
    } else if (strncmp(p, "v2:", 3) == 0 && p[3] && strchr("aAbB", p[3]) && p[4] == ':') {
        at->way = p[3];
        p += 5;
    } else {
        return MN_EINVAL;
    }
    size_t flen = strlen(field);
    if (strncmp(p, field, flen) != 0 || p[flen] != ':')
        return MN_EINVAL; /* a cursor of another ordering */
    p += flen + 1;
    at->text = p;
    char *colon = strchr(p, ':');
    if (!colon || (colon[1] != 'N' && colon[1] != 'V'))
        return MN_EINVAL;
    if (!mn__pk_is_text(m)) {
        int64_t i;
        if (mn_str_to_i64((mn_str){p, (size_t)(colon - p)}, &i) != 0)
            return MN_EINVAL;
        at->pk = mn_arg_int(i);
    } else {
        mn_buf k;
        mn_buf_init(&k, o->arena);
        for (const char *q = p; q < colon; q++) {
            unsigned hi, lo;
            if (*q == '%' && q + 2 < colon && sscanf(q + 1, "%1x%1x", &hi, &lo) == 2) {
                mn_buf_putc(&k, (char)(hi * 16 + lo));
                q += 2;
            } else {
                mn_buf_putc(&k, *q);
            }
        }
        at->pk = mn_arg_str(mn_buf_cstr(&k) ? k.data : "");
    }
    at->value = colon[1] == 'N' ? NULL : colon + 2;
    return 0;
}

/* The rows after `at` in the order by name (descending if desc) then pk the same way; with
 * `inclusive`, the row at it too. */
static mn_q *after(mn_qs *qs, const char *name, bool desc, const position *at, bool inclusive)
{
    mn_orm *o = qs->o;
    const char *gt = desc ? "lt" : "gt";
    const char *pk_gt = mn_arena_printf(o->arena, "pk__%s%s", gt, inclusive ? "e" : "");
    /* Where the NULLs fall in the row order: the ORDER BY leaves it to the backend, and
     * SQLite sorts NULL below every value (first ascending), PostgreSQL above (last). */
    bool low = mn__dialect(o, qs->alias) == MN_DIALECT_SQLITE;
    bool nulls_first = low != desc;
    const char *isnull_key = mn_arena_printf(o->arena, "%s__isnull", name);
    mn_q *isnull = mn_Q_kv(o, &(mn_kv){isnull_key, mn_arg_bool(true)}, 1);
    mn_q *q;
    if (at->value) {
        /* (field > v) OR (field = v AND pk > last): the row order's strict successor */
        mn_kv k1 = {mn_arena_printf(o->arena, "%s__%s", name, gt), mn_arg_str(at->value)};
        mn_kv k2[2] = {{name, mn_arg_str(at->value)}, {pk_gt, at->pk}};
        q = mn_q_or(o, mn_Q_kv(o, &k1, 1), mn_Q_kv(o, k2, 2));
        if (!nulls_first) /* ... then every NULL row, which sorts after all values */
            q = mn_q_or(o, q, isnull);
    } else {
        /* (field IS NULL AND pk > last), then every non-NULL row if NULLs come first */
        mn_kv k2[2] = {{isnull_key, mn_arg_bool(true)}, {pk_gt, at->pk}};
        q = mn_Q_kv(o, k2, 2);
        if (nulls_first)
            q = mn_q_or(o, q, mn_q_not(o, isnull));
    }
    return q;
}

int mn_paginate_cursor(mn_qs *qs, const char *field, int64_t per_page, const char *cursor,
                       const char *secret, mn_cursor_page *out)
{
    memset(out, 0, sizeof *out);
    if (!qs)
        return MN_EINVAL;
    mn_orm *o = qs->o;
    if (per_page <= 0 || !field || !*field || !secret || !*secret)
        return mn__orm_fail(o, MN_EINVAL,
                            "cursor pagination needs a field, per_page > 0 and a secret");
    if (qs->mode != MODE_OBJECTS) /* the cursor is read from each page's instances */
        return mn__orm_fail(o, MN_EINVAL,
                            "cursor pagination needs model instances, not values() rows");
    bool desc = field[0] == '-';
    const char *name = desc ? field + 1 : field;
    const mn_fielddef *f = mn__field(qs->m, name, strlen(name));
    if (!f)
        return mn__no_field(o, qs->m, name, strlen(name));
    position at = {0};
    bool has_at = cursor && *cursor; /* "" is the first page, as DRF's empty ?cursor= */
    if (has_at && read_cursor(o, qs->m, cursor, field, secret, &at) != 0)
        return mn__orm_fail(o, MN_EINVAL, "Invalid cursor");
    /* backwards: the rows before the position, nearest first, in the reversed order */
    bool back = has_at && (at.way == 'b' || at.way == 'B');
    bool inclusive = at.way == 'A' || at.way == 'B';
    bool rdesc = desc != back;
    mn_qs *page = mn_qs_order_by(
        qs, mn_arena_printf(o->arena, "%s%s,%spk", rdesc ? "-" : "", name, rdesc ? "-" : ""));
    if (page && has_at)
        page = mn_qs_filter_q(page, after(qs, name, rdesc, &at, inclusive));
    mn_rows *rows = page ? mn_qs_fetch(mn_qs_slice(page, 0, per_page + 1)) : NULL;
    if (!rows)
        return o->errcode ? o->errcode : MN_ENOMEM;
    bool more = rows->len > (size_t)per_page;
    if (more)
        rows->len = (size_t)per_page;
    size_t n = rows->len;
    if (back)
        for (size_t i = 0; i < n / 2; i++) {
            void *x = rows->items[i];
            rows->items[i] = rows->items[n - 1 - i];
            rows->items[n - 1 - i] = x;
        }
    out->rows = rows;
    /* Forwards, a page reached through a cursor has rows before it (the ones that led here);
     * backwards, rows after it. The other way there are more rows if the query found them. */
    out->has_next = back || more;
    out->has_previous = back ? more : has_at;
    /* An empty page (its rows deleted since) turns back from the cursor's own position,
     * taking the row at it if the cursor left it out. */
    if (out->has_next) {
        out->next_cursor =
            n ? make_cursor(o, field, 'a', row_position(o, name, rows->items[n - 1]), secret)
              : make_cursor(o, field, inclusive ? 'a' : 'A', at.text, secret);
        if (!out->next_cursor)
            return MN_ENOMEM;
    }
    if (out->has_previous) {
        out->previous_cursor =
            n ? make_cursor(o, field, 'b', row_position(o, name, rows->items[0]), secret)
              : make_cursor(o, field, inclusive ? 'b' : 'B', at.text, secret);
        if (!out->previous_cursor)
            return MN_ENOMEM;
    }
    return 0;
}
