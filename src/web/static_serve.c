/* static_serve.c — serving static files for production: sendfile, validators and 304s,
 * single byte ranges, precompressed variants and far-future caching of hashed names.
 *
 * The path is checked twice against traversal: lexically (mn_static_check_path: no "..",
 * no absolute path) and, after resolving symlinks, by requiring the real file to lie inside
 * the real folder it was looked up in. */
#define _GNU_SOURCE
#include "web/internal.h"
#include "web/static_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"eot", "application/vnd.ms-fontobject"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
};

const char *mn_static_content_type(const char *filename)
{
    const char *base = strrchr(filename, '/');
    base = base ? base + 1 : filename;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* Opens dir/rel for reading if it is a regular file whose real path stays inside dir. */
static int open_within(const char *dir, const char *rel, struct stat *sb)
{
    char path[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
    if (mn__static_join(path, sizeof path, dir, rel) < 0 || !realpath(dir, real_dir) ||
        !realpath(path, real_file))
        return -1;
    size_t n = strlen(real_dir);
    if (strncmp(real_file, real_dir, n) != 0 || (real_file[n] != '/' && n > 1))
        return -1;
    int fd = open(real_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The folder that serves path: STATIC_ROOT once collected, else the first finder. */
static int open_static(const mn_static *st, const char *rel, struct stat *sb, const char **dir)
{
    if (st->root) {
        int fd = open_within(st->root, rel, sb);
        if (fd >= 0 || st->manifest_loaded) {
            *dir = st->root;
            return fd;
        }
    }
    for (size_t i = 0; i < st->ndirs; i++) {
        int fd = open_within(st->dirs[i], rel, sb);
        if (fd >= 0) {
            *dir = st->dirs[i];
            return fd;
        }
    }
    return -1;
}

static void http_date(time_t t, char out[40])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* The three date formats RFC 9110 asks recipients to accept. -1 when none matches. */
static time_t parse_http_date(mn_str s)
{
    char buf[64];
    if (!s.ptr || s.len >= sizeof buf)
        return -1;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    static const char *const formats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                          "%a %b %e %H:%M:%S %Y"};
    for (size_t i = 0; i < 3; i++) {
        struct tm tm = {0};
        const char *end = strptime(buf, formats[i], &tm);
        if (end && *end == '\0')
            return timegm(&tm);
    }
    return -1;
}

/* Does an If-None-Match list hold etag (weak comparison, as RFC 9110 for GET/HEAD)? */
static bool etag_matches(mn_str list, const char *etag)
{
    size_t el = strlen(etag);
    const char *p = list.ptr, *end = list.ptr + list.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p < end && *p == '*')
            return true;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *tok = p;
        if (p < end && *p == '"') {
            p++;
            while (p < end && *p != '"')
                p++;
            if (p < end)
                p++;
        } else {
            while (p < end && *p != ',')
                p++;
        }
        if ((size_t)(p - tok) == el && memcmp(tok, etag, el) == 0)
            return true;
    }
    return false;
}

/* A single "bytes=first-last" / "bytes=first-" / "bytes=-suffix" range. 1 when usable, 0 to
 * ignore the header (bad syntax or several ranges: the whole file is sent, as RFC 9110
 * allows), -1 when unsatisfiable (416). */
static int parse_range(mn_str h, off_t size, off_t *start, off_t *len)
{
    if (h.len < 7 || strncasecmp(h.ptr, "bytes=", 6) != 0 || memchr(h.ptr, ',', h.len))
        return 0;
    char buf[64];
    size_t n = h.len - 6;
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, h.ptr + 6, n);
    buf[n] = '\0';
    char *dash = strchr(buf, '-');
    if (!dash)
        return 0;
    *dash = '\0';
    const char *a = buf, *b = dash + 1;
    for (const char *c = a; *c; c++)
        if (*c < '0' || *c > '9')
            return 0;
    for (const char *c = b; *c; c++)
        if (*c < '0' || *c > '9')
            return 0;
    if (!*a && !*b)
        return 0;
    errno = 0;
    if (!*a) { /* suffix */
        long long suffix = strtoll(b, NULL, 10);
        if (errno || suffix <= 0 || size == 0)
            return -1;
        *start = suffix >= size ? 0 : size - (off_t)suffix;
        *len = size - *start;
        return 1;
    }
    long long first = strtoll(a, NULL, 10);
    long long last = *b ? strtoll(b, NULL, 10) : (long long)size - 1;
    if (errno)
        return 0;
    if (*b && last < first)
        return 0; /* syntactically invalid: ignored */
    if (first >= size)
        return -1;
    if (last >= size)
        last = size - 1;
    *start = (off_t)first;
    *len = (off_t)(last - first + 1);
    return 1;
}

