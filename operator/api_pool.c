/* api_pool: worker threads that run the API's store-touching requests off the event loop. */
#include "api_pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "operator/api_router.h"
#include "operator/api_status.h"
#include "operator/api_watch.h"

struct api_pool {
    api *a; /* borrowed */
    void (*wake)(void *);
    void *wake_arg;
    pthread_t *threads;
    int n_threads;

    pthread_mutex_t mu;  /* protects everything below */
    pthread_cond_t cond; /* signalled when a job is queued or the pool stops */
    api_job *queue, *queue_tail;
    api_job *done, *done_tail;
    int n_running;
    int is_stopping;
};

api_job *api_job_new(void)
{
    api_job *j = xcalloc(1, sizeof(*j));

    api_request_init(&j->req);
    strbuf_init(&j->body);
    api_response_init(&j->resp);
    return j;
}

void api_job_free(api_job *j)
{
    if (!j)
        return;
    api_stream_free(j->stream);
    api_request_release(&j->req);
    strbuf_release(&j->body);
    api_response_release(&j->resp);
    free(j);
}

/* Route the request; a watch also gets its store watch opened here, or the Status why not. */
static void job_run(api *a, api_job *j)
{
    omlop_err err = OMLOP_ERR_INIT;
    json_object *st;
    const char *reason = NULL;
    int code;

    api_handle(a, &j->req, &j->resp);
    if (!j->resp.watch || j->req.method != API_METHOD_GET)
        return;
    if (api_stream_open(a, j->resp.watch, &j->stream, &err) == 0)
        return;
    code = api_status_code_for_err(err.code, &reason);
    api_response_release(&j->resp);
    st = api_status_new(code, reason, err.msg);
    api_status_respond_obj(&j->resp, st);
    json_object_put(st);
    j->resp.close_connection = j->req.is_websocket;
}

static void *worker_main(void *arg)
{
    api_pool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        api_job *j;

        while (!p->queue && !p->is_stopping)
            pthread_cond_wait(&p->cond, &p->mu);
        if (!p->queue)
            break; /* stopping, and nothing left to take */
        if (p->is_stopping)
            break; /* queued jobs stay for api_pool_free; their connections are closing */
        j = p->queue;
        p->queue = j->next;
        if (!p->queue)
            p->queue_tail = NULL;
        j->next = NULL;
        p->n_running++;
        pthread_mutex_unlock(&p->mu);

        /* nobody waits for an answer past its deadline: the loop already said 503 */
        if (clock_now_ms() >= j->deadline_ms)
            j->is_expired = 1;
        else
            job_run(p->a, j);

        pthread_mutex_lock(&p->mu);
        p->n_running--;
        if (p->done_tail)
            p->done_tail->next = j;
        else
            p->done = j;
        p->done_tail = j;
        /* under the mutex: api_pool_stop joins only after this, so the loop is still there */
        p->wake(p->wake_arg);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int api_pool_new(api *a, int n, void (*wake)(void *), void *arg, api_pool **out, omlop_err *err)
{
    api_pool *p;

    *out = NULL;
    if (n < API_POOL_MIN_WORKERS || n > API_POOL_MAX_WORKERS)
        return omlop_err_set(err, OMLOP_EINVAL, "--api-workers %d: expected %d to %d", n,
                             API_POOL_MIN_WORKERS, API_POOL_MAX_WORKERS);
    p = xcalloc(1, sizeof(*p));
    p->a = a;
    p->wake = wake;
    p->wake_arg = arg;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->threads = xcalloc((size_t)n, sizeof(*p->threads));
    for (int i = 0; i < n; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            api_pool_free(p);
            return omlop_err_set(err, OMLOP_EIO, "cannot start API worker thread %d of %d", i + 1,
                                 n);
        }
        p->n_threads++;
    }
    *out = p;
    return 0;
}

void api_pool_submit(api_pool *p, api_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->queue_tail)
        p->queue_tail->next = j;
    else
        p->queue = j;
    p->queue_tail = j;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

int api_pool_cancel(api_pool *p, api_job *j)
{
    api_job *prev = NULL;
    int found = 0;

    pthread_mutex_lock(&p->mu);
    for (api_job *q = p->queue; q; prev = q, q = q->next) {
        if (q != j)
            continue;
        if (prev)
            prev->next = q->next;
        else
            p->queue = q->next;
        if (p->queue_tail == q)
            p->queue_tail = prev;
        q->next = NULL;
        found = 1;
        break;
    }
    pthread_mutex_unlock(&p->mu);
    return found;
}

api_job *api_pool_take_done(api_pool *p)
{
    api_job *d;

    pthread_mutex_lock(&p->mu);
    d = p->done;
    p->done = p->done_tail = NULL;
    pthread_mutex_unlock(&p->mu);
    return d;
}

void api_pool_stop(api_pool *p)
{
    if (!p || !p->threads)
        return;
    pthread_mutex_lock(&p->mu);
    p->is_stopping = 1;
    pthread_cond_broadcast(&p->cond);
    if (p->n_running)
        log_info("waiting for %d API request(s) still at the store", p->n_running);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    p->threads = NULL;
    p->n_threads = 0;
}

static void free_list(api_job *j)
{
    while (j) {
        api_job *next = j->next;

        api_job_free(j);
        j = next;
    }
}

void api_pool_free(api_pool *p)
{
    if (!p)
        return;
    api_pool_stop(p);
    free_list(p->queue);
    free_list(p->done);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
