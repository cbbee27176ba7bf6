/* engine.c — the template engine: options, loaders (DIRS, app templates/ folders, templates
 * embedded in the binary), the cached loader (compile once; in debug, recompile a file whose
 * mtime changed), libraries of filters and tags, and compiling a source into a template.
 *
 * Templates are never freed while the engine lives (a reloaded one is kept until the engine is
 * freed), so a render parked in a query never finds its nodes gone. */
#include "template/filters.h"
#include "template/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- Libraries. ---- */

static mn_template_library *library_new(const char *name)
{
    mn_template_library *lib = mn_calloc(1, sizeof *lib);
    if (!lib)
        return NULL;
    lib->name = mn_strdup(name);
    if (!lib->name) {
        mn_free(lib);
        return NULL;
    }
    return lib;
}

static void library_free(mn_template_library *lib)
{
    for (size_t i = 0; i < lib->nfilters; i++)
        mn_free((char *)lib->filters[i].name);
    for (size_t i = 0; i < lib->ntags; i++) {
        mn_free((char *)lib->tags[i].name);
        mn_free((char *)lib->tags[i].template_name);
    }
    mn_free(lib->filters);
    mn_free(lib->tags);
    mn_free(lib->name);
    mn_free(lib);
}

mn_template_library *mn_template_engine_library(mn_template_engine *e, const char *name)
{
    if (!name)
        name = "";
    mn_template_library **pp = &e->libraries;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0)
            return *pp;
    *pp = library_new(name);
    return *pp;
}

static bool valid_name(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

/* A library's filters and tags are arrays of structs whose first member is the name, unique
 * in the library (adding a name again replaces its entry). The index of name among the n
 * entries of `size` bytes, or -1. */
static ptrdiff_t find_named(const void *entries, size_t n, size_t size, mn_str name)
{
    _Static_assert(offsetof(filter_def, name) == 0 && offsetof(tag_def, name) == 0,
                   "find_named reads the name as the first member");
    for (size_t i = n; i-- > 0;)
        if (mn_str_eq_cstr(name, *(const char *const *)((const char *)entries + i * size)))
            return (ptrdiff_t)i;
    return -1;
}

const filter_def *mn__library_filter(const mn_template_library *lib, mn_str name)
{
    ptrdiff_t i = find_named(lib->filters, lib->nfilters, sizeof *lib->filters, name);
    return i < 0 ? NULL : &lib->filters[i];
}

int mn__library_set_filter_writer(mn_template_library *lib, const char *name, filter_write_fn w)
{
    ptrdiff_t i = find_named(lib->filters, lib->nfilters, sizeof *lib->filters, mn_str_from(name));
    if (i < 0)
        return MN_ENOTFOUND;
    lib->filters[i].write = w;
    return MN_OK;
}

const tag_def *mn__library_tag(const mn_template_library *lib, mn_str name)
{
    ptrdiff_t i = find_named(lib->tags, lib->ntags, sizeof *lib->tags, name);
    return i < 0 ? NULL : &lib->tags[i];
}

/* Room for one more of n items of `size` bytes in a heap array that doubles from `first`:
 * the (maybe moved) array, *cap updated; NULL on ENOMEM with the array unchanged. */
static void *grow(void *items, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap)
        return items;
    size_t c = *cap ? *cap * 2 : first;
    void *g = mn_realloc(items, c * size);
    if (g)
        *cap = c;
    return g;
}

int mn_template_library_add_filter(mn_template_library *lib, const char *name, mn_filter_fn fn,
                                   unsigned flags)
{
    if (!lib || !fn || !valid_name(name))
        return MN_EINVAL;
    ptrdiff_t i = find_named(lib->filters, lib->nfilters, sizeof *lib->filters, mn_str_from(name));
    if (i >= 0) {
        lib->filters[i].fn = fn;
        lib->filters[i].flags = flags;
        lib->filters[i].write = NULL; /* the built-in's writer is not the new fn's */
        return MN_OK;
    }
    filter_def *g = grow(lib->filters, &lib->cap_filters, lib->nfilters, sizeof *g, 64);
    if (!g)
        return MN_ENOMEM;
    lib->filters = g;
    char *copy = mn_strdup(name);
    if (!copy)
        return MN_ENOMEM;
    lib->filters[lib->nfilters++] = (filter_def){copy, fn, flags, NULL};
    return MN_OK;
}

