/*
 * omlctl wait: block until objects meet a condition or are deleted.
 *
 * Watch-based: one GET, then a watch from that resourceVersion, re-checking
 * each event; a closed watch resumes from the last version seen and an
 * expired one (410) starts again from a fresh GET. On timeout it says what it
 * last saw (the condition's status, reason and message), so a script's log
 * explains the failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "lib/cjson.h"
#include "lib/clock.h"

static const char wait_help[] =
    "Wait until objects meet a condition, or until they are deleted.\n"
    "\n"
    "Usage:\n"
    "  omlctl wait KIND NAME... --for=condition=TYPE[=STATUS] [--timeout=DURATION]\n"
    "  omlctl wait KIND/NAME... --for=delete [--timeout=DURATION]\n"
    "\n"
    "A condition is met when status.conditions has an entry of that type (any case)\n"
    "with that status (default True) and, when the entry carries observedGeneration,\n"
    "it is the object's current metadata.generation. A missing object is waited for.\n"
    "Tenants have the conditions Ready, Progressing, Degraded and HostsReachable;\n"
    "Backups and Restores have none (they report status.phase), so wait for a\n"
    "tenant's condition or for --for=delete.\n"
    "\n"
    "Flags:\n"
    "      --for CONDITION      condition=TYPE, condition=TYPE=STATUS or delete\n"
    "      --timeout DURATION   give up after this long (default 30s; 0 checks once)\n"
    "\n"
    "Prints KIND/NAME condition met (or deleted) per object. Exit 0 when all met,\n"
    "1 on timeout (with the last state seen) or error, 2 on usage errors.\n"
    "\n"
    "Examples:\n"
    "  omlctl wait tenant acme --for=condition=Ready --timeout=5m\n"
    "  omlctl wait tenant/acme --for=condition=Progressing=False --timeout=10m\n"
    "  omlctl wait tn/acme --for=delete --timeout=10m\n";

typedef struct wait_for {
    int is_delete;
    char type[128];
    char status[32];
} wait_for;

static int parse_for(const char *s, wait_for *f)
{
    const char *eq;

    memset(f, 0, sizeof(*f));
    if (!strcmp(s, "delete")) {
        f->is_delete = 1;
        return 0;
    }
    if (strncmp(s, "condition=", 10) != 0 || !s[10])
        return -1;
    s += 10;
    eq = strchr(s, '=');
    if (eq) {
        if (eq == s || !eq[1] || (size_t)(eq - s) >= sizeof(f->type) ||
            strlen(eq + 1) >= sizeof(f->status))
            return -1;
        snprintf(f->type, sizeof(f->type), "%.*s", (int)(eq - s), s);
        snprintf(f->status, sizeof(f->status), "%s", eq + 1);
    } else {
        if (strlen(s) >= sizeof(f->type))
            return -1;
        snprintf(f->type, sizeof(f->type), "%s", s);
        snprintf(f->status, sizeof(f->status), "True");
    }
    return 0;
}

/*
 * Whether obj meets the condition; last (when not met) gets what was seen,
 * e.g. "Ready=False (Provisioning: waiting for host h1)".
 */
static int condition_met(const json_object *obj, const wait_for *f, strbuf *last)
{
    json_object *conds = cjson_get(obj, "status.conditions");
    int64_t generation = cjson_get_int(obj, "metadata.generation", 0);
    size_t n =
        conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;

    strbuf_reset(last);
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        const char *type = cjson_get_string(c, "type");
        const char *status = cjson_get_string(c, "status");
        const char *reason = cjson_get_string(c, "reason");
        const char *message = cjson_get_string(c, "message");
        int64_t observed = cjson_get_int(c, "observedGeneration", -1);

        if (!type || strcasecmp(type, f->type) != 0)
            continue;
        strbuf_addf(last, "%s=%s", type, status ? status : "<none>");
        if (reason || message)
            strbuf_addf(last, " (%s%s%s)", reason ? reason : "", reason && message ? ": " : "",
                        message ? message : "");
        if (observed >= 0 && generation > 0 && observed < generation) {
            strbuf_addf(last, " for generation %lld, the object is at %lld", (long long)observed,
                        (long long)generation);
            return 0;
        }
        return status && strcasecmp(status, f->status) == 0;
    }
    strbuf_addf(last, "no %s condition yet", f->type);
    return 0;
}

