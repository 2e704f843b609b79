/* omlctl validate: check manifests against the resource model, offline. */
#include <stdio.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "crds/schema_files.h"
#include "lib/cjson.h"

static const char validate_help[] =
    "Check manifests against the omlop resource model without contacting a server.\n"
    "\n"
    "Every document is decoded as omlopd would decode it: scalars typed by the schema,\n"
    "unknown fields, wrong types, bad enums, bad addresses, duplicate keys and the\n"
    "cross-field rules (layout and host roles, HA addresses, TLS, ...) are reported,\n"
    "all of them, as FILE:LINE:COL: FIELD.PATH: MESSAGE on stderr. A valid document\n"
    "prints FILE: KIND/NAME valid on stdout.\n"
    "\n"
    "Usage:\n"
    "  omlctl validate -f PATH [-f PATH...] [flags]\n"
    "\n"
    "Examples:\n"
    "  # Check one manifest\n"
    "  omlctl validate -f tenant.yaml\n"
    "\n"
    "  # Check every *.yaml, *.yml and *.json under a directory, recursively\n"
    "  omlctl validate -f manifests/\n"
    "\n"
    "  # Check what another tool prints\n"
    "  render-tenant | omlctl validate -f -\n"
    "\n"
    "Flags:\n"
    "  -f, --filename PATH   file, directory or - (stdin); repeatable\n"
    "  -q, --quiet           print only problems\n"
    "      --crds-dir DIR    use the CRD files in DIR instead of the built-in ones\n"
    "\n"
    "Exit status: 0 every document valid, 1 any problem, 2 usage error.\n";

static void print_diags(const diag_list *diags, size_t first, size_t n)
{
    strbuf line = STRBUF_INIT;

    for (size_t i = first; i < first + n; i++) {
        strbuf_reset(&line);
        diag_format(diag_list_at(diags, i), &line);
        fprintf(stderr, "%s\n", line.buf);
    }
    strbuf_release(&line);
}

int cmd_validate(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv files = OMLCTL_STRV_INIT, pos = OMLCTL_STRV_INIT;
    const char *crds_dir = NULL;
    int quiet = 0, bad = 0, total = 0, rc;
    omlctl_opt opts[] = {
        {"filename", 'f', OMLCTL_OPT_LIST, &files},
        {"quiet", 'q', OMLCTL_OPT_BOOL, &quiet},
        {"crds-dir", 0, OMLCTL_OPT_STRING, &crds_dir},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };
    omlop_err err = OMLOP_ERR_INIT;
    schema_set *set;

    omlctl_ctx_init(&ctx, "validate");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &pos, validate_help, &rc))
        goto out;
    if (pos.n > 0 || files.n == 0) {
        if (pos.n > 0)
            omlctl_usage_error(&ctx, "unexpected argument '%s' (files go after -f)", pos.v[0]);
        else
            omlctl_usage_error(&ctx, "no input: give -f PATH (a file, a directory or -)");
        rc = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (omlctl_ctx_schemas_from(&ctx, crds_dir, &set, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        rc = OMLCTL_EXIT_ERROR;
        goto out;
    }
    for (size_t f = 0; f < files.n; f++) {
        schema_doc_list docs = SCHEMA_DOC_LIST_INIT;
        diag_list *diags = diag_list_new();
        size_t first_doc_diag;

        if (schema_files_decode(set, files.v[f], &docs, diags) < 0)
            bad = 1;
        /* Reading problems come first, then each document's own. */
        first_doc_diag = docs.n ? docs.docs[0].diag_first : diag_list_count(diags);
        print_diags(diags, 0, first_doc_diag);
        for (size_t i = 0; i < docs.n; i++) {
            const schema_doc *d = &docs.docs[i];

            total++;
            print_diags(diags, d->diag_first, d->n_diags);
            if (d->obj && !quiet)
                printf("%s: %s/%s valid\n", d->file, cjson_get_string(d->obj, "kind"),
                       cjson_get_string(d->obj, "metadata.name"));
            fflush(stdout);
        }
        schema_doc_list_release(&docs);
        diag_list_free(diags);
    }
    if (total == 0 && !bad) {
        fprintf(stderr, "error: no documents found in the given input\n");
        bad = 1;
    }
    rc = bad ? OMLCTL_EXIT_ERROR : OMLCTL_EXIT_OK;
out:
    omlctl_strv_release(&files);
    omlctl_strv_release(&pos);
    omlctl_ctx_release(&ctx);
    return rc;
}
