/* podman_events: event streams, once or followed across breaks (see podman_events.h). */
#include "clients/podman_events.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clients/podman_call.h"
#include "clients/podman_stream.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define FOLLOW_BACKOFF_MS  250
#define FOLLOW_BACKOFF_MAX 5000
#define FOLLOW_SEEN_MAX    64 /* events remembered at the last timestamp, for de-duplication */

struct events_state {
    podman_lines lines;
    podman_event_fn cb;
    void *ud;
    const char *host;
    omlop_err line_err;
    int is_line_err;
};

static int events_line(void *ud, const char *line, size_t len)
{
    struct events_state *s = ud;
    omlop_err e = OMLOP_ERR_INIT;
    podman_event ev;
    int stop;

    if (podman_parse_event(line, len, &ev, &e) < 0) {
        /* one odd line should not end a long-lived stream */
        log_warn("host=%s podman: skipping an event: %s", s->host, e.msg);
        return 0;
    }
    stop = s->cb(s->ud, &ev);
    podman_event_release(&ev);
    return stop;
}

static int events_data(void *ud, const char *data, size_t len)
{
    struct events_state *s = ud;
    int rc = podman_lines_feed(&s->lines, data, len, events_line, s, &s->line_err);

    if (rc < 0)
        s->is_line_err = 1;
    return rc != 0;
}

int podman_events(podman_client *p, const podman_events_opts *o, podman_event_fn cb, void *ud,
                  omlop_err *err)
{
    tunnel_response resp = TUNNEL_RESPONSE_INIT;
    strbuf filters = STRBUF_INIT;
    struct events_state s;
    podman_call c;
    int rc;

    memset(&s, 0, sizeof(s));
    s.cb = cb;
    s.ud = ud;
    s.host = podman_client_host(p);
    podman_call_init(&c, p, "GET", "stream events%s", NULL);
    strbuf_adds(&c.path, "/events");
    podman_query_add(&c.path, "stream", "true");
    if (o && o->filters) {
        podman_filters_json(o->filters, &filters);
        podman_query_add(&c.path, "filters", strbuf_str(&filters));
    }
    if (o && o->since_nano > 0) {
        char since[32];

        /* whole seconds: Podman parses fractions as a float and may round past an event */
        snprintf(since, sizeof(since), "%" PRId64, o->since_nano / 1000000000);
        podman_query_add(&c.path, "since", since);
    }
    c.timeout_ms = -1;
    c.cancel = o ? o->cancel : NULL;
    c.on_data = events_data;
    c.ud = &s;
    rc = podman_call_do(p, &c, PODMAN_OK_200, &resp, err);
    if (rc == 0 && s.is_line_err) {
        *err = s.line_err;
        rc = omlop_err_prefix(err, "host %s: events: ", podman_client_host(p));
    } else if (rc == 0 && !resp.is_stopped && !resp.is_cancelled) {
        /* an event stream has no natural end: Podman went away */
        rc = omlop_err_set(err, OMLOP_EUNAVAIL,
                           "host %s: the event stream ended (the Podman "
                           "service stopped?)",
                           podman_client_host(p));
    }
    podman_lines_release(&s.lines);
    strbuf_release(&filters);
    tunnel_response_release(&resp);
    return rc;
}

/* Follow state: what was delivered, so a resumed stream skips it. */
struct follow {
    podman_event_fn cb;
    void *ud;
    int64_t last_nano;
    char *seen[FOLLOW_SEEN_MAX]; /* keys of events delivered at last_nano */
    size_t n_seen;
    unsigned long delivered;
};

static char *event_key(const podman_event *ev)
{
    strbuf k = STRBUF_INIT;

    strbuf_addf(&k, "%s/%s/%s", ev->type, ev->action, ev->id);
    return strbuf_detach(&k, NULL);
}

static void follow_forget(struct follow *f)
{
    for (size_t i = 0; i < f->n_seen; i++)
        free(f->seen[i]);
    f->n_seen = 0;
}

static int follow_event(void *ud, const podman_event *ev)
{
    struct follow *f = ud;
    char *key;

    if (ev->time_nano < f->last_nano)
        return 0; /* replayed: delivered before the break */
    key = event_key(ev);
    if (ev->time_nano == f->last_nano) {
        for (size_t i = 0; i < f->n_seen; i++) {
            if (strcmp(f->seen[i], key) == 0) {
                free(key);
                return 0;
            }
        }
    } else {
        follow_forget(f);
        f->last_nano = ev->time_nano;
    }
    if (f->n_seen < FOLLOW_SEEN_MAX)
        f->seen[f->n_seen++] = key;
    else
        free(key);
    f->delivered++;
    return f->cb(f->ud, ev);
}

/* Sleep ms in short steps, returning early (1) when *cancel is set. */
static int sleep_cancellable(long ms, atomic_int *cancel)
{
    while (ms > 0) {
        long step = ms < 100 ? ms : 100;

        if (cancel && atomic_load(cancel))
            return 1;
        nanosleep(&(struct timespec){step / 1000, (step % 1000) * 1000000L}, NULL);
        ms -= step;
    }
    return cancel && atomic_load(cancel);
}

