/*
 * tenant_harness: the fixture of the tenant reconciler tests (header-only; one
 * copy per test binary): a small stateful fake of Podman's HTTP API on a unix
 * socket, a real sqlite store holding tenant t1 (aio on host h1) and its SSH
 * Secret (images and containers reported with Podman's fully qualified image
 * names), and fake host ops (files in memory, TCP probes refused for the ports
 * listed in closed_ports) that host_get hands out when use_ops is set.
 */
#ifndef OMLOP_TEST_TENANT_HARNESS_H
#define OMLOP_TEST_TENANT_HARNESS_H

#define TH_UNUSED __attribute__((unused))

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clients/podman.h"
#include "clients/tunnel.h"
#include "crds/diag.h"
#include "crds/object.h"
#include "crds/schema.h"
#include "lib/cjson.h"
#include "lib/imageref.h"
#include "lib/log.h"
#include "objects/events.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tenant_memo.h"
#include "reconcilers/tenant_lifecycle.h"
#include "reconcilers/tenant_status.h"
#include "store/store.h"
#include "unit-tests/fake_http.h"

#define MAX_CTRS 64
#define MAX_IMGS 64

/* How a container answers a stop. */
typedef enum fstop {
    FSTOP_NORMAL = 0, /* stops at once */
    FSTOP_SLOW,       /* ignores SIGTERM: Podman answers after the timeout (it sent SIGKILL) */
    FSTOP_STUCK       /* the timeout passes, then 500 "did not die", left "stopping" */
} fstop;

typedef struct fctr {
    char name[128];
    char id[32];
    char image[256];
    char state[16];
    int exit_code;
    json_object *labels;
    fstop stop_mode;
} fctr;

typedef struct fake {
    char dir[48];
    char path[96];
    int listen_fd;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock; /* protects everything below */
    fctr c[MAX_CTRS];
    size_t n;
    char images[MAX_IMGS][256];
    size_t n_images;
    char bad_image[256]; /* pulling this fails */
    int n_created, n_started, n_pulled, n_removed, n_unpaused, next_id;
    int n_image_checks;           /* GET images/REF/exists */
    char removed_volumes[512];    /* "name name ..." of DELETE /volumes/<name> */
    strbuf ops;                   /* "stop NAME t=S;" "stopped NAME;" "kill NAME;" "rm NAME;" */
    int n_stopping, max_stopping; /* stops in progress now / at most at once */
    atomic_int n_conns;           /* connection threads still running */
    /* when set, a create binding a directory under /etc/omnileads (a name without '.') that is
     * missing from host_dirs fails as Podman does (statfs ... no such file or directory) */
    const char (*host_dirs)[128];
    const size_t *n_host_dirs;
} fake;

/* A host file of the fake host ops. */
typedef struct ffile {
    char path[256];
    strbuf content;
    unsigned mode;
} ffile;

#define MAX_FILES 64
#define MAX_DIRS  16

typedef struct fixture {
    fake f;
    int use_ops;            /* host_get hands out the fake host ops below */
    ffile files[MAX_FILES]; /* the host's files, as the ops see them */
    size_t n_files;
    int closed_ports[8]; /* TCP probes of these ports are refused (0 ends) */
    int n_writes, n_write_calls, n_removes, n_probes, n_hash_calls;
    char dirs[MAX_DIRS][128]; /* the host's directories under /etc/omnileads, as the ops see them */
    size_t n_dirs;
    char recorded[MAX_DIRS][128]; /* what dirs_make recorded as made */
    size_t n_recorded;
    char record_path[128]; /* the record file the ops were given */
    int n_dirs_made, n_dirs_remove_calls;
    char public_ip[32]; /* what public_ip answers; "" fails */
    char data_dir[64];
    store *st;
    tunnel *tun;
    podman_client *pc;
    tenant_env env;
    events *ev;
    int is_host_down; /* host_get fails */
} fixture;

/* ---- the fake Podman ---------------------------------------------------------------------- */

