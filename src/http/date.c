/* date.c — the Date header, formatted at most once per second per thread.
 *
 * Every response carries Date (RFC 9110 section 6.6.1); formatting it with gmtime for each of
 * a million requests a second would be a visible cost, so the finished header line is cached
 * and rebuilt only when time(2) (a vDSO call) moves on. */
#include "http/internal.h"

#include <string.h>
#include <time.h>

static _Thread_local time_t cached_second = -1;
static _Thread_local char cached_line[64];
static _Thread_local size_t cached_len;

mn_str mn__date_header(void)
{
    time_t now = time(NULL);
    if (now != cached_second) {
        char date[30];
        mn__http_date((int64_t)now, date);
        size_t n = strlen(date);
        memcpy(cached_line, "Date: ", 6);
        memcpy(cached_line + 6, date, n);
        memcpy(cached_line + 6 + n, "\r\n", 2);
        cached_len = 6 + n + 2;
        cached_second = now;
    }
    return (mn_str){cached_line, cached_len};
}
