/*
 * dist.h - the private side of data-parallel training (slope/dist.h).
 *
 * Two layers.  The backend moves numbers between ranks: dist_mpi.c with
 * SLOPE_MPI, dist_none.c (one process: every call a no-op) without; the
 * build compiles exactly one of them.  dist.c, compiled always, builds the
 * trainer's hooks and the public collectives on the backend, so train.c
 * calls two hooks and knows nothing of MPI.
 *
 * Every backend call is collective and sums in place; n may exceed INT_MAX.
 */
#ifndef SLOPE_DIST_INTERNAL_H
#define SLOPE_DIST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "slope/dist.h"
#include "train_internal.h"

/* ---- backend (dist_mpi.c / dist_none.c) ---------------------------------------- */

sl_status sl_dist_sum_f32(float *buf, int64_t n, sl_error *err);
sl_status sl_dist_sum_f64(double *buf, int64_t n, sl_error *err);
sl_status sl_dist_sum_i64(int64_t *buf, int64_t n, sl_error *err);
/* The minimum of v over all ranks, into *v. */
sl_status sl_dist_min_int(int *v, sl_error *err);
/* root's bytes to every rank. */
sl_status sl_dist_bcast(void *buf, size_t bytes, int root, sl_error *err);

/* ---- the trainer's hooks (dist.c) ------------------------------------------------ */

/*
 * The next global batch of t's iterator: *n_global samples (0 at the end of
 * an epoch), of which this rank's contiguous shard, *n_local samples, is
 * written to t->x and t->labels.  One process: the whole batch.
 */
sl_status sl_dist_next_batch(sl_trainer *t, int64_t *n_global, int64_t *n_local, sl_error *err);

/*
 * After this rank's forward and backward (status st; info->n = n_local,
 * info->loss its mean loss, info->correct its count): agrees on st with
 * every rank, then averages the gradients and makes info describe the
 * global batch.  Zeroes the gradients of an empty shard.  A trainer that is
 * not data-parallel returns st untouched.
 */
sl_status sl_dist_reduce_step(sl_trainer *t, sl_status st, int64_t n_global, sl_step_info *info,
                              sl_error *err);

#endif