static TH_UNUSED void respond(int fd, int status, const char *body)
{
    char head[256];
    size_t n = body ? strlen(body) : 0;

    snprintf(head, sizeof(head),
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nLibpod-Api-Version: 4.3.1\r\n"
             "Content-Length: %zu\r\n\r\n",
             status, n);
    fake_http_send_all(fd, head, strlen(head));
    if (n)
        fake_http_send_all(fd, body, n);
}

static TH_UNUSED void url_decode(const char *in, char *out, size_t size)
{
    size_t o = 0;

    for (; *in && *in != '&' && o + 1 < size; in++) {
        unsigned v;

        if (*in == '%' && sscanf(in + 1, "%2x", &v) == 1) {
            out[o++] = (char)v;
            in += 2;
        } else
            out[o++] = *in;
    }
    out[o] = '\0';
}

/* A bind mount of the create spec under /etc/omnileads whose source the host lacks, or NULL. */
static TH_UNUSED const char *missing_bind_source(const fake *f, json_object *spec)
{
    json_object *mounts = cjson_get(spec, "mounts");

    for (size_t i = 0; f->host_dirs && mounts && i < json_object_array_length(mounts); i++) {
        json_object *m = json_object_array_get_idx(mounts, i);
        const char *type = cjson_get_string(m, "type"), *src = cjson_get_string(m, "source");
        int is_there = 0;

        /* the config files there (prometheus.yml) are the file ops' business */
        if (!type || strcmp(type, "bind") != 0 || !src ||
            strncmp(src, "/etc/omnileads/", 15) != 0 || strchr(strrchr(src, '/'), '.'))
            continue;
        for (size_t k = 0; k < *f->n_host_dirs; k++)
            is_there |= strcmp(f->host_dirs[k], src) == 0;
        if (!is_there)
            return src;
    }
    return NULL;
}

static TH_UNUSED fctr *find_ctr(fake *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->c[i].name, name) == 0 || strcmp(f->c[i].id, name) == 0)
            return &f->c[i];
    return NULL;
}

/* ref as Podman stores and reports it: fully qualified (docker.io/library/postgres:14). */
static TH_UNUSED void podman_ref(const char *ref, char *out, size_t size)
{
    strbuf sb = STRBUF_INIT;

    if (imageref_normalize(ref, &sb, NULL) < 0)
        strbuf_adds(&sb, ref);
    snprintf(out, size, "%s", strbuf_str(&sb));
    strbuf_release(&sb);
}

static TH_UNUSED int has_image(fake *f, const char *ref)
{
    char full[256];

    podman_ref(ref, full, sizeof(full));
    for (size_t i = 0; i < f->n_images; i++)
        if (strcmp(f->images[i], full) == 0)
            return 1;
    return 0;
}

static TH_UNUSED json_object *ctr_list_json(fake *f)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; i < f->n; i++) {
        json_object *e = json_object_new_object(), *names = json_object_new_array();

        json_object_array_add(names, json_object_new_string(f->c[i].name));
        json_object_object_add(e, "Id", json_object_new_string(f->c[i].id));
        json_object_object_add(e, "Names", names);
        json_object_object_add(e, "Image", json_object_new_string(f->c[i].image));
        json_object_object_add(e, "State", json_object_new_string(f->c[i].state));
        json_object_object_add(e, "ExitCode", json_object_new_int(f->c[i].exit_code));
        json_object_object_add(e, "Labels", json_object_get(f->c[i].labels));
        json_object_array_add(a, e);
    }
    return a;
}

static TH_UNUSED json_object *ctr_inspect_json(const fctr *c)
{
    json_object *o = json_object_new_object(), *st = json_object_new_object();
    json_object *cfg = json_object_new_object();

    json_object_object_add(o, "Id", json_object_new_string(c->id));
    json_object_object_add(o, "Name", json_object_new_string(c->name));
    json_object_object_add(o, "ImageName", json_object_new_string(c->image));
    json_object_object_add(st, "Status", json_object_new_string(c->state));
    json_object_object_add(st, "Running", json_object_new_boolean(!strcmp(c->state, "running")));
    json_object_object_add(st, "ExitCode", json_object_new_int(c->exit_code));
    json_object_object_add(o, "State", st);
    json_object_object_add(cfg, "Labels", json_object_get(c->labels));
    json_object_object_add(o, "Config", cfg);
    return o;
}

