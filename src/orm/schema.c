/* schema.c — DDL from model metadata: CREATE TABLE with column types, NOT NULL, primary
 * keys, UNIQUE/CHECK constraints and foreign keys, then indexes, per dialect. This is the
 * code path the migrations subsystem drives (CreateModel); tests use it to make tables. */
#include "internal.h"

#include <ctype.h>
#include <stdlib.h>

static int default_len(const mn_fielddef *f)
{
    if (f->max_length > 0)
        return f->max_length;
    switch (f->type) {
    case MN_EMAIL: return 254;
    case MN_URL: return 200;
    case MN_SLUG: return 50;
    case MN_FILEPATH: return 100;
    case MN_GENERICIP: return 39;
    default: return 255;
    }
}

static void references(mn_buf *b, const mn_fielddef *f)
{
    mn_buf_puts(b, " REFERENCES ");
    mn__quote(b, mrt(f->rel_model)->table);
    mn_buf_puts(b, " (");
    mn__quote(b, mn__rel_field(f)->column);
    mn_buf_puts(b, ") DEFERRABLE INITIALLY DEFERRED");
}

static void column_type(mn_buf *b, const mn_fielddef *f, mn_dbdialect d)
{
    bool pg = d == MN_DIALECT_POSTGRESQL;
    mn_ftype t = f->type;
    if (t == MN_FK || t == MN_O2O) {
        /* the related primary key's type (its max_length too), as Django's rel_db_type;
         * through a OneToOneField primary key to the type it holds */
        f = mn__key_field(f);
        t = f->type == MN_AUTO        ? MN_INT
            : f->type == MN_SMALLAUTO ? MN_SMALLINT
            : f->type == MN_BIGAUTO   ? MN_BIGINT
                                      : f->type;
    }
    switch (t) {
    case MN_AUTO: mn_buf_puts(b, pg ? "integer" : "integer"); break;
    case MN_BIGAUTO: mn_buf_puts(b, pg ? "bigint" : "integer"); break;
    case MN_SMALLAUTO: mn_buf_puts(b, pg ? "smallint" : "integer"); break;
    case MN_SMALLINT:
    case MN_POSSMALLINT: mn_buf_puts(b, "smallint"); break;
    case MN_INT:
    case MN_POSINT: mn_buf_puts(b, "integer"); break;
    case MN_BIGINT:
    case MN_POSBIGINT:
    case MN_DURATION: mn_buf_puts(b, "bigint"); break;
    case MN_FLOAT: mn_buf_puts(b, pg ? "double precision" : "real"); break;
    case MN_DECIMAL:
        if (pg)
            mn_buf_printf(b, "numeric(%d, %d)", f->max_digits ? f->max_digits : 18,
                          f->decimal_places);
        else /* scaled by 10^decimal_places: exact comparisons and sums */
            mn_buf_puts(b, "integer");
        break;
    case MN_BOOL: mn_buf_puts(b, pg ? "boolean" : "bool"); break;
    case MN_CHAR:
    case MN_EMAIL:
    case MN_URL:
    case MN_SLUG:
    case MN_FILEPATH: mn_buf_printf(b, "varchar(%d)", default_len(f)); break;
    case MN_GENERICIP: mn_buf_puts(b, pg ? "inet" : "char(39)"); break;
    case MN_TEXT: mn_buf_puts(b, "text"); break;
    case MN_DATE: mn_buf_puts(b, "date"); break;
    case MN_DATETIME: mn_buf_puts(b, pg ? "timestamp with time zone" : "datetime"); break;
    case MN_TIME: mn_buf_puts(b, "time"); break;
    case MN_UUID: mn_buf_puts(b, pg ? "uuid" : "char(36)"); break;
    case MN_JSON: mn_buf_puts(b, pg ? "jsonb" : "text"); break;
    case MN_BINARY: mn_buf_puts(b, pg ? "bytea" : "BLOB"); break;
    default: mn_buf_puts(b, "text"); break;
    }
}

/* A literal for CHECK constraints (DDL has no parameters; values come from model code). */
static void literal(mn_buf *b, mn_str v)
{
    int64_t i;
    bool numeric = v.len > 0;
    for (size_t k = 0; k < v.len; k++)
        if (!(isdigit((unsigned char)v.ptr[k]) || v.ptr[k] == '.' || (k == 0 && v.ptr[k] == '-')))
            numeric = false;
    if (numeric && (mn_str_to_i64(v, &i) == 0 || memchr(v.ptr, '.', v.len))) {
        mn_buf_put_str(b, v);
        return;
    }
    mn_buf_putc(b, '\'');
    for (size_t k = 0; k < v.len; k++) {
        if (v.ptr[k] == '\'')
            mn_buf_putc(b, '\'');
        mn_buf_putc(b, v.ptr[k]);
    }
    mn_buf_putc(b, '\'');
}

