/* filters_html.c — Django's HTML filters: escape, force_escape, safe, linebreaks,
 * linebreaksbr, striptags, truncatechars_html, truncatewords_html, json_script and
 * unordered_list. (urlize lives in filters_urlize.c.)
 *
 * striptags copies what Django really does: it feeds the text to Python's
 * html.parser.HTMLParser (feed, then close: two passes), keeps the data and the entity and
 * character references, and repeats until the number of '<' stops falling. The quirks of
 * that parser (tag names that swallow quotes, <script> content kept, a broken reference
 * dumping the rest as text) are part of the output users see, so they are reproduced. */
#include "template/filters_internal.h"

#include <stdint.h>
#include <string.h>

#define BUF(name)                                                                                  \
    mn_buf name;                                                                                   \
    mn_buf_init(&name, c->arena)

static mn_value *f_force_escape(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    BUF(b);
    if (mn__fescape(&b, v->u.str) < 0 || mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn__fresult(c, &b, true);
}

static mn_value *f_escape(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    return v->safe ? v : f_force_escape(c, v, arg);
}

static mn_value *f_safe(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    return v->safe ? v : mn_value_safe_ref(c->arena, v->u.str.ptr, v->u.str.len);
}

/* normalize_newlines: \r\n and \r become \n. */
static int put_normalized(mn_buf *b, mn_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        if (ch == '\r') {
            if (i + 1 < s.len && s.ptr[i + 1] == '\n')
                i++;
            ch = '\n';
        }
        if (mn_buf_putc(b, ch) < 0)
            return MN_ENOMEM;
    }
    return mn_buf_reserve(b, 1);
}

/* Appends s (escaped when asked) with each '\n' turned into <br>. */
static int put_br(mn_buf *b, mn_str s, bool esc)
{
    size_t start = 0;
    for (size_t i = 0; i <= s.len; i++) {
        if (i < s.len && s.ptr[i] != '\n')
            continue;
        mn_str piece = {s.ptr + start, i - start};
        int rc = esc ? mn__fescape(b, piece) : mn_buf_put_str(b, piece);
        if (rc < 0)
            return rc;
        if (i < s.len)
            mn_buf_puts(b, "<br>");
        start = i + 1;
    }
    return MN_OK;
}

