#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *log_service = "splitter";
static enum log_level log_threshold = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_init(const char *service, const char *level)
{
    log_service = service;
    for (int i = 0; i <= LOG_ERROR; i++) {
        if (level && strcmp(level, level_names[i]) == 0) {
            log_threshold = (enum log_level)i;
            return 0;
        }
    }
    log_threshold = LOG_INFO;
    return -1;
}

/* Append s to buf as the body of a JSON string; stops short of overflowing. */
static size_t escape_into(char *buf, size_t pos, size_t size, const char *s)
{
    for (; *s && pos + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c == '\n') {
            buf[pos++] = '\\';
            buf[pos++] = 'n';
        } else if (c < 0x20) {
            pos += (size_t)snprintf(buf + pos, size - pos, "\\u%04x", c);
        } else {
            buf[pos++] = (char)c;
        }
    }
    return pos;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char msg[2048], line[4608], ts[40];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    if (level < log_threshold)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

    size_t pos =
        (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"service\":\"", ts,
                         level_names[level]);
    pos = escape_into(line, pos, sizeof(line), log_service);
    pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\",\"msg\":\"");
    pos = escape_into(line, pos, sizeof(line) - 4, msg);
    memcpy(line + pos, "\"}\n", 4);
    fputs(line, stderr);
}
