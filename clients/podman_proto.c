/* podman_proto: libpod request building, response parsing, stream framing (see podman_proto.h). */
#include "clients/podman_proto.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cjson.h"
#include "lib/xalloc.h"

#define ERR_BODY_SHOWN 300 /* bytes of a non-JSON error body quoted in messages */

/* --- request side --------------------------------------------------------------------- */

void podman_url_escape(strbuf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            strbuf_addch(out, (char)*p);
        } else {
            strbuf_addch(out, '%');
            strbuf_addch(out, hex[*p >> 4]);
            strbuf_addch(out, hex[*p & 15]);
        }
    }
}

void podman_query_add(strbuf *q, const char *key, const char *value)
{
    strbuf_addch(q, strchr(strbuf_str(q), '?') ? '&' : '?');
    podman_url_escape(q, key);
    strbuf_addch(q, '=');
    podman_url_escape(q, value);
}

int podman_check_ref(const char *what, const char *ref, omlop_err *err)
{
    if (!ref || !ref[0])
        return omlop_err_set(err, OMLOP_EINVAL, "%s: empty name", what);
    if (strlen(ref) > 512)
        return omlop_err_set(err, OMLOP_EINVAL, "%s: name longer than 512 characters", what);
    for (const unsigned char *p = (const unsigned char *)ref; *p; p++) {
        /* image references and object names use only these; anything else is a mistake */
        if (!isalnum(*p) && !strchr("._-/:@+", *p))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "%s '%s': character '%c' is not allowed in a name or image "
                                 "reference",
                                 what, ref, isprint(*p) ? *p : '?');
    }
    if (ref[0] == '/' || ref[0] == '-' || ref[0] == '.' || strstr(ref, ".."))
        return omlop_err_set(err, OMLOP_EINVAL, "%s '%s': not a valid name", what, ref);
    return 0;
}

static json_object *string_array(const char *const *v)
{
    json_object *a = json_object_new_array();

    for (; v && *v; v++)
        json_object_array_add(a, json_object_new_string(*v));
    return a;
}

static void add_filter(json_object *o, const char *key, const char *const *v)
{
    if (v && *v)
        json_object_object_add(o, key, string_array(v));
}

void podman_filters_json(const podman_filters *f, strbuf *out)
{
    json_object *o = json_object_new_object();

    if (f) {
        add_filter(o, "label", f->labels);
        add_filter(o, "name", f->names);
        add_filter(o, "type", f->types);
        add_filter(o, "event", f->events);
        add_filter(o, "id", f->ids);
    }
    strbuf_adds(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static void to_text(json_object *o, strbuf *out)
{
    strbuf_adds(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int check_caps(const char *field, const char *const *caps, json_object **out, omlop_err *err)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; caps && caps[i]; i++) {
        const char *c = caps[i];
        strbuf name = STRBUF_INIT;

        if (!c[0])
            goto bad;
        for (const char *p = c; *p; p++) {
            if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
                goto bad;
        }
        if (strncmp(c, "CAP_", 4) != 0)
            strbuf_adds(&name, "CAP_");
        strbuf_adds(&name, c);
        json_object_array_add(a, json_object_new_string(strbuf_str(&name)));
        strbuf_release(&name);
        continue;
    bad:
        json_object_put(a);
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s[%zu]: '%s' is not a capability name (like NET_ADMIN)", field, i,
                             c);
    }
    *out = a;
    return 0;
}

static int is_valid_container_name(const char *s)
{
    if (!isalnum((unsigned char)s[0]))
        return 0;
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
            return 0;
    }
    return 1;
}

