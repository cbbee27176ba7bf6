/* log.c — one line per event, written with a single write() so that lines from several worker
 * processes never interleave. Development gets readable text; production gets JSON lines. Every
 * line carries the current request id, asked of whichever layer knows it. */
#include <manouche/core.h>

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static mn_log_level min_level = MN_LOG_INFO;
static bool json_lines;
static int log_fd = 2;
static const char *(*request_id_source)(void);

void mn_log_configure(mn_log_level level, bool json, int fd)
{
    min_level = level;
    json_lines = json;
    log_fd = fd;
}

void mn_log_set_request_id_source(const char *(*current_request_id)(void))
{
    request_id_source = current_request_id;
}

const char *mn_log_level_name(mn_log_level level)
{
    switch (level) {
    case MN_LOG_DEBUG: return "DEBUG";
    case MN_LOG_INFO: return "INFO";
    case MN_LOG_WARNING: return "WARNING";
    case MN_LOG_ERROR: return "ERROR";
    }
    return "LOG";
}

/* Appends s as the inside of a JSON string. */
static void put_json_escaped(mn_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            mn_buf_putc(b, '\\');
            mn_buf_putc(b, (char)c);
        } else if (c < 0x20) {
            mn_buf_printf(b, "\\u%04x", c);
        } else {
            mn_buf_putc(b, (char)c);
        }
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

MN_PRINTF(4, 0)
static void emit(mn_log_level level, const char *logger, const char *fields, const char *fmt,
                 va_list ap)
{
    if (level < min_level)
        return;
    /* One buffer per thread, reused line after line: logging does not allocate once warm. */
    static _Thread_local mn_buf line;
    mn_buf_reset(&line);
    char message[2048];
    vsnprintf(message, sizeof message, fmt, ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char when[40];
    size_t wn = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wn, sizeof when - wn, ".%03dZ", (int)(tv.tv_usec / 1000));

    const char *rid = request_id_source ? request_id_source() : NULL;
    if (json_lines) {
        mn_buf_printf(&line, "{\"time\":\"%s\",\"level\":\"%s\",\"logger\":\"", when,
                      mn_log_level_name(level));
        put_json_escaped(&line, logger ? logger : "");
        mn_buf_puts(&line, "\"");
        if (rid && *rid) {
            mn_buf_puts(&line, ",\"request_id\":\"");
            put_json_escaped(&line, rid);
            mn_buf_puts(&line, "\"");
        }
        mn_buf_puts(&line, ",\"message\":\"");
        put_json_escaped(&line, message);
        mn_buf_puts(&line, "\"");
        if (fields && *fields) {
            mn_buf_putc(&line, ',');
            mn_buf_puts(&line, fields);
        }
        mn_buf_puts(&line, "}\n");
    } else {
        mn_buf_printf(&line, "%s %-7s %s", when, mn_log_level_name(level), logger ? logger : "-");
        if (rid && *rid)
            mn_buf_printf(&line, " [%s]", rid);
        mn_buf_printf(&line, " %s", message);
        if (fields && *fields)
            mn_buf_printf(&line, " {%s}", fields);
        mn_buf_putc(&line, '\n');
    }
    write_all(log_fd, line.data, line.len);
}

void mn_log(mn_log_level level, const char *logger, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, logger, NULL, fmt, ap);
    va_end(ap);
}

void mn_log_fields(mn_log_level level, const char *logger, const char *fields_json, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, logger, fields_json, fmt, ap);
    va_end(ap);
}
