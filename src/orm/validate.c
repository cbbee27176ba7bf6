/* validate.c — full_clean(): every field checked against its options (null, blank,
 * max_length, choices, decimal digits, email/url/slug/uuid/JSON/IP formats, integer ranges,
 * custom validators), foreign keys checked to exist, and uniqueness (unique fields,
 * unique_together, UniqueConstraint) checked against the database. All errors are collected,
 * with Django's messages, so a form or the admin can show them at once. */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>

typedef struct errs {
    mn_orm *o;
    mn_validation *out;
    size_t cap;
} errs;

static int add(errs *e, const char *field, const char *msg)
{
    if (e->out->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 8;
        mn_field_error *n =
            mn_arena_realloc(e->o->arena, e->out->errors, e->cap * sizeof *n, nc * sizeof *n);
        if (!n)
            return MN_ENOMEM;
        e->out->errors = n;
        e->cap = nc;
    }
    e->out->errors[e->out->n++] = (mn_field_error){field, msg};
    return 0;
}

/* Django's capfirst(verbose_name); the default verbose_name is the name with spaces for
 * underscores, an explicit one is taken as written. */
static const char *label(mn_orm *o, const mn_fielddef *f)
{
    char *s = mn_arena_strdup(o->arena, f->verbose_name ? f->verbose_name : f->name);
    for (char *p = s; p && *p && !f->verbose_name; p++)
        if (*p == '_')
            *p = ' ';
    if (s && *s)
        s[0] = (char)toupper((unsigned char)s[0]);
    return s;
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* A domain label of Django's validators: 1..63 letters, digits or hyphens (bytes of a
 * non-ASCII letter count as letters: Django tries the IDNA form too), neither first nor
 * last a hyphen. */
static bool dns_label(mn_str l)
{
    if (l.len < 1 || l.len > 63 || l.ptr[0] == '-' || l.ptr[l.len - 1] == '-')
        return false;
    for (size_t i = 0; i < l.len; i++) {
        unsigned char c = (unsigned char)l.ptr[i];
        if (!(isalnum(c) || c == '-' || c >= 0x80))
            return false;
    }
    return true;
}

/* s is an address of that family as inet_pton reads it. */
static bool inet_text(mn_str s, int family)
{
    char buf[64];
    unsigned char out[16];
    if (s.len == 0 || s.len >= sizeof buf)
        return false;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    return inet_pton(family, buf, out) == 1;
}

static bool valid_ip_literal(mn_str s, int family)
{
    return inet_text(s, family) || (family == AF_INET6 && inet_text(s, AF_INET));
}

/* Django's EmailValidator: a dot-atom or quoted local part, and a domain of labels ending
 * with a top-level label of 2..63 characters, "localhost" or an address literal ([1.2.3.4],
 * [IPv6:...] as Django reads it: hex digits, colons and dots in brackets). */
static bool valid_email(const char *s)
{
    const char *at = strrchr(s, '@');
    if (!at || strlen(s) > 320)
        return false;
    size_t ulen = (size_t)(at - s);
    if (ulen >= 2 && s[0] == '"' && s[ulen - 1] == '"') {
        for (size_t i = 1; i + 1 < ulen; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\' && i + 2 < ulen) {
                unsigned char n = (unsigned char)s[++i];
                if (n == 0 || n == '\n' || n == '\r' || n > 0x7f)
                    return false;
            } else if (c == 0 || c == '\t' || c == '\n' || c == '\r' || c == ' ' || c == '"' ||
                       c == '\\' || c > 0x7f) {
                return false;
            }
        }
    } else {
        if (ulen == 0 || s[0] == '.' || s[ulen - 1] == '.')
            return false;
        for (size_t i = 0; i < ulen; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '.' ? s[i + 1] == '.' : !(isalnum(c) || strchr("-!#$%&'*+/=?^_`{}|~", c)))
                return false;
        }
    }
    const char *dom = at + 1;
    if (strcmp(dom, "localhost") == 0)
        return true;
    size_t dlen = strlen(dom);
    if (dlen > 2 && dom[0] == '[' && dom[dlen - 1] == ']') {
        mn_str lit = {dom + 1, dlen - 2};
        for (size_t i = 0; i < lit.len; i++)
            if (!(isxdigit((unsigned char)lit.ptr[i]) || lit.ptr[i] == ':' || lit.ptr[i] == '.'))
                return false;
        return valid_ip_literal(lit, AF_INET6);
    }
    const char *dot = strrchr(dom, '.');
    if (!dot || dot == dom)
        return false;
    for (const char *p = dom; p < dot;) { /* the labels before the top-level one */
        size_t len = strcspn(p, ".");
        if (!dns_label((mn_str){p, len}))
            return false;
        p += len + 1;
    }
    mn_str tld = {dot + 1, strlen(dot + 1)};
    return tld.len >= 2 && dns_label(tld);
}