static int add_mounts(const podman_create_spec *spec, json_object *o, omlop_err *err)
{
    json_object *mounts = json_object_new_array(), *vols = json_object_new_array();

    for (size_t i = 0; i < spec->n_mounts; i++) {
        const podman_mount *m = &spec->mounts[i];
        json_object *e = json_object_new_object(), *opts = json_object_new_array();

        if (!m->destination || m->destination[0] != '/') {
            json_object_put(e);
            json_object_put(opts);
            json_object_put(mounts);
            json_object_put(vols);
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "mounts[%zu].destination: '%s' must be an absolute path", i,
                                 m->destination ? m->destination : "");
        }
        if (m->is_readonly)
            json_object_array_add(opts, json_object_new_string("ro"));
        if (m->options && m->options[0]) {
            char *copy = xstrdup(m->options), *save = NULL;

            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                json_object_array_add(opts, json_object_new_string(t));
            free(copy);
        }
        switch (m->type) {
        case PODMAN_MOUNT_VOLUME:
            if (podman_check_ref("volume", m->source, err) < 0 || strchr(m->source, '/')) {
                json_object_put(e);
                json_object_put(opts);
                json_object_put(mounts);
                json_object_put(vols);
                return omlop_err_set(err, OMLOP_EINVAL,
                                     "mounts[%zu].source: '%s' is not a volume name", i,
                                     m->source ? m->source : "");
            }
            /* libpod's NamedVolume has no JSON tags: Go field names */
            json_object_object_add(e, "Name", json_object_new_string(m->source));
            json_object_object_add(e, "Dest", json_object_new_string(m->destination));
            json_object_object_add(e, "Options", opts);
            json_object_array_add(vols, e);
            break;
        case PODMAN_MOUNT_BIND:
        case PODMAN_MOUNT_TMPFS:
            if (m->type == PODMAN_MOUNT_BIND && (!m->source || m->source[0] != '/')) {
                json_object_put(e);
                json_object_put(opts);
                json_object_put(mounts);
                json_object_put(vols);
                return omlop_err_set(err, OMLOP_EINVAL,
                                     "mounts[%zu].source: '%s' must be an absolute host path", i,
                                     m->source ? m->source : "");
            }
            if (m->type == PODMAN_MOUNT_BIND)
                json_object_array_add(opts, json_object_new_string("rbind"));
            json_object_object_add(e, "destination", json_object_new_string(m->destination));
            json_object_object_add(
                e, "type", json_object_new_string(m->type == PODMAN_MOUNT_BIND ? "bind" : "tmpfs"));
            json_object_object_add(
                e, "source",
                json_object_new_string(m->type == PODMAN_MOUNT_BIND ? m->source : "tmpfs"));
            json_object_object_add(e, "options", opts);
            json_object_array_add(mounts, e);
            break;
        }
    }
    json_object_object_add(o, "mounts", mounts);
    json_object_object_add(o, "volumes", vols);
    return 0;
}

static void add_kv_object(json_object *o, const char *key, const podman_kv *kv, size_t n)
{
    json_object *m = json_object_new_object();

    for (size_t i = 0; i < n; i++)
        json_object_object_add(m, kv[i].key,
                               json_object_new_string(kv[i].value ? kv[i].value : ""));
    json_object_object_add(o, key, m);
}

static int add_healthcheck(const podman_healthcheck *hc, json_object *o, omlop_err *err)
{
    json_object *h;

    if (!hc->test || !hc->test[0] ||
        (strcmp(hc->test[0], "CMD") != 0 && strcmp(hc->test[0], "CMD-SHELL") != 0) || !hc->test[1])
        return omlop_err_set(err, OMLOP_EINVAL,
                             "healthcheck.test: must be {\"CMD-SHELL\", \"command\"} or "
                             "{\"CMD\", \"program\", args...}");
    if (hc->interval_ms < 0 || hc->timeout_ms < 0 || hc->start_period_ms < 0 || hc->retries < 0)
        return omlop_err_set(err, OMLOP_EINVAL, "healthcheck: times and retries must be >= 0");
    h = json_object_new_object();
    json_object_object_add(h, "Test", string_array(hc->test));
    /* Go durations: nanoseconds */
    if (hc->interval_ms)
        json_object_object_add(h, "Interval", json_object_new_int64(hc->interval_ms * 1000000));
    if (hc->timeout_ms)
        json_object_object_add(h, "Timeout", json_object_new_int64(hc->timeout_ms * 1000000));
    if (hc->start_period_ms)
        json_object_object_add(h, "StartPeriod",
                               json_object_new_int64(hc->start_period_ms * 1000000));
    if (hc->retries)
        json_object_object_add(h, "Retries", json_object_new_int(hc->retries));
    json_object_object_add(o, "healthconfig", h);
    return 0;
}

