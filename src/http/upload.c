/* upload.c — multipart/form-data bodies into request.POST and request.FILES.
 *
 * Placeholder until the streaming multipart parser (multipart.c) is in the tree: every
 * multipart body is refused with a message that says so. */
#include "http/internal.h"

int mn__upload_begin(mn_req *r, mn_str content_type)
{
    (void)content_type;
    mn__field_list_init(&r->form, r->arena);
    r->form_done = true;
    mn__req_set_error(r, "multipart/form-data bodies are not supported yet");
    return MN_EUNSUPPORTED;
}

int mn__upload_feed(mn_req *r, const char *data, size_t len)
{
    return MN_EUNSUPPORTED;
}

int mn__upload_finish(mn_req *r)
{
    return MN_EUNSUPPORTED;
}

int mn__upload_parse_body(mn_req *r)
{
    return mn__upload_begin(r, mn_req_header(r, "Content-Type"));
}
