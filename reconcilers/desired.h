/*
 * desired: a Tenant (decoded, defaults applied) -> the containers omlop must
 * run, per host, in start order. A pure function: no I/O, no clock, no
 * randomness; the same Tenant always gives the same containers and hashes.
 *
 * Placement follows the 2.X tool: layout aio puts every enabled component on
 * its one host; cluster puts each on the host whose role (data, voice, app) is
 * in the component's groups (the node and Podman exporters and Promtail go on
 * every host); ha runs the full set on both nodes (VIPs and roles come later).
 *
 * Every container carries the labels omlop.io/tenant, omlop.io/component,
 * omlop.io/managed-by=omlop and omlop.io/spec-hash: the SHA-256 of the
 * canonical JSON of its rendered spec (desired_container_spec_json), so any
 * change that would change the container changes the hash and nothing else
 * does. Secrets appear in that spec and in env entries only as references
 * (Secret name + key); their values are fetched through a resolver when the
 * env file is written (desired_env_file_render) and never enter the hash.
 */
#ifndef OMLOP_DESIRED_H
#define OMLOP_DESIRED_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cjson.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "reconcilers/catalog.h"

#define OMLOP_LABEL_TENANT     "omlop.io/tenant"
#define OMLOP_LABEL_COMPONENT  "omlop.io/component"
#define OMLOP_LABEL_MANAGED_BY "omlop.io/managed-by"
#define OMLOP_LABEL_SPEC_HASH  "omlop.io/spec-hash"
/* SHA-256 of the env file as written (Secret values included): a rotated Secret changes it.
 * Set by the reconciler at create time; not part of the desired labels or the spec hash. */
#define OMLOP_LABEL_ENV_HASH "omlop.io/env-hash"
#define OMLOP_MANAGER_NAME   "omlop"
/* The digest (SHA-256 of cert.pem) of the TLS pair a reader of DESIRED_CERTS_DIR was created
 * with (reconcilers/tls.h): set at create time like the env hash, not part of the spec hash
 * (`omlctl render` cannot know the pair); a different pair recreates the readers. */
#define OMLOP_LABEL_TLS_HASH "omlop.io/tls-hash"

/* Where the tenant's TLS pair lives on a host; the components that bind-mount the directory
 * (the catalog's nginx and kamailio) read it. */
#define DESIRED_CERTS_DIR "/etc/omnileads/certs"
#define DESIRED_CERT_FILE DESIRED_CERTS_DIR "/cert.pem"
#define DESIRED_KEY_FILE  DESIRED_CERTS_DIR "/key.pem"
#define DESIRED_CERT_MODE 0644
#define DESIRED_KEY_MODE  0600

/*
 * Secrets omlop generates when the spec names none, as "<tenant><suffix>": the
 * bundled PostgreSQL password (key "password"), the object-storage keys
 * ("accessKey", "secretKey"), the MinIO root account ("user", "password") and
 * the AMI password ("password").
 */
#define DESIRED_SECRET_POSTGRES      "-postgres"
#define DESIRED_SECRET_OBJECTSTORAGE "-objectstorage"
#define DESIRED_SECRET_MINIO_ADMIN   "-minio-admin"
#define DESIRED_SECRET_AMI           "-ami"
/* layout ha: the VRRP PASS authentication of keepalived (key "password"; reconcilers/ha.h) */
#define DESIRED_SECRET_VRRP "-vrrp"

/* Restart policy of every container: survive host reboots (podman-restart.service). */
#define DESIRED_RESTART_POLICY "always"

/*
 * Looks up a host fact the spec cannot give: the public IPv4 address of host
 * (needed for infraEnv cloud/all, or natIP auto). Append it to out and return
 * 0, or return -OMLOP_ENOTFOUND when not known yet.
 */
typedef int (*desired_public_ip_fn)(void *ctx, const char *host, strbuf *out);

/*
 * Fetches a Secret's value: append the value of key in Secret name to out;
 * return 0 or a negative OMLOP_E* with err filled (naming the Secret, never
 * the value).
 */
typedef int (*desired_secret_fn)(void *ctx, const char *name, const char *key, strbuf *out,
                                 omlop_err *err);

typedef struct desired_options {
    desired_public_ip_fn public_ip; /* may be NULL */
    void *public_ip_ctx;
    /* Render facts that are not known yet as "<public-ip:HOST>" instead of failing
     * (omlctl render's dry view). Never set by the reconciler. */
    int allow_unresolved;
    /* The digest of the TLS pair the readers use (reconcilers/tls.h), or NULL: none known. */
    const char *tls_digest;
} desired_options;

/* One environment variable: a literal value, or a reference to a Secret key. */
typedef struct desired_env {
    char *key;
    char *value;       /* NULL for a secret */
    char *secret_name; /* NULL for a literal */
    char *secret_key;
} desired_env;

typedef struct desired_label {
    char *key;
    char *value;
} desired_label;

/* One mount; maps onto podman_mount (VOLUME when is_named, else BIND). */
typedef struct desired_volume {
    char *source; /* named volume, or absolute host path for a bind mount */
    char *target; /* path in the container */
    int is_readonly;
    char *options; /* extra mount options ("rslave"), or NULL */
    int is_named;  /* source is a named volume (Podman creates it; kept on delete) */
    /* bind mount of a host directory omlop makes when missing, with this mode (not part of the
     * spec hash: it changes nothing in the container); 0: the source must exist */
    unsigned dir_mode;
} desired_volume;

/* A host file omlop writes before creating the container (besides the env file). */
typedef struct desired_file {
    char *path;    /* on the host */
    char *target;  /* where the container sees it, mounted read-only */
    char *content; /* no secrets */
} desired_file;

