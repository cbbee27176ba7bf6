/* test_static_files.c — static files as users meet them: hostile paths refused, finders in
 * order, collectstatic producing exactly Django's hashed names and rewritten CSS (the
 * expectations in tests/data/static/expected/ were written by Django's own collectstatic,
 * see gen_expected.py there), {% static %} URLs with and without a manifest. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <manouche/staticfiles.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char data_dir[1024];
static char root[1024];
static mn_static *st;
static mn_arena *arena;

static void setup(void)
{
    snprintf(data_dir, sizeof data_dir, "%s/tests/data/static", getenv("MN_SOURCE_DIR"));
    snprintf(root, sizeof root, "/tmp/mn-static-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    strcat(root, "/collected");
    st = mn_static_new("/static/", root);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/extra", data_dir);
    mn_static_add_dir(st, dir);
    snprintf(dir, sizeof dir, "%s/app/static", data_dir);
    mn_static_add_app_dir(st, "app", dir);
    arena = mn_arena_new(0);
}

static void teardown(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    *strrchr(cmd, '/') = '\0';
    strcat(cmd, "'");
    cr_assert_eq(system(cmd), 0);
    mn_static_free(st);
    mn_arena_free(arena);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

TestSuite(static_files, .init = setup, .fini = teardown);

Test(static_files, hostile_paths_are_refused)
{
    const char *bad[] = {"../etc/passwd", "css/../../x",    "/etc/passwd",    "css\\site.css", "",
                         "css/",          "./css/site.css", "css/./site.css", "a\001b",        "..",
                         "css/.."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(mn_static_check_path(bad[i]), MN_EINVAL, "'%s' accepted", bad[i]);
    const char *good[] = {"css/site.css", "img/a b.png", "..hidden", "a..b/c"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_eq(mn_static_check_path(good[i]), MN_OK, "'%s' refused", good[i]);
    char out[2048];
    cr_expect_eq(mn_static_find(st, "../extra/css/site.css", out, sizeof out), MN_EINVAL);
}

Test(static_files, first_finder_wins)
{
    char out[2048];
    cr_assert_eq(mn_static_find(st, "css/site.css", out, sizeof out), MN_OK);
    cr_expect(strstr(out, "/extra/css/site.css") != NULL, "found %s", out);
    cr_assert_eq(mn_static_find(st, "css/base.css", out, sizeof out), MN_OK);
    cr_expect(strstr(out, "/app/static/css/base.css") != NULL, "found %s", out);
    cr_expect_eq(mn_static_find(st, "css/nope.css", out, sizeof out), MN_ENOTFOUND);
    cr_expect_eq(mn_static_find(st, "css/site.css", out, 8), MN_ETOOBIG);
}

Test(static_files, collectstatic_matches_django)
{
    mn_static_report rep;
    mn_buf err;
    mn_buf_init(&err, arena);
    int rc = mn_static_collect(st, &rep, &err);
    cr_assert_eq(rc, MN_OK, "collect failed: %.*s", (int)err.len, err.data);
    cr_expect_eq(rep.copied, 12, "copied %zu", rep.copied);
    cr_expect_eq(rep.unmodified, 0);
    cr_expect_eq(rep.rewritten, 6, "rewritten %zu", rep.rewritten); /* 4 CSS, 2 JS */

    /* The manifest's paths are Django's, name for name and hash for hash. */
    char path[2048];
    snprintf(path, sizeof path, "%s/expected/paths.json", data_dir);
    json_t *want = json_load_file(path, 0, NULL);
    snprintf(path, sizeof path, "%s/staticfiles.json", root);
    json_t *got_doc = json_load_file(path, 0, NULL);
    cr_assert_not_null(want);
    cr_assert_not_null(got_doc);
    json_t *got = json_object_get(got_doc, "paths");
    cr_expect(json_equal(want, got), "manifest differs: %s", json_dumps(got, JSON_SORT_KEYS));
    cr_expect_str_eq(json_string_value(json_object_get(got_doc, "version")), "1.1");

    /* Rewritten CSS and JS (source maps), byte for byte, and the originals kept as they were. */
    const char *key;
    json_t *val;
    json_object_foreach(want, key, val)
    {
        const char *hashed = json_string_value(val);
        snprintf(path, sizeof path, "%s/%s", root, hashed);
        struct stat sb;
        cr_expect_eq(stat(path, &sb), 0, "%s missing", hashed);
        snprintf(path, sizeof path, "%s/%s", root, key);
        cr_expect_eq(stat(path, &sb), 0, "%s missing", key);
        size_t kl = strlen(key);
        bool adjustable =
            (kl > 4 && !strcmp(key + kl - 4, ".css")) || (kl > 3 && !strcmp(key + kl - 3, ".js"));
        if (!adjustable)
            continue;
        char flat[512];
        snprintf(flat, sizeof flat, "%s", hashed);
        for (char *p = flat; *p; p++)
            if (*p == '/') {
                memmove(p + 2, p + 1, strlen(p + 1) + 1);
                p[0] = p[1] = '_';
            }
        snprintf(path, sizeof path, "%s/expected/%s", data_dir, flat);
        char *expect = slurp(path, NULL);
        snprintf(path, sizeof path, "%s/%s", root, hashed);
        char *actual = slurp(path, NULL);
        cr_expect_str_eq(actual, expect, "%s differs", hashed);
        free(expect);
        free(actual);
    }
    /* Dotfiles and editor backups are not collected. */
    struct stat sb;
    snprintf(path, sizeof path, "%s/.hidden", root);
    cr_expect_neq(stat(path, &sb), 0);
    snprintf(path, sizeof path, "%s/css/old.css~", root);
    cr_expect_neq(stat(path, &sb), 0);
    json_decref(want);
    json_decref(got_doc);
}

