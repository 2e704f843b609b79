/* apiclient_watch: watch streams, chunked newline-delimited JSON read with a timeout. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/apiclient.h"
#include "clients/apiclient_int.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct apiclient_watch {
    CURL *easy;
    CURLM *multi;
    struct curl_slist *headers;
    strbuf buf;      /* bytes of the stream not yet returned as events */
    strbuf err_body; /* body of a non-200 answer */
    long code;       /* HTTP status once the status line arrived */
    int headers_done;
    int done; /* the transfer finished (result says how) */
    CURLcode result;
    int overflow; /* an event line exceeded max_event */
    size_t max_event;
    char server[256];
    char errbuf[CURL_ERROR_SIZE];
};

static size_t watch_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    apiclient_watch *w = userdata;
    size_t n = size * nmemb;

    if (!w->code)
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->code);
    if (w->code != 200) {
        if (w->err_body.len + n <= APICLIENT_ERROR_BODY_MAX)
            strbuf_add(&w->err_body, ptr, n);
        return n;
    }
    strbuf_add(&w->buf, ptr, n);
    if (w->buf.len > w->max_event && !memchr(w->buf.buf, '\n', w->buf.len)) {
        w->overflow = 1;
        return 0;
    }
    return n;
}

static size_t watch_header_cb(char *ptr, size_t size, size_t nitems, void *userdata)
{
    apiclient_watch *w = userdata;
    size_t n = size * nitems;

    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        w->headers_done = 0;
        w->code = 0;
    } else if ((n == 2 && ptr[0] == '\r') || (n == 1 && ptr[0] == '\n')) {
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->code);
        if (w->code >= 200)
            w->headers_done = 1;
    }
    return n;
}

/* Let curl move the transfer along, waiting for the socket up to wait_ms. */
static void watch_drive(apiclient_watch *w, long wait_ms)
{
    int running = 0, left;
    CURLMsg *m;

    curl_multi_perform(w->multi, &running);
    while ((m = curl_multi_info_read(w->multi, &left))) {
        if (m->msg == CURLMSG_DONE) {
            w->done = 1;
            w->result = m->data.result;
        }
    }
    if (!w->done && wait_ms > 0) {
        curl_multi_poll(w->multi, NULL, 0, (int)wait_ms, NULL);
        curl_multi_perform(w->multi, &running);
        while ((m = curl_multi_info_read(w->multi, &left))) {
            if (m->msg == CURLMSG_DONE) {
                w->done = 1;
                w->result = m->data.result;
            }
        }
    }
    if (!w->code)
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->code);
}

/* The error for a finished transfer that did not end as a clean 200 stream, or 0. */
static int watch_finish_error(apiclient_watch *w, omlop_err *err)
{
    if (w->overflow)
        return omlop_err_set(err, OMLOP_ELIMIT, "watch on %s: an event is larger than %zu bytes",
                             w->server, w->max_event);
    if (w->code && w->code != 200)
        return apiclient_status_error(w->code, w->err_body.buf, w->err_body.len, err);
    if (w->result != CURLE_OK && w->result != CURLE_PARTIAL_FILE) {
        const char *detail = w->errbuf[0] ? w->errbuf : curl_easy_strerror(w->result);

        if (w->result == CURLE_COULDNT_CONNECT || w->result == CURLE_COULDNT_RESOLVE_HOST)
            return omlop_err_set(err, OMLOP_EUNAVAIL,
                                 "cannot reach omlopd at %s: %s; is omlopd running and is "
                                 "--server right?",
                                 w->server, detail);
        if (w->result == CURLE_OPERATION_TIMEDOUT)
            return omlop_err_set(err, OMLOP_ETIMEOUT, "watch on %s: %s", w->server, detail);
        return omlop_err_set(err, OMLOP_EIO, "watch on %s broke: %s", w->server, detail);
    }
    return 0;
}

int apiclient_watch_open(apiclient *c, const char *path, apiclient_watch **out, omlop_err *err)
{
    apiclient_watch *w;
    strbuf url = STRBUF_INIT;
    long deadline;
    int rc;

    *out = NULL;
    w = xcalloc(1, sizeof(*w));
    strbuf_init(&w->buf);
    strbuf_init(&w->err_body);
    w->max_event = c->max_event;
    snprintf(w->server, sizeof(w->server), "%s", c->server);
    w->easy = curl_easy_init();
    w->multi = curl_multi_init();
    if (!w->easy || !w->multi) {
        apiclient_watch_close(w);
        return omlop_err_set(err, OMLOP_ENOMEM, "curl init failed");
    }
    strbuf_addf(&url, "%s%s", c->base, path);
    w->headers = apiclient_setup_handle(c, w->easy, url.buf, NULL, w->errbuf);
    strbuf_release(&url);
    curl_easy_setopt(w->easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, watch_write_cb);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(w->easy, CURLOPT_HEADERFUNCTION, watch_header_cb);
    curl_easy_setopt(w->easy, CURLOPT_HEADERDATA, w);
    curl_multi_add_handle(w->multi, w->easy);
    log_debug("api=watch path=%s", path);

    /*
     * Wait for the status line so a refused watch (401, 404, 410) fails here,
     * where the caller can tell it from a stream that broke later. A server
     * that holds its headers back is still accepted once the connection is up.
     */
    deadline = clock_now_ms() + c->connect_timeout_ms;
    while (!w->headers_done && !w->done && clock_now_ms() < deadline)
        watch_drive(w, 100);
    if (w->headers_done && w->code != 200) {
        deadline = clock_now_ms() + 10000;
        while (!w->done && clock_now_ms() < deadline)
            watch_drive(w, 100);
    }
    if ((w->headers_done && w->code != 200) || w->done) {
        rc = watch_finish_error(w, err);
        if (rc < 0) {
            apiclient_watch_close(w);
            return rc;
        }
    }
    *out = w;
    return 0;
}

