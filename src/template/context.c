/* context.c — Django's Context: a stack of frames searched from the top, with True, False
 * and None as the bottom-most built-ins. Frames are small arrays in the render arena;
 * lookups compare lengths first, which is all a template's dozen names need. */
#include "template/internal.h"

#include <string.h>

mn_context *mn_context_new(mn_arena *arena)
{
    mn_context *c = mn_arena_calloc(arena, 1, sizeof *c);
    if (!c)
        return NULL;
    c->arena = arena;
    c->autoescape = true;
    c->cap_frames = 8;
    c->frames = mn_arena_calloc(arena, (size_t)c->cap_frames, sizeof *c->frames);
    if (!c->frames)
        return NULL;
    c->nframes = 1;
    return c;
}

mn_context *mn__context_new_like(const mn_context *c)
{
    mn_context *n = mn_context_new(c->arena);
    if (n)
        n->autoescape = c->autoescape;
    return n;
}

mn_arena *mn_context_arena(const mn_context *c)
{
    return c->arena;
}
void mn_context_set_autoescape(mn_context *c, bool on)
{
    c->autoescape = on;
}

int mn__context_set_ref(mn_context *c, mn_str name, mn_value *v)
{
    ctx_frame *f = &c->frames[c->nframes - 1];
    if (!v)
        v = mn_value_none();
    for (int i = 0; i < f->n; i++) {
        if (f->vars[i].name.len == name.len &&
            mn__name_eq(f->vars[i].name.ptr, name.ptr, name.len)) {
            f->vars[i].value = v;
            return MN_OK;
        }
    }
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 8;
        ctx_var *g = mn_arena_realloc(c->arena, f->vars, (size_t)f->cap * sizeof *g,
                                      (size_t)cap * sizeof *g);
        if (!g)
            return MN_ENOMEM;
        f->vars = g;
        f->cap = cap;
    }
    f->vars[f->n++] = (ctx_var){name, v};
    return MN_OK;
}

int mn_context_set(mn_context *c, const char *name, mn_value *v)
{
    size_t len = strlen(name);
    char *copy = mn_arena_strndup(c->arena, name, len);
    if (!copy)
        return MN_ENOMEM;
    return mn__context_set_ref(c, (mn_str){copy, len}, v);
}

int mn_context_update(mn_context *c, const mn_value *dict)
{
    if (!dict || dict->kind != MN_VALUE_DICT)
        return MN_EINVAL;
    for (size_t i = 0; i < dict->u.dict.len; i++) {
        int rc = mn__context_set_ref(c, dict->u.dict.entries[i].key, dict->u.dict.entries[i].value);
        if (rc < 0)
            return rc;
    }
    return MN_OK;
}

mn_value *mn__context_builtin(mn_str name)
{
    if (mn_str_eq_cstr(name, "True"))
        return mn_value_true();
    if (mn_str_eq_cstr(name, "False"))
        return mn_value_false();
    if (mn_str_eq_cstr(name, "None"))
        return mn_value_none();
    return NULL;
}

mn_value *mn_context_get(const mn_context *c, const char *name, size_t len)
{
    return mn__context_lookup(c, (mn_str){name, len});
}

int mn_context_push(mn_context *c)
{
    if (c->nframes == c->cap_frames) {
        int cap = c->cap_frames * 2;
        ctx_frame *g = mn_arena_realloc(c->arena, c->frames, (size_t)c->cap_frames * sizeof *g,
                                        (size_t)cap * sizeof *g);
        if (!g)
            return MN_ENOMEM;
        memset(g + c->cap_frames, 0, (size_t)(cap - c->cap_frames) * sizeof *g);
        c->frames = g;
        c->cap_frames = cap;
    }
    /* a popped frame's array is reused: keep its memory, forget its names */
    c->frames[c->nframes].n = 0;
    c->nframes++;
    return MN_OK;
}

void mn_context_pop(mn_context *c)
{
    if (c->nframes > 1)
        c->nframes--;
}
