/*
 * api_proto: request bodies in Kubernetes' protobuf encoding
 * (application/vnd.kubernetes.protobuf), which typed clients send for the core
 * kinds: kubectl 1.32 and later create a Secret that way (`kubectl create
 * secret`). omlop reads only what its core v1 view serves, a Secret, and turns
 * it into the JSON object the API validates as any other body:
 *
 *     "k8s\0" runtime.Unknown{typeMeta{apiVersion, kind}, raw: Secret{
 *         metadata: ObjectMeta{name, generateName, namespace, resourceVersion,
 *                              labels, annotations, finalizers},
 *         data: map<string, bytes>, type, stringData: map<string, string>,
 *         immutable}}
 *
 * Other ObjectMeta fields are server-set or unused by omlop and are skipped;
 * immutable is kept so that field validation reports it (omlop's Secret has no
 * such field). Every length is checked against the buffer.
 */
#ifndef OMLOP_API_PROTO_H
#define OMLOP_API_PROTO_H

#include <json-c/json.h>
#include <stddef.h>

#include "lib/err.h"

/* The protobuf media type of Kubernetes' API. */
#define API_PROTO_MEDIA_TYPE "application/vnd.kubernetes.protobuf"

/*
 * Decode a protobuf body holding a core v1 Secret into *out (caller puts).
 * OMLOP_EINVAL with a message naming the field when the body is malformed or
 * holds another kind. The message never quotes the values.
 */
int api_proto_decode_secret(const unsigned char *buf, size_t len, json_object **out,
                            omlop_err *err);

#endif
