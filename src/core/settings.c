/* settings.c — typed settings resolved from defaults, a .env file and the environment.
 *
 * Every value is kept as text (its raw form, as an environment variable would give it) and
 * parsed once when it is set, so a default, a .env line and an environment variable all go
 * through the same check and the same error message. Lookups are linear over ~60 entries:
 * they happen at start-up; hot paths copy what they need into their own structs. */
#include <manouche/settings.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct entry {
    mn_setting_def def;
    char *raw; /* heap copy of the text value */
    mn_setting_source source;
    bool b;
    int64_t i;
    char **items; /* LIST: heap array of heap strings, NULL-terminated */
    size_t item_count;
} entry;

struct mn_settings {
    entry *entries;
    size_t count, cap;
    char error[512];
};

static const mn_settings *current_settings;

/* ---- Checks used by the built-in definitions. ---- */

/* The authority of scheme://authority/...: userinfo@host:port (NULL when not URL-shaped). */
static const char *url_authority(const char *v, size_t *len)
{
    const char *p = strstr(v, "://");
    if (!p)
        return NULL;
    p += 3;
    *len = strcspn(p, "/?#");
    return p;
}

/* The port of a server URL, when one is written, must be a number from 1 to 65535: a typo
 * there stops start-up (and `check`) instead of failing at the first connection. */
static bool url_port_valid(const char *v)
{
    size_t n;
    const char *auth = url_authority(v, &n);
    if (!auth)
        return true;
    const char *host = auth;
    for (size_t i = 0; i < n; i++)
        if (auth[i] == '@')
            host = auth + i + 1; /* the last '@': passwords may hold encoded ones */
    const char *end = auth + n;
    if (host < end && *host == '[') { /* [ipv6]:port */
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close)
            return false;
        host = close + 1;
        if (host < end && *host != ':')
            return false;
    }
    const char *colon = memchr(host, ':', (size_t)(end - host));
    if (!colon || colon + 1 == end)
        return true; /* no port, or "host:": the default */
    int64_t port;
    return mn_str_to_i64((mn_str){colon + 1, (size_t)(end - colon - 1)}, &port) == 0 && port >= 1 &&
           port <= 65535 && colon[1] >= '0' && colon[1] <= '9';
}

static bool check_database_url(const char *v)
{
    if (strncmp(v, "sqlite://", 9) == 0)
        return true;
    return (strncmp(v, "postgres://", 11) == 0 || strncmp(v, "postgresql://", 13) == 0 ||
            strncmp(v, "pgsql://", 8) == 0) &&
           url_port_valid(v);
}

/* v with the password of a URL's userinfo replaced by asterisks, for error messages:
 * "postgres://u:secret@h/db" gives "postgres://u:********@h/db". */
static const char *mask_url_password(const char *v, char *buf, size_t cap)
{
    size_t n;
    const char *auth = url_authority(v, &n);
    const char *at = NULL;
    for (size_t i = 0; auth && i < n; i++)
        if (auth[i] == '@')
            at = auth + i;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon)
        return v;
    snprintf(buf, cap, "%.*s********%s", (int)(colon + 1 - v), v, at);
    return buf;
}

static bool check_redis_url(const char *v)
{
    return *v == '\0' || strncmp(v, "redis://", 8) == 0 || strncmp(v, "rediss://", 9) == 0 ||
           strncmp(v, "unix://", 7) == 0;
}

static bool check_url_prefix(const char *v)
{
    size_t n = strlen(v);
    return n > 0 && v[n - 1] == '/';
}

