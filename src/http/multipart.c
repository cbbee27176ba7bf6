/* multipart.c — streaming multipart/form-data (RFC 7578 over RFC 2046 section 5.1).
 *
 * The one idea: the delimiter is "\r\n--" + boundary and a boundary can't hold a CR, so its
 * only CR is the first byte. Data is skipped with memchr up to the next CR; from there the
 * delimiter is matched byte by byte, and on a mismatch the bytes held so far are exactly the
 * delimiter's own prefix, so they are emitted from the delimiter string itself. Nothing is
 * buffered across feeds but a match count and the current part's header block. */
#include "http/multipart.h"

#include "http/parser.h"

#include <string.h>

enum state {
    S_PREAMBLE,    /* before the first delimiter: discarded */
    S_AFTER_DELIM, /* "--" (the end), padding, or CRLF (a part follows) */
    S_DASH2,
    S_PADDING,
    S_DELIM_LF,
    S_HEADERS,
    S_DATA,
    S_EPILOGUE, /* after the closing delimiter: ignored */
    S_ERROR,
};

struct mn__multipart {
    mn_arena *arena;
    char *delim; /* "\r\n--boundary" */
    size_t delim_len;
    size_t match; /* delimiter bytes matched so far */
    enum state state;
    mn__multipart_limits limits;
    mn__multipart_callbacks cb;
    void *arg;
    char *hdr; /* the current part's header block */
    size_t hdr_len;
    size_t parts;
    size_t part_bytes;
    bool part_is_file;
    bool base64;       /* Content-Transfer-Encoding: base64 (Django decodes it) */
    uint32_t b64_bits; /* sextets carried over between pieces */
    unsigned b64_count;
    char *b64_out; /* decoded bytes on their way to the callback */
    int error;
    const char *message;
    bool too_many_parts; /* stopped at limits.max_parts */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Django's valid-boundary rule (printable ASCII, at most 201 bytes, not ending in a space):
 * laxer than RFC 2046's bchars, and enough to keep CR and LF out of the delimiter. */
static bool valid_boundary(mn_str b)
{
    if (b.len == 0 || b.len > 201 || b.ptr[b.len - 1] == ' ')
        return false;
    for (size_t i = 0; i < b.len; i++)
        if (b.ptr[i] < ' ' || b.ptr[i] > '~')
            return false;
    return true;
}

/* ---- Header parameters (Content-Type, Content-Disposition) ---- */

/* The next ';'-separated piece of s after *pos, quotes respected (Django's _parseparam). */
static bool next_param(mn_str s, size_t *pos, mn_str *piece)
{
    size_t i = *pos;
    if (i >= s.len)
        return false;
    bool quoted = false;
    size_t start = i;
    for (; i < s.len; i++) {
        if (s.ptr[i] == '"' && (i == start || s.ptr[i - 1] != '\\'))
            quoted = !quoted;
        else if (s.ptr[i] == ';' && !quoted)
            break;
    }
    *piece = mn_str_trim((mn_str){s.ptr + start, i - start});
    *pos = i + 1;
    return true;
}

/* Unquotes a parameter value in place ("a\"b" -> a"b), as django's parse_header_parameters. */
static mn_str unquote_value(mn_str v)
{
    if (v.len < 2 || v.ptr[0] != '"' || v.ptr[v.len - 1] != '"')
        return v;
    char *p = (char *)v.ptr; /* points into our own header copy */
    size_t o = 0;
    for (size_t i = 1; i + 1 < v.len; i++) {
        if (p[i] == '\\' && i + 2 < v.len && (p[i + 1] == '\\' || p[i + 1] == '"'))
            i++;
        p[o++] = p[i];
    }
    return (mn_str){p, o};
}

/* filename*=charset'lang'percent-encoded (RFC 5987), decoded in place; UTF-8 and latin-1
 * charsets are taken as bytes. */
static bool ext_value(mn_str v, mn_str *out)
{
    const char *q1 = memchr(v.ptr, '\'', v.len);
    if (!q1)
        return false;
    const char *q2 = memchr(q1 + 1, '\'', v.len - (size_t)(q1 + 1 - v.ptr));
    if (!q2)
        return false;
    const char *s = q2 + 1;
    size_t n = v.len - (size_t)(s - v.ptr), len;
    if (mn__url_decode(s, n, (char *)s, &len, false, true) != MN_OK)
        return false;
    *out = (mn_str){s, len};
    return true;
}

int mn__multipart_boundary(mn_str content_type, mn_str *boundary)
{
    size_t pos = 0;
    mn_str piece;
    if (!next_param(content_type, &pos, &piece) || !mn_str_ieq_cstr(piece, "multipart/form-data"))
        return MN_EINVAL;
    while (next_param(content_type, &pos, &piece)) {
        const char *eq = memchr(piece.ptr, '=', piece.len);
        if (!eq)
            continue;
        mn_str key = mn_str_trim((mn_str){piece.ptr, (size_t)(eq - piece.ptr)});
        mn_str val = mn_str_trim((mn_str){eq + 1, piece.len - (size_t)(eq + 1 - piece.ptr)});
        if (!mn_str_ieq_cstr(key, "boundary"))
            continue;
        if (val.len >= 2 && val.ptr[0] == '"' && val.ptr[val.len - 1] == '"')
            val = (mn_str){val.ptr + 1, val.len - 2};
        if (!valid_boundary(val))
            return MN_EINVAL;
        *boundary = val;
        return MN_OK;
    }
    return MN_EINVAL;
}

/* ---- The parser ---- */

static int fail(mn__multipart *m, int error, const char *message)
{
    m->state = S_ERROR;
    m->error = error;
    m->message = message;
    return error;
}

mn__multipart *mn__multipart_new(mn_arena *arena, mn_str boundary,
                                 const mn__multipart_limits *limits,
                                 const mn__multipart_callbacks *callbacks, void *arg)
{
    if (!valid_boundary(boundary))
        return NULL;
    mn__multipart *m = mn_arena_calloc(arena, 1, sizeof *m);
    if (!m)
        return NULL;
    m->arena = arena;
    m->delim_len = boundary.len + 4;
    m->delim = mn_arena_alloc(arena, m->delim_len);
    if (limits)
        m->limits = *limits;
    if (!m->limits.max_header_bytes)
        m->limits.max_header_bytes = 8192;
    m->hdr = mn_arena_alloc(arena, m->limits.max_header_bytes);
    if (!m->delim || !m->hdr)
        return NULL;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, boundary.ptr, boundary.len);
    if (callbacks)
        m->cb = *callbacks;
    m->arg = arg;
    m->state = S_PREAMBLE;
    m->match = 2; /* the body may start with "--boundary", without the CRLF */
    m->message = "";
    return m;
}

