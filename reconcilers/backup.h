/*
 * backup: the reconciler of Backup objects (docs/backups.md).
 *
 * A Backup of tenant T runs in the worker that holds T (operator/manager.c calls
 * backup_reconcile_tenant after T's round), so it never races with a round of T and reuses T's
 * host connections. Execution (backup_run.c): `pg_dump -Fc` inside the tenant's postgres
 * container through the Podman exec API, its stdout streamed into a multipart upload; the
 * Asterisk custom and override directories read through the archive API as tar streams into
 * their own objects; then manifest.json. Nothing is installed on the host, no file is left
 * there, and omlopd holds at most one S3 part of any stream in memory.
 *
 * Bucket layout, relative to the destination's prefix ("backup/"):
 *   <tenant>/<timestamp>/pgsql-backup-<timestamp>.sql   pg_dump -Fc (name as the Ansible tool's)
 *   <tenant>/<timestamp>/asterisk-custom.tar             /etc/asterisk/custom (when present)
 *   <tenant>/<timestamp>/asterisk-override.tar           /etc/asterisk/override (when present)
 *   <tenant>/<timestamp>/manifest.json                   written last: its presence = complete
 * <timestamp> is the start's epoch seconds: Backup.status.timestamp, Restore.spec.timestamp.
 *
 * Phases: Pending -> Running -> Completed | Failed. Running is written (with the timestamp)
 * before the first byte goes to the bucket. A Backup found Running at the start of a call was
 * left so by an omlopd that stopped mid-backup (a running backup never outlives the call that
 * started it): it is marked Failed, the pending multipart uploads under its prefix are aborted
 * and the objects under it deleted. A failure deletes what the backup wrote: Completed means
 * every part and the manifest are in the bucket.
 */
#ifndef OMLOP_BACKUP_H
#define OMLOP_BACKUP_H

#include <json-c/json.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "clients/s3.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "objects/events.h"
#include "reconcilers/desired.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant.h"
#include "store/store.h"

#define BACKUP_KEY_PREFIX "/omlop/backups/"

#define BACKUP_PHASE_PENDING   "Pending"
#define BACKUP_PHASE_RUNNING   "Running"
#define BACKUP_PHASE_COMPLETED "Completed"
#define BACKUP_PHASE_FAILED    "Failed"

#define BACKUP_MAX_PARTS 3 /* database, asterisk custom, asterisk override */

/* Takes len bytes of a stream; 0 or a negative OMLOP_E* (err filled) to stop it. */
typedef int (*backup_sink_fn)(void *ctx, const char *data, size_t len, omlop_err *err);

/* The containers' side (real: clients/podman_pipe.h over the tenant's host connection). */
typedef struct backup_io {
    /* run cmd in container, stdout to sink; stderr's start to err_out; the exit code */
    int (*exec_stream)(void *ctx, const char *container, const char *const *cmd,
                       backup_sink_fn sink, void *sink_ctx, int *exit_code, strbuf *err_out,
                       omlop_err *err);
    /* path of container as a tar stream to sink; OMLOP_ENOTFOUND when it does not exist */
    int (*archive_get)(void *ctx, const char *container, const char *path, backup_sink_fn sink,
                       void *sink_ctx, omlop_err *err);
    void *ctx;
} backup_io;

/* The bucket's side (real: clients/s3.h and s3_upload.h); keys relative to the prefix. */
typedef struct backup_bucket {
    /* a streaming writer into key (multipart for big objects) */
    int (*writer_open)(void *ctx, const char *key, void **w, omlop_err *err);
    int (*writer_write)(void *w, const char *data, size_t len, omlop_err *err);
    /* complete the object (info: size, SHA-256); aborts on failure; frees w either way */
    int (*writer_finish)(void *w, s3_object_info *info, omlop_err *err);
    /* abort the multipart upload if any; frees w */
    int (*writer_abort)(void *w, omlop_err *err);
    int (*put)(void *ctx, const char *key, const char *data, size_t len, s3_object_info *info,
               omlop_err *err);
    /* abort every pending multipart upload under prefix; *n how many */
    int (*abort_pending)(void *ctx, const char *prefix, size_t *n, omlop_err *err);
    /* delete every object under prefix; *n how many */
    int (*delete_prefix)(void *ctx, const char *prefix, size_t *n, omlop_err *err);
    /* "s3://bucket/<prefix><key>" */
    void (*location)(void *ctx, const char *key, strbuf *out);
    void *ctx;
} backup_bucket;

