/* static_collect.c — collectstatic with ManifestStaticFilesStorage's behaviour.
 *
 * 1. Every file the finders see is copied into STATIC_ROOT (the first finder that holds a
 *    relative path wins; dotfiles and editor backups "*~" are skipped, as Django's default
 *    ignore patterns).
 * 1a. A file whose copy in STATIC_ROOT is at least as new (to the second) is left alone and
 *    counted as unmodified, as Django's collectstatic does.
 * 2. Each file gets a hashed copy, name.<first 12 hex of md5(content)>.ext. CSS files first
 *    have their url(...), @import "..." and sourceMappingURL comment references
 *    rewritten to the hashed names of their targets, JavaScript files their
 *    "//# sourceMappingURL=..." line (Django's default patterns); since a CSS file can refer
 *    to another CSS file, whose hash depends on its own rewriting, these hashes are
 *    recomputed until they settle (at most five passes, as Django's max_post_process_passes).
 * 3. STATIC_ROOT/staticfiles.json maps each name to its hashed name. */
#define _GNU_SOURCE
#include "web/static_internal.h"

#include <jansson.h>
#include <openssl/evp.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_PASSES = 5 };

typedef struct file_rec {
    char *name;   /* relative, "css/site.css" */
    char *source; /* absolute path in the finder folder */
    char *hashed; /* hashed relative name, once known */
    enum { PLAIN, CSS, JS } kind;
    mn_buf content; /* CSS and JS: the rewritten content of the latest pass */
} file_rec;

typedef struct collector {
    mn_static *st;
    file_rec *files;
    size_t n, cap;
    mn_buf *err;
} collector;

static int fail(collector *c, int rc, const char *fmt, ...) MN_PRINTF(3, 4);
static int fail(collector *c, int rc, const char *fmt, ...)
{
    if (c->err) {
        va_list ap;
        va_start(ap, fmt);
        mn_buf_reset(c->err);
        mn_buf_vprintf(c->err, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static file_rec *find_rec(collector *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->files[i].name, name) == 0)
            return &c->files[i];
    return NULL;
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int add_file(collector *c, const char *rel, const char *abs)
{
    if (find_rec(c, rel))
        return MN_OK; /* an earlier finder holds this path */
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        file_rec *f = mn_realloc(c->files, cap * sizeof *f);
        if (!f)
            return MN_ENOMEM;
        c->files = f;
        c->cap = cap;
    }
    file_rec *f = &c->files[c->n];
    memset(f, 0, sizeof *f);
    f->name = mn_strdup(rel);
    f->source = mn_strdup(abs);
    mn_buf_init(&f->content, NULL);
    c->n++;
    if (!f->name || !f->source)
        return MN_ENOMEM;
    f->kind = ends_with_ci(rel, ".css") ? CSS : ends_with_ci(rel, ".js") ? JS : PLAIN;
    return MN_OK;
}

/* Walks dir/rel recursively, adding regular files in a stable (sorted) order. */
static int walk(collector *c, const char *dir, const char *rel)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s%s%s", dir, *rel ? "/" : "", rel) >= (int)sizeof path)
        return fail(c, MN_ETOOBIG, "path too long: %s/%s", dir, rel);
    struct dirent **list;
    int n = scandir(path, &list, NULL, alphasort);
    if (n < 0)
        return errno == ENOENT ? MN_OK : fail(c, MN_EIO, "cannot read %s", path);
    int rc = MN_OK;
    for (int i = 0; i < n; i++) {
        const char *nm = list[i]->d_name;
        if (rc == MN_OK && nm[0] != '.' && !ends_with_ci(nm, "~")) {
            char sub[4096], abs[8192];
            int k1 = snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", nm);
            int k2 = snprintf(abs, sizeof abs, "%s/%s", dir, sub);
            struct stat sb;
            if (k1 < (int)sizeof sub && k2 < (int)sizeof abs && stat(abs, &sb) == 0) {
                if (S_ISDIR(sb.st_mode))
                    rc = walk(c, dir, sub);
                else if (S_ISREG(sb.st_mode))
                    rc = add_file(c, sub, abs);
            }
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

static int read_file(const char *path, mn_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MN_EIO;
    mn_buf_reset(out);
    for (;;) {
        if (mn_buf_reserve(out, 65536) < 0) {
            close(fd);
            return MN_ENOMEM;
        }
        ssize_t k = read(fd, out->data + out->len, 65536);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            close(fd);
            return MN_EIO;
        }
        if (k == 0)
            break;
        out->len += (size_t)k;
    }
    close(fd);
    return MN_OK;
}

static int mkdirs_for(const char *file)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", file);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return MN_EIO;
        *p = '/';
    }
    return MN_OK;
}

