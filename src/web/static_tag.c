/* static_tag.c — the "static" template library: {% static "path" [as var] %} and
 * {% get_static_prefix [as var] %}, as django.templatetags.static. */
#include "web/static_internal.h"

#include <errno.h>
#include <string.h>

static mn_value *static_tag(const mn_tag_call *call)
{
    const mn_static *st = call->userdata;
    mn_str path;
    if (mn_value_to_text(call->argv[0], call->arena, &path) < 0) {
        mn_tag_fail(call, "static: the path is not a string");
        return NULL;
    }
    char *cpath = mn_arena_strndup(call->arena, path.ptr, path.len);
    if (!cpath)
        return NULL;
    errno = 0;
    const char *url = mn_static_url(st, cpath, call->arena);
    if (!url) {
        if (errno == ENOENT)
            mn_tag_fail(call, "Missing staticfiles manifest entry for '%s'", cpath);
        else
            mn_tag_fail(call, "static: out of memory");
        return NULL;
    }
    /* Not marked safe: the engine escapes it under autoescape, as Django's StaticNode. */
    return mn_value_cstr(call->arena, url);
}

static mn_value *prefix_tag(const mn_tag_call *call)
{
    const mn_static *st = call->userdata;
    const char *prefix = mn__static_url_prefix(st);
    return mn_value_safe(call->arena, prefix, strlen(prefix));
}

int mn_static_install_tag(mn_static *st, mn_template_engine *engine)
{
    mn_template_library *lib = mn_template_engine_library(engine, "static");
    if (!lib)
        return MN_ENOMEM;
    int rc = mn_template_library_add_simple_tag(lib, "static", static_tag, 1, 1, st);
    if (rc == MN_OK)
        rc = mn_template_library_add_simple_tag(lib, "get_static_prefix", prefix_tag, 0, 0, st);
    return rc;
}
