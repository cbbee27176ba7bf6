/* cursor.c — cursor (keyset) pagination: each page continues after the last row of the
 * previous one (WHERE (field, pk) > (last field, last pk), NULL-aware: the NULL rows are
 * where the backend's ORDER BY puts them), so pages stay stable while rows are inserted and
 * deep pages cost no OFFSET scan. The cursor is opaque to clients:
 * base64url of "v1:<field>:<pk>:<value>" plus an HMAC-SHA256 tag under the caller's secret,
 * so a client can neither forge nor alter it. */
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

static const char *make_cursor(mn_orm *o, const char *field, void *last, const char *secret)
{
    const mn_obj *h = last;
    const char *name = field[0] == '-' ? field + 1 : field;
    mn_value *v = mn_obj_get_value(o, last, name);
    mn_str text = {"", 0};
    bool null = !v || mn_value_is_none(v);
    if (!null && mn_value_to_text(v, o->arena, &text) != 0)
        return NULL;
    mn_buf payload;
    mn_buf_init(&payload, o->arena);
    mn_buf_printf(&payload, "v1:%s:", field);
    /* the pk as text; a text pk has its ':' and '%' escaped so the payload still splits */
    for (const char *k = mn_obj_pk_text(o, last); k && *k; k++) {
        if (*k == ':' || *k == '%')
            mn_buf_printf(&payload, "%%%02X", (unsigned char)*k);
        else
            mn_buf_putc(&payload, *k);
    }
    mn_buf_printf(&payload, ":%c", null ? 'N' : 'V');
    mn_buf_put_str(&payload, text);
    (void)h;
    unsigned char mac[32];
    tag(secret, payload.data, payload.len, mac);
    mn_buf out;
    mn_buf_init(&out, o->arena);
    b64url(&out, (const unsigned char *)payload.data, payload.len);
    mn_buf_putc(&out, '.');
    b64url(&out, mac, 16);
    return mn_buf_cstr(&out);
}

/* Checks the tag and splits the payload; the value stays text for the field's conversion. */
static int read_cursor(mn_orm *o, const mn_model *m, const char *cursor, const char *field,
                       const char *secret, mn_arg *pk, const char **value)
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
    size_t flen = strlen(field);
    if (!p || strncmp(p, "v1:", 3) != 0 || strncmp(p + 3, field, flen) != 0 || p[3 + flen] != ':')
        return MN_EINVAL; /* a cursor of another ordering */
    p += 4 + flen;
    char *colon = strchr(p, ':');
    if (!colon)
        return MN_EINVAL;
    if (!mn__pk_is_text(m)) {
        int64_t i;
        if (mn_str_to_i64((mn_str){p, (size_t)(colon - p)}, &i) != 0)
            return MN_EINVAL;
        *pk = mn_arg_int(i);
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
        *pk = mn_arg_str(mn_buf_cstr(&k) ? k.data : "");
    }
    *value = colon[1] == 'N' ? NULL : colon + 2;
    return 0;
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
    bool desc = field[0] == '-';
    const char *name = desc ? field + 1 : field;
    const mn_fielddef *f = mn__field(qs->m, name, strlen(name));
    if (!f)
        return mn__no_field(o, qs->m, name, strlen(name));
    mn_qs *page = mn_qs_order_by(qs, mn_arena_printf(o->arena, "%s,%spk", field, desc ? "-" : ""));
    if (cursor && *cursor) {
        mn_arg pk;
        const char *value;
        if (read_cursor(o, qs->m, cursor, field, secret, &pk, &value) != 0)
            return mn__orm_fail(o, MN_EINVAL, "Invalid cursor");
        const char *gt = desc ? "lt" : "gt";
        /* Where the NULLs fall in the row order: the ORDER BY leaves it to the backend, and
         * SQLite sorts NULL below every value (first ascending), PostgreSQL above (last). */
        bool low = mn__dialect(o, qs->alias) == MN_DIALECT_SQLITE;
        bool nulls_first = low != desc;
        mn_q *isnull = mn_Q_kv(
            o, &(mn_kv){mn_arena_printf(o->arena, "%s__isnull", name), mn_arg_bool(true)}, 1);
        mn_q *after;
        if (value) {
            /* (field > v) OR (field = v AND pk > last): the row order's strict successor */
            mn_kv k1 = {mn_arena_printf(o->arena, "%s__%s", name, gt), mn_arg_str(value)};
            mn_kv k2[2] = {{name, mn_arg_str(value)},
                           {mn_arena_printf(o->arena, "pk__%s", gt), pk}};
            after = mn_q_or(o, mn_Q_kv(o, &k1, 1), mn_Q_kv(o, k2, 2));
            if (!nulls_first) /* ... then every NULL row, which sorts after all values */
                after = mn_q_or(o, after, isnull);
        } else {
            /* (field IS NULL AND pk > last), then every non-NULL row if NULLs come first */
            mn_kv k2[2] = {{mn_arena_printf(o->arena, "%s__isnull", name), mn_arg_bool(true)},
                           {mn_arena_printf(o->arena, "pk__%s", gt), pk}};
            after = mn_Q_kv(o, k2, 2);
            if (nulls_first)
                after = mn_q_or(o, after, mn_q_not(o, isnull));
        }
        page = mn_qs_filter_q(page, after);
    }
    mn_rows *rows = mn_qs_fetch(mn_qs_slice(page, 0, per_page + 1));
    if (!rows)
        return o->errcode ? o->errcode : MN_ENOMEM;
    out->has_next = rows->len > (size_t)per_page;
    if (out->has_next)
        rows->len = (size_t)per_page;
    out->rows = rows;
    if (out->has_next &&
        !(out->next_cursor = make_cursor(o, field, rows->items[rows->len - 1], secret)))
        return MN_ENOMEM;
    return 0;
}
