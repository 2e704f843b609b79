/*
 * plan: desired state + what runs on the hosts -> the ordered actions that
 * converge them. A pure function: the caller lists the live containers and
 * images (from Podman), the plan says what to do; executing it is the
 * reconciler's job.
 *
 * Drift and its repair, per desired container:
 *   missing                               -> pull (if the image is absent), create, start
 *   exited / created / stopped / paused   -> start ("container died", with the exit code)
 *   spec-hash label or image differs      -> pull (if absent), recreate
 *   dead                                  -> recreate
 *   running as specified, image missing   -> pull (so a restart works)
 *   omlop.io/env-hash label differs from the env file's digest
 *                                         -> recreate (a Secret it reads changed)
 *   a host file missing or differing      -> write it
 *   layout ha, an active-only component on a node not holding the OMniLeads VIP (live_ha):
 *     missing or changed -> create / recreate without starting; running -> stop (STANDBY
 *     only: while no node holds the VIP, keepalived decides and omlop leaves it)
 *   a bind-mount directory omlop makes (desired_volume.dir_mode) missing
 *                                         -> mkdir (once per host and path)
 * and per live container not desired:
 *   labelled managed-by=omlop and tenant=<this tenant> -> remove (an orphan)
 *   anything else (other tenants, unmanaged)           -> untouched
 * A live container holding a desired name without being ours blocks that
 * component (PLAN_BLOCKED, never executed; the reconciler reports it), and
 * its host files are not written: host paths are per component
 * (/etc/default/<x>.env), so they belong to whoever holds the container.
 *
 * Order: every pull first (the 3.X lesson: fail on a bad tag before touching
 * anything), then the missing directories and the host file writes host by host (so they can go in
 * one exec per host; a file nobody reads yet harms nothing), then create/start/recreate in catalog
 * start order (hosts in spec order within one component), then orphan removals. Recreations are
 * upgrades or repairs of a running service: they are marked serial (one at a time, wait until ready
 * before the next).
 */
#ifndef OMLOP_PLAN_H
#define OMLOP_PLAN_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "reconcilers/desired.h"

/* Podman's container states, as omlop distinguishes them. */
typedef enum live_state {
    LIVE_STATE_UNKNOWN = 0,
    LIVE_STATE_CREATED,
    LIVE_STATE_RUNNING,
    LIVE_STATE_PAUSED,
    LIVE_STATE_EXITED,   /* also "stopped" */
    LIVE_STATE_REMOVING, /* on its way out: wait, plan again */
    LIVE_STATE_DEAD
} live_state;

/* Parse Podman's State string ("running", "exited", "configured", ...); unknown -> UNKNOWN. */
live_state live_state_parse(const char *s);

/* "running", "exited", ... */
const char *live_state_name(live_state st);

typedef struct live_label {
    const char *key;
    const char *value;
} live_label;

/* One container as Podman reports it. Strings are borrowed by plan_compute. */
typedef struct live_container {
    const char *name;
    const char *id;
    const char *image; /* the reference it was created from */
    int is_image_present;
    const live_label *labels;
    size_t n_labels;
    live_state state;
    int exit_code;
} live_container;

/*
 * A host file omlop keeps for a desired container: its env file or a config
 * file. The reconciler renders the content (env files hold Secret values, which
 * the plan never sees) and gives its SHA-256 and what the host has.
 */
typedef struct live_file {
    const char *path;
    const char *container;   /* the desired container that reads it */
    const char *want_sha256; /* of the content omlop writes */
    const char *live_sha256; /* of the file on the host, "" when absent; NULL: not observed */
    int is_env_file;         /* its digest is the container's omlop.io/env-hash */
} live_file;

/* A host directory a desired container's bind mount needs (desired_volume.dir_mode): whether the
 * host has it. */
typedef struct live_dir {
    const char *path;
    int is_present;
} live_dir;

/* Layout ha: where the active-only components (desired_container.is_ha_active_only) run. */
typedef enum live_ha {
    LIVE_HA_ACTIVE = 0, /* they run here (every host of aio and cluster) */
    LIVE_HA_STANDBY,    /* another node holds the OMniLeads VIP: created, stopped */
    LIVE_HA_UNDECIDED   /* no node holds it: created, neither started nor stopped */
} live_ha;

/* What one host runs: every container (all tenants) and the image references present. */
typedef struct live_host {
    const char *host; /* spec.hosts[].name */
    const live_container *containers;
    size_t n_containers;
    const char *const *images;
    size_t n_images;
    const live_file *files; /* the desired containers' host files (may be none) */
    size_t n_files;
    const live_dir *dirs; /* bind-mount directories looked at; one not listed: not observed */
    size_t n_dirs;
    live_ha ha;            /* this host's part in layout ha (observed: reconcilers/ha.h) */
    const char *ha_active; /* the node holding the OMniLeads VIP, for reasons; may be NULL */
} live_host;

/* Label value of a live container, or NULL. */
const char *live_container_label(const live_container *c, const char *key);

typedef enum plan_kind {
    PLAN_PULL = 1,
    PLAN_CREATE,   /* create, then start */
    PLAN_START,    /* start (or unpause) an existing container */
    PLAN_RECREATE, /* stop, remove, create, start */
    PLAN_REMOVE,   /* stop and remove an orphan */
    PLAN_BLOCKED,  /* cannot act: name taken by a container that is not ours */
    PLAN_WRITE,    /* write a host file (env file, config) that is missing or differs */
    PLAN_MKDIR,    /* make a missing host directory a bind mount needs */
    PLAN_STOP      /* stop an active-only component on the node not holding the VIP (ha) */
} plan_kind;

typedef struct plan_action {
    plan_kind kind;
    char *host;
    char *container;    /* NULL for PLAN_PULL */
    char *component;    /* catalog name or the live label; may be NULL for PLAN_PULL */
    char *image;        /* PULL: to pull; CREATE/RECREATE: to run; others: NULL */
    char *container_id; /* the live container acted on, or NULL */
    char *path;         /* WRITE: the host file; MKDIR: the directory; otherwise NULL */
    const desired_container *desired; /* borrowed from the desired state; NULL for REMOVE */
    char *reason;                     /* for events: "missing", "spec changed", ... */
    live_state from_state;            /* the live state seen (START: unpause when PAUSED) */
    int order;                        /* catalog start order of the component */
    int is_serial;   /* RECREATE: one at a time, wait until ready before the next */
    int wait_ready;  /* CREATE/START/RECREATE: later components need this one ready */
    unsigned mode;   /* MKDIR: the directory's mode */
    int is_no_start; /* CREATE/RECREATE: leave it created, not started (ha standby) */
} plan_action;

typedef struct plan plan;

/*
 * Compute the plan of the tenant of ds over live hosts. A desired host missing
 * from live (not observed this round) gets no actions; a live host not in ds
 * only has its orphans removed. The plan borrows ds (action.desired) and must
 * not outlive it; live strings are copied.
 */
int plan_compute(const desired_state *ds, const live_host *live, size_t n_live, plan **out,
                 omlop_err *err);

/* Free; NULL is fine. */
void plan_free(plan *p);

/* Number of actions (0: converged) and the i-th, in execution order. */
size_t plan_count(const plan *p);
const plan_action *plan_at(const plan *p, size_t i);

/* "pull", "create", "start", "recreate", "remove", "blocked", "write", "mkdir", "stop". */
const char *plan_kind_name(plan_kind k);

/* One line per action: "host h: recreate oml-nginx-server (image ...): spec changed". */
void plan_format(const plan *p, strbuf *out);

#endif