/* as django.middleware.security: REFERRER_POLICY_VALUES, comma-separated */
static bool check_referrer_policy(const char *v)
{
    static const char *const policies[] = {"no-referrer",
                                           "no-referrer-when-downgrade",
                                           "origin",
                                           "origin-when-cross-origin",
                                           "same-origin",
                                           "strict-origin",
                                           "strict-origin-when-cross-origin",
                                           "unsafe-url",
                                           NULL};
    const char *p = v;
    while (*p) {
        const char *end = strchr(p, ',');
        mn_str item = mn_str_trim((mn_str){p, end ? (size_t)(end - p) : strlen(p)});
        bool ok = item.len == 0;
        for (size_t i = 0; !ok && policies[i]; i++)
            ok = mn_str_eq_cstr(item, policies[i]);
        if (!ok)
            return false;
        if (!end)
            break;
        p = end + 1;
    }
    return true;
}

static const mn_setting_def builtins[] = {
    {"DEBUG", MN_SETTING_BOOL, "true",
     "development mode: detailed error pages (off by default for `serve`)", 0, 0, NULL, false, NULL,
     NULL},
    {"SECRET_KEY", MN_SETTING_STRING, "", "key for signing; required when DEBUG is off", 0, 0, NULL,
     true, NULL, NULL},
    {"ALLOWED_HOSTS", MN_SETTING_LIST, "",
     "host names this site serves ('.example.com' includes subdomains, '*' any)", 0, 0, NULL, false,
     NULL, NULL},
    {"DATABASE_URL", MN_SETTING_STRING, "sqlite:///db.sqlite3", "database in dj-database-url form",
     0, 0, NULL, false, check_database_url,
     "a database URL (sqlite:///path.db, sqlite:////abs/path.db or "
     "postgres://user:password@host:port/name, the port a number from 1 to 65535)"},
    {"DATABASES", MN_SETTING_LIST, "",
     "more databases for using()/routers: alias=URL entries ('replica=postgres://...')", 0, 0, NULL,
     true, NULL, NULL},
    {"DB_POOL_SIZE", MN_SETTING_INT, "10", "database connections per worker (per database)", 1,
     10000, NULL, false, NULL, NULL},
    {"DB_POOL_TIMEOUT", MN_SETTING_INT, "5000",
     "ms a request waits for a free database connection (503 after)", 1, 0, NULL, false, NULL,
     NULL},
    {"DB_STATEMENT_TIMEOUT", MN_SETTING_INT, "0", "ms a PostgreSQL statement may run (0: no limit)",
     0, 0, NULL, false, NULL, NULL},
    {"DB_DISABLE_SERVER_SIDE_CURSORS", MN_SETTING_BOOL, "false",
     "PostgreSQL behind a transaction-mode pooler: iterator() reads its whole result at once", 0, 0,
     NULL, false, NULL, NULL},
    {"ATOMIC_REQUESTS", MN_SETTING_BOOL, "false",
     "run each view in a transaction (rolled back if the view fails)", 0, 0, NULL, false, NULL,
     NULL},
    {"DB_WARN_REPEATS", MN_SETTING_INT, "10",
     "in DEBUG, warn when a request runs one query shape more often (N+1; 0: off)", 0, 0, NULL,
     false, NULL, NULL},
    {"DB_CREATE_TABLES", MN_SETTING_BOOL, "true",
     "create missing model tables at the first request (until migrations)", 0, 0, NULL, false, NULL,
     NULL},
    {"REDIS_URL", MN_SETTING_STRING, "", "Redis for cache, sessions, channels (redis://...)", 0, 0,
     NULL, false, check_redis_url, "a Redis URL (redis://host:port/db)"},
    {"PORT", MN_SETTING_INT, "8000", "TCP port runserver and serve listen on", 0, 65535, NULL,
     false, NULL, NULL},
    {"WORKERS", MN_SETTING_INT, NULL, "worker processes for serve (default: one per core)", 1, 0,
     NULL, false, NULL, NULL},
    {"DRAIN_TIMEOUT_MS", MN_SETTING_INT, "30000",
     "how long SIGTERM/SIGHUP lets in-flight requests finish", 0, 0, NULL, false, NULL, NULL},
    {"DATA_UPLOAD_MAX_MEMORY_SIZE", MN_SETTING_SIZE, "2621440",
     "largest request body in bytes (413 above)", 0, 0, NULL, false, NULL, NULL},
    {"DATA_UPLOAD_MAX_NUMBER_FIELDS", MN_SETTING_INT, "1000",
     "most GET/POST parameters in one request (400 above; 0 or None: no limit)", 0, 0, NULL, false,
     NULL, NULL},
    {"DATA_UPLOAD_MAX_NUMBER_FILES", MN_SETTING_INT, "100",
     "most files in one multipart request (400 above; 0 or None: no limit)", 0, 0, NULL, false,
     NULL, NULL},
    {"DATA_UPLOAD_MAX_NUMBER_PARTS", MN_SETTING_INT, "1000",
     "most parts, fields and files together, in a multipart body (400 above; 0 or None: no limit)",
     0, 0, NULL, false, NULL, NULL},
    {"FILE_UPLOAD_MAX_MEMORY_SIZE", MN_SETTING_SIZE, "2621440",
     "uploaded files above this go to a temporary file", 0, 0, NULL, false, NULL, NULL},
    {"FILE_UPLOAD_MAX_SIZE", MN_SETTING_SIZE, "64M", "largest uploaded file (0: no limit)", 0, 0,
     NULL, false, NULL, NULL},
    {"FILE_UPLOAD_TEMP_DIR", MN_SETTING_STRING, "", "folder for big uploads ($TMPDIR or /tmp)", 0,
     0, NULL, false, NULL, NULL},
    {"HTTP_MAX_TARGET", MN_SETTING_SIZE, "8190", "longest request target (414 above)", 16, 0, NULL,
     false, NULL, NULL},
    {"HTTP_MAX_HEADER_BYTES", MN_SETTING_SIZE, "16384", "largest header block (431 above)", 256, 0,
     NULL, false, NULL, NULL},
    {"HTTP_MAX_HEADERS", MN_SETTING_INT, "100", "most header fields (431 above)", 1, 10000, NULL,
     false, NULL, NULL},
    {"HTTP_MAX_PIPELINE", MN_SETTING_INT, "16", "pipelined requests held per connection", 1, 1024,
     NULL, false, NULL, NULL},
    {"HTTP_HEADER_TIMEOUT_MS", MN_SETTING_INT, "10000", "request head deadline (408 after)", 1, 0,
     NULL, false, NULL, NULL},
    {"HTTP_BODY_TIMEOUT_MS", MN_SETTING_INT, "30000", "longest gap between body reads", 1, 0, NULL,
     false, NULL, NULL},
    {"HTTP_KEEPALIVE_TIMEOUT_MS", MN_SETTING_INT, "5000", "idle keep-alive connection lifetime", 0,
     0, NULL, false, NULL, NULL},
    {"HTTP_WRITE_TIMEOUT_MS", MN_SETTING_INT, "30000", "a client that stops reading is dropped", 1,
     0, NULL, false, NULL, NULL},
    {"APPEND_SLASH", MN_SETTING_BOOL, "true", "redirect /path to /path/ when only that matches", 0,
     0, NULL, false, NULL, NULL},
    {"SECURE_SSL_REDIRECT", MN_SETTING_BOOL, "false", "redirect plain HTTP requests to HTTPS", 0, 0,
     NULL, false, NULL, NULL},
    {"SECURE_SSL_HOST", MN_SETTING_STRING, "", "host to redirect HTTPS requests to", 0, 0, NULL,
     false, NULL, NULL},
    {"SECURE_REDIRECT_EXEMPT", MN_SETTING_LIST, "",
     "path prefixes (without leading /) not redirected to HTTPS", 0, 0, NULL, false, NULL, NULL},
    {"SECURE_HSTS_SECONDS", MN_SETTING_INT, "0", "Strict-Transport-Security max-age (0: off)", 0, 0,
     NULL, false, NULL, NULL},
    {"SECURE_HSTS_INCLUDE_SUBDOMAINS", MN_SETTING_BOOL, "false", "HSTS includeSubDomains", 0, 0,
     NULL, false, NULL, NULL},
    {"SECURE_HSTS_PRELOAD", MN_SETTING_BOOL, "false", "HSTS preload", 0, 0, NULL, false, NULL,
     NULL},
    {"SECURE_CONTENT_TYPE_NOSNIFF", MN_SETTING_BOOL, "true", "X-Content-Type-Options: nosniff", 0,
     0, NULL, false, NULL, NULL},
    {"SECURE_REFERRER_POLICY", MN_SETTING_STRING, "same-origin", "Referrer-Policy header", 0, 0,
     NULL, false, check_referrer_policy,
     "a Referrer-Policy list (no-referrer, no-referrer-when-downgrade, origin, "
     "origin-when-cross-origin, same-origin, strict-origin, strict-origin-when-cross-origin, "
     "unsafe-url)"},
    {"SECURE_CROSS_ORIGIN_OPENER_POLICY", MN_SETTING_STRING, "same-origin",
     "Cross-Origin-Opener-Policy header (\"none\": left out)", 0, 0,
     "same-origin|same-origin-allow-popups|unsafe-none|none", false, NULL, NULL},
    {"TRUSTED_PROXIES", MN_SETTING_LIST, "",
     "proxy addresses and CIDR networks (10.0.0.0/8) whose X-Forwarded-For/-Proto are believed", 0,
     0, NULL, false, NULL, NULL},
    {"COOKIE_SECURE", MN_SETTING_BOOL, "false",
     "mark every cookie Secure, also over plain HTTP (TLS ends at an untrusted proxy)", 0, 0, NULL,
     false, NULL, NULL},
    {"USE_X_FORWARDED_HOST", MN_SETTING_BOOL, "false", "take the host from X-Forwarded-Host", 0, 0,
     NULL, false, NULL, NULL},
    {"LOG_FORMAT", MN_SETTING_STRING, "auto", "log lines: text, json, or auto (json unless DEBUG)",
     0, 0, "auto|text|json", false, NULL, NULL},
    {"LOG_LEVEL", MN_SETTING_STRING, "INFO", "lowest level logged", 0, 0,
     "DEBUG|INFO|WARNING|ERROR", false, NULL, NULL},
    {"MIDDLEWARE", MN_SETTING_LIST, "request_id,host,security,gzip,conditional_get,common",
     "middleware names, outermost first", 0, 0, NULL, false, NULL, NULL},
    {"TEMPLATES_DIRS", MN_SETTING_LIST, "", "folders searched for templates before the apps'", 0, 0,
     NULL, false, NULL, NULL},
    {"STATIC_URL", MN_SETTING_STRING, "/static/", "URL prefix of static files", 0, 0, NULL, false,
     check_url_prefix, "a URL prefix ending in '/'"},
    {"STATIC_ROOT", MN_SETTING_STRING, "", "folder collectstatic fills and serve serves", 0, 0,
     NULL, false, NULL, NULL},
    {"STATICFILES_DIRS", MN_SETTING_LIST, "", "extra folders of static files", 0, 0, NULL, false,
     NULL, NULL},
    {NULL, 0, NULL, NULL, 0, 0, NULL, false, NULL, NULL},
};