/* Writes data to root/rel through a temporary name and rename(), so a server reading
 * STATIC_ROOT never sees half a file. */
static int write_file(const char *root, const char *rel, const char *data, size_t len)
{
    char path[4096], tmp[4200];
    if (mn__static_join(path, sizeof path, root, rel) < 0)
        return MN_ETOOBIG;
    if (mkdirs_for(path) < 0)
        return MN_EIO;
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return MN_EIO;
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, data + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            close(fd);
            unlink(tmp);
            return MN_EIO;
        }
        off += (size_t)k;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return MN_EIO;
    }
    return MN_OK;
}

static void md5_12(const char *data, size_t len, char out[13])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[12] = '\0';
}

/* "css/site.css" + hash -> "css/site.<hash>.css"; "LICENSE" -> "LICENSE.<hash>". */
static char *hashed_name(const char *name, const char hash[13])
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        dot = base + strlen(base);
    size_t head = (size_t)(dot - name);
    size_t n = strlen(name) + 14;
    char *out = mn_malloc(n);
    if (out)
        snprintf(out, n, "%.*s.%s%s", (int)head, name, hash, dot);
    return out;
}

static void set_hashed(file_rec *f, const char *data, size_t len)
{
    char hash[13];
    md5_12(data, len, hash);
    mn_free(f->hashed);
    f->hashed = hashed_name(f->name, hash);
}

/* Normalises "a/b/../c/./d" into "a/c/d" in place (posixpath.normpath without a root). */
static void normpath(char *p)
{
    char *segs[256];
    int n = 0;
    char *save = NULL;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", p);
    for (char *s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (strcmp(s, ".") == 0)
            continue;
        if (strcmp(s, "..") == 0) {
            if (n > 0)
                n--;
            continue;
        }
        if (n < 256)
            segs[n++] = s;
    }
    char *o = p;
    for (int i = 0; i < n; i++)
        o += sprintf(o, "%s%s", i ? "/" : "", segs[i]);
    *o = '\0';
}

static int percent_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hx[3] = {s[i + 1], s[i + 2], 0};
            c = (char)strtol(hx, NULL, 16);
            i += 2;
        }
        if (o + 1 >= cap)
            return MN_ETOOBIG;
        out[o++] = c;
    }
    out[o] = '\0';
    return MN_OK;
}

/* The converter: the rewritten URL for `url` found in CSS file `from`, appended to out, or
 * the original when it is not a static file reference. 1 when rewritten, 0 when kept, or a
 * negative code with the error message set (a missing target). */
static int convert(collector *c, const file_rec *from, const char *url, size_t len, mn_buf *out)
{
    const char *static_url = mn__static_url_prefix(c->st);
    size_t k = 0;
    while (k < len && ((url[k] >= 'a' && url[k] <= 'z') || (url[k] >= 'A' && url[k] <= 'Z')))
        k++;
    bool scheme = k > 0 && k < len && url[k] == ':';
    bool proto_rel = len >= 2 && url[0] == '/' && url[1] == '/';
    bool foreign_abs =
        len >= 1 && url[0] == '/' && strncmp(url, static_url, strlen(static_url)) != 0;
    size_t path_len = 0;
    while (path_len < len && url[path_len] != '#')
        path_len++;
    if (scheme || proto_rel || foreign_abs || path_len == 0)
        return 0;
    /* The lookup key leaves out any query; the rewritten URL keeps it. */
    size_t q = 0;
    while (q < path_len && url[q] != '?')
        q++;
    char target[4096], decoded[4096];
    if (url[0] == '/') {
        size_t sl = strlen(static_url);
        snprintf(target, sizeof target, "%.*s", (int)(q - sl), url + sl);
    } else {
        const char *slash = strrchr(from->name, '/');
        int dirlen = slash ? (int)(slash - from->name) : 0;
        snprintf(target, sizeof target, "%.*s%s%.*s", dirlen, from->name, dirlen ? "/" : "", (int)q,
                 url);
    }
    if (percent_decode(target, strlen(target), decoded, sizeof decoded) < 0)
        return fail(c, MN_ETOOBIG, "reference too long in %s: %s", from->name, target);
    normpath(decoded);
    file_rec *to = find_rec(c, decoded);
    if (!to || !to->hashed) {
        if (c->err) {
            mn_buf_reset(c->err);
            mn_buf_printf(c->err, "%s refers to '%.*s', which no static folder holds", from->name,
                          (int)len, url);
        }
        return MN_ENOTFOUND;
    }
    /* Keep the reference's own folder part; replace only the last segment. */
    const char *last = url;
    for (size_t i = 0; i < q; i++)
        if (url[i] == '/')
            last = url + i + 1;
    const char *hbase = strrchr(to->hashed, '/');
    hbase = hbase ? hbase + 1 : to->hashed;
    char rebuilt[8192];
    int n = snprintf(rebuilt, sizeof rebuilt, "%.*s%s%.*s", (int)(last - url), url, hbase,
                     (int)(len - q), url + q);
    if (n < 0 || (size_t)n >= sizeof rebuilt)
        return fail(c, MN_ETOOBIG, "reference too long in %s: %s", from->name, url);
    char final[8192];
    if (percent_decode(rebuilt, (size_t)n, final, sizeof final) < 0)
        return MN_ETOOBIG;
    return mn_buf_puts(out, final) < 0 ? MN_ENOMEM : 1;
}