static void not_found(mn_req *r)
{
    mn_resp_send(r, 404, "text/plain; charset=utf-8", "Not Found\n");
}

void mn_static_serve(mn_req *r, const mn_static *st, const char *path)
{
    if (!mn_req_method_is(r, "GET") && !mn_req_method_is(r, "HEAD")) {
        mn_resp_set_header(r, "Allow", "GET, HEAD");
        mn_resp_send(r, 405, "text/plain; charset=utf-8", "Method Not Allowed\n");
        return;
    }
    if (!path || mn_static_check_path(path) < 0)
        return not_found(r);
    struct stat sb;
    const char *dir = NULL;
    int fd = open_static(st, path, &sb, &dir);
    if (fd < 0)
        return not_found(r);

    /* A precompressed sibling, when the client takes it and it is not older than the file.
     * Ranges apply to the identity encoding only. */
    mn_str range = mn_req_header(r, "Range");
    mn_str ae = mn_req_header(r, "Accept-Encoding");
    const char *encoding = NULL;
    bool has_variant = false;
    static const struct {
        const char *coding, *suffix;
    } variants[] = {{"br", ".br"}, {"gzip", ".gz"}};
    for (size_t i = 0; i < 2; i++) {
        char vpath[PATH_MAX];
        if (snprintf(vpath, sizeof vpath, "%s%s", path, variants[i].suffix) >= (int)sizeof vpath)
            continue;
        struct stat vsb;
        int vfd = open_within(dir, vpath, &vsb);
        if (vfd < 0)
            continue;
        has_variant = true;
        if (!encoding && !range.ptr && ae.ptr &&
            mn__accept_encoding_q(ae, variants[i].coding) > 0 && vsb.st_mtime >= sb.st_mtime) {
            close(fd);
            fd = vfd;
            sb = vsb;
            encoding = variants[i].coding;
        } else {
            close(vfd);
        }
    }

    char etag[64], modified[40];
    snprintf(etag, sizeof etag, "\"%llx-%llx%s%s\"", (unsigned long long)sb.st_mtime,
             (unsigned long long)sb.st_size, encoding ? "-" : "", encoding ? encoding : "");
    http_date(sb.st_mtime, modified);
    mn_resp_set_header(r, "Content-Type", mn_static_content_type(path));
    mn_resp_set_header(r, "Last-Modified", modified);
    mn_resp_set_header(r, "ETag", etag);
    mn_resp_set_header(r, "Accept-Ranges", "bytes");
    mn_resp_set_header(r, "Cache-Control",
                       mn__static_is_hashed_name(st, path) ? "max-age=31536000, public, immutable"
                                                           : "no-cache");
    if (has_variant)
        mn_resp_set_header(r, "Vary", "Accept-Encoding");
    if (encoding)
        mn_resp_set_header(r, "Content-Encoding", encoding);

    /* Conditional GET: If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2). */
    mn_str inm = mn_req_header(r, "If-None-Match");
    bool not_modified;
    if (inm.ptr) {
        not_modified = etag_matches(inm, etag);
    } else {
        time_t ims = parse_http_date(mn_req_header(r, "If-Modified-Since"));
        not_modified = ims >= 0 && sb.st_mtime <= ims;
    }
    if (not_modified) {
        close(fd);
        mn_resp_remove_header(r, "Content-Type");
        mn_resp_remove_header(r, "Content-Encoding");
        mn_resp_status(r, 304);
        return;
    }

    off_t start = 0, len = sb.st_size;
    if (range.ptr) {
        mn_str if_range = mn_req_header(r, "If-Range");
        bool range_ok = true;
        if (if_range.ptr)
            range_ok = if_range.len && if_range.ptr[0] == '"'
                           ? (if_range.len == strlen(etag) &&
                              memcmp(if_range.ptr, etag, if_range.len) == 0)
                           : parse_http_date(if_range) == sb.st_mtime;
        int pr = range_ok ? parse_range(range, sb.st_size, &start, &len) : 0;
        if (pr < 0) {
            close(fd);
            char cr[64];
            snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)sb.st_size);
            mn_resp_set_header(r, "Content-Range", cr);
            mn_resp_send(r, 416, "text/plain; charset=utf-8", "Range Not Satisfiable\n");
            return;
        }
        if (pr > 0) {
            char cr[96];
            snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)start,
                     (unsigned long long)(start + len - 1), (unsigned long long)sb.st_size);
            mn_resp_set_header(r, "Content-Range", cr);
            mn_resp_status(r, 206);
        }
    }
    if (mn_resp_sendfile(r, fd, start, (size_t)len) < 0) {
        close(fd);
        mn_resp_send(r, 500, "text/plain; charset=utf-8", "Server Error\n");
    }
}
