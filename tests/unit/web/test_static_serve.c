/* test_static_serve.c — serving static files as a browser, a CDN and an attacker meet it:
 * content types, validators and 304s, byte ranges, precompressed variants, caching of hashed
 * names, HEAD, and paths that try to leave the static folders. Requests go through the same
 * request object the server builds (mn_req_new), and the answer is read back as the bytes
 * the server would send. */
#include <criterion/criterion.h>
#include <manouche/staticfiles.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static mn_static *st;

static void put(const char *rel, const char *content)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/mn-serve-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char sub[300];
    snprintf(sub, sizeof sub, "%s/static", dir);
    mkdir(sub, 0755);
    put("static/app.css", "body { color: red }\n");
    put("static/app.0123456789ab.css", "body { color: red }\n");
    put("static/big.txt", "0123456789abcdefghij");
    put("static/app.js", "console.log('plain')\n");
    put("static/app.js.gz", "GZIPPED");
    put("static/app.js.br", "BROTLI");
    put("secret.txt", "top secret\n");
    symlink("../secret.txt", strcat(strcpy(sub, dir), "/static/link.txt"));
    snprintf(sub, sizeof sub, "%s/static", dir);
    st = mn_static_new("/static/", NULL);
    mn_static_add_dir(st, sub);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    mn_static_free(st);
}

TestSuite(static_serve, .init = setup, .fini = teardown);

typedef struct answer {
    int status;
    char head[4096];
    char body[4096];
} answer;

static const char *serve_path;

static void view(mn_req *r, void *arg)
{
    mn_static_serve(r, arg, serve_path);
}

/* Serves path with the given extra headers ("Name: value" strings, NULL-terminated). */
static answer *ask(const char *method, const char *path, const char *const *headers)
{
    mn_field fields[8];
    size_t n = 0;
    char names[8][64];
    for (; headers && headers[n]; n++) {
        const char *colon = strchr(headers[n], ':');
        snprintf(names[n], sizeof names[n], "%.*s", (int)(colon - headers[n]), headers[n]);
        fields[n].name = mn_str_from(names[n]);
        fields[n].value = mn_str_from(colon + 2);
    }
    char target[512];
    snprintf(target, sizeof target, "/static/%s", path);
    mn_req *r = mn_req_new(
        &(mn_req_init){.method = method, .target = target, .headers = fields, .header_count = n});
    cr_assert_not_null(r);
    serve_path = path;
    mn_req_run(r, view, st);
    answer *a = calloc(1, sizeof *a);
    a->status = mn_resp_get_status(r);
    mn_buf out;
    mn_buf_init(&out, NULL);
    cr_assert_eq(mn_resp_serialize(r, &out), MN_OK);
    char *text = mn_buf_cstr(&out);
    char *sep = strstr(text, "\r\n\r\n");
    cr_assert_not_null(sep);
    snprintf(a->head, sizeof a->head, "%.*s", (int)(sep - text), text);
    snprintf(a->body, sizeof a->body, "%s", sep + 4);
    mn_buf_free(&out);
    mn_req_free(r);
    return a;
}

