/*
 * gitsource: the GitSource reconciler (crds/gitsource.yaml, docs/gitops.md) - a folder of a Git
 * repository whose manifests omlop applies.
 *
 * One sync: fetch the repository into a bare copy under the data dir (clients/git.h), resolve
 * the branch, tag or commit; when the commit is new (or a sync was asked for, or the spec
 * changed, or the last attempt did not end Ready), read every .yaml, .yml and .json file under path
 * and decode every document with the resource model - the validator of `omlctl validate`
 * (schema_set_decode) - BEFORE writing anything. One problem anywhere: nothing is applied,
 * Ready=False/Stalled=True with reason ValidationFailed and "commit C: file:line:col: path:
 * message". All valid: each object is applied with the 3-way merge of `omlctl apply`
 * (crds/mergepatch.h: the last-applied annotation, so a field removed from the file is removed
 * from the object), labelled omlop.io/source=<name> and annotated omlop.io/source-commit=<C>,
 * through obj_create / obj_update (objects/objects.h). An object that exists without that
 * label (applied by hand) or with another source's is left alone and named in
 * status.conflicts and the Conflict condition. With spec.prune, the objects labelled with the
 * source that the commit no longer holds are deleted through obj_delete (a Tenant through its
 * finalizer); without, they are listed in status.orphaned. Status: lastFetchedCommit,
 * lastAttemptedCommit, lastAppliedCommit, applied, pruned, conditions Ready, Stalled,
 * Fetching, Conflict; an Event per sync that did something or failed.
 *
 * A sync of an unchanged commit whose last attempt ended Ready parses nothing: one fetch, one
 * status write. Errors in fetching (host key, credentials, a missing branch) set Stalled with
 * the reason and change no object.
 *
 * Threads: one sync of a source at a time (the caller's business: operator/gitsync.c runs
 * every source on one thread); different sources touch different copies on disk.
 */
#ifndef OMLOP_GITSOURCE_H
#define OMLOP_GITSOURCE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "crds/schema.h"
#include "lib/err.h"
#include "objects/events.h"
#include "store/store.h"

#define GITSOURCE_PLURAL "gitsources"
/* The label and annotation on every object applied from a source. */
#define GITSOURCE_LABEL             "omlop.io/source"
#define GITSOURCE_COMMIT_ANNOTATION "omlop.io/source-commit"
/* Any new value of this annotation on a GitSource asks for a sync now (kubectl annotate). */
#define GITSOURCE_SYNC_ANNOTATION "omlop.io/sync-requested"
/* The interval when the spec gives none. */
#define GITSOURCE_DEFAULT_INTERVAL_MS (5 * 60 * 1000)

typedef struct gitsource_deps {
    store *st;
    events *ev; /* may be NULL */
    const schema_set *schemas;
    const char *data_dir; /* copies live in data_dir/gitsources/<name> */
    int fetch_timeout_ms; /* 0: clients/git.h's default */
} gitsource_deps;

/* What one sync did. */
typedef struct gitsource_result {
    int is_found;        /* the GitSource exists */
    int is_suspended;    /* spec.suspend: nothing was done */
    int is_applied;      /* the commit was applied (every valid object not in conflict) */
    int64_t interval_ms; /* the source's interval: when to sync again */
    size_t n_files_read; /* manifest files read from the commit: 0 on the no-change path */
} gitsource_result;

/* "30s", "5m", "1h" in milliseconds; -1 when s is not such a duration (1s..24h). */
int64_t gitsource_interval_ms(const char *s);

/*
 * Whether the GitSource obj asks for a sync before its interval: its spec changed since the
 * status was written (generation > status.observedGeneration) or the sync-requested annotation
 * holds a value not yet handled (status.lastHandledSyncRequest).
 */
int gitsource_wants_sync(const json_object *obj);

/*
 * One sync of GitSource name (see above). is_forced re-reads and re-applies the commit even
 * when unchanged (a sync request does it too). Returns 0 when the sync ran, whatever its
 * outcome (the status says it); a negative code when the status could not be written.
 */
int gitsource_sync(const gitsource_deps *d, const char *name, int is_forced, gitsource_result *res,
                   omlop_err *err);

#endif
