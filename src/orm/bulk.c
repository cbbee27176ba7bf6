/* bulk.c — bulk_create and bulk_update: rows go in fixed-size batches (well under each
 * database's parameter limit), every batch statement is sent at once (pipelined on
 * PostgreSQL), all inside one atomic block, so the work stays linear in the row count. */
#include "internal.h"
#include "rel_internal.h"

/* ---- bulk ---- */

/* The statements of one bulk operation, built before any is sent. */
typedef struct batches {
    mn_arena *scratch; /* their SQL text, parameters and results */
    mn_dbbatch_item *items;
    size_t n, cap;
} batches;

/* Appends the statement in sql (text in b->scratch) with its ps[0..np). */
static int add_batch(batches *b, mn_buf *sql, const mn_dbparam *ps, size_t np)
{
    if (!mn_buf_cstr(sql))
        return MN_ENOMEM;
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 8;
        mn_dbbatch_item *ni =
            mn_arena_realloc(b->scratch, b->items, b->cap * sizeof *ni, nc * sizeof *ni);
        if (!ni)
            return MN_ENOMEM;
        b->items = ni;
        b->cap = nc;
    }
    b->items[b->n++] = (mn_dbbatch_item){.sql = sql->data, .params = ps, .nparams = np};
    return 0;
}

/* Sends every batch statement at once (one round trip in PostgreSQL's pipeline mode), all or
 * nothing, as Django's bulk operations. */
static int run_batches(mn_orm *o, const char *alias, batches *b)
{
    mn_arena *arena = b->scratch;
    mn_dbbatch_item *items = b->items;
    size_t n = b->n;
    if (n == 0)
        return 0;
    /* Inside a block on this database no savepoint is made, as Django's
     * atomic(savepoint=False): a failure marks the block for rollback, as a failed single
     * query does (session.c), and a marked block refuses the batches. Elsewhere the batches
     * get a transaction of their own on their database, all or nothing, whatever block is
     * open on another database. */
    int db = mn__db_index(o, alias);
    if (db < 0)
        return mn__orm_fail(o, MN_ENOTFOUND, "no database '%s' in this session",
                            alias ? alias : "default");
    bool in_block = mn__in_block(o, db);
    if (in_block && o->txn[db].needs_rollback)
        return mn__txn_refuse(o, db);
    mn_dbconn *c = mn_orm_conn(o, alias);
    if (!c)
        return o->errcode ? o->errcode : MN_EDB_OPERATIONAL;
    int own = in_block ? 0 : mn__atomic_for(o, alias); /* 1: opened here */
    if (own < 0)
        return own;
    int rc = mn_dbconn_exec_batch(c, arena, items, n);
    if (rc) {
        mn__orm_fail(o, rc, "%s", *mn_dbconn_errmsg(c) ? mn_dbconn_errmsg(c) : mn_db_strerror(rc));
        if (in_block)
            o->txn[db].needs_rollback = rc;
    }
    if (own == 1) {
        int end = mn_atomic_end(o, rc == 0);
        if (rc == 0)
            rc = end;
    }
    return rc;
}

/* Writes the columns of a comma-separated field list ("name, email"), each as
 * `"col" = EXCLUDED."col"` when excluded is set. 0, or a field error naming the bad name. */
static int put_columns(mn_orm *o, const mn_model *m, const char *list, mn_buf *sql, bool excluded)
{
    size_t k = 0;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len) {
            const mn_fielddef *f = mn__field(m, p, len);
            if (!f)
                return mn__no_field(o, m, p, len);
            if (k++)
                mn_buf_puts(sql, ", ");
            mn__quote(sql, f->column);
            if (excluded) {
                mn_buf_puts(sql, " = EXCLUDED.");
                mn__quote(sql, f->column);
            }
        }
        p += len;
    }
    return 0;
}

/* The names of a comma-separated field list, as Django's get_field() sees them: a misspelt
 * one fails (with the closest name); *nnames counts them, *pk and *not_concrete say whether
 * one is the primary key ("pk" too), or a many-to-many field or reverse relation (no
 * column). */
static int list_fields(mn_orm *o, const mn_model *m, const char *list, size_t *nnames, bool *pk,
                       bool *not_concrete)
{
    *nnames = 0;
    *pk = *not_concrete = false;
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len) {
            const mn_fielddef *f = mn__field(m, p, len);
            if (!f && !mn__revrel(m, p, len, false) && !mn__revrel(m, p, len, true))
                return mn__no_field(o, m, p, len);
            ++*nnames;
            *pk |= f == m->pk;
            *not_concrete |= !f || !mn__has_column(f);
        }
        p += len;
    }
    return 0;
}