/* One part written. */
typedef struct backup_part {
    char name[32]; /* database, asterisk-custom, asterisk-override */
    char key[S3_MAX_KEY];
    uint64_t size;
    char sha256[S3_SHA256_HEX_LEN + 1];
} backup_part;

/* What one backup is to do (borrowed strings). */
typedef struct backup_job {
    const char *tenant;
    const char *backup; /* the Backup's name */
    const char *timestamp;
    int64_t tenant_generation;
    const char *pg_container;       /* where pg_dump runs */
    const char *asterisk_container; /* NULL: no Asterisk files */
    const backup_io *asterisk_io;   /* where it runs; NULL: the io given to backup_run */
    const json_object *images;      /* {"component": "image reference"}, may be NULL */
    const char *started_at;         /* RFC 3339 */
} backup_job;

/* What a run produced. */
typedef struct backup_outcome {
    backup_part parts[BACKUP_MAX_PARTS];
    size_t n_parts;
    char manifest_key[S3_MAX_KEY];
    uint64_t manifest_size;
    char manifest_sha256[S3_SHA256_HEX_LEN + 1];
    char finished_at[32];
} backup_outcome;

/* What to do with a Backup in a call, from its phase and the tenant's state. Pure. */
typedef enum backup_action {
    BACKUP_ACT_NONE = 0,      /* Completed or Failed: done for good */
    BACKUP_ACT_RUN,           /* Pending (or new) and the tenant Ready: run it now */
    BACKUP_ACT_WAIT,          /* Pending, the tenant not Ready yet: stay Pending */
    BACKUP_ACT_INTERRUPTED,   /* Running at the start of a call: left by a stopped omlopd */
    BACKUP_ACT_FAIL_NOTENANT, /* the tenant does not exist */
} backup_action;

backup_action backup_decide(const char *phase, int is_tenant_found, int is_tenant_ready);

/* "<tenant>/<timestamp>/" into out (reset first). */
void backup_prefix(const char *tenant, const char *timestamp, strbuf *out);

/*
 * Run one backup: row counts and pg_dump's version (psql, pg_dump --version), the dump
 * streamed into the bucket, the Asterisk directories, then manifest.json. On failure err names
 * the step ("exec pg_dump: exit status 1: ...", "upload part 3: SignatureDoesNotMatch (HTTP
 * 403): ..."), every upload is aborted and what was written under the prefix is deleted.
 */
int backup_run(const backup_job *job, const backup_io *io, const backup_bucket *bk,
               backup_outcome *out, omlop_err *err);

/*
 * The manifest.json text of a run: tenant, backup, timestamp, tenant generation, images, parts
 * (key, size, SHA-256), the row count of every table (counts: psql's "schema.table|rows"
 * lines), pg_dump's version, start and end times. Pure; counts that do not parse are
 * OMLOP_EPROTO naming the line.
 */
int backup_manifest_build(const backup_job *job, const backup_outcome *out, const char *counts,
                          const char *pg_dump_version, strbuf *json, omlop_err *err);

/* Makes the bucket of a destination (real: backup_bucket_s3_open); *free_fn releases it. */
typedef int (*backup_bucket_open_fn)(void *ctx, const s3_config *cfg, backup_bucket *out,
                                     omlop_err *err);