/* An IPv4 address as URLValidator's pattern takes it: four numbers 0..255 without leading
 * zeros. */
static bool url_ipv4(mn_str h)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part && (i >= h.len || h.ptr[i++] != '.'))
            return false;
        size_t k = i;
        int v = 0;
        while (k < h.len && isdigit((unsigned char)h.ptr[k]) && k - i < 4)
            v = v * 10 + (h.ptr[k++] - '0');
        if (k == i || k - i > 3 || (k - i > 1 && h.ptr[i] == '0') || v > 255)
            return false;
        i = k;
    }
    return i == h.len;
}

/* Django's URLValidator: scheme http, https, ftp or ftps; optional user:password@; a host
 * that is an IPv4 address, a bracketed IPv6 one, "localhost" or labels ending with a
 * top-level label of letters (2..63, or xn--...) and an optional trailing dot; an optional
 * port of 1..5 digits; a path, query or fragment without spaces. At most 2048 characters. */
static bool valid_url(const char *s)
{
    static const char *const schemes[] = {"http://", "https://", "ftp://", "ftps://", NULL};
    if (strlen(s) > 2048)
        return false;
    const char *rest = NULL;
    for (size_t i = 0; schemes[i]; i++)
        if (strncasecmp(s, schemes[i], strlen(schemes[i])) == 0)
            rest = s + strlen(schemes[i]);
    if (!rest)
        return false;
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char)*p))
            return false;
    mn_str auth = {rest, strcspn(rest, "/?#")};
    const char *at = memchr(auth.ptr, '@', auth.len);
    if (at) {
        mn_str user = {auth.ptr, (size_t)(at - auth.ptr)};
        const char *colon = memchr(user.ptr, ':', user.len);
        if (colon == user.ptr || user.len == 0 || memchr(at + 1, '@', auth.len - user.len - 1) ||
            (colon && memchr(colon + 1, ':', user.len - (size_t)(colon + 1 - user.ptr))))
            return false;
        auth.len -= user.len + 1;
        auth.ptr = at + 1;
    }
    mn_str host = auth;
    const char *port = NULL;
    if (host.len && host.ptr[0] == '[') {
        const char *close = memchr(host.ptr, ']', host.len);
        if (!close)
            return false;
        host.len = (size_t)(close + 1 - host.ptr);
        if (host.len < auth.len)
            port = close + 1;
    } else {
        port = memchr(host.ptr, ':', host.len);
        if (port)
            host.len = (size_t)(port - host.ptr);
    }
    if (port) {
        size_t plen = auth.len - host.len;
        if (*port != ':' || plen < 2 || plen > 6)
            return false;
        for (size_t i = 1; i < plen; i++)
            if (!isdigit((unsigned char)port[i]))
                return false;
    }
    if (host.len == 0 || host.len > 253)
        return false;
    if (host.ptr[0] == '[') {
        mn_str ip = {host.ptr + 1, host.len - 2};
        for (size_t i = 0; i < ip.len; i++)
            if (!(isxdigit((unsigned char)ip.ptr[i]) || ip.ptr[i] == ':' || ip.ptr[i] == '.'))
                return false;
        return inet_text(ip, AF_INET6);
    }
    if (url_ipv4(host) || (host.len == 9 && strncasecmp(host.ptr, "localhost", 9) == 0))
        return true;
    if (host.ptr[host.len - 1] == '.') /* a trailing dot is allowed */
        host.len--;
    const char *dot = NULL;
    for (size_t i = host.len; i-- > 0 && !dot;)
        if (host.ptr[i] == '.')
            dot = host.ptr + i;
    if (!dot || dot == host.ptr)
        return false;
    for (const char *p = host.ptr; p < dot;) { /* the labels before the top-level one */
        const char *end = memchr(p, '.', (size_t)(dot - p) + 1);
        if (!dns_label((mn_str){p, (size_t)(end - p)}))
            return false;
        p = end + 1;
    }
    mn_str tld = {dot + 1, (size_t)(host.ptr + host.len - dot - 1)};
    if (tld.len >= 5 && strncasecmp(tld.ptr, "xn--", 4) == 0 && tld.len <= 63)
        return dns_label(tld);
    if (tld.len < 2 || !dns_label(tld))
        return false;
    for (size_t i = 0; i < tld.len; i++)
        if (isdigit((unsigned char)tld.ptr[i]))
            return false;
    return true;
}

