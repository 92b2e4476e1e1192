/*
 * slope/dist.h - data-parallel training over several processes (MPI).
 *
 * In a build configured with -DSLOPE_MPI=ON, `mpirun -np N slope train
 * CONFIG` trains one model on N processes (ranks): every rank walks the same
 * global batch order, computes forward and backward on its own contiguous
 * shard of each global batch (train.batch_size stays the global batch),
 * and the gradients are averaged with one all-reduce over the model's flat
 * gradient buffer, so every rank applies the same optimizer step.  In any
 * other build these functions exist too and describe one process: rank 0 of
 * 1, every collective a no-op, so a program written against this header runs
 * unchanged with or without MPI.
 *
 * A program using it:
 *
 *     sl_dist_init(&argc, &argv, &err);          // MPI_Init unless already done
 *     ... build the model, dataset and trainer on every rank,
 *         sl_trainer_load on every rank to resume ...
 *     st = sl_dist_agree(st, &err);              // all ranks set up, or all stop
 *     sl_dist_trainer(trainer, &err);            // rank 0's weights to all; steps shard
 *     while (...) sl_trainer_step(trainer, &info, &err);   // info is global
 *     sl_dist_evaluate(model, test, 256, loss, &res, &err); // sharded, reduced
 *     sl_dist_sync_buffers(model, &err);         // before rank 0 saves
 *     if (sl_dist_rank() == 0) st = sl_trainer_save(...);
 *     st = sl_dist_agree(st, &err);
 *     sl_dist_finalize();
 *
 * Collective calls (marked so below) must be made by every rank in the same
 * order.  Every error a collective reports is reported on every rank, with
 * the failing rank's message prefixed "rank R: ", so all ranks stop together
 * instead of waiting forever for one that left.  Failures of MPI itself
 * abort the whole job (MPI's default error handler).
 *
 * Equivalence: with the same seed and global batch, N ranks produce the
 * parameters of one process up to float summation order.  Exceptions,
 * by design: batch_norm normalises with per-rank batch statistics (its
 * running statistics are averaged across ranks by sl_dist_sync_buffers),
 * and dropout / rrelu draw from per-rank random streams.
 *
 * State: the rank, the size and a private communicator (a duplicate of
 * MPI_COMM_WORLD) are process-wide, as MPI itself is.  Call from one thread.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_DIST_H
#define SLOPE_DIST_H

#include <stdint.h>

#include "slope/error.h"
#include "slope/export.h"
#include "slope/nn.h"
#include "slope/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/** 1 when this build has MPI (-DSLOPE_MPI=ON), else 0. */
SL_API int sl_dist_available(void);

/**
 * Joins the job: MPI_Init_thread (funneled) unless MPI is already
 * initialised (then the caller's MPI is used and left to the caller).  A
 * process that no launcher started (no mpirun/mpiexec/srun in its
 * environment) stays one process and does not start MPI.  argc/argv may be
 * NULL.  Without MPI: nothing.  Calling it twice is harmless.
 * Errors: SL_ERR_UNSUPPORTED when MPI cannot start.
 */
SL_API sl_status sl_dist_init(int *argc, char ***argv, sl_error *err);
/** Leaves the job: MPI_Finalize if sl_dist_init started MPI.  Safe without init. */
SL_API void sl_dist_finalize(void);

/** This process's rank, 0..size-1 (0 before sl_dist_init and without MPI). */
SL_API int sl_dist_rank(void);
/** The number of processes (1 before sl_dist_init and without MPI). */
SL_API int sl_dist_size(void);

/**
 * Collective: every rank passes its own status (with its message in err)
 * and gets back SL_OK if all ranks passed SL_OK, else the status and message
 * of the lowest failing rank, prefixed "rank R: " (when size > 1), in err.
 */
SL_API sl_status sl_dist_agree(sl_status local, sl_error *err);

/** Collective: 1 if flag is nonzero on any rank (e.g. a stop request), else 0. */
SL_API int sl_dist_any(int flag);

/**
 * Collective: makes trainer t data-parallel over all ranks.  Checks that
 * every rank has the same model size, dataset size, batch size and
 * position (steps), then copies rank 0's parameters, buffers and optimizer
 * state to every rank.  Afterwards each sl_trainer_step computes this rank's
 * shard of the global batch, agrees on success with the other ranks (a
 * NaN or error on one rank fails the step on all, naming the rank), and
 * averages the gradients (each rank's mean gradient weighted by its share
 * of the batch, one MPI_Allreduce over sl_model_flat_grads), so the
 * sl_step_info it fills (n, loss, correct) describes the global batch.
 * With one rank: only the checks.  Errors: SL_ERR_CONFIG (ranks disagree,
 * e.g. a different seed or epochs, or a resume on only some: the message
 * names the setting, this rank's value and rank 0's), SL_ERR_INVALID (NULL).
 */
SL_API sl_status sl_dist_trainer(sl_trainer *t, sl_error *err);

/**
 * Collective: averages the model's buffers (batch_norm running statistics)
 * across ranks, so every rank holds the same values.  Call before a rank
 * saves a checkpoint.  Nothing to do for models without buffers.
 */
SL_API sl_status sl_dist_sync_buffers(sl_model *m, sl_error *err);

/**
 * Collective: sl_evaluate with the samples split into one contiguous shard
 * per rank and the sums (loss * samples, correct, confusion counts)
 * reduced, so every rank gets the result for the whole of ds.  Syncs the
 * buffers first (sl_dist_sync_buffers).  With one rank: sl_evaluate.
 */
SL_API sl_status sl_dist_evaluate(sl_model *model, const sl_dataset *ds, int64_t batch_size,
                                  sl_loss_kind loss, sl_eval_result *result, sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
