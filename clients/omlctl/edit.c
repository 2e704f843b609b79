/*
 * omlctl edit: change a live object in $EDITOR.
 *
 * The object is written to a private temp file (it may hold secrets: mode
 * 0600), the editor runs, and the result is validated locally with the
 * resource model before anything is sent. A validation error, local or from
 * the server (400/422), reopens the editor with the errors as comments at the
 * top, as kubectl does; saving the same text again gives up and keeps the file.
 *
 * The save is a PUT carrying the resourceVersion the user was shown. On 409
 * Conflict (someone changed the object meanwhile) the user's changes, kept as
 * the merge patch from the shown object to the edited one, are re-applied to
 * a fresh copy and sent again, a bounded number of times.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "crds/mergepatch.h"
#include "clients/omlctl/output.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"

#define EDIT_MAX_ROUNDS       20 /* editor sessions per run */
#define EDIT_CONFLICT_RETRIES 5
#define EDIT_FILE_LIMIT       (4u << 20)

static const char edit_help[] =
    "Edit a live object in your editor and save it.\n"
    "\n"
    "The object opens as YAML (or JSON) in $EDITOR (default vi; the value may carry\n"
    "arguments, e.g. \"code --wait\"). When you save and quit, it is validated against\n"
    "the resource model and sent with the resourceVersion you were shown. If it does\n"
    "not validate, locally or on the server, the editor opens again with the errors\n"
    "as comments at the top; save it unchanged to give up (the file is kept and its\n"
    "path printed). If someone else changed the object meanwhile (409 Conflict),\n"
    "your changes are re-applied to the current object and sent again (up to 5\n"
    "times). An empty file, or no change, cancels the edit.\n"
    "\n"
    "Usage:\n"
    "  omlctl edit KIND NAME | KIND/NAME [flags]\n"
    "\n"
    "Flags:\n"
    "  -o, --output FORMAT   yaml (default) or json\n"
    "      --validate BOOL   check the result locally first (default true)\n"
    "\n"
    "Examples:\n"
    "  omlctl edit tenant acme\n"
    "  EDITOR=nano omlctl edit tn/acme\n"
    "  omlctl edit backup/acme-nightly -o json\n";

static const char edit_header[] =
    "# Edit the object below and save it; lines starting with '#' are ignored.\n"
    "# An empty file cancels the edit. If saving fails, this file opens again\n"
    "# with the errors here at the top.\n"
    "#\n";

typedef struct edit_state {
    omlctl_ctx *ctx;
    apiclient *api;
    const kind_info *kind;
    const char *name;
    omlctl_output fmt;
    int validate;
    char path[4096];
    json_object *orig; /* the object as shown */
} edit_state;

static int render(const edit_state *st, const json_object *obj, strbuf *out, omlop_err *err)
{
    if (st->fmt == OMLCTL_OUT_JSON) {
        omlctl_json_pretty(obj, out);
        return 0;
    }
    return yaml_emit_json(obj, out, err);
}

static int write_file(const char *path, const char *text, size_t len, omlop_err *err)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return omlop_err_set(err, OMLOP_EIO, "cannot write %s: %s", path, strerror(errno));
    if (fwrite(text, 1, len, f) != len || fclose(f) != 0)
        return omlop_err_set(err, OMLOP_EIO, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Run $EDITOR on path; "$EDITOR" may carry arguments, so it goes through sh as git does. */
static int run_editor(const char *path, omlop_err *err)
{
    const char *editor = getenv("EDITOR");
    strbuf cmd = STRBUF_INIT;
    pid_t pid;
    int status;

    if (!editor || !*editor)
        editor = "vi";
    strbuf_addf(&cmd, "%s \"$@\"", editor);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        strbuf_release(&cmd);
        return omlop_err_set(err, OMLOP_EIO, "cannot start the editor: %s", strerror(errno));
    }
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd.buf, editor, path, (char *)NULL);
        _exit(127);
    }
    strbuf_release(&cmd);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return omlop_err_set(err, OMLOP_EIO, "waiting for the editor: %s", strerror(errno));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return omlop_err_set(err, OMLOP_EIO,
                             "the editor '%s' failed (exit status %d); nothing was saved", editor,
                             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

/* The text without its leading comment block (what the user edits). */
static const char *body_of(const char *text)
{
    const char *p = text;

    while (*p == '#') {
        const char *nl = strchr(p, '\n');

        if (!nl)
            return p + strlen(p);
        p = nl + 1;
    }
    return p;
}

static int is_effectively_empty(const char *text)
{
    const char *p = text;

    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '#') {
            while (*p && *p != '\n')
                p++;
            continue;
        }
        return *p == '\0';
    }
    return 1;
}