static bool valid_slug(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_'))
            return false;
    return true;
}

/* Counts digits of a decimal text as Django's DecimalValidator does from Decimal(s)'s
 * digit tuple and exponent: total, after the point; false if not a number. */
static bool decimal_digits(const char *s, int *whole, int *frac)
{
    int n, exp;
    if (mn__decimal_parse(NULL, s, NULL, &n, &exp) != 0)
        return false;
    int digits;
    bool zero = n == 0;
    if (zero)
        n = 1; /* the digit tuple (0,) */
    if (exp >= 0) {
        /* a positive exponent adds that many trailing zeros (not to a zero) */
        digits = n + (zero ? 0 : exp);
        *frac = 0;
    } else {
        /* a negative exponent wider than the digits adds leading zeros after the point */
        digits = -exp > n ? -exp : n;
        *frac = -exp;
    }
    *whole = digits - *frac;
    return true;
}

static int check_field(errs *e, void *obj, const mn_fielddef *f)
{
    mn_orm *o = e->o;
    const void *p = mn__fptr(obj, f);
    const char *name = f->name;
    bool textual = mn__is_text_type(f->type) || f->type == MN_DECIMAL;
    const char *s = textual ? *(const char *const *)p : NULL;
    /* A new instance's char field is "" (mn__apply_defaults, Django's get_default()), so a
     * NULL pointer is None, set by the program: Django then says "null". */
    /* auto_now / auto_now_add imply blank=True (Django sets it): save() fills them. As
     * Django's clean_fields, a blank field holding an empty value is not validated further. */
    bool blank = f->blank || f->auto_now || f->auto_now_add;
    bool empty = mn__is_null(obj, f) || (textual && (!s || !*s));
    if (blank && empty)
        return 0;
    if (mn__is_null(obj, f) || (textual && !s)) {
        if (!f->null)
            return add(e, name, "This field cannot be null.");
        return 0;
    }
    if (textual && (!s || !*s)) {
        if (!f->blank)
            return add(e, name, "This field cannot be blank.");
        return 0;
    }
    if (f->choices) {
        mn_value *v = mn_obj_get_value(o, obj, name);
        mn_str text = {"", 0};
        if (v)
            mn_value_to_text(v, o->arena, &text);
        bool found = false;
        for (const mn_choice *c = f->choices; c->value && !found; c++)
            found = mn_str_eq_cstr(text, c->value);
        if (!found) {
            /* Django formats %(value)r: quotes for a string, none for a number */
            const char *q = textual ? "'" : "";
            /* Field.validate() raised: Django runs no validator after it (max_length...) */
            return add(e, name,
                       mn_arena_printf(o->arena, "Value %s%.*s%s is not a valid choice.", q,
                                       (int)text.len, text.ptr, q));
        }
    }
    int64_t iv =
        mn__is_int_type(f->type) && f->type != MN_FK && f->type != MN_O2O ? *(const int64_t *)p : 0;
    switch (f->type) {
    case MN_CHAR:
    case MN_EMAIL:
    case MN_URL:
    case MN_SLUG:
    case MN_FILEPATH: {
        size_t n = utf8_len(s);
        int max = f->max_length            ? f->max_length
                  : f->type == MN_EMAIL    ? 254
                  : f->type == MN_URL      ? 200
                  : f->type == MN_SLUG     ? 50
                  : f->type == MN_FILEPATH ? 100
                                           : 0;
        if (max && n > (size_t)max)
            add(e, name,
                mn_arena_printf(o->arena,
                                "Ensure this value has at most %d character%s (it has %zu).", max,
                                max == 1 ? "" : "s", n)); /* Django's ngettext: "1 character" */
        if (f->type == MN_EMAIL && !valid_email(s))
            add(e, name, "Enter a valid email address.");
        if (f->type == MN_URL && !valid_url(s))
            add(e, name, "Enter a valid URL.");
        if (f->type == MN_SLUG && !valid_slug(s))
            add(e, name,
                "Enter a valid \xe2\x80\x9cslug\xe2\x80\x9d consisting of letters, "
                "numbers, underscores or hyphens.");
        break;
    }
    case MN_GENERICIP: {
        unsigned char buf[16];
        if (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1)
            add(e, name, "Enter a valid IPv4 or IPv6 address.");
        break;
    }
    case MN_UUID: {
        const char *canon; /* what save() stores: the forms uuid.UUID() reads */
        if (mn__uuid_normalise(o->arena, s, &canon) == MN_EINVAL)
            add(e, name,
                mn_arena_printf(o->arena, "\xe2\x80\x9c%s\xe2\x80\x9d is not a valid UUID.", s));
        break;
    }
    case MN_JSON: {
        json_error_t jerr;
        /* Python's json reads integers of any size: read them as reals here, where only
         * the syntax matters */
        json_t *j = json_loads(s, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);
        if (!j)
            add(e, name, "Value must be valid JSON.");
        json_decref(j);
        break;
    }
    case MN_DATE:
    case MN_DATETIME:
    case MN_TIME: {
        /* a month 13 or a 30 February: what Django's to_python refuses (convert.c refuses
         * the same on save, before the database sees it) */
        char buf[80];
        if (mn__format_datetime(p, f->type, MN_DIALECT_SQLITE, buf, sizeof buf) < 0)
            add(e, name,
                mn_arena_printf(o->arena,
                                "\xe2\x80\x9c%s\xe2\x80\x9d value has the correct format "
                                "(%s) but it is an invalid %s.",
                                buf,
                                f->type == MN_DATE   ? "YYYY-MM-DD"
                                : f->type == MN_TIME ? "HH:MM[:ss[.uuuuuu]]"
                                                     : "YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ]",
                                f->type == MN_DATE   ? "date"
                                : f->type == MN_TIME ? "time"
                                                     : "date/time"));
        break;
    }
    case MN_DECIMAL: {
        int whole, frac;
        if (!decimal_digits(s, &whole, &frac)) {
            add(e, name,
                mn_arena_printf(o->arena,
                                "\xe2\x80\x9c%s\xe2\x80\x9d value must be a "
                                "decimal number.",
                                s));
            break;
        }
        int md = f->max_digits ? f->max_digits : 18, dp = f->decimal_places;
        if (whole + frac > md)
            add(e, name,
                mn_arena_printf(o->arena,
                                "Ensure that there are no more than %d digit%s "
                                "in total.",
                                md, md == 1 ? "" : "s"));
        else if (frac > dp)
            add(e, name,
                mn_arena_printf(o->arena,
                                "Ensure that there are no more than %d decimal "
                                "place%s.",
                                dp, dp == 1 ? "" : "s"));
        else if (whole > md - dp)
            add(e, name,
                mn_arena_printf(o->arena,
                                "Ensure that there are no more than %d digit%s "
                                "before the decimal point.",
                                md - dp, md - dp == 1 ? "" : "s"));
        break;
    }
    case MN_POSINT:
    case MN_POSSMALLINT:
    case MN_POSBIGINT:
        if (iv < 0)
            add(e, name, "Ensure this value is greater than or equal to 0.");
        if (f->type == MN_POSSMALLINT && iv > 32767)
            add(e, name, "Ensure this value is less than or equal to 32767.");
        if (f->type == MN_POSINT && iv > 2147483647)
            add(e, name, "Ensure this value is less than or equal to 2147483647.");
        break;
    case MN_SMALLINT:
        if (iv < -32768)
            add(e, name, "Ensure this value is greater than or equal to -32768.");
        if (iv > 32767)
            add(e, name, "Ensure this value is less than or equal to 32767.");
        break;
    case MN_INT:
        if (iv < INT32_MIN)
            add(e, name, "Ensure this value is greater than or equal to -2147483648.");
        if (iv > INT32_MAX)
            add(e, name, "Ensure this value is less than or equal to 2147483647.");
        break;
    case MN_FK:
    case MN_O2O: {
        const mn_fk *fk = p;
        mn_arg key = mn__fk_arg(obj, f);
        const char *tname = f->to_field ? f->to_field : "pk"; /* the field the key names */
        if (!fk->obj || !mn__arg_eq(mn__rel_arg(fk->obj, f), key)) {
            int ex =
                mn_qs_exists(mn_qs_filter_kv(mn_qs_all(o, f->rel_model), &(mn_kv){tname, key}, 1));
            if (ex < 0) {
                if (o->errcode != MN_EINVAL)
                    return ex;
                ex = 0; /* a key the column cannot hold ("abc" for an integer) exists nowhere */
            }
            if (ex == 0) {
                /* as Django's ForeignKey.validate: the value as Python's repr shows it */
                const char *vn = mn_model_verbose_name(f->rel_model, false, o->arena);
                const char *kt = mn__arg_text(o->arena, key);
                add(e, name,
                    mn_arena_printf(o->arena, "%s instance with %s %s%s%s does not exist.", vn,
                                    mn__rel_field(f)->name, key.type == MN_ARG_STR ? "'" : "",
                                    kt ? kt : "None", key.type == MN_ARG_STR ? "'" : ""));
            }
        }
        break;
    }
    default: break;
    }
    for (size_t i = 0; i < sizeof f->validators / sizeof f->validators[0]; i++) {
        if (!f->validators[i])
            break;
        const char *msg = NULL;
        if (f->validators[i](f, obj, o->arena, &msg) != 0)
            add(e, name, msg ? msg : "Enter a valid value.");
    }
    return 0;
}

