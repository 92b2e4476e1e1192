/*
 * slope/optim.h - optimizers (SGD, Adam, AdamW), learning-rate schedules and
 * gradient clipping.
 *
 * An optimizer updates a list of parameters (slope/nn.h's sl_param: a tensor
 * with data and grad, a role and a name) from their gradients.  Parameter
 * groups follow the roles: by default weight decay applies to weights only,
 * not to biases, PReLU slopes or batch_norm scale/shift (each switchable).
 * Buffers (SL_PARAM_BUFFER) are never touched.  The update rules are
 * PyTorch's (torch.optim.SGD, Adam, AdamW), so runs can be compared.
 *
 * Ownership: the optimizer keeps pointers to the caller's sl_param array and
 * tensors (they must outlive it and keep their sizes) and owns its state
 * (momentum, moments).  A step runs on slope's threads (slope/train.h
 * sl_set_num_threads) in blocks of a parameter's elements; the results are
 * the same for any thread count.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_OPTIM_H
#define SLOPE_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "slope/error.h"
#include "slope/export.h"
#include "slope/nn.h"
#include "slope/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_optim_kind { SL_OPTIM_SGD, SL_OPTIM_ADAM, SL_OPTIM_ADAMW } sl_optim_kind;

typedef struct sl_optim_spec {
    sl_optim_kind kind;
    float lr;            /**< base learning rate (sgd 0.01, adam/adamw 0.001) */
    float momentum;      /**< sgd: 0 */
    int nesterov;        /**< sgd: 0; needs momentum > 0 */
    float dampening;     /**< sgd: 0 */
    float weight_decay;  /**< sgd/adam: L2 added to the gradient (0); adamw: decoupled (0.01) */
    float beta1, beta2;  /**< adam/adamw: 0.9, 0.999 */
    float eps;           /**< adam/adamw: 1e-8 */
    int decay_bias;      /**< apply weight decay to biases: 0 */
    int decay_prelu;     /**< to PReLU slopes: 0 */
    int decay_norm;      /**< to batch_norm gamma/beta: 0 */
    float clip_grad_norm; /**< clip the global L2 norm of all gradients to this; 0 = off */
} sl_optim_spec;

/** Defaults for a kind (see the field comments). */
SL_API sl_optim_spec sl_optim_defaults(sl_optim_kind kind);
SL_API const char *sl_optim_name(sl_optim_kind kind);
SL_API sl_status sl_optim_parse(const char *name, sl_optim_kind *kind, sl_error *err);

typedef struct sl_optimizer sl_optimizer;

/**
 * An optimizer over params[0..n) (buffers among them are skipped).
 * Errors: SL_ERR_CONFIG for invalid settings (lr <= 0, momentum < 0,
 * nesterov without momentum or with dampening != 0 (as torch), betas outside
 * [0, 1), eps <= 0 or infinite (1e-50 is 0 as a float), weight_decay or
 * clip_grad_norm < 0, a NaN; momentum,
 * nesterov and dampening are checked for sgd only, betas and eps for
 * adam/adamw only); SL_ERR_INVALID for a NULL spec,
 * NULL params with n > 0, a parameter without name or tensor, or two
 * parameters with the same tensor; SL_ERR_NOMEM.
 */
SL_API sl_optimizer *sl_optimizer_new(const sl_param *params, size_t n, const sl_optim_spec *spec,
                                      sl_error *err);
SL_API void sl_optimizer_free(sl_optimizer *opt);

/**
 * Applies one update with learning rate lr (from a schedule) using the
 * gradients in the parameters' grad buffers (a parameter without a grad
 * buffer is skipped).  Clips first if clip_grad_norm > 0, as
 * torch.nn.utils.clip_grad_norm_ does: the gradients are scaled in place by
 * clip_grad_norm / (norm + 1e-6) when that is below 1.  Makes no heap
 * allocation.  Errors: SL_ERR_INVALID for lr < 0, NaN or Inf (lr 0 is
 * allowed); SL_ERR_NUMERIC if a gradient holds NaN/Inf (the message names
 * the first such parameter and element); SL_ERR_STATE if a parameter's tensor
 * no longer has the size it had in sl_optimizer_new.  On error nothing changes: no
 * parameter, gradient, state, step count or recorded norm.
 *
 * Step-dependent state follows the optimizer's step count, not a per-parameter
 * one: SGD's momentum buffer starts as the gradient on step 0 and Adam's bias
 * correction uses steps + 1.  (torch counts per parameter; the two agree when
 * every parameter has a gradient from the first step on, as a model's do.)
 */