typedef void (*backup_bucket_close_fn)(void *ctx, backup_bucket *bk);

typedef struct backup_env {
    store *st;
    events *ev; /* may be NULL */
    tenant_host_fn host_get;
    void *host_ctx;
    atomic_int *cancel; /* shutdown; may be NULL */
    /* tests: replace the bucket and the container side; NULL: S3 and Podman */
    backup_bucket_open_fn bucket_open;
    backup_bucket_close_fn bucket_close;
    void *bucket_ctx;
    const backup_io *io;
} backup_env;

/*
 * Act on every Backup of tenant (spec.tenantRef.name): run the Pending ones (when
 * is_tenant_ready), fail the interrupted ones, fail those of a missing tenant. Returns 0, or a
 * negative code when a store read or write failed (retry).
 */
int backup_reconcile_tenant(const backup_env *env, const char *tenant, int is_tenant_ready,
                            omlop_err *err);

/*
 * Delete what the backup with this timestamp wrote in tenant's bucket (tobj: the Tenant, for
 * its destination): pending multipart uploads aborted, objects under its folder deleted; *n
 * how many objects. For retention (backup_schedule.h).
 */
int backup_purge(const backup_env *env, const json_object *tobj, const char *timestamp, size_t *n,
                 omlop_err *err);

/* The tenant a stored Backup (JSON text) names, copied into out; 0 or OMLOP_EINVAL. */
int backup_tenant_of(const char *value, size_t len, char *out, size_t cap);

/* The real bucket: an s3_client for cfg and s3_upload writers. */
int backup_bucket_s3_open(void *ctx, const s3_config *cfg, backup_bucket *out, omlop_err *err);
void backup_bucket_s3_close(void *ctx, backup_bucket *bk);

/* The real container side over a Podman client (both borrowed; bp must outlive out). */
typedef struct backup_podman {
    podman_client *pc;
    atomic_int *cancel;
} backup_podman;
void backup_io_podman(backup_podman *bp, backup_io *out);

/* ---- shared with the Restore reconciler (reconcilers/restore.h) ------------------------------ */

/* The s3_config of a tenant's backup destination; its strings live in access and secret (the
 * secret wiped by backup_dest_release) or in the Tenant object (borrowed). */
typedef struct backup_dest {
    s3_config cfg;
    strbuf access, secret;
} backup_dest;

/*
 * The objects stored under prefix (BACKUP_KEY_PREFIX, RESTORE_KEY_PREFIX) whose
 * spec.tenantRef.name is tenant, in store order: *objs (n of them, NULL-ended) is the caller's,
 * freed with backup_objects_free. Objects that do not parse are left out.
 */
int backup_objects_of_tenant(store *st, const char *prefix, const char *tenant, json_object ***objs,
                             size_t *n, omlop_err *err);
void backup_objects_free(json_object **objs, size_t n);

/* spec.backup.destination when it has a bucketURL, else spec.objectStorage; errors name the
 * field. Release d either way. */
int backup_dest_from_tenant(const json_object *tenant, secrets_ctx *sc, backup_dest *d,
                            omlop_err *err);
void backup_dest_release(backup_dest *d);

/* Where component runs: its host and container (borrowed from ds), or NULL. */
const desired_container *backup_find_component(const desired_state *ds, const char *component,
                                               const desired_host **host);

/* A connected Podman client for host of tenant (tobj), through env's host cache (borrowed,
 * valid until the worker's call ends); NULL with err. */
podman_client *backup_host_connect(const backup_env *env, secrets_ctx *sc, const char *tenant,
                                   const json_object *tobj, const char *host, omlop_err *err);

/* The exact row count of every table of the container's database (psql, as the manifest
 * takes them) into *tables ({"schema.table": rows}, owned by the caller); errors name the
 * step "exec psql (row counts)". */
int backup_table_counts(const backup_io *io, const char *container, json_object **tables,
                        omlop_err *err);

#endif
