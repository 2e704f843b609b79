/* omlctl convert: print manifests normalized (typed, defaults applied) as YAML or JSON. */
#include <stdio.h>
#include <string.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "clients/omlctl/output.h"
#include "crds/schema_files.h"
#include "crds/yamlio.h"

static const char convert_help[] =
    "Validate manifests and print them normalized: every scalar typed by the schema,\n"
    "defaults filled in, fields in schema order. This is the object omlopd stores.\n"
    "Nothing is printed on stdout unless every document is valid; problems go to\n"
    "stderr as FILE:LINE:COL: FIELD.PATH: MESSAGE.\n"
    "\n"
    "Usage:\n"
    "  omlctl convert -f PATH [-f PATH...] [-o yaml|json] [flags]\n"
    "\n"
    "Examples:\n"
    "  # See every default a tenant gets\n"
    "  omlctl convert -f tenant.yaml\n"
    "\n"
    "  # One JSON object for one document; a List for several\n"
    "  omlctl convert -f manifests/ -o json\n"
    "\n"
    "Flags:\n"
    "  -f, --filename PATH   file, directory or - (stdin); repeatable\n"
    "  -o, --output FORMAT   yaml (default: documents separated by ---) or json\n"
    "                        (an object for one document, else\n"
    "                        {\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [...]})\n"
    "      --crds-dir DIR    use the CRD files in DIR instead of the built-in ones\n"
    "\n"
    "Exit status: 0 converted, 1 any problem, 2 usage error.\n";

/* Render every decoded object into text as format asks. */
static int render(const schema_doc_list *docs, int as_json, strbuf *text, omlop_err *err)
{
    json_object *list;

    if (!as_json) {
        for (size_t i = 0; i < docs->n; i++) {
            if (yaml_emit_json(docs->docs[i].obj, text, err) < 0)
                return omlop_err_prefix(err, "%s: ", docs->docs[i].file);
        }
        return 0;
    }
    if (docs->n == 1) {
        omlctl_json_pretty(docs->docs[0].obj, text);
        return 0;
    }
    list = omlctl_list_new();
    for (size_t i = 0; i < docs->n; i++)
        json_object_array_add(json_object_object_get(list, "items"),
                              json_object_get(docs->docs[i].obj));
    omlctl_json_pretty(list, text);
    json_object_put(list);
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv files = OMLCTL_STRV_INIT, pos = OMLCTL_STRV_INIT;
    const char *crds_dir = NULL, *output = "yaml";
    schema_doc_list docs = SCHEMA_DOC_LIST_INIT;
    diag_list *diags = diag_list_new();
    strbuf text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    schema_set *set;
    int as_json, bad = 0, rc;
    omlctl_opt opts[] = {
        {"filename", 'f', OMLCTL_OPT_LIST, &files},
        {"output", 'o', OMLCTL_OPT_STRING, &output},
        {"crds-dir", 0, OMLCTL_OPT_STRING, &crds_dir},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    omlctl_ctx_init(&ctx, "convert");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &pos, convert_help, &rc))
        goto out;
    rc = OMLCTL_EXIT_USAGE;
    if (pos.n > 0) {
        omlctl_usage_error(&ctx, "unexpected argument '%s' (files go after -f)", pos.v[0]);
        goto out;
    }
    if (files.n == 0) {
        omlctl_usage_error(&ctx, "no input: give -f PATH (a file, a directory or -)");
        goto out;
    }
    if (strcmp(output, "yaml") != 0 && strcmp(output, "json") != 0) {
        omlctl_usage_error(&ctx, "unknown output format '%s' (use yaml or json)", output);
        goto out;
    }
    as_json = strcmp(output, "json") == 0;
    rc = OMLCTL_EXIT_ERROR;
    if (omlctl_ctx_schemas_from(&ctx, crds_dir, &set, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    for (size_t f = 0; f < files.n; f++) {
        if (schema_files_decode(set, files.v[f], &docs, diags) < 0)
            bad = 1;
    }
    if (bad) {
        diag_list_format(diags, &text);
        fputs(text.buf ? text.buf : "", stderr);
        goto out;
    }
    if (docs.n == 0) {
        fprintf(stderr, "error: no documents found in the given input\n");
        goto out;
    }
    if (render(&docs, as_json, &text, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    fputs(text.buf, stdout);
    rc = OMLCTL_EXIT_OK;
out:
    schema_doc_list_release(&docs);
    diag_list_free(diags);
    strbuf_release(&text);
    omlctl_strv_release(&files);
    omlctl_strv_release(&pos);
    omlctl_ctx_release(&ctx);
    return rc;
}
