/* form.c — application/x-www-form-urlencoded bodies. The format is the query string's, so
 * this is the query parser under the name a reader looks for (Django's request.POST for
 * urlencoded bodies is a QueryDict too, with DATA_UPLOAD_MAX_NUMBER_FIELDS as the limit). */
#include "http/parser.h"

int mn__form_parse(const char *body, size_t len, size_t max_fields, mn__field_list *out)
{
    return mn__query_parse(body, len, max_fields, out);
}
