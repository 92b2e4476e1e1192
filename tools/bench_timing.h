/* bench_timing.h - the clock and the sort order the benchmarks share (header-only: each
 * benchmark is its own program). */
#ifndef SLOPE_BENCH_TIMING_H
#define SLOPE_BENCH_TIMING_H

#include <time.h>

/* Monotonic wall time in seconds. */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* qsort order for doubles, for medians. */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
#endif