/* Django's checks of the conflict options (QuerySet._check_bulk_create_options), in its
 * order, for a database that takes a conflict target (SQLite and PostgreSQL both do). */
static int check_conflict_options(mn_orm *o, const mn_model *m, const mn_bulk_opts *opts)
{
    size_t nupdate, nunique;
    bool update_pk, update_virtual, unique_pk, unique_virtual;
    int rc = list_fields(o, m, opts->unique_fields, &nunique, &unique_pk, &unique_virtual);
    if (rc == 0)
        rc =
            list_fields(o, m, opts->update_conflicts_fields, &nupdate, &update_pk, &update_virtual);
    if (rc)
        return rc;
    bool update = opts->update_conflicts || opts->update_conflicts_fields;
    if (opts->ignore_conflicts && update)
        return mn__orm_fail(o, MN_EINVAL,
                            "ignore_conflicts and update_conflicts are mutually exclusive.");
    if (!update)
        return 0;
    if (nupdate == 0)
        return mn__orm_fail(o, MN_EINVAL,
                            "Fields that will be updated when a row insertion fails on "
                            "conflicts must be provided.");
    if (nunique == 0)
        return mn__orm_fail(o, MN_EINVAL,
                            "Unique fields that can trigger the upsert must be provided.");
    if (update_virtual)
        return mn__orm_fail(o, MN_EINVAL,
                            "bulk_create() can only be used with concrete fields in "
                            "update_fields.");
    if (update_pk)
        return mn__orm_fail(o, MN_EINVAL,
                            "bulk_create() cannot be used with primary keys in update_fields.");
    if (unique_virtual) /* the primary key is a valid target */
        return mn__orm_fail(o, MN_EINVAL,
                            "bulk_create() can only be used with concrete fields in "
                            "unique_fields.");
    (void)unique_pk;
    return 0;
}

