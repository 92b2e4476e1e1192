/*
 * slope/graph.h - the autograd context: arena, tape, modes and error.
 *
 * An sl_graph is what a training step runs in.  Each differentiable op
 * (slope/ops.h) takes the graph as its first argument, allocates its output
 * and saved buffers from the graph's arena and, when gradients are enabled
 * and some input requires one, appends a node to the tape.  sl_backward walks
 * the tape in reverse and accumulates (+=) gradients into every tensor that
 * requires one.  sl_graph_reset empties the tape and rewinds the arena: after
 * the first step the arena has grown to the step's size, so later steps make
 * no heap allocation at all.
 *
 * Errors: an op that fails returns NULL and records the error in the graph;
 * an op given a NULL input returns NULL at once, so a chain of ops can be
 * checked once at the end with sl_graph_status.  The first error is kept
 * until sl_graph_reset or sl_graph_clear_error.
 *
 * Thread safety: a graph is used by one thread at a time; separate graphs
 * (with separate models) may run in separate threads.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_GRAPH_H
#define SLOPE_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "slope/error.h"
#include "slope/export.h"
#include "slope/rng.h"
#include "slope/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_graph sl_graph;

/** A new graph with an empty arena, gradients enabled, training mode on, rng seeded with seed. */
SL_API sl_graph *sl_graph_new(uint64_t seed, sl_error *err);
/** Frees the graph and its arena (every arena tensor becomes invalid).  NULL is a no-op. */
SL_API void sl_graph_free(sl_graph *g);

/**
 * Ends a step: forgets the tape, rewinds the arena (arena tensors become
 * invalid) and clears the error.  If the last step needed more than one
 * arena block, the blocks are merged into one so the next step fits in it.
 */
SL_API void sl_graph_reset(sl_graph *g);

/** Enables (1) or disables (0) recording; returns the previous setting.  Disabled = no-grad mode. */
SL_API int sl_graph_set_grad_enabled(sl_graph *g, int enabled);
SL_API int sl_graph_grad_enabled(const sl_graph *g);
/** Training (1) or evaluation (0) mode, for dropout, batch_norm and rrelu.  Returns the previous mode. */
SL_API int sl_graph_set_training(sl_graph *g, int training);
SL_API int sl_graph_training(const sl_graph *g);
/**
 * Lets sl_backward write a step tensor's gradient over the tensor's own data when no
 * backward on the tape reads that data (1), or gives every step tensor a gradient buffer of
 * its own (0, the default).  A convolution's output that only an in-place leaky_relu and a
 * max pool read is such a tensor: its gradient then takes no memory of its own, and a CNN
 * step needs about a third less arena.  The price: after sl_backward, such a tensor's data
 * holds its gradient.  Parameters, inputs made with sl_graph_tensor, tensors that an op
 * still needs (a linear layer's input, the logits a loss reads) and a model's captured
 * activations (sl_model_set_capture) keep their data.  The trainer turns this on for its
 * graph.  Returns the previous setting.
 */
SL_API int sl_graph_set_grad_over_data(sl_graph *g, int on);
SL_API int sl_graph_grad_over_data(const sl_graph *g);
/**
 * The arithmetic of a graph's convolutions.  SL_PRECISION_FP32 (the default) computes in
 * float32 throughout.  SL_PRECISION_BF16 runs conv2d's three products (forward, backward
 * data, backward weights) on oneDNN with bfloat16 inputs, weights and output gradients and
 * float32 accumulation and results: parameters, gradients, the optimizer and every other op
 * stay float32 (mixed precision with float32 master weights).  Where bf16 kernels are not to
 * be had (a build without oneDNN, a CPU without avx512_bf16 or AMX: sl_bf16_supported()
 * is 0, a shape oneDNN has no bf16 kernel for, batches under 4 images) convolutions run in
 * float32, exactly as with SL_PRECISION_FP32.  Results differ from float32 by bf16's
 * rounding (8 bits of mantissa in the products' inputs); like float32, they do not depend
 * on the thread count.  Returns the previous setting; a value outside the enum is taken as
 * SL_PRECISION_FP32.
 */
typedef enum sl_precision { SL_PRECISION_FP32, SL_PRECISION_BF16 } sl_precision;
SL_API sl_precision sl_graph_set_precision(sl_graph *g, sl_precision p);
SL_API sl_precision sl_graph_precision(const sl_graph *g);
/** "fp32" or "bf16" ("?" outside the enum). */
SL_API const char *sl_precision_name(sl_precision p);
/** Parses "fp32" or "bf16"; SL_ERR_CONFIG naming the value and the choices otherwise
 *  (*p untouched), SL_ERR_INVALID for a NULL argument. */
SL_API sl_status sl_precision_parse(const char *name, sl_precision *p, sl_error *err);
/** 1 when SL_PRECISION_BF16 convolutions run in bf16 here: slope built with oneDNN, the
 *  convolutions on it (not SLOPE_CONV=im2col) and a CPU whose bf16 instructions oneDNN uses
 *  (avx512_bf16 or AMX; the CPU is checked once per process by building a small bf16
 *  convolution).  0 otherwise (bf16 graphs then compute in fp32). */
SL_API int sl_bf16_supported(void);
/** The graph's generator (dropout masks, rrelu slopes). */
SL_API sl_rng *sl_graph_rng(sl_graph *g);

/** The first error since the last reset (SL_OK if none) and its message.  A NULL graph:
 *  SL_ERR_INVALID and "graph is NULL"; the other getters return 0 / NULL for it. */
SL_API sl_status sl_graph_status(const sl_graph *g);
SL_API const char *sl_graph_errmsg(const sl_graph *g);
/** Copies the graph's error into err (if not NULL) and returns its status. */
SL_API sl_status sl_graph_take_error(const sl_graph *g, sl_error *err);
SL_API void sl_graph_clear_error(sl_graph *g);

/**
 * Backpropagates from a one-element tensor (the loss): its gradient is set
 * to 1 and the tape is walked in reverse.  Gradients of heap tensors
 * (parameters) accumulate across calls until zeroed; call once per step.
 * Errors: SL_ERR_SHAPE if loss has more than one element, SL_ERR_STATE if
 * the tape is empty or was already walked, SL_ERR_INVALID if loss is NULL
 * or was not made in this step.
 */
SL_API sl_status sl_backward(sl_graph *g, sl_tensor *loss);

/** Number of nodes on the tape now. */
SL_API size_t sl_graph_tape_length(const sl_graph *g);
/** Bytes the arena holds (capacity) and has handed out since the last reset. */
SL_API size_t sl_graph_arena_capacity(const sl_graph *g);
SL_API size_t sl_graph_arena_used(const sl_graph *g);

/**
 * A new zero-filled tensor in the arena, valid until the next reset.  For
 * batch inputs.  Returns NULL (error recorded in g) on a bad shape or OOM.
 */
SL_API sl_tensor *sl_graph_tensor(sl_graph *g, int ndim, const int64_t *shape);

/**
 * sl_graph_tensor filled with mean + std * N(0, 1) draws from the graph's generator
 * (sl_graph_rng), in row-major order: a GAN's latent batch, or any noise input.  The same
 * seed gives the same noise; it needs no gradient.  NULL (error recorded in g) as
 * sl_graph_tensor, and for a std below 0 or a mean or std that is not finite (SL_ERR_INVALID).
 */
SL_API sl_tensor *sl_graph_randn(sl_graph *g, int ndim, const int64_t *shape, float mean,
                                 float std);

#ifdef __cplusplus
}
#endif
#endif