int podman_events_follow(podman_client *p, const podman_events_opts *o, podman_event_fn cb,
                         void *ud, omlop_err *err)
{
    podman_events_opts run = *o;
    omlop_err e = OMLOP_ERR_INIT;
    struct follow f;
    long backoff = FOLLOW_BACKOFF_MS;
    long backoff_max = o->backoff_max_ms > 0 ? o->backoff_max_ms : FOLLOW_BACKOFF_MAX;
    unsigned breaks = 0;
    int rc;

    memset(&f, 0, sizeof(f));
    f.cb = cb;
    f.ud = ud;
    f.last_nano = o->since_nano;
    if (f.last_nano == 0) {
        /* resume points are on Podman's clock: take the host's time from a ping's Date */
        tunnel_response resp = TUNNEL_RESPONSE_INIT;
        podman_call c;

        podman_call_init(&c, p, "GET", "ping the Podman service%s", NULL);
        strbuf_adds(&c.path, "/_ping");
        if (podman_call_do(p, &c, PODMAN_OK_200, &resp, NULL) == 0 && resp.date > 0)
            f.last_nano = (int64_t)resp.date * 1000000000;
        tunnel_response_release(&resp);
    }
    for (;;) {
        unsigned long before = f.delivered;

        run.since_nano = f.last_nano;
        rc = podman_events(p, &run, follow_event, &f, &e);
        if (rc == 0)
            break;
        if (f.delivered != before) {
            breaks = 0; /* it worked for a while: start backing off afresh */
            backoff = FOLLOW_BACKOFF_MS;
        }
        breaks++;
        if (o->on_break)
            o->on_break(o->break_ud, &e, breaks);
        log_info("host=%s podman: event stream broke (%s); resuming, attempt %u",
                 podman_client_host(p), e.msg, breaks);
        if (o->max_resumes && breaks > o->max_resumes)
            break;
        if (sleep_cancellable(backoff, o->cancel)) {
            rc = 0;
            break;
        }
        backoff = backoff * 2 > backoff_max ? backoff_max : backoff * 2;
    }
    follow_forget(&f);
    if (rc < 0 && err)
        *err = e;
    return rc;
}

/* --- a stream decoded from raw bytes (no thread of its own) ---------------------------- */

#define STREAM_HEAD_MAX  (16 * 1024)
#define STREAM_CHUNK_MAX 32 /* hex digits and extensions of one chunk-size line */

enum stream_state { ST_HEAD, ST_SIZE, ST_DATA, ST_DATA_END, ST_RAW, ST_DONE };

struct podman_events_stream {
    char *host;
    struct follow f;
    struct events_state lines; /* line splitting and parsing, into follow_event */
    enum stream_state state;
    strbuf head; /* the response head, then a chunk-size line */
    size_t chunk_left;
    int64_t date_nano; /* the first response's Date (the host's clock), 0 if none */
};

podman_events_stream *podman_events_stream_new(const char *host, podman_event_fn cb, void *ud)
{
    podman_events_stream *s = xcalloc(1, sizeof(*s));

    s->host = xstrdup(host ? host : "?");
    s->f.cb = cb;
    s->f.ud = ud;
    s->lines.cb = follow_event;
    s->lines.ud = &s->f;
    s->lines.host = s->host;
    return s;
}

void podman_events_stream_free(podman_events_stream *s)
{
    if (!s)
        return;
    follow_forget(&s->f);
    podman_lines_release(&s->lines.lines);
    strbuf_release(&s->head);
    free(s->host);
    free(s);
}

void podman_events_stream_request(podman_events_stream *s, const char *prefix,
                                  const podman_filters *f, strbuf *out)
{
    strbuf path = STRBUF_INIT, filters = STRBUF_INIT;
    int64_t since = s->f.last_nano ? s->f.last_nano : s->date_nano;

    s->state = ST_HEAD;
    s->chunk_left = 0;
    strbuf_reset(&s->head);
    podman_lines_release(&s->lines.lines);
    s->lines.is_line_err = 0;
    if (!s->f.last_nano)
        s->f.last_nano = since; /* events older than the gap were seen by no one: skip them */
    strbuf_addf(&path, "%s/events", prefix ? prefix : PODMAN_API_PREFIX);
    podman_query_add(&path, "stream", "true");
    if (f) {
        podman_filters_json(f, &filters);
        podman_query_add(&path, "filters", strbuf_str(&filters));
    }
    if (since > 0) {
        char sec[32];

        /* whole seconds: Podman parses fractions as a float and may round past an event */
        snprintf(sec, sizeof(sec), "%" PRId64, since / 1000000000);
        podman_query_add(&path, "since", sec);
    }
    strbuf_addf(out, "GET %s HTTP/1.1\r\nHost: d\r\nAccept: application/json\r\n\r\n",
                strbuf_str(&path));
    strbuf_release(&path);
    strbuf_release(&filters);
}

