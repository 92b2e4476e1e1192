/*
 * parallel.h - slope's own worker threads, for ops that split their work.
 *
 * sl_set_num_threads(n) sizes this pool and sets OpenBLAS to one thread:
 * slope splits each large sgemm itself (one single-threaded OpenBLAS call per
 * part) and runs convolutions, pooling and big elementwise loops in parallel
 * on the same threads, so OpenBLAS's threads and slope's never fight over the
 * cores, and a step makes no heap allocation (OpenBLAS's threaded driver
 * allocates a job array per call).  Without sl_set_num_threads the pool has
 * one thread (the caller) and OpenBLAS keeps its own setting.
 *
 * Workers are started lazily by the first parallel call that needs them
 * (one allocation per worker, once), spin briefly waiting for work, then
 * sleep on a condition variable; they live until the process exits.
 * sl_par_run is for one caller at a time: a call made while another is in
 * progress (another thread, or from inside a task) runs its tasks serially
 * in the calling thread.  Results never depend on the thread count beyond
 * what the callers' own splitting implies.
 */
#ifndef SLOPE_PARALLEL_H
#define SLOPE_PARALLEL_H

#include <stdint.h>

/* Threads of the pool (the caller counts as one): 1 until sl_par_set_threads. */
int sl_par_threads(void);
/* Sets the pool's size (clamped to 1..SL_PAR_MAX_THREADS) and OpenBLAS's threads to 1. */
void sl_par_set_threads(int n);

#define SL_PAR_MAX_THREADS 64

/* The pool size for a caller that sets none: OMP_NUM_THREADS when it is a positive integer
 * (its first value), else the CPUs this process may run on; 1..SL_PAR_MAX_THREADS. */
int sl_par_default_threads(void);

/* fn(ctx, task, thread) for every task in 0..ntasks-1, spread over the pool; thread is
 * in 0..sl_par_threads()-1 and no two tasks with the same thread index run at once
 * (for per-thread scratch).  Returns when all are done. */
typedef void (*sl_par_fn)(void *ctx, int64_t task, int thread);
void sl_par_run(int64_t ntasks, sl_par_fn fn, void *ctx);

/* Splits [0, n) into at most sl_par_threads() ranges of at least min_chunk elements
 * (rounded to multiples of align) and runs fn(ctx, begin, end) on each in parallel. */
typedef void (*sl_par_range_fn)(void *ctx, int64_t begin, int64_t end);
void sl_par_for(int64_t n, int64_t min_chunk, int64_t align, sl_par_range_fn fn, void *ctx);

#endif
