/*
 * omlctl delete: delete objects named on the command line, by selector, or
 * listed in manifests; optionally wait until they are gone.
 *
 * An object with finalizers is not gone when DELETE returns: the server sets
 * deletionTimestamp and removes it once its finalizers are empty (the tenant
 * reconciler tears the hosts down first). --wait watches for that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "clients/omlctl/output.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/xalloc.h"

static const char delete_help[] =
    "Delete objects.\n"
    "\n"
    "Usage:\n"
    "  omlctl delete KIND NAME... [flags]\n"
    "  omlctl delete KIND/NAME... [flags]\n"
    "  omlctl delete KIND (-l SELECTOR | --all) [flags]\n"
    "  omlctl delete -f FILE|DIR|- [flags]\n"
    "\n"
    "An object with finalizers (a tenant whose hosts are being cleaned up) stays,\n"
    "with metadata.deletionTimestamp set, until its finalizers are done; --wait\n"
    "waits for that.\n"
    "\n"
    "Flags:\n"
    "  -f, --filename PATH      delete the objects in these manifests (repeatable)\n"
    "  -l, --selector SEL       delete the objects of KIND whose labels match\n"
    "      --all                delete every object of KIND\n"
    "      --ignore-not-found   a missing object is not an error\n"
    "      --wait               wait until the objects are gone\n"
    "      --timeout DURATION   how long --wait waits (default 5m)\n"
    "      --dry-run MODE       none (default) or server\n"
    "  -o, --output name        print only KIND/NAME of each deleted object\n"
    "\n"
    "Examples:\n"
    "  omlctl delete tenant acme\n"
    "  omlctl delete tn/acme bk/acme-nightly --wait --timeout 10m\n"
    "  omlctl delete backups -l tenant=acme\n"
    "  omlctl delete -f tenants/acme.yaml --ignore-not-found\n";

typedef struct delete_opts {
    omlctl_strv files;
    const char *selector;
    const char *dry_run;
    const char *output;
    int all;
    int ignore_not_found;
    int wait;
    long timeout_ms;
    int server_dry_run;
} delete_opts;

/* One object to delete, with its name owned (names may come from a listing). */
typedef struct victim {
    const kind_info *kind;
    char *name;
    int deleted; /* DELETE succeeded: --wait waits for it */
} victim;

typedef struct victims {
    victim *v;
    size_t n;
    size_t cap;
} victims;

static void victims_add(victims *vs, const kind_info *kind, const char *name)
{
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 8;
        victim *v = xrealloc(vs->v, cap * sizeof(*v));

        vs->v = v;
        vs->cap = cap;
    }
    vs->v[vs->n].kind = kind;
    vs->v[vs->n].name = xstrdup(name);
    vs->v[vs->n].deleted = 0;
    vs->n++;
}

static void victims_release(victims *vs)
{
    for (size_t i = 0; i < vs->n; i++)
        free(vs->v[i].name);
    free(vs->v);
}

