/*
 * podman_proto: the libpod REST API's wire format, without any I/O.
 *
 * Request bodies and queries are built here and responses parsed here (the
 * stream framings are in podman_stream.h). Podman error bodies ({"cause","message","response"})
 * become omlop errors naming the host and the object. Everything is a pure
 * function of its input, so it is unit-tested without a Podman.
 *
 * Paths use the libpod API v4.0.0 prefix, which Podman 4.x serves; Podman 3
 * serves the same paths under v3.x prefixes for what it supports.
 */
#ifndef OMLOP_PODMAN_PROTO_H
#define OMLOP_PODMAN_PROTO_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/strbuf.h"

#define PODMAN_API_PREFIX "/v4.0.0/libpod"

/* --- request side --------------------------------------------------------------------- */

typedef struct podman_kv {
    const char *key;
    const char *value;
} podman_kv;

/* Filters for list and events calls; each list is NULL-terminated, NULL = none. */
typedef struct podman_filters {
    const char *const *labels; /* "key=value" or "key" */
    const char *const *names;
    const char *const *types;  /* events: "container", "image", "volume", ... */
    const char *const *events; /* events: "start", "died", "remove", ... */
    const char *const *ids;
} podman_filters;

typedef enum podman_mount_type {
    PODMAN_MOUNT_BIND = 0,   /* source: an absolute path on the host */
    PODMAN_MOUNT_VOLUME = 1, /* source: a named volume (created on demand by Podman) */
    PODMAN_MOUNT_TMPFS = 2,  /* no source */
} podman_mount_type;

typedef struct podman_mount {
    podman_mount_type type;
    const char *source;
    const char *destination; /* absolute path in the container */
    int is_readonly;
    const char *options; /* extra comma-separated mount options ("z", "U"), or NULL */
} podman_mount;

typedef struct podman_healthcheck {
    const char *const *test; /* {"CMD-SHELL", "cmd", NULL} or {"CMD", "bin", "arg", NULL} */
    long interval_ms;        /* 0 = Podman's default (30 s) */
    long timeout_ms;
    long start_period_ms;
    int retries;
} podman_healthcheck;

/* What to create; only name and image are required. */
typedef struct podman_create_spec {
    const char *name;
    const char *image;
    const char *const *command;    /* NULL-terminated; NULL = the image's */
    const char *const *entrypoint; /* NULL-terminated; NULL = the image's */
    const podman_kv *env;
    size_t n_env;
    const podman_kv *labels;
    size_t n_labels;
    const podman_mount *mounts;
    size_t n_mounts;
    int is_host_network;
    int64_t memory_limit_bytes; /* 0 = none */
    const char *restart_policy; /* "no", "always", "on-failure", "unless-stopped"; NULL = none */
    unsigned restart_retries;   /* on-failure only */
    const podman_healthcheck *healthcheck;
    const char *const *cap_add; /* "NET_ADMIN" or "CAP_NET_ADMIN" */
    const char *const *cap_drop;
    const char *user;
    const char *workdir;
    const char *hostname;
    unsigned stop_timeout_s; /* 0 = Podman's default */
} podman_create_spec;

/* Append "?k=v" or "&k=v" to q, percent-encoding the value. */
void podman_query_add(strbuf *q, const char *key, const char *value);

/* Percent-encode s for a query value (RFC 3986 unreserved characters stay). */
void podman_url_escape(strbuf *out, const char *s);

/* Whether a name or image reference may go into a URL path as is; errors name it. */
int podman_check_ref(const char *what, const char *ref, omlop_err *err);

/* Append the JSON filters object ("{}" when f has none) to out. */
void podman_filters_json(const podman_filters *f, strbuf *out);

/* The SpecGenerator JSON for a create call; errors name the bad field. */
int podman_create_body(const podman_create_spec *spec, strbuf *out, omlop_err *err);

/* The exec-create JSON: cmd (required), env ("K=V" strings), workdir, user may be NULL. */
int podman_exec_body(const char *const *cmd, const char *const *env, const char *workdir,
                     const char *user, strbuf *out, omlop_err *err);

/* --- response side -------------------------------------------------------------------- */