int mn_bulk_create(mn_orm *o, const mn_model *m, void **objs, size_t n, const mn_bulk_opts *opts)
{
    if (mn__ready(o) != 0)
        return o->errcode;
    mn_bulk_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    if (n == 0) { /* as Django, which returns before looking at the options */
        mn_orm_clear_error(o);
        return 0;
    }
    int crc = check_conflict_options(o, m, opts);
    if (crc)
        return crc;
    /* As Django: objects whose automatic pk is already set are inserted with it, the others
     * get one from the database; a mixed list becomes the two groups, each in its order. */
    size_t with_pk = 0;
    if (mn__auto_pk(m))
        for (size_t i = 0; i < n; i++)
            with_pk += mn_obj_pk(objs[i]) != 0;
    if (with_pk && with_pk < n) {
        void **groups = mn_arena_alloc(o->arena, n * sizeof *groups);
        if (!groups)
            return MN_ENOMEM;
        size_t a = 0, b = with_pk;
        for (size_t i = 0; i < n; i++)
            groups[mn_obj_pk(objs[i]) != 0 ? a++ : b++] = objs[i];
        int rc = mn_bulk_create(o, m, groups, with_pk, opts);
        return rc ? rc : mn_bulk_create(o, m, groups + with_pk, n - with_pk, opts);
    }
    bool db_pk = mn__auto_pk(m) && with_pk == 0; /* the database numbers the rows */
    const char *alias = opts->db ? opts->db : mn__write_alias(o, m);
    const char *db = mn__db_name(o, alias);
    if (!db)
        return mn__orm_fail(o, MN_ENOTFOUND, "no database '%s' in this session",
                            alias ? alias : "default");
    if (db == mn__db_name(o, NULL))
        alias = NULL; /* the default database, where atomic() works */
    mn_dbdialect d = mn__dialect(o, alias);
    const mn_fielddef *cols[64];
    size_t ncols = 0;
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (mn__has_column(f) && !(f == m->pk && db_pk))
            cols[ncols++] = f;
    }
    if (ncols == 0)
        return mn__orm_fail(o, MN_EINVAL, "bulk_create needs at least one column");
    /* stay under SQLite's 32766 and PostgreSQL's 65535 parameters per statement */
    size_t batch = opts->batch_size ? opts->batch_size : 1000;
    if (batch * ncols > 30000)
        batch = 30000 / ncols;
    for (size_t i = 0; i < n; i++) {
        mn__sync_fks(objs[i], m);
        mn__touch_auto_now(objs[i], m, true);
    }
    mn_arena *saved = o->arena;
    batches b = {.scratch = mn_arena_new(0)};
    mn_arena *scratch = b.scratch;
    if (!scratch)
        return MN_ENOMEM;
    int rc = 0;
    for (size_t start = 0; rc == 0 && start < n; start += batch) {
        size_t end = start + batch < n ? start + batch : n;
        o->arena = scratch; /* SQL text and parameters of the batches */
        mn_buf sql;
        mn_buf_init(&sql, scratch);
        mn_dbparam *ps = mn_arena_alloc(scratch, (end - start) * ncols * sizeof *ps);
        if (!ps) {
            rc = MN_ENOMEM;
            break;
        }
        size_t np = 0;
        mn_buf_puts(&sql, "INSERT INTO ");
        mn__quote(&sql, mrt(m)->table);
        for (size_t k = 0; k < ncols; k++) {
            mn_buf_puts(&sql, k ? ", " : " (");
            mn__quote(&sql, cols[k]->column);
        }
        mn_buf_puts(&sql, ") VALUES ");
        for (size_t i = start; rc == 0 && i < end; i++) {
            mn_buf_puts(&sql, i > start ? ", (" : "(");
            for (size_t k = 0; rc == 0 && k < ncols; k++) {
                rc = mn__obj_param(o, objs[i], cols[k], d, &ps[np]);
                if (k)
                    mn_buf_puts(&sql, ", ");
                mn__placeholder(&sql, d, ++np);
            }
            mn_buf_putc(&sql, ')');
        }
        if (opts->ignore_conflicts) {
            mn_buf_puts(&sql, " ON CONFLICT DO NOTHING");
        } else if (opts->update_conflicts || opts->update_conflicts_fields) {
            mn_buf_puts(&sql, " ON CONFLICT (");
            rc = put_columns(o, m, opts->unique_fields, &sql, false);
            mn_buf_puts(&sql, ") DO UPDATE SET ");
            if (rc == 0)
                rc = put_columns(o, m, opts->update_conflicts_fields, &sql, true);
        }
        bool want_pks = db_pk && !opts->ignore_conflicts;
        if (want_pks) { /* with update_conflicts too: the updated rows return theirs (Django 5.0) */
            mn_buf_puts(&sql, " RETURNING ");
            mn__quote(&sql, m->pk->column);
        }
        if (rc == 0)
            rc = add_batch(&b, &sql, ps, np);
    }
    o->arena = saved;
    if (rc == 0)
        rc = run_batches(o, alias, &b);
    if (rc == 0) /* mn_orm_error() is the last call's: "" after a success */
        mn_orm_clear_error(o);
    for (size_t k = 0; rc == 0 && k < b.n; k++) {
        size_t start = k * batch, end = start + batch < n ? start + batch : n;
        const mn_dbresult *res = &b.items[k].result;
        bool want_pks = db_pk && !opts->ignore_conflicts;
        if (want_pks && res->nrows == end - start)
            for (size_t i = start; i < end; i++)
                mn__cell_store(o, objs[i], m->pk, &res->cells[(i - start) * res->ncols],
                               mn__dialect(o, alias));
        for (size_t i = start; i < end; i++) {
            ((mn_obj *)objs[i])->persisted = true;
            ((mn_obj *)objs[i])->db = db;
            mn__settle_nulls(objs[i], m, NULL, NULL);
        }
    }
    mn_arena_free(scratch);
    return rc;
}