/* ---- Entries. ---- */

static entry *find(const mn_settings *s, const char *name)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->entries[i].def.name, name) == 0)
            return &s->entries[i];
    return NULL;
}

static void free_items(entry *e)
{
    if (!e->items)
        return;
    for (size_t i = 0; i < e->item_count; i++)
        mn_free(e->items[i]);
    mn_free(e->items);
    e->items = NULL;
    e->item_count = 0;
}

static int fail(mn_settings *s, const char *fmt, ...) MN_PRINTF(2, 3);
static int fail(mn_settings *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
    return MN_EINVAL;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "y", "t", NULL};
    static const char *const no[] = {"false", "0", "no", "off", "n", "f", "", NULL};
    for (size_t i = 0; yes[i]; i++)
        if (strcasecmp(v, yes[i]) == 0)
            return *out = true, true;
    for (size_t i = 0; no[i]; i++)
        if (strcasecmp(v, no[i]) == 0)
            return *out = false, true;
    return false;
}

static bool parse_size(const char *v, int64_t *out)
{
    mn_str s = mn_str_trim(mn_str_from(v));
    int64_t mult = 1;
    if (s.len > 1) {
        char last = (char)toupper((unsigned char)s.ptr[s.len - 1]);
        if (last == 'B' && s.len > 2) { /* "2MB" */
            s.len--;
            last = (char)toupper((unsigned char)s.ptr[s.len - 1]);
        }
        mult = last == 'K'   ? 1024
               : last == 'M' ? 1024 * 1024
               : last == 'G' ? 1024 * 1024 * 1024
                             : 1;
        if (mult != 1)
            s.len--;
    }
    int64_t n;
    if (mn_str_to_i64(s, &n) != 0 || n < 0 || n > INT64_MAX / mult)
        return false;
    *out = n * mult;
    return true;
}

