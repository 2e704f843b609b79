/*
 * humanize: numbers as people read them in tables.
 *
 * omlopd's Table answers (the AGE column) and omlctl's own output must print
 * the same text for the same age, as kubectl and the API server do, so there is
 * one implementation of Kubernetes' HumanDuration.
 */
#ifndef OMLOP_HUMANIZE_H
#define OMLOP_HUMANIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Kubernetes' HumanDuration of seconds into out: "45s", "2m30s", "179m",
 * "3h5m", "47h", "2d2h", "400d", "2y5d", "9y". -1 (just now, clock skew) is
 * "0s"; anything below is "<invalid>".
 */
void humanize_duration(int64_t seconds, char *out, size_t outsz);

#endif