/* A container, from a list entry or an inspect (fields a list lacks are empty). */
typedef struct podman_container {
    char *id;
    char *name;
    char *image;
    char *image_id;
    char *state; /* "created", "running", "exited", "stopped", "paused", ... */
    int is_running;
    int exit_code;
    int restart_count; /* inspect only */
    char *health;      /* "healthy", "unhealthy", "starting"; "" without a healthcheck */
    char *started_at;  /* RFC 3339 (inspect) or "" */
    char *finished_at;
    json_object *labels; /* object of strings; never NULL after a parse */
    json_object *raw;    /* the whole entry, for anything else */
} podman_container;

typedef struct podman_container_list {
    podman_container *items;
    size_t n;
} podman_container_list;

typedef struct podman_volume {
    char *name;
    char *mountpoint;
    json_object *labels;
    json_object *raw;
} podman_volume;

typedef struct podman_volume_list {
    podman_volume *items;
    size_t n;
} podman_volume_list;

typedef struct podman_event {
    char *type;   /* "container", "image", "volume", "pod", "system" */
    char *action; /* "create", "start", "died", "remove", "pull", ... */
    char *id;
    char *name;  /* Actor.Attributes.name */
    char *image; /* Actor.Attributes.image, or "" */
    int64_t time_nano;
    json_object *attributes; /* Actor.Attributes: labels live here; never NULL after a parse */
} podman_event;

/* What `podman info` says about a host that omlop cares about. */
typedef struct podman_host_info {
    char version[64];     /* "4.3.1" */
    char api_version[64]; /* "4.3.1" */
    int major, minor, patch;
    char oci_runtime[64];          /* "runc" */
    char oci_runtime_version[128]; /* first line of its version text */
    char graph_driver[64];         /* "overlay" */
    char graph_root[512];          /* "/var/lib/containers/storage" */
    int64_t graph_root_allocated;  /* bytes; -1 when Podman does not say (< 4.1) */
    int64_t graph_root_used;       /* bytes; -1 when unknown */
    char os[32];
    char arch[32];
    char kernel[128];
    char hostname[256];
    char cgroup_manager[32];
    char cgroup_version[16];
} podman_host_info;

/* One line of image pull progress. */
typedef struct podman_pull_line {
    char *stream; /* progress text (trailing newline removed), or NULL */
    char *error;  /* an error Podman reports in-band (with HTTP 200), or NULL */
    char *id;     /* the pulled image's ID, on the last line, or NULL */
} podman_pull_line;

void podman_container_release(podman_container *c);
void podman_container_list_release(podman_container_list *l);
void podman_volume_list_release(podman_volume_list *l);
void podman_event_release(podman_event *e);
void podman_pull_line_release(podman_pull_line *p);

/* Parse GET /containers/json. */
int podman_parse_container_list(const char *body, size_t len, podman_container_list *out,
                                omlop_err *err);

/* Parse GET /containers/{name}/json. */
int podman_parse_container_inspect(const char *body, size_t len, podman_container *out,
                                   omlop_err *err);

/* Parse GET /volumes/json. */
int podman_parse_volume_list(const char *body, size_t len, podman_volume_list *out, omlop_err *err);

/* Parse one events line. */
int podman_parse_event(const char *line, size_t len, podman_event *out, omlop_err *err);

/* Parse GET /info. */
int podman_parse_info(const char *body, size_t len, podman_host_info *out, omlop_err *err);

/* Parse one image pull line. */
int podman_parse_pull_line(const char *line, size_t len, podman_pull_line *out, omlop_err *err);

/* Parse "1.2.3" (or "4.3.1-dev") into numbers; -1 when it does not start with a version. */
int podman_parse_version(const char *s, int *major, int *minor, int *patch);

/*
 * Turn a non-2xx response into an error: "host H: WHAT: MESSAGE (HTTP N)",
 * with the code from the status and Podman's cause (404 / "no such" ->
 * ENOTFOUND, "already exists" / "already in use" -> EEXIST, 409 ->
 * ECONFLICT, 400 -> EINVAL, ...). Returns the code.
 */
int podman_error_from_response(const char *host, const char *what, long status, const char *body,
                               size_t len, omlop_err *err);

#endif