/* Data of the current part: limits, then the callback. */
/* Decoded data of the current part: limits, then the callback. */
static int deliver(mn__multipart *m, const char *data, size_t len)
{
    if (len == 0)
        return MN_OK;
    m->part_bytes += len;
    size_t max = m->part_is_file ? m->limits.max_file_bytes : m->limits.max_field_bytes;
    if (max && m->part_bytes > max)
        return fail(m, MN_ETOOBIG,
                    m->part_is_file ? "uploaded file larger than the limit"
                                    : "form field larger than the limit");
    if (m->cb.on_part_data) {
        int rc = m->cb.on_part_data(m->arg, data, len);
        if (rc)
            return fail(m, rc, "stopped by the data callback");
    }
    return MN_OK;
}

enum { B64_CHUNK = 3072 };

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Base64 body bytes: characters outside the alphabet (line breaks) are skipped, as
 * Python's b64decode does by default; each complete quantum gives three bytes, and padding
 * ends a short one (so concatenated encodings decode one after the other). */
static int b64_feed(mn__multipart *m, const char *data, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)data[i]);
        if (v < 0 && data[i] == '=' && m->b64_count >= 2) {
            unsigned n = m->b64_count;
            uint32_t bits = m->b64_bits << (6 * (4 - n));
            m->b64_out[o++] = (char)(bits >> 16);
            if (n == 3)
                m->b64_out[o++] = (char)(bits >> 8);
            m->b64_count = 0;
            m->b64_bits = 0;
        }
        if (v < 0) {
            if (o + 3 > B64_CHUNK) {
                int rc = deliver(m, m->b64_out, o);
                if (rc)
                    return rc;
                o = 0;
            }
            continue;
        }
        m->b64_bits = m->b64_bits << 6 | (uint32_t)v;
        if (++m->b64_count == 4) {
            m->b64_out[o++] = (char)(m->b64_bits >> 16);
            m->b64_out[o++] = (char)(m->b64_bits >> 8);
            m->b64_out[o++] = (char)m->b64_bits;
            m->b64_count = 0;
            m->b64_bits = 0;
            if (o + 3 > B64_CHUNK) {
                int rc = deliver(m, m->b64_out, o);
                if (rc)
                    return rc;
                o = 0;
            }
        }
    }
    return deliver(m, m->b64_out, o);
}

