/* static_files.c — the static-files configuration: finders (extra dirs, then apps' static/
 * folders, first match wins as Django's finders), the manifest of hashed names and the URLs
 * {% static %} writes. Collecting is in static_collect.c, serving in static_serve.c. */
#define _GNU_SOURCE
#include "web/static_internal.h"

#include <jansson.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

mn_static *mn_static_new(const char *static_url, const char *static_root)
{
    mn_static *st = mn_calloc(1, sizeof *st);
    if (!st)
        return NULL;
    size_t n = strlen(static_url ? static_url : "/static/");
    st->url = mn_malloc(n + 2);
    if (!st->url) {
        mn_free(st);
        return NULL;
    }
    memcpy(st->url, static_url ? static_url : "/static/", n);
    if (n == 0 || st->url[n - 1] != '/')
        st->url[n++] = '/';
    st->url[n] = '\0';
    if (static_root && !(st->root = mn_strdup(static_root))) {
        mn_static_free(st);
        return NULL;
    }
    return st;
}

static void free_manifest(mn_static *st)
{
    for (size_t i = 0; i < st->manifest_len; i++) {
        mn_free(st->manifest[i].name);
        mn_free(st->manifest[i].hashed);
    }
    mn_free(st->manifest);
    st->manifest = NULL;
    st->manifest_len = 0;
}

void mn_static_free(mn_static *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->ndirs; i++)
        mn_free(st->dirs[i]);
    mn_free(st->dirs);
    free_manifest(st);
    mn_free(st->url);
    mn_free(st->root);
    mn_free(st);
}

static int add_dir(mn_static *st, const char *dir)
{
    char **dirs = mn_realloc(st->dirs, (st->ndirs + 1) * sizeof *dirs);
    if (!dirs)
        return MN_ENOMEM;
    st->dirs = dirs;
    if (!(dirs[st->ndirs] = mn_strdup(dir)))
        return MN_ENOMEM;
    st->ndirs++;
    return MN_OK;
}

int mn_static_add_dir(mn_static *st, const char *dir)
{
    return add_dir(st, dir);
}

int mn_static_add_app_dir(mn_static *st, const char *app, const char *dir)
{
    (void)app; /* the app name matters only for messages; the order is what Django keeps */
    return add_dir(st, dir);
}

int mn_static_check_path(const char *path)
{
    if (!path || !*path || path[0] == '/' || strchr(path, '\\'))
        return MN_EINVAL;
    const char *seg = path;
    for (;;) {
        const char *end = strchrnul(seg, '/');
        size_t n = (size_t)(end - seg);
        if ((n == 2 && seg[0] == '.' && seg[1] == '.') || (n == 1 && seg[0] == '.'))
            return MN_EINVAL;
        for (const char *p = seg; p < end; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return MN_EINVAL;
        if (!*end)
            return n == 0 ? MN_EINVAL : MN_OK; /* "css/" names a folder, not a file */
        seg = end + 1;
    }
}

int mn__static_join(char *out, size_t cap, const char *dir, const char *path)
{
    int n = snprintf(out, cap, "%s/%s", dir, path);
    return n < 0 || (size_t)n >= cap ? MN_ETOOBIG : MN_OK;
}

int mn_static_find(const mn_static *st, const char *path, char *out, size_t cap)
{
    if (mn_static_check_path(path) < 0)
        return MN_EINVAL;
    for (size_t i = 0; i < st->ndirs; i++) {
        int rc = mn__static_join(out, cap, st->dirs[i], path);
        if (rc < 0)
            return rc;
        struct stat sb;
        if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode))
            return MN_OK;
    }
    return MN_ENOTFOUND;
}

/* ---- Manifest: sorted (name, hashed) pairs, looked up by binary search. ---- */
static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const mn__static_entry *)a)->name, ((const mn__static_entry *)b)->name);
}

int mn__static_set_manifest(mn_static *st, mn__static_entry *entries, size_t n)
{
    free_manifest(st);
    qsort(entries, n, sizeof *entries, cmp_entry);
    st->manifest = entries;
    st->manifest_len = n;
    st->manifest_loaded = true;
    return MN_OK;
}

