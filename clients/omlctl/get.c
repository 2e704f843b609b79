/* omlctl get: list or show objects, once or as a watch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "clients/omlctl/output.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/xalloc.h"

static const char get_help[] =
    "Show objects: a table by default, or YAML, JSON or names.\n"
    "\n"
    "Usage:\n"
    "  omlctl get KIND [NAME...] [flags]\n"
    "  omlctl get KIND/NAME... [flags]\n"
    "  omlctl get KIND[,KIND...] [flags]\n"
    "\n"
    "KIND is a kind, plural, singular or short name, any case: tenant, tenants, tn,\n"
    "secret(s), backup(s)/bk, restore(s)/rs, event(s)/ev.\n"
    "\n"
    "Flags:\n"
    "  -o, --output FORMAT         table (default), wide (adds the priority columns),\n"
    "                              yaml, json, name\n"
    "  -l, --selector SELECTOR     label selector: a=b, a!=b, a in (x,y), a notin (x), a, !a\n"
    "      --field-selector SEL    field selector, e.g. metadata.name=x\n"
    "  -w, --watch                 after listing, print changes as they happen\n"
    "      --watch-only            print only the changes, not the current objects\n"
    "      --output-watch-events   with -w: add an EVENT column (ADDED, MODIFIED, DELETED)\n"
    "      --no-headers            table without its header line\n"
    "      --ignore-not-found      a missing named object is not an error\n"
    "\n"
    "With several objects, -o yaml|json prints one List (kind: List, items: [...]);\n"
    "with one named object, the object itself. A watch runs until interrupted; with\n"
    "--request-timeout DURATION it ends after DURATION (exit 0, counted from the\n"
    "start, the first listing included). It ends on an error with exit 1.\n"
    "\n"
    "Examples:\n"
    "  omlctl get tenants\n"
    "  omlctl get tn acme -o yaml\n"
    "  omlctl get tenant/acme backup/nightly -o name\n"
    "  omlctl get tenants -l env=prod -o wide\n"
    "  omlctl get tenants -w --request-timeout 10m\n"
    "  omlctl get events --field-selector involvedObject.name=acme\n";

typedef struct get_opts {
    const char *output;
    const char *selector;
    const char *field_selector;
    int watch;
    int watch_only;
    int watch_events;
    int no_headers;
    int ignore_not_found;
} get_opts;

/* Print a group of objects of one kind in the chosen format. */
static int print_objects(omlctl_ctx *ctx, const kind_info *kind, json_object *items,
                         omlctl_output fmt, int prefix_kind, const get_opts *o, int *printed)
{
    omlop_err err = OMLOP_ERR_INIT;
    size_t n = json_object_array_length(items);
    omlctl_columns cols;
    omlctl_table *t;
    const char **headers;
    time_t now = time(NULL);

    if (fmt == OMLCTL_OUT_NAME) {
        for (size_t i = 0; i < n; i++)
            printf("%s/%s\n", kind->singular,
                   cjson_get_string(json_object_array_get_idx(items, i), "metadata.name"));
        return 0;
    }
    if (!n)
        return 0;
    if (omlctl_columns_for_kind(ctx->schemas, kind, fmt == OMLCTL_OUT_WIDE, &cols, &err) < 0) {
        omlctl_print_error(ctx, &err);
        return OMLOP_EINVAL;
    }
    if (*printed)
        printf("\n"); /* a blank line between the tables of several kinds, as kubectl */
    headers = omlctl_columns_headers(&cols);
    t = omlctl_table_new(cols.n, headers);
    for (size_t i = 0; i < n; i++) {
        json_object *obj = json_object_array_get_idx(items, i);

        if (prefix_kind) {
            /* Several kinds in one listing: names carry their kind. */
            json_object *copy = NULL;
            strbuf ref = STRBUF_INIT;

            json_object_deep_copy(obj, &copy, NULL);
            omlctl_object_ref(&ref, kind, cjson_get_string(obj, "metadata.name"));
            json_object_object_add(json_object_object_get(copy, "metadata"), "name",
                                   json_object_new_string(ref.buf));
            omlctl_columns_add_row(&cols, t, copy, now);
            json_object_put(copy);
            strbuf_release(&ref);
        } else {
            omlctl_columns_add_row(&cols, t, obj, now);
        }
    }
    omlctl_table_flush(t, stdout, !o->no_headers);
    *printed = 1;
    omlctl_table_free(t);
    free(headers);
    omlctl_columns_release(&cols);
    return 0;
}

