/*
 * tenant: one reconcile of one Tenant - the shell around the pure core.
 *
 * Level-triggered: whatever woke it, a reconcile re-reads everything. It
 * reads the Tenant from the store, resolves its Secrets (/omlop/secrets/NAME,
 * data in base64 or stringData; the "<tenant>-postgres|-objectstorage|
 * -minio-admin|-ami" Secrets omlop generates are created with random values
 * when absent), builds the desired state (desired.h), lists every container
 * and the needed images on each host, computes the plan (plan.h) and
 * executes it through the Podman client: pulls first, then create / start /
 * recreate in catalog order, recreations one at a time, each waited for until
 * it runs; orphans removed last. A pull that fails skips only the components
 * using that image; any other failed action stops the rollout there. Then it
 * lists the hosts again and writes .status (tenant_status.h) straight to the
 * store with a compare-and-swap on the object's revision, changing nothing
 * but .status (so metadata.generation is untouched, as with the API's status
 * subresource), and records an Event for every repair and failure.
 *
 * Env files: the Podman API cannot write files on the host, so the env a
 * component's /etc/default/<x>.env would hold is passed in the create call
 * (secret values included; they never enter the spec hash or the logs).
 * Host files (env files, Prometheus/Promtail configs) and the bind-mount
 * directories the catalog marks (/etc/omnileads/certs) are made through the
 * host ops before the containers that need them; the files of a component
 * whose container another tenant holds are that tenant's and left alone.
 *
 * Deletion (tenant_lifecycle.h): a Tenant gets the finalizer
 * omlop.io/teardown in the first round that reaches one of its hosts, before
 * anything is done there (a tenant no host of which was ever reached has
 * nothing to tear down, and deleting it must not wait); once metadata.deletionTimestamp is set, a
 * round removes the tenant's containers on every host (named volumes only with spec.deletionPolicy
 * Purge) and the Secrets omlop generated, records an Event, and releases the finalizer (the object
 * disappears). An unreachable host blocks it: a TeardownBlocked Warning event and an error
 * (retried).
 *
 * Paused tenants (annotation omlop.io/paused: "true") are left alone; a
 * deletion still tears them down (if they carry the finalizer). So are tenants held by a
 * restore (annotation omlop.io/restore-hold: <Restore>).
 *
 * Thread safety: tenant_reconcile may run for different tenants in parallel;
 * the caller (operator/manager.c's work queue) never runs one tenant twice at
 * once.
 */
#ifndef OMLOP_TENANT_H
#define OMLOP_TENANT_H

#include <json-c/json.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "clients/podman.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "objects/events.h"
#include "store/store.h"

#define TENANT_KEY_PREFIX        "/omlop/tenants/"
#define TENANT_PAUSED_ANNOTATION "omlop.io/paused"
/* Set by a Restore (reconcilers/restore.h) while the database may be half restored: a round
 * leaves the tenant alone as if paused (nothing restarts the components it stopped). */
#define TENANT_RESTORE_HOLD_ANNOTATION "omlop.io/restore-hold"

/* How to reach one host of a tenant (all borrowed; identity holds a private key). */
typedef struct tenant_host_access {
    const char *tenant;
    const char *host; /* spec.hosts[].name */
    const char *address;
    int port;
    const char *user;
    const char *identity;       /* private key text or its base64 */
    const char *known_host_key; /* spec.hosts[].ssh.knownHostKey, or NULL */
    const char *socket;         /* Podman socket path on the host */
    int is_ha; /* the tenant's layout is ha: the provider watches the host's SSH link closer
                  (omlopd --ha-ssh-keepalive), so a cut-off primary is failed over sooner */
} tenant_host_access;

/* What a host connection tells the status: its host key fingerprint. */
typedef struct tenant_host_info {
    char fingerprint[80];
} tenant_host_info;

/* SHA-256 hex digests of host files: 64 characters. */
#define TENANT_SHA256_HEX_LEN 64

/* One host file to write (all borrowed). */
typedef struct tenant_file_write {
    const char *path;
    const char *data;
    size_t len;
    unsigned mode;
} tenant_file_write;

/* One host directory a bind mount needs (all borrowed). */
typedef struct tenant_dir {
    const char *path;
    unsigned mode;
    const char *owner; /* "UID:GID" for chown, or NULL: the SSH user */
} tenant_dir;

/* Where a host keeps the list of directories omlop made for a tenant:
 * TENANT_DIRS_RECORD_DIR/<tenant> (a deletion with deletionPolicy Purge takes back exactly those).
 */
#define TENANT_DIRS_RECORD_DIR "/var/lib/omlop/dirs"

/*
 * What a reconcile does on a host besides Podman calls: keep files (env files,
 * configs) and probe TCP readiness from the host. A provider whose transport
 * cannot (a local socket in tests and benchmarks) leaves ops NULL: files are
 * then not written and TCP readiness is judged as "running".
 */