/* Turn message lines into "# " comment lines. */
static void add_comment_lines(strbuf *out, const char *msg)
{
    const char *p = msg;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);

        strbuf_addf(out, "# %.*s\n", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
}

/*
 * Parse and validate the edited text. 0 with *out, or OMLOP_EINVAL with every
 * problem in problems (one per line).
 */
static int decode_edited(const edit_state *st, const char *text, json_object **out,
                         strbuf *problems)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *diags = diag_list_new();
    schema_set *set = st->ctx->schemas;
    json_object *obj = NULL;
    const char *name, *kind;
    int rc = OMLOP_EINVAL;

    *out = NULL;
    yaml_load_buffer(st->path, text, strlen(text), NULL, &docs, diags);
    if (diag_list_count(diags) == 0 && docs.n != 1)
        diag_add(diags, st->path, 0, 0, NULL, "the file must hold exactly one object, not %zu",
                 docs.n);
    if (diag_list_count(diags) == 0) {
        if (st->validate)
            schema_set_decode(set, docs.docs[0].root, st->path, &obj, diags);
        else
            obj = ynode_to_json_core(docs.docs[0].root);
    }
    if (obj) {
        name = cjson_get_string(obj, "metadata.name");
        kind = cjson_get_string(obj, "kind");
        if (!kind || strcmp(kind, st->kind->kind) != 0)
            diag_add(diags, st->path, 0, 0, "kind", "must stay %s", st->kind->kind);
        if (!name || strcmp(name, st->name) != 0)
            diag_add(diags, st->path, 0, 0, "metadata.name",
                     "must stay '%s' (edit cannot rename; apply a copy and delete the old one)",
                     st->name);
    }
    if (diag_list_count(diags)) {
        diag_list_format(diags, problems);
        json_object_put(obj);
        goto out;
    }
    *out = obj;
    rc = 0;
out:
    ydoc_list_release(&docs);
    diag_list_free(diags);
    return rc;
}

/* A merge patch of the user's changes, without the bookkeeping apply must not carry over. */
static json_object *user_changes(const json_object *orig, const json_object *edited)
{
    json_object *patch = merge_patch_create(orig, edited);
    json_object *meta = json_object_object_get(patch, "metadata");

    if (meta && json_object_is_type(meta, json_type_object)) {
        json_object_object_del(meta, "resourceVersion");
        json_object_object_del(meta, "managedFields");
        if (json_object_object_length(meta) == 0)
            json_object_object_del(patch, "metadata");
    }
    json_object_object_del(patch, "status"); /* only the operator writes status */
    return patch;
}

/*
 * PUT edited; on conflict re-apply the user's changes to the current object.
 * Returns 0, OMLOP_EINVAL with the server's message in err (reopen the editor),
 * or another error.
 */