/* The lookups of a condition ("a__gte=0,b__isnull=true") as filter arguments. */
static mn_qs *filter_condition(mn_orm *o, mn_qs *qs, const char *cond)
{
    for (const char *p = cond; qs && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (eq) {
            mn_str lhs = mn_str_trim((mn_str){p, (size_t)(eq - p)});
            mn_str val = mn_str_trim((mn_str){eq + 1, len - (size_t)(eq - p) - 1});
            const char *key = mn_arena_strndup(o->arena, lhs.ptr, lhs.len);
            const char *v = mn_arena_strndup(o->arena, val.ptr, val.len);
            bool isnull = lhs.len > 8 && memcmp(lhs.ptr + lhs.len - 8, "__isnull", 8) == 0;
            mn_arg a = isnull ? mn_arg_bool(mn_str_eq_cstr(val, "true") ||
                                            mn_str_eq_cstr(val, "True") || mn_str_eq_cstr(val, "1"))
                              : mn_arg_str(v);
            qs = key && v ? mn_qs_filter_kv(qs, &(mn_kv){key, a}, 1) : NULL;
        }
        p += len;
    }
    return qs;
}

/* Is there another row with the same values for these fields (among the rows matching
 * cond, when given)? */
static int duplicate(errs *e, void *obj, const mn_fielddef **fs, size_t n, const char *cond)
{
    mn_orm *o = e->o;
    mn_obj *h = obj;
    mn_kv *kv = mn_arena_alloc(o->arena, n * sizeof *kv);
    if (!kv)
        return MN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (mn__is_null(obj, fs[i]))
            return 0; /* NULLs never collide */
        mn_value *v = mn_obj_get_value(o, obj, fs[i]->name);
        kv[i].key = fs[i]->name;
        kv[i].value = mn_arg_value(v);
        if (fs[i]->type == MN_FK || fs[i]->type == MN_O2O)
            kv[i].value = mn__fk_arg(obj, fs[i]);
    }
    mn_qs *qs = mn_qs_filter_kv(mn_qs_all(o, h->model), kv, n);
    if (cond)
        qs = filter_condition(o, qs, cond);
    /* the row itself is no duplicate; a new instance's own (non-automatic) pk is checked */
    bool own_pk = n == 1 && fs[0] == h->model->pk;
    if (!own_pk && (h->persisted || mn__pk_set(obj)))
        qs = mn_qs_exclude_kv(qs, &(mn_kv){"pk", mn__pk_arg(obj)}, 1);
    return mn_qs_exists(qs);
}

