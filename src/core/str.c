/* str.c — string slices (pointer + length), compared and parsed without copying. */
#include <manouche/core.h>

#include <string.h>

mn_str mn_str_from(const char *cstr)
{
    mn_str s = {cstr ? cstr : "", cstr ? strlen(cstr) : 0};
    return s;
}

bool mn_str_eq(mn_str a, mn_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool mn_str_eq_cstr(mn_str a, const char *b)
{
    return mn_str_eq(a, mn_str_from(b));
}

static inline char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

bool mn_str_ieq(mn_str a, mn_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (ascii_lower(a.ptr[i]) != ascii_lower(b.ptr[i]))
            return false;
    return true;
}

bool mn_str_ieq_cstr(mn_str a, const char *b)
{
    return mn_str_ieq(a, mn_str_from(b));
}

bool mn_str_starts_with(mn_str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

bool mn_str_ends_with(mn_str s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && memcmp(s.ptr + s.len - n, suffix, n) == 0;
}

mn_str mn_str_trim(mn_str s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

int mn_str_to_i64(mn_str s, int64_t *out)
{
    size_t i = 0;
    bool negative = false;
    if (s.len && (s.ptr[0] == '-' || s.ptr[0] == '+')) {
        negative = s.ptr[0] == '-';
        i = 1;
    }
    if (i == s.len)
        return MN_EINVAL;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < s.len; i++) {
        char c = s.ptr[i];
        if (c < '0' || c > '9')
            return MN_EINVAL;
        unsigned digit = (unsigned)(c - '0');
        if (v > (limit - digit) / 10)
            return MN_EINVAL;
        v = v * 10 + digit;
    }
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return MN_OK;
}