Test(static_files, second_collect_leaves_current_copies_alone)
{
    cr_assert_eq(mn_static_collect(st, NULL, NULL), MN_OK);
    mn_static_report rep;
    cr_assert_eq(mn_static_collect(st, &rep, NULL), MN_OK);
    /* As Django's: nothing copied, every file unmodified; only the files whose references are
     * rewritten (4 CSS, 2 JS) count as post-processed, the other hashed copies exist. */
    cr_expect_eq(rep.copied, 0, "copied %zu", rep.copied);
    cr_expect_eq(rep.unmodified, 12, "unmodified %zu", rep.unmodified);
    cr_expect_eq(rep.hashed, 6, "post-processed %zu", rep.hashed);
    cr_expect_str_eq(mn_static_hashed_name(st, "js/app.js"), "js/app.2aa082a92a13.js");
}

Test(static_files, urls_follow_the_manifest)
{
    cr_expect_str_eq(mn_static_url(st, "css/site.css", arena), "/static/css/site.css");
    cr_expect_str_eq(mn_static_url(st, "/img/a b&c.png", arena), "/static/img/a%20b%26c.png");
    cr_expect_str_eq(mn_static_url(st, "é.css", arena), "/static/%C3%A9.css");
    cr_assert_eq(mn_static_collect(st, NULL, NULL), MN_OK);
    cr_expect_str_eq(mn_static_url(st, "css/base.css", arena), "/static/css/base.8e30ae1af0f9.css");
    cr_expect_str_eq(mn_static_url(st, "fonts/f.woff2?v=3#x", arena),
                     "/static/fonts/f.f033c077fb9e.woff2?v=3#x");
    cr_expect_null(mn_static_url(st, "css/typo.css", arena));
    /* With a manifest Django leaves the URL unquoted (its ManifestStaticFilesStorage unquotes
     * what it built); without one it is quoted, as checked above. */

    /* A fresh process reads the manifest from STATIC_ROOT. */
    mn_static *prod = mn_static_new("https://cdn.example.com/s", root);
    cr_assert_eq(mn_static_load_manifest(prod), MN_OK);
    cr_expect_str_eq(mn_static_url(prod, "img/bg.png", arena),
                     "https://cdn.example.com/s/img/bg.eabf1ce299a6.png");
    cr_expect_str_eq(mn_static_hashed_name(prod, "LICENSE"), "LICENSE.4ee67816d4dc");
    mn_static_free(prod);
}

/* Collects a folder holding one file name with content; the collect's return code, and its
 * error message (arena memory) in *msg. */
