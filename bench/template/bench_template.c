/* bench-template — the template-rendering benchmark's two C contestants (issue 3):
 *
 *   bench-template manouche DIR CONTEXT.json SECONDS OUT
 *       renders DIR/templates/page.html (extends base.html; a 1,000-row table with filters)
 *       with Manouche's engine, as a view would: the template compiled once (cached loader),
 *       a fresh context and a reset arena for every render.
 *   bench-template floor DIR CONTEXT.json SECONDS OUT
 *       writes the same bytes with hand-written C and no template engine: the floor.
 *
 * Each renders for SECONDS, prints "RENDERS n SECONDS s" and writes the last page to OUT;
 * bench/run checks that both pages are byte-identical to Django's. SECONDS written as "Nx"
 * (e.g. "100x") renders exactly N times instead, so that instruction counts under callgrind
 * can be divided by a known number of renders.
 *
 * The floor does per render the work the template asks for (escaping, title case, lower
 * case, two-decimal formatting, joins, cycle, counters); only the JSON parsing is done once,
 * as the Manouche side parses its context once too. It uses no Manouche code on purpose. */
#define _GNU_SOURCE
#include <manouche/core.h>
#include <manouche/template.h>
#include <manouche/value.h>

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *len = (size_t)n;
    }
    return buf;
}