int podman_create_body(const podman_create_spec *spec, strbuf *out, omlop_err *err)
{
    static const char *const policies[] = {"no", "always", "on-failure", "unless-stopped"};
    json_object *o, *caps;
    int rc;

    if (!spec->name || !spec->name[0] || !is_valid_container_name(spec->name))
        return omlop_err_set(
            err, OMLOP_EINVAL,
            "name: '%s' is not a valid container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
            spec->name ? spec->name : "");
    rc = podman_check_ref("image", spec->image, err);
    if (rc < 0)
        return rc;
    if (spec->memory_limit_bytes < 0 ||
        (spec->memory_limit_bytes > 0 && spec->memory_limit_bytes < 6 * 1024 * 1024))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "memory limit: %lld bytes; Podman needs at least 6 MiB",
                             (long long)spec->memory_limit_bytes);
    if (spec->restart_policy) {
        size_t i;

        for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
            if (strcmp(spec->restart_policy, policies[i]) == 0)
                break;
        }
        if (i == sizeof(policies) / sizeof(policies[0]))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "restart policy: '%s' is not one of no, always, on-failure, "
                                 "unless-stopped",
                                 spec->restart_policy);
    }
    o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(spec->name));
    json_object_object_add(o, "image", json_object_new_string(spec->image));
    if (spec->command)
        json_object_object_add(o, "command", string_array(spec->command));
    if (spec->entrypoint)
        json_object_object_add(o, "entrypoint", string_array(spec->entrypoint));
    if (spec->n_env)
        add_kv_object(o, "env", spec->env, spec->n_env);
    if (spec->n_labels)
        add_kv_object(o, "labels", spec->labels, spec->n_labels);
    rc = add_mounts(spec, o, err);
    if (rc < 0)
        goto fail;
    if (spec->is_host_network) {
        json_object *ns = json_object_new_object();

        json_object_object_add(ns, "nsmode", json_object_new_string("host"));
        json_object_object_add(o, "netns", ns);
    }
    if (spec->memory_limit_bytes > 0) {
        json_object *res = json_object_new_object(), *mem = json_object_new_object();

        json_object_object_add(mem, "limit", json_object_new_int64(spec->memory_limit_bytes));
        json_object_object_add(res, "memory", mem);
        json_object_object_add(o, "resource_limits", res);
    }
    if (spec->restart_policy) {
        json_object_object_add(o, "restart_policy", json_object_new_string(spec->restart_policy));
        if (spec->restart_retries && strcmp(spec->restart_policy, "on-failure") == 0)
            json_object_object_add(o, "restart_tries",
                                   json_object_new_int64(spec->restart_retries));
    }
    if (spec->healthcheck) {
        rc = add_healthcheck(spec->healthcheck, o, err);
        if (rc < 0)
            goto fail;
    }
    if (spec->cap_add) {
        rc = check_caps("cap_add", spec->cap_add, &caps, err);
        if (rc < 0)
            goto fail;
        json_object_object_add(o, "cap_add", caps);
    }
    if (spec->cap_drop) {
        rc = check_caps("cap_drop", spec->cap_drop, &caps, err);
        if (rc < 0)
            goto fail;
        json_object_object_add(o, "cap_drop", caps);
    }
    if (spec->user)
        json_object_object_add(o, "user", json_object_new_string(spec->user));
    if (spec->workdir)
        json_object_object_add(o, "work_dir", json_object_new_string(spec->workdir));
    if (spec->hostname)
        json_object_object_add(o, "hostname", json_object_new_string(spec->hostname));
    if (spec->stop_timeout_s)
        json_object_object_add(o, "stop_timeout", json_object_new_int64(spec->stop_timeout_s));
    to_text(o, out);
    json_object_put(o);
    return 0;
fail:
    json_object_put(o);
    return omlop_err_prefix(err, "container %s: ", spec->name);
}

int podman_exec_body(const char *const *cmd, const char *const *env, const char *workdir,
                     const char *user, strbuf *out, omlop_err *err)
{
    json_object *o;

    if (!cmd || !cmd[0] || !cmd[0][0])
        return omlop_err_set(err, OMLOP_EINVAL, "exec: no command given");
    o = json_object_new_object();
    json_object_object_add(o, "AttachStdout", json_object_new_boolean(1));
    json_object_object_add(o, "AttachStderr", json_object_new_boolean(1));
    json_object_object_add(o, "Tty", json_object_new_boolean(0));
    json_object_object_add(o, "Cmd", string_array(cmd));
    if (env)
        json_object_object_add(o, "Env", string_array(env));
    if (workdir)
        json_object_object_add(o, "WorkingDir", json_object_new_string(workdir));
    if (user)
        json_object_object_add(o, "User", json_object_new_string(user));
    to_text(o, out);
    json_object_put(o);
    return 0;
}

/* --- response side -------------------------------------------------------------------- */