int64_t mn_bulk_update(mn_orm *o, const mn_model *m, void **objs, size_t n, const char *fields,
                       size_t batch_size)
{
    if (mn__ready(o) != 0)
        return o->errcode;
    const char *alias = mn__write_alias(o, m);
    mn_dbdialect d = mn__dialect(o, alias);
    const mn_fielddef *fs[64];
    size_t nf = 0;
    for (const char *p = fields ? fields : ""; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len) {
            const mn_fielddef *f = mn__field(m, p, len);
            if (!f)
                return mn__no_field(o, m, p, len);
            if (f == m->pk || !mn__has_column(f))
                return mn__orm_fail(o, MN_EINVAL,
                                    "bulk_update() can only be used with concrete "
                                    "fields that are not primary keys (%s)",
                                    f->name);
            fs[nf++] = f;
        }
        p += len;
    }
    if (nf == 0)
        return mn__orm_fail(o, MN_EINVAL, "Field names must be given to bulk_update().");
    for (size_t i = 0; i < n; i++) {
        if (!mn__pk_set(objs[i]))
            return mn__orm_fail(o, MN_EINVAL,
                                "All bulk_update() objects must have a primary key set.");
        /* a deferred field (only()/defer()) is loaded first, as Django's getattr does: its
         * zeroed struct member would otherwise overwrite the stored value; one assigned
         * directly is written */
        mn__settle_deferred(objs[i]);
        for (size_t k = 0; k < nf; k++) {
            int lrc = mn__load_deferred(o, objs[i], fs[k]);
            if (lrc)
                return lrc;
        }
    }
    /* CASE WHEN pk = ? THEN ? per row: a fixed batch keeps the statement (and its work) linear */
    size_t batch = batch_size ? batch_size : 100;
    int64_t total = 0;
    mn_arena *saved = o->arena;
    batches b = {.scratch = mn_arena_new(0)};
    mn_arena *scratch = b.scratch;
    if (!scratch)
        return MN_ENOMEM;
    int rc = 0;
    for (size_t start = 0; rc == 0 && start < n; start += batch) {
        size_t end = start + batch < n ? start + batch : n;
        o->arena = scratch;
        mn_buf sql;
        mn_buf_init(&sql, scratch);
        mn_dbparam *ps = mn_arena_alloc(scratch, ((end - start) * (2 * nf + 1)) * sizeof *ps);
        size_t np = 0;
        if (!ps) {
            rc = MN_ENOMEM;
            break;
        }
        mn_buf_puts(&sql, "UPDATE ");
        mn__quote(&sql, mrt(m)->table);
        for (size_t k = 0; rc == 0 && k < nf; k++) {
            mn_buf_puts(&sql, k ? ", " : " SET ");
            mn__quote(&sql, fs[k]->column);
            mn_buf_puts(&sql, " = CASE");
            for (size_t i = start; rc == 0 && i < end; i++) {
                mn_buf_puts(&sql, " WHEN ");
                mn__quote(&sql, m->pk->column);
                mn_buf_puts(&sql, " = ");
                rc = mn__arg_param(o, m->pk, mn__pk_arg(objs[i]), d, &ps[np]);
                mn__placeholder(&sql, d, ++np);
                mn_buf_puts(&sql, " THEN CAST(");
                if (rc == 0)
                    rc = mn__obj_param(o, objs[i], fs[k], d, &ps[np]);
                mn__placeholder(&sql, d, ++np);
                mn_buf_printf(&sql, " AS %s)", mn__cast_type(fs[k], d));
            }
            mn_buf_puts(&sql, " ELSE ");
            mn__quote(&sql, fs[k]->column);
            mn_buf_puts(&sql, " END");
        }
        mn_buf_puts(&sql, " WHERE ");
        mn__quote(&sql, m->pk->column);
        mn_buf_puts(&sql, " IN (");
        for (size_t i = start; rc == 0 && i < end; i++) {
            if (i > start)
                mn_buf_puts(&sql, ", ");
            rc = mn__arg_param(o, m->pk, mn__pk_arg(objs[i]), d, &ps[np]);
            mn__placeholder(&sql, d, ++np);
        }
        mn_buf_putc(&sql, ')');
        if (rc == 0)
            rc = add_batch(&b, &sql, ps, np);
    }
    o->arena = saved;
    if (rc == 0)
        rc = run_batches(o, alias, &b);
    for (size_t k = 0; rc == 0 && k < b.n; k++)
        total += b.items[k].result.rows_affected;
    mn_arena_free(scratch);
    if (rc == 0)
        mn_orm_clear_error(o);
    return rc ? rc : total;
}

const char *mn__cast_type(const mn_fielddef *f, mn_dbdialect d)
{
    bool pg = d == MN_DIALECT_POSTGRESQL;
    if ((f->type == MN_FK || f->type == MN_O2O) && f->rel_model && f->rel_model->pk)
        f = mn__key_field(f); /* the column holds the related primary key */
    switch (f->type) {
    case MN_FLOAT: return pg ? "double precision" : "REAL";
    case MN_BOOL: return pg ? "boolean" : "INTEGER";
    case MN_DECIMAL: return pg ? "numeric" : "INTEGER";
    case MN_DATE: return pg ? "date" : "TEXT";
    case MN_DATETIME: return pg ? "timestamp with time zone" : "TEXT";
    case MN_TIME: return pg ? "time" : "TEXT";
    case MN_UUID: return pg ? "uuid" : "TEXT";
    case MN_GENERICIP: return pg ? "inet" : "TEXT";
    case MN_JSON: return pg ? "jsonb" : "TEXT";
    case MN_BINARY: return pg ? "bytea" : "BLOB";
    default: return mn__is_int_type(f->type) ? (pg ? "bigint" : "INTEGER") : (pg ? "text" : "TEXT");
    }
}
