/* scaffold.c — `manouche startproject NAME [DIR]` and `manouche startapp NAME [DIR]`, as
 * django-admin's: a project folder that builds against the installed library with CMake
 * (find_package(manouche)) and whose binary is its management CLI, and an app folder with
 * views, URLs, templates and static files that a project includes in two lines.
 *
 * The files are written from the templates below with NAME substituted for every "{{name}}"
 * and a fresh secret key for "{{secret_key}}". Nothing is overwritten: an existing file or
 * folder stops the command before anything is written. */
#include "commands.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct scaffold_file {
    const char *path;    /* relative to the new folder; "{{name}}" is substituted */
    const char *content; /* NULL: an empty folder */
} scaffold_file;

static const scaffold_file project_files[] = {
    {"CMakeLists.txt",
     "# {{name}}: a Manouche project. Build it with\n"
     "#   cmake -S . -B build && cmake --build build\n"
     "# (add -DCMAKE_PREFIX_PATH=/where/manouche/is/installed when it is not in /usr/local)\n"
     "# and run ./build/{{name}} help.\n"
     "cmake_minimum_required(VERSION 3.22)\n"
     "project({{name}} C)\n"
     "find_package(manouche REQUIRED)\n"
     "file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)\n"
     "# Any build folder (build/, build-release/, ...) holds CMake's own probe sources.\n"
     "list(FILTER sources EXCLUDE REGEX \"^${CMAKE_CURRENT_BINARY_DIR}/|/CMakeFiles/\")\n"
     "add_executable({{name}} ${sources})\n"
     "target_link_libraries({{name}} PRIVATE manouche::manouche)\n"
     "# -rdynamic: the DEBUG error page's backtrace names the functions\n"
     "set_target_properties({{name}} PROPERTIES ENABLE_EXPORTS ON)\n"},
    {"main.c",
     "/* {{name}} — a Manouche project. Its binary is its management CLI, as manage.py is:\n"
     " *   ./build/{{name}} runserver          development server on 127.0.0.1:8000\n"
     " *   ./build/{{name}} serve --workers 4  production: a master and worker processes\n"
     " *   ./build/{{name}} help               every command\n"
     " * Settings come from .env in this folder and from the environment (which wins). */\n"
     "#include <manouche/manouche.h>\n"
     "\n"
     "static void home(mn_req *r)\n"
     "{\n"
     "    mn_render(r, \"home.html\", MN_CTX(\"project\", \"{{name}}\"));\n"
     "}\n"
     "\n"
     "static const mn_route urls[] = {\n"
     "    MN_PATH(\"\", home, \"home\"),\n"
     "    /* An app made by `manouche startapp blog` joins with:\n"
     "     *   MN_INCLUDE(\"blog/\", blog_urls, \"blog\"),   (and #include \"blog/blog.h\") */\n"
     "    MN_END,\n"
     "};\n"
     "\n"
     "/* The project's own templates/ and static/ folders. */\n"
     "static const mn_app site_app = {\n"
     "    .name = \"{{name}}\",\n"
     "    .templates_dir = \"templates\",\n"
     "    .static_dir = \"static\",\n"
     "};\n"
     "\n"
     "static const mn_app *const apps[] = {\n"
     "    &site_app,\n"
     "    /* &blog_app, */\n"
     "    NULL,\n"
     "};\n"
     "\n"
     "static const mn_project project = {\n"
     "    .name = \"{{name}}\",\n"
     "    .urls = urls,\n"
     "    .apps = apps,\n"
     "    .dir = __FILE__, /* this folder: .env, templates and static files live here */\n"
     "};\n"
     "\n"
     "int main(int argc, char **argv)\n"
     "{\n"
     "    return mn_main(argc, argv, &project);\n"
     "}\n"},
    {".env",
     "# Development settings. Every line can be overridden by an environment variable of the\n"
     "# same name; production sets DEBUG=0, its own SECRET_KEY and ALLOWED_HOSTS.\n"
     "DEBUG=1\n"
     "SECRET_KEY={{secret_key}}\n"
     "ALLOWED_HOSTS=localhost,127.0.0.1,[::1]\n"},
    {".gitignore", "build/\n.env\ndb.sqlite3\ndb.sqlite3-*\nstaticfiles/\n"},
    {"templates/base.html",
     "{% load static %}<!DOCTYPE html>\n"
     "<html lang=\"en\">\n"
     "<head>\n"
     "  <meta charset=\"utf-8\">\n"
     "  <title>{% block title %}{{name}}{% endblock %}</title>\n"
     "  <link rel=\"stylesheet\" href=\"{% static '{{name}}/site.css' %}\">\n"
     "</head>\n"
     "<body>\n"
     "{% block content %}{% endblock %}\n"
     "</body>\n"
     "</html>\n"},
    {"templates/home.html",
     "{% extends \"base.html\" %}\n"
     "{% block content %}<h1>The install worked successfully!</h1>\n"
     "<p>{{ project }} runs on Manouche. Edit main.c and templates/home.html.</p>\n"
     "{% endblock %}\n"},
    {"static/{{name}}/site.css", "body { font-family: sans-serif; margin: 2em; }\n"},
    {NULL, NULL},
};

