/* podman_events: event streams, once or followed across breaks (see podman_events.h). */
#include "clients/podman_events.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/podman_call.h"
#include "clients/podman_stream.h"
#include "lib/log.h"

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