/* The value of header name in a serialized head ("" when absent). */
static const char *hdr(answer *a, const char *name)
{
    static char value[512];
    value[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = strstr(a->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            snprintf(value, sizeof value, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
            break;
        }
    }
    return value;
}

Test(static_serve, serves_a_file_with_validators)
{
    answer *a = ask("GET", "app.css", NULL);
    cr_expect_eq(a->status, 200);
    cr_expect_str_eq(a->body, "body { color: red }\n");
    cr_expect_str_eq(hdr(a, "Content-Type"), "text/css; charset=utf-8");
    cr_expect_str_eq(hdr(a, "Content-Length"), "20");
    cr_expect_str_eq(hdr(a, "Cache-Control"), "no-cache");
    cr_expect_str_eq(hdr(a, "Accept-Ranges"), "bytes");
    cr_expect_neq(strlen(hdr(a, "ETag")), 0);
    cr_expect_neq(strlen(hdr(a, "Last-Modified")), 0);
    free(a);
}

Test(static_serve, hashed_names_are_cached_for_a_year)
{
    answer *a = ask("GET", "app.0123456789ab.css", NULL);
    cr_expect_eq(a->status, 200);
    cr_expect_str_eq(hdr(a, "Cache-Control"), "max-age=31536000, public, immutable");
    free(a);
}

Test(static_serve, conditional_requests_get_304)
{
    answer *a = ask("GET", "app.css", NULL);
    char etag[128], modified[128], inm[160], ims[160];
    snprintf(etag, sizeof etag, "%s", hdr(a, "ETag"));
    snprintf(modified, sizeof modified, "%s", hdr(a, "Last-Modified"));
    free(a);

    snprintf(inm, sizeof inm, "If-None-Match: \"zzz\", %s", etag);
    a = ask("GET", "app.css", (const char *[]){inm, NULL});
    cr_expect_eq(a->status, 304);
    cr_expect_str_eq(a->body, "");
    cr_expect_str_eq(hdr(a, "ETag"), etag);
    free(a);

    snprintf(ims, sizeof ims, "If-Modified-Since: %s", modified);
    a = ask("GET", "app.css", (const char *[]){ims, NULL});
    cr_expect_eq(a->status, 304);
    free(a);

    a = ask("GET", "app.css",
            (const char *[]){"If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT", NULL});
    cr_expect_eq(a->status, 200);
    free(a);

    /* If-None-Match that does not match wins over a matching If-Modified-Since. */
    a = ask("GET", "app.css", (const char *[]){"If-None-Match: \"other\"", ims, NULL});
    cr_expect_eq(a->status, 200);
    free(a);
}

Test(static_serve, byte_ranges)
{
    answer *a = ask("GET", "big.txt", (const char *[]){"Range: bytes=2-5", NULL});
    cr_expect_eq(a->status, 206);
    cr_expect_str_eq(a->body, "2345");
    cr_expect_str_eq(hdr(a, "Content-Range"), "bytes 2-5/20");
    cr_expect_str_eq(hdr(a, "Content-Length"), "4");
    free(a);

    a = ask("GET", "big.txt", (const char *[]){"Range: bytes=-3", NULL});
    cr_expect_eq(a->status, 206);
    cr_expect_str_eq(a->body, "hij");
    free(a);

    a = ask("GET", "big.txt", (const char *[]){"Range: bytes=15-", NULL});
    cr_expect_str_eq(a->body, "fghij");
    cr_expect_str_eq(hdr(a, "Content-Range"), "bytes 15-19/20");
    free(a);

    a = ask("GET", "big.txt", (const char *[]){"Range: bytes=20-30", NULL});
    cr_expect_eq(a->status, 416);
    cr_expect_str_eq(hdr(a, "Content-Range"), "bytes */20");
    free(a);

    /* Several ranges or nonsense: the whole file, as RFC 9110 allows. */
    a = ask("GET", "big.txt", (const char *[]){"Range: bytes=0-1,4-5", NULL});
    cr_expect_eq(a->status, 200);
    cr_expect_str_eq(a->body, "0123456789abcdefghij");
    free(a);
    a = ask("GET", "big.txt", (const char *[]){"Range: pages=1-2", NULL});
    cr_expect_eq(a->status, 200);
    free(a);

    /* If-Range with a stale validator: the whole file. */
    a = ask("GET", "big.txt", (const char *[]){"Range: bytes=0-1", "If-Range: \"stale\"", NULL});
    cr_expect_eq(a->status, 200);
    free(a);
}

Test(static_serve, precompressed_variants_by_accept_encoding)
{
    answer *a = ask("GET", "app.js", (const char *[]){"Accept-Encoding: gzip, deflate, br", NULL});
    cr_expect_str_eq(a->body, "BROTLI");
    cr_expect_str_eq(hdr(a, "Content-Encoding"), "br");
    cr_expect_str_eq(hdr(a, "Content-Type"), "text/javascript; charset=utf-8");
    cr_expect_str_eq(hdr(a, "Vary"), "Accept-Encoding");
    free(a);

    a = ask("GET", "app.js", (const char *[]){"Accept-Encoding: gzip;q=1.0, br;q=0", NULL});
    cr_expect_str_eq(a->body, "GZIPPED");
    cr_expect_str_eq(hdr(a, "Content-Encoding"), "gzip");
    free(a);

    a = ask("GET", "app.js", NULL);
    cr_expect_str_eq(a->body, "console.log('plain')\n");
    cr_expect_str_eq(hdr(a, "Content-Encoding"), "");
    cr_expect_str_eq(hdr(a, "Vary"), "Accept-Encoding");
    free(a);
}

Test(static_serve, head_and_other_methods)
{
    answer *a = ask("HEAD", "app.css", NULL);
    cr_expect_eq(a->status, 200);
    cr_expect_str_eq(a->body, "");
    cr_expect_str_eq(hdr(a, "Content-Length"), "20");
    free(a);
    a = ask("POST", "app.css", NULL);
    cr_expect_eq(a->status, 405);
    cr_expect_str_eq(hdr(a, "Allow"), "GET, HEAD");
    free(a);
}

Test(static_serve, hostile_paths_get_404)
{
    const char *bad[] = {"../secret.txt", "link.txt", "/etc/passwd", "..%2fsecret.txt",
                         "nope.css",      "",         "./app.css"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        answer *a = ask("GET", bad[i], NULL);
        cr_expect_eq(a->status, 404, "'%s' gave %d", bad[i], a->status);
        cr_expect(strstr(a->body, "secret") == NULL);
        free(a);
    }
}