/* The entry of tag `name` in lib, new or replacing (cleared) the one of that name, with its
 * kind and userdata set: 0, MN_EINVAL for a bad name, or MN_ENOMEM. */
static int add_tag(mn_template_library *lib, const char *name, tag_kind kind, void *userdata,
                   tag_def **out)
{
    if (!lib || !valid_name(name))
        return MN_EINVAL;
    tag_def *t;
    ptrdiff_t i = find_named(lib->tags, lib->ntags, sizeof *lib->tags, mn_str_from(name));
    if (i >= 0) {
        t = &lib->tags[i];
        mn_free((char *)t->template_name);
        const char *keep = t->name;
        memset(t, 0, sizeof *t);
        t->name = keep;
    } else {
        tag_def *g = grow(lib->tags, &lib->cap_tags, lib->ntags, sizeof *g, 32);
        if (!g)
            return MN_ENOMEM;
        lib->tags = g;
        char *copy = mn_strdup(name);
        if (!copy)
            return MN_ENOMEM;
        t = &lib->tags[lib->ntags++];
        memset(t, 0, sizeof *t);
        t->name = copy;
    }
    t->kind = kind;
    t->userdata = userdata;
    *out = t;
    return MN_OK;
}

int mn__library_add_builtin_tag(mn_template_library *lib, const char *name, builtin_compile_fn fn)
{
    tag_def *t;
    int rc = add_tag(lib, name, TAG_BUILTIN, NULL, &t);
    if (rc == MN_OK)
        t->builtin = fn;
    return rc;
}

int mn_template_library_add_simple_tag(mn_template_library *lib, const char *name,
                                       mn_simple_tag_fn fn, int min_args, int max_args,
                                       void *userdata)
{
    tag_def *t;
    int rc = fn ? add_tag(lib, name, TAG_SIMPLE, userdata, &t) : MN_EINVAL;
    if (rc < 0)
        return rc;
    t->simple = fn;
    t->min_args = min_args;
    t->max_args = max_args;
    return MN_OK;
}

int mn_template_library_add_inclusion_tag(mn_template_library *lib, const char *name,
                                          mn_inclusion_tag_fn fn, const char *template_name,
                                          int min_args, int max_args, void *userdata)
{
    tag_def *t;
    int rc = fn && template_name ? add_tag(lib, name, TAG_INCLUSION, userdata, &t) : MN_EINVAL;
    if (rc < 0)
        return rc;
    t->inclusion = fn;
    t->template_name = mn_strdup(template_name);
    t->min_args = min_args;
    t->max_args = max_args;
    return t->template_name ? MN_OK : MN_ENOMEM;
}

int mn_template_library_add_tag(mn_template_library *lib, const char *name,
                                mn_tag_compile_fn compile, mn_tag_render_fn render, void *userdata)
{
    tag_def *t;
    int rc = compile && render ? add_tag(lib, name, TAG_CUSTOM, userdata, &t) : MN_EINVAL;
    if (rc < 0)
        return rc;
    t->compile = compile;
    t->render = render;
    return MN_OK;
}

/* ---- Engine. ---- */

mn_template_engine *mn_template_engine_new(void)
{
    mn_template_engine *e = mn_calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->options.autoescape = true;
    e->options.string_if_invalid = "";
    e->options.time_zone_name = "UTC";
    mn_template_library *builtins = mn_template_engine_library(e, "");
    if (!builtins) {
        mn_free(e);
        return NULL;
    }
    mn__register_builtin_tags(builtins);
    mn__template_register_builtin_filters(builtins);
    return e;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mn_free(v[i]);
    mn_free(v);
}

void mn_template_engine_free(mn_template_engine *e)
{
    if (!e)
        return;
    while (e->templates) {
        mn_template *t = e->templates;
        e->templates = t->next;
        mn_arena_free(t->arena);
        mn_free(t->name);
        mn_free(t->origin);
        mn_free(t);
    }
    for (size_t i = 0; i < e->ncache; i++)
        mn_free(e->cache[i].name);
    mn_free(e->cache);
    while (e->libraries) {
        mn_template_library *l = e->libraries;
        e->libraries = l->next;
        library_free(l);
    }
    free_strv(e->dirs, e->ndirs);
    free_strv(e->app_dirs, e->napp_dirs);
    mn_free(e->embedded);
    mn_free(e);
}

