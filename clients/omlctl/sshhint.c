/* sshhint: advice for a failed SSH connection (see sshhint.h). */
#include "clients/omlctl/sshhint.h"

#include <string.h>

#include "lib/err.h"

/* libssh's words when the key exchange finds no common host key algorithm. */
#define HOSTKEY_NO_MATCH "no match for method server host key algo: server ["

/* Copy the bracketed list that starts at p ("a,b]...") into out as "a, b". */
static void add_list(strbuf *out, const char *p)
{
    const char *end = strchr(p, ']');
    size_t n = end ? (size_t)(end - p) : strlen(p);

    for (size_t i = 0; i < n; i++) {
        if (p[i] == ',')
            strbuf_adds(out, ", ");
        else
            strbuf_addch(out, p[i]);
    }
}

int omlctl_ssh_failure_hint(const char *msg, int code, strbuf *out)
{
    const char *server = msg ? strstr(msg, HOSTKEY_NO_MATCH) : NULL;
    const char *client;

    if (server) {
        server += strlen(HOSTKEY_NO_MATCH);
        client = strstr(server, "client [");
        strbuf_adds(out, "the host offers host keys of type ");
        add_list(out, server);
        strbuf_adds(out, " but the key pinned for it is ");
        if (client)
            add_list(out, client + strlen("client ["));
        else
            strbuf_adds(out, "of another type");
        strbuf_adds(out, ": pin the host's key of an offered type (ssh-keyscan -t TYPE HOST "
                         "prints it), or check that the address is the host you meant");
        return 1;
    }
    if (code == OMLOP_EUNAVAIL || code == OMLOP_ETIMEOUT) {
        strbuf_adds(out, "check that sshd runs on the host, and the address, port and firewall");
        return 1;
    }
    return 0;
}