static bool ci_prefix(const char *s, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(end - s) >= n && strncasecmp(s, lit, n) == 0;
}

/* Where a reference found at a keyword lies: the URL is [url, url_end), the whole match
 * ends at after. */
typedef struct css_ref {
    const char *url, *url_end, *after;
} css_ref;

/* Django's first pattern: url(<quote>? ws* URL <same quote>), the shortest URL on one line. */
static bool match_url(const char *m, const char *end, css_ref *ref)
{
    const char *q = m + 4;
    char quote = (q < end && (*q == '"' || *q == '\'')) ? *q++ : 0;
    while (q < end && (*q == ' ' || *q == '\t' || *q == '\f' || *q == '\r' || *q == '\v'))
        q++;
    for (const char *e = q; e < end && *e != '\n'; e++) {
        if (quote ? (*e == quote && e + 1 < end && e[1] == ')') : *e == ')') {
            *ref = (css_ref){q, e, e + (quote ? 2 : 1)};
            return true;
        }
    }
    return false;
}

/* The second: @import ws* <quote> ws* URL <quote>. */
static bool match_import(const char *m, const char *end, css_ref *ref)
{
    const char *q = m + 7;
    while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '\f'))
        q++;
    if (q >= end || (*q != '"' && *q != '\''))
        return false;
    const char *u = q + 1;
    while (u < end && (*u == ' ' || *u == '\t' || *u == '\n' || *u == '\r'))
        u++;
    for (const char *e = u; e < end && *e != '\n'; e++)
        if (*e == '"' || *e == '\'') {
            *ref = (css_ref){u, e, e + 1};
            return true;
        }
    return false;
}

/* One pass over s for one of Django's patterns: each reference to a static file becomes
 * open + hashed URL + '")'; the rest is copied as it is. */
static int rewrite_refs(collector *c, const file_rec *f, const char *s, size_t len, mn_buf *out,
                        const char *keyword, bool (*match)(const char *, const char *, css_ref *),
                        const char *open)
{
    size_t kl = strlen(keyword);
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *m = p;
        while (m < end && !ci_prefix(m, end, keyword))
            m++;
        if (mn_buf_append(out, p, (size_t)(m - p)) < 0)
            return MN_ENOMEM;
        if (m >= end)
            break;
        css_ref ref;
        if (!match(m, end, &ref)) {
            if (mn_buf_append(out, m, kl) < 0)
                return MN_ENOMEM;
            p = m + kl;
            continue;
        }
        size_t mark = out->len;
        if (mn_buf_puts(out, open) < 0)
            return MN_ENOMEM;
        int rc = convert(c, f, ref.url, (size_t)(ref.url_end - ref.url), out);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            out->len = mark;
            if (mn_buf_append(out, m, (size_t)(ref.after - m)) < 0)
                return MN_ENOMEM;
        } else if (mn_buf_puts(out, "\")") < 0) {
            return MN_ENOMEM;
        }
        p = ref.after;
    }
    return MN_OK;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* Django's sourceMappingURL patterns match whole lines: in CSS a line that is exactly
 * slash-star-hash, a space or tab, "sourceMappingURL=", the URL, optional blanks and
 * star-slash; in
 * JavaScript a line that starts with "//# sourceMappingURL=" and runs to its end. The name
 * is case-sensitive. The URL is looked up without surrounding white space (as Django strips
 * the name it hashes), and a rewritten line takes the pattern's own spelling. */
