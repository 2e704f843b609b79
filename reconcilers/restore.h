/*
 * restore: the reconciler of Restore objects (docs/backups.md "Restoring").
 *
 * A Restore of tenant T runs in the worker that holds T (operator/manager.c calls
 * restore_reconcile_tenant after T's round and its backups), so it never races with a round of
 * T and uses T's host connections. Its source is a backup of omlop's (spec.backupRef, or
 * spec.timestamp with spec.source.tenant for another tenant's folder): manifest.json, the
 * pg_dump -Fc part and the Asterisk tars; or a plain SQL dump uploaded by hand
 * (spec.source.objectKey, the migration case: no manifest).
 *
 * Steps (restore_run, over the interfaces below; status.steps lists those done):
 *   download           manifest.json read; every Asterisk tar downloaded and its SHA-256
 *                      checked; the dump streamed from S3 into the postgres container
 *                      (PUT archive: /tmp/omlop-restore-<id>.dump) with its SHA-256 checked
 *   stop components    every component but the database, in reverse start order
 *   drop database      DROP DATABASE ... WITH (FORCE), CREATE DATABASE, owned by the user
 *   restore database   pg_restore (psql -f for a plain dump), then the file removed
 *   restore asterisk files   each tar put back under /etc/asterisk (PUT archive)
 *   start components   in start order
 *   verify             every table's row count against the manifest's
 * Nothing is held whole in omlopd's memory or written to its disk: the S3 download's pieces go
 * straight into the PUT's body.
 *
 * Phases: Pending -> Running -> Succeeded | Failed. A failure before "drop database" changes
 * nothing (the components stopped are started again, the dump file removed). A failure at or
 * after it leaves the Tenant held (annotation omlop.io/restore-hold: <restore>, which the
 * tenant round honours by leaving the tenant alone) and Degraded with the step named; it is
 * retried only when the Restore's annotation omlop.io/retry takes a value not yet acted on
 * (status.retry), never in a loop. A Restore found Running at the start of a call was left by
 * an omlopd that stopped: it is Failed ("interrupted"), the hold kept when the drop had begun.
 */
#ifndef OMLOP_RESTORE_H
#define OMLOP_RESTORE_H

#include <json-c/json.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "clients/s3.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "objects/events.h"
#include "reconcilers/backup.h"
#include "reconcilers/tenant.h"
#include "store/store.h"

#define RESTORE_KEY_PREFIX "/omlop/restores/"

#define RESTORE_PHASE_PENDING   "Pending"
#define RESTORE_PHASE_RUNNING   "Running"
#define RESTORE_PHASE_SUCCEEDED "Succeeded"
#define RESTORE_PHASE_FAILED    "Failed"

/* On the Tenant while a restore may leave its database half done: its rounds leave it alone. */
#define RESTORE_HOLD_ANNOTATION TENANT_RESTORE_HOLD_ANNOTATION
/* On a failed Restore: a new value runs it again. */
#define RESTORE_RETRY_ANNOTATION "omlop.io/retry"

#define RESTORE_VERIFY_PASSED  "Passed"
#define RESTORE_VERIFY_FAILED  "Failed"
#define RESTORE_VERIFY_SKIPPED "Skipped" /* a plain dump: no manifest, counts reported only */

typedef enum restore_step {
    RESTORE_STEP_DOWNLOAD = 0,
    RESTORE_STEP_STOP,
    RESTORE_STEP_DROP,
    RESTORE_STEP_RESTORE_DB,
    RESTORE_STEP_ASTERISK,
    RESTORE_STEP_START,
    RESTORE_STEP_VERIFY,
    RESTORE_STEP_COUNT
} restore_step;

/* "download", "stop components", ... */
const char *restore_step_name(restore_step s);

/* The containers' side (real: clients/podman_pipe.h on the tenant's hosts, by container). */
typedef struct restore_io {
    /* as backup_io's: cmd in container, stdout to sink, stderr's start, exit code */
    int (*exec_stream)(void *ctx, const char *container, const char *const *cmd,
                       backup_sink_fn sink, void *sink_ctx, int *exit_code, strbuf *err_out,
                       omlop_err *err);
    /* a tar of exactly len bytes, streamed into container under dir */
    int (*put_open)(void *ctx, const char *container, const char *dir, uint64_t len, void **w,
                    omlop_err *err);
    int (*put_write)(void *w, const char *data, size_t len, omlop_err *err);
    int (*put_finish)(void *w, omlop_err *err); /* Podman's answer; frees w */
    void (*put_abort)(void *w);                 /* frees w */
    int (*stop)(void *ctx, const char *container, omlop_err *err);
    int (*start)(void *ctx, const char *container, omlop_err *err);
    void *ctx;
} restore_io;

