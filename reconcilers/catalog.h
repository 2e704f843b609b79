/*
 * catalog: every OMniLeads component omlop runs, as ONE data table.
 *
 * Facts come from the 2.X omldeploytool (release-2.2.2; see
 * docs/components.md and ../shared/reference/omnileads-components.md): one
 * container per component named oml-<name>-server, host network, an env file
 * /etc/default/<x>.env, named volumes, the groups aio/data/voice/app and the
 * start order of matrix.yml. What the 3.X tool learned is kept too: an external
 * service given in the spec (database.host, objectStorage.bucketURL,
 * telephony.rtpengineHost, redis.host) disables the bundled one.
 *
 * The table is read-only data; nothing here looks at a Tenant. desired.c turns
 * it plus a Tenant into containers. Strings marked "template" hold literal text
 * with {var} placeholders naming a catalog variable (catalog_var_*): desired.c
 * fills them per host. An env entry, command or volume whose variables are not
 * all defined for a tenant is left out (that is how optional settings such as
 * PUBLIC_IP or the SMTP relay appear only when the spec has them). A secret
 * variable must be a template's only content ("{pg_password}"): secrets are
 * passed by reference, never pasted into a larger string.
 *
 * catalog.c holds the table; catalog_check.c its invariants (run by the tests).
 */
#ifndef OMLOP_CATALOG_H
#define OMLOP_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Cluster roles a component runs on; aio and ha hosts run every enabled component. */
typedef enum catalog_group {
    CATALOG_GROUP_DATA = 1u << 0,
    CATALOG_GROUP_VOICE = 1u << 1,
    CATALOG_GROUP_APP = 1u << 2,
    CATALOG_GROUP_EVERY = (1u << 0) | (1u << 1) | (1u << 2)
} catalog_group;

/* "Disabled when" conditions, OR-ed: the component is not deployed if any holds. */
typedef enum catalog_off {
    CATALOG_OFF_EXT_POSTGRES = 1u << 0,  /* spec.database.host set */
    CATALOG_OFF_EXT_BUCKET = 1u << 1,    /* spec.objectStorage.bucketURL set */
    CATALOG_OFF_EXT_RTPENGINE = 1u << 2, /* spec.telephony.rtpengineHost set */
    CATALOG_OFF_EXT_REDIS = 1u << 3,     /* spec.redis.host set */
    CATALOG_OFF_NO_METRICS = 1u << 4,    /* spec.observability.enabled false */
    CATALOG_OFF_NO_LOKI = 1u << 5,       /* spec.observability.lokiURL empty (or metrics off) */
    CATALOG_OFF_NOT_HA = 1u << 6         /* spec.layout is not ha (keepalived) */
} catalog_off;

/* How the container's memory limit is chosen. */
typedef enum catalog_mem {
    CATALOG_MEM_NONE = 0,      /* no limit */
    CATALOG_MEM_FIXED,         /* always mem_bytes */
    CATALOG_MEM_ASTERISK_SCALE /* spec.scaling.asterisk.memoryLimit when that section exists */
} catalog_mem;

/* What "ready" means after a start, for rollouts that wait before the next component. */
typedef enum catalog_ready {
    CATALOG_READY_RUNNING = 0, /* running and still running after ready_start_s */
    CATALOG_READY_TCP          /* ready_addr:ready_port accepts a TCP connection (from the host) */
} catalog_ready;

/* Host files a component needs besides its env file, rendered from the layout. */
typedef enum catalog_file {
    CATALOG_FILE_NONE = 0,
    CATALOG_FILE_PROMETHEUS, /* prometheus.yml scraping the tenant's exporters */
    CATALOG_FILE_PROMTAIL,   /* promtail.yml shipping the host journal to Loki */
    CATALOG_FILE_KEEPALIVED  /* the keepalived start script with its config (reconcilers/ha.h) */
} catalog_file;

/* One env entry: KEY and its value template. Tables end with {NULL, NULL}. */
typedef struct catalog_env {
    const char *key;
    const char *tmpl;
} catalog_env;

/* One mount. source: a named volume or an absolute host path (template). Ends with source NULL. */
typedef struct catalog_volume {
    const char *source;
    const char *target;
    int is_readonly;
    const char *options; /* extra mount options ("rslave"), or NULL */
    /* A bind mount of a directory omlop makes on the host when it is missing (a fresh host has
     * no /etc/omnileads/certs, and Podman refuses to create a container whose bind source is
     * missing), with this mode; 0: the source must exist (a file such as the Podman socket, "/",
     * or a directory whose creation would change the host, like /var/log/journal). */
    unsigned dir_mode;
} catalog_volume;

