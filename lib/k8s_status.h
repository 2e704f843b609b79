/*
 * k8s_status: the Kubernetes Status "reason" names for HTTP status codes.
 *
 * omlopd puts these in the Status bodies it answers with, and the API client
 * falls back on them when an answer carries no Status, so both sides name a
 * code the same way ("NotFound" for 404). What to say for a code outside the
 * table differs by side (a server must pick a reason, a client reports what it
 * saw), so that choice stays with the caller.
 */
#ifndef OMLOP_K8S_STATUS_H
#define OMLOP_K8S_STATUS_H

/* The standard reason for an HTTP status code, or NULL when it has none. */
const char *k8s_status_reason(long code);

#endif