typedef struct tenant_host_ops {
    /* hex[i] = SHA-256 of paths[i]'s content, "" when the file does not exist */
    int (*file_hashes)(void *ctx, const char *const *paths, size_t n,
                       char (*hex)[TENANT_SHA256_HEX_LEN + 1], omlop_err *err);
    /* replace each file atomically with its data and mode, creating parent directories, in
     * order; stops at the first failure (err names it) */
    int (*files_write)(void *ctx, const struct tenant_file_write *files, size_t n, omlop_err *err);
    /* remove path; a missing file is fine */
    int (*file_remove)(void *ctx, const char *path, omlop_err *err);
    /* present[i] = 1 when paths[i] is a directory on the host, else 0 */
    int (*dirs_present)(void *ctx, const char *const *paths, size_t n, int *present,
                        omlop_err *err);
    /* make the missing directories (their missing parents 0755), appending each one made - never
     * one that was there - to the file record */
    int (*dirs_make)(void *ctx, const struct tenant_dir *dirs, size_t n, const char *record,
                     omlop_err *err);
    /* remove the directories record lists that are empty, deepest first, then record */
    int (*dirs_remove)(void *ctx, const char *record, omlop_err *err);
    /* append the host's public IPv4 address (infraEnv cloud/nat/all without natIP, or natIP
     * auto); OMLOP_EUNAVAIL when it cannot be learnt now */
    int (*public_ip)(void *ctx, strbuf *out, omlop_err *err);
    /* 0 when address:port accepts a TCP connection from the host; OMLOP_EUNAVAIL when not */
    int (*tcp_probe)(void *ctx, const char *address, int port, omlop_err *err);
} tenant_host_ops;

/* A connected host: its Podman client and, when the transport allows, host ops. */
typedef struct tenant_host_conn {
    podman_client *pc;
    const tenant_host_ops *ops; /* or NULL */
    void *ops_ctx;
} tenant_host_conn;

/*
 * Hands out a connected host (the manager caches them). Everything in *out
 * stays owned by the provider and valid until the reconcile ends.
 * Returns OMLOP_EUNAVAIL (or another error) with err naming the host when it
 * cannot be reached; info (may be NULL) is filled either way when known.
 */
typedef int (*tenant_host_fn)(void *ctx, const tenant_host_access *access, tenant_host_conn *out,
                              tenant_host_info *info, omlop_err *err);

/* Drops the provider's connections to hosts of tenant that are not in keep (NULL-ended). */
typedef void (*tenant_host_forget_fn)(void *ctx, const char *tenant, const char *const *keep);

typedef struct tenant_env {
    store *st;
    events *ev; /* may be NULL: no Events */
    tenant_host_fn host_get;
    tenant_host_forget_fn host_forget; /* may be NULL */
    void *host_ctx;
    long ready_timeout_ms;     /* waiting for a started container to run; 0: 30000 */
    long stop_timeout_s;       /* SIGTERM to SIGKILL on recreate and teardown; 0: the catalog's */
    atomic_int *cancel;        /* shutdown: stop between actions; may be NULL */
    double tls_renew_fraction; /* renew a certificate with this much lifetime left; 0: 1/3 */
    int64_t tls_lifetime_s;    /* of a self-signed certificate; 0: 365 days */
    const char *acme_solver_image; /* tls.mode acme's http-01 solver without
                                      spec.tls.acme.solverImage; NULL: tls_acme.h's default */
    struct tenant_memo *memo;      /* what earlier rounds verified (tenant_memo.h); NULL: verify
                                      images, files and readiness in every round */
} tenant_env;

typedef struct tenant_result {
    int is_gone;        /* the Tenant does not exist (deleted) */
    int is_converged;   /* every component runs as specified */
    int is_unchanged;   /* the round stopped after listing: it started from what the last
                           converged no-change round did (tenant_memo.h, TENANT_MEMO_ROUND) */
    int64_t requeue_ms; /* look again after this long (0: only on the next trigger); the
                           certificate's next renewal or warning, to the millisecond, when
                           that comes first */
} tenant_result;

/*
 * Reconcile tenant name once. Returns 0 when the round went as far as it
 * could (the status says how far), or a negative code when it should be
 * retried with backoff (a host unreachable, an action failed, a store error).
 */
int tenant_reconcile(const tenant_env *env, const char *name, tenant_result *res, omlop_err *err);

/*
 * The Tenant vanished without going through the finalizer (it was removed
 * before omlop added it, or a PUT dropped it): stop and remove the containers
 * labelled with its name and managed by omlop on every host of its last spec
 * (tenant_json, the stored text before deletion). Named volumes are kept
 * unless spec.deletionPolicy is Purge. Generated Secrets are left (nothing
 * says the deletion was meant to reach them).
 */
int tenant_teardown(const tenant_env *env, const char *tenant_json, omlop_err *err);

#endif
