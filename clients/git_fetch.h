/*
 * git_fetch: the network half of clients/git.h - one fetch of a remote into a bare copy, run
 * in a process of its own that is started fresh (exec), never a bare fork of the caller.
 *
 * Why a process: libgit2 1.5 has no network timeout, so a server that accepts the connection
 * and then says nothing blocks a read forever; only a process can be stopped at a deadline
 * whatever it is blocked in. Why exec'd and not just forked: omlopd is multi-threaded, and a
 * forked child of a threaded process may only make async-signal-safe calls - libgit2, OpenSSL,
 * libssh2 and malloc take locks that another thread may have held at the fork, and the child
 * then waits on them forever (what CI saw). The caller's own executable (/proc/self/exe) is
 * run again as the fetch process: no second binary to install or to drift out of version, and
 * every program linking clients/ (omlopd, the unit tests, the benchmarks) can fetch. It takes
 * its request - URL, copy, credentials - through a socket on its fd 3, never argv or the
 * environment, and answers on the same socket.
 *
 * The caller kills the process at the deadline plus GITCLIENT_KILL_GRACE_MS, removes the lock
 * files it may have left, and reaps it; the process also dies with the thread that started it
 * (PR_SET_PDEATHSIG) and, as a last bound, at an alarm past the deadline.
 */
#ifndef OMLOP_GIT_FETCH_H
#define OMLOP_GIT_FETCH_H

#include "clients/git.h"
#include "lib/err.h"

/* The argument that makes a program linking clients/ the fetch process (git_fetch.c). */
#define GITFETCH_CHILD_ARG "--omlop-git-fetch-process"

/*
 * Fetch url into the bare repository at dir (made by gitclient_open) within timeout_ms (> 0),
 * as gitclient_fetch documents. safe_url is url without user or password: what messages name.
 */
int gitfetch_run(const char *dir, const char *url, const char *safe_url, const gitclient_creds *c,
                 int timeout_ms, omlop_err *err);

#endif