/* The part ended: a last partial quantum of 2 or 3 characters still holds bytes. */
static int b64_finish(mn__multipart *m)
{
    unsigned n = m->b64_count;
    m->b64_count = 0;
    if (n == 0)
        return MN_OK;
    if (n == 1)
        return fail(m, MN_EPROTO, "malformed base64 in a part (a stray character at its end)");
    uint32_t bits = m->b64_bits << (6 * (4 - n));
    char out[2] = {(char)(bits >> 16), (char)(bits >> 8)};
    return deliver(m, out, n - 1);
}

/* Raw bytes of the current part (nothing in the preamble). */
static int emit(mn__multipart *m, const char *data, size_t len)
{
    if (len == 0 || m->state == S_PREAMBLE)
        return MN_OK;
    return m->base64 ? b64_feed(m, data, len) : deliver(m, data, len);
}

/* The delimiter is complete: the part (if any) ends. */
static int delimiter_done(mn__multipart *m)
{
    m->match = 0;
    if (m->state == S_DATA && m->base64) {
        int rc = b64_finish(m);
        if (rc)
            return rc;
    }
    if (m->state == S_DATA && m->cb.on_part_end) {
        int rc = m->cb.on_part_end(m->arg);
        if (rc)
            return fail(m, rc, "stopped by the part end callback");
    }
    m->state = S_AFTER_DELIM;
    return MN_OK;
}

/* Scans data (or the preamble) for the delimiter. Returns 0 and sets *used to the bytes up
 * to and including a complete delimiter, or all of them.
 *
 * Data goes out in one callback per feed where it can: a CR that turns out not to start the
 * delimiter stays inside the current run (binary files are full of them, and each callback
 * may be a write(2) to a temporary file). Only a match begun in an earlier feed is emitted
 * separately, from the delimiter string, since those bytes are no longer at hand. */
static int scan(mn__multipart *m, const char *p, size_t n, size_t *used)
{
    const size_t held = SIZE_MAX; /* mstart when the match began in an earlier feed */
    size_t i = 0, run = 0, mstart = m->match ? held : 0;
    int rc;
    while (i < n) {
        if (m->match == 0) {
            const char *cr = memchr(p + i, '\r', n - i);
            if (!cr) {
                i = n;
                break;
            }
            mstart = (size_t)(cr - p);
            i = mstart + 1;
            m->match = 1;
            continue;
        }
        if (p[i] == m->delim[m->match]) {
            i++;
            if (++m->match < m->delim_len)
                continue;
            if (mstart != held && (rc = emit(m, p + run, mstart - run)))
                return rc;
            if ((rc = delimiter_done(m)))
                return rc;
            *used = i;
            return MN_OK;
        }
        /* not a delimiter after all; p[i] is looked at again */
        if (mstart == held && (rc = emit(m, m->delim, m->match - i)))
            return rc;
        m->match = 0;
    }
    /* the end of this piece: a match still open is held back (it may be the delimiter) */
    size_t end = m->match == 0 ? n : mstart == held ? run : mstart;
    if ((rc = emit(m, p + run, end - run)))
        return rc;
    *used = n;
    return MN_OK;
}

