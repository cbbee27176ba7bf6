/* bench-floor — the floor Manouche is measured against (DESIGN.md section 6): a minimal
 * single-threaded epoll HTTP/1.1 server in plain C, with no framework and no Manouche code,
 * that does the same work as examples/techempower for GET /plaintext and GET /json.
 * The server itself is bench/lib/floor_server.h; the JSON body is serialised per request,
 * as the TechEmpower rules require.
 *
 *   bench-floor PORT [HOST]      (HOST defaults to 127.0.0.1; PORT 0 picks a free port) */
#define _GNU_SOURCE
#define FLOOR_NAME "bench-floor"
#define FLOOR_SERVER "floor"
#define OUT_RESERVE 1024 /* room one response needs */
#include "../lib/floor_server.h"

static void floor_route(bool get, const char *target, size_t tlen, bool close)
{
    if (get && tlen == 10 && memcmp(target, "/plaintext", 10) == 0)
        respond_plaintext(close);
    else if (get && tlen == 5 && memcmp(target, "/json", 5) == 0)
        respond_json(close);
    else
        respond_error("HTTP/1.1 404 Not Found\r\n", close);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: bench-floor PORT [HOST]\n"
                        "  a minimal epoll server answering GET /plaintext and GET /json\n");
        return argc == 2 ? 0 : 2;
    }
    char *endp;
    long port = strtol(argv[1], &endp, 10);
    if (*endp || port < 0 || port > 65535) {
        fprintf(stderr, "bench-floor: PORT must be a number from 0 to 65535, not '%s'\n", argv[1]);
        return 2;
    }
    const char *host = argc == 3 ? argv[2] : "127.0.0.1";
    return floor_serve(host, (int)port);
}