/* One object of a stream (-w with -o yaml|json): YAML documents are separated by "---". */
static int print_stream_object(omlctl_output fmt, const json_object *obj, int *n_printed,
                               omlop_err *err)
{
    if (fmt == OMLCTL_OUT_YAML && (*n_printed)++ > 0)
        printf("---\n");
    return omlctl_print_object(stdout, fmt, obj, err);
}

/* -w: list (for the starting resourceVersion), then print each event. */
static int get_watch(omlctl_ctx *ctx, apiclient *api, const omlctl_target *tg, omlctl_output fmt,
                     const get_opts *o)
{
    omlop_err err = OMLOP_ERR_INIT;
    json_object *items = NULL;
    strbuf rv = STRBUF_INIT, fs = STRBUF_INIT;
    omlctl_columns cols = {NULL, 0};
    omlctl_table *t = NULL;
    const char **headers = NULL;
    apiclient_watch *w = NULL;
    long deadline = ctx->request_timeout_ms > 0 ? clock_now_ms() + ctx->request_timeout_ms : 0;
    int ret = OMLCTL_EXIT_ERROR, reopens = 0, n_printed = 0;

    if (tg->name)
        strbuf_addf(&fs, "metadata.name=%s", tg->name);
    if (o->field_selector && *o->field_selector)
        strbuf_addf(&fs, "%s%s", fs.len ? "," : "", o->field_selector);
    if (omlctl_list_objects(api, tg->kind, o->selector, fs.buf, &items, &rv, &err) < 0)
        goto fail;
    if (fmt == OMLCTL_OUT_TABLE || fmt == OMLCTL_OUT_WIDE) {
        if (omlctl_columns_for_kind(ctx->schemas, tg->kind, fmt == OMLCTL_OUT_WIDE, &cols, &err) <
            0)
            goto fail;
        if (o->watch_events) {
            /* An EVENT column first, as kubectl --output-watch-events. */
            omlctl_column *v = xrealloc(cols.v, (cols.n + 1) * sizeof(*v));

            cols.v = v;
            memmove(cols.v + 1, cols.v, cols.n * sizeof(*v));
            cols.v[0].name = xstrdup("EVENT");
            cols.v[0].json_path = xstrdup(".__event");
            cols.v[0].type = xstrdup("string");
            cols.v[0].priority = 0;
            cols.n++;
        }
        headers = omlctl_columns_headers(&cols);
        t = omlctl_table_new(cols.n, headers);
    }
    for (size_t i = 0; !o->watch_only && i < json_object_array_length(items); i++) {
        json_object *obj = json_object_array_get_idx(items, i);

        if (t) {
            if (o->watch_events)
                json_object_object_add(obj, "__event", json_object_new_string("ADDED"));
            omlctl_columns_add_row(&cols, t, obj, time(NULL));
        } else if (fmt == OMLCTL_OUT_NAME) {
            printf("%s/%s\n", tg->kind->singular, cjson_get_string(obj, "metadata.name"));
        } else if (print_stream_object(fmt, obj, &n_printed, &err) < 0) {
            goto fail;
        }
    }
    if (t)
        omlctl_table_flush(t, stdout, !o->no_headers);
    fflush(stdout);
    for (;;) {
        apiclient_event ev = {APICLIENT_EVENT_END, NULL};
        long left = -1;
        int rc;

        if (!w) {
            /* A watch ends when the server closes it: resume from the last version seen. */
            if (reopens++ > 1000) {
                omlop_err_set(&err, OMLOP_ELIMIT, "the watch was closed more than 1000 times");
                goto fail;
            }
            if (omlctl_watch_open(api, tg->kind, tg->name, o->selector, o->field_selector, rv.buf,
                                  &w, &err) < 0)
                goto fail;
        }
        if (deadline) {
            left = deadline - clock_now_ms();
            if (left <= 0)
                break;
        }
        rc = apiclient_watch_next(w, (int)(left < 0 || left > 1000 ? 1000 : left), &ev, &err);
        if (rc == OMLOP_ETIMEOUT)
            continue;
        if (rc < 0)
            goto fail;
        if (ev.type == APICLIENT_EVENT_END) {
            apiclient_watch_close(w);
            w = NULL;
            continue;
        }
        {
            const char *r = cjson_get_string(ev.object, "metadata.resourceVersion");

            if (r) {
                strbuf_reset(&rv);
                strbuf_adds(&rv, r);
            }
        }
        if (ev.type == APICLIENT_EVENT_BOOKMARK) {
            apiclient_event_release(&ev);
            continue;
        }
        /* The server filters by name through fieldSelector; a client check costs nothing. */
        if (tg->name && strcmp(tg->name, cjson_get_string(ev.object, "metadata.name")
                                             ? cjson_get_string(ev.object, "metadata.name")
                                             : "") != 0) {
            apiclient_event_release(&ev);
            continue;
        }
        if (t) {
            if (o->watch_events)
                json_object_object_add(ev.object, "__event",
                                       json_object_new_string(apiclient_event_type_name(ev.type)));
            omlctl_columns_add_row(&cols, t, ev.object, time(NULL));
            omlctl_table_flush(t, stdout, !o->no_headers);
        } else if (fmt == OMLCTL_OUT_NAME) {
            if (o->watch_events)
                printf("%s ", apiclient_event_type_name(ev.type));
            printf("%s/%s\n", tg->kind->singular, cjson_get_string(ev.object, "metadata.name"));
        } else if (o->watch_events) {
            json_object *wrapped = json_object_new_object();

            json_object_object_add(wrapped, "type",
                                   json_object_new_string(apiclient_event_type_name(ev.type)));
            json_object_object_add(wrapped, "object", json_object_get(ev.object));
            rc = print_stream_object(fmt, wrapped, &n_printed, &err);
            json_object_put(wrapped);
        } else {
            rc = print_stream_object(fmt, ev.object, &n_printed, &err);
        }
        fflush(stdout);
        apiclient_event_release(&ev);
        if (rc < 0)
            goto fail;
    }
    ret = OMLCTL_EXIT_OK;
    goto out;
fail:
    if (err.code == OMLOP_EGONE)
        omlop_err_prefix(&err, "the watch expired (the server compacted its history); run the "
                               "command again: ");
    omlctl_print_error(ctx, &err);
out:
    apiclient_watch_close(w);
    omlctl_table_free(t);
    free(headers);
    omlctl_columns_release(&cols);
    json_object_put(items);
    strbuf_release(&rv);
    strbuf_release(&fs);
    return ret;
}