static TH_UNUSED void serve(fake *f, int fd, const char *method, const char *target,
                            const char *body)
{
    const char *p = strstr(target, "/libpod/");
    char name[256], ref[256];
    json_object *o = NULL;
    fctr *c;

    pthread_mutex_lock(&f->lock);
    p = p ? p + 8 : target;
    if (strncmp(p, "_ping", 5) == 0) {
        respond(fd, 200, "OK");
    } else if (strncmp(p, "volumes/", 8) == 0 && strcmp(method, "DELETE") == 0) {
        const char *q = strchr(p + 8, '?');
        size_t used = strlen(f->removed_volumes);

        snprintf(f->removed_volumes + used, sizeof(f->removed_volumes) - used, "%.*s ",
                 (int)(q ? (size_t)(q - p - 8) : strlen(p + 8)), p + 8);
        respond(fd, 204, NULL);
    } else if (strncmp(p, "containers/", 11) == 0 && strstr(p, "/stop")) {
        const char *t = strstr(p, "timeout="), *slash = strchr(p + 11, '/');
        int secs = t ? atoi(t + 8) : 10;
        fstop mode;

        snprintf(name, sizeof(name), "%.*s", (int)(slash - p - 11), p + 11);
        c = find_ctr(f, name);
        mode = c ? c->stop_mode : FSTOP_NORMAL;
        strbuf_addf(&f->ops, "stop %s t=%d;", name, secs);
        if (c && mode != FSTOP_NORMAL) {
            snprintf(c->state, sizeof(c->state), "stopping");
            if (++f->n_stopping > f->max_stopping)
                f->max_stopping = f->n_stopping;
            pthread_mutex_unlock(&f->lock); /* other requests go on meanwhile */
            poll(NULL, 0, secs * 1000);
            pthread_mutex_lock(&f->lock);
            f->n_stopping--;
            c = find_ctr(f, name); /* removals move entries */
        }
        strbuf_addf(&f->ops, "stopped %s;", name);
        if (!c)
            respond(fd, 404, "{\"cause\":\"no such container\",\"response\":404}");
        else if (mode == FSTOP_STUCK)
            respond(fd, 500,
                    "{\"cause\":\"given PIDs did not die within timeout\","
                    "\"response\":500}");
        else {
            snprintf(c->state, sizeof(c->state), "exited");
            respond(fd, 204, NULL);
        }
    } else if (strncmp(p, "containers/json", 15) == 0) {
        o = ctr_list_json(f);
        respond(fd, 200, json_object_to_json_string(o));
    } else if (strncmp(p, "images/pull?reference=", 22) == 0) {
        url_decode(p + 22, ref, sizeof(ref));
        f->n_pulled++;
        if (strcmp(ref, f->bad_image) == 0)
            respond(fd, 200, "{\"error\":\"manifest unknown: no such tag\"}\n");
        else {
            if (!has_image(f, ref) && f->n_images < MAX_IMGS)
                podman_ref(ref, f->images[f->n_images++], sizeof(f->images[0]));
            respond(fd, 200, "{\"stream\":\"pulling\\n\"}\n{\"id\":\"sha256:1\"}\n");
        }
    } else if (strncmp(p, "images/", 7) == 0 && strstr(p, "/exists")) {
        snprintf(ref, sizeof(ref), "%.*s", (int)(strstr(p, "/exists") - p - 7), p + 7);
        f->n_image_checks++;
        respond(fd, has_image(f, ref) ? 204 : 404,
                has_image(f, ref) ? NULL : "{\"cause\":\"no such image\",\"response\":404}");
    } else if (strcmp(p, "containers/create") == 0) {
        json_object *spec = json_tokener_parse(body);
        const char *n = cjson_get_string(spec, "name"), *img = cjson_get_string(spec, "image");

        const char *missing = missing_bind_source(f, spec);

        if (!n || find_ctr(f, n) || f->n == MAX_CTRS) {
            respond(fd, 409, "{\"cause\":\"that name is already in use\",\"response\":409}");
        } else if (missing) {
            snprintf(name, sizeof(name),
                     "{\"cause\":\"no such file or directory\",\"message\":\"statfs %s: no "
                     "such file or directory\",\"response\":500}",
                     missing);
            respond(fd, 500, name);
        } else {
            c = &f->c[f->n++];
            memset(c, 0, sizeof(*c));
            snprintf(c->name, sizeof(c->name), "%s", n);
            snprintf(c->id, sizeof(c->id), "id%d", ++f->next_id);
            podman_ref(img ? img : "", c->image, sizeof(c->image));
            snprintf(c->state, sizeof(c->state), "created");
            c->labels = json_object_get(cjson_get(spec, "labels"));
            if (!c->labels)
                c->labels = json_object_new_object();
            f->n_created++;
            snprintf(name, sizeof(name), "{\"Id\":\"%s\",\"Warnings\":[]}", c->id);
            respond(fd, 201, name);
        }
        json_object_put(spec);
    } else if (strncmp(p, "containers/", 11) == 0) {
        const char *rest = p + 11, *slash = strchr(rest, '/'), *q = strchr(rest, '?');
        size_t len = slash ? (size_t)(slash - rest) : q ? (size_t)(q - rest) : strlen(rest);

        snprintf(name, sizeof(name), "%.*s", (int)len, rest);
        c = find_ctr(f, name);
        if (!c) {
            respond(fd, 404, "{\"cause\":\"no such container\",\"response\":404}");
        } else if (strcmp(method, "DELETE") == 0) {
            strbuf_addf(&f->ops, "rm %s;", name);
            json_object_put(c->labels);
            *c = f->c[--f->n];
            f->n_removed++;
            respond(fd, 200, "[]");
        } else if (slash && strncmp(slash, "/unpause", 8) == 0) {
            if (strcmp(c->state, "paused") != 0) {
                respond(fd, 500, "{\"cause\":\"container state improper\",\"response\":500}");
            } else {
                snprintf(c->state, sizeof(c->state), "running");
                f->n_unpaused++;
                respond(fd, 204, NULL);
            }
        } else if (slash && strncmp(slash, "/start", 6) == 0) {
            if (strcmp(c->state, "paused") == 0) { /* as Podman: start does not resume */
                respond(fd, 500, "{\"cause\":\"container state improper\",\"response\":500}");
                pthread_mutex_unlock(&f->lock);
                return;
            }
            snprintf(c->state, sizeof(c->state), "running");
            f->n_started++;
            respond(fd, 204, NULL);
        } else if (slash && strncmp(slash, "/kill", 5) == 0) {
            if (strcmp(c->state, "running") != 0 && strcmp(c->state, "stopping") != 0) {
                respond(fd, 409, "{\"cause\":\"container state improper\",\"response\":409}");
            } else {
                strbuf_addf(&f->ops, "kill %s;", name);
                snprintf(c->state, sizeof(c->state), "exited");
                respond(fd, 204, NULL);
            }
        } else if (slash && strncmp(slash, "/json", 5) == 0) {
            o = ctr_inspect_json(c);
            respond(fd, 200, json_object_to_json_string(o));
        } else
            respond(fd, 404, "{\"cause\":\"no such route\",\"response\":404}");
    } else {
        respond(fd, 404, "{\"cause\":\"no such route\",\"response\":404}");
    }
    pthread_mutex_unlock(&f->lock);
    json_object_put(o);
}