/* as django.utils.html.linebreaks: paragraphs split on two or more newlines */
static mn_value *f_linebreaks(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    bool esc = c->autoescape && !v->safe;
    BUF(norm);
    if (put_normalized(&norm, v->u.str) < 0)
        return NULL;
    mn_str s = {norm.data ? norm.data : "", norm.len};
    BUF(b);
    size_t start = 0;
    for (bool first = true;; first = false) {
        /* the next run of two or more newlines: re.split('\n{2,}') */
        size_t j = start, run = 0;
        while (j < s.len) {
            if (s.ptr[j] != '\n') {
                j++;
                continue;
            }
            run = 0;
            while (j + run < s.len && s.ptr[j + run] == '\n')
                run++;
            if (run >= 2)
                break;
            j += run;
        }
        if (!first)
            mn_buf_puts(&b, "\n\n");
        mn_buf_puts(&b, "<p>");
        if (put_br(&b, (mn_str){s.ptr + start, j - start}, esc) < 0)
            return NULL;
        mn_buf_puts(&b, "</p>");
        if (j >= s.len)
            break;
        start = j + run;
    }
    if (mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn__fresult(c, &b, true);
}

static mn_value *f_linebreaksbr(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    bool esc = c->autoescape && !v->safe;
    BUF(norm);
    if (put_normalized(&norm, v->u.str) < 0)
        return NULL;
    BUF(b);
    if (put_br(&b, (mn_str){norm.data ? norm.data : "", norm.len}, esc) < 0 ||
        mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn__fresult(c, &b, true);
}

/* ---- striptags: Python's HTMLParser(convert_charrefs=False), data and references kept. ---- */

typedef struct hparser {
    const char *s;
    size_t n;
    mn_buf *out;
    char cdata[8]; /* "script" / "style" while inside one */
    /* missing[c]: a search for c from this position (or later) found nothing; hostile input
     * ("<a<a<a...", "</</...") would otherwise rescan the tail for every '<' */
    size_t missing[256];
    size_t no_comment_end; /* the same for "-->" */
} hparser;

static bool hp_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static bool hp_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool hp_alnum(char ch)
{
    return hp_alpha(ch) || (ch >= '0' && ch <= '9');
}

static bool hp_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static long hp_find(const hparser *p, size_t from, char ch)
{
    size_t *miss = &((hparser *)p)->missing[(unsigned char)ch];
    if (from >= p->n || from >= *miss)
        return -1;
    const char *f = memchr(p->s + from, ch, p->n - from);
    if (!f)
        *miss = from;
    return f ? (long)(f - p->s) : -1;
}

static bool hp_ieq(const hparser *p, size_t at, const char *word)
{
    size_t len = strlen(word);
    if (at + len > p->n)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = p->s[at + i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
        if (ch != word[i])
            return false;
    }
    return true;
}

/* tag name as tagfind/locatestarttagend: [a-zA-Z][^\t\n\r\f />\x00]* */
static size_t hp_tagname_end(const hparser *p, size_t at)
{
    size_t j = at + 1;
    while (j < p->n && !strchr("\t\n\r\f />", p->s[j]) && p->s[j])
        j++;
    return j;
}

/* locatestarttagend_tolerant, then check_for_whole_start_tag: the end of the start tag
 * at i, or -1 when it is incomplete. */
static long hp_starttag_end(const hparser *p, size_t i)
{
    const char *s = p->s;
    size_t n = p->n;
    size_t j = hp_tagname_end(p, i + 1);
    while (j < n && (hp_space(s[j]) || s[j] == '/'))
        j++;
    for (;;) {
        char prev = s[j - 1];
        if (!(j < n && (prev == '\'' || prev == '"' || hp_space(prev) || prev == '/') &&
              !hp_space(s[j]) && s[j] != '/' && s[j] != '>'))
            break;
        j++;
        while (j < n && !hp_space(s[j]) && s[j] != '/' && s[j] != '=' && s[j] != '>')
            j++;
        size_t q = j;
        while (q < n && hp_space(s[q]))
            q++;
        if (q < n && s[q] == '=') {
            while (q < n && s[q] == '=')
                q++;
            while (q < n && hp_space(s[q]))
                q++;
            bool ok = true;
            if (q < n && (s[q] == '\'' || s[q] == '"')) {
                long close = hp_find(p, q + 1, s[q]);
                if (close < 0)
                    ok = false;
                else
                    q = (size_t)close + 1;
            } else {
                while (q < n && s[q] != '>' && !hp_space(s[q]))
                    q++;
            }
            if (ok) {
                while (q < n && hp_space(s[q]))
                    q++;
                j = q;
            }
        }
        while (j < n && (hp_space(s[j]) || (s[j] == '/' && !(j + 1 < n && s[j + 1] == '>'))))
            j++;
    }
    while (j < n && hp_space(s[j]))
        j++;
    if (j >= n)
        return -1;
    char next = s[j];
    if (next == '>')
        return (long)j + 1;
    if (next == '/')
        return j + 1 < n && s[j + 1] == '>' ? (long)j + 2 : -1;
    if (hp_alpha(next) || next == '=' || next == '/')
        return -1;
    return j > i ? (long)j : (long)i + 1;
}

static long hp_starttag(hparser *p, size_t i)
{
    long end = hp_starttag_end(p, i);
    if (end < 0)
        return end;
    size_t name_end = hp_tagname_end(p, i + 1);
    if (p->s[end - 1] != '>') {
        /* attributes did not reach a '>': Python hands the text over as data */
        mn_buf_append(p->out, p->s + i, (size_t)end - i);
        return end;
    }
    bool self_closing = end >= 2 && p->s[end - 2] == '/';
    size_t len = name_end - (i + 1);
    if (!self_closing && (len == 6 || len == 5) &&
        (hp_ieq(p, i + 1, "script") || hp_ieq(p, i + 1, "style")) &&
        (len == 6 ? hp_ieq(p, i + 1, "script") : hp_ieq(p, i + 1, "style"))) {
        memcpy(p->cdata, len == 6 ? "script" : "style", len + 1);
    }
    return end;
}

/* endtagfind: </\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*> at i; the name's span on success. */
static bool hp_endtagfind(const hparser *p, size_t i, size_t *ns, size_t *ne, size_t *end)
{
    size_t j = i + 2;
    while (j < p->n && hp_space(p->s[j]))
        j++;
    if (j >= p->n || !hp_alpha(p->s[j]))
        return false;
    *ns = j;
    while (j < p->n && (hp_alnum(p->s[j]) || strchr("-.:_", p->s[j])) && p->s[j])
        j++;
    *ne = j;
    while (j < p->n && hp_space(p->s[j]))
        j++;
    if (j >= p->n || p->s[j] != '>')
        return false;
    *end = j + 1;
    return true;
}

static long hp_endtag(hparser *p, size_t i)
{
    long gt = hp_find(p, i + 1, '>');
    if (gt < 0)
        return -1;
    size_t gtpos = (size_t)gt + 1, ns, ne, end;
    if (!hp_endtagfind(p, i, &ns, &ne, &end)) {
        if (p->cdata[0]) {
            mn_buf_append(p->out, p->s + i, gtpos - i);
            return (long)gtpos;
        }
        if (i + 2 < p->n && hp_alpha(p->s[i + 2])) {
            size_t e = hp_tagname_end(p, i + 2);
            while (e < p->n &&
                   (hp_space(p->s[e]) || (p->s[e] == '/' && !(e + 1 < p->n && p->s[e + 1] == '>'))))
                e++;
            long g = hp_find(p, e, '>');
            return g + 1;
        }
        if (i + 2 < p->n && p->s[i + 2] == '>')
            return (long)i + 3;
        long g = hp_find(p, i + 2, '>'); /* bogus comment */
        return g < 0 ? -1 : g + 1;
    }
    if (p->cdata[0]) {
        size_t len = ne - ns;
        if (len != strlen(p->cdata) || !hp_ieq(p, ns, p->cdata)) {
            mn_buf_append(p->out, p->s + i, gtpos - i);
            return (long)gtpos;
        }
    }
    p->cdata[0] = 0;
    return (long)end;
}

/* <!-- ... --\s*> */
static long hp_comment(hparser *p, size_t i)
{
    if (i >= p->no_comment_end)
        return -1;
    for (size_t j = i + 4; j + 1 < p->n; j++) {
        if (p->s[j] != '-' || p->s[j + 1] != '-')
            continue;
        size_t k = j + 2;
        while (k < p->n && hp_space(p->s[k]))
            k++;
        if (k < p->n && p->s[k] == '>')
            return (long)k + 1;
    }
    p->no_comment_end = i;
    return -1;
}

static long hp_declaration(const hparser *p, size_t i)
{
    if (i + 3 <= p->n && p->s[i + 2] == '[') {
        /* a marked section (<![CDATA[ ... ]]>): ]\s*]\s*> */
        for (size_t j = i + 3; j < p->n; j++) {
            if (p->s[j] != ']')
                continue;
            size_t k = j + 1;
            while (k < p->n && hp_space(p->s[k]))
                k++;
            if (k < p->n && p->s[k] == ']') {
                k++;
                while (k < p->n && hp_space(p->s[k]))
                    k++;
                if (k < p->n && p->s[k] == '>')
                    return (long)k + 1;
            }
        }
        return -1;
    }
    long gt = hp_find(p, hp_ieq(p, i, "<!doctype") ? i + 9 : i + 2, '>');
    return gt < 0 ? -1 : gt + 1;
}

/* cdata mode's `interesting`: </\s*script\s*> (case-insensitive) from i. */
static long hp_find_cdata_end(const hparser *p, size_t i)
{
    size_t len = strlen(p->cdata);
    for (size_t j = i; j + 1 < p->n; j++) {
        if (p->s[j] != '<' || p->s[j + 1] != '/')
            continue;
        size_t k = j + 2;
        while (k < p->n && hp_space(p->s[k]))
            k++;
        if (!hp_ieq(p, k, p->cdata))
            continue;
        k += len;
        while (k < p->n && hp_space(p->s[k]))
            k++;
        if (k < p->n && p->s[k] == '>')
            return (long)j;
    }
    return -1;
}

/* HTMLParser.goahead(end) from i; returns where it stopped. */
static size_t hp_goahead(hparser *p, size_t i, bool end)
{
    const char *s = p->s;
    size_t n = p->n;
    while (i < n) {
        size_t j;
        if (p->cdata[0]) {
            long m = hp_find_cdata_end(p, i);
            if (m < 0)
                break;
            j = (size_t)m;
        } else {
            j = i;
            while (j < n && s[j] != '&' && s[j] != '<')
                j++;
        }
        if (i < j)
            mn_buf_append(p->out, s + i, j - i);
        i = j;
        if (i == n)
            break;
        if (s[i] == '<') {
            long k;
            if (i + 1 < n && hp_alpha(s[i + 1]))
                k = hp_starttag(p, i);
            else if (i + 1 < n && s[i + 1] == '/')
                k = hp_endtag(p, i);
            else if (i + 3 < n && memcmp(s + i, "<!--", 4) == 0)
                k = hp_comment(p, i);
            else if (i + 1 < n && s[i + 1] == '?') {
                long g = hp_find(p, i + 2, '>');
                k = g < 0 ? -1 : g + 1;
            } else if (i + 1 < n && s[i + 1] == '!')
                k = hp_declaration(p, i);
            else if (i + 1 < n) {
                mn_buf_putc(p->out, '<');
                k = (long)i + 1;
            } else
                break;
            if (k < 0) {
                if (!end)
                    break;
                long g = hp_find(p, i + 1, '>');
                if (g < 0) {
                    g = hp_find(p, i + 1, '<');
                    k = g < 0 ? (long)i + 1 : g;
                } else {
                    k = g + 1;
                }
                mn_buf_append(p->out, s + i, (size_t)k - i);
            }
            i = (size_t)k;
        } else if (i + 1 < n && s[i + 1] == '#') {
            /* charref: &#(?:[0-9]+|[xX][0-9a-fA-F]+)[^0-9a-fA-F] */
            size_t k = i + 2;
            bool hex = k < n && (s[k] == 'x' || s[k] == 'X');
            size_t ds = hex ? k + 1 : k;
            k = ds;
            while (k < n && (hex ? hp_hex(s[k]) : (s[k] >= '0' && s[k] <= '9')))
                k++;
            if (k > ds && k < n && !hp_hex(s[k])) {
                mn_buf_puts(p->out, "&#");
                mn_buf_append(p->out, s + i + 2, k - (i + 2));
                mn_buf_putc(p->out, ';');
                i = s[k] == ';' ? k + 1 : k;
                continue;
            }
            if (memchr(s + i, ';', n - i)) {
                mn_buf_append(p->out, s + i, 2);
                i += 2;
            }
            break;
        } else {
            /* entityref: &([a-zA-Z][-.a-zA-Z0-9]*)[^a-zA-Z0-9] */
            size_t k = i + 1;
            if (k < n && hp_alpha(s[k])) {
                k++;
                while (k < n && (hp_alnum(s[k]) || s[k] == '-' || s[k] == '.'))
                    k++;
                if (k < n) {
                    mn_buf_putc(p->out, '&');
                    mn_buf_append(p->out, s + i + 1, k - (i + 1));
                    mn_buf_putc(p->out, ';');
                    i = s[k] == ';' ? k + 1 : k;
                    continue;
                }
            }
            if (i + 1 < n && (hp_alpha(s[i + 1]) || s[i + 1] == '#')) {
                if (end && i + 2 == n)
                    i++;
                break;
            } else if (i + 1 < n) {
                mn_buf_putc(p->out, '&');
                i++;
            } else {
                break;
            }
        }
    }
    if (end && i < n && !p->cdata[0]) {
        mn_buf_append(p->out, s + i, n - i);
        i = n;
    }
    return i;
}

static size_t count_lt(mn_str s)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++)
        n += s.ptr[i] == '<';
    return n;
}