mn_template_options *mn_template_engine_options(mn_template_engine *e)
{
    return &e->options;
}

static int push_str(char ***v, size_t *n, const char *s)
{
    char **g = mn_realloc(*v, (*n + 1) * sizeof *g);
    if (!g)
        return MN_ENOMEM;
    *v = g;
    g[*n] = mn_strdup(s);
    if (!g[*n])
        return MN_ENOMEM;
    (*n)++;
    return MN_OK;
}

int mn_template_engine_add_dir(mn_template_engine *e, const char *dir)
{
    return dir ? push_str(&e->dirs, &e->ndirs, dir) : MN_EINVAL;
}

int mn_template_engine_add_app_dir(mn_template_engine *e, const char *app, const char *dir)
{
    (void)app;
    return dir ? push_str(&e->app_dirs, &e->napp_dirs, dir) : MN_EINVAL;
}

int mn_template_engine_add_embedded(mn_template_engine *e, const char *name, const char *source,
                                    size_t len)
{
    if (!name || !source)
        return MN_EINVAL;
    embedded_tpl *g = grow(e->embedded, &e->cap_embedded, e->nembedded, sizeof *g, 16);
    if (!g)
        return MN_ENOMEM;
    e->embedded = g;
    e->embedded[e->nembedded++] = (embedded_tpl){name, source, len};
    return MN_OK;
}

int mn_template_engine_add_embedded_table(mn_template_engine *e, const mn_template_embedded *t)
{
    for (; t && t->name; t++) {
        int rc = mn_template_engine_add_embedded(e, t->name, t->source, strlen(t->source));
        if (rc < 0)
            return rc;
    }
    return MN_OK;
}

void mn_template_engine_set_reverse(mn_template_engine *e, mn_template_reverse_fn fn,
                                    void *userdata)
{
    e->reverse = fn;
    e->reverse_userdata = userdata;
}

/* ---- Compiling. ---- */

static void set_error(mn_template_error *err, int code, const char *tpl, const char *fmt, ...)
    MN_PRINTF(4, 5);
