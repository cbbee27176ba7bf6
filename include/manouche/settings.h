/* manouche/settings.h — typed settings, 12-factor style (DESIGN.md section 7).
 *
 * Every setting has a name, a type and a default written in code. At start-up the values are
 * resolved in three steps, the later one winning: the default, then a `.env` file in the
 * project folder, then an environment variable of the same name. Each value is checked
 * against its type; a wrong value stops start-up with one line that names the setting, the
 * value and what is allowed:  WORKERS: 'abc' is not an integer >= 1
 *
 * The built-in settings (DEBUG, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, the HTTP limits, the
 * SECURE_* family, ...) are registered by mn_settings_new(); apps register their own with
 * mn_settings_register() before mn_settings_load(). Settings live in core because lower layers
 * (the database layer reading DATABASE_URL) need them too. After loading, a settings object is
 * read-only: workers share it without locks. */
#ifndef MANOUCHE_SETTINGS_H
#define MANOUCHE_SETTINGS_H

#include <manouche/core.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mn_setting_type {
    MN_SETTING_BOOL,   /* true/false, 1/0, yes/no, on/off (any case) */
    MN_SETTING_INT,    /* a decimal integer within [min, max] */
    MN_SETTING_SIZE,   /* bytes: an integer >= min, with an optional K/M/G suffix (1024s) */
    MN_SETTING_STRING, /* any text; `choices` ("text|json") restricts it when set */
    MN_SETTING_LIST,   /* comma-separated; items trimmed, empty items dropped */
} mn_setting_type;

/* Where a setting's value came from (shown by `check` and the DEBUG error page). */
typedef enum mn_setting_source {
    MN_SETTING_FROM_DEFAULT,
    MN_SETTING_FROM_DOTENV,
    MN_SETTING_FROM_ENV,
    MN_SETTING_FROM_CODE, /* mn_settings_set() */
} mn_setting_source;

/* A setting's definition; strings are not copied (static storage). */
typedef struct mn_setting_def {
    const char *name; /* UPPER_CASE, also the environment variable's name */
    mn_setting_type type;
    const char *default_value; /* in the same text form as the environment; NULL: "" */
    const char *help;          /* one line for `check --list` and docs */
    int64_t min;               /* INT and SIZE: smallest allowed value */
    int64_t max;               /* INT: largest allowed value (0: no upper bound) */
    const char *choices;       /* STRING: allowed values separated by '|', NULL for any */
    bool secret;               /* masked on error pages and in listings */
    /* Extra check after the type's own (NULL: none): true when value is acceptable; the
     * error then reads "NAME: 'value' is not <allowed>". */
    bool (*check)(const char *value);
    const char *allowed;
} mn_setting_def;

typedef struct mn_settings mn_settings;

/* A settings object holding the built-in definitions, every value at its default. */
mn_settings *mn_settings_new(void);
void mn_settings_free(mn_settings *s);

/* Adds an app's own setting (before mn_settings_load). MN_EINVAL for a duplicate name or a
 * default that does not parse (a programming error: the message says which). */
int mn_settings_register(mn_settings *s, const mn_setting_def *def);
/* Registers a NULL-name-terminated table. */
int mn_settings_register_table(mn_settings *s, const mn_setting_def *defs);

/* Changes a default before loading (runserver turns DEBUG on unless the environment says
 * otherwise). 0, MN_ENOTFOUND or MN_EINVAL. */
int mn_settings_set_default(mn_settings *s, const char *name, const char *value);

/* Resolves every setting: defaults, then `<project_dir>/.env` (when project_dir is not NULL
 * and the file exists), then the process environment. Then the rules that tie settings
 * together (SECRET_KEY is required when DEBUG is off). 0, or MN_EINVAL with the one-line
 * message in mn_settings_error(). */
int mn_settings_load(mn_settings *s, const char *project_dir);
/* Sets one value from code, checked as an environment value would be (tests, CLI flags such
 * as `--workers`). 0 or MN_EINVAL (message in mn_settings_error) or MN_ENOTFOUND. */
int mn_settings_set(mn_settings *s, const char *name, const char *value);
/* Re-runs the cross-setting rules (after mn_settings_set). 0 or MN_EINVAL. */
int mn_settings_validate(mn_settings *s);
/* The last error, e.g. "WORKERS: 'abc' is not an integer >= 1". "" when none. */
const char *mn_settings_error(const mn_settings *s);

/* Typed reads. Asking for an unknown name or the wrong type is a programming error: the
 * getters return the zero value (false, 0, "", empty list). */
bool mn_settings_bool(const mn_settings *s, const char *name);
int64_t mn_settings_int(const mn_settings *s, const char *name);
size_t mn_settings_size(const mn_settings *s, const char *name);
const char *mn_settings_str(const mn_settings *s, const char *name); /* never NULL */
/* A LIST setting's items; *count is set. The array ends with NULL. */
const char *const *mn_settings_list(const mn_settings *s, const char *name, size_t *count);
/* The raw text of any setting (NULL when unknown), its source, and whether it is secret
 * (its definition says so or its name looks like one, as Django's SafeExceptionReporterFilter:
 * API, KEY, PASS, SECRET, SIGNATURE, TOKEN). */
const char *mn_settings_raw(const mn_settings *s, const char *name);
mn_setting_source mn_settings_source(const mn_settings *s, const char *name);
bool mn_settings_is_secret(const mn_settings *s, const char *name);
/* A value safe to display: secrets become "********************" (Django's mask). */
const char *mn_settings_display(const mn_settings *s, const char *name);

/* Iteration in registration order: the i-th definition, NULL past the end. */
const mn_setting_def *mn_settings_def_at(const mn_settings *s, size_t i);
const mn_setting_def *mn_settings_find(const mn_settings *s, const char *name);

/* The ALLOWED_HOSTS in force: the setting, or with DEBUG on and the setting empty Django's
 * development default (.localhost, 127.0.0.1, [::1]). */
const char *const *mn_settings_allowed_hosts(const mn_settings *s, size_t *count);

/* The process-wide settings the project runs with (set by mn_main), for layers that are not
 * handed a settings object (the database layer reading DATABASE_URL). NULL before start-up. */
void mn_settings_set_current(const mn_settings *s);
const mn_settings *mn_settings_current(void);

/* Parses one `.env` line into name and value (quotes removed, `export ` prefix allowed,
 * comments and blank lines give 0 with name->ptr NULL). 0 or MN_EINVAL. Exposed for tests. */
int mn_dotenv_parse_line(mn_str line, mn_str *name, mn_str *value, mn_buf *unquoted);

#ifdef __cplusplus
}
#endif
#endif
