/* static_internal.h — what the static-files sources (static_*.c) share. */
#ifndef MN_WEB_STATIC_INTERNAL_H
#define MN_WEB_STATIC_INTERNAL_H

#include <manouche/staticfiles.h>

#define MN__STATIC_MANIFEST "staticfiles.json"

typedef struct mn__static_entry {
    char *name;   /* "css/site.css" */
    char *hashed; /* "css/site.5af66c1b1797.css" */
} mn__static_entry;

struct mn_static {
    char *url;   /* STATIC_URL, ends with '/' */
    char *root;  /* STATIC_ROOT or NULL */
    char **dirs; /* finder folders, in search order */
    size_t ndirs;
    mn__static_entry *manifest; /* sorted by name */
    size_t manifest_len;
    bool manifest_loaded;
};

/* dir + "/" + path into out; MN_ETOOBIG when it does not fit. */
int mn__static_join(char *out, size_t cap, const char *dir, const char *path);
/* Takes ownership of entries (mn_malloc'd, strings too). */
int mn__static_set_manifest(mn_static *st, mn__static_entry *entries, size_t n);
bool mn__static_is_hashed_name(const mn_static *st, const char *name);
const char *mn__static_url_prefix(const mn_static *st);

#endif
