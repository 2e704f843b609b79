/*
 * clock: the monotonic clock every module measures durations and deadlines with.
 *
 * One copy instead of a private one per file: the wall clock jumps (NTP, an admin), so timeouts,
 * back-off and latency figures all read CLOCK_MONOTONIC, and condition variables that wait on
 * a clock_deadline_after() deadline must be created with
 * pthread_condattr_setclock(CLOCK_MONOTONIC).
 */
#ifndef OMLOP_CLOCK_H
#define OMLOP_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock (arbitrary origin: compare two readings only). */
int64_t clock_now_ms(void);

/* Nanoseconds on the monotonic clock, for benchmarks that time sub-millisecond work. */
int64_t clock_now_ns(void);

/* Sleep at least ms milliseconds (resumes after a signal); ms <= 0 returns at once. */
void clock_sleep_ms(int64_t ms);

/* *ts = now + ms on CLOCK_MONOTONIC, the absolute deadline pthread_cond_timedwait wants. */
void clock_deadline_after(struct timespec *ts, int64_t ms);

#endif