static int save(const edit_state *st, const json_object *edited, omlop_err *err)
{
    json_object *patch = user_changes(st->orig, edited);
    json_object *body = json_object_get((json_object *)edited);
    strbuf path = STRBUF_INIT;
    int rc = 0;

    apiclient_path(&path, st->kind->plural, st->name, NULL);
    /* A misspelled field must come back as an error to fix, not vanish. */
    apiclient_query_add(&path, "fieldValidation", "Strict");
    for (int attempt = 0; attempt <= EDIT_CONFLICT_RETRIES; attempt++) {
        json_object *latest = NULL, *merged, *decoded = NULL;
        diag_list *diags;

        rc = apiclient_json(st->api, "PUT", path.buf, NULL, body, NULL, err);
        if (rc != OMLOP_ECONFLICT)
            goto out;
        fprintf(stderr, "%s/%s changed on the server meanwhile; re-applying your changes\n",
                st->kind->singular, st->name);
        rc = omlctl_get_object(st->api, st->kind, st->name, &latest, err);
        if (rc < 0)
            goto out;
        merged = merge_patch_apply(latest, patch);
        json_object_put(latest);
        diags = diag_list_new();
        if (st->validate && schema_set_decode_json(st->ctx->schemas, merged, &decoded, diags) < 0) {
            strbuf msg = STRBUF_INIT;

            diag_list_format(diags, &msg);
            rc = omlop_err_set(err, OMLOP_EINVAL,
                               "your changes no longer fit the current object:\n%s", msg.buf);
            strbuf_release(&msg);
            diag_list_free(diags);
            json_object_put(merged);
            goto out;
        }
        diag_list_free(diags);
        json_object_put(body);
        body = decoded ? decoded : merged;
        if (decoded)
            json_object_put(merged);
    }
    rc = omlop_err_set(err, OMLOP_ECONFLICT, "%s/%s kept changing: gave up after %d conflicts",
                       st->kind->singular, st->name, EDIT_CONFLICT_RETRIES + 1);
out:
    json_object_put(body);
    json_object_put(patch);
    strbuf_release(&path);
    return rc;
}

static int edit_loop(edit_state *st, omlop_err *err)
{
    strbuf text = STRBUF_INIT, shown_body = STRBUF_INIT, problems = STRBUF_INIT,
           saved = STRBUF_INIT;
    int rc, round;

    rc = render(st, st->orig, &shown_body, err);
    if (rc < 0)
        goto out;
    for (round = 0; round < EDIT_MAX_ROUNDS; round++) {
        json_object *edited = NULL, *changes;
        const char *body;

        strbuf_reset(&text);
        strbuf_adds(&text, edit_header);
        if (problems.len) {
            strbuf_adds(&text, "# The object was not saved:\n");
            add_comment_lines(&text, problems.buf);
            strbuf_adds(&text, "#\n");
        }
        strbuf_adds(&text, shown_body.buf);
        rc = write_file(st->path, text.buf, text.len, err);
        if (rc < 0)
            goto out;
        rc = run_editor(st->path, err);
        if (rc < 0)
            goto out;
        strbuf_reset(&saved);
        rc = strbuf_read_file(&saved, st->path, EDIT_FILE_LIMIT, err);
        if (rc < 0)
            goto out;
        body = body_of(strbuf_str(&saved));
        if (is_effectively_empty(body)) {
            printf("Edit cancelled, no changes made.\n");
            rc = 0;
            goto out;
        }
        if (!strcmp(body, shown_body.buf)) {
            if (!problems.len) {
                printf("Edit cancelled, no changes made.\n");
                rc = 0;
                goto out;
            }
            rc = omlop_err_set(err, OMLOP_EINVAL,
                               "edit cancelled: the errors were not fixed; your changes are kept "
                               "in %s",
                               st->path);
            goto out;
        }
        strbuf_reset(&shown_body);
        strbuf_adds(&shown_body, body);
        strbuf_reset(&problems);
        if (decode_edited(st, strbuf_str(&saved), &edited, &problems) < 0)
            continue;
        changes = user_changes(st->orig, edited);
        if (merge_patch_is_empty(changes)) {
            json_object_put(changes);
            json_object_put(edited);
            printf("Edit cancelled, no changes made.\n");
            rc = 0;
            goto out;
        }
        json_object_put(changes);
        rc = save(st, edited, err);
        json_object_put(edited);
        if (rc == 0) {
            printf("%s/%s edited\n", st->kind->singular, st->name);
            goto out;
        }
        if (rc != OMLOP_EINVAL)
            goto out;
        strbuf_adds(&problems, err->msg);
    }
    rc =
        omlop_err_set(err, OMLOP_ELIMIT, "gave up after %d editor sessions; your changes are in %s",
                      EDIT_MAX_ROUNDS, st->path);
out:
    strbuf_release(&text);
    strbuf_release(&shown_body);
    strbuf_release(&problems);
    strbuf_release(&saved);
    return rc;
}