static bool none_means_no_limit(const char *name);

static void describe_int(const mn_setting_def *d, char *buf, size_t n)
{
    if (none_means_no_limit(d->name))
        snprintf(buf, n, "an integer >= 0, or None for no limit");
    else if (d->max > 0)
        snprintf(buf, n, "an integer between %lld and %lld", (long long)d->min, (long long)d->max);
    else
        snprintf(buf, n, "an integer >= %lld", (long long)d->min);
}

static bool in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        if (!bar)
            return false;
        p = bar + 1;
    }
}

static int split_list(entry *e, const char *v)
{
    size_t cap = 1;
    for (const char *p = v; *p; p++)
        cap += *p == ',';
    char **items = mn_calloc(cap + 1, sizeof *items);
    if (!items)
        return MN_ENOMEM;
    size_t count = 0;
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        mn_str item = mn_str_trim((mn_str){p, comma ? (size_t)(comma - p) : strlen(p)});
        if (item.len > 0) {
            items[count] = mn_malloc(item.len + 1);
            if (!items[count]) {
                for (size_t i = 0; i < count; i++)
                    mn_free(items[i]);
                mn_free(items);
                return MN_ENOMEM;
            }
            memcpy(items[count], item.ptr, item.len);
            items[count++][item.len] = '\0';
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    free_items(e);
    e->items = items;
    e->item_count = count;
    return 0;
}

/* Django lets these limits be None (no check); 0 means the same here. */
static bool none_means_no_limit(const char *name)
{
    return strncmp(name, "DATA_UPLOAD_MAX_NUMBER_", 23) == 0;
}

/* Parses v into e (type check and the definition's own check), then keeps the text. */
static int assign(mn_settings *s, entry *e, const char *v, mn_setting_source source)
{
    const mn_setting_def *d = &e->def;
    char what[160];
    switch (d->type) {
    case MN_SETTING_BOOL:
        if (!parse_bool(v, &e->b))
            return fail(s, "%s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)", d->name,
                        v);
        break;
    case MN_SETTING_INT: {
        int64_t n;
        mn_str t = mn_str_trim(mn_str_from(v));
        if (none_means_no_limit(d->name) && (t.len == 0 || mn_str_eq_cstr(t, "None"))) {
            e->i = 0; /* as Django's None: these limits are off */
            break;
        }
        if (mn_str_to_i64(t, &n) != 0 || n < d->min || (d->max > 0 && n > d->max)) {
            describe_int(d, what, sizeof what);
            return fail(s, "%s: '%s' is not %s", d->name, v, what);
        }
        e->i = n;
        break;
    }
    case MN_SETTING_SIZE: {
        int64_t n;
        if (!parse_size(v, &n) || n < d->min)
            return fail(s,
                        "%s: '%s' is not a size in bytes >= %lld (a number with an optional "
                        "K, M or G suffix)",
                        d->name, v, (long long)d->min);
        e->i = n;
        break;
    }
    case MN_SETTING_STRING:
        if (d->choices && !in_choices(d->choices, v)) {
            char list[256];
            size_t j = 0;
            for (const char *p = d->choices; *p && j + 3 < sizeof list; p++) {
                if (*p == '|') {
                    list[j++] = ',';
                    list[j++] = ' ';
                } else {
                    list[j++] = *p;
                }
            }
            list[j] = '\0';
            return fail(s, "%s: '%s' is not one of %s", d->name, v, list);
        }
        break;
    case MN_SETTING_LIST:
        if (split_list(e, v) != 0)
            return fail(s, "%s: out of memory", d->name);
        break;
    }
    char masked[512];
    if (d->check && !d->check(v))
        return fail(s, "%s: '%s' is not %s", d->name, mask_url_password(v, masked, sizeof masked),
                    d->allowed ? d->allowed : "an allowed value");
    char *copy = mn_strdup(v);
    if (!copy)
        return fail(s, "%s: out of memory", d->name);
    mn_free(e->raw);
    e->raw = copy;
    e->source = source;
    return 0;
}

int mn_settings_register(mn_settings *s, const mn_setting_def *def)
{
    if (!def->name || !*def->name)
        return fail(s, "a setting needs a name");
    if (find(s, def->name))
        return fail(s, "%s: registered twice", def->name);
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        entry *n = mn_realloc(s->entries, cap * sizeof *n);
        if (!n)
            return MN_ENOMEM;
        s->entries = n;
        s->cap = cap;
    }
    entry *e = &s->entries[s->count];
    memset(e, 0, sizeof *e);
    e->def = *def;
    char cores[32];
    const char *v = def->default_value ? def->default_value : "";
    if (!def->default_value && strcmp(def->name, "WORKERS") == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        snprintf(cores, sizeof cores, "%ld", n > 0 ? n : 1);
        v = cores;
    }
    s->count++;
    int rc = assign(s, e, v, MN_SETTING_FROM_DEFAULT);
    if (rc != 0) {
        /* a default that does not parse is the programmer's mistake: say so */
        char msg[sizeof s->error];
        memcpy(msg, s->error, sizeof msg);
        memcpy(s->error, "default: ", 9);
        memcpy(s->error + 9, msg, sizeof s->error - 10);
        s->error[sizeof s->error - 1] = '\0';
        free_items(e);
        s->count--;
    }
    return rc;
}