/* Wait until one object is gone or the deadline passes. */
static int wait_gone(apiclient *api, const victim *v, long deadline, omlop_err *err)
{
    json_object *obj = NULL;
    strbuf rv = STRBUF_INIT;
    apiclient_watch *w = NULL;
    int rc, reopens = 0;

    for (;;) {
        apiclient_event ev = {APICLIENT_EVENT_END, NULL};
        long left;

        if (!w) {
            if (reopens++ >= 1000) {
                rc = omlop_err_set(err, OMLOP_ELIMIT, "the watch on %s/%s closed 1000 times",
                                   v->kind->singular, v->name);
                goto out;
            }
            /* (Re)start from a fresh read: gone already, or watch from its version. */
            json_object_put(obj);
            obj = NULL;
            rc = omlctl_get_object(api, v->kind, v->name, &obj, err);
            if (rc == OMLOP_ENOTFOUND) {
                rc = 0;
                goto out;
            }
            if (rc < 0)
                goto out;
            strbuf_reset(&rv);
            strbuf_adds(&rv, cjson_get_string(obj, "metadata.resourceVersion")
                                 ? cjson_get_string(obj, "metadata.resourceVersion")
                                 : "");
            rc = omlctl_watch_open(api, v->kind, v->name, NULL, NULL, rv.buf, &w, err);
            if (rc < 0)
                goto out;
        }
        left = deadline - clock_now_ms();
        if (left <= 0)
            break;
        rc = apiclient_watch_next(w, (int)(left > 1000 ? 1000 : left), &ev, err);
        if (rc == OMLOP_ETIMEOUT)
            continue;
        if (rc == OMLOP_EGONE || (rc == 0 && ev.type == APICLIENT_EVENT_END)) {
            apiclient_watch_close(w);
            w = NULL;
            continue;
        }
        if (rc < 0)
            goto out;
        if (ev.type == APICLIENT_EVENT_DELETED) {
            apiclient_event_release(&ev);
            rc = 0;
            goto out;
        }
        if (ev.type != APICLIENT_EVENT_BOOKMARK) {
            json_object_put(obj);
            obj = json_object_get(ev.object);
        }
        apiclient_event_release(&ev);
    }
    {
        json_object *fin = cjson_get(obj, "metadata.finalizers");

        rc = omlop_err_set(err, OMLOP_ETIMEOUT,
                           "timed out waiting for %s/%s to be deleted (finalizers: %s)",
                           v->kind->singular, v->name,
                           fin ? json_object_to_json_string_ext(
                                     fin, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                               : "none");
    }
out:
    apiclient_watch_close(w);
    json_object_put(obj);
    strbuf_release(&rv);
    return rc;
}

/* Collect what to delete from the arguments, -l/--all listings and -f manifests. */
static int collect(omlctl_ctx *ctx, apiclient *api, const omlctl_strv *args, const delete_opts *o,
                   victims *vs)
{
    omlop_err err = OMLOP_ERR_INIT;
    omlctl_targets targets = OMLCTL_TARGETS_INIT;
    omlctl_manifests ms = {NULL, 0};
    int rc = 0;

    if (o->files.n) {
        /* Only names and kinds matter here: do not reject a manifest for its spec. */
        rc = omlctl_manifests_load(ctx, &o->files, 0, &ms, &err);
        if (rc < 0)
            goto fail;
        for (size_t i = 0; i < ms.n; i++)
            victims_add(vs, ms.v[i].kind, ms.v[i].name);
    }
    if (args->n) {
        rc = omlctl_targets_parse(ctx->schemas, args, !(o->selector || o->all), &targets, &err);
        if (rc < 0)
            goto fail;
        for (size_t i = 0; i < targets.n; i++) {
            json_object *items = NULL;

            if (targets.v[i].name) {
                victims_add(vs, targets.v[i].kind, targets.v[i].name);
                continue;
            }
            rc = omlctl_list_objects(api, targets.v[i].kind, o->selector, NULL, &items, NULL, &err);
            if (rc < 0)
                goto fail;
            for (size_t j = 0; j < json_object_array_length(items); j++)
                victims_add(vs, targets.v[i].kind,
                            cjson_get_string(json_object_array_get_idx(items, j), "metadata.name"));
            json_object_put(items);
        }
    }
    goto out;
fail:
    omlctl_print_error(ctx, &err);
out:
    omlctl_targets_release(&targets);
    omlctl_manifests_release(&ms);
    return rc;
}

int cmd_delete(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT;
    delete_opts o;
    victims vs = {NULL, 0, 0};
    omlop_err err = OMLOP_ERR_INIT;
    apiclient *api;
    schema_set *set;
    int ret = OMLCTL_EXIT_USAGE, failed = 0;
    long deadline;
    const omlctl_opt opts[] = {
        {"filename", 'f', OMLCTL_OPT_LIST, &o.files},
        {"selector", 'l', OMLCTL_OPT_STRING, &o.selector},
        {"all", 0, OMLCTL_OPT_BOOL, &o.all},
        {"ignore-not-found", 0, OMLCTL_OPT_BOOL, &o.ignore_not_found},
        {"wait", 0, OMLCTL_OPT_BOOL, &o.wait},
        {"timeout", 0, OMLCTL_OPT_DURATION, &o.timeout_ms},
        {"dry-run", 0, OMLCTL_OPT_STRING, &o.dry_run},
        {"output", 'o', OMLCTL_OPT_STRING, &o.output},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    memset(&o, 0, sizeof(o));
    o.timeout_ms = 5 * 60 * 1000;
    omlctl_ctx_init(&ctx, "delete");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, delete_help, &ret))
        goto out;
    if (!args.n && !o.files.n) {
        omlctl_usage_error(&ctx, "name what to delete: KIND NAME, KIND/NAME, KIND -l SEL, "
                                 "KIND --all or -f FILE");
        goto out;
    }
    if ((o.selector || o.all) && (!args.n || strchr(args.v[0], '/') || args.n > 1)) {
        omlctl_usage_error(&ctx, "-l and --all take one KIND and no names");
        goto out;
    }
    if (o.selector && o.all) {
        omlctl_usage_error(&ctx, "use -l or --all, not both");
        goto out;
    }
    if (o.selector && omlctl_selector_match(o.selector, NULL, &err) < 0) {
        omlctl_usage_error(&ctx, "%s", err.msg);
        goto out;
    }
    if (o.output && strcmp(o.output, "name")) {
        omlctl_usage_error(&ctx, "-o takes only name");
        goto out;
    }
    if (!o.dry_run || !strcmp(o.dry_run, "none") || !strcmp(o.dry_run, "false")) {
        o.server_dry_run = 0;
    } else if (!strcmp(o.dry_run, "server")) {
        o.server_dry_run = 1;
    } else {
        omlctl_usage_error(&ctx, "--dry-run takes none or server, not '%s'", o.dry_run);
        goto out;
    }
    ret = OMLCTL_EXIT_ERROR;
    if (omlctl_ctx_schemas(&ctx, &set, &err) < 0 || omlctl_ctx_client(&ctx, &api, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (args.n && !(o.selector || o.all)) {
        /* Check the arguments before anything is deleted. */
        omlctl_targets t = OMLCTL_TARGETS_INIT;
        int rc = omlctl_targets_parse(set, &args, 1, &t, &err);

        omlctl_targets_release(&t);
        if (rc < 0) {
            omlctl_usage_error(&ctx, "%s", err.msg);
            ret = OMLCTL_EXIT_USAGE;
            goto out;
        }
    }
    if (collect(&ctx, api, &args, &o, &vs) < 0)
        goto out;
    if (!vs.n && (o.selector || o.all))
        fprintf(stderr, "No resources found.\n");
    for (size_t i = 0; i < vs.n; i++) {
        strbuf path = STRBUF_INIT;
        int rc;

        apiclient_path(&path, vs.v[i].kind->plural, vs.v[i].name, NULL);
        if (o.server_dry_run)
            apiclient_query_add(&path, "dryRun", "All");
        rc = apiclient_json(api, "DELETE", path.buf, NULL, NULL, NULL, &err);
        strbuf_release(&path);
        if (rc == OMLOP_ENOTFOUND && o.ignore_not_found)
            continue;
        if (rc < 0) {
            omlctl_print_error(&ctx, &err);
            failed = 1;
            continue;
        }
        vs.v[i].deleted = 1;
        if (o.output)
            printf("%s/%s\n", vs.v[i].kind->singular, vs.v[i].name);
        else
            printf("%s/%s deleted%s\n", vs.v[i].kind->singular, vs.v[i].name,
                   o.server_dry_run ? " (server dry run)" : "");
        fflush(stdout);
    }
    if (o.wait && !o.server_dry_run) {
        deadline = clock_now_ms() + o.timeout_ms;
        for (size_t i = 0; i < vs.n; i++) {
            if (vs.v[i].deleted && wait_gone(api, &vs.v[i], deadline, &err) < 0) {
                omlctl_print_error(&ctx, &err);
                failed = 1;
            }
        }
    }
    ret = failed ? OMLCTL_EXIT_ERROR : OMLCTL_EXIT_OK;
out:
    victims_release(&vs);
    omlctl_strv_release(&o.files);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