/* The value of header name in head (case-insensitive name), copied into out; 0 if absent. */
static int head_value(const char *head, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);

    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
        const char *v, *e;

        l += 2;
        if (strncasecmp(l, name, nl) != 0 || l[nl] != ':')
            continue;
        for (v = l + nl + 1; *v == ' ' || *v == '\t'; v++)
            ;
        e = strstr(v, "\r\n");
        if (!e)
            e = v + strlen(v);
        snprintf(out, size, "%.*s", (int)(e - v), v);
        return 1;
    }
    return 0;
}

/* The head is complete (without its blank line): check the status, note Date and framing. */
static int stream_head(podman_events_stream *s, omlop_err *err)
{
    const char *h = strbuf_str(&s->head);
    char te[64] = "", date[64] = "";
    int status = 0;
    struct tm tm;

    if (sscanf(h, "HTTP/1.%*d %d", &status) != 1)
        return omlop_err_set(err, OMLOP_EPROTO, "host %s: events: not an HTTP response", s->host);
    if (status != 200)
        return omlop_err_set(err, OMLOP_EPROTO, "host %s: events: HTTP %d from the Podman service",
                             s->host, status);
    memset(&tm, 0, sizeof(tm));
    if (!s->date_nano && head_value(h, "Date", date, sizeof(date)) &&
        strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm))
        s->date_nano = (int64_t)timegm(&tm) * 1000000000;
    s->state = head_value(h, "Transfer-Encoding", te, sizeof(te)) && strcasestr(te, "chunked")
                   ? ST_SIZE
                   : ST_RAW;
    strbuf_reset(&s->head);
    return 0;
}

static int stream_body(podman_events_stream *s, const char *data, size_t len, omlop_err *err)
{
    int rc = podman_lines_feed(&s->lines.lines, data, len, events_line, &s->lines, err);

    if (rc < 0)
        return omlop_err_prefix(err, "host %s: events: ", s->host);
    return 0;
}

void podman_events_stream_forget(podman_events_stream *s)
{
    follow_forget(&s->f);
    s->f.last_nano = 0;
    s->date_nano = 0;
}

int podman_events_stream_feed(podman_events_stream *s, const char *data, size_t len, omlop_err *err)
{
    while (len > 0) {
        switch (s->state) {
        case ST_HEAD: {
            const char *h;

            strbuf_add(&s->head, data, 1);
            data++;
            len--;
            h = strbuf_str(&s->head);
            if (s->head.len > STREAM_HEAD_MAX)
                return omlop_err_set(err, OMLOP_EPROTO,
                                     "host %s: events: response head over %d bytes", s->host,
                                     STREAM_HEAD_MAX);
            if (s->head.len >= 4 && strcmp(h + s->head.len - 4, "\r\n\r\n") == 0) {
                strbuf_setlen(&s->head, s->head.len - 2);
                if (stream_head(s, err) < 0)
                    return err->code;
            }
            break;
        }
        case ST_SIZE: {
            char *end;
            unsigned long n;

            strbuf_add(&s->head, data, 1);
            data++;
            len--;
            if (s->head.len > STREAM_CHUNK_MAX)
                return omlop_err_set(err, OMLOP_EPROTO, "host %s: events: bad chunk size line",
                                     s->host);
            if (s->head.len < 2 || strcmp(strbuf_str(&s->head) + s->head.len - 2, "\r\n") != 0)
                break;
            n = strtoul(strbuf_str(&s->head), &end, 16);
            if (end == strbuf_str(&s->head) || (*end != ';' && *end != '\r'))
                return omlop_err_set(err, OMLOP_EPROTO, "host %s: events: bad chunk size line",
                                     s->host);
            strbuf_reset(&s->head);
            if (n == 0) {
                s->state = ST_DONE;
                return omlop_err_set(err, OMLOP_EUNAVAIL,
                                     "host %s: the event stream ended (the Podman service "
                                     "stopped?)",
                                     s->host);
            }
            s->chunk_left = n;
            s->state = ST_DATA;
            break;
        }
        case ST_DATA: {
            size_t n = len < s->chunk_left ? len : s->chunk_left;

            if (stream_body(s, data, n, err) < 0)
                return err->code;
            data += n;
            len -= n;
            s->chunk_left -= n;
            if (!s->chunk_left)
                s->state = ST_DATA_END;
            break;
        }
        case ST_DATA_END:
            /* the CRLF after a chunk's data: skip it, byte by byte */
            if (*data == '\n')
                s->state = ST_SIZE;
            else if (*data != '\r')
                return omlop_err_set(err, OMLOP_EPROTO, "host %s: events: bad chunk end", s->host);
            data++;
            len--;
            break;
        case ST_RAW:
            if (stream_body(s, data, len, err) < 0)
                return err->code;
            len = 0;
            break;
        case ST_DONE:
            return omlop_err_set(err, OMLOP_EPROTO, "host %s: events: bytes after the end",
                                 s->host);
        }
    }
    return 0;
}
