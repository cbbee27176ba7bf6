/* upload.c — multipart/form-data bodies into request.POST and request.FILES.
 *
 * The server feeds the body to the streaming parser as it arrives, so a file never has to be
 * whole in memory: a file part stays in the request arena while it is at most upload_memory
 * bytes (FILE_UPLOAD_MAX_MEMORY_SIZE) and moves to a temporary file the moment it grows past
 * that, as Django's MemoryFileUploadHandler / TemporaryFileUploadHandler pair does. Temporary
 * files are unlinked by an arena defer, so they go when the request ends, however it ends. */
#include "http/internal.h"
#include "http/multipart.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct upload {
    mn_req *r;
    mn__multipart *mp;
    /* The part being received. */
    bool in_part;
    bool is_file;
    bool skip; /* a file input left empty (no filename): Django ignores it */
    const char *name;
    const char *filename;
    const char *content_type;
    mn_buf data; /* field value, or file content while in memory */
    int fd;      /* temporary file, -1 while in memory */
    const char *path;
    size_t size;
    size_t field_bytes; /* all non-file bytes so far (DATA_UPLOAD_MAX_MEMORY_SIZE) */
    size_t files;       /* file parts so far (DATA_UPLOAD_MAX_NUMBER_FILES) */
    bool too_many;      /* a count limit stopped the body: 400, not 413 */
} upload;

static void unlink_temp(void *arg)
{
    unlink((const char *)arg);
}

static const char *cstr_copy(mn_arena *a, mn_str s)
{
    return s.ptr ? mn_arena_strndup(a, s.ptr, s.len) : NULL;
}

static int on_part_begin(void *arg, const mn__multipart_part *part)
{
    upload *u = arg;
    mn_arena *a = u->r->arena;
    u->in_part = true;
    u->is_file = part->filename.ptr != NULL;
    u->skip = u->is_file && part->filename.len == 0;
    u->name = cstr_copy(a, part->name);
    u->filename = u->is_file ? cstr_copy(a, part->filename) : NULL;
    u->content_type = part->content_type.ptr ? cstr_copy(a, part->content_type) : NULL;
    mn_buf_init(&u->data, a);
    u->fd = -1;
    u->path = NULL;
    u->size = 0;
    if (!u->name || (u->is_file && !u->filename))
        return MN_ENOMEM;
    /* as Django's MultiPartParser: every file part counts, an empty one too */
    size_t max_files = u->r->limits->max_files;
    if (u->is_file && ++u->files > max_files && max_files) {
        u->too_many = true;
        mn__req_suspicious(u->r, "manouche.security.TooManyFilesSent",
                           "The number of files exceeded settings.DATA_UPLOAD_MAX_NUMBER_FILES "
                           "(%zu).",
                           max_files);
        return MN_ETOOBIG;
    }
    return MN_OK;
}

static int to_temp_file(upload *u)
{
    mn_req *r = u->r;
    const char *dir = r->limits->upload_temp_dir;
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    char *path = mn_arena_printf(r->arena, "%s/mn-upload-XXXXXX", dir);
    if (!path)
        return MN_ENOMEM;
    int fd = mkstemp(path);
    if (fd < 0) {
        mn__req_set_error(r, "cannot create a temporary file in %s: %s", dir, strerror(errno));
        return MN_EIO;
    }
    if (mn_arena_defer(r->arena, unlink_temp, path) != MN_OK) {
        close(fd);
        unlink(path);
        return MN_ENOMEM;
    }
    u->fd = fd;
    u->path = path;
    return MN_OK;
}

static int write_file(upload *u, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(u->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            mn__req_set_error(u->r, "cannot write the uploaded file %s: %s", u->path,
                              strerror(errno));
            return MN_EIO;
        }
        data += n;
        len -= (size_t)n;
    }
    return MN_OK;
}

static int on_part_data(void *arg, const char *data, size_t len)
{
    upload *u = arg;
    const mn_http_limits *lim = u->r->limits;
    if (u->skip)
        return MN_OK;
    u->size += len;
    if (!u->is_file) {
        u->field_bytes += len;
        if (u->field_bytes > lim->max_body) {
            mn__req_set_error(u->r,
                              "the form fields are larger than the limit "
                              "(DATA_UPLOAD_MAX_MEMORY_SIZE, %zu bytes)",
                              lim->max_body);
            return MN_ETOOBIG;
        }
        return mn_buf_append(&u->data, data, len);
    }
    if (lim->max_upload && u->size > lim->max_upload) {
        mn__req_set_error(u->r, "the uploaded file \"%s\" is larger than the limit (%zu bytes)",
                          u->filename, lim->max_upload);
        return MN_ETOOBIG;
    }
    if (u->fd < 0 && u->data.len + len > lim->upload_memory) {
        int rc = to_temp_file(u);
        if (rc == MN_OK)
            rc = write_file(u, u->data.data, u->data.len);
        if (rc)
            return rc;
        mn_buf_init(&u->data, u->r->arena); /* the arena copy is simply forgotten */
    }
    if (u->fd >= 0)
        return write_file(u, data, len);
    return mn_buf_append(&u->data, data, len);
}