/* Django's guard against quadratic parsing: an open tag running over 1000 characters
 * without a '>' (<[a-zA-Z][^>]{1000,}) that holds 50 or more '<' is refused. */
static bool suspicious_open_tag(mn_str s)
{
    for (size_t i = 0; i + 1 < s.len; i++) {
        if (s.ptr[i] != '<' || !hp_alpha(s.ptr[i + 1]))
            continue;
        size_t end = i + 2, chars = 0, lts = 1;
        while (end < s.len && s.ptr[end] != '>') {
            chars += ((unsigned char)s.ptr[end] & 0xC0) != 0x80;
            lts += s.ptr[end] == '<';
            end++;
        }
        if (chars >= 1000 && lts >= 50)
            return true;
        i = end; /* later '<' in this run see a shorter run */
    }
    return false;
}

/* as django.utils.html.strip_tags */
static mn_value *f_striptags(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    mn_str value = v->u.str;
    if (suspicious_open_tag(value))
        return mn__ffail(c, "SuspiciousOperation: open tag too long");
    for (int depth = 0; memchr(value.ptr, '<', value.len) && memchr(value.ptr, '>', value.len);
         depth++) {
        if (depth >= 50)
            return mn__ffail(c, "SuspiciousOperation: too deeply nested tags");
        BUF(b);
        hparser p = {value.ptr, value.len, &b, {0}, {0}, SIZE_MAX};
        for (size_t k = 0; k < 256; k++)
            p.missing[k] = SIZE_MAX;
        size_t stop = hp_goahead(&p, 0, false);
        hp_goahead(&p, stop, true);
        if (mn_buf_reserve(&b, 1) < 0)
            return NULL;
        mn_str next = {b.data, b.len};
        if (count_lt(value) == count_lt(next))
            break;
        value = next;
    }
    return mn_value_str_ref(c->arena, value.ptr, value.len);
}