/* Parse one NDJSON line into ev; an ERROR event becomes an error. */
static int watch_parse_line(apiclient_watch *w, const char *line, size_t len, apiclient_event *ev,
                            omlop_err *err)
{
    json_tokener *tok = json_tokener_new();
    json_object *o, *type, *obj;
    const char *t;
    int rc = 0;

    if (!tok)
        abort();
    o = json_tokener_parse_ex(tok, line, (int)len);
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(o, json_type_object)) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "watch on %s: a line is not a JSON object: %.80s",
                           w->server, line);
        goto out;
    }
    type = json_object_object_get(o, "type");
    obj = json_object_object_get(o, "object");
    t = json_object_get_string(type);
    if (!t || !obj) {
        rc = omlop_err_set(err, OMLOP_EPROTO,
                           "watch on %s: an event without \"type\" or \"object\": %.80s", w->server,
                           line);
        goto out;
    }
    if (strcmp(t, "ERROR") == 0) {
        const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
        long code = (long)json_object_get_int64(json_object_object_get(obj, "code"));

        rc = apiclient_status_error(code ? code : 500, text, strlen(text), err);
        goto out;
    }
    if (strcmp(t, "ADDED") == 0)
        ev->type = APICLIENT_EVENT_ADDED;
    else if (strcmp(t, "MODIFIED") == 0)
        ev->type = APICLIENT_EVENT_MODIFIED;
    else if (strcmp(t, "DELETED") == 0)
        ev->type = APICLIENT_EVENT_DELETED;
    else if (strcmp(t, "BOOKMARK") == 0)
        ev->type = APICLIENT_EVENT_BOOKMARK;
    else {
        rc = omlop_err_set(err, OMLOP_EPROTO, "watch on %s: unknown event type '%s'", w->server, t);
        goto out;
    }
    ev->object = json_object_get(obj);
out:
    json_object_put(o);
    json_tokener_free(tok);
    return rc;
}

/* Take the first complete line out of w->buf; 1 when one was taken. */
static int watch_take_line(apiclient_watch *w, strbuf *line)
{
    char *nl;
    size_t n;

    if (!w->buf.len)
        return 0;
    nl = memchr(w->buf.buf, '\n', w->buf.len);
    if (!nl)
        return 0;
    n = (size_t)(nl - w->buf.buf);
    strbuf_reset(line);
    strbuf_add(line, w->buf.buf, n);
    memmove(w->buf.buf, nl + 1, w->buf.len - n - 1);
    strbuf_setlen(&w->buf, w->buf.len - n - 1);
    return 1;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\r' && s[i] != '\t')
            return 0;
    }
    return 1;
}

int apiclient_watch_next(apiclient_watch *w, int timeout_ms, apiclient_event *ev, omlop_err *err)
{
    long deadline = timeout_ms >= 0 ? clock_now_ms() + timeout_ms : 0;
    strbuf line = STRBUF_INIT;
    int rc = 0;

    ev->type = APICLIENT_EVENT_END;
    ev->object = NULL;
    for (;;) {
        long wait;

        while (watch_take_line(w, &line)) {
            if (is_blank(line.buf, line.len))
                continue;
            rc = watch_parse_line(w, line.buf, line.len, ev, err);
            goto out;
        }
        if (w->done) {
            rc = watch_finish_error(w, err);
            if (rc == 0 && w->buf.len && !is_blank(w->buf.buf, w->buf.len)) {
                /* The last event without its newline. */
                strbuf_addch(&w->buf, '\n');
                continue;
            }
            goto out;
        }
        wait = 1000;
        if (timeout_ms >= 0) {
            long left = deadline - clock_now_ms();

            if (left <= 0) {
                rc = omlop_err_set(err, OMLOP_ETIMEOUT, "no watch event within %d ms", timeout_ms);
                goto out;
            }
            if (left < wait)
                wait = left;
        }
        watch_drive(w, wait);
    }
out:
    strbuf_release(&line);
    return rc;
}

void apiclient_watch_close(apiclient_watch *w)
{
    if (!w)
        return;
    if (w->multi && w->easy)
        curl_multi_remove_handle(w->multi, w->easy);
    if (w->easy)
        curl_easy_cleanup(w->easy);
    if (w->multi)
        curl_multi_cleanup(w->multi);
    curl_slist_free_all(w->headers);
    strbuf_release(&w->buf);
    strbuf_release(&w->err_body);
    free(w);
}

void apiclient_event_release(apiclient_event *ev)
{
    json_object_put(ev->object);
    ev->object = NULL;
    ev->type = APICLIENT_EVENT_END;
}

const char *apiclient_event_type_name(apiclient_event_type t)
{
    switch (t) {
    case APICLIENT_EVENT_ADDED:
        return "ADDED";
    case APICLIENT_EVENT_MODIFIED:
        return "MODIFIED";
    case APICLIENT_EVENT_DELETED:
        return "DELETED";
    case APICLIENT_EVENT_BOOKMARK:
        return "BOOKMARK";
    case APICLIENT_EVENT_END:
        break;
    }
    return "END";
}