typedef struct fconn {
    fake *f;
    int fd;
} fconn;

/* One connection (the client runs requests in parallel, each on its own connection). */
static TH_UNUSED void *fake_conn(void *arg)
{
    fconn *fc = arg;
    strbuf in = STRBUF_INIT, body = STRBUF_INIT;
    char method[16], target[1024];

    while (fake_http_read_request(&fc->f->stop, fc->fd, &in, method, target, &body) == 0)
        serve(fc->f, fc->fd, method, target, strbuf_str(&body));
    close(fc->fd);
    strbuf_release(&in);
    strbuf_release(&body);
    atomic_fetch_sub(&fc->f->n_conns, 1);
    free(fc);
    return NULL;
}

static TH_UNUSED void *fake_main(void *arg)
{
    fake *f = arg;

    while (!atomic_load(&f->stop)) {
        struct pollfd p = {f->listen_fd, POLLIN, 0};
        fconn *fc;
        pthread_t t;
        int fd;

        if (poll(&p, 1, 100) <= 0)
            continue;
        fd = accept(f->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        fc = calloc(1, sizeof(*fc));
        assert_non_null(fc);
        fc->f = f;
        fc->fd = fd;
        atomic_fetch_add(&f->n_conns, 1);
        if (pthread_create(&t, NULL, fake_conn, fc) != 0) {
            atomic_fetch_sub(&f->n_conns, 1);
            close(fd);
            free(fc);
            continue;
        }
        pthread_detach(t);
    }
    while (atomic_load(&f->n_conns) > 0) /* each sees stop within 100 ms */
        poll(NULL, 0, 10);
    return NULL;
}

/* ---- fixture ------------------------------------------------------------------------------ */

static const char tenant_json[] =
    "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
    "\"metadata\":{\"name\":\"t1\",\"uid\":\"u-1\",\"generation\":1},"
    "\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":\"10.0.0.5\","
    "\"ssh\":{\"address\":\"10.0.0.5\",\"identitySecretRef\":{\"name\":\"t1-ssh\"}}}],"
    "\"network\":{\"infraEnv\":\"lan\",\"fqdn\":\"t1.example.com\"},"
    "\"observability\":{\"enabled\":false},"
    "\"images\":{\"registry\":\"reg.test:5000\"}}}";

/* ---- fake host ops ------------------------------------------------------------------------ */

static TH_UNUSED ffile *ffile_find(fixture *fx, const char *path)
{
    for (size_t i = 0; i < fx->n_files; i++)
        if (strcmp(fx->files[i].path, path) == 0)
            return &fx->files[i];
    return NULL;
}

static TH_UNUSED int fops_hashes(void *ctx, const char *const *paths, size_t n,
                                 char (*hex)[TENANT_SHA256_HEX_LEN + 1], omlop_err *err)
{
    fixture *fx = ctx;

    (void)err;
    fx->n_hash_calls++;
    for (size_t i = 0; i < n; i++) {
        ffile *f = ffile_find(fx, paths[i]);

        if (f)
            cjson_sha256_hex(f->content.buf ? f->content.buf : "", f->content.len, hex[i]);
        else
            hex[i][0] = '\0';
    }
    return 0;
}

static TH_UNUSED int fops_write(void *ctx, const char *path, const char *data, size_t len,
                                unsigned mode, omlop_err *err)
{
    fixture *fx = ctx;
    ffile *f = ffile_find(fx, path);

    if (!f) {
        if (fx->n_files == MAX_FILES)
            return omlop_err_set(err, OMLOP_ELIMIT, "fake host: too many files");
        f = &fx->files[fx->n_files++];
        snprintf(f->path, sizeof(f->path), "%s", path);
        strbuf_init(&f->content);
    }
    strbuf_reset(&f->content);
    strbuf_add(&f->content, data, len);
    f->mode = mode;
    fx->n_writes++;
    return 0;
}

static TH_UNUSED int fops_remove(void *ctx, const char *path, omlop_err *err)
{
    fixture *fx = ctx;
    ffile *f = ffile_find(fx, path);

    (void)err;
    if (f) {
        strbuf_release(&f->content);
        *f = fx->files[--fx->n_files];
        fx->n_removes++;
    }
    return 0;
}

static TH_UNUSED int fops_probe(void *ctx, const char *address, int port, omlop_err *err)
{
    fixture *fx = ctx;

    fx->n_probes++;
    for (size_t i = 0; i < 8 && fx->closed_ports[i]; i++)
        if (fx->closed_ports[i] == port)
            return omlop_err_set(err, OMLOP_EUNAVAIL, "host h1: %s:%d refused: Connection refused",
                                 address, port);
    return 0;
}

static TH_UNUSED int fops_files_write(void *ctx, const tenant_file_write *files, size_t n,
                                      omlop_err *err)
{
    fixture *fx = ctx;
    int rc = 0;

    fx->n_write_calls++;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = fops_write(ctx, files[i].path, files[i].data, files[i].len, files[i].mode, err);
    return rc;
}

static TH_UNUSED int fdir_index(const fixture *fx, const char *path)
{
    for (size_t i = 0; i < fx->n_dirs; i++)
        if (strcmp(fx->dirs[i], path) == 0)
            return (int)i;
    return -1;
}

static TH_UNUSED int fops_dirs_present(void *ctx, const char *const *paths, size_t n, int *present,
                                       omlop_err *err)
{
    fixture *fx = ctx;

    (void)err;
    for (size_t i = 0; i < n; i++)
        present[i] = fdir_index(fx, paths[i]) >= 0;
    return 0;
}

static TH_UNUSED int fops_dirs_make(void *ctx, const tenant_dir *dirs, size_t n, const char *record,
                                    omlop_err *err)
{
    fixture *fx = ctx;

    snprintf(fx->record_path, sizeof(fx->record_path), "%s", record);
    for (size_t i = 0; i < n; i++) {
        if (fdir_index(fx, dirs[i].path) >= 0)
            continue;
        if (fx->n_dirs == MAX_DIRS || fx->n_recorded == MAX_DIRS)
            return omlop_err_set(err, OMLOP_ELIMIT, "fake host: too many directories");
        snprintf(fx->dirs[fx->n_dirs++], sizeof(fx->dirs[0]), "%s", dirs[i].path);
        snprintf(fx->recorded[fx->n_recorded++], sizeof(fx->recorded[0]), "%s", dirs[i].path);
        fx->n_dirs_made++;
    }
    return 0;
}

/* Take back what was recorded (the fake keeps one record: the tests run one tenant). */
static TH_UNUSED int fops_dirs_remove(void *ctx, const char *record, omlop_err *err)
{
    fixture *fx = ctx;

    (void)err;
    fx->n_dirs_remove_calls++;
    snprintf(fx->record_path, sizeof(fx->record_path), "%s", record);
    for (size_t r = 0; r < fx->n_recorded; r++) {
        int i = fdir_index(fx, fx->recorded[r]);

        if (i >= 0)
            memcpy(fx->dirs[i], fx->dirs[--fx->n_dirs], sizeof(fx->dirs[0]));
    }
    fx->n_recorded = 0;
    return 0;
}

static TH_UNUSED int fops_public_ip(void *ctx, strbuf *out, omlop_err *err)
{
    fixture *fx = ctx;

    if (!fx->public_ip[0])
        return omlop_err_set(err, OMLOP_EUNAVAIL, "host h1: no answer from the IP service");
    strbuf_adds(out, fx->public_ip);
    return 0;
}

static const tenant_host_ops fake_host_ops = {.file_hashes = fops_hashes,
                                              .files_write = fops_files_write,
                                              .file_remove = fops_remove,
                                              .dirs_present = fops_dirs_present,
                                              .dirs_make = fops_dirs_make,
                                              .dirs_remove = fops_dirs_remove,
                                              .public_ip = fops_public_ip,
                                              .tcp_probe = fops_probe};

/* The fake host's file at path, or NULL. */
static TH_UNUSED const char *host_file(fixture *fx, const char *path)
{
    ffile *f = ffile_find(fx, path);

    return f ? strbuf_str(&f->content) : NULL;
}

/* The SSH key in Secret t1-ssh: made for the tests only (as in test_podman_ssh.c). */
static const char TH_SSH_KEY[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACCM3Mvbi8iJ7LKeBt2Ca7uoCnJ4PcYHrZe/apzdTFkPRgAAAJD9KN3O/Sjd\n"
    "zgAAAAtzc2gtZWQyNTUxOQAAACCM3Mvbi8iJ7LKeBt2Ca7uoCnJ4PcYHrZe/apzdTFkPRg\n"
    "AAAECm09zcB5p+GSFQqlhi429wyzxUUivNl/kHz++mPc27DYzcy9uLyInssp4G3YJru6gK\n"
    "cng9xgetl79qnN1MWQ9GAAAAB2ZpeHR1cmUBAgMEBQY=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";

static TH_UNUSED int host_get(void *ctx, const tenant_host_access *a, tenant_host_conn *out,
                              tenant_host_info *info, omlop_err *err)
{
    fixture *fx = ctx;

    if (fx->is_host_down)
        return omlop_err_set(err, OMLOP_EUNAVAIL, "host h1: ssh 10.0.0.5:22: connection refused");
    assert_string_equal(a->host, "h1");
    assert_string_equal(a->address, "10.0.0.5");
    assert_string_equal(a->identity, TH_SSH_KEY); /* resolved from the Secret's stringData */
    snprintf(info->fingerprint, sizeof(info->fingerprint), "SHA256:test");
    out->pc = fx->pc;
    if (fx->use_ops) {
        out->ops = &fake_host_ops;
        out->ops_ctx = fx;
        /* a host reached with ops is a real one: a bind source it lacks fails the create */
        pthread_mutex_lock(&fx->f.lock);
        fx->f.host_dirs = (const char(*)[128])fx->dirs;
        fx->f.n_host_dirs = &fx->n_dirs;
        pthread_mutex_unlock(&fx->f.lock);
    }
    return 0;
}

static TH_UNUSED void put_object(store *st, const char *key, json_object *obj)
{
    strbuf text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    object_store_text(obj, &text);
    if (store_create(st, key, text.buf, text.len, NULL, &err) < 0)
        fail_msg("store_create %s: %s", key, err.msg);
    strbuf_release(&text);
}

static TH_UNUSED int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    struct sockaddr_un sa;
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;
    schema_set *set = NULL;
    diag_list *dl = diag_list_new();
    json_object *raw = json_tokener_parse(tenant_json), *decoded = NULL, *secret;
    fake *f = &fx->f;

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    snprintf(f->dir, sizeof(f->dir), "/tmp/omlop-tenantrec-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/podman.sock", f->dir);
    snprintf(fx->data_dir, sizeof(fx->data_dir), "%s/data", f->dir);
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->listen_fd, 16), 0);
    pthread_mutex_init(&f->lock, NULL);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);

    store_options_default(&so);
    so.data_dir = fx->data_dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &fx->st, &err) < 0)
        fail_msg("store: %s", err.msg);
    if (schema_set_new_builtin(&set, &err) < 0)
        fail_msg("schema: %s", err.msg);
    if (schema_set_decode_json(set, raw, &decoded, dl) < 0)
        fail_msg("the test tenant does not decode (%zu problems)", diag_list_count(dl));
    put_object(fx->st, TENANT_KEY_PREFIX "t1", decoded);
    secret = json_tokener_parse("{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\","
                                "\"metadata\":{\"name\":\"t1-ssh\"},\"stringData\":{}}");
    json_object_object_add(cjson_get(secret, "stringData"), "ssh-privatekey",
                           json_object_new_string(TH_SSH_KEY));
    put_object(fx->st, SECRETS_KEY_PREFIX "t1-ssh", secret);
    json_object_put(secret);
    json_object_put(raw);
    json_object_put(decoded);
    schema_set_free(set);
    diag_list_free(dl);

    if (tunnel_new_local(f->path, &fx->tun, &err) < 0 ||
        podman_client_new(fx->tun, &fx->pc, &err) < 0)
        fail_msg("client: %s", err.msg);
    fx->env.st = fx->st;
    fx->env.host_get = host_get;
    fx->env.host_ctx = fx;
    fx->env.ready_timeout_ms = 2000;
    if (events_new(fx->st, NULL, "omlopd", &fx->ev, &err) < 0)
        fail_msg("events: %s", err.msg);
    fx->env.ev = fx->ev;
    *state = fx;
    return 0;
}