/* Wait for one object; 0 met, OMLOP_ETIMEOUT with the last state in err, or an error. */
static int wait_one(apiclient *api, const kind_info *kind, const char *name, const wait_for *f,
                    long deadline, omlop_err *err)
{
    json_object *obj = NULL;
    strbuf rv = STRBUF_INIT, last = STRBUF_INIT;
    apiclient_watch *w = NULL;
    int rc, reopens = 0, need_get = 1;

    for (;;) {
        apiclient_event ev = {APICLIENT_EVENT_END, NULL};
        long left;

        if (need_get) {
            json_object_put(obj);
            obj = NULL;
            rc = omlctl_get_object(api, kind, name, &obj, err);
            if (rc < 0 && rc != OMLOP_ENOTFOUND)
                goto out;
            if (!obj) {
                if (f->is_delete) {
                    rc = 0;
                    goto out;
                }
                json_object *items = NULL;
                strbuf fs = STRBUF_INIT;

                strbuf_reset(&last);
                strbuf_addf(&last, "%s/%s was not found", kind->singular, name);
                /* Watch for it to appear, from the version of an (empty) listing. */
                strbuf_addf(&fs, "metadata.name=%s", name);
                rc = omlctl_list_objects(api, kind, NULL, fs.buf, &items, &rv, err);
                strbuf_release(&fs);
                json_object_put(items);
                if (rc < 0)
                    goto out;
            } else {
                const char *r = cjson_get_string(obj, "metadata.resourceVersion");

                if (!f->is_delete && condition_met(obj, f, &last)) {
                    rc = 0;
                    goto out;
                }
                if (f->is_delete) {
                    strbuf_reset(&last);
                    strbuf_adds(&last, "it still exists");
                }
                strbuf_reset(&rv);
                strbuf_adds(&rv, r ? r : "");
            }
            need_get = 0;
        }
        left = deadline - clock_now_ms();
        if (left <= 0)
            break;
        if (!w) {
            if (reopens++ >= 1000) {
                rc = omlop_err_set(err, OMLOP_ELIMIT, "the watch on %s/%s closed 1000 times",
                                   kind->singular, name);
                goto out;
            }
            rc = omlctl_watch_open(api, kind, name, NULL, NULL, rv.buf, &w, err);
            if (rc == OMLOP_EGONE) {
                need_get = 1;
                continue;
            }
            if (rc < 0)
                goto out;
        }
        rc = apiclient_watch_next(w, (int)(left > 1000 ? 1000 : left), &ev, err);
        if (rc == OMLOP_ETIMEOUT)
            continue;
        if (rc == OMLOP_EGONE) {
            apiclient_watch_close(w);
            w = NULL;
            need_get = 1;
            continue;
        }
        if (rc < 0)
            goto out;
        if (ev.type == APICLIENT_EVENT_END) {
            apiclient_watch_close(w);
            w = NULL;
            continue;
        }
        {
            const char *r = cjson_get_string(ev.object, "metadata.resourceVersion");
            const char *evname = cjson_get_string(ev.object, "metadata.name");

            if (r) {
                strbuf_reset(&rv);
                strbuf_adds(&rv, r);
            }
            if (ev.type == APICLIENT_EVENT_BOOKMARK || !evname || strcmp(evname, name) != 0) {
                apiclient_event_release(&ev);
                continue;
            }
        }
        if (ev.type == APICLIENT_EVENT_DELETED) {
            apiclient_event_release(&ev);
            if (f->is_delete) {
                rc = 0;
                goto out;
            }
            strbuf_reset(&last);
            strbuf_addf(&last, "%s/%s was deleted", kind->singular, name);
            continue;
        }
        if (!f->is_delete && condition_met(ev.object, f, &last)) {
            apiclient_event_release(&ev);
            rc = 0;
            goto out;
        }
        apiclient_event_release(&ev);
    }
    rc = omlop_err_set(err, OMLOP_ETIMEOUT, "timed out waiting for %s on %s/%s: %s",
                       f->is_delete ? "the deletion" : "the condition", kind->singular, name,
                       strbuf_str(&last));
out:
    apiclient_watch_close(w);
    json_object_put(obj);
    strbuf_release(&rv);
    strbuf_release(&last);
    return rc;
}

int cmd_wait(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT;
    omlctl_targets targets = OMLCTL_TARGETS_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *for_s = NULL;
    long timeout_ms = 30000, deadline;
    wait_for f;
    apiclient *api;
    schema_set *set;
    int ret = OMLCTL_EXIT_USAGE, failed = 0;
    const omlctl_opt opts[] = {
        {"for", 0, OMLCTL_OPT_STRING, &for_s},
        {"timeout", 0, OMLCTL_OPT_DURATION, &timeout_ms},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    omlctl_ctx_init(&ctx, "wait");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, wait_help, &ret))
        goto out;
    if (!for_s || parse_for(for_s, &f) < 0) {
        omlctl_usage_error(&ctx, "--for takes condition=TYPE, condition=TYPE=STATUS or delete%s%s",
                           for_s ? ", not " : "", for_s ? for_s : "");
        goto out;
    }
    ret = OMLCTL_EXIT_ERROR;
    if (omlctl_ctx_schemas(&ctx, &set, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (omlctl_targets_parse(set, &args, 1, &targets, &err) < 0) {
        omlctl_usage_error(&ctx, "%s", err.msg);
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (omlctl_ctx_client(&ctx, &api, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    /* One deadline for all objects, as kubectl's --timeout. */
    deadline = clock_now_ms() + timeout_ms;
    for (size_t i = 0; i < targets.n; i++) {
        if (wait_one(api, targets.v[i].kind, targets.v[i].name, &f, deadline, &err) < 0) {
            omlctl_print_error(&ctx, &err);
            failed = 1;
            continue;
        }
        printf("%s/%s %s\n", targets.v[i].kind->singular, targets.v[i].name,
               f.is_delete ? "deleted" : "condition met");
        fflush(stdout);
    }
    ret = failed ? OMLCTL_EXIT_ERROR : OMLCTL_EXIT_OK;
out:
    omlctl_targets_release(&targets);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