/* ---- truncatechars_html / truncatewords_html (Truncator._truncate_html). ---- */

static bool uspace_at(mn_str s, size_t i, size_t *next)
{
    size_t k = i;
    uint32_t cp = mn__utf8_next(s.ptr, s.len, &k);
    if (next)
        *next = k;
    return mn__uni_space(cp);
}

/* Django's re_tag (an optional "/", a lazy \S+ name, then "\s* /" or whitespace and anything)
 * matched on a whole tag text. false: no match. */
static bool match_tag(mn_str t, bool *closing, mn_str *name, bool *self_closing)
{
    size_t i = 1;
    *closing = false;
    *self_closing = false;
    if (i < t.len && t.ptr[i] == '/') {
        *closing = true;
        i++;
    }
    size_t start = i, e = i, next;
    for (;;) {
        if (e >= t.len || uspace_at(t, e, &next))
            return false; /* \S+? cannot grow */
        e = next;
        size_t k = e;
        while (k < t.len && uspace_at(t, k, &next))
            k = next;
        if (k + 1 < t.len && t.ptr[k] == '/' && t.ptr[k + 1] == '>') {
            *self_closing = true;
            break;
        }
        if (e < t.len && (t.ptr[e] == '>' || uspace_at(t, e, NULL)))
            break;
    }
    *name = (mn_str){t.ptr + start, e - start};
    return true;
}