/*
 * Image: an OMniLeads image is REGISTRY/omnileads/<repo>:<tag>, the tag from
 * spec.images.tags.<tag_key> (default_tag when absent); a third-party image is
 * the full reference spec.images.external.<external_key> (external_default).
 */
typedef struct catalog_image {
    const char *repo;             /* "asterisk"; NULL for a third-party image */
    const char *tag_key;          /* key under spec.images.tags */
    const char *default_tag;      /* the CRD default, for specs decoded without defaults */
    const char *external_key;     /* key under spec.images.external */
    const char *external_default; /* full reference */
    int is_edition_suffixed;      /* "-enterprise" appended for images.edition enterprise */
} catalog_image;

typedef struct catalog_component {
    const char *name;      /* the omlop.io/component label: "asterisk" */
    const char *container; /* "oml-asterisk-server" */
    const char *summary;   /* one line for docs and omlctl */
    catalog_image image;
    catalog_image image_ha; /* layout ha uses this one when repo or external_key is set */
    int is_host_network;
    const char *env_file;          /* /etc/default/<x>.env, as the 2.X tool names it */
    const catalog_env *env_common; /* shared set (the Django settings), or NULL */
    const catalog_env *env;        /* this component's entries, or NULL */
    const catalog_volume *volumes; /* or NULL */
    const char *const *command;    /* argv templates after the image, NULL-ended; or NULL */
    const char *const *cap_add;    /* capabilities, NULL-ended; or NULL */
    catalog_mem mem_rule;
    int64_t mem_bytes;     /* for CATALOG_MEM_FIXED */
    int order;             /* start order (matrix.yml); ascending, unique */
    unsigned groups;       /* catalog_group bits */
    unsigned off_when;     /* catalog_off bits */
    int is_ha_active_only; /* 2.X keepalived runs it only on the node holding the VIP */
    /* layout ha: argv run in this container once its node became the active one and the
     * active-only components started (2.X: `oml_manage --redis_sync`); NULL-ended, or NULL */
    const char *const *ha_on_active;
    catalog_ready ready;
    const char *ready_addr; /* template, for CATALOG_READY_TCP */
    int ready_port;
    int ready_start_s;  /* grace after start before judging */
    int stop_timeout_s; /* SIGTERM to SIGKILL when omlop stops it; 0: CATALOG_STOP_TIMEOUT_S */
    catalog_file file_kind;
    const char *file_path;   /* host path of the rendered file */
    const char *file_target; /* where the container sees it (read-only bind) */
} catalog_component;

/* A variable templates may use; desired.c defines each per host. */
typedef struct catalog_var {
    const char *name;
    int is_secret;   /* its value is a Secret reference, never text */
    int is_optional; /* undefined for some tenants (entries using it are then left out) */
    const char *doc; /* where the value comes from */
} catalog_var;

/* The stop timeout of components that set none (Podman's own default). */
#define CATALOG_STOP_TIMEOUT_S 10

/* Seconds between SIGTERM and SIGKILL when omlop stops c (NULL: not in the catalog). */
int catalog_stop_timeout_s(const catalog_component *c);

/* Number of components, and the i-th in start order. */
size_t catalog_count(void);
const catalog_component *catalog_at(size_t i);

/* Component by name ("asterisk") or NULL. */
const catalog_component *catalog_find(const char *name);

/* Component by container name ("oml-asterisk-server") or NULL. */
const catalog_component *catalog_find_container(const char *container);

/* Number of template variables, the i-th, and lookup by name (NULL if unknown). */
size_t catalog_var_count(void);
const catalog_var *catalog_var_at(size_t i);
const catalog_var *catalog_var_find(const char *name);

/*
 * Call fn for each {var} of a template, with the name (not NUL-terminated) and
 * its length. Returns -OMLOP_EINVAL on an unbalanced brace or an empty name.
 */
int catalog_template_each_var(const char *tmpl, int (*fn)(void *ctx, const char *name, size_t len),
                              void *ctx, omlop_err *err);

/*
 * Check the table's invariants: unique names, containers and env files; ascending
 * orders; templates that parse and use only known variables; secret variables
 * only as a whole template. Returns 0 or -OMLOP_EINTERNAL naming the entry.
 */
int catalog_check(omlop_err *err);

/* The same checks on any table (n entries); for tests of the checks themselves. */
int catalog_check_table(const catalog_component *table, size_t n, omlop_err *err);

/* "data", "voice", "app" for one group bit; "" otherwise. */
const char *catalog_group_name(unsigned group_bit);

#endif
