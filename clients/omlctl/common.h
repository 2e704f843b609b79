/*
 * common: what every omlctl verb shares.
 *
 *   - argument parsing: a verb lists its flags in an omlctl_opt table; the
 *     global flags (-s/--server, --token, --ca-file/--certificate-authority,
 *     --insecure-skip-tls-verify, --request-timeout, -v/--v) are added to every
 *     verb, and may come before it (omlctl_args_hoist_globals). "--flag value",
 *     "--flag=value", "-f value", "-fvalue" and "--" work as in kubectl;
 *     flags and arguments may be mixed.
 *   - the per-run context (omlctl_ctx): resolved config, a lazily created API
 *     client and the resource model (schema set compiled into the binary).
 *   - resource-kind resolution: kind, plural, singular and short names, any
 *     case, "tenant.omlop.io", and "KIND/NAME" arguments.
 *   - durations ("5m", "1h30m", "500ms") and -l label selectors.
 *   - reading objects from the server (get, paginated list, watch) and from
 *     manifest files (validated with the resource model).
 * Output (tables, -o formats, printer columns) is in output.h.
 *
 * Only what bin/omlctl links; the verbs are clients/omlctl/<verb>.c.
 */
#ifndef OMLOP_OMLCTL_COMMON_H
#define OMLOP_OMLCTL_COMMON_H

#include <json-c/json.h>
#include <stdio.h>

#include "clients/apiclient.h"
#include "clients/omlctl/config.h"
#include "crds/schema.h"
#include "lib/err.h"
#include "lib/strbuf.h"

/* --- string vectors (borrowed strings) ------------------------------------------------- */

typedef struct omlctl_strv {
    const char **v;
    size_t n;
    size_t cap;
} omlctl_strv;

#define OMLCTL_STRV_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Append s (borrowed: it must outlive the vector). */
void omlctl_strv_push(omlctl_strv *sv, const char *s);

/* Free the array (not the strings). */
void omlctl_strv_release(omlctl_strv *sv);

/* --- flags ------------------------------------------------------------------------------ */

typedef enum omlctl_opt_type {
    OMLCTL_OPT_BOOL,     /* int*: --x, --x=true|false */
    OMLCTL_OPT_STRING,   /* const char**: last one wins */
    OMLCTL_OPT_LIST,     /* omlctl_strv*: repeatable */
    OMLCTL_OPT_DURATION, /* long* milliseconds: "30s", "5m", "1h30m", "500ms", "10" (seconds) */
    OMLCTL_OPT_INT       /* long* */
} omlctl_opt_type;

typedef struct omlctl_opt {
    const char *name; /* long name without "--"; NULL ends a table */
    char short_name;  /* 0 = none */
    omlctl_opt_type type;
    void *dest;
} omlctl_opt;

enum omlctl_parse_result {
    OMLCTL_PARSE_OK = 0,
    OMLCTL_PARSE_HELP = 1, /* --help or -h: the verb prints its help and exits 0 */
    OMLCTL_PARSE_USAGE = 2 /* a message was printed; exit 2 */
};

/* --- the context of one run ------------------------------------------------------------- */

typedef struct omlctl_ctx {
    const char *verb; /* for messages: "omlctl get: ..."; NULL before the verb: "omlctl: ..." */
    /* global flags as given */
    const char *flag_server;
    const char *flag_token;
    const char *flag_ca_file;
    int flag_insecure;
    int verbose;
    long request_timeout_ms; /* -1 = not given */
    /* lazily built */
    omlctl_config cfg;
    int cfg_loaded;
    apiclient *api;
    schema_set *schemas;
} omlctl_ctx;

/* A context for verb (a string literal, or NULL for the flags before the verb). */
void omlctl_ctx_init(omlctl_ctx *ctx, const char *verb);

/* Free what the context built. */
void omlctl_ctx_release(omlctl_ctx *ctx);

/*
 * Parse argv[1..argc-1] (argv[0] is the verb) against opts plus the global
 * flags; arguments that are not flags go to pos (borrowed from argv). Prints
 * usage errors itself. Returns an omlctl_parse_result.
 */
int omlctl_parse_args(omlctl_ctx *ctx, int argc, char **argv, const omlctl_opt *opts,
                      omlctl_strv *pos);

/*
 * Global flags may come before the verb, as with kubectl ("omlctl -s URL get tn"): check
 * the leading flags of argv[1..] with the parser omlctl_parse_args uses (only the global
 * flags known there) and move them behind the verb, where the verb parses them as if given
 * after it. Returns OMLCTL_PARSE_OK, or OMLCTL_PARSE_USAGE after printing the problem (a
 * flag that is unknown or not global, a missing or bad value, no command after the flags).
 */
int omlctl_args_hoist_globals(int argc, char **argv);

/* Print the global flags section of --help. */
void omlctl_print_global_flags(FILE *out);

/*
 * omlctl_parse_args plus what every verb does with its answer. Returns 1 when
 * the verb goes on (*exit_code untouched); 0 when it is done, with *exit_code
 * OMLCTL_EXIT_OK after printing help (the verb's, then the global flags) or
 * OMLCTL_EXIT_USAGE after a usage error (already printed).
 */
int omlctl_parse_verb_args(omlctl_ctx *ctx, int argc, char **argv, const omlctl_opt *opts,
                           omlctl_strv *pos, const char *help, int *exit_code);

/* The resolved config (flags > env > file > default); loaded on first use. */
int omlctl_ctx_config(omlctl_ctx *ctx, const omlctl_config **out, omlop_err *err);