static int unique_message(errs *e, void *obj, const mn_fielddef **fs, size_t n)
{
    mn_orm *o = e->o;
    mn_obj *h = obj;
    int dup = duplicate(e, obj, fs, n, NULL);
    if (dup <= 0)
        return dup;
    mn_buf b;
    mn_buf_init(&b, o->arena);
    const char *vn = mn_model_verbose_name(h->model, false, o->arena);
    mn_buf_printf(&b, "%c%s with this ", toupper((unsigned char)vn[0]), vn + 1);
    for (size_t i = 0; i < n; i++)
        mn_buf_printf(&b, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ", label(o, fs[i]));
    mn_buf_puts(&b, " already exists.");
    return add(e, n == 1 ? fs[0]->name : NULL, mn_buf_cstr(&b));
}

static size_t fields_of(const mn_model *m, const char *list, const mn_fielddef **out, size_t max)
{
    size_t n = 0;
    for (const char *p = list; *p && n < max;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ;");
        if (len) {
            const mn_fielddef *f = mn__field(m, p, len);
            if (f)
                out[n++] = f;
        }
        p += len;
        if (*p == ';')
            break;
    }
    return n;
}

/* Evaluates a CheckConstraint condition ("price__gte=0,price__lte=100") on the instance, as
 * Django 4.1+ validates constraints in full_clean. 1 holds, 0 violated (a NULL passes, as
 * SQL's CHECK lets it), negative on a bad condition. */
static int check_holds(mn_orm *o, void *obj, const char *cond)
{
    mn_obj *h = obj;
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
        p += len;
        const char *dd = NULL;
        for (size_t i = 0; i + 1 < lhs.len && !dd; i++)
            if (lhs.ptr[i] == '_' && lhs.ptr[i + 1] == '_')
                dd = lhs.ptr + i;
        size_t flen = dd ? (size_t)(dd - lhs.ptr) : lhs.len;
        const mn_fielddef *f = mn__field(h->model, lhs.ptr, flen);
        if (!f)
            return MN_EFIELD;
        mn_str lk = dd ? (mn_str){dd + 2, lhs.len - flen - 2} : (mn_str)MN_STR_LIT("exact");
        bool null = mn__is_null(obj, f);
        if (mn_str_eq_cstr(lk, "isnull")) {
            bool want = mn_str_eq_cstr(val, "true") || mn_str_eq_cstr(val, "True") ||
                        mn_str_eq_cstr(val, "1");
            if (null != want)
                return 0;
            continue;
        }
        if (null)
            continue;
        mn_value *have = mn_obj_get_value(o, obj, f->name);
        mn_value *lit;
        int64_t iv;
        if (f->type == MN_BOOL) /* "true", "false", "1", "0" */
            lit = mn_value_bool(mn_str_eq_cstr(val, "true") || mn_str_eq_cstr(val, "True") ||
                                mn_str_eq_cstr(val, "1"));
        else if (f->type == MN_DECIMAL || f->type == MN_FLOAT)
            lit = mn_value_decimal(o->arena, val.ptr, val.len);
        else if (mn__is_int_type(f->type) && mn_str_to_i64(val, &iv) == 0)
            lit = mn_value_int(o->arena, iv);
        else
            lit = mn_value_str(o->arena, val.ptr, val.len);
        int cmp = 0;
        if (!have || !lit || mn_value_compare(have, lit, &cmp) != 0)
            return MN_EINVAL;
        bool ok = mn_str_eq_cstr(lk, "exact") ? cmp == 0
                  : mn_str_eq_cstr(lk, "gt")  ? cmp > 0
                  : mn_str_eq_cstr(lk, "gte") ? cmp >= 0
                  : mn_str_eq_cstr(lk, "lt")  ? cmp < 0
                  : mn_str_eq_cstr(lk, "lte") ? cmp <= 0
                                              : false;
        if (!ok)
            return 0;
    }
    return 1;
}