static int parse_json(const char *body, size_t len, const char *what, json_object **out,
                      omlop_err *err)
{
    json_tokener *tok = json_tokener_new();
    enum json_tokener_error je;
    json_object *o;

    if (!tok)
        return omlop_err_set(err, OMLOP_ENOMEM, "out of memory");
    o = json_tokener_parse_ex(tok, body, (int)len);
    je = json_tokener_get_error(tok);
    if (!o || je != json_tokener_success) {
        json_object_put(o);
        json_tokener_free(tok);
        return omlop_err_set(
            err, OMLOP_EPROTO, "%s: Podman sent a reply that is not JSON (%s)", what,
            je == json_tokener_continue ? "truncated" : json_tokener_error_desc(je));
    }
    json_tokener_free(tok);
    *out = o;
    return 0;
}

/*
 * A list reply: *arr is the parsed JSON array (caller puts) and *items a zeroed
 * array of item_size entries, one per element (caller frees).
 */
static int parse_array(const char *body, size_t len, const char *what, size_t item_size,
                       json_object **arr, void **items, omlop_err *err)
{
    json_object *a;
    size_t n;
    int rc = parse_json(body, len, what, &a, err);

    if (rc < 0)
        return rc;
    if (!json_object_is_type(a, json_type_array)) {
        json_object_put(a);
        return omlop_err_set(err, OMLOP_EPROTO, "%s: expected a JSON array", what);
    }
    n = json_object_array_length(a);
    *items = xcalloc(n ? n : 1, item_size);
    *arr = a;
    return 0;
}

/* A copy of the string at path, "" when absent (never NULL: callers print freely). */
static char *str_at(const json_object *o, const char *path)
{
    const char *s = cjson_get_string(o, path);

    return xstrdup(s ? s : "");
}

/* A new reference to the object at path, or an empty object. */
static json_object *obj_at(const json_object *o, const char *path)
{
    json_object *v = cjson_get(o, path);

    if (v && json_object_is_type(v, json_type_object))
        return json_object_get(v);
    return json_object_new_object();
}

static int bool_at(const json_object *o, const char *path)
{
    json_object *v = cjson_get(o, path);

    return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

void podman_container_release(podman_container *c)
{
    free(c->id);
    free(c->name);
    free(c->image);
    free(c->image_id);
    free(c->state);
    free(c->health);
    free(c->started_at);
    free(c->finished_at);
    json_object_put(c->labels);
    json_object_put(c->raw);
    memset(c, 0, sizeof(*c));
}

void podman_container_list_release(podman_container_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        podman_container_release(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void container_from_list_entry(json_object *e, podman_container *c)
{
    json_object *names = cjson_get(e, "Names");
    json_object *first = names && json_object_is_type(names, json_type_array)
                             ? json_object_array_get_idx(names, 0)
                             : NULL;

    c->id = str_at(e, "Id");
    c->name = xstrdup(
        first && json_object_is_type(first, json_type_string) ? json_object_get_string(first) : "");
    c->image = str_at(e, "Image");
    c->image_id = str_at(e, "ImageID");
    c->state = str_at(e, "State");
    c->is_running = strcmp(c->state, "running") == 0;
    c->exit_code = (int)cjson_get_int(e, "ExitCode", 0);
    /* the list puts the health state into Status ("healthy", "starting", or "") */
    c->health = str_at(e, "Status");
    c->started_at = xstrdup("");
    c->finished_at = xstrdup("");
    c->labels = obj_at(e, "Labels");
    c->raw = json_object_get(e);
}

int podman_parse_container_list(const char *body, size_t len, podman_container_list *out,
                                omlop_err *err)
{
    json_object *a;
    void *items;
    size_t n;
    int rc = parse_array(body, len, "list containers", sizeof(*out->items), &a, &items, err);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    out->items = items;
    n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(a, i);

        if (!json_object_is_type(e, json_type_object))
            continue;
        container_from_list_entry(e, &out->items[out->n++]);
    }
    json_object_put(a);
    return 0;
}

int podman_parse_container_inspect(const char *body, size_t len, podman_container *out,
                                   omlop_err *err)
{
    json_object *o;
    const char *image;
    int rc = parse_json(body, len, "inspect container", &o, err);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    if (!json_object_is_type(o, json_type_object) || !cjson_get_string(o, "Id")) {
        json_object_put(o);
        return omlop_err_set(err, OMLOP_EPROTO, "inspect container: no Id in the reply");
    }
    out->id = str_at(o, "Id");
    out->name = str_at(o, "Name");
    image = cjson_get_string(o, "ImageName");
    if (!image)
        image = cjson_get_string(o, "Config.Image");
    out->image = xstrdup(image ? image : "");
    out->image_id = str_at(o, "Image");
    out->state = str_at(o, "State.Status");
    out->is_running = bool_at(o, "State.Running");
    out->exit_code = (int)cjson_get_int(o, "State.ExitCode", 0);
    out->restart_count = (int)cjson_get_int(o, "RestartCount", 0);
    /* Podman 4 says State.Health, Podman 3 said State.Healthcheck */
    out->health = str_at(o, cjson_get(o, "State.Health") ? "State.Health.Status"
                                                         : "State.Healthcheck.Status");
    out->started_at = str_at(o, "State.StartedAt");
    out->finished_at = str_at(o, "State.FinishedAt");
    out->labels = obj_at(o, "Config.Labels");
    out->raw = o;
    return 0;
}

void podman_volume_list_release(podman_volume_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].mountpoint);
        json_object_put(l->items[i].labels);
        json_object_put(l->items[i].raw);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int podman_parse_volume_list(const char *body, size_t len, podman_volume_list *out, omlop_err *err)
{
    json_object *a;
    void *items;
    size_t n;
    int rc = parse_array(body, len, "list volumes", sizeof(*out->items), &a, &items, err);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    out->items = items;
    n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        podman_volume *v;

        if (!json_object_is_type(e, json_type_object))
            continue;
        v = &out->items[out->n++];
        v->name = str_at(e, "Name");
        v->mountpoint = str_at(e, "Mountpoint");
        v->labels = obj_at(e, "Labels");
        v->raw = json_object_get(e);
    }
    json_object_put(a);
    return 0;
}

