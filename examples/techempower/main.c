/* techempower — the TechEmpower Framework Benchmarks app, an ordinary Manouche project.
 * Plaintext and json for now (db, queries, updates and fortunes come with the ORM), to that
 * benchmark's rules:
 *
 *   GET /plaintext  200, Content-Type: text/plain, body "Hello, World!"
 *   GET /json       200, Content-Type: application/json, {"message":"Hello, World!"}: the
 *                   object is built and serialised by the JSON library for every request
 *   every response carries Server, Date and Content-Length.
 *
 *   build/bin/techempower serve 0.0.0.0:8080 --workers 4   production (make techempower)
 *   build/bin/techempower runserver                        development, one process
 *   build/bin/techempower help                             every command
 *
 * Settings come from the environment as in any project. This app only changes three
 * defaults, each still overridable by the environment: no middleware (the benchmark measures
 * the framework's floor; access logging is off as the rules allow), any Host accepted (the
 * benchmark's client sends its own host name), and a fixed SECRET_KEY, since nothing here is
 * signed and `serve` refuses to start without one. */
#include <manouche/cli.h>
#include <manouche/http.h>
#include <manouche/web.h>

#include <jansson.h>
#include <stdlib.h>

static void plaintext(mn_req *r)
{
    mn_resp_set_header(r, "Server", "Manouche");
    mn_resp_send(r, 200, "text/plain", "Hello, World!");
}

static void json(mn_req *r)
{
    json_t *obj = json_object();
    if (!obj || json_object_set_new(obj, "message", json_string("Hello, World!")) != 0) {
        json_decref(obj);
        mn_http_500(r, "out of memory building the JSON object");
    }
    mn_resp_set_header(r, "Server", "Manouche");
    mn_json(r, 200, obj);
}

static const mn_route urls[] = {
    MN_PATH_METHODS("plaintext", plaintext, "plaintext", "GET"),
    MN_PATH_METHODS("json", json, "json", "GET"),
    MN_END,
};

static const mn_project project = {
    .name = "techempower",
    .urls = urls,
    .dir = __FILE__,
};

int main(int argc, char **argv)
{
    /* Defaults for this project only: setenv(..., 0) leaves any value the user set. */
    setenv("MIDDLEWARE", "", 0);
    setenv("ALLOWED_HOSTS", "*", 0);
    setenv("SECRET_KEY", "techempower-benchmark-nothing-is-signed", 0);
    return mn_main(argc, argv, &project);
}
