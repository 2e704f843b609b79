/*
 * api_pool: the API's worker threads, so that the event-loop thread never waits on the store.
 *
 * The loop thread reads a whole request (headers and body), moves it into an api_job and
 * submits it; one of a fixed number of workers routes it (api_handle) and, for a watch, opens
 * the store watch (api_stream_open); the finished job goes on a done list and the loop is woken
 * (the wake function, lws_cancel_service), which takes the done jobs and writes the answers.
 * A slow store (an etcd that answers in seconds) then holds up the workers and the requests
 * queued behind them, never the loop: /healthz, discovery and open watch streams keep flowing.
 *
 * Ownership. Between api_pool_submit and api_pool_take_done a job's req, body, resp and stream
 * are the worker's; meanwhile the loop thread only reads req's strings (remote, path) for its
 * log lines. job->conn is the loop thread's alone: it sets it to NULL when the connection goes
 * away or stops waiting (its deadline passed), and a done job without a connection is freed,
 * its result dropped. No worker ever sees a connection, so none can touch a freed one.
 *
 * Threads: api_pool_submit, _cancel, _take_done, _stop and _free are for the loop thread.
 */
#ifndef OMLOP_API_POOL_H
#define OMLOP_API_POOL_H

#include <stdint.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "operator/api.h"
#include "operator/api_request.h"

/* Bounds of --api-workers. */
#define API_POOL_MIN_WORKERS 1
#define API_POOL_MAX_WORKERS 64

struct api_conn;
struct api_stream;

typedef struct api_job {
    struct api_conn *conn; /* loop thread only: the connection waiting for it, or NULL */
    struct api_job *next;  /* on the queue or the done list (under the pool's mutex) */
    api_request req;       /* moved in from the connection; req.body points into body */
    strbuf body;
    api_response resp;
    struct api_stream *stream; /* the watch the worker opened; resp.watch holds its spec */
    int64_t deadline_ms;       /* clock_now_ms() after which nobody waits for the answer */
    int is_expired;            /* a worker took it after its deadline and did not run it */
} api_job;

typedef struct api_pool api_pool;

/* An empty job. */
api_job *api_job_new(void);

/* Free a job and what it holds (an opened stream is closed); NULL is fine. */
void api_job_free(api_job *j);

/*
 * Start n workers (API_POOL_MIN_WORKERS..API_POOL_MAX_WORKERS) serving requests of a; wake(arg)
 * is called from a worker each time a job is done.
 */
int api_pool_new(api *a, int n, void (*wake)(void *), void *arg, api_pool **out, omlop_err *err);

/* Queue a job (the pool owns it until api_pool_take_done or api_pool_cancel gives it back). */
void api_pool_submit(api_pool *p, api_job *j);

/* Take j off the queue: 1 when it had not started (the caller owns it again), else 0. */
int api_pool_cancel(api_pool *p, api_job *j);

/* The jobs done since the last call, oldest first, linked by next; NULL when none. */
api_job *api_pool_take_done(api_pool *p);

/* Stop the workers once the jobs they run are finished; queued and done jobs stay. */
void api_pool_stop(api_pool *p);

/* Stop, then free every job left; NULL is fine. */
void api_pool_free(api_pool *p);

#endif
