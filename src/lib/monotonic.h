/* SPDX-License-Identifier: ISC */
/* CLOCK_MONOTONIC now, for deadlines and durations. */
#ifndef ECHOREPLYD_MONOTONIC_H
#define ECHOREPLYD_MONOTONIC_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
mono_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

#endif