/* "price__gte=0,price__lte=100" -> ("price" >= 0 AND "price" <= 100) */
static int check_sql(mn_buf *b, const mn_model *m, const char *cond, mn_dbdialect d)
{
    mn_buf_putc(b, '(');
    int k = 0;
    for (const char *p = cond; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return MN_EINVAL;
        mn_str lhs = mn_str_trim((mn_str){p, (size_t)(eq - p)});
        mn_str val = mn_str_trim((mn_str){eq + 1, len - (size_t)(eq - p) - 1});
        const char *dd = NULL;
        for (size_t i = 0; i + 1 < lhs.len; i++)
            if (lhs.ptr[i] == '_' && lhs.ptr[i + 1] == '_')
                dd = lhs.ptr + i;
        size_t flen = dd ? (size_t)(dd - lhs.ptr) : lhs.len;
        const mn_fielddef *f = mn__field(m, lhs.ptr, flen);
        if (!f)
            return MN_EFIELD;
        mn_str lk = dd ? (mn_str){dd + 2, lhs.len - flen - 2} : (mn_str)MN_STR_LIT("exact");
        const char *op = mn_str_eq_cstr(lk, "exact") ? "="
                         : mn_str_eq_cstr(lk, "gt")  ? ">"
                         : mn_str_eq_cstr(lk, "gte") ? ">="
                         : mn_str_eq_cstr(lk, "lt")  ? "<"
                         : mn_str_eq_cstr(lk, "lte") ? "<="
                                                     : NULL;
        if (k++)
            mn_buf_puts(b, " AND ");
        mn__quote(b, f->column);
        if (mn_str_eq_cstr(lk, "isnull")) {
            mn_buf_puts(b, mn_str_eq_cstr(val, "true") || mn_str_eq_cstr(val, "True") ||
                                   mn_str_eq_cstr(val, "1")
                               ? " IS NULL"
                               : " IS NOT NULL");
        } else {
            if (!op)
                return MN_EINVAL;
            mn_buf_printf(b, " %s ", op);
            bool t = mn_str_eq_cstr(val, "true") || mn_str_eq_cstr(val, "True");
            if (f->type == MN_BOOL &&
                (t || mn_str_eq_cstr(val, "false") || mn_str_eq_cstr(val, "False") ||
                 mn_str_eq_cstr(val, "1") || mn_str_eq_cstr(val, "0"))) {
                /* SQLite keeps booleans as 1 and 0: 'true' would be text */
                t |= mn_str_eq_cstr(val, "1");
                mn_buf_puts(b, d == MN_DIALECT_SQLITE ? (t ? "1" : "0") : (t ? "true" : "false"));
            } else if (f->type == MN_DECIMAL && d == MN_DIALECT_SQLITE) {
                /* SQLite keeps decimals scaled by 10^places: scale the literal the same way */
                mn_orm tmp = {.default_dialect = d};
                mn_arena *a = mn_arena_new(256);
                mn_dbparam p2;
                tmp.arena = a;
                char *lit = a ? mn_arena_strndup(a, val.ptr, val.len) : NULL;
                int rc = lit ? mn__arg_param(&tmp, f, mn_arg_str(lit), d, &p2) : MN_ENOMEM;
                if (rc == 0 && p2.type == MN_DBT_INT)
                    mn_buf_put_i64(b, p2.v.i);
                mn_arena_free(a);
                if (rc || p2.type != MN_DBT_INT)
                    return MN_EINVAL;
            } else {
                literal(b, val);
            }
        }
        p += len;
    }
    mn_buf_putc(b, ')');
    return 0;
}

static void quoted_list(mn_buf *b, const mn_model *m, const char *names, int *rc)
{
    int k = 0;
    for (const char *p = names; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ;");
        if (len) {
            bool desc = *p == '-';
            const mn_fielddef *f = mn__field(m, p + desc, len - desc);
            if (!f) {
                *rc = MN_EFIELD;
                return;
            }
            if (k++)
                mn_buf_puts(b, ", ");
            mn__quote(b, f->column);
            if (desc)
                mn_buf_puts(b, " DESC");
        }
        p += len;
        if (*p == ';')
            break;
    }
}