static int write_out(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "bench-template: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* ---- Manouche ---- */

static int run_manouche(const char *dir, const char *ctx_path, double seconds, long count,
                        const char *out)
{
    size_t len;
    char *json = slurp(ctx_path, &len);
    if (!json) {
        fprintf(stderr, "bench-template: cannot read %s\n", ctx_path);
        return 1;
    }
    int status = 1;
    char tdir[4096], msg[256];
    snprintf(tdir, sizeof tdir, "%s/templates", dir);
    mn_arena *data_arena = mn_arena_new(1 << 20);
    mn_arena *arena = mn_arena_new(1 << 16);
    mn_template_engine *e = mn_template_engine_new();
    mn_buf page;
    mn_buf_init(&page, NULL);
    mn_value *data = mn_value_from_json(data_arena, json, len, msg, sizeof msg);
    if (!data) {
        fprintf(stderr, "bench-template: %s: %s\n", ctx_path, msg);
        goto done;
    }
    mn_template_engine_add_dir(e, tdir);
    mn_template_error err;
    mn_template *t = mn_template_engine_get(e, "page.html", &err);
    if (!t)
        goto error;
    long n = 0;
    double start = now_s(), elapsed = 0;
    while (count > 0 ? n < count : (elapsed < seconds || n < 3)) {
        mn_arena_reset(arena);
        mn_buf_reset(&page);
        mn_context *ctx = mn_context_new(arena);
        if (!ctx || mn_context_update(ctx, data) < 0 || mn_context_push(ctx) < 0) {
            fprintf(stderr, "bench-template: out of memory\n");
            goto done;
        }
        if (mn_template_render(t, ctx, &page, &err) < 0)
            goto error;
        n++;
        elapsed = now_s() - start;
    }
    printf("RENDERS %ld SECONDS %.6f\n", n, elapsed);
    status = write_out(out, page.data, page.len);
    goto done;
error : {
    mn_buf m;
    mn_buf_init(&m, NULL);
    mn_template_error_format(&err, &m);
    fwrite(m.data, 1, m.len, stderr);
    mn_buf_free(&m);
}
done:
    mn_buf_free(&page);
    mn_template_engine_free(e);
    mn_arena_free(arena);
    mn_arena_free(data_arena);
    free(json);
    return status;
}

/* ---- The floor ---- */

typedef struct row {
    const char *name, *email, *note;
    double price;
    long long qty;
    bool active;
    const char *tags[8];
    int ntags;
} row;

typedef struct page_data {
    const char *site_name, *title;
    long long year;
    row *rows;
    size_t nrows;
} page_data;

static char *o; /* write position in the output buffer, sized for the worst case up front */

#define LIT(s) (memcpy(o, s, sizeof(s) - 1), o += sizeof(s) - 1)

static void put_escaped_char(char c)
{
    switch (c) {
    case '&': LIT("&amp;"); break;
    case '<': LIT("&lt;"); break;
    case '>': LIT("&gt;"); break;
    case '"': LIT("&quot;"); break;
    case '\'': LIT("&#x27;"); break;
    default: *o++ = c;
    }
}

static void put_escaped(const char *s)
{
    for (; *s; s++)
        put_escaped_char(*s);
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Python's str.title() for ASCII text, escaped. */
static void put_title(const char *s)
{
    bool prev_alpha = false;
    for (; *s; s++) {
        char c = *s;
        if (is_alpha(c)) {
            c = prev_alpha ? (char)(c | 0x20) : (char)(c & ~0x20);
            prev_alpha = true;
        } else {
            prev_alpha = false;
        }
        put_escaped_char(c);
    }
}

static void put_lower(const char *s)
{
    for (; *s; s++)
        put_escaped_char(*s >= 'A' && *s <= 'Z' ? (char)(*s | 0x20) : *s);
}

static void put_upper(const char *s)
{
    for (; *s; s++)
        put_escaped_char(*s >= 'a' && *s <= 'z' ? (char)(*s & ~0x20) : *s);
}

static void put_uint(unsigned long long v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(o, tmp + i, sizeof tmp - (size_t)i);
    o += sizeof tmp - (size_t)i;
}

/* floatformat:2 for values that have at most two decimals (the benchmark's prices). */
static void put_fixed2(double v)
{
    if (v < 0) {
        *o++ = '-';
        v = -v;
    }
    unsigned long long cents = (unsigned long long)llround(v * 100);
    put_uint(cents / 100);
    *o++ = '.';
    *o++ = (char)('0' + cents / 10 % 10);
    *o++ = (char)('0' + cents % 10);
}

__attribute__((noinline)) static void render_floor(const page_data *d)
{
    LIT("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    put_title(d->title);
    LIT(" | ");
    put_escaped(d->site_name);
    LIT("</title>\n</head>\n<body>\n<header><h1>");
    put_upper(d->site_name);
    LIT("</h1></header>\n<main>\n\n<h2>");
    put_title(d->title);
    LIT("</h2>\n<table class=\"orders\">\n<thead><tr><th>#</th><th>Customer</th><th>Email</th>"
        "<th>Price</th><th>Qty</th><th>Status</th><th>Tags</th><th>Note</th></tr></thead>\n"
        "<tbody>\n");
    for (size_t i = 0; i < d->nrows; i++) {
        const row *r = &d->rows[i];
        if (i % 2 == 0)
            LIT("<tr class=\"odd\"><td>");
        else
            LIT("<tr class=\"even\"><td>");
        put_uint(i + 1);
        LIT("</td><td>");
        put_title(r->name);
        LIT("</td><td>");
        put_lower(r->email);
        LIT("</td><td>");
        put_fixed2(r->price);
        LIT("</td><td>");
        if (r->qty)
            put_uint((unsigned long long)r->qty);
        else
            LIT("none");
        if (r->active)
            LIT("</td><td><b>active</b></td><td>");
        else
            LIT("</td><td>inactive</td><td>");
        for (int k = 0; k < r->ntags; k++) {
            if (k)
                LIT(", ");
            put_escaped(r->tags[k]);
        }
        LIT("</td><td>");
        put_escaped(r->note);
        LIT("</td></tr>\n");
    }
    LIT("</tbody>\n</table>\n<p>");
    put_uint(d->nrows);
    LIT(" order");
    if (d->nrows != 1)
        LIT("s");
    LIT("</p>\n\n</main>\n<footer>&copy; ");
    put_uint((unsigned long long)d->year);
    *o++ = ' ';
    put_escaped(d->site_name);
    LIT("</footer>\n</body>\n</html>\n");
}

static int run_floor(const char *ctx_path, double seconds, long count, const char *out)
{
    json_error_t jerr;
    json_t *root = json_load_file(ctx_path, 0, &jerr);
    if (!root) {
        fprintf(stderr, "bench-template: %s:%d: %s\n", ctx_path, jerr.line, jerr.text);
        return 1;
    }
    page_data d = {
        .site_name = json_string_value(json_object_get(root, "site_name")),
        .title = json_string_value(json_object_get(root, "title")),
        .year = json_integer_value(json_object_get(root, "year")),
    };
    json_t *rows = json_object_get(root, "rows");
    d.nrows = json_array_size(rows);
    d.rows = calloc(d.nrows ? d.nrows : 1, sizeof *d.rows);
    if (!d.site_name || !d.title || !d.rows) {
        fprintf(stderr, "bench-template: %s lacks site_name/title, or out of memory\n", ctx_path);
        return 1;
    }
    for (size_t i = 0; i < d.nrows; i++) {
        json_t *j = json_array_get(rows, i);
        row *r = &d.rows[i];
        r->name = json_string_value(json_object_get(j, "name"));
        r->email = json_string_value(json_object_get(j, "email"));
        r->note = json_string_value(json_object_get(j, "note"));
        r->price = json_number_value(json_object_get(j, "price"));
        r->qty = json_integer_value(json_object_get(j, "qty"));
        r->active = json_is_true(json_object_get(j, "active"));
        json_t *tags = json_object_get(j, "tags");
        for (size_t k = 0; k < json_array_size(tags) && k < 8; k++)
            r->tags[r->ntags++] = json_string_value(json_array_get(tags, k));
        if (!r->name || !r->email || !r->note) {
            fprintf(stderr, "bench-template: row %zu lacks name/email/note\n", i);
            return 1;
        }
    }
    /* Escaping grows a byte to at most 6; every fixed piece fits in 1 KiB per row. */
    size_t cap = 4096 + 6 * 4 * (strlen(d.site_name) + strlen(d.title));
    for (size_t i = 0; i < d.nrows; i++) {
        const row *r = &d.rows[i];
        cap += 1024 + 6 * (strlen(r->name) + strlen(r->email) + strlen(r->note));
        for (int k = 0; k < r->ntags; k++)
            cap += 2 + 6 * strlen(r->tags[k]);
    }
    char *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "bench-template: out of memory\n");
        return 1;
    }
    long n = 0;
    double start = now_s(), elapsed = 0;
    while (count > 0 ? n < count : (elapsed < seconds || n < 3)) {
        o = buf;
        render_floor(&d);
        n++;
        elapsed = now_s() - start;
    }
    printf("RENDERS %ld SECONDS %.6f\n", n, elapsed);
    int status = write_out(out, buf, (size_t)(o - buf));
    free(buf);
    free(d.rows);
    json_decref(root);
    return status;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench-template manouche|floor DIR CONTEXT.json SECONDS|Nx OUT\n");
        return 2;
    }
    char *end;
    double seconds = strtod(argv[4], &end);
    long count = 0;
    if (*end == 'x' && !end[1]) {
        count = (long)seconds;
        if (count < 1) {
            fprintf(stderr, "bench-template: a render count must be at least 1x\n");
            return 2;
        }
    }
    if (!strcmp(argv[1], "manouche"))
        return run_manouche(argv[2], argv[3], seconds, count, argv[5]);
    if (!strcmp(argv[1], "floor"))
        return run_floor(argv[3], seconds, count, argv[5]);
    fprintf(stderr, "bench-template: unknown contestant '%s' (manouche or floor)\n", argv[1]);
    return 2;
}