static void set_error(mn_template_error *err, int code, const char *tpl, const char *fmt, ...)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->code = code;
    snprintf(err->template_name, sizeof err->template_name, "%s", tpl ? tpl : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static void link_template(mn_template_engine *e, mn_template *t)
{
    t->engine = e;
    t->next = e->templates;
    e->templates = t;
}

static void destroy(mn_template *t)
{
    mn_arena_free(t->arena);
    mn_free(t->name);
    mn_free(t->origin);
    mn_free(t);
}

static mn_template *compile(mn_template_engine *e, const char *name, const char *source, size_t len,
                            bool copy, mn_template_error *err)
{
    mn_template_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    mn_template *t = mn_calloc(1, sizeof *t);
    if (!t)
        goto oom;
    t->engine = e;
    t->name = mn_strdup(name ? name : "<string>");
    t->arena = mn_arena_new(len + 4096);
    if (!t->name || !t->arena)
        goto oom;
    if (copy) {
        char *s = mn_arena_alloc(t->arena, len + 1);
        if (!s)
            goto oom;
        memcpy(s, source, len);
        s[len] = 0;
        source = s;
    }
    t->source = source;
    t->source_len = len;
    parser p;
    memset(&p, 0, sizeof p);
    p.tpl = t;
    p.engine = e;
    p.arena = t->arena;
    p.err = err;
    p.ntokens = mn__template_tokenize(t->arena, source, len, &p.tokens);
    if (p.ntokens < 0)
        goto oom;
    p.cap_libs = 8;
    p.libs = mn_arena_alloc(t->arena, (size_t)p.cap_libs * sizeof *p.libs);
    if (!p.libs)
        goto oom;
    p.libs[p.nlibs++] = e->libraries; /* the built-ins come first */
    int rc = mn__parse_nodelist(&p, NULL, &t->root, NULL);
    if (rc == 0) {
        for (int i = 0; i < p.npartial_refs; i++) {
            node *ref = p.partial_refs[i];
            for (int k = 0; k < t->npartials; k++)
                if (mn_str_eq(t->partials[k].name, ref->u.partial.name))
                    ref->u.partial.def = t->partials[k].n;
            if (!ref->u.partial.def) {
                /* the tag's token again, from its line and column, for the source line */
                token at = {.line = ref->line};
                for (int l = 1; l < ref->line && at.offset < t->source_len; at.offset++)
                    if (t->source[at.offset] == '\n')
                        l++;
                at.offset += (size_t)(ref->column - 1);
                p.cur = NULL;
                mn__parser_error(&p, &at, "Partial '%.*s' is not defined in the current template.",
                                 (int)ref->u.partial.name.len, ref->u.partial.name.ptr);
                rc = MN_EINVAL;
                break;
            }
        }
    }
    if (rc < 0) {
        if (rc == MN_ENOMEM && !err->code)
            goto oom;
        destroy(t);
        return NULL;
    }
    for (int i = 0; i < t->root.n; i++)
        if (t->root.items[i]->type == N_EXTENDS)
            t->extends = t->root.items[i];
    link_template(e, t);
    return t;
oom:
    set_error(err, MN_ENOMEM, name, "out of memory compiling the template");
    if (t)
        destroy(t);
    return NULL;
}

mn_template *mn_template_compile(mn_template_engine *e, const char *name, const char *source,
                                 size_t len, mn_template_error *err)
{
    return compile(e, name, source, len, true, err);
}

void mn_template_free(mn_template *t)
{
    if (!t)
        return;
    mn_template_engine *e = t->engine;
    for (mn_template **pp = &e->templates; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    for (size_t i = 0; i < e->ncache; i++)
        if (e->cache[i].tpl == t)
            e->cache[i].tpl = NULL;
    destroy(t);
}

const char *mn_template_name(const mn_template *t)
{
    return t ? t->name : NULL;
}

/* ---- Loading. ---- */

static bool safe_name(const char *name)
{
    if (!name[0] || name[0] == '/')
        return false;
    const char *p = name;
    while (*p) {
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        if (p - seg == 2 && seg[0] == '.' && seg[1] == '.')
            return false;
        if (*p)
            p++;
    }
    return true;
}

static char *read_file(const char *path, size_t *len, struct stat *stamp)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return NULL;
    }
    char *buf = mn_malloc((size_t)st.st_size + 1);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    buf[n] = 0;
    *len = n;
    *stamp = st;
    return buf;
}

static cache_entry *cache_find(mn_template_engine *e, const char *name, size_t len)
{
    for (size_t i = 0; i < e->ncache; i++)
        if (strlen(e->cache[i].name) == len && memcmp(e->cache[i].name, name, len) == 0)
            return &e->cache[i];
    return NULL;
}

static cache_entry *cache_put(mn_template_engine *e, const char *name, size_t len)
{
    cache_entry *c = cache_find(e, name, len);
    if (c)
        return c;
    cache_entry *g = grow(e->cache, &e->cap_cache, e->ncache, sizeof *g, 32);
    if (!g)
        return NULL;
    e->cache = g;
    c = &e->cache[e->ncache];
    c->name = mn_malloc(len + 1);
    if (!c->name)
        return NULL;
    memcpy(c->name, name, len);
    c->name[len] = 0;
    c->tpl = NULL;
    e->ncache++;
    return c;
}

static bool stale(const mn_template *t)
{
    if (!t->origin)
        return false;
    /* Nanoseconds and size too: an editor saving twice within one second is still seen. */
    struct stat st;
    return stat(t->origin, &st) != 0 || st.st_mtim.tv_sec != t->mtime.tv_sec ||
           st.st_mtim.tv_nsec != t->mtime.tv_nsec || st.st_size != t->size;
}

