/* Fuzzes the whole web stack in process: a request with a fuzzed method, target and the
 * headers the built-in middleware read (Host, Accept-Encoding, If-None-Match,
 * If-Modified-Since, X-Forwarded-Host) goes through every middleware, the router, the views
 * and the error pages, in DEBUG and in production. Input: fields separated by '\n'. */
#include <manouche/testing.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void page(mn_req *r)
{
    for (int i = 0; i < 20; i++)
        mn_resp_puts(r, "a body long enough to be compressed by the gzip middleware. ");
}

static void item(mn_req *r)
{
    int64_t id = mn_path_int(r, "id");
    if (id > 1000)
        mn_http_404(r, "no such item");
    mn_resp_set_header(r, "Last-Modified", "Mon, 30 Nov 2026 10:00:00 GMT");
    mn_resp_printf(r, "item %lld", (long long)id);
}

static void back(mn_req *r)
{
    mn_redirect(r, mn_reverse(r, "shop:item", (int64_t)7));
}

static void fail(mn_req *r)
{
    mn_abort(r, 500, "failing on purpose: %s", mn_req_query(r, "q") ? "q" : "-");
}

static const mn_route shop[] = {
    MN_PATH("<int:id>/", item, "item"),
    MN_PATH_METHODS("<int:id>/buy/", back, "buy", "POST"),
    MN_END,
};

static const mn_route urls[] = {
    MN_PATH("", page, "home"),
    MN_INCLUDE("shop/", shop, "shop"),
    MN_RE_PATH("^files/(?P<rest>.+)$", page, "files"),
    MN_PATH("fail/", fail, "fail"),
    MN_END,
};

static const mn_project project = {"fuzz", urls, NULL, NULL, NULL, NULL, NULL, NULL, NULL};

static mn_site *sites[2];

static void setup(void)
{
    setenv("SECRET_KEY", "fuzz", 1);
    setenv("ALLOWED_HOSTS", "example.com,.example.org", 1);
    setenv("SECURE_HSTS_SECONDS", "60", 1);
    mn_log_configure(MN_LOG_ERROR + 10, false, 2); /* quiet */
    for (int i = 0; i < 2; i++) {
        setenv("DEBUG", i ? "true" : "false", 1);
        mn_settings *s = mn_settings_new();
        if (!s || mn_settings_load(s, NULL) != 0)
            abort();
        char err[256];
        sites[i] = mn_site_new(&project, s, err, sizeof err);
        if (!sites[i])
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sites[0])
        setup();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *field[7] = {0};
    char *p = text;
    for (int i = 0; i < 7; i++) {
        field[i] = p;
        char *nl = p ? strchr(p, '\n') : NULL;
        if (nl)
            *nl = '\0';
        p = nl ? nl + 1 : NULL;
        if (!p)
            break;
    }
    static const char *const names[] = {"Host", "Accept-Encoding", "If-None-Match",
                                        "If-Modified-Since", "X-Forwarded-Host"};
    mn_field headers[5];
    size_t n = 0;
    for (int i = 0; i < 5; i++)
        if (field[2 + i])
            headers[n++] = (mn_field){mn_str_from(names[i]), mn_str_from(field[2 + i])};
    int which = size > 0 && (data[0] & 1);
    /* a client per input: its responses go with it, so every run frees what it made and
     * libFuzzer's leak check stays quiet (and fast) */
    mn_client *client = mn_client_new(sites[which]);
    if (!client) {
        free(text);
        return 0;
    }
    mn_client_request q = {0};
    q.method = field[0] && *field[0] ? field[0] : NULL;
    q.path = field[1] && field[1][0] == '/' ? field[1] : "/";
    q.headers = headers;
    q.header_count = n;
    q.secure = size > 1 && (data[1] & 1);
    mn_req *r = mn_client_request_run(client, &q);
    if (r)
        mn_resp_text(r);
    mn_client_free(client);
    free(text);
    return 0;
}