int cmd_get(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT;
    omlctl_targets targets = OMLCTL_TARGETS_INIT;
    get_opts o;
    omlctl_output fmt;
    omlop_err err = OMLOP_ERR_INIT;
    apiclient *api;
    schema_set *set;
    json_object *all = NULL;
    int ret = OMLCTL_EXIT_ERROR, failed = 0, printed = 0, any = 0, named = 0;
    size_t n_kinds = 0;
    const omlctl_opt opts[] = {
        {"output", 'o', OMLCTL_OPT_STRING, &o.output},
        {"selector", 'l', OMLCTL_OPT_STRING, &o.selector},
        {"field-selector", 0, OMLCTL_OPT_STRING, &o.field_selector},
        {"watch", 'w', OMLCTL_OPT_BOOL, &o.watch},
        {"watch-only", 0, OMLCTL_OPT_BOOL, &o.watch_only},
        {"output-watch-events", 0, OMLCTL_OPT_BOOL, &o.watch_events},
        {"no-headers", 0, OMLCTL_OPT_BOOL, &o.no_headers},
        {"ignore-not-found", 0, OMLCTL_OPT_BOOL, &o.ignore_not_found},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    memset(&o, 0, sizeof(o));
    omlctl_ctx_init(&ctx, "get");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, get_help, &ret))
        goto out;
    if (o.watch_only)
        o.watch = 1;
    if (omlctl_output_parse(o.output, &fmt, &err) < 0) {
        omlctl_usage_error(&ctx, "%s", err.msg);
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (o.selector && omlctl_selector_match(o.selector, NULL, &err) < 0) {
        omlctl_usage_error(&ctx, "%s", err.msg);
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (omlctl_ctx_schemas(&ctx, &set, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (args.n == 0) {
        omlctl_usage_error(&ctx, "name a resource type, e.g. 'omlctl get tenants'");
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (omlctl_targets_parse(set, &args, 0, &targets, &err) < 0) {
        omlctl_usage_error(&ctx, "%s", err.msg);
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < targets.n; i++) {
        named += targets.v[i].name != NULL;
        if (i == 0 || targets.v[i].kind != targets.v[i - 1].kind)
            n_kinds++;
    }
    if (named && (o.selector || o.field_selector)) {
        omlctl_usage_error(&ctx, "a selector cannot be combined with object names");
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (omlctl_ctx_client(&ctx, &api, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (o.watch) {
        if (targets.n != 1) {
            omlctl_usage_error(&ctx, "-w watches one kind, or one object of it");
            ret = OMLCTL_EXIT_USAGE;
            goto out;
        }
        ret = get_watch(&ctx, api, &targets.v[0], fmt, &o);
        goto out;
    }
    all = omlctl_list_new();
    for (size_t i = 0; i < targets.n;) {
        const kind_info *kind = targets.v[i].kind;
        json_object *items = NULL;
        size_t j = i;

        if (!targets.v[i].name) {
            if (omlctl_list_objects(api, kind, o.selector, o.field_selector, &items, NULL, &err) <
                0) {
                omlctl_print_error(&ctx, &err);
                failed = 1;
                i++;
                continue;
            }
            j = i + 1;
        } else {
            /* Consecutive names of one kind print as one table. */
            items = json_object_new_array();
            for (; j < targets.n && targets.v[j].kind == kind && targets.v[j].name; j++) {
                json_object *obj = NULL;
                int rc = omlctl_get_object(api, kind, targets.v[j].name, &obj, &err);

                if (rc == OMLOP_ENOTFOUND && o.ignore_not_found)
                    continue;
                if (rc < 0) {
                    omlctl_print_error(&ctx, &err);
                    failed = 1;
                    continue;
                }
                json_object_array_add(items, obj);
            }
        }
        any += (int)json_object_array_length(items);
        if (fmt == OMLCTL_OUT_YAML || fmt == OMLCTL_OUT_JSON) {
            for (size_t k = 0; k < json_object_array_length(items); k++)
                json_object_array_add(json_object_object_get(all, "items"),
                                      json_object_get(json_object_array_get_idx(items, k)));
        } else if (print_objects(&ctx, kind, items, fmt, n_kinds > 1, &o, &printed) < 0) {
            failed = 1;
        }
        json_object_put(items);
        i = j;
    }
    if (fmt == OMLCTL_OUT_YAML || fmt == OMLCTL_OUT_JSON) {
        json_object *its = json_object_object_get(all, "items");
        /* One named object prints as itself; anything else as a List. */
        const json_object *what =
            (named == 1 && targets.n == 1 && json_object_array_length(its) == 1)
                ? json_object_array_get_idx(its, 0)
                : all;

        if ((any || !named) && omlctl_print_object(stdout, fmt, what, &err) < 0) {
            omlctl_print_error(&ctx, &err);
            failed = 1;
        }
    } else if (!any && !failed && !named && fmt != OMLCTL_OUT_NAME) {
        fprintf(stderr, "No resources found.\n");
    }
    ret = failed ? OMLCTL_EXIT_ERROR : OMLCTL_EXIT_OK;
out:
    json_object_put(all);
    omlctl_targets_release(&targets);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