int mn_static_load_manifest(mn_static *st)
{
    if (!st->root)
        return MN_ENOTFOUND;
    char path[4096];
    if (mn__static_join(path, sizeof path, st->root, MN__STATIC_MANIFEST) < 0)
        return MN_ETOOBIG;
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        return errno == ENOENT ? MN_ENOTFOUND : MN_EINVAL;
    json_t *paths = json_object_get(doc, "paths");
    if (!json_is_object(paths)) {
        json_decref(doc);
        return MN_EINVAL;
    }
    size_t n = json_object_size(paths), i = 0;
    mn__static_entry *entries = mn_calloc(n ? n : 1, sizeof *entries);
    if (!entries) {
        json_decref(doc);
        return MN_ENOMEM;
    }
    const char *key;
    json_t *val;
    int rc = MN_OK;
    json_object_foreach(paths, key, val)
    {
        if (!json_is_string(val)) {
            rc = MN_EINVAL;
            break;
        }
        entries[i].name = mn_strdup(key);
        entries[i].hashed = mn_strdup(json_string_value(val));
        i++;
        if (!entries[i - 1].name || !entries[i - 1].hashed) {
            rc = MN_ENOMEM;
            break;
        }
    }
    json_decref(doc);
    if (rc < 0) {
        for (size_t j = 0; j < i; j++) {
            mn_free(entries[j].name);
            mn_free(entries[j].hashed);
        }
        mn_free(entries);
        return rc;
    }
    return mn__static_set_manifest(st, entries, n);
}

const char *mn_static_hashed_name(const mn_static *st, const char *path)
{
    if (!st->manifest_len)
        return NULL;
    mn__static_entry key = {.name = (char *)path};
    const mn__static_entry *e =
        bsearch(&key, st->manifest, st->manifest_len, sizeof key, cmp_entry);
    return e ? e->hashed : NULL;
}

bool mn__static_is_hashed_name(const mn_static *st, const char *name)
{
    /* Hashed names are the manifest's values; a linear scan would cost O(n) per request, so
     * recognise the shape instead: a ".<12 hex>" just before the extension (or at the end)
     * of the last segment, which is what collectstatic writes. */
    (void)st;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    for (const char *p = base; (p = strchr(p, '.')) != NULL; p++) {
        size_t k = 0;
        while (k < 12 &&
               ((p[1 + k] >= '0' && p[1 + k] <= '9') || (p[1 + k] >= 'a' && p[1 + k] <= 'f')))
            k++;
        if (k == 12 && (p[13] == '.' || p[13] == '\0'))
            return true;
    }
    return false;
}

/* Django's filepath_to_uri: quote() keeping / ~ ! * ( ) ' and the unreserved characters. */
static int put_uri_quoted(mn_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("-._~/!*()'", c);
        if (keep) {
            if (mn_buf_putc(b, (char)c) < 0)
                return MN_ENOMEM;
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (mn_buf_append(b, esc, 3) < 0)
                return MN_ENOMEM;
        }
    }
    return MN_OK;
}

const char *mn_static_url(const mn_static *st, const char *path, mn_arena *arena)
{
    /* Django strips a leading slash before joining with STATIC_URL. */
    while (*path == '/')
        path++;
    const char *name = path;
    if (st->manifest_loaded) {
        /* Keep a query or fragment ("font.woff?v=1#x") out of the lookup, as Django does. */
        size_t plen = strcspn(path, "?#");
        char *clean = mn_arena_strndup(arena, path, plen);
        if (!clean)
            return NULL;
        const char *hashed = mn_static_hashed_name(st, clean);
        if (!hashed) {
            errno = ENOENT;
            return NULL;
        }
        mn_buf tmp;
        mn_buf_init(&tmp, arena);
        if (mn_buf_puts(&tmp, hashed) < 0 || mn_buf_puts(&tmp, path + plen) < 0)
            return NULL;
        name = mn_buf_cstr(&tmp);
        if (!name)
            return NULL;
    }
    /* Django's ManifestStaticFilesStorage unquotes the URL it built (so a query or fragment
     * survives); plain StaticFilesStorage leaves it quoted. Match both. */
    mn_buf b;
    mn_buf_init(&b, arena);
    if (mn_buf_puts(&b, st->url) < 0 ||
        (st->manifest_loaded ? mn_buf_puts(&b, name) : put_uri_quoted(&b, name)) < 0)
        return NULL;
    return mn_buf_cstr(&b);
}

const char *mn__static_url_prefix(const mn_static *st)
{
    return st->url;
}

const char *mn_static_root(const mn_static *st)
{
    return st->root;
}

const char *mn_static_prefix(const mn_static *st)
{
    return st->url;
}
