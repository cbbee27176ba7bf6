/* chunked.c — the chunked transfer coding decoder (RFC 9112 section 7.1).
 *
 * A byte-level state machine for the framing (size lines, CRLFs, trailers), and memmove for
 * the data, which is most of the bytes. Output never overtakes input, so decoding in place
 * is safe: the connection buffer ends up holding the body at its front. Sizes are checked
 * against the body limit as soon as a size line ends, before any of that chunk is read. */
#include "http/parser.h"

#include <string.h>

enum {
    MAX_SIZE_DIGITS = 16,      /* 64 bits of hex: one more is an overflow */
    MAX_SIZE_LINE = 4096,      /* size plus extensions */
    MAX_TRAILER_BYTES = 16384, /* the whole trailer section */
};

enum state {
    S_SIZE_START = 0, /* first hex digit of a size line */
    S_SIZE,           /* more hex digits */
    S_SIZE_WS,        /* BWS after the digits */
    S_EXT,            /* ";..." extension, skipped up to the CR */
    S_SIZE_LF,        /* CR seen, LF expected */
    S_DATA,
    S_DATA_CR, /* CRLF after the data */
    S_DATA_LF,
    S_TRAILER_START, /* a trailer field or the final empty line */
    S_TRAILER_NAME,
    S_TRAILER_VALUE,
    S_TRAILER_LF,
    S_END_LF, /* CR of the final empty line seen */
    S_DONE,
};

void mn__chunked_init(mn__chunked *c, uint64_t max_body)
{
    memset(c, 0, sizeof *c);
    c->max_body = max_body;
}

static mn__http_result fail(mn__chunked *c, int status, const char *message)
{
    c->error.status = status;
    c->error.close = true;
    c->error.message = message;
    return MN__HTTP_ERROR;
}

static int hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* The size line is complete: checks the limit and moves to data or trailers. */
static mn__http_result size_done(mn__chunked *c)
{
    if (c->max_body && c->remaining_ > c->max_body - c->total)
        return fail(c, 413, "request body larger than the limit");
    return MN__HTTP_NEED_MORE;
}

static mn__http_result framing_byte(mn__chunked *c, unsigned char ch)
{
    unsigned char cls = mn__http_char_class[ch];
    switch (c->state_) {
    case S_SIZE_START:
    case S_SIZE: {
        int v = hex_value(ch);
        if (v >= 0) {
            /* leading zeros are legal and don't count; the line length still bounds them */
            if ((c->remaining_ || v) && ++c->size_digits_ > MAX_SIZE_DIGITS)
                return fail(c, 400, "chunk size overflows");
            if (++c->line_len_ > MAX_SIZE_LINE)
                return fail(c, 400, "chunk size line too long");
            c->remaining_ = (c->remaining_ << 4) | (uint64_t)v;
            c->state_ = S_SIZE;
            return MN__HTTP_NEED_MORE;
        }
        if (c->state_ == S_SIZE_START)
            return fail(c, 400, "chunk size is not a hex number");
        if (ch == ' ' || ch == '\t')
            c->state_ = S_SIZE_WS;
        else if (ch == ';')
            c->state_ = S_EXT;
        else if (ch == '\r')
            c->state_ = S_SIZE_LF;
        else
            return fail(c, 400, "invalid character after the chunk size");
        return size_done(c);
    }
    case S_SIZE_WS:
        if (ch == ';')
            c->state_ = S_EXT;
        else if (ch == '\r')
            c->state_ = S_SIZE_LF;
        else if (ch != ' ' && ch != '\t')
            return fail(c, 400, "invalid character after the chunk size");
        return MN__HTTP_NEED_MORE;
    case S_EXT:
        if (ch == '\r')
            c->state_ = S_SIZE_LF;
        else if (!(cls & MN__HTTP_C_FIELD))
            return fail(c, 400, "invalid character in a chunk extension");
        else if (++c->line_len_ > MAX_SIZE_LINE)
            return fail(c, 400, "chunk extension too long");
        return MN__HTTP_NEED_MORE;
    case S_SIZE_LF:
        if (ch != '\n')
            return fail(c, 400, "chunk size line must end with CRLF");
        c->state_ = c->remaining_ ? S_DATA : S_TRAILER_START;
        c->line_len_ = 0;
        c->size_digits_ = 0;
        return MN__HTTP_NEED_MORE;
    case S_DATA_CR:
        if (ch != '\r')
            return fail(c, 400, "chunk data longer than its size");
        c->state_ = S_DATA_LF;
        return MN__HTTP_NEED_MORE;
    case S_DATA_LF:
        if (ch != '\n')
            return fail(c, 400, "chunk data must end with CRLF");
        c->state_ = S_SIZE_START;
        return MN__HTTP_NEED_MORE;
    default: break;
    }
    /* trailer section */
    if (++c->trailer_bytes_ > MAX_TRAILER_BYTES)
        return fail(c, 431, "chunked trailer fields too large");
    switch (c->state_) {
    case S_TRAILER_START:
        if (ch == '\r')
            c->state_ = S_END_LF;
        else if (cls & MN__HTTP_C_TCHAR)
            c->state_ = S_TRAILER_NAME;
        else
            return fail(c, 400, "invalid trailer field");
        return MN__HTTP_NEED_MORE;
    case S_TRAILER_NAME:
        if (ch == ':')
            c->state_ = S_TRAILER_VALUE;
        else if (!(cls & MN__HTTP_C_TCHAR))
            return fail(c, 400, "invalid character in a trailer field name");
        return MN__HTTP_NEED_MORE;
    case S_TRAILER_VALUE:
        if (ch == '\r')
            c->state_ = S_TRAILER_LF;
        else if (!(cls & MN__HTTP_C_FIELD))
            return fail(c, 400, "invalid character in a trailer field value");
        return MN__HTTP_NEED_MORE;
    case S_TRAILER_LF:
        if (ch != '\n')
            return fail(c, 400, "trailer field must end with CRLF");
        c->state_ = S_TRAILER_START;
        return MN__HTTP_NEED_MORE;
    case S_END_LF:
        if (ch != '\n')
            return fail(c, 400, "chunked body must end with CRLF");
        c->state_ = S_DONE;
        return MN__HTTP_DONE;
    default: return fail(c, 400, "chunked decoder used after the end");
    }
}

mn__http_result mn__chunked_decode(mn__chunked *c, const char *in, size_t in_len, char *out,
                                   size_t *out_len, size_t *consumed)
{
    size_t i = 0, o = 0;
    mn__http_result rc = MN__HTTP_NEED_MORE;
    if (c->state_ == S_DONE)
        rc = MN__HTTP_DONE;
    while (rc == MN__HTTP_NEED_MORE && i < in_len) {
        if (c->state_ == S_DATA) {
            size_t n = in_len - i;
            if (n > c->remaining_)
                n = (size_t)c->remaining_;
            if (out + o != in + i)
                memmove(out + o, in + i, n);
            i += n;
            o += n;
            c->remaining_ -= n;
            c->total += n;
            if (c->remaining_ == 0)
                c->state_ = S_DATA_CR;
            continue;
        }
        rc = framing_byte(c, (unsigned char)in[i++]);
    }
    *out_len = o;
    *consumed = i;
    return rc;
}
