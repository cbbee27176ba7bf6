/* dburl.c — DATABASE_URL parsing as dj-database-url reads it (DESIGN.md section 7):
 * sqlite:///relative.db, sqlite:////absolute.db, postgres://user:pw@host:port/name?opts.
 * Components are percent-decoded; a host like %2Fvar%2Frun%2Fpostgresql names a socket dir. */
#include <manouche/db.h>

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A percent-decoded copy of s[0..n) in the arena, or NULL (bad escape or no memory). */
static const char *decode(mn_arena *a, const char *s, size_t n, const char **why)
{
    char *out = mn_arena_alloc(a, n + 1);
    if (!out) {
        *why = "out of memory";
        return NULL;
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
                *why = "invalid percent escape in the database URL";
                return NULL;
            }
            char c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            if (c == '\0') {
                *why = "NUL byte in the database URL";
                return NULL;
            }
            out[j++] = c;
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

static int parse_sqlite(const char *rest, mn_arena *a, mn_dburl *out, const char **why)
{
    /* After "sqlite:": "//" then an optional (empty) host, then "/path". */
    if (strncmp(rest, "//", 2) != 0) {
        *why = "a SQLite URL starts with sqlite:// (sqlite:///relative.db)";
        return MN_EINVAL;
    }
    rest += 2;
    if (*rest == '\0' || strcmp(rest, ":memory:") == 0 || strcmp(rest, "/:memory:") == 0) {
        out->path = ":memory:";
        return 0;
    }
    if (*rest != '/') {
        *why = "a SQLite URL has no host: use sqlite:///relative.db or sqlite:////abs.db";
        return MN_EINVAL;
    }
    rest++; /* "sqlite:///x" -> "x"; "sqlite:////x" -> "/x" */
    size_t n = strcspn(rest, "?");
    if (n == 0) {
        *why = "the SQLite URL names no file";
        return MN_EINVAL;
    }
    out->path = decode(a, rest, n, why);
    if (!out->path)
        return MN_EINVAL;
    if (rest[n] == '?' && !(out->options = mn_arena_strdup(a, rest + n + 1))) {
        *why = "out of memory";
        return MN_ENOMEM;
    }
    return 0;
}

static int parse_port(const char *s, size_t n, int *port, const char **why)
{
    if (n == 0)
        return 0;
    int64_t v;
    if (mn_str_to_i64((mn_str){s, n}, &v) != 0 || v <= 0 || v > 65535) {
        *why = "the port in the database URL is not a number from 1 to 65535";
        return MN_EINVAL;
    }
    *port = (int)v;
    return 0;
}

static int parse_pg(const char *rest, mn_arena *a, mn_dburl *out, const char **why)
{
    if (strncmp(rest, "//", 2) != 0) {
        *why = "a PostgreSQL URL looks like postgres://user:password@host:port/name";
        return MN_EINVAL;
    }
    rest += 2;
    size_t auth_end = strcspn(rest, "/?");
    const char *auth = rest;
    const char *at = NULL;
    for (size_t i = 0; i < auth_end; i++)
        if (auth[i] == '@')
            at = auth + i; /* the last '@': passwords may hold encoded ones */
    const char *hostport = auth;
    if (at) {
        size_t ulen = (size_t)(at - auth);
        const char *colon = memchr(auth, ':', ulen);
        size_t nlen = colon ? (size_t)(colon - auth) : ulen;
        if (nlen && !(out->user = decode(a, auth, nlen, why)))
            return MN_EINVAL;
        if (colon && !(out->password = decode(a, colon + 1, ulen - nlen - 1, why)))
            return MN_EINVAL;
        hostport = at + 1;
    }
    size_t hplen = (size_t)(auth + auth_end - hostport);
    const char *hend = hostport + hplen;
    const char *colon = NULL;
    if (hplen && hostport[0] == '[') { /* [ipv6]:port */
        const char *close = memchr(hostport, ']', hplen);
        if (!close) {
            *why = "unclosed '[' in the database URL host";
            return MN_EINVAL;
        }
        if (!(out->host = decode(a, hostport + 1, (size_t)(close - hostport - 1), why)))
            return MN_EINVAL;
        if (close + 1 < hend && close[1] != ':') {
            *why = "junk after ']' in the database URL host";
            return MN_EINVAL;
        }
        colon = close + 1 < hend ? close + 1 : NULL;
    } else {
        colon = memchr(hostport, ':', hplen);
        size_t hlen = colon ? (size_t)(colon - hostport) : hplen;
        if (hlen && !(out->host = decode(a, hostport, hlen, why)))
            return MN_EINVAL;
    }
    if (colon && parse_port(colon + 1, (size_t)(hend - colon - 1), &out->port, why) != 0)
        return MN_EINVAL;
    rest += auth_end;
    if (*rest == '/') {
        rest++;
        size_t nlen = strcspn(rest, "?");
        if (nlen && !(out->name = decode(a, rest, nlen, why)))
            return MN_EINVAL;
        rest += nlen;
    }
    if (*rest == '?' && !(out->options = mn_arena_strdup(a, rest + 1))) {
        *why = "out of memory";
        return MN_ENOMEM;
    }
    if (!out->name) {
        *why = "the PostgreSQL URL names no database (postgres://user@host/name)";
        return MN_EINVAL;
    }
    return 0;
}

int mn_dburl_parse(const char *url, mn_arena *arena, mn_dburl *out, const char **why)
{
    static const char *unused;
    if (!why)
        why = &unused;
    *why = NULL;
    memset(out, 0, sizeof *out);
    if (!url || !*url) {
        *why = "the database URL is empty";
        return MN_EINVAL;
    }
    const char *colon = strchr(url, ':');
    if (!colon) {
        *why = "the database URL has no scheme (sqlite:// or postgres://)";
        return MN_EINVAL;
    }
    mn_str scheme = {url, (size_t)(colon - url)};
    if (mn_str_ieq_cstr(scheme, "sqlite") || mn_str_ieq_cstr(scheme, "sqlite3")) {
        out->dialect = MN_DIALECT_SQLITE;
        return parse_sqlite(colon + 1, arena, out, why);
    }
    if (mn_str_ieq_cstr(scheme, "postgres") || mn_str_ieq_cstr(scheme, "postgresql") ||
        mn_str_ieq_cstr(scheme, "pgsql")) {
        out->dialect = MN_DIALECT_POSTGRESQL;
        return parse_pg(colon + 1, arena, out, why);
    }
    *why = "unknown database URL scheme (expected sqlite:// or postgres://)";
    return MN_EINVAL;
}
