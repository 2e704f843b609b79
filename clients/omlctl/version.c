/* omlctl version: print the client's version. */
#include <stdio.h>
#include <string.h>

#include "clients/omlctl/cmds.h"
#include "lib/version.h"

int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Print the omlctl version.\n\nUsage:\n  omlctl version\n");
        return OMLCTL_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "omlctl version: unexpected argument '%s'\n", argv[1]);
        return OMLCTL_EXIT_USAGE;
    }
    printf("omlctl %s\n", OMLOP_RELEASE);
    return OMLCTL_EXIT_OK;
}