/* One "Name: value" line of a part's header block. */
static int part_header(mn__multipart *m, mn_str line, mn__multipart_part *part)
{
    const char *colon = memchr(line.ptr, ':', line.len);
    if (!colon || colon == line.ptr)
        return fail(m, MN_EPROTO, "malformed part header line");
    mn_str name = {line.ptr, (size_t)(colon - line.ptr)};
    for (size_t i = 0; i < name.len; i++)
        if (!(mn__http_char_class[(unsigned char)name.ptr[i]] & MN__HTTP_C_TCHAR))
            return fail(m, MN_EPROTO, "invalid character in a part header name");
    mn_str value = mn_str_trim((mn_str){colon + 1, line.len - name.len - 1});
    if (mn_str_ieq_cstr(name, "content-type")) {
        part->content_type = value;
        return MN_OK;
    }
    if (mn_str_ieq_cstr(name, "content-transfer-encoding")) {
        m->base64 = mn_str_ieq_cstr(value, "base64");
        return MN_OK;
    }
    if (!mn_str_ieq_cstr(name, "content-disposition"))
        return MN_OK;
    size_t pos = 0;
    mn_str piece, ext_filename = {NULL, 0};
    if (!next_param(value, &pos, &piece) || !mn_str_ieq_cstr(piece, "form-data"))
        return fail(m, MN_EPROTO, "part Content-Disposition is not form-data");
    while (next_param(value, &pos, &piece)) {
        const char *eq = memchr(piece.ptr, '=', piece.len);
        if (!eq)
            continue;
        mn_str key = mn_str_trim((mn_str){piece.ptr, (size_t)(eq - piece.ptr)});
        mn_str val = mn_str_trim((mn_str){eq + 1, piece.len - (size_t)(eq + 1 - piece.ptr)});
        if (mn_str_ieq_cstr(key, "name")) {
            part->name = unquote_value(val);
        } else if (mn_str_ieq_cstr(key, "filename")) {
            part->filename = unquote_value(val);
        } else if (mn_str_ieq_cstr(key, "filename*")) {
            if (!ext_value(unquote_value(val), &ext_filename))
                return fail(m, MN_EPROTO, "malformed filename* parameter");
        }
    }
    if (ext_filename.ptr)
        part->filename = ext_filename;
    return MN_OK;
}

/* Replaces s by a copy with U+FFFD for invalid UTF-8, when it needs one. */
static int repair(mn__multipart *m, mn_str *s)
{
    if (!s->ptr || mn__utf8_valid(s->ptr, s->len))
        return MN_OK;
    char *fixed = mn_arena_alloc(m->arena, 3 * s->len + 1);
    if (!fixed)
        return MN_ENOMEM;
    s->len = mn__utf8_repair(s->ptr, s->len, fixed);
    s->ptr = fixed;
    return MN_OK;
}

/* The header block is complete (it ends with CRLF CRLF, or is just CRLF). */
static int begin_part(mn__multipart *m)
{
    mn__multipart_part part = {.index = m->parts};
    m->base64 = false;
    m->b64_count = 0;
    m->b64_bits = 0;
    if (++m->parts > m->limits.max_parts && m->limits.max_parts) {
        m->too_many_parts = true;
        return fail(m, MN_ETOOBIG, "too many parts in the multipart body");
    }
    size_t i = 0, end = m->hdr_len - 2; /* the empty line */
    while (i < end) {
        const char *cr = memchr(m->hdr + i, '\r', end - i);
        size_t e = (size_t)(cr - m->hdr); /* every line ends with CRLF: checked on arrival */
        int rc = part_header(m, (mn_str){m->hdr + i, e - i}, &part);
        if (rc)
            return rc;
        i = e + 2;
    }
    if (!part.name.ptr)
        return fail(m, MN_EPROTO, "part without a Content-Disposition name");
    /* Django decodes these with errors="replace": views only see valid UTF-8 */
    if (repair(m, &part.name) || repair(m, &part.filename))
        return fail(m, MN_ENOMEM, "out of memory");
    m->part_is_file = part.filename.ptr != NULL;
    if (m->base64 && !m->b64_out && !(m->b64_out = mn_arena_alloc(m->arena, B64_CHUNK)))
        return fail(m, MN_ENOMEM, "out of memory");
    m->part_bytes = 0;
    m->state = S_DATA;
    if (m->cb.on_part_begin) {
        int rc = m->cb.on_part_begin(m->arg, &part);
        if (rc)
            return fail(m, rc, "stopped by the part begin callback");
    }
    return MN_OK;
}