typedef enum desired_ready_kind {
    DESIRED_READY_RUNNING = CATALOG_READY_RUNNING,
    DESIRED_READY_TCP = CATALOG_READY_TCP
} desired_ready_kind;

typedef struct desired_ready {
    desired_ready_kind kind;
    char *address; /* TCP: host address to connect to, from the container's host */
    int port;
    int start_period_s;
} desired_ready;

/* One container to run. Arrays are sorted where order carries no meaning (env, labels). */
typedef struct desired_container {
    const catalog_component *component; /* borrowed from the catalog */
    char *name;                         /* oml-asterisk-server */
    char *image;                        /* full reference */
    char *env_file;                     /* /etc/default/asterisk.env */
    desired_env *env;                   /* sorted by key */
    size_t n_env;
    desired_label *labels; /* sorted by key; includes omlop.io/spec-hash */
    size_t n_labels;
    desired_volume *volumes; /* catalog order */
    size_t n_volumes;
    char **command; /* args after the image, NULL-terminated; n_command 0: the image's own */
    size_t n_command;
    char **cap_add; /* NULL-terminated */
    size_t n_cap_add;
    desired_file *files;
    size_t n_files;
    int64_t memory_limit; /* bytes, 0 = none */
    const char *restart_policy;
    int is_host_network;
    int is_ha_active_only; /* layout ha: runs only on the node holding the VIP (later issue) */
    int is_tls_reader;     /* bind-mounts DESIRED_CERTS_DIR: reads the tenant's TLS pair */
    char *tls_digest;      /* reader: the pair's digest (desired_options.tls_digest), or NULL */
    desired_ready ready;
    char spec_hash[CJSON_HASH_HEX_LEN + 1];
} desired_container;

typedef struct desired_host {
    char *name;                    /* spec.hosts[].name */
    char *role;                    /* aio, data, voice, app, main, backup */
    char *lan_ip;                  /* spec.hosts[].lanIP */
    char *ssh_address;             /* spec.hosts[].ssh.address */
    desired_container *containers; /* start order */
    size_t n_containers;
} desired_host;

typedef struct desired_state desired_state;

/*
 * Build the desired state of a decoded Tenant. Errors (-OMLOP_EINVAL) name the
 * field: a layout whose hosts do not fit it, a missing lanIP, a value that
 * cannot go into an env file. -OMLOP_EUNAVAIL when a public IP is needed and
 * opts->public_ip does not know it (unless opts->allow_unresolved).
 */
int desired_build(const json_object *tenant, const desired_options *opts, desired_state **out,
                  omlop_err *err);

/* Free; NULL is fine. */
void desired_free(desired_state *ds);

/* metadata.name and spec.layout (borrowed). */
const char *desired_tenant(const desired_state *ds);
const char *desired_layout(const desired_state *ds);

/* Hosts in spec order. */
size_t desired_host_count(const desired_state *ds);
const desired_host *desired_host_at(const desired_state *ds, size_t i);
const desired_host *desired_host_find(const desired_state *ds, const char *name);

/* Container of a host by container name, or NULL. */
const desired_container *desired_host_find_container(const desired_host *h, const char *name);

/* Label value of a container, or NULL. */
const char *desired_container_label(const desired_container *c, const char *key);

/* Env entry of a container by key, or NULL. */
const desired_env *desired_container_env(const desired_container *c, const char *key);

/*
 * The canonical spec the hash covers (new object; caller puts it): name, image,
 * env (secrets as {"secretRef": "name/key"}), env file path, labels without the
 * hash, volumes, command, capabilities, memory limit, restart policy, network
 * and host files. Readiness is omlop's own business and is not part of it.
 */
json_object *desired_container_spec_json(const desired_container *c);

/* Everything about a container for display (render, describe): the spec plus labels with
 * the hash and readiness. New object. */
json_object *desired_container_to_json(const desired_container *c);

/* The whole state as {"tenant", "layout", "hosts": [{"name", "role", "lanIP", "containers"}]};
 * only host only_host when not NULL. New object. */
json_object *desired_state_to_json(const desired_state *ds, const char *only_host);

/*
 * The env file omlop writes for c: "KEY=VALUE\n" lines sorted by key. Secrets
 * are fetched through fn; with fn NULL they are written as "<secret:NAME/KEY>"
 * (for display only). A value with a newline or NUL is refused (-OMLOP_EINVAL
 * naming the variable and Secret).
 */
int desired_env_file_render(const desired_container *c, desired_secret_fn fn, void *fn_ctx,
                            strbuf *out, omlop_err *err);

/* Env entries with their values: literals copied, secrets fetched. */
typedef struct desired_env_values {
    desired_label *items; /* key/value pairs in key order (podman_kv-shaped) */
    size_t n;
} desired_env_values;

/*
 * Resolve c's env for a create call: literal values as they are, secrets
 * through fn (required). A secret holding a line break or NUL is refused
 * (-OMLOP_EINVAL naming the variable and Secret, never the value).
 */
int desired_env_resolve(const desired_container *c, desired_secret_fn fn, void *fn_ctx,
                        desired_env_values *out, omlop_err *err);

/* Free the values, wiping them first (they hold secrets). */
void desired_env_values_release(desired_env_values *v);

/*
 * The template variables of one host of a tenant, as an object name -> string
 * or {"secretRef": {"name", "key"}}; undefined variables are absent. For tests
 * and debugging; desired_build uses the same values.
 */
int desired_vars(const json_object *tenant, const char *host, const desired_options *opts,
                 json_object **out, omlop_err *err);

/* Parse a memory size "512", "64k", "1M", "2G" (powers of 1024) into bytes; -OMLOP_EINVAL. */
int desired_parse_memory(const char *s, int64_t *out, omlop_err *err);

#endif
