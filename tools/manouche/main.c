/* main.c — the `manouche` command. `manouche render TEMPLATE --context FILE.json --dir DIR`
 * renders a Django template with a JSON context, for trying templates quickly and for the
 * conformance tests; `manouche startproject NAME` and `manouche startapp NAME` make a new
 * project and app (scaffold.c). */
#include "commands.h"

#include <manouche/staticfiles.h>
#include <manouche/template.h>
#include <manouche/value.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: manouche <command> [options]\n"
    "\n"
    "commands:\n"
    "  startproject NAME [DIRECTORY]\n"
    "      Creates a project: main.c (the binary is its management CLI), CMakeLists.txt that\n"
    "      builds against the installed library, .env with a fresh SECRET_KEY, templates/,\n"
    "      static/.\n"
    "  startapp NAME [DIRECTORY]\n"
    "      Creates an app in a project: views.c, urls.c, app.c, templates/NAME/, static/NAME/.\n"
    "  render TEMPLATE [--context FILE.json] [--dir DIR ...] [--string-if-invalid TEXT]\n"
    "         [--autoescape on|off] [--debug] [--repeat N]\n"
    "      Renders a Django template and prints the result to stdout. TEMPLATE is a name found\n"
    "      in a --dir (for {% extends %}/{% include %} to work), or a file path, or - for\n"
    "      standard input. The context is a JSON object ({\"__date__\": \"2024-01-02\"},\n"
    "      {\"__datetime__\": ...}, {\"__time__\": ...}, {\"__decimal__\": \"1.50\"} and\n"
    "      {\"__safe__\": \"<b>\"} make dates, decimals and safe strings). On a template\n"
    "      error the error (template, line, column, source line) goes to stderr and the\n"
    "      exit status is 1. {% load static %} is available; {% static %} URLs start with\n"
    "      $STATIC_URL (default /static/). --debug renders as under DEBUG = True: {% debug %}\n"
    "      prints the context (without it, nothing, as in Django).\n"
    "\n"
    "options:\n"
    "  -h, --help   show this help\n";