static int add_file(upload *u)
{
    mn_req *r = u->r;
    if (r->file_count == r->file_cap) {
        size_t cap = r->file_cap ? r->file_cap * 2 : 4;
        mn_upload *grown =
            mn_arena_realloc(r->arena, r->files, r->file_cap * sizeof *grown, cap * sizeof *grown);
        if (!grown)
            return MN_ENOMEM;
        r->files = grown;
        r->file_cap = cap;
    }
    const char *data = NULL;
    if (!u->path) {
        data = mn_buf_cstr(&u->data);
        if (!data)
            return MN_ENOMEM;
    }
    r->files[r->file_count++] = (mn_upload){
        .field = u->name,
        .filename = u->filename,
        .content_type = u->content_type ? u->content_type : "application/octet-stream",
        .size = u->size,
        .data = data,
        .path = u->path,
    };
    return MN_OK;
}

static int on_part_end(void *arg)
{
    upload *u = arg;
    mn_req *r = u->r;
    u->in_part = false;
    if (u->skip)
        return MN_OK;
    if (u->is_file) {
        if (u->fd >= 0) {
            close(u->fd);
            u->fd = -1;
        }
        return add_file(u);
    }
    /* as Django's MultiPartParser: fields count here, files against their own limit */
    if (r->limits->max_form_fields && r->form.len >= r->limits->max_form_fields) {
        u->too_many = true;
        mn__req_too_many_fields(r);
        return MN_ETOOBIG;
    }
    return mn__field_list_add(&r->form, mn_str_from(u->name),
                              (mn_str){u->data.data ? u->data.data : "", u->data.len});
}

static void close_part_fd(void *arg)
{
    upload *u = arg;
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
}

int mn__upload_begin(mn_req *r, mn_str content_type)
{
    mn_str boundary;
    mn__field_list_init(&r->form, r->arena);
    r->form_done = true;
    if (mn__multipart_boundary(content_type, &boundary) != MN_OK) {
        mn__req_set_error(r, "multipart/form-data without a valid boundary parameter");
        return MN_EINVAL;
    }
    upload *u = mn_arena_calloc(r->arena, 1, sizeof *u);
    if (!u)
        return MN_ENOMEM;
    u->r = r;
    u->fd = -1;
    static const mn__multipart_callbacks cb = {on_part_begin, on_part_data, on_part_end};
    mn__multipart_limits lim = {
        .max_parts = r->limits->max_multipart_parts,
        .max_field_bytes = r->limits->max_body,
        .max_file_bytes = r->limits->max_upload,
    };
    u->mp = mn__multipart_new(r->arena, boundary, &lim, &cb, u);
    if (!u->mp || mn_arena_defer(r->arena, close_part_fd, u) != MN_OK)
        return MN_ENOMEM;
    r->upload = u;
    r->multipart_streamed = true;
    return MN_OK;
}

/* Count limits (fields, files, parts) are Django's SuspiciousOperations: 400 Bad Request.
 * Size limits stay 413 (MN_ETOOBIG), as the issue asks for a body over its limit. */
static int result(mn_req *r, upload *u, int rc)
{
    if (rc == MN_OK)
        return rc;
    if (!u->too_many && mn__multipart_too_many_parts(u->mp)) {
        u->too_many = true;
        mn__req_suspicious(r, "manouche.security.TooManyFieldsSent",
                           "The number of multipart parts exceeded "
                           "settings.DATA_UPLOAD_MAX_NUMBER_PARTS (%zu).",
                           r->limits->max_multipart_parts);
    }
    if (u->too_many)
        return MN_EPROTO;
    if (!*r->error)
        mn__req_set_error(r, "malformed multipart body: %s", mn__multipart_error(u->mp));
    if (rc == MN_ETOOBIG || rc == MN_ENOMEM || rc == MN_EIO)
        return rc;
    return MN_EPROTO;
}

int mn__upload_feed(mn_req *r, const char *data, size_t len)
{
    upload *u = r->upload;
    if (!u)
        return MN_EINVAL;
    return result(r, u, mn__multipart_feed(u->mp, data, len));
}

int mn__upload_finish(mn_req *r)
{
    upload *u = r->upload;
    if (!u)
        return MN_EINVAL;
    return result(r, u, mn__multipart_finish(u->mp));
}

int mn__upload_parse_body(mn_req *r)
{
    int rc = mn__upload_begin(r, mn_req_header(r, "Content-Type"));
    if (rc == MN_OK)
        rc = mn__upload_feed(r, r->body.ptr ? r->body.ptr : "", r->body.len);
    if (rc == MN_OK)
        rc = mn__upload_finish(r);
    return rc;
}