/* Appends one header byte; CR must be followed by LF, and a bare LF is refused. */
static int header_byte(mn__multipart *m, char c)
{
    if (m->hdr_len >= m->limits.max_header_bytes)
        return fail(m, MN_ETOOBIG, "part headers larger than the limit");
    size_t n = m->hdr_len;
    if (n && m->hdr[n - 1] == '\r' && c != '\n')
        return fail(m, MN_EPROTO, "bare CR in part headers");
    if (c == '\n' && (n == 0 || m->hdr[n - 1] != '\r'))
        return fail(m, MN_EPROTO, "bare LF in part headers");
    if (c == '\0')
        return fail(m, MN_EPROTO, "NUL in part headers");
    m->hdr[m->hdr_len++] = c;
    n = m->hdr_len;
    if (is_space(c) && (n == 1 || m->hdr[n - 2] == '\n'))
        return fail(m, MN_EPROTO, "folded part header (obs-fold)");
    if (c == '\n' && (n == 2 || (n >= 4 && memcmp(m->hdr + n - 4, "\r\n\r\n", 4) == 0)))
        return begin_part(m);
    return MN_OK;
}

int mn__multipart_feed(mn__multipart *m, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        char c = data[i];
        switch (m->state) {
        case S_ERROR: return m->error;
        case S_EPILOGUE: return MN_OK;
        case S_PREAMBLE:
        case S_DATA: {
            size_t used;
            int rc = scan(m, data + i, len - i, &used);
            if (rc)
                return rc;
            i += used;
            continue;
        }
        case S_AFTER_DELIM:
            if (c == '-')
                m->state = S_DASH2;
            else if (c == '\r')
                m->state = S_DELIM_LF;
            else if (is_space(c))
                m->state = S_PADDING;
            else
                return fail(m, MN_EPROTO, "boundary followed by something else than CRLF or --");
            break;
        case S_DASH2:
            if (c != '-')
                return fail(m, MN_EPROTO, "malformed closing boundary");
            m->state = S_EPILOGUE;
            return MN_OK;
        case S_PADDING:
            if (c == '\r')
                m->state = S_DELIM_LF;
            else if (!is_space(c))
                return fail(m, MN_EPROTO, "boundary followed by something else than CRLF or --");
            break;
        case S_DELIM_LF:
            if (c != '\n')
                return fail(m, MN_EPROTO, "boundary line must end with CRLF");
            m->state = S_HEADERS;
            m->hdr_len = 0;
            break;
        case S_HEADERS: {
            int rc = header_byte(m, c);
            if (rc)
                return rc;
            break;
        }
        }
        i++;
    }
    return m->state == S_ERROR ? m->error : MN_OK;
}

int mn__multipart_finish(mn__multipart *m)
{
    if (m->state == S_ERROR)
        return m->error;
    if (m->state != S_EPILOGUE)
        return fail(m, MN_EPROTO, "multipart body ended before the closing boundary");
    return MN_OK;
}

bool mn__multipart_done(const mn__multipart *m)
{
    return m->state == S_EPILOGUE;
}

bool mn__multipart_too_many_parts(const mn__multipart *m)
{
    return m->too_many_parts;
}

const char *mn__multipart_error(const mn__multipart *m)
{
    return m->message;
}
