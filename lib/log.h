/*
 * log: leveled logging in key=value text or JSON lines.
 *
 * The one process-wide piece of state in omlop: main() calls log_configure()
 * once at start-up, before any thread starts; afterwards every thread logs
 * through the same settings. Messages are written "key=value key2=value2 text";
 * in JSON mode each key=value becomes a field and the remaining words become
 * "msg". Never log secrets (tokens, passwords, keys).
 */
#ifndef OMLOP_LOG_H
#define OMLOP_LOG_H

#include <stdio.h>

#include "err.h"

typedef enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3
} log_level;

typedef enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 } log_format;

/* Set level, format and output (NULL = stderr). Call once, before threads start. */
void log_configure(log_level level, log_format format, FILE *out);

/* Parse "debug|info|warn|error"; -EINVAL naming the value otherwise. */
int log_level_parse(const char *s, log_level *out, omlop_err *err);

/* Parse "text|json". */
int log_format_parse(const char *s, log_format *out, omlop_err *err);

/* Whether messages at level would be written. */
int log_is_enabled(log_level level);

/* Write one message at level. */
void log_write(log_level level, const char *fmt, ...) OMLOP_PRINTF(2, 3);

/* Render one message as a line (no newline) in the given format; for tests. */
void log_format_line(char *out, size_t outsz, log_format format, log_level level,
                     const char *timestamp, const char *msg);

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
