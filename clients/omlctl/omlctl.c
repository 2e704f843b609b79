/* omlctl: the command-line client. Dispatches argv[1] to one cmd_<verb>. */
#include <stdio.h>
#include <string.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "lib/log.h"

static const omlctl_cmd commands[] = {
    {"apply", cmd_apply, "Create or update objects from manifest files"},
    {"get", cmd_get, "Show objects as a table, YAML, JSON or names; watch them"},
    {"describe", cmd_describe, "Show an object in detail, with its conditions and events"},
    {"diff", cmd_diff, "Show what apply would change"},
    {"delete", cmd_delete, "Delete objects by name, selector or manifest"},
    {"wait", cmd_wait, "Wait for a condition on objects, or for their deletion"},
    {"edit", cmd_edit, "Edit an object in $EDITOR and save it"},
    {"rollout", cmd_rollout, "Show a tenant's spec history; roll it back (undo)"},
    {"ha", cmd_ha, "Layout ha requests: switchover of the PostgreSQL primary"},
    {"gitsource", cmd_gitsource, "Ask omlopd to sync a GitSource now"},
    {"config", cmd_config, "Show or change the server, token and CA settings"},
    {"version", cmd_version, "Print the client and server versions"},
    {"validate", cmd_validate, "Check manifests against the resource model, offline"},
    {"convert", cmd_convert, "Print manifests normalized (typed, defaults applied)"},
    {"explain", cmd_explain, "Describe a kind or field from its schema (--markdown: all)"},
    {"render", cmd_render, "Print the containers omlop would run for a Tenant, offline"},
    {"host", cmd_host, "Check that omlop can drive a host (SSH, host key, Podman)"},
};

static void usage(FILE *out)
{
    fprintf(out, "omlctl controls omlop, the OMniLeads operator.\n\n"
                 "Usage:\n  omlctl COMMAND [flags]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'omlctl COMMAND --help' for a command's flags and examples.\n"
                 "Exit codes: 0 ok, 1 error, 2 usage.\n");
}

int main(int argc, char **argv)
{
    log_configure(LOG_LEVEL_WARN, LOG_FORMAT_TEXT, stderr);
    if (omlctl_args_hoist_globals(argc, argv) != OMLCTL_PARSE_OK)
        return OMLCTL_EXIT_USAGE;
    if (argc < 2) {
        usage(stderr);
        return OMLCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return OMLCTL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "omlctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return OMLCTL_EXIT_USAGE;
}