static const scaffold_file app_files[] = {
    {"{{name}}.h", "/* {{name}}.h — what the project needs to know of the {{name}} app. */\n"
                   "#ifndef APP_{{name}}_H\n"
                   "#define APP_{{name}}_H\n"
                   "\n"
                   "#include <manouche/manouche.h>\n"
                   "\n"
                   "extern const mn_app {{name}}_app;\n"
                   "extern const mn_route {{name}}_urls[];\n"
                   "\n"
                   "#endif\n"},
    {"app.c",
     "/* app.c — the {{name}} app: its templates and static files (paths from the project\n"
     " * folder), its own management commands and settings when it has some. */\n"
     "#include \"{{name}}.h\"\n"
     "\n"
     "const mn_app {{name}}_app = {\n"
     "    .name = \"{{name}}\",\n"
     "    .templates_dir = \"{{name}}/templates\",\n"
     "    .static_dir = \"{{name}}/static\",\n"
     "};\n"},
    {"urls.c", "/* urls.c — the {{name}} app's URLs; the project includes them under a prefix. */\n"
               "#include \"{{name}}.h\"\n"
               "\n"
               "void {{name}}_index(mn_req *r);\n"
               "\n"
               "const mn_route {{name}}_urls[] = {\n"
               "    MN_PATH(\"\", {{name}}_index, \"index\"),\n"
               "    MN_END,\n"
               "};\n"},
    {"views.c",
     "/* views.c — the {{name}} app's views. Each runs on its own coroutine: database calls,\n"
     " * sleeps and socket waits inside it let other requests run. */\n"
     "#include \"{{name}}.h\"\n"
     "\n"
     "void {{name}}_index(mn_req *r);\n"
     "\n"
     "void {{name}}_index(mn_req *r)\n"
     "{\n"
     "    mn_render(r, \"{{name}}/index.html\", MN_CTX(\"app\", \"{{name}}\"));\n"
     "}\n"},
    {"templates/{{name}}/index.html", "{% extends \"base.html\" %}\n"
                                      "{% block title %}{{ app }}{% endblock %}\n"
                                      "{% block content %}<h1>{{ app }}</h1>\n"
                                      "<p><a href=\"{% url 'home' %}\">Home</a></p>\n"
                                      "{% endblock %}\n"},
    {"static/{{name}}", NULL},
    {NULL, NULL},
};

static const char *const reserved[] = {
    "auto",     "break",  "case",      "char",     "const",    "continue", "default",  "do",
    "double",   "else",   "enum",      "extern",   "float",    "for",      "goto",     "if",
    "inline",   "int",    "long",      "register", "restrict", "return",   "short",    "signed",
    "sizeof",   "static", "struct",    "switch",   "typedef",  "union",    "unsigned", "void",
    "volatile", "while",  "bool",      "true",     "false",    "main",     "manouche", "build",
    "test",     "static", "templates", NULL};

/* A project or app name becomes a C identifier, a folder and a binary: [A-Za-z_][A-Za-z0-9_]*
 * and not a C keyword or a name the build uses. */
static const char *name_problem(const char *name)
{
    if (!*name)
        return "is empty";
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
          name[0] == '_'))
        return "must start with a letter or an underscore";
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return "may only hold letters, digits and underscores (it becomes a C identifier)";
    if (strlen(name) > 64)
        return "is longer than 64 characters";
    for (size_t i = 0; reserved[i]; i++)
        if (strcmp(name, reserved[i]) == 0)
            return "is a C keyword or a name the build uses";
    return NULL;
}

/* 50 characters from Django's get_random_secret_key alphabet, less "#" and "=" (which a
 * .env reader could take for a comment or a separator). */
static void secret_key(char out[51])
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789!@%^&*(-_+)";
    unsigned char raw[50];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t k = getrandom(raw + got, sizeof raw - got, 0);
        if (k > 0)
            got += (size_t)k;
    }
    for (size_t i = 0; i < 50; i++)
        out[i] = chars[raw[i] % (sizeof chars - 1)];
    out[50] = '\0';
}

/* Appends s to out with "{{name}}" and "{{secret_key}}" substituted. */
static char *substitute(const char *s, const char *name, const char *key)
{
    size_t cap = strlen(s) * 2 + 256, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    while (*s) {
        const char *rep = NULL;
        size_t skip = 0;
        if (strncmp(s, "{{name}}", 8) == 0) {
            rep = name;
            skip = 8;
        } else if (strncmp(s, "{{secret_key}}", 14) == 0) {
            rep = key;
            skip = 14;
        }
        size_t need = rep ? strlen(rep) : 1;
        if (len + need + 1 > cap) {
            cap = (len + need + 1) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        if (rep) {
            memcpy(out + len, rep, need);
            len += need;
            s += skip;
        } else {
            out[len++] = *s++;
        }
    }
    out[len] = '\0';
    return out;
}

static int mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            if (!c)
                return 0;
            *p = c;
        }
    }
}

