/* log: the process-wide logger (see log.h for why it is global). */
#include "log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "strbuf.h"

/* Longer messages are cut (a line is for reading, not for dumps). */
#define LOG_LINE_MAX 8000

/* Written once by log_configure() before threads start; read-only after. */
static struct {
    log_level level;
    log_format format;
    FILE *out;
} log_settings = {LOG_LEVEL_INFO, LOG_FORMAT_TEXT, NULL};

/* Serializes whole lines so threads do not interleave. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_configure(log_level level, log_format format, FILE *out)
{
    log_settings.level = level;
    log_settings.format = format;
    log_settings.out = out;
}

int log_level_parse(const char *s, log_level *out, omlop_err *err)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    return omlop_err_set(err, OMLOP_EINVAL,
                         "--log-level: '%s' is not one of debug, info, warn, error", s);
}

int log_format_parse(const char *s, log_format *out, omlop_err *err)
{
    if (strcmp(s, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else
        return omlop_err_set(err, OMLOP_EINVAL, "--log-format: '%s' is not one of text, json", s);
    return 0;
}

int log_is_enabled(log_level level)
{
    return level >= log_settings.level;
}

static void json_escape(strbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            strbuf_addf(sb, "\\%c", c);
        else if (c == '\n')
            strbuf_adds(sb, "\\n");
        else if (c == '\t')
            strbuf_adds(sb, "\\t");
        else if (c < 0x20)
            strbuf_addf(sb, "\\u%04x", c);
        else
            strbuf_addch(sb, (char)c);
    }
}

/* A token "key=value" where key is [A-Za-z0-9_.-]+; value may be "double quoted". */
static int split_pair(const char *tok, size_t n, size_t *keylen)
{
    size_t i = 0;

    while (i < n &&
           (isalnum((unsigned char)tok[i]) || tok[i] == '_' || tok[i] == '.' || tok[i] == '-'))
        i++;
    if (i == 0 || i >= n || tok[i] != '=')
        return 0;
    *keylen = i;
    return 1;
}

static void format_json(strbuf *sb, log_level level, const char *ts, const char *msg)
{
    strbuf words = STRBUF_INIT;
    const char *p = msg;

    strbuf_adds(sb, "{\"ts\":\"");
    json_escape(sb, ts, strlen(ts));
    strbuf_addf(sb, "\",\"level\":\"%s\"", level_names[level]);
    while (*p) {
        const char *start;
        size_t n, keylen;

        while (*p == ' ')
            p++;
        if (!*p)
            break;
        start = p;
        if (split_pair(start, strlen(start), &keylen) && start[keylen + 1] == '"') {
            /* quoted value: runs to the closing quote */
            const char *q = strchr(start + keylen + 2, '"');

            p = q ? q + 1 : start + strlen(start);
        } else {
            while (*p && *p != ' ')
                p++;
        }
        n = (size_t)(p - start);
        if (split_pair(start, n, &keylen)) {
            const char *v = start + keylen + 1;
            size_t vn = n - keylen - 1;

            if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
                v++;
                vn -= 2;
            }
            strbuf_adds(sb, ",\"");
            json_escape(sb, start, keylen);
            strbuf_adds(sb, "\":\"");
            json_escape(sb, v, vn);
            strbuf_addch(sb, '"');
        } else {
            if (words.len)
                strbuf_addch(&words, ' ');
            strbuf_add(&words, start, n);
        }
    }
    strbuf_adds(sb, ",\"msg\":\"");
    json_escape(sb, strbuf_str(&words), words.len);
    strbuf_adds(sb, "\"}");
    strbuf_release(&words);
}

static void format_line(strbuf *sb, log_format format, log_level level, const char *timestamp,
                        const char *msg)
{
    if (format == LOG_FORMAT_JSON)
        format_json(sb, level, timestamp, msg);
    else
        strbuf_addf(sb, "%s %-5s %s", timestamp, level_names[level], msg);
}

void log_format_line(char *out, size_t outsz, log_format format, log_level level,
                     const char *timestamp, const char *msg)
{
    strbuf sb = STRBUF_INIT;

    format_line(&sb, format, level, timestamp, msg);
    snprintf(out, outsz, "%s", strbuf_str(&sb));
    strbuf_release(&sb);
}

void log_write(log_level level, const char *fmt, ...)
{
    /* the line goes on the heap: a big stack buffer here would be paid in resident stack
     * pages by each of omlopd's many threads that ever logs */
    char ts[64];
    strbuf msg = STRBUF_INIT, line = STRBUF_INIT;
    struct timespec now;
    struct tm tm;
    va_list ap;
    FILE *out;

    if (!log_is_enabled(level))
        return;
    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
    if (msg.len > LOG_LINE_MAX)
        strbuf_setlen(&msg, LOG_LINE_MAX); /* as long as a line ever was */
    format_line(&line, log_settings.format, level, ts, strbuf_str(&msg));
    out = log_settings.out ? log_settings.out : stderr;
    pthread_mutex_lock(&log_lock);
    fprintf(out, "%s\n", strbuf_str(&line));
    fflush(out);
    pthread_mutex_unlock(&log_lock);
    strbuf_release(&msg);
    strbuf_release(&line);
}