static int create_table_sql(const mn_model *m, mn_dbdialect d, bool if_not_exists, mn_buf *b)
{
    bool pg = d == MN_DIALECT_POSTGRESQL;
    const char *table = mrt(m)->table;
    mn_buf_puts(b, if_not_exists ? "CREATE TABLE IF NOT EXISTS " : "CREATE TABLE ");
    mn__quote(b, table);
    mn_buf_puts(b, " (");
    int k = 0, rc = 0;
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (!mn__has_column(f))
            continue;
        if (k++)
            mn_buf_puts(b, ", ");
        mn__quote(b, f->column);
        mn_buf_putc(b, ' ');
        column_type(b, f, d);
        bool autof = f->type == MN_AUTO || f->type == MN_BIGAUTO || f->type == MN_SMALLAUTO;
        if (f == m->pk) {
            mn_buf_puts(b, " NOT NULL PRIMARY KEY");
            if (autof)
                mn_buf_puts(b, pg ? " GENERATED BY DEFAULT AS IDENTITY" : " AUTOINCREMENT");
            if (f->type == MN_FK || f->type == MN_O2O) /* a OneToOneField primary key */
                references(b, f);
            continue;
        }
        mn_buf_puts(b, f->null ? " NULL" : " NOT NULL");
        if (f->unique)
            mn_buf_puts(b, " UNIQUE");
        if (f->type == MN_POSINT || f->type == MN_POSSMALLINT || f->type == MN_POSBIGINT) {
            mn_buf_puts(b, " CHECK (");
            mn__quote(b, f->column);
            mn_buf_puts(b, " >= 0)");
        }
        if (f->type == MN_JSON && !pg) {
            mn_buf_puts(b, " CHECK ((JSON_VALID(");
            mn__quote(b, f->column);
            mn_buf_puts(b, ") OR ");
            mn__quote(b, f->column);
            mn_buf_puts(b, " IS NULL))");
        }
        if (f->type == MN_FK || f->type == MN_O2O)
            references(b, f);
    }
    if (m->unique_together) {
        for (const char *p = m->unique_together; *p;) {
            mn_buf_puts(b, ", UNIQUE (");
            quoted_list(b, m, p, &rc);
            mn_buf_putc(b, ')');
            const char *semi = strchr(p, ';');
            p = semi ? semi + 1 : p + strlen(p);
        }
    }
    for (const mn_constraint *c = m->constraints; c && c->kind; c++) {
        if (c->kind == MN_CONSTRAINT_UNIQUE && c->check)
            continue; /* a partial unique index, after the table */
        mn_buf_puts(b, ", CONSTRAINT ");
        mn__quote(b, c->name ? c->name : "constraint");
        if (c->kind == MN_CONSTRAINT_UNIQUE) {
            mn_buf_puts(b, " UNIQUE (");
            quoted_list(b, m, c->fields ? c->fields : "", &rc);
            mn_buf_putc(b, ')');
        } else {
            mn_buf_puts(b, " CHECK ");
            if (!c->check || check_sql(b, m, c->check, d) != 0)
                rc = MN_EINVAL;
        }
    }
    mn_buf_putc(b, ')');
    return rc;
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* CREATE [UNIQUE] INDEX, partial (WHERE) when a condition is given, as Django makes a
 * UniqueConstraint with condition= on both databases. */