static mn_value *truncate_html(const mn_filter_call *c, mn_value *v, mn_value *arg, bool words)
{
    int64_t length;
    if (!mn__fint(arg, &length))
        return v;
    if (words && length <= 0)
        return mn_value_empty_string();
    mn_str text = v->u.str;
    BUF(nfc);
    if (!words) {
        if (mn__uni_nfc(&nfc, text) < 0)
            return NULL;
        text = (mn_str){nfc.data ? nfc.data : "", nfc.len};
    }
    int64_t truncate_len = words ? length : length - 1;
    static const char *const singlets[] = {"br",    "col",  "link", "base", "img",
                                           "param", "area", "hr",   "input"};
    mn_str *open = NULL;
    size_t nopen = 0, capopen = 0;
    size_t pos = 0, end_text_pos = 0;
    int64_t current_len = 0;
    size_t no_gt_from = SIZE_MAX; /* no '>' at or after this position */
    while (current_len <= length) {
        /* the next match: a tag (its text) or one unit (char / word) */
        size_t mstart = 0, mend = 0;
        bool unit = false, found = false;
        if (!words) {
            if (pos < text.len) {
                found = true;
                mstart = pos;
                const char *gt = text.ptr[pos] == '<' && pos + 1 < text.len &&
                                         text.ptr[pos + 1] != '>' && pos + 1 < no_gt_from
                                     ? memchr(text.ptr + pos + 1, '>', text.len - pos - 1)
                                     : NULL;
                if (!gt && text.ptr[pos] == '<' && pos + 1 < no_gt_from)
                    no_gt_from = pos + 1;
                if (gt) {
                    mend = (size_t)(gt - text.ptr) + 1;
                } else {
                    unit = true;
                    mend = pos;
                    mn__utf8_next(text.ptr, text.len, &mend);
                }
            }
        } else {
            /* WordsRegex.search: re_prt (a '<' or a word), a tag up to the next '>', or
             * re_notag from pos + 1 when the '<' never closes */
            size_t k = pos;
            while (k < text.len && text.ptr[k] != '<' &&
                   (text.ptr[k] == '>' || uspace_at(text, k, NULL)))
                mn__utf8_next(text.ptr, text.len, &k);
            if (k < text.len) {
                found = true;
                unit = true;
                mstart = k;
                if (text.ptr[k] == '<') {
                    const char *gt =
                        k + 1 < no_gt_from ? memchr(text.ptr + k + 1, '>', text.len - k - 1) : NULL;
                    if (!gt && k + 1 < no_gt_from)
                        no_gt_from = k + 1;
                    if (gt) {
                        unit = false;
                        mend = (size_t)(gt - text.ptr) + 1;
                    } else {
                        size_t q = pos;
                        mn__utf8_next(text.ptr, text.len, &q);
                        while (q < text.len && (text.ptr[q] == '<' || text.ptr[q] == '>' ||
                                                uspace_at(text, q, NULL)))
                            mn__utf8_next(text.ptr, text.len, &q);
                        found = q < text.len;
                        mstart = q;
                    }
                }
                if (found && unit) {
                    mend = mstart;
                    while (mend < text.len && text.ptr[mend] != '<' && text.ptr[mend] != '>' &&
                           !uspace_at(text, mend, NULL))
                        mn__utf8_next(text.ptr, text.len, &mend);
                }
            }
        }
        if (!found)
            break;
        pos = mend;
        if (unit) {
            current_len++;
            if (current_len == truncate_len)
                end_text_pos = pos;
            continue;
        }
        bool closing, self_closing;
        mn_str name;
        if (!match_tag((mn_str){text.ptr + mstart, mend - mstart}, &closing, &name,
                       &self_closing) ||
            current_len >= truncate_len)
            continue;
        BUF(lower); /* tagname.lower(): Python's full lower-casing */
        if (mn__uni_lower_str(&lower, name) < 0 || mn_buf_reserve(&lower, 1) < 0)
            return NULL;
        mn_str tag = {lower.data, lower.len};
        bool singlet = false;
        for (size_t k = 0; k < sizeof singlets / sizeof singlets[0]; k++)
            singlet |= mn_str_eq_cstr(tag, singlets[k]);
        if (self_closing || singlet)
            continue;
        if (closing) {
            if (nopen && mn_str_eq(open[nopen - 1], tag))
                nopen--;
            continue;
        }
        if (nopen == capopen) {
            size_t nc = capopen ? capopen * 2 : 8;
            mn_str *grown =
                mn_arena_realloc(c->arena, open, capopen * sizeof *open, nc * sizeof *open);
            if (!grown)
                return NULL;
            open = grown, capopen = nc;
        }
        open[nopen++] = tag; /* the most recent is last */
    }
    if (current_len <= length)
        return mn_value_str_ref(c->arena, text.ptr, text.len);
    BUF(b);
    mn_buf_append(&b, text.ptr, end_text_pos);
    mn_buf_puts(&b, words ? " \xe2\x80\xa6" : "\xe2\x80\xa6");
    for (size_t k = nopen; k-- > 0;)
        mn_buf_printf(&b, "</%.*s>", (int)open[k].len, open[k].ptr);
    if (mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn__fresult(c, &b, false);
}

static mn_value *f_truncatechars_html(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    return truncate_html(c, v, arg, false);
}

static mn_value *f_truncatewords_html(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    return truncate_html(c, v, arg, true);
}

/* ---- json_script: json.dumps(value, cls=DjangoJSONEncoder), then < > & escaped. ---- */

static int json_string(mn_buf *b, mn_str s)
{
    mn_buf_putc(b, '"');
    for (size_t i = 0; i < s.len;) {
        uint32_t cp = mn__utf8_next(s.ptr, s.len, &i);
        switch (cp) {
        case '"': mn_buf_puts(b, "\\\""); continue;
        case '\\': mn_buf_puts(b, "\\\\"); continue;
        case '\n': mn_buf_puts(b, "\\n"); continue;
        case '\r': mn_buf_puts(b, "\\r"); continue;
        case '\t': mn_buf_puts(b, "\\t"); continue;
        case '\b': mn_buf_puts(b, "\\b"); continue;
        case '\f': mn_buf_puts(b, "\\f"); continue;
        case '<': mn_buf_puts(b, "\\u003C"); continue;
        case '>': mn_buf_puts(b, "\\u003E"); continue;
        case '&': mn_buf_puts(b, "\\u0026"); continue;
        default: break;
        }
        if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000)) {
            mn_buf_printf(b, "\\u%04x", cp);
        } else if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            mn_buf_printf(b, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
        } else {
            mn_buf_putc(b, (char)cp);
        }
    }
    return mn_buf_putc(b, '"');
}

