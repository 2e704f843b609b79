/*
 * store_etcd: internals shared by the etcd backend's files: store_etcd.c (the
 * store operations), store_etcd_http.c (configuration, encoding, unary calls)
 * and store_etcd_watch.c (watch streams). Not for use elsewhere.
 */
#ifndef OMLOP_STORE_ETCD_H
#define OMLOP_STORE_ETCD_H

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lib/strbuf.h"
#include "store/store_backend.h"

typedef struct etcd_conf {
    char **endpoints; /* "http://host:port" (https when TLS options are set) */
    size_t n_endpoints;
    char *prefix; /* prepended to every key: "" or "/name" */
    char *tls_ca, *tls_cert, *tls_key;
    _Atomic size_t preferred; /* the endpoint that answered last */
} etcd_conf;

typedef struct etcd_feed etcd_feed;

/* Deep copy / free of a configuration. */
void etcd_conf_copy(etcd_conf *dst, const etcd_conf *src);
void etcd_conf_free(etcd_conf *c);

/* Set the options every etcd request shares (TLS files, keep-alive, no signals). */
void etcd_curl_setup(void *curl, const etcd_conf *c);

/* Base64 of data appended to out. */
void etcd_b64_encode(strbuf *out, const char *data, size_t len);

/* A JSON string holding the base64 of conf->prefix followed by len bytes of key. */
struct json_object *etcd_key_json(const etcd_conf *c, const char *key, size_t len);

/* An int64 field that etcd's gateway writes as a JSON string (0 when absent). */
int64_t etcd_json_int(struct json_object *o, const char *field);

/* Decode an etcd KeyValue into kv, stripping conf->prefix from the key. */
int etcd_parse_kv(const etcd_conf *c, struct json_object *j, store_kv *kv, omlop_err *err);

/*
 * One unary call: POST req to path on the preferred endpoint, then the others
 * on connection failures (for a write only when the request surely was not sent).
 * curl may be NULL (a temporary handle). *resp is the parsed reply.
 */
int etcd_call(etcd_conf *c, void *curl, const char *path, struct json_object *req, int idempotent,
              struct json_object **resp, omlop_err *err);

/* Start the hub's feed: one watch on the whole prefix from revision from + 1. */
int etcd_feed_start(const etcd_conf *c, store_hub *hub, int64_t from, etcd_feed **out,
                    omlop_err *err);
void etcd_feed_stop(etcd_feed *f);

/* A replay through a temporary watch stream (see store_replay). */
int etcd_replay_open(const etcd_conf *c, const char *prefix, int64_t after, int64_t upto,
                     size_t buffer, int notify_fd, store_replay **out, omlop_err *err);

/* Parse "HOST[:PORT][,HOST[:PORT]...][/prefix]" and the TLS options into c. */
int etcd_conf_parse(const char *location, const store_options *opts, etcd_conf *c, omlop_err *err);

#endif
