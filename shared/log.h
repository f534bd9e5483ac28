/*
 * log: one JSON object per line on stderr.
 *
 *   {"ts":"2026-11-25T19:07:33.123Z","level":"info","service":"api","msg":"listening","port":8081}
 *
 * Not thread-safe to initialise; log_write itself is safe from any thread
 * (one fputs of a fully built line).
 */
#ifndef SPLITTER_LOG_H
#define SPLITTER_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Name the service and parse the threshold ("debug", "info", "warn", "error").
   Returns 0, or -1 if level is unknown (the threshold stays "info"). */
int log_init(const char *service, const char *level);

/* Write one line if level passes the threshold. fmt formats the "msg" field;
   it is escaped as a JSON string. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