/* The API client for the resolved config; created on first use. */
int omlctl_ctx_client(omlctl_ctx *ctx, apiclient **out, omlop_err *err);

/* The resource model compiled into the binary; loaded on first use. */
int omlctl_ctx_schemas(omlctl_ctx *ctx, schema_set **out, omlop_err *err);

/* The model of --crds-dir (crds_dir; NULL: the built-in one); loaded on first use. */
int omlctl_ctx_schemas_from(omlctl_ctx *ctx, const char *crds_dir, schema_set **out,
                            omlop_err *err);

/* Print "error: <message>" (every line of a multi-line message) to stderr. */
void omlctl_print_error(const omlctl_ctx *ctx, const omlop_err *err);

/* Print a usage problem to stderr: "omlctl VERB: <msg>\nSee 'omlctl VERB --help'." */
void omlctl_usage_error(const omlctl_ctx *ctx, const char *fmt, ...) OMLOP_PRINTF(2, 3);

/* --- kinds and targets ------------------------------------------------------------------ */

/*
 * Resolve a kind by kind, plural, singular or short name, any case, also with a
 * ".omlop.io" or ".v1alpha1.omlop.io" suffix. The error lists the known kinds.
 */
int omlctl_kind_resolve(const schema_set *set, const char *name, const kind_info **out,
                        omlop_err *err);

typedef struct omlctl_target {
    const kind_info *kind;
    const char *name; /* NULL: every object of the kind (borrowed from argv) */
} omlctl_target;

typedef struct omlctl_targets {
    omlctl_target *v;
    size_t n;
    size_t cap;
} omlctl_targets;

#define OMLCTL_TARGETS_INIT                                                                        \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * Turn "KIND [NAME...]" or "KIND/NAME..." arguments into targets. KIND may be a
 * comma list when no names follow ("tenants,backups"). need_names: every target
 * must have a name. Names are checked to be non-empty and free of "/".
 */
int omlctl_targets_parse(const schema_set *set, const omlctl_strv *args, int need_names,
                         omlctl_targets *out, omlop_err *err);

/* Free the array. */
void omlctl_targets_release(omlctl_targets *t);

/* Append "tenant/x" (the kind's singular name) to out. */
void omlctl_object_ref(strbuf *out, const kind_info *kind, const char *name);

/* The kind_info of an object's "kind" field; error naming it when unknown. */
int omlctl_kind_of_object(const schema_set *set, const json_object *obj, const kind_info **out,
                          omlop_err *err);

/* --- reading objects and manifests ---------------------------------------------------- */

/* GET one object into *out (caller puts); OMLOP_ENOTFOUND when it does not exist. */
int omlctl_get_object(apiclient *api, const kind_info *kind, const char *name, json_object **out,
                      omlop_err *err);

/*
 * List a kind, following continue tokens (500 per page): *items is a new array
 * (caller puts) and rv, when not NULL, gets the list's resourceVersion.
 * Selectors may be NULL.
 */
int omlctl_list_objects(apiclient *api, const kind_info *kind, const char *label_selector,
                        const char *field_selector, json_object **items, strbuf *rv,
                        omlop_err *err);

/*
 * Watch a kind for changes after resourceVersion rv (NULL or "" = from now),
 * with bookmarks. name (one object: fieldSelector metadata.name=NAME), the
 * label selector and an extra field selector may each be NULL.
 */
int omlctl_watch_open(apiclient *api, const kind_info *kind, const char *name,
                      const char *label_selector, const char *field_selector, const char *rv,
                      apiclient_watch **out, omlop_err *err);

typedef struct omlctl_manifest {
    json_object *obj;      /* the decoded object (owned) */
    json_object *given;    /* obj with only the fields the file sets - no defaults (owned); NULL
                              when not validated (obj is then already just what the file says) */
    const kind_info *kind; /* its kind */
    const char *name;      /* metadata.name, borrowed from obj */
    char *source;          /* "FILE" or "FILE (document N)" for messages */
} omlctl_manifest;

typedef struct omlctl_manifests {
    omlctl_manifest *v;
    size_t n;
} omlctl_manifests;

/*
 * Load every -f path (file, directory walked recursively, "-" for stdin, at most
 * once) and decode each document with the resource model (validate: typed by
 * the schema, defaults applied, every rule checked) or, without validate, with
 * YAML core typing. Every problem of every document is printed to stderr as
 * "file:line:col: path: message" before OMLOP_EINVAL is returned; an object
 * named twice is an error too. An empty result is not an error.
 */
int omlctl_manifests_load(omlctl_ctx *ctx, const omlctl_strv *paths, int validate,
                          omlctl_manifests *out, omlop_err *err);

/* Free the manifests. */
void omlctl_manifests_release(omlctl_manifests *m);

/*
 * A copy of obj for comparing what a user controls: without status and the
 * metadata the server keeps (resourceVersion, generation, uid,
 * creationTimestamp, managedFields).
 */
json_object *omlctl_comparable(const json_object *obj);

/* --- durations ------------------------------------------------------------------------- */

/* Parse a duration ("30s", "5m", "1h30m", "500ms", "2h", "10" = seconds) into ms. */
int omlctl_duration_parse(const char *s, long *ms, omlop_err *err);

/* --- label selectors -------------------------------------------------------------------- */

/*
 * Check a -l selector's syntax ("app=x,tier!=db,env in (a,b),!legacy,team";
 * operator/selector.h, the grammar the server uses) and whether a labels
 * object (may be NULL) matches it. Returns 1 match, 0 no match, OMLOP_EINVAL
 * with a message naming the bad part.
 */
int omlctl_selector_match(const char *selector, const json_object *labels, omlop_err *err);

#endif