int cmd_edit(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT;
    omlctl_targets targets = OMLCTL_TARGETS_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *output = NULL;
    edit_state st;
    schema_set *set;
    const char *tmpdir = getenv("TMPDIR");
    int ret = OMLCTL_EXIT_USAGE, fd = -1, keep_file = 0;
    const omlctl_opt opts[] = {
        {"output", 'o', OMLCTL_OPT_STRING, &output},
        {"validate", 0, OMLCTL_OPT_BOOL, &st.validate},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    memset(&st, 0, sizeof(st));
    st.validate = 1;
    omlctl_ctx_init(&ctx, "edit");
    st.ctx = &ctx;
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, edit_help, &ret))
        goto out;
    if (omlctl_output_parse(output ? output : "yaml", &st.fmt, &err) < 0 ||
        (st.fmt != OMLCTL_OUT_YAML && st.fmt != OMLCTL_OUT_JSON)) {
        omlctl_usage_error(&ctx, "-o takes yaml or json");
        goto out;
    }
    ret = OMLCTL_EXIT_ERROR;
    if (omlctl_ctx_schemas(&ctx, &set, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (omlctl_targets_parse(set, &args, 1, &targets, &err) < 0 || targets.n != 1) {
        omlctl_usage_error(&ctx, "%s", targets.n > 1 ? "edit one object at a time" : err.msg);
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    st.kind = targets.v[0].kind;
    st.name = targets.v[0].name;
    if (omlctl_ctx_client(&ctx, &st.api, &err) < 0 ||
        omlctl_get_object(st.api, st.kind, st.name, &st.orig, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    /* managedFields are the server's bookkeeping, noise in an editor (kubectl hides them too). */
    if (json_object_is_type(json_object_object_get(st.orig, "metadata"), json_type_object))
        json_object_object_del(json_object_object_get(st.orig, "metadata"), "managedFields");
    snprintf(st.path, sizeof(st.path), "%s/omlctl-edit-%s-XXXXXX.%s",
             tmpdir && *tmpdir ? tmpdir : "/tmp", st.kind->singular,
             st.fmt == OMLCTL_OUT_JSON ? "json" : "yaml");
    fd = mkstemps(st.path, 5); /* ".yaml" or ".json": editors pick their mode by suffix */
    if (fd < 0) {
        omlop_err_set(&err, OMLOP_EIO, "cannot create a temp file in %s: %s",
                      tmpdir && *tmpdir ? tmpdir : "/tmp", strerror(errno));
        omlctl_print_error(&ctx, &err);
        st.path[0] = '\0';
        goto out;
    }
    close(fd);
    if (edit_loop(&st, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        /* Keep the user's work when it was not saved for a reason they can fix. */
        keep_file = strstr(err.msg, st.path) != NULL;
        if (!keep_file && err.code != OMLOP_EIO) {
            keep_file = 1;
            fprintf(stderr, "Your changes are kept in %s\n", st.path);
        }
        goto out;
    }
    ret = OMLCTL_EXIT_OK;
out:
    if (st.path[0] && !keep_file)
        unlink(st.path);
    json_object_put(st.orig);
    omlctl_targets_release(&targets);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
