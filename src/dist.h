/*
 * dist.h - the communication backend of data-parallel training (slope/dist.h).
 *
 * The backend moves numbers between ranks: dist_mpi.c with SLOPE_MPI,
 * dist_none.c (one process: every call a no-op) without; the build compiles
 * exactly one of them.  dist.c, compiled always, builds the public
 * collectives and the trainer's MPI strategy (slope/train.h's
 * sl_train_strategy) on it; the trainer knows neither.
 *
 * Every backend call is collective and sums in place; n may exceed INT_MAX.
 */
#ifndef SLOPE_DIST_INTERNAL_H
#define SLOPE_DIST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "slope/dist.h"

sl_status sl_dist_sum_f32(float *buf, int64_t n, sl_error *err);
sl_status sl_dist_sum_f64(double *buf, int64_t n, sl_error *err);
sl_status sl_dist_sum_i64(int64_t *buf, int64_t n, sl_error *err);
/* The minimum of v over all ranks, into *v. */
sl_status sl_dist_min_int(int *v, sl_error *err);
/* root's bytes to every rank. */
sl_status sl_dist_bcast(void *buf, size_t bytes, int root, sl_error *err);

#endif