static TH_UNUSED int teardown(void **state)
{
    fixture *fx = *state;
    fake *f = &fx->f;
    char cmd[160];

    podman_client_free(fx->pc);
    tunnel_free(fx->tun);
    events_free(fx->ev);
    tenant_memo_free(fx->env.memo);
    store_close(fx->st);
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    for (size_t i = 0; i < f->n; i++)
        json_object_put(f->c[i].labels);
    for (size_t i = 0; i < fx->n_files; i++)
        strbuf_release(&fx->files[i].content);
    pthread_mutex_destroy(&f->lock);
    strbuf_release(&f->ops);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static TH_UNUSED json_object *stored_tenant(fixture *fx)
{
    store_kv kv = {0};
    omlop_err err = OMLOP_ERR_INIT;
    json_object *o;

    if (store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, &err) < 0)
        fail_msg("store_get: %s", err.msg);
    o = object_parse(kv.value, kv.value_len);
    store_kv_release(&kv);
    assert_non_null(o);
    return o;
}

/* A label value (label keys hold dots, so no dotted-path getter). */
static TH_UNUSED const char *label(json_object *labels, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(labels, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static TH_UNUSED const char *cond_status(const json_object *t, const char *type)
{
    return cjson_get_string(tenant_condition_find(cjson_get(t, "status"), type), "status");
}

static TH_UNUSED json_object *status_component(const json_object *t, const char *name)
{
    json_object *h = json_object_array_get_idx(cjson_get(t, "status.hosts"), 0);
    json_object *cs = cjson_get(h, "components");

    for (size_t i = 0; cs && i < json_object_array_length(cs); i++)
        if (strcmp(cjson_get_string(json_object_array_get_idx(cs, i), "name"), name) == 0)
            return json_object_array_get_idx(cs, i);
    return NULL;
}

static TH_UNUSED void reconcile_ok(fixture *fx, tenant_result *res)
{
    omlop_err err = OMLOP_ERR_INIT;

    if (tenant_reconcile(&fx->env, "t1", res, &err) < 0)
        fail_msg("tenant_reconcile: %s", err.msg);
}

/* Replace the stored Tenant with t (no compare-and-swap: the test is the only writer). */
static TH_UNUSED void store_tenant(fixture *fx, const json_object *t)
{
    strbuf text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    object_store_text(t, &text);
    if (store_update(fx->st, TENANT_KEY_PREFIX "t1", text.buf, text.len, 0, NULL, &err) < 0)
        fail_msg("store_update: %s", err.msg);
    strbuf_release(&text);
}

/* What the API's DELETE does to an object with finalizers: set deletionTimestamp. */
static TH_UNUSED void mark_deleted(fixture *fx)
{
    json_object *t = stored_tenant(fx);

    json_object_object_add(cjson_get(t, "metadata"), "deletionTimestamp",
                           json_object_new_string("2026-01-01T00:00:00Z"));
    store_tenant(fx, t);
    json_object_put(t);
}

static TH_UNUSED int secret_exists(fixture *fx, const char *name)
{
    strbuf key = STRBUF_INIT;
    store_kv kv = {0};
    int rc;

    strbuf_addf(&key, "%s%s", SECRETS_KEY_PREFIX, name);
    rc = store_get(fx->st, key.buf, &kv, NULL);
    store_kv_release(&kv);
    strbuf_release(&key);
    return rc == 0;
}

/*
 * The first recorded Event with that reason whose message contains text (NULL:
 * any): 1, its message copied to out (may be NULL); 0 when there is none.
 */
static TH_UNUSED int find_event(fixture *fx, const char *reason, const char *text, char *out,
                                size_t size)
{
    store_list_opts lo;
    store_list_result res;
    omlop_err err = OMLOP_ERR_INIT;
    int found = 0;

    memset(&lo, 0, sizeof(lo));
    lo.prefix = "/omlop/events/";
    memset(&res, 0, sizeof(res));
    if (store_list(fx->st, &lo, &res, &err) < 0)
        fail_msg("store_list: %s", err.msg);
    if (out && size)
        out[0] = '\0';
    for (size_t i = 0; i < res.items.n && !found; i++) {
        json_object *e = object_parse(res.items.items[i].value, res.items.items[i].value_len);
        const char *r = cjson_get_string(e, "reason"), *m = cjson_get_string(e, "message");

        found = r && m && strcmp(r, reason) == 0 && (!text || strstr(m, text));
        if (found && out && size)
            snprintf(out, size, "%s", m);
        json_object_put(e);
    }
    store_list_result_release(&res);
    return found;
}

#endif
