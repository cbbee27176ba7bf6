/* buf.c — growable byte buffers, on the heap or in an arena. Capacity doubles, so appending n
 * bytes one at a time costs O(n) in all. */
#include <manouche/core.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void mn_buf_init(mn_buf *b, mn_arena *arena)
{
    *b = (mn_buf){.arena = arena};
}

void mn_buf_free(mn_buf *b)
{
    if (!b->arena)
        mn_free(b->data);
    *b = (mn_buf){.arena = b->arena};
}

void mn_buf_reset(mn_buf *b)
{
    b->len = 0;
}

int mn_buf_reserve(mn_buf *b, size_t extra)
{
    /* One spare byte is always kept so that mn_buf_cstr() never has to grow. */
    if (extra > SIZE_MAX - b->len - 1)
        return MN_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return MN_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *data =
        b->arena ? mn_arena_realloc(b->arena, b->data, b->cap, cap) : mn_realloc(b->data, cap);
    if (!data)
        return MN_ENOMEM;
    b->data = data;
    b->cap = cap;
    return MN_OK;
}

int mn_buf_append(mn_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return MN_OK;
    if (mn_buf_reserve(b, n) != MN_OK)
        return MN_ENOMEM;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return MN_OK;
}

int mn_buf_puts(mn_buf *b, const char *s)
{
    return mn_buf_append(b, s, strlen(s));
}

int mn_buf_putc(mn_buf *b, char c)
{
    if (b->len + 1 >= b->cap && mn_buf_reserve(b, 1) != MN_OK)
        return MN_ENOMEM;
    b->data[b->len++] = c;
    return MN_OK;
}

int mn_buf_put_str(mn_buf *b, mn_str s)
{
    return mn_buf_append(b, s.ptr, s.len);
}

int mn_buf_put_u64(mn_buf *b, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return mn_buf_append(b, tmp + sizeof tmp - n, n);
}

int mn_buf_put_i64(mn_buf *b, int64_t v)
{
    if (v >= 0)
        return mn_buf_put_u64(b, (uint64_t)v);
    if (mn_buf_putc(b, '-') != MN_OK)
        return MN_ENOMEM;
    return mn_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
}

int mn_buf_vprintf(mn_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    int rc = MN_EINVAL;
    if (n >= 0 && (rc = mn_buf_reserve(b, (size_t)n)) == MN_OK) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return rc;
}

int mn_buf_printf(mn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = mn_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *mn_buf_cstr(mn_buf *b)
{
    if (mn_buf_reserve(b, 0) != MN_OK)
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

void mn_buf_consume(mn_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