SL_API sl_status sl_optimizer_step(sl_optimizer *opt, float lr, sl_error *err);

/** Global L2 norm of all gradients as of the last step, before clipping (0 before any). */
SL_API float sl_optimizer_last_grad_norm(const sl_optimizer *opt);
/** Number of steps taken. */
SL_API int64_t sl_optimizer_steps(const sl_optimizer *opt);
SL_API const sl_optim_spec *sl_optimizer_spec(const sl_optimizer *opt);

/**
 * Optimizer state, for checkpoints: state tensors named
 * "<param name>.<slot>" (slots "momentum_buffer", "exp_avg", "exp_avg_sq")
 * that exist for the kind.  sl_optimizer_state_count / _state give them in
 * a fixed order (trainable parameters in the order given, and per parameter
 * momentum_buffer, or exp_avg then exp_avg_sq; SGD without momentum has
 * none); the step count travels separately.  Restoring = copying data into
 * those tensors and calling sl_optimizer_set_steps: with steps > 0 a
 * restored momentum buffer counts as started, so resuming is bit-exact.
 * sl_optimizer_state returns NULL (and *name NULL) for i out of range; the
 * tensors and names are owned by the optimizer.  set_steps clamps negative
 * values to 0 and values above SL_OPTIM_MAX_STEPS to it; sl_optimizer_step
 * refuses (SL_ERR_INVALID, nothing changes) once the count is there.
 */
#define SL_OPTIM_MAX_STEPS ((int64_t)1 << 62)
SL_API size_t sl_optimizer_state_count(const sl_optimizer *opt);
SL_API sl_tensor *sl_optimizer_state(const sl_optimizer *opt, size_t i, const char **name);
SL_API void sl_optimizer_set_steps(sl_optimizer *opt, int64_t steps);

/* ---- learning-rate schedules ----------------------------------------------- */

typedef enum sl_schedule_kind {
    SL_SCHEDULE_CONSTANT,
    SL_SCHEDULE_STEP,     /**< lr * gamma^(floor(epoch / step_epochs)) */
    SL_SCHEDULE_COSINE    /**< min_lr + (lr - min_lr) * (1 + cos(pi * t)) / 2 over training */
} sl_schedule_kind;

typedef struct sl_schedule_spec {
    sl_schedule_kind kind;
    float warmup_epochs;  /**< linear warm-up from 0 over this many epochs (fractional ok); 0 */
    int step_epochs;      /**< step: epochs between decays (1) */
    float gamma;          /**< step: factor (0.1) */
    float min_lr;         /**< cosine: floor (0) */
} sl_schedule_spec;

SL_API sl_schedule_spec sl_schedule_defaults(sl_schedule_kind kind);
SL_API const char *sl_schedule_name(sl_schedule_kind kind);
SL_API sl_status sl_schedule_parse(const char *name, sl_schedule_kind *kind, sl_error *err);

/**
 * The learning rate at a point of training: step is the number of
 * optimizer steps taken so far, steps_per_epoch and total_epochs describe
 * the run.  Warm-up ramps linearly per step; the cosine runs over the
 * steps after warm-up.  Pure function.
 *
 * Precisely: lr = warmup(step) * kind(step) with W = round(warmup_epochs *
 * steps_per_epoch) and warmup(step) = (step + 1) / W for step < W, else 1;
 * step: epoch = floor(step / steps_per_epoch); cosine: t = (step - W) /
 * (total_epochs * steps_per_epoch - W) clamped to [0, 1], so base_lr when
 * warm-up ends and min_lr once every step has been taken.  steps_per_epoch
 * and step_epochs below 1 count as 1, a negative step as 0.  Any step and
 * steps_per_epoch (INT64_MAX included) give a finite lr: the step arithmetic
 * is in double.  A NULL s returns base_lr.
 */
SL_API float sl_schedule_lr(const sl_schedule_spec *s, float base_lr, int64_t step,
                            int64_t steps_per_epoch, int total_epochs);

#ifdef __cplusplus
}
#endif
#endif