int mn_settings_register_table(mn_settings *s, const mn_setting_def *defs)
{
    for (size_t i = 0; defs[i].name; i++) {
        int rc = mn_settings_register(s, &defs[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

mn_settings *mn_settings_new(void)
{
    mn_settings *s = mn_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (mn_settings_register_table(s, builtins) != 0) {
        mn_settings_free(s);
        return NULL;
    }
    return s;
}

void mn_settings_free(mn_settings *s)
{
    if (!s)
        return;
    if (current_settings == s)
        current_settings = NULL;
    for (size_t i = 0; i < s->count; i++) {
        free_items(&s->entries[i]);
        mn_free(s->entries[i].raw);
    }
    mn_free(s->entries);
    mn_free(s);
}

const char *mn_settings_error(const mn_settings *s)
{
    return s->error;
}

int mn_settings_set_default(mn_settings *s, const char *name, const char *value)
{
    entry *e = find(s, name);
    if (!e)
        return MN_ENOTFOUND;
    return assign(s, e, value, MN_SETTING_FROM_DEFAULT);
}

int mn_settings_set(mn_settings *s, const char *name, const char *value)
{
    entry *e = find(s, name);
    if (!e) {
        fail(s, "%s: no such setting", name);
        return MN_ENOTFOUND;
    }
    return assign(s, e, value, MN_SETTING_FROM_CODE);
}

/* ---- .env files. ---- */

int mn_dotenv_parse_line(mn_str line, mn_str *name, mn_str *value, mn_buf *unquoted)
{
    name->ptr = NULL;
    name->len = 0;
    *value = (mn_str){"", 0};
    while (line.len && (line.ptr[line.len - 1] == '\r' || line.ptr[line.len - 1] == '\n'))
        line.len--;
    line = mn_str_trim(line);
    if (line.len == 0 || line.ptr[0] == '#')
        return 0;
    if (mn_str_starts_with(line, "export ")) {
        line.ptr += 7;
        line.len -= 7;
        line = mn_str_trim(line);
    }
    const char *eq = memchr(line.ptr, '=', line.len);
    if (!eq)
        return MN_EINVAL;
    mn_str n = mn_str_trim((mn_str){line.ptr, (size_t)(eq - line.ptr)});
    if (n.len == 0)
        return MN_EINVAL;
    for (size_t i = 0; i < n.len; i++) {
        char c = n.ptr[i];
        if (!(isalnum((unsigned char)c) || c == '_') || (i == 0 && isdigit((unsigned char)c)))
            return MN_EINVAL;
    }
    mn_str v = mn_str_trim((mn_str){eq + 1, line.len - (size_t)(eq + 1 - line.ptr)});
    mn_buf_reset(unquoted);
    if (v.len && (v.ptr[0] == '"' || v.ptr[0] == '\'')) {
        char q = v.ptr[0];
        size_t i = 1;
        for (; i < v.len && v.ptr[i] != q; i++) {
            char c = v.ptr[i];
            if (q == '"' && c == '\\' && i + 1 < v.len) {
                c = v.ptr[++i];
                c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
            }
            if (mn_buf_putc(unquoted, c) != 0)
                return MN_ENOMEM;
        }
        if (i >= v.len)
            return MN_EINVAL; /* unterminated quote */
        mn_str rest = mn_str_trim((mn_str){v.ptr + i + 1, v.len - i - 1});
        if (rest.len && rest.ptr[0] != '#')
            return MN_EINVAL;
    } else {
        /* an unquoted value ends at " #" (a comment), as python-dotenv */
        for (size_t i = 0; i < v.len; i++)
            if (v.ptr[i] == '#' && i > 0 && (v.ptr[i - 1] == ' ' || v.ptr[i - 1] == '\t')) {
                v.len = i;
                break;
            }
        v = mn_str_trim(v);
        if (mn_buf_put_str(unquoted, v) != 0)
            return MN_ENOMEM;
    }
    if (!mn_buf_cstr(unquoted))
        return MN_ENOMEM;
    *name = n;
    *value = (mn_str){unquoted->data, unquoted->len};
    return 0;
}

static int load_dotenv(mn_settings *s, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/.env", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : fail(s, "%s: cannot be read (%s)", path, strerror(errno));
    mn_buf unq;
    mn_buf_init(&unq, NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        mn_str name, value;
        if (mn_dotenv_parse_line((mn_str){line, (size_t)n}, &name, &value, &unq) != 0) {
            rc = fail(s, "%s:%d: expected NAME=value", path, lineno);
            break;
        }
        if (!name.ptr)
            continue;
        char key[128];
        if (name.len >= sizeof key)
            continue;
        memcpy(key, name.ptr, name.len);
        key[name.len] = '\0';
        entry *e = find(s, key);
        /* names we do not know are left for the app to read (as python-dotenv would); a
         * name the environment sets is not even checked here, the environment wins */
        if (e && !getenv(key))
            rc = assign(s, e, value.ptr, MN_SETTING_FROM_DOTENV);
    }
    free(line);
    mn_buf_free(&unq);
    fclose(f);
    return rc;
}

int mn_settings_validate(mn_settings *s)
{
    entry *debug = find(s, "DEBUG"), *key = find(s, "SECRET_KEY");
    if (debug && key && !debug->b && key->raw[0] == '\0')
        return fail(s, "SECRET_KEY: '' is not allowed when DEBUG is off (set SECRET_KEY in the "
                       "environment or .env)");
    return 0;
}

int mn_settings_load(mn_settings *s, const char *project_dir)
{
    s->error[0] = '\0';
    if (project_dir) {
        int rc = load_dotenv(s, project_dir);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < s->count; i++) {
        const char *v = getenv(s->entries[i].def.name);
        if (v) {
            int rc = assign(s, &s->entries[i], v, MN_SETTING_FROM_ENV);
            if (rc != 0)
                return rc;
        }
    }
    return mn_settings_validate(s);
}

/* ---- Reads. ---- */

static const entry *typed(const mn_settings *s, const char *name, mn_setting_type type)
{
    const entry *e = s ? find(s, name) : NULL;
    if (!e)
        return NULL;
    if (e->def.type != type && !(type == MN_SETTING_INT && e->def.type == MN_SETTING_SIZE))
        return NULL;
    return e;
}

bool mn_settings_bool(const mn_settings *s, const char *name)
{
    const entry *e = typed(s, name, MN_SETTING_BOOL);
    return e ? e->b : false;
}

int64_t mn_settings_int(const mn_settings *s, const char *name)
{
    const entry *e = typed(s, name, MN_SETTING_INT);
    return e ? e->i : 0;
}

size_t mn_settings_size(const mn_settings *s, const char *name)
{
    const entry *e = typed(s, name, MN_SETTING_SIZE);
    return e ? (size_t)e->i : 0;
}

const char *mn_settings_str(const mn_settings *s, const char *name)
{
    const entry *e = s ? find(s, name) : NULL;
    return e && e->raw ? e->raw : "";
}

const char *const *mn_settings_list(const mn_settings *s, const char *name, size_t *count)
{
    static const char *const empty[] = {NULL};
    const entry *e = typed(s, name, MN_SETTING_LIST);
    if (!e || !e->items) {
        *count = 0;
        return empty;
    }
    *count = e->item_count;
    return (const char *const *)e->items;
}

const char *mn_settings_raw(const mn_settings *s, const char *name)
{
    const entry *e = find(s, name);
    return e ? e->raw : NULL;
}

mn_setting_source mn_settings_source(const mn_settings *s, const char *name)
{
    const entry *e = find(s, name);
    return e ? e->source : MN_SETTING_FROM_DEFAULT;
}

/* as django.views.debug.SafeExceptionReporterFilter.hidden_settings */
bool mn_settings_is_secret(const mn_settings *s, const char *name)
{
    const entry *e = find(s, name);
    if (e && e->def.secret)
        return true;
    static const char *const marks[] = {"API", "KEY", "PASS", "SECRET", "SIGNATURE", "TOKEN", NULL};
    for (size_t i = 0; marks[i]; i++)
        if (strstr(name, marks[i]))
            return true;
    return false;
}

const char *mn_settings_display(const mn_settings *s, const char *name)
{
    if (mn_settings_is_secret(s, name))
        return "********************";
    const char *raw = mn_settings_raw(s, name);
    if (raw && strcmp(name, "DATABASE_URL") == 0 && strchr(raw, '@'))
        return "********************"; /* the URL holds a password */
    return raw ? raw : "";
}

const mn_setting_def *mn_settings_def_at(const mn_settings *s, size_t i)
{
    return i < s->count ? &s->entries[i].def : NULL;
}

const mn_setting_def *mn_settings_find(const mn_settings *s, const char *name)
{
    const entry *e = find(s, name);
    return e ? &e->def : NULL;
}

/* as django.http.request.HttpRequest.get_host: the DEBUG fallback */
const char *const *mn_settings_allowed_hosts(const mn_settings *s, size_t *count)
{
    const char *const *hosts = mn_settings_list(s, "ALLOWED_HOSTS", count);
    if (*count > 0 || !mn_settings_bool(s, "DEBUG"))
        return hosts;
    static const char *const dev[] = {".localhost", "127.0.0.1", "[::1]", NULL};
    *count = 3;
    return dev;
}

void mn_settings_set_current(const mn_settings *s)
{
    current_settings = s;
}

const mn_settings *mn_settings_current(void)
{
    return current_settings;
}
