/*
 * api_write: the write verbs on a resource: create (POST), update (PUT),
 * patch (PATCH: merge, strategic merge, apply) and delete (DELETE), on the main
 * resource or its /status subresource.
 *
 * Rules, as the Kubernetes API server applies them to custom resources:
 *  - the server owns metadata.uid, creationTimestamp, generation,
 *    resourceVersion and deletionTimestamp; whatever a client sends there is
 *    replaced;
 *  - writes to the main resource keep the stored status; /status writes change
 *    only the status; spec (anything but metadata and status) changes bump
 *    metadata.generation, status changes do not;
 *  - PUT needs metadata.resourceVersion and fails with 409 when it is stale;
 *    a patch carrying one is checked the same way, other patches are retried
 *    on a concurrent write;
 *  - DELETE of an object with finalizers sets deletionTimestamp; an update that
 *    empties the finalizers of such an object deletes it; no finalizer may be
 *    added to it;
 *  - every result is validated by the resource model before it is stored; an
 *    update that changes nothing is not written;
 *  - ?dryRun=All does everything but the store write.
 */
#ifndef OMLOP_API_WRITE_H
#define OMLOP_API_WRITE_H

#include "operator/api_resources.h"

/* POST on the collection. */
void api_write_create(api_rr *rr);

/* PUT on an object or its status. */
void api_write_update(api_rr *rr);

/* PATCH on an object or its status. */
void api_write_patch(api_rr *rr);

/* DELETE of an object. */
void api_write_delete(api_rr *rr);

#endif