static int collect_one(const char *name, const char *content, const char **msg)
{
    char dir[1100], file[1200];
    snprintf(dir, sizeof dir, "%s.one", root);
    mkdir(dir, 0755);
    snprintf(file, sizeof file, "%s/%s", dir, name);
    FILE *f = fopen(file, "w");
    fputs(content, f);
    fclose(f);
    mn_static *s2 = mn_static_new("/static/", root);
    mn_static_add_dir(s2, dir);
    mn_buf err;
    mn_buf_init(&err, arena);
    int rc = mn_static_collect(s2, NULL, &err);
    *msg = mn_buf_cstr(&err);
    mn_static_free(s2);
    unlink(file);
    rmdir(dir);
    return rc;
}

Test(static_files, css_reference_to_a_missing_file_names_both)
{
    const char *msg;
    cr_expect_eq(collect_one("broken.css", "a { background: url(missing.png) }\n", &msg),
                 MN_ENOTFOUND);
    cr_expect(strstr(msg, "broken.css") && strstr(msg, "missing.png"), "message: %s", msg);
}

Test(static_files, js_source_map_to_a_missing_file_names_both)
{
    const char *msg;
    cr_expect_eq(collect_one("lib.js", "x();\n//# sourceMappingURL=lib.js.map\n", &msg),
                 MN_ENOTFOUND);
    cr_expect(strstr(msg, "lib.js") && strstr(msg, "lib.js.map"), "message: %s", msg);
}

Test(static_files, fragment_only_and_foreign_urls_are_kept)
{
    char dir[1100], file[1200], out[1300];
    snprintf(dir, sizeof dir, "%s.src2", root);
    mkdir(dir, 0755);
    snprintf(file, sizeof file, "%s/v.css", dir);
    const char *css = "a { behavior: url(#default#VML); b: url(HTTP://x/y.png) }\n";
    FILE *f = fopen(file, "w");
    fputs(css, f);
    fclose(f);
    mn_static *s2 = mn_static_new("/static/", root);
    mn_static_add_dir(s2, dir);
    cr_assert_eq(mn_static_collect(s2, NULL, NULL), MN_OK);
    snprintf(out, sizeof out, "%s/%s", root, mn_static_hashed_name(s2, "v.css"));
    char *got = slurp(out, NULL);
    cr_expect_str_eq(got, css);
    free(got);
    mn_static_free(s2);
    unlink(file);
    rmdir(dir);
}

Test(static_files, static_tag_renders_urls)
{
    mn_template_engine *e = mn_template_engine_new();
    cr_assert_eq(mn_static_install_tag(st, e), MN_OK);
    mn_template_error err;
    const char *src = "{% load static %}<link href=\"{% static 'css/site.css' %}\">"
                      "{% static \"img/bg.png\" as bg %}[{{ bg }}]{% get_static_prefix %}";
    mn_template *t = mn_template_compile(e, "t.html", src, strlen(src), &err);
    cr_assert_not_null(t, "%s", err.message);
    mn_context *ctx = mn_context_new(arena);
    mn_buf out;
    mn_buf_init(&out, arena);
    cr_assert_eq(mn_template_render(t, ctx, &out, &err), MN_OK, "%s", err.message);
    cr_expect_str_eq(mn_buf_cstr(&out),
                     "<link href=\"/static/css/site.css\">[/static/img/bg.png]/static/");

    /* With a manifest, a name it does not hold is an error, not a silent broken link. */
    cr_assert_eq(mn_static_collect(st, NULL, NULL), MN_OK);
    const char *typo = "{% load static %}{% static 'css/sit.css' %}";
    t = mn_template_compile(e, "typo.html", typo, strlen(typo), &err);
    cr_assert_not_null(t);
    mn_buf_reset(&out);
    cr_expect_neq(mn_template_render(t, ctx, &out, &err), MN_OK);
    cr_expect(strstr(err.message, "css/sit.css") != NULL, "message: %s", err.message);
    mn_template_engine_free(e);
}

Test(static_files, content_types)
{
    cr_expect_str_eq(mn_static_content_type("a/b.CSS"), "text/css; charset=utf-8");
    cr_expect_str_eq(mn_static_content_type("x.woff2"), "font/woff2");
    cr_expect_str_eq(mn_static_content_type("x.1234567890ab.js"), "text/javascript; charset=utf-8");
    cr_expect_str_eq(mn_static_content_type("LICENSE"), "application/octet-stream");
    cr_expect_str_eq(mn_static_content_type(".bashrc"), "application/octet-stream");
}