static char *slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
        if (n + 1 == cap) {
            char *g = realloc(buf, cap * 2);
            if (!g) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = g;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf) {
        buf[n] = 0;
        *len = n;
    }
    return buf;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int render_command(int argc, char **argv)
{
    const char *tpl_arg = NULL, *ctx_path = NULL, *sii = NULL;
    const char *dirs[64];
    int ndirs = 0;
    long repeat = 1;
    bool autoescape = true, debug = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        bool needs = !strcmp(a, "--context") || !strcmp(a, "--dir") ||
                     !strcmp(a, "--string-if-invalid") || !strcmp(a, "--autoescape") ||
                     !strcmp(a, "--repeat");
        if (needs && i + 1 >= argc) {
            fprintf(stderr, "manouche render: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--context"))
            ctx_path = argv[++i];
        else if (!strcmp(a, "--dir")) {
            if (ndirs == 64) {
                fprintf(stderr, "manouche render: too many --dir options (64 at most)\n");
                return 2;
            }
            dirs[ndirs++] = argv[++i];
        } else if (!strcmp(a, "--string-if-invalid"))
            sii = argv[++i];
        else if (!strcmp(a, "--autoescape"))
            autoescape = strcmp(argv[++i], "off") != 0;
        else if (!strcmp(a, "--debug"))
            debug = true;
        else if (!strcmp(a, "--repeat"))
            repeat = strtol(argv[++i], NULL, 10);
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "manouche render: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!tpl_arg)
            tpl_arg = a;
        else {
            fprintf(stderr, "manouche render: unexpected argument '%s' (one TEMPLATE only)\n", a);
            return 2;
        }
    }
    if (!tpl_arg) {
        fprintf(stderr, "manouche render: missing TEMPLATE (see --help)\n");
        return 2;
    }
    if (repeat < 1)
        repeat = 1;
    int status = 1;
    mn_arena *arena = mn_arena_new(1 << 16);      /* one render's memory, reset each repeat */
    mn_arena *data_arena = mn_arena_new(1 << 16); /* the context values, kept */
    mn_template_engine *e = mn_template_engine_new();
    /* {% load static %} works as in a project without a manifest: STATIC_URL + the path. */
    const char *static_url = getenv("STATIC_URL");
    mn_static *st = mn_static_new(static_url && *static_url ? static_url : "/static/", NULL);
    if (!arena || !data_arena || !e || !st || mn_static_install_tag(st, e) < 0) {
        fprintf(stderr, "manouche render: out of memory\n");
        goto done;
    }
    mn_template_options *opt = mn_template_engine_options(e);
    if (sii)
        opt->string_if_invalid = sii;
    opt->autoescape = autoescape;
    opt->debug = debug;
    for (int i = 0; i < ndirs; i++)
        mn_template_engine_add_dir(e, dirs[i]);

    mn_value *ctx_value = NULL;
    if (ctx_path) {
        size_t len;
        char *json = slurp(ctx_path, &len);
        if (!json) {
            fprintf(stderr, "manouche render: cannot read context file '%s': %s\n", ctx_path,
                    strerror(errno));
            goto done;
        }
        char msg[256];
        ctx_value = mn_value_from_json(data_arena, json, len, msg, sizeof msg);
        free(json);
        if (!ctx_value) {
            fprintf(stderr, "manouche render: context file '%s': %s\n", ctx_path, msg);
            goto done;
        }
        if (ctx_value->kind != MN_VALUE_DICT) {
            fprintf(stderr, "manouche render: context file '%s' must hold a JSON object\n",
                    ctx_path);
            goto done;
        }
    }

    mn_template_error err;
    mn_template *t = NULL;
    bool in_dirs = false;
    for (int i = 0; i < ndirs && !in_dirs; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dirs[i], tpl_arg);
        in_dirs = is_file(path);
    }
    if (in_dirs) {
        t = mn_template_engine_get(e, tpl_arg, &err);
    } else if (strcmp(tpl_arg, "-") == 0 || is_file(tpl_arg)) {
        size_t len;
        char *src = slurp(tpl_arg, &len);
        if (!src) {
            fprintf(stderr, "manouche render: cannot read template '%s': %s\n", tpl_arg,
                    strerror(errno));
            goto done;
        }
        /* siblings of the file are found by {% include %} and {% extends %} too */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", tpl_arg);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            mn_template_engine_add_dir(e, dir);
        } else if (strcmp(tpl_arg, "-") != 0) {
            mn_template_engine_add_dir(e, ".");
        }
        t = mn_template_compile(e, tpl_arg, src, len, &err);
        free(src);
    } else {
        t = mn_template_engine_get(e, tpl_arg, &err);
    }
    mn_buf out;
    mn_buf_init(&out, NULL);
    if (!t)
        goto error;
    for (long k = 0; k < repeat; k++) {
        if (k > 0)
            mn_arena_reset(arena);
        mn_buf_reset(&out);
        mn_context *ctx = mn_context_new(arena);
        if (!ctx) {
            fprintf(stderr, "manouche render: out of memory\n");
            goto done;
        }
        /* one frame holding the JSON's names, as Django's Context(dict) has (what
         * {% debug %} shows) */
        if (ctx_value && mn_context_update(ctx, ctx_value) < 0) {
            fprintf(stderr, "manouche render: out of memory\n");
            goto done;
        }
        if (mn_template_render(t, ctx, &out, &err) < 0)
            goto error;
    }
    if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len) {
        fprintf(stderr, "manouche render: writing the output failed\n");
        goto done;
    }
    status = 0;
    mn_buf_free(&out);
    goto done;
error : {
    mn_buf msg;
    mn_buf_init(&msg, NULL);
    mn_template_error_format(&err, &msg);
    fwrite(msg.data, 1, msg.len, stderr);
    mn_buf_free(&msg);
    mn_buf_free(&out);
}
done:
    mn_template_engine_free(e);
    mn_static_free(st);
    mn_arena_free(arena);
    mn_arena_free(data_arena);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "render"))
        return render_command(argc - 2, argv + 2);
    if (!strcmp(argv[1], "startproject"))
        return startproject_command(argc - 2, argv + 2);
    if (!strcmp(argv[1], "startapp"))
        return startapp_command(argc - 2, argv + 2);
    fprintf(stderr, "manouche: unknown command '%s' (see manouche --help)\n", argv[1]);
    return 2;
}