/* Has one of these fields an error already? Django's validate_unique and
 * validate_constraints leave out the fields clean_fields refused. */
static bool any_error(const mn_validation *out, const mn_fielddef **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < out->n; k++)
            if (out->errors[k].field && strcmp(out->errors[k].field, fs[i]->name) == 0)
                return true;
    return false;
}

/* The fields a condition's lookups name ("price__gte=0,price__lte=9": price, price). */
static size_t fields_of_condition(const mn_model *m, const char *cond, const mn_fielddef **out,
                                  size_t max)
{
    size_t n = 0;
    for (const char *p = cond; *p && n < max;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        size_t name = strcspn(p, "=_ ");
        while (name < len && p[name] == '_' && p[name + 1] != '_') /* a_b__gte: a_b */
            name += 1 + strcspn(p + name + 1, "=_ ");
        const mn_fielddef *f = name <= len ? mn__field(m, p, name) : NULL;
        if (f)
            out[n++] = f;
        p += len;
    }
    return n;
}

/* Django's default violation_error_message. */
static const char *violation_message(mn_orm *o, const mn_constraint *c)
{
    return mn_arena_printf(o->arena, "Constraint \xe2\x80\x9c%s\xe2\x80\x9d is violated.",
                           c->name ? c->name : "constraint");
}

