/* omlopd: the omlop daemon (API server, store, work queue, reconcilers). */
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "lib/version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "omlopd %s: the OMniLeads operator daemon.\n\n"
            "Usage:\n  omlopd [flags]\n\n"
            "Flags:\n"
            "  --help       show this help\n"
            "  --version    print the version\n",
            OMLOP_RELEASE);
}

int main(int argc, char **argv)
{
    log_configure(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, stderr);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("omlopd %s\n", OMLOP_RELEASE);
            return 0;
        }
        fprintf(stderr, "omlopd: unknown flag '%s' (see omlopd --help)\n", argv[i]);
        return 2;
    }
    fprintf(stderr, "omlopd: the daemon is not built yet in this revision; see README.md\n");
    return 1;
}
