/*
 * imageref: container image references in the one form Podman stores them.
 *
 * Users (and omlop's catalog) write short forms: "postgres:14", "docker.io/postgres:14",
 * "reg.test:5000/omnileads/asterisk:1.0". Podman reports the image of a container,
 * and the names of what it holds, fully qualified: "docker.io/library/postgres:14".
 * Comparing the strings as written makes a converged container look changed
 * every round, so every comparison of references (plan, image-present check,
 * pull de-duplication) goes through imageref_equal.
 *
 * Normal form, as Docker's reference grammar resolves it:
 *   - the first path component is a registry when the reference has more than one
 *     component and it holds a '.' or a ':' (a port) or is "localhost"; otherwise the
 *     registry is docker.io ("index.docker.io" is docker.io too);
 *   - a docker.io name of one component gets "library/" ("postgres" -> library/postgres);
 *   - no tag and no digest: ":latest"; a digest is kept, and so is a tag beside it
 *     ("name:tag@sha256:..."); a digest alone gets no tag;
 *   - the registry host is lowercased (host names are case-insensitive); the repository
 *     path must already be lowercase (the registries refuse anything else).
 */
#ifndef OMLOP_IMAGEREF_H
#define OMLOP_IMAGEREF_H

#include "lib/err.h"
#include "lib/strbuf.h"

/* Longest reference accepted (Docker's limit on a name is 255; a digest and a tag add ~200). */
#define IMAGEREF_MAX_LEN 512

/*
 * Append the normal form of ref to out. OMLOP_EINVAL naming ref and what is
 * wrong with it (empty, too long, a space, an empty path component, upper case in
 * the repository, a bad tag or digest); out is then left as it was.
 */
int imageref_normalize(const char *ref, strbuf *out, omlop_err *err);

/* 1 when a and b name the same image in normal form; a reference that does not parse
 * is compared as written. NULL equals only NULL. */
int imageref_equal(const char *a, const char *b);

#endif
