/* accept_encoding.c — reading Accept-Encoding (RFC 9110 section 12.5.3) for the gzip middleware
 * and the precompressed static variants: a coding with q=0 is refused, "*" stands for every
 * coding not named, and "x-gzip" is gzip (section 8.4.1.3). */
#include "web/internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* q-value of coding in an Accept-Encoding header: 0 when absent or refused. */
double mn__accept_encoding_q(mn_str header, const char *coding)
{
    if (!header.ptr) /* no Accept-Encoding (and no pointer arithmetic on NULL) */
        return 0;
    size_t cl = strlen(coding);
    const char *p = header.ptr, *end = header.ptr + header.len;
    double star = 0;
    bool star_seen = false;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *tok = p;
        while (p < end && *p != ',' && *p != ';' && *p != ' ')
            p++;
        size_t tl = (size_t)(p - tok);
        double q = 1;
        while (p < end && *p != ',') {
            if (*p == ';') {
                const char *s = p + 1;
                while (s < end && *s == ' ')
                    s++;
                if (s + 1 < end && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=') {
                    char num[8] = {0};
                    size_t k = 0;
                    for (const char *d = s + 2;
                         d < end && k < 7 && (*d == '.' || (*d >= '0' && *d <= '9')); d++)
                        num[k++] = *d;
                    q = strtod(num, NULL);
                }
            }
            p++;
        }
        bool x_alias = tl == cl + 2 && strncasecmp(tok, "x-", 2) == 0 &&
                       strncasecmp(tok + 2, coding, cl) == 0 && strcmp(coding, "gzip") == 0;
        if ((tl == cl && strncasecmp(tok, coding, cl) == 0) || x_alias)
            return q;
        if (tl == 1 && *tok == '*') {
            star = q;
            star_seen = true;
        }
    }
    return star_seen ? star : 0;
}