static int rewrite_source_maps(collector *c, const file_rec *f, const char *s, size_t len,
                               mn_buf *out)
{
    static const char css_prefix[] = "/*# sourceMappingURL=", js_prefix[] = "//# sourceMappingURL=";
    const size_t plen = sizeof css_prefix - 1; /* both prefixes are this long */
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *url = NULL, *url_end = eol;
        size_t line_len = (size_t)(eol - p);
        if (f->kind == CSS) {
            if (line_len >= plen + 2 && memcmp(p, "/*#", 3) == 0 && (p[3] == ' ' || p[3] == '\t') &&
                memcmp(p + 4, css_prefix + 4, plen - 4) == 0 && memcmp(eol - 2, "*/", 2) == 0) {
                url = p + plen;
                url_end = eol - 2;
            }
        } else if (line_len >= plen && memcmp(p, js_prefix, plen) == 0) {
            url = p + plen;
        }
        while (url && url < url_end && is_space(*url))
            url++;
        while (url && url_end > url && is_space(url_end[-1]))
            url_end--;
        int rc = 0;
        size_t mark = out->len;
        if (url) {
            if (mn_buf_puts(out, f->kind == CSS ? css_prefix : js_prefix) < 0)
                return MN_ENOMEM;
            rc = convert(c, f, url, (size_t)(url_end - url), out);
            if (rc < 0)
                return rc;
            if (rc > 0 && f->kind == CSS && mn_buf_puts(out, " */") < 0)
                return MN_ENOMEM;
        }
        if (rc == 0) {
            out->len = mark;
            if (mn_buf_append(out, p, line_len) < 0)
                return MN_ENOMEM;
        }
        if (nl && mn_buf_append(out, "\n", 1) < 0)
            return MN_ENOMEM;
        p = nl ? nl + 1 : end;
    }
    return MN_OK;
}

/* Rewrites f's original content into f->content with the current hashed names, applying
 * Django's patterns for the file's type one after the other, each to the previous result. */
static int rewrite_adjustable(collector *c, file_rec *f, const mn_buf *orig)
{
    mn_buf a, b;
    mn_buf_init(&a, NULL);
    mn_buf_init(&b, NULL);
    mn_buf_reset(&f->content);
    int rc = MN_OK;
    const mn_buf *maps_from = orig;
    if (f->kind == CSS) {
        rc = rewrite_refs(c, f, orig->data, orig->len, &a, "url(", match_url, "url(\"");
        if (rc == MN_OK)
            rc = rewrite_refs(c, f, a.data, a.len, &b, "@import", match_import, "@import url(\"");
        maps_from = &b;
    }
    if (rc == MN_OK)
        rc = rewrite_source_maps(c, f, maps_from->data, maps_from->len, &f->content);
    mn_buf_free(&a);
    mn_buf_free(&b);
    return rc;
}

static int write_manifest(collector *c)
{
    json_t *doc = json_object(), *paths = json_object();
    if (!doc || !paths) {
        json_decref(doc);
        json_decref(paths);
        return MN_ENOMEM;
    }
    json_object_set_new(doc, "paths", paths);
    for (size_t i = 0; i < c->n; i++)
        json_object_set_new(paths, c->files[i].name, json_string(c->files[i].hashed));
    json_object_set_new(doc, "version", json_string("1.1"));
    char *paths_text = json_dumps(paths, JSON_SORT_KEYS | JSON_COMPACT);
    char hash[13] = "";
    if (paths_text)
        md5_12(paths_text, strlen(paths_text), hash);
    free(paths_text);
    json_object_set_new(doc, "hash", json_string(hash));
    char *text = json_dumps(doc, JSON_SORT_KEYS);
    json_decref(doc);
    if (!text)
        return MN_ENOMEM;
    int rc = write_file(c->st->root, MN__STATIC_MANIFEST, text, strlen(text));
    free(text);
    return rc;
}

static void free_collector(collector *c)
{
    for (size_t i = 0; i < c->n; i++) {
        mn_free(c->files[i].name);
        mn_free(c->files[i].source);
        mn_free(c->files[i].hashed);
        mn_buf_free(&c->files[i].content);
    }
    mn_free(c->files);
}

/* Django skips a file whose copy in STATIC_ROOT was modified in the same second as the
 * source or later. */
static bool copy_is_current(const char *root, const file_rec *f)
{
    char dst[4096];
    struct stat src_st, dst_st;
    if (mn__static_join(dst, sizeof dst, root, f->name) < 0 || stat(f->source, &src_st) < 0 ||
        stat(dst, &dst_st) < 0 || !S_ISREG(dst_st.st_mode))
        return false;
    return dst_st.st_mtim.tv_sec >= src_st.st_mtim.tv_sec;
}