static int json_value(const mn_filter_call *c, const mn_value *v, mn_buf *b, int depth)
{
    if (depth > 200)
        return MN_ETOOBIG;
    switch (mn_value_kind_of(v)) {
    case MN_VALUE_NONE: return mn_buf_puts(b, "null");
    case MN_VALUE_BOOL: return mn_buf_puts(b, v->u.b ? "true" : "false");
    case MN_VALUE_INT: return mn_buf_put_i64(b, v->u.i);
    case MN_VALUE_DOUBLE: {
        double d = v->u.d;
        if (d != d)
            return mn_buf_puts(b, "NaN");
        if (d > 1.7976931348623157e308)
            return mn_buf_puts(b, "Infinity");
        if (d < -1.7976931348623157e308)
            return mn_buf_puts(b, "-Infinity");
        return mn_value_write_text(v, c->arena, b);
    }
    case MN_VALUE_STRING: return json_string(b, v->u.str);
    case MN_VALUE_DECIMAL: return json_string(b, v->u.str);
    case MN_VALUE_DATE:
    case MN_VALUE_DATETIME:
    case MN_VALUE_TIME: {
        const mn_datetime *t = &v->u.dt;
        mn_buf s;
        mn_buf_init(&s, c->arena);
        if (v->kind != MN_VALUE_TIME)
            mn_buf_printf(&s, "%04d-%02d-%02d", t->year, t->month, t->day);
        if (v->kind == MN_VALUE_DATETIME)
            mn_buf_putc(&s, 'T');
        if (v->kind != MN_VALUE_DATE) {
            if (v->kind == MN_VALUE_TIME && t->aware)
                return MN_EINVAL; /* JSON can't represent timezone-aware times */
            mn_buf_printf(&s, "%02d:%02d:%02d", t->hour, t->minute, t->second);
            if (t->microsecond)
                mn_buf_printf(&s, ".%03d", t->microsecond / 1000);
            if (v->kind == MN_VALUE_DATETIME && t->aware) {
                if (t->utc_offset == 0) {
                    mn_buf_putc(&s, 'Z');
                } else {
                    int32_t o = t->utc_offset < 0 ? -t->utc_offset : t->utc_offset;
                    mn_buf_printf(&s, "%c%02d:%02d", t->utc_offset < 0 ? '-' : '+', o / 3600,
                                  o / 60 % 60);
                }
            }
        }
        return json_string(b, (mn_str){s.data, s.len});
    }
    case MN_VALUE_LIST:
    case MN_VALUE_OBJECT: {
        mn_value *l = (mn_value *)v;
        if (v->kind == MN_VALUE_OBJECT && mn_value_iterate(v, c->arena, &l) < 0)
            return MN_EINVAL; /* not JSON serializable */
        mn_buf_putc(b, '[');
        for (size_t i = 0; i < mn_value_list_len(l); i++) {
            if (i)
                mn_buf_puts(b, ", ");
            int rc = json_value(c, mn_value_list_get(l, i), b, depth + 1);
            if (rc < 0)
                return rc;
        }
        return mn_buf_putc(b, ']');
    }
    case MN_VALUE_DICT:
        mn_buf_putc(b, '{');
        for (size_t i = 0; i < v->u.dict.len; i++) {
            if (i)
                mn_buf_puts(b, ", ");
            json_string(b, v->u.dict.entries[i].key);
            mn_buf_puts(b, ": ");
            int rc = json_value(c, v->u.dict.entries[i].value, b, depth + 1);
            if (rc < 0)
                return rc;
        }
        return mn_buf_putc(b, '}');
    }
    return MN_EINVAL;
}