static void index_sql(mn_buf *b, const mn_model *m, const char *name, const char *cols, bool unique,
                      const char *condition, mn_dbdialect d, bool if_not_exists, int *rc)
{
    mn_buf_puts(b, unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ");
    if (if_not_exists)
        mn_buf_puts(b, "IF NOT EXISTS ");
    mn__quote(b, name);
    mn_buf_puts(b, " ON ");
    mn__quote(b, mrt(m)->table);
    mn_buf_puts(b, " (");
    quoted_list(b, m, cols, rc);
    mn_buf_putc(b, ')');
    if (condition) {
        mn_buf_puts(b, " WHERE ");
        if (check_sql(b, m, condition, d) != 0)
            *rc = MN_EINVAL;
    }
}

/* Appends every statement for m, each ending with ";\n". */
static int model_sql(const mn_model *m, mn_dbdialect d, bool if_not_exists, mn_arena *a,
                     mn_buf *out)
{
    int rc = create_table_sql(m, d, if_not_exists, out);
    mn_buf_puts(out, ";\n");
    const char *table = mrt(m)->table;
    for (size_t i = 0; i < m->nfields && rc == 0; i++) {
        const mn_fielddef *f = &m->fields[i];
        bool fk = f->type == MN_FK || f->type == MN_O2O;
        if (!mn__has_column(f) || f == m->pk || f->unique || !(f->db_index || fk))
            continue;
        char *name = mn_arena_printf(a, "%.30s_%.20s_%08x", table, f->column,
                                     name_hash(f->column) ^ name_hash(table));
        index_sql(out, m, name, f->name, false, NULL, d, if_not_exists, &rc);
        mn_buf_puts(out, ";\n");
    }
    for (const mn_index *ix = m->indexes; ix && ix->fields && rc == 0; ix++) {
        const char *name = ix->name ? ix->name
                                    : mn_arena_printf(a, "%.30s_%08x_idx", table,
                                                      name_hash(ix->fields) ^ name_hash(table));
        index_sql(out, m, name, ix->fields, false, NULL, d, if_not_exists, &rc);
        mn_buf_puts(out, ";\n");
    }
    for (const mn_constraint *c = m->constraints; c && c->kind && rc == 0; c++) {
        if (c->kind != MN_CONSTRAINT_UNIQUE || !c->check)
            continue;
        /* unnamed: a name of its own, as the indexes' above; one fixed name would collide
         * between tables, and IF NOT EXISTS would then skip the second one silently */
        const char *fields = c->fields ? c->fields : "";
        const char *name =
            c->name ? c->name
                    : mn_arena_printf(a, "%.30s_%08x_uniq", table,
                                      name_hash(fields) ^ name_hash(c->check) ^ name_hash(table));
        index_sql(out, m, name, fields, true, c->check, d, if_not_exists, &rc);
        mn_buf_puts(out, ";\n");
    }
    return rc;
}

int mn_schema_sql(const mn_model *m, mn_dbdialect dialect, mn_arena *arena, mn_buf *out)
{
    if (mn_models_ready(NULL) != 0)
        return MN_EFIELD;
    if (m->abstract)
        return MN_EINVAL;
    return model_sql(m, dialect, false, arena, out);
}

/* Concrete models ordered so that every FK target comes before the model (cycles last). */
static size_t ordered_models(const mn_model **out)
{
    size_t total = mn_model_count(), n = 0;
    bool progress = true;
    while (progress) {
        progress = false;
        for (size_t i = 0; i < total; i++) {
            const mn_model *m = mn_model_at(i);
            bool done = m->abstract || m->managed_no;
            for (size_t k = 0; k < n && !done; k++)
                done = out[k] == m;
            if (done)
                continue;
            bool ready = true;
            for (size_t j = 0; j < m->nfields && ready; j++) {
                const mn_fielddef *f = &m->fields[j];
                if ((f->type == MN_FK || f->type == MN_O2O) && f->rel_model != m) {
                    bool have = false;
                    for (size_t k = 0; k < n; k++)
                        have |= out[k] == f->rel_model;
                    ready = have;
                }
            }
            if (ready) {
                out[n++] = m;
                progress = true;
            }
        }
    }
    for (size_t i = 0; i < total; i++) { /* whatever is left is in a cycle */
        const mn_model *m = mn_model_at(i);
        bool done = m->abstract || m->managed_no;
        for (size_t k = 0; k < n && !done; k++)
            done = out[k] == m;
        if (!done)
            out[n++] = m;
    }
    return n;
}

int mn_orm_create_tables(mn_orm *o, bool if_not_exists)
{
    if (mn__ready(o) != 0)
        return o->errcode;
    mn_dbconn *c = mn_orm_conn(o, NULL);
    if (!c)
        return o->errcode;
    mn_dbdialect d = mn_dbconn_dialect(c);
    const mn_model **models = mn_arena_alloc(o->arena, (mn_model_count() + 1) * sizeof *models);
    if (!models)
        return MN_ENOMEM;
    size_t n = ordered_models(models);
    for (size_t i = 0; i < n; i++) {
        mn_buf b;
        mn_buf_init(&b, o->arena);
        int rc = model_sql(models[i], d, if_not_exists, o->arena, &b);
        if (rc)
            return mn__orm_fail(o, rc,
                                "%s: invalid Meta (unique_together, constraints or "
                                "indexes name an unknown field or lookup)",
                                models[i]->name);
        if (!mn_buf_cstr(&b))
            return MN_ENOMEM;
        rc = mn_dbconn_exec_script(c, b.data);
        if (rc)
            return mn__orm_fail(o, rc, "creating %s: %s", mrt(models[i])->table,
                                mn_dbconn_errmsg(c));
    }
    return 0;
}

int mn_orm_drop_tables(mn_orm *o)
{
    if (mn__ready(o) != 0)
        return o->errcode;
    mn_dbconn *c = mn_orm_conn(o, NULL);
    if (!c)
        return o->errcode;
    bool pg = mn_dbconn_dialect(c) == MN_DIALECT_POSTGRESQL;
    const mn_model **models = mn_arena_alloc(o->arena, (mn_model_count() + 1) * sizeof *models);
    if (!models)
        return MN_ENOMEM;
    size_t n = ordered_models(models);
    for (size_t i = n; i-- > 0;) {
        mn_buf b;
        mn_buf_init(&b, o->arena);
        mn_buf_puts(&b, "DROP TABLE IF EXISTS ");
        mn__quote(&b, mrt(models[i])->table);
        if (pg)
            mn_buf_puts(&b, " CASCADE");
        if (!mn_buf_cstr(&b))
            return MN_ENOMEM;
        int rc = mn_dbconn_exec_script(c, b.data);
        if (rc)
            return mn__orm_fail(o, rc, "dropping %s: %s", mrt(models[i])->table,
                                mn_dbconn_errmsg(c));
    }
    return 0;
}