static int collect(collector *c, mn_static_report *report)
{
    mn_static *st = c->st;
    int rc;
    for (size_t i = 0; i < st->ndirs; i++)
        if ((rc = walk(c, st->dirs[i], "")) < 0)
            return rc;
    mn_buf data;
    mn_buf_init(&data, NULL);
    /* Copies, and the hashes of everything that is not CSS or JavaScript (final at once). */
    for (size_t i = 0; i < c->n; i++) {
        file_rec *f = &c->files[i];
        bool unmodified = copy_is_current(st->root, f);
        if ((rc = read_file(f->source, &data)) < 0 ||
            (!unmodified && (rc = write_file(st->root, f->name, data.data, data.len)) < 0)) {
            mn_buf_free(&data);
            return fail(c, rc, "cannot copy %s into %s", f->source, st->root);
        }
        if (unmodified)
            report->unmodified++;
        else
            report->copied++;
        set_hashed(f, data.data, data.len); /* CSS and JS: a first guess, refined below */
    }
    /* CSS and JS: rewrite with the current names and rehash until nothing changes. */
    bool settled = false;
    for (int pass = 0; pass < MAX_PASSES && !settled; pass++) {
        settled = true;
        for (size_t i = 0; i < c->n; i++) {
            file_rec *f = &c->files[i];
            if (f->kind == PLAIN)
                continue;
            if ((rc = read_file(f->source, &data)) < 0 ||
                (rc = rewrite_adjustable(c, f, &data)) < 0) {
                mn_buf_free(&data);
                return rc;
            }
            char *before = f->hashed ? mn_strdup(f->hashed) : NULL;
            set_hashed(f, f->content.data, f->content.len);
            if (!before || strcmp(before, f->hashed) != 0)
                settled = false;
            mn_free(before);
        }
    }
    mn_buf_free(&data);
    if (!settled)
        return fail(
            c, MN_EINVAL,
            "static files refer to each other in a cycle: max post-process passes exceeded");
    for (size_t i = 0; i < c->n; i++) {
        file_rec *f = &c->files[i];
        if (f->kind != PLAIN) {
            rc = write_file(st->root, f->hashed, f->content.data, f->content.len);
            report->rewritten++;
        } else {
            char dst[4096], src[4096];
            mn__static_join(src, sizeof src, st->root, f->name);
            mn__static_join(dst, sizeof dst, st->root, f->hashed);
            struct stat sb;
            /* The name holds the content's hash: an existing copy is this very content,
             * and Django does not count it as post-processed. */
            if (stat(dst, &sb) == 0 && S_ISREG(sb.st_mode))
                continue;
            mkdirs_for(dst);
            unlink(dst);
            rc = link(src, dst) == 0 ? MN_OK : MN_EIO;
            if (rc < 0) { /* another file system: copy */
                mn_buf copy;
                mn_buf_init(&copy, NULL);
                rc = read_file(src, &copy);
                if (rc == MN_OK)
                    rc = write_file(st->root, f->hashed, copy.data, copy.len);
                mn_buf_free(&copy);
            }
        }
        if (rc < 0)
            return fail(c, rc, "cannot write %s in %s", f->hashed, st->root);
        report->hashed++;
    }
    return write_manifest(c);
}

int mn_static_collect(mn_static *st, mn_static_report *report, mn_buf *err)
{
    mn_static_report dummy;
    if (!report)
        report = &dummy;
    memset(report, 0, sizeof *report);
    collector c = {.st = st, .err = err};
    if (!st->root) {
        fail(&c, MN_EINVAL, "STATIC_ROOT is not set");
        return MN_EINVAL;
    }
    if (mkdir(st->root, 0755) < 0 && errno != EEXIST) {
        fail(&c, MN_EIO, "cannot create STATIC_ROOT %s", st->root);
        return MN_EIO;
    }
    int rc = collect(&c, report);
    if (rc == MN_OK) {
        /* Load what was just written, so the same process serves hashed names at once. */
        mn__static_entry *entries = mn_calloc(c.n ? c.n : 1, sizeof *entries);
        if (!entries) {
            rc = MN_ENOMEM;
        } else {
            for (size_t i = 0; i < c.n; i++) {
                entries[i].name = c.files[i].name;
                entries[i].hashed = c.files[i].hashed;
                c.files[i].name = c.files[i].hashed = NULL;
            }
            mn__static_set_manifest(st, entries, c.n);
        }
    }
    free_collector(&c);
    return rc;
}