static mn_template *load_whole(mn_template_engine *e, const char *name, mn_template_error *err)
{
    size_t nlen = strlen(name);
    cache_entry *c = cache_find(e, name, nlen);
    if (c && c->tpl && !(e->options.debug && stale(c->tpl)))
        return c->tpl;
    if (safe_name(name)) {
        char **lists[2] = {e->dirs, e->app_dirs};
        size_t counts[2] = {e->ndirs, e->napp_dirs};
        for (int l = 0; l < 2; l++) {
            for (size_t i = 0; i < counts[l]; i++) {
                char path[4096];
                int n = snprintf(path, sizeof path, "%s/%s", lists[l][i], name);
                if (n < 0 || (size_t)n >= sizeof path)
                    continue;
                size_t len;
                struct stat stamp;
                char *src = read_file(path, &len, &stamp);
                if (!src)
                    continue;
                mn_template *t = compile(e, name, src, len, true, err);
                mn_free(src);
                if (!t)
                    return NULL;
                t->origin = mn_strdup(path);
                t->mtime = stamp.st_mtim;
                t->size = stamp.st_size;
                c = cache_put(e, name, nlen);
                if (c)
                    c->tpl = t;
                return t;
            }
        }
    }
    for (size_t i = 0; i < e->nembedded; i++) {
        if (strcmp(e->embedded[i].name, name) == 0) {
            mn_template *t =
                compile(e, name, e->embedded[i].source, e->embedded[i].len, false, err);
            if (!t)
                return NULL;
            c = cache_put(e, name, nlen);
            if (c)
                c->tpl = t;
            return t;
        }
    }
    set_error(err, MN_ENOTFOUND, name, "TemplateDoesNotExist: %s", name);
    return NULL;
}

mn_template *mn__engine_load(mn_template_engine *e, const char *name, size_t len,
                             mn_template_error *err)
{
    char buf[1024];
    if (len >= sizeof buf) {
        set_error(err, MN_ENOTFOUND, "", "TemplateDoesNotExist: name too long");
        return NULL;
    }
    memcpy(buf, name, len);
    buf[len] = 0;
    char *hash = strchr(buf, '#');
    if (!hash)
        return load_whole(e, buf, err);
    *hash = 0;
    mn_template *whole = load_whole(e, buf, err);
    if (!whole)
        return NULL;
    *hash = '#';
    cache_entry *c = cache_find(e, buf, len);
    if (c && c->tpl && c->tpl->partial_root) {
        /* still valid when the whole template is the current one */
        for (int i = 0; i < whole->npartials; i++)
            if (whole->partials[i].n == c->tpl->partial_root)
                return c->tpl;
    }
    const char *part = hash + 1;
    for (int i = 0; i < whole->npartials; i++) {
        if (mn_str_eq_cstr(whole->partials[i].name, part)) {
            mn_template *t = mn_calloc(1, sizeof *t);
            if (!t || !(t->name = mn_strdup(buf))) {
                mn_free(t);
                set_error(err, MN_ENOMEM, buf, "out of memory");
                return NULL;
            }
            t->source = whole->source;
            t->source_len = whole->source_len;
            t->partial_root = whole->partials[i].n;
            t->root = whole->partials[i].n->u.partialdef.body;
            link_template(e, t);
            c = cache_put(e, buf, len);
            if (c)
                c->tpl = t;
            return t;
        }
    }
    set_error(err, MN_ENOTFOUND, buf, "TemplateDoesNotExist: %s (partial '%s' is not defined)", buf,
              part);
    return NULL;
}

mn_template *mn_template_engine_get(mn_template_engine *e, const char *name, mn_template_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!name) {
        set_error(err, MN_EINVAL, "", "no template name");
        return NULL;
    }
    return mn__engine_load(e, name, strlen(name), err);
}

/* ---- Errors and escaping. ---- */

/* The exception a message names itself with ("NoReverseMatch: ...", "TemplateDoesNotExist:
 * x"): a CamelCase word ending as Django's exception names do, then ": ". Its length, or 0. */
static size_t message_label(const char *m)
{
    static const char *const ends[] = {"Error", "DoesNotExist", "Match", "Exception"};
    size_t n = 0;
    if (m[0] < 'A' || m[0] > 'Z')
        return 0;
    while ((m[n] >= 'A' && m[n] <= 'Z') || (m[n] >= 'a' && m[n] <= 'z'))
        n++;
    if (m[n] != ':' || m[n + 1] != ' ')
        return 0;
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t k = strlen(ends[i]);
        if (n > k && memcmp(m + n - k, ends[i], k) == 0)
            return n;
    }
    return 0;
}

