/*
 * apiclient_int: what apiclient.c and apiclient_watch.c share and nothing else
 * may use: the client's fields and the curl handle set-up common to unary
 * requests and watch streams.
 */
#ifndef OMLOP_APICLIENT_INT_H
#define OMLOP_APICLIENT_INT_H

#include <curl/curl.h>

#include "clients/apiclient.h"

/* Error bodies are only ever shown to people: keep what we read of them small. */
#define APICLIENT_ERROR_BODY_MAX (64 * 1024)

struct apiclient {
    char *server;      /* as given, for messages */
    char *base;        /* what paths are appended to: "http://h:p/prefix" */
    char *unix_path;   /* socket path for unix:// servers, else NULL */
    char *auth_header; /* "Authorization: Bearer ..."; never logged */
    char *ca_file;
    int insecure;
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_response;
    size_t max_event;
    CURL *easy; /* reused so unary requests share one keep-alive connection */
};

/*
 * Set the options every request shares on h: URL, unix socket, timeouts, TLS,
 * the Accept, Content-Type (when not NULL) and Authorization headers. Returns the
 * header list to free after the transfer. errbuf has CURL_ERROR_SIZE bytes.
 */
struct curl_slist *apiclient_setup_handle(const apiclient *c, CURL *h, const char *url,
                                          const char *content_type, char *errbuf);

#endif