/* The bucket's side (real: clients/s3.h); keys relative to the destination's prefix. */
typedef struct restore_bucket {
    /* GetObject streamed to sink; info gets size and the SHA-256 of what was received */
    int (*get)(void *ctx, const char *key, backup_sink_fn sink, void *sink_ctx,
               s3_object_info *info, omlop_err *err);
    /* HeadObject: the size; a missing object is OMLOP_ENOTFOUND */
    int (*head)(void *ctx, const char *key, uint64_t *size, omlop_err *err);
    void (*location)(void *ctx, const char *key, strbuf *out);
    void *ctx;
} restore_bucket;

/* What one restore is to do (borrowed strings). */
typedef struct restore_job {
    const char *tenant;
    const char *id;         /* a name for the dump file in the container (the Restore's uid) */
    const char *manifest;   /* manifest key ("<tenant>/<ts>/manifest.json"), or NULL */
    const char *object_key; /* a plain SQL dump's key (migration), when manifest is NULL */
    const char *pg_container;
    const char *asterisk_container; /* NULL: no Asterisk files put back */
    const char *const *stop;        /* containers to stop, in stop order (reverse start) */
    size_t n_stop;
} restore_job;

/* What a run did. */
typedef struct restore_outcome {
    unsigned done;            /* bit (1 << step) per step done */
    restore_step failed;      /* the step that failed (when run returned < 0) */
    int is_after_drop;        /* the drop began: the database may be gone or half restored */
    const char *verdict;      /* RESTORE_VERIFY_*, or NULL when the run did not get there */
    json_object *tables;      /* counts after the restore {"schema.table": rows}; owned */
    json_object *differ;      /* [{"table", "expected", "actual"}] the tables that differ; owned */
    char source_version[160]; /* the manifest's pgDumpVersion, when there is one */
} restore_outcome;

void restore_outcome_release(restore_outcome *o);

/*
 * Run one restore. 0 when every step went through and verification passed (or was skipped);
 * a negative code with err naming the step ("download: part database: SHA-256 ...", "restore
 * database: exit status 1: ...", "verify: 2 table(s) differ: public.calls 40 != 38") and
 * out->failed / out->is_after_drop telling how far it went.
 */
int restore_run(const restore_job *job, const restore_io *io, const restore_bucket *bk,
                restore_outcome *out, omlop_err *err);

/* What to do with a Restore in a call. Pure. */
typedef enum restore_action {
    RESTORE_ACT_NONE = 0,      /* Succeeded, or Failed without a new retry request */
    RESTORE_ACT_RUN,           /* Pending (or new, or a retry) and the tenant can take it */
    RESTORE_ACT_WAIT,          /* Pending, the tenant not Ready yet */
    RESTORE_ACT_INTERRUPTED,   /* Running at the start of a call: left by a stopped omlopd */
    RESTORE_ACT_FAIL_NOTENANT, /* the tenant does not exist */
} restore_action;

/*
 * phase: status.phase; retry: the retry annotation's value (or NULL); retried: status.retry,
 * the last value acted on; is_held_by_me: the tenant's hold names this Restore (a retry may
 * run while the tenant is held, i.e. not Ready).
 */
restore_action restore_decide(const char *phase, const char *retry, const char *retried,
                              int is_tenant_found, int is_tenant_ready, int is_held_by_me);

/* Makes the bucket of a destination (real: restore_bucket_s3_open). */
typedef int (*restore_bucket_open_fn)(void *ctx, const s3_config *cfg, restore_bucket *out,
                                      omlop_err *err);
typedef void (*restore_bucket_close_fn)(void *ctx, restore_bucket *bk);

typedef struct restore_env {
    store *st;
    events *ev; /* may be NULL */
    tenant_host_fn host_get;
    void *host_ctx;
    atomic_int *cancel; /* shutdown; may be NULL */
    /* tests: replace the bucket and the container side; NULL: S3 and Podman */
    restore_bucket_open_fn bucket_open;
    restore_bucket_close_fn bucket_close;
    void *bucket_ctx;
    const restore_io *io;
} restore_env;

/*
 * Act on every Restore of tenant (spec.tenantRef.name): run a Pending one (or a retried one),
 * fail the interrupted ones and those of a missing tenant. Returns 0, or a negative code when a
 * store read or write failed (retry).
 */
int restore_reconcile_tenant(const restore_env *env, const char *tenant, int is_tenant_ready,
                             omlop_err *err);

/* The tenant a stored Restore (JSON text) names, copied into out; 0 or OMLOP_EINVAL. */
int restore_tenant_of(const char *value, size_t len, char *out, size_t cap);

/* The real bucket over an s3_client. */
int restore_bucket_s3_open(void *ctx, const s3_config *cfg, restore_bucket *out, omlop_err *err);
void restore_bucket_s3_close(void *ctx, restore_bucket *bk);

/* The real container side: each container on its host's Podman client (all borrowed). */
typedef struct restore_podman {
    const char *const *containers;
    podman_client *const *clients; /* clients[i] runs containers[i] */
    size_t n;
    atomic_int *cancel;
    int stop_timeout_s; /* 0: 30 */
} restore_podman;
void restore_io_podman(restore_podman *rp, restore_io *out);

#endif
