/*
 * sshhint: the advice `omlctl host check` prints under a failed SSH connection.
 *
 * The error text decides: a host that offers none of the host key types the
 * pinned key (knownHostKey, --host-key, known_hosts) has is a key problem, not
 * a network one, and saying "check sshd and the firewall" would send the user
 * the wrong way. Pure: no I/O.
 */
#ifndef OMLOP_OMLCTL_SSHHINT_H
#define OMLOP_OMLCTL_SSHHINT_H

#include "lib/strbuf.h"

/*
 * Append to out the advice for a connection that failed with message msg and
 * code (an OMLOP_E* code). Returns 1 when there is advice, 0 when not.
 */
int omlctl_ssh_failure_hint(const char *msg, int code, strbuf *out);

#endif