void podman_event_release(podman_event *e)
{
    free(e->type);
    free(e->action);
    free(e->id);
    free(e->name);
    free(e->image);
    json_object_put(e->attributes);
    memset(e, 0, sizeof(*e));
}

int podman_parse_event(const char *line, size_t len, podman_event *out, omlop_err *err)
{
    json_object *o;
    const char *action, *id;
    int rc = parse_json(line, len, "events", &o, err);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return omlop_err_set(err, OMLOP_EPROTO, "events: an event is not a JSON object");
    }
    action = cjson_get_string(o, "Action");
    if (!action || !action[0])
        action = cjson_get_string(o, "status");
    id = cjson_get_string(o, "Actor.ID");
    if (!id || !id[0])
        id = cjson_get_string(o, "id");
    out->type = str_at(o, "Type");
    out->action = xstrdup(action ? action : "");
    out->id = xstrdup(id ? id : "");
    out->name = str_at(o, "Actor.Attributes.name");
    out->image = str_at(o, "Actor.Attributes.image");
    out->time_nano = cjson_get_int(o, "timeNano", 0);
    if (out->time_nano == 0)
        out->time_nano = cjson_get_int(o, "time", 0) * 1000000000LL;
    out->attributes = obj_at(o, "Actor.Attributes");
    json_object_put(o);
    if (!out->type[0] || !out->action[0]) {
        podman_event_release(out);
        return omlop_err_set(err, OMLOP_EPROTO, "events: an event without Type or Action");
    }
    return 0;
}

int podman_parse_version(const char *s, int *major, int *minor, int *patch)
{
    int v[3] = {0, 0, 0};
    int i = 0;

    if (!s || !isdigit((unsigned char)*s))
        return -1;
    while (i < 3) {
        char *end;
        long n = strtol(s, &end, 10);

        if (end == s || n < 0 || n > 100000)
            break;
        v[i++] = (int)n;
        if (*end != '.')
            break;
        s = end + 1;
    }
    *major = v[0];
    *minor = v[1];
    *patch = v[2];
    return 0;
}

static void copy_str(char *dst, size_t size, const json_object *o, const char *path)
{
    const char *s = cjson_get_string(o, path);

    snprintf(dst, size, "%s", s ? s : "");
}