static int write_tree(const char *cmd, const char *dest, const scaffold_file *files,
                      const char *name)
{
    char key[51];
    secret_key(key);
    for (const scaffold_file *f = files; f->path; f++) {
        char *rel = substitute(f->path, name, key);
        char *content = f->content ? substitute(f->content, name, key) : NULL;
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s", dest, rel ? rel : "");
        int ok = rel && (content || !f->content) && n > 0 && (size_t)n < sizeof path;
        if (ok && !f->content) {
            ok = mkdirs(path) == 0;
        } else if (ok) {
            char *slash = strrchr(path, '/');
            *slash = '\0';
            ok = mkdirs(path) == 0;
            *slash = '/';
            int fd = ok ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
            size_t clen = strlen(content);
            ok = fd >= 0 && write(fd, content, clen) == (ssize_t)clen;
            if (fd >= 0)
                close(fd);
        }
        if (!ok)
            fprintf(stderr, "manouche %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        free(rel);
        free(content);
        if (!ok)
            return 1;
    }
    return 0;
}

static int scaffold(const char *cmd, int argc, char **argv, const scaffold_file *files)
{
    const char *name = NULL, *dir = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf(
                "usage: manouche %s NAME [DIRECTORY]\n\n%s\n", cmd,
                strcmp(cmd, "startproject") == 0
                    ? "Creates a Manouche project NAME in ./NAME (or in DIRECTORY, which must\n"
                      "not hold any of its files yet): main.c, CMakeLists.txt, .env with a\n"
                      "fresh SECRET_KEY, templates/ and static/."
                    : "Creates an app NAME in ./NAME (or DIRECTORY): views, URLs, templates\n"
                      "and static files. Then include it in the project's main.c: add\n"
                      "&NAME_app to apps and MN_INCLUDE(\"NAME/\", NAME_urls, \"NAME\") to urls.");
            return 0;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "manouche %s: unknown option '%s'\n", cmd, argv[i]);
            return 2;
        }
        if (!name)
            name = argv[i];
        else if (!dir)
            dir = argv[i];
        else {
            fprintf(stderr, "manouche %s: unexpected argument '%s'\n", cmd, argv[i]);
            return 2;
        }
    }
    if (!name) {
        fprintf(stderr, "manouche %s: missing NAME (usage: manouche %s NAME [DIRECTORY])\n", cmd,
                cmd);
        return 2;
    }
    const char *problem = name_problem(name);
    if (problem) {
        fprintf(stderr, "manouche %s: '%s' is not a valid name: it %s\n", cmd, name, problem);
        return 1;
    }
    char dest[4096];
    snprintf(dest, sizeof dest, "%s", dir ? dir : name);
    struct stat sb;
    if (!dir && stat(dest, &sb) == 0) {
        fprintf(stderr, "manouche %s: '%s' already exists\n", cmd, dest);
        return 1;
    }
    if (dir && stat(dest, &sb) != 0) {
        fprintf(stderr, "manouche %s: destination directory '%s' does not exist; create it\n", cmd,
                dest);
        return 1;
    }
    /* Refuse before writing anything if a file would be overwritten. */
    for (const scaffold_file *f = files; f->path; f++) {
        char *rel = substitute(f->path, name, "");
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s", dest, rel ? rel : "");
        free(rel);
        if (n < 0 || (size_t)n >= sizeof path) {
            fprintf(stderr, "manouche %s: '%s' is too long a path\n", cmd, dest);
            return 1;
        }
        if (f->content && stat(path, &sb) == 0) {
            fprintf(stderr, "manouche %s: %s already exists; nothing was written\n", cmd, path);
            return 1;
        }
    }
    if (write_tree(cmd, dest, files, name) != 0)
        return 1;
    if (strcmp(cmd, "startproject") == 0)
        printf("Created project %s in %s.\nNext: cd %s && cmake -S . -B build && "
               "cmake --build build && ./build/%s runserver\n",
               name, dest, dest, name);
    else
        printf("Created app %s in %s.\nNext, in the project's main.c: #include \"%s/%s.h\", add "
               "&%s_app to apps and MN_INCLUDE(\"%s/\", %s_urls, \"%s\") to urls.\n",
               name, dest, name, name, name, name, name, name);
    return 0;
}

int startproject_command(int argc, char **argv)
{
    return scaffold("startproject", argc, argv, project_files);
}

int startapp_command(int argc, char **argv)
{
    return scaffold("startapp", argc, argv, app_files);
}