/* as django.utils.html.json_script (the id is optional since Django 4.1) */
static mn_value *f_json_script(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    BUF(b);
    mn_buf_puts(&b, "<script");
    if (arg && !mn_value_is_none(arg)) {
        mn_buf_puts(&b, " id=\"");
        if (mn__fcond_escape(c, arg, &b) < 0)
            return NULL;
        mn_buf_putc(&b, '"');
    }
    mn_buf_puts(&b, " type=\"application/json\">");
    if (json_value(c, v, &b, 0) < 0)
        return mn__ffail(c, "TypeError: Object is not JSON serializable");
    if (mn_buf_puts(&b, "</script>") < 0 || mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn__fresult(c, &b, true);
}

/* ---- unordered_list ---- */

static mn_value *items_or_chars(const mn_filter_call *c, mn_value *v)
{
    mn_value_kind k = mn_value_kind_of(v);
    if (k == MN_VALUE_STRING)
        return mn__fchars(c, v->u.str);
    if (k != MN_VALUE_LIST && k != MN_VALUE_DICT && k != MN_VALUE_OBJECT)
        return NULL;
    mn_value *l;
    return mn_value_iterate(v, c->arena, &l) < 0 ? NULL : l;
}

static int list_formatter(const mn_filter_call *c, mn_value *list, int tabs, mn_buf *b)
{
    if (tabs > 100)
        return MN_ETOOBIG;
    size_t n = mn_value_list_len(list);
    bool firstline = true;
    for (size_t i = 0; i < n; i++) {
        mn_value *item = mn_value_list_get(list, i), *children = NULL;
        if (i + 1 < n && mn_value_kind_of(mn_value_list_get(list, i + 1)) == MN_VALUE_LIST)
            children = mn_value_list_get(list, ++i);
        if (!firstline)
            mn_buf_putc(b, '\n');
        firstline = false;
        for (int t = 0; t < tabs; t++)
            mn_buf_putc(b, '\t');
        mn_buf_puts(b, "<li>");
        int rc;
        if (c->autoescape) {
            rc = mn__fcond_escape(c, item, b);
        } else {
            rc = mn_value_write_text(item, c->arena, b);
        }
        if (rc < 0)
            return rc;
        if (children && mn_value_list_len(children)) {
            mn_buf_putc(b, '\n');
            for (int t = 0; t < tabs; t++)
                mn_buf_putc(b, '\t');
            mn_buf_puts(b, "<ul>\n");
            rc = list_formatter(c, children, tabs + 1, b);
            if (rc < 0)
                return rc;
            mn_buf_putc(b, '\n');
            for (int t = 0; t < tabs; t++)
                mn_buf_putc(b, '\t');
            mn_buf_puts(b, "</ul>\n");
            for (int t = 0; t < tabs; t++)
                mn_buf_putc(b, '\t');
        }
        mn_buf_puts(b, "</li>");
    }
    return MN_OK;
}

/* as defaultfilters.unordered_list: a list followed by a list gives it a nested <ul>. */
static mn_value *f_unordered_list(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    mn_value *l = items_or_chars(c, v);
    if (!l)
        return mn__ffail(c, "TypeError: object is not iterable");
    BUF(b);
    if (list_formatter(c, l, 1, &b) < 0 || mn_buf_reserve(&b, 1) < 0)
        return mn__ffail(c, "unordered_list: nesting too deep");
    return mn__fresult(c, &b, true);
}

void mn__filters_register_html(mn_template_library *lib)
{
    enum {
        S = MN_FILTER_STRING,
        SAFE = MN_FILTER_IS_SAFE,
        A = MN_FILTER_ARG,
        AE = MN_FILTER_NEEDS_AUTOESCAPE
    };
    mn_template_library_add_filter(lib, "escape", f_escape, SAFE | S);
    mn_template_library_add_filter(lib, "force_escape", f_force_escape, SAFE | S);
    mn_template_library_add_filter(lib, "safe", f_safe, SAFE | S);
    mn_template_library_add_filter(lib, "linebreaks", f_linebreaks, SAFE | S | AE);
    mn_template_library_add_filter(lib, "linebreaksbr", f_linebreaksbr, SAFE | S | AE);
    mn_template_library_add_filter(lib, "striptags", f_striptags, SAFE | S);
    mn_template_library_add_filter(lib, "truncatechars_html", f_truncatechars_html, SAFE | S | A);
    mn_template_library_add_filter(lib, "truncatewords_html", f_truncatewords_html, SAFE | S | A);
    mn_template_library_add_filter(lib, "json_script", f_json_script,
                                   SAFE | MN_FILTER_ARG_OPTIONAL);
    mn_template_library_add_filter(lib, "unordered_list", f_unordered_list, SAFE | AE);
    mn__filters_register_urlize(lib);
}
