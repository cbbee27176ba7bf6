/* manouche/staticfiles.h — static files as django.contrib.staticfiles does them: finders that
 * look through each app's static/ folder and extra directories, the {% static %} tag,
 * collectstatic with hashed names and a manifest (ManifestStaticFilesStorage), and a file
 * server fast enough for production (sendfile, ETag/Last-Modified with 304s, Range, HEAD,
 * precompressed .br/.gz chosen by Accept-Encoding, far-future caching of hashed names).
 *
 *   mn_static *st = mn_static_new("/static/", "/srv/site/staticfiles");
 *   mn_static_add_app_dir(st, "polls", "polls/static");
 *   mn_static_collect(st, &report, &err);     // manage collectstatic
 *   mn_static_load_manifest(st);              // production: {% static %} gives hashed names
 *   mn_static_install_tag(st, engine);        // {% load static %}
 *   // in a route for STATIC_URL: mn_static_serve(r, st, mn_path_str(r, "path"));
 */
#ifndef MANOUCHE_STATICFILES_H
#define MANOUCHE_STATICFILES_H

#include <manouche/core.h>
#include <manouche/http.h>
#include <manouche/template.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_static mn_static;

/* static_url: STATIC_URL ("/static/" or a full "https://cdn.example.com/s/"; a trailing slash
 * is added when missing). static_root: STATIC_ROOT, where collectstatic writes (may be NULL
 * when never collecting). Both are copied. NULL on ENOMEM. */
mn_static *mn_static_new(const char *static_url, const char *static_root);
void mn_static_free(mn_static *st);
/* STATIC_ROOT as given (NULL when unset) and STATIC_URL (always ending with '/'). */
const char *mn_static_root(const mn_static *st);
const char *mn_static_prefix(const mn_static *st);

/* Finders, searched in the order added: STATICFILES_DIRS entries, then apps' static/ folders
 * (the AppDirectoriesFinder order). A missing folder is skipped when searching. */
int mn_static_add_dir(mn_static *st, const char *dir);
int mn_static_add_app_dir(mn_static *st, const char *app, const char *dir);

/* Checks a relative static path ("css/site.css") for traversal: no "..", no absolute path,
 * no backslash, NUL or empty segment ending. 0 or MN_EINVAL. */
int mn_static_check_path(const char *path);

/* Finds path with the finders; writes the absolute file name into out. 0, MN_ENOTFOUND,
 * MN_EINVAL (a hostile path) or MN_ETOOBIG (cap too small). */
int mn_static_find(const mn_static *st, const char *path, char *out, size_t cap);

/* ---- collectstatic ---- */
typedef struct mn_static_report {
    size_t copied;     /* files copied */
    size_t unmodified; /* files whose copy in STATIC_ROOT was already as new as the source */
    size_t hashed;     /* hashed copies written: Django's "post-processed" count */
    size_t rewritten;  /* CSS and JS files whose references were rewritten */
} mn_static_report;

/* Copies every file the finders see into STATIC_ROOT (the first finder holding a path wins,
 * as Django's), then writes a hashed copy of each ("css/site.css" -> "css/site.<12 hex of
 * md5>.css") with CSS url()/@import/sourceMappingURL and JS sourceMappingURL references
 * rewritten to their hashed names (Django's default patterns), and the
 * manifest STATIC_ROOT/staticfiles.json. 0 or a negative code with a message naming the
 * file in err (e.g. a CSS file referring to a file that does not exist). */
int mn_static_collect(mn_static *st, mn_static_report *report, mn_buf *err);

/* Reads STATIC_ROOT/staticfiles.json; from then on mn_static_url() gives hashed names and
 * mn_static_serve() serves from STATIC_ROOT. 0, MN_ENOTFOUND or MN_EINVAL (bad manifest). */
int mn_static_load_manifest(mn_static *st);
/* The hashed name for path from the loaded manifest, or NULL. */
const char *mn_static_hashed_name(const mn_static *st, const char *path);

/* The URL for path as {% static %} writes it: STATIC_URL + path, percent-quoted as Django's
 * filepath_to_uri; once a manifest is loaded, STATIC_URL + the hashed name with any query or
 * fragment kept, unquoted as Django's ManifestStaticFilesStorage returns it. In the arena.
 * NULL with errno ENOENT when a manifest is loaded and has no entry for path (Django's
 * "Missing staticfiles manifest entry"), so a typo fails loudly in production. */
const char *mn_static_url(const mn_static *st, const char *path, mn_arena *arena);

/* Adds the "static" library ({% load static %}: {% static "path" [as var] %} and
 * {% get_static_prefix [as var] %}) to engine. st must outlive the engine. */
int mn_static_install_tag(mn_static *st, mn_template_engine *engine);

/* ---- Serving ---- */
/* Answers r with the static file at path (relative to STATIC_URL, already percent-decoded):
 * from STATIC_ROOT when a manifest is loaded or the file is there, else through the finders
 * (development). GET and HEAD only (405 otherwise); 404 for a missing or hostile path. Sets
 * Content-Type, Content-Length, Last-Modified, ETag, Accept-Ranges, Cache-Control (a year and
 * immutable for hashed names, no-cache otherwise), answers If-None-Match / If-Modified-Since
 * with 304, a single byte Range with 206 (416 when unsatisfiable), and picks path.br or
 * path.gz when the client accepts them (Vary: Accept-Encoding). The body goes by sendfile. */
void mn_static_serve(mn_req *r, const mn_static *st, const char *path);

/* The MIME type for a file name by its extension ("text/css; charset=utf-8" for .css),
 * "application/octet-stream" when unknown. */
const char *mn_static_content_type(const char *filename);

#ifdef __cplusplus
}
#endif
#endif