int podman_parse_info(const char *body, size_t len, podman_host_info *out, omlop_err *err)
{
    json_object *o, *v;
    char *nl;
    int rc = parse_json(body, len, "info", &o, err);

    memset(out, 0, sizeof(*out));
    out->graph_root_allocated = out->graph_root_used = -1;
    if (rc < 0)
        return rc;
    copy_str(out->version, sizeof(out->version), o, "version.Version");
    copy_str(out->api_version, sizeof(out->api_version), o, "version.APIVersion");
    copy_str(out->oci_runtime, sizeof(out->oci_runtime), o, "host.ociRuntime.name");
    copy_str(out->oci_runtime_version, sizeof(out->oci_runtime_version), o,
             "host.ociRuntime.version");
    nl = strchr(out->oci_runtime_version, '\n');
    if (nl)
        *nl = '\0';
    copy_str(out->graph_driver, sizeof(out->graph_driver), o, "store.graphDriverName");
    copy_str(out->graph_root, sizeof(out->graph_root), o, "store.graphRoot");
    copy_str(out->os, sizeof(out->os), o, "host.os");
    copy_str(out->arch, sizeof(out->arch), o, "host.arch");
    copy_str(out->kernel, sizeof(out->kernel), o, "host.kernel");
    copy_str(out->hostname, sizeof(out->hostname), o, "host.hostname");
    copy_str(out->cgroup_manager, sizeof(out->cgroup_manager), o, "host.cgroupManager");
    copy_str(out->cgroup_version, sizeof(out->cgroup_version), o, "host.cgroupVersion");
    v = cjson_get(o, "store.graphRootAllocated");
    if (v && json_object_is_type(v, json_type_int))
        out->graph_root_allocated = json_object_get_int64(v);
    v = cjson_get(o, "store.graphRootUsed");
    if (v && json_object_is_type(v, json_type_int))
        out->graph_root_used = json_object_get_int64(v);
    json_object_put(o);
    if (!out->version[0] ||
        podman_parse_version(out->version, &out->major, &out->minor, &out->patch) < 0)
        return omlop_err_set(err, OMLOP_EPROTO, "info: no Podman version in the reply");
    return 0;
}

void podman_pull_line_release(podman_pull_line *p)
{
    free(p->stream);
    free(p->error);
    free(p->id);
    memset(p, 0, sizeof(*p));
}

int podman_parse_pull_line(const char *line, size_t len, podman_pull_line *out, omlop_err *err)
{
    json_object *o;
    const char *s;
    int rc = parse_json(line, len, "pull", &o, err);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    s = cjson_get_string(o, "stream");
    if (s) {
        size_t n = strlen(s);

        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
            n--;
        out->stream = xstrndup(s, n);
    }
    s = cjson_get_string(o, "error");
    if (s && s[0])
        out->error = xstrdup(s);
    s = cjson_get_string(o, "id");
    if (s && s[0])
        out->id = xstrdup(s);
    json_object_put(o);
    return 0;
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

int podman_error_from_response(const char *host, const char *what, long status, const char *body,
                               size_t len, omlop_err *err)
{
    json_object *o = NULL;
    const char *cause = NULL, *message = NULL;
    strbuf shown = STRBUF_INIT;
    int code;

    if (len > 0 && body[0] == '{') {
        json_tokener *tok = json_tokener_new();

        if (tok) {
            o = json_tokener_parse_ex(tok, body, (int)len);
            json_tokener_free(tok);
        }
        if (o && json_object_is_type(o, json_type_object)) {
            cause = cjson_get_string(o, "cause");
            message = cjson_get_string(o, "message");
        }
    }
    if (!message || !message[0]) {
        /* not Podman's error JSON: quote the start of the body, printable bytes only */
        for (size_t i = 0; i < len && i < ERR_BODY_SHOWN; i++)
            strbuf_addch(&shown, isprint((unsigned char)body[i]) ? body[i] : ' ');
        if (len > ERR_BODY_SHOWN)
            strbuf_adds(&shown, "...");
        message = shown.len ? strbuf_str(&shown) : "no details in the reply";
    }
    if (status == 404 || contains(cause, "no such") || contains(cause, "not known") ||
        contains(cause, "not found"))
        code = OMLOP_ENOTFOUND;
    else if (contains(cause, "already exists") || contains(cause, "already in use"))
        code = OMLOP_EEXIST;
    else if (status == 409 || contains(cause, "in use") || contains(cause, "being used"))
        code = OMLOP_ECONFLICT;
    else if (status == 400)
        code = OMLOP_EINVAL;
    else if (status == 401 || status == 403)
        code = OMLOP_EPERM;
    else if (status >= 500)
        code = OMLOP_EIO;
    else
        code = OMLOP_EPROTO;
    omlop_err_set(err, code, "host %s: %s: %s (HTTP %ld)", host, what, message, status);
    strbuf_release(&shown);
    json_object_put(o);
    return code;
}