int mn_full_clean(mn_orm *o, void *obj, mn_validation *out)
{
    memset(out, 0, sizeof *out);
    if (mn__ready(o) != 0)
        return o->errcode;
    mn_obj *h = obj;
    const mn_model *m = h->model;
    errs e = {o, out, 0};
    /* Django's clean_fields reads every field: the ones only()/defer() left out (and not
     * assigned since) are loaded, in one query, rather than checked as blanks */
    mn__settle_deferred(obj);
    if (h->deferred && h->persisted) {
        mn_buf names;
        mn_buf_init(&names, o->arena);
        for (size_t i = 0; i < m->nfields; i++)
            if (h->deferred & (UINT64_C(1) << i))
                mn_buf_printf(&names, "%s%s", names.len ? "," : "", m->fields[i].name);
        int rc = mn_buf_cstr(&names) ? mn_refresh_fields(o, obj, names.data) : MN_ENOMEM;
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (f->type == MN_M2M || (f == m->pk && mn__auto_pk(m)))
            continue;
        int rc = check_field(&e, obj, f);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        bool has_err = false;
        for (size_t k = 0; k < out->n; k++)
            has_err |= out->errors[k].field && strcmp(out->errors[k].field, f->name) == 0;
        /* a primary key is unique: checked when the instance is new, as Django's
         * _perform_unique_checks (which leaves out the row being changed) */
        bool pk_check = f == m->pk && !mn__auto_pk(m) && !h->persisted;
        if ((!f->unique && !pk_check) || (f == m->pk && !pk_check) || has_err)
            continue;
        int rc = unique_message(&e, obj, &f, 1);
        if (rc < 0)
            return rc;
    }
    const mn_fielddef *fs[16];
    for (const char *p = m->unique_together; p && *p;) {
        size_t n = fields_of(m, p, fs, 16);
        int rc = n && !any_error(out, fs, n) ? unique_message(&e, obj, fs, n) : 0;
        if (rc < 0)
            return rc;
        const char *semi = strchr(p, ';');
        p = semi ? semi + 1 : p + strlen(p);
    }
    for (const mn_constraint *c = m->constraints; c && c->kind; c++) {
        if (c->kind != MN_CONSTRAINT_UNIQUE || !c->fields)
            continue;
        size_t n = fields_of(m, c->fields, fs, 16);
        if (!n || any_error(out, fs, n))
            continue;
        int rc;
        if (!c->check) { /* Django words it as unique_together */
            rc = unique_message(&e, obj, fs, n);
        } else {
            /* a partial one: the instance must match the condition, and so must the row it
             * collides with */
            rc = check_holds(o, obj, c->check);
            if (rc == 1)
                rc = duplicate(&e, obj, fs, n, c->check);
            if (rc == 1)
                rc = add(&e, NULL, violation_message(o, c));
        }
        if (rc < 0)
            return rc;
    }
    for (const mn_constraint *c = m->constraints; c && c->kind; c++) {
        if (c->kind != MN_CONSTRAINT_CHECK || !c->check)
            continue;
        size_t n = fields_of_condition(m, c->check, fs, 16);
        if (any_error(out, fs, n)) /* Django leaves out the fields that failed */
            continue;
        int ok = check_holds(o, obj, c->check);
        if (ok < 0)
            return ok;
        if (!ok && add(&e, NULL, violation_message(o, c)))
            return MN_ENOMEM;
    }
    if (out->n)
        return mn__orm_fail(o, MN_EVALIDATION, "%s: %s",
                            out->errors[0].field ? out->errors[0].field : "__all__",
                            out->errors[0].message);
    return 0;
}