/* "Kind: where: message" for every error, where = name:line:column of the tag at fault. A
 * template that is missing on its own has no place (Django: "TemplateDoesNotExist: name"). */
int mn_template_error_format(const mn_template_error *err, mn_buf *out)
{
    const char *msg = err->message;
    size_t label = message_label(msg);
    const char *kind = err->code == MN_ENOTFOUND ? "TemplateDoesNotExist"
                       : err->code == MN_EINVAL  ? "TemplateSyntaxError"
                                                 : "TemplateError";
    int klen = (int)strlen(kind);
    if (label) {
        kind = msg;
        klen = (int)label;
        msg += label + 2;
    }
    int rc;
    if (err->line > 0)
        rc = mn_buf_printf(out, "%.*s: %s:%d:%d: %s\n", klen, kind, err->template_name, err->line,
                           err->column, msg);
    else if (err->code != MN_ENOTFOUND && err->template_name[0])
        rc = mn_buf_printf(out, "%.*s: %s: %s\n", klen, kind, err->template_name, msg);
    else
        rc = mn_buf_printf(out, "%.*s: %s\n", klen, kind, msg);
    if (!rc && err->line > 0 && err->source_line[0]) {
        rc = mn_buf_printf(out, "%5d | %s\n      | %*s^\n", err->line, err->source_line,
                           err->column > 1 ? err->column - 1 : 0, "");
    }
    return rc;
}

const unsigned char mn__escape_extra[256] = {
    ['&'] = 4, ['<'] = 3, ['>'] = 3, ['"'] = 5, ['\''] = 5};

/* Two passes: measure, reserve once, then write in place (no append call per run). */
int mn_template_escape(mn_buf *out, const char *s, size_t len)
{
    if (len <= 256) {
        /* short texts in one pass, room for the worst case: each word is stored as it is and
         * moved on unless it holds a byte to escape, then it is redone byte by byte */
        if (out->cap - out->len <= 6 * len && mn_buf_reserve(out, 6 * len) < 0)
            return MN_ENOMEM;
        char *o = out->data + out->len;
        size_t i = 0;
        for (; i + 8 <= len; i += 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            memcpy(o, &w, 8);
            if (!mn__has_escapable(w)) {
                o += 8;
                continue;
            }
            for (size_t k = 0; k < 8; k++)
                o = mn__escape_put(o, s[i + k]);
        }
        for (; i < len; i++)
            o = mn__escape_put(o, s[i]);
        out->len = (size_t)(o - out->data);
        return MN_OK;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t extra = 0;
    for (size_t i = 0; i < len; i++)
        extra += mn__escape_extra[u[i]];
    /* room is nearly always there already: skip the call (mn_buf_reserve keeps one spare byte) */
    if (out->cap - out->len <= len + extra && mn_buf_reserve(out, len + extra) < 0)
        return MN_ENOMEM;
    char *o = out->data + out->len;
    if (!extra) {
        if (len)
            memcpy(o, s, len);
        out->len += len;
        return MN_OK;
    }
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&': memcpy(o, "&amp;", 5), o += 5; break;
        case '<': memcpy(o, "&lt;", 4), o += 4; break;
        case '>': memcpy(o, "&gt;", 4), o += 4; break;
        case '"': memcpy(o, "&quot;", 6), o += 6; break;
        case '\'': memcpy(o, "&#x27;", 6), o += 6; break;
        default: *o++ = s[i];
        }
    }
    out->len = (size_t)(o - out->data);
    return MN_OK;
}

/* Keeps the message a filter or tag callback fails with for the render to report. */
static MN_PRINTF(2, 0) void keep_call_error(mn_template_state *r, const char *fmt, va_list ap)
{
    if (r)
        vsnprintf(r->filter_error, sizeof r->filter_error, fmt, ap);
}

void mn_filter_fail(const mn_filter_call *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    keep_call_error(call ? call->render : NULL, fmt, ap);
    va_end(ap);
}

void mn_tag_fail(const mn_tag_call *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    keep_call_error(call ? call->render : NULL, fmt, ap);
    va_end(ap);
}
