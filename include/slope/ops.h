/*
 * slope/ops.h - differentiable operations.
 *
 * Every op takes the graph first, returns a new arena tensor (valid until
 * sl_graph_reset) and records a tape node when gradients are enabled and an
 * input requires a gradient.  On error an op returns NULL and records the
 * error in the graph (sl_graph_status / sl_graph_errmsg); an op given a NULL
 * input returns NULL without touching the recorded error, so chains need one
 * check at the end.  Inputs are never modified, except by the in-place ops
 * whose names end in an underscore.
 *
 * Shapes: features are [N, F]; images are [N, C, H, W].  "Per channel" means
 * dim 1 in both layouts.
 *
 * Arguments: a NULL graph or input tensor returns NULL (nothing recorded, as
 * above); NULL labels, shape or running statistics, a NaN or infinite slope
 * (alpha, lower, upper) or eps, and kernel/stride/padding that do not fit the
 * input (SL_ERR_SHAPE) are recorded errors.
 */
#ifndef SLOPE_OPS_H
#define SLOPE_OPS_H

#include <stdint.h>

#include "slope/export.h"
#include "slope/graph.h"
#include "slope/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the op kinds ------------------------------------------------------ */

/*
 * Every differentiable op, one X(KIND, name) each: the enum sl_op_kind and
 * the op table (src/ops_table.c: one row per kind, defined beside the op in
 * its src/ops_<family>.c file as sl_op_<name>_row) are both made from this
 * list, so they cannot disagree.  Adding an op: one entry here, its
 * declaration below, and its forward, backward, state struct and row in its
 * family file; tests/test_ops.c runs a gradient check for every kind and
 * fails for a kind without one.
 */
#define SL_OP_LIST(X)                                                                           \
    X(MATMUL, matmul)                                                                           \
    X(LINEAR, linear)                                                                           \
    X(CONV2D, conv2d)                                                                           \
    X(MAX_POOL2D, max_pool2d)                                                                   \
    X(AVG_POOL2D, avg_pool2d)                                                                   \
    X(RESHAPE, reshape)                                                                         \
    X(ADD, add)                                                                                 \
    X(MUL, mul)                                                                                 \
    X(DROPOUT, dropout)                                                                         \
    X(BATCH_NORM, batch_norm)                                                                   \
    X(LEAKY_RELU, leaky_relu)                 /* relu is leaky_relu with alpha 0 */             \
    X(LEAKY_RELU_INPLACE, leaky_relu_inplace) /* leaky_relu_ and relu_ */                       \
    X(PRELU, prelu)                                                                             \
    X(RRELU, rrelu)                           /* training; evaluation records leaky_relu */     \
    X(ELU, elu)                               /* elu and selu (a scale) */                      \
    X(SIGMOID, sigmoid)                                                                         \
    X(TANH, tanh)                                                                               \
    X(GELU, gelu)                                                                               \
    X(CROSS_ENTROPY, cross_entropy)                                                             \
    X(MSE, mse)                                                                                 \
    X(BCE_WITH_LOGITS, bce_with_logits)                                                         \
    X(RNN, rnn)                               /* Elman; last: older kinds keep numbers */

#define SL_OP_ENUM_ENTRY_(kind, name) SL_OP_##kind,
/** The kind of a tape node's op. */
typedef enum sl_op_kind { SL_OP_LIST(SL_OP_ENUM_ENTRY_) SL_OP_COUNT } sl_op_kind;
#undef SL_OP_ENUM_ENTRY_

/** The op's name ("conv2d", "leaky_relu_", ...), or "?" for a value that is not an op kind. */
SL_API const char *sl_op_name(sl_op_kind kind);

/* ---- products --------------------------------------------------------- */

/** a[M, K] @ b[K, N] -> [M, N]. */
SL_API sl_tensor *sl_matmul(sl_graph *g, sl_tensor *a, sl_tensor *b);

/** x[N, in] @ w[out, in]^T + b[out] -> [N, out]; b may be NULL. */
SL_API sl_tensor *sl_linear(sl_graph *g, sl_tensor *x, sl_tensor *w, sl_tensor *b);

/**
 * 2-D cross-correlation (as PyTorch's conv2d): x[N, C, H, W], w[O, C, kh, kw],
 * b[O] or NULL -> [N, O, OH, OW] with OH = (H + 2*pad - kh)/stride + 1.
 * stride >= 1, pad >= 0; SL_ERR_SHAPE if the output would be empty.
 */
SL_API sl_tensor *sl_conv2d(sl_graph *g, sl_tensor *x, sl_tensor *w, sl_tensor *b,
                            int stride, int pad);

/* ---- pooling (x[N, C, H, W]) ------------------------------------------ */

/**
 * Max over k x k windows; padding counts as -infinity.  Ties go to the first
 * maximum (row-major).  NaN as PyTorch: a window holding a NaN outputs NaN,
 * and backward routes its gradient to the window's last NaN (row-major), the
 * index torch's max_pool2d returns.
 */
SL_API sl_tensor *sl_max_pool2d(sl_graph *g, sl_tensor *x, int k, int stride, int pad);
/** Mean over k x k windows; padding counts as zeros in the mean (PyTorch's default).
 *  Both pools refuse (SL_ERR_SHAPE) k, stride < 1, pad < 0, pad > k / 2, a pad not smaller
 *  than H and W, and a kernel larger than the padded input (so 2^30 kernels never run). */
SL_API sl_tensor *sl_avg_pool2d(sl_graph *g, sl_tensor *x, int k, int stride, int pad);

/* ---- shape and elementwise -------------------------------------------- */

/** Same data, new shape (element counts must match).  No copy. */
SL_API sl_tensor *sl_reshape(sl_graph *g, sl_tensor *x, int ndim, const int64_t *shape);
/** [N, ...] -> [N, product of the rest]. */
SL_API sl_tensor *sl_flatten(sl_graph *g, sl_tensor *x);
/** a + b, same shapes. */
SL_API sl_tensor *sl_add(sl_graph *g, sl_tensor *a, sl_tensor *b);
/** a * b elementwise, same shapes. */
SL_API sl_tensor *sl_mul(sl_graph *g, sl_tensor *a, sl_tensor *b);
/**
 * Inverted dropout: in training mode each element is zeroed with
 * probability p and the rest scaled by 1/(1-p), drawn from the graph's rng;
 * in evaluation mode the identity.  0 <= p < 1.
 */
SL_API sl_tensor *sl_dropout(sl_graph *g, sl_tensor *x, float p);

/**
 * Batch normalisation over dim 1 of x[N, C] or x[N, C, H, W], as PyTorch's
 * batch_norm: in training mode normalises with the batch mean and biased
 * variance and updates running_mean/running_var (unbiased variance) with
 * running = (1 - momentum) * running + momentum * batch; in evaluation mode
 * uses the running statistics.  gamma, beta, running_mean, running_var have C
 * elements; gamma/beta may be NULL (1 and 0).  Training mode needs N*H*W > 1.
 */
SL_API sl_tensor *sl_batch_norm(sl_graph *g, sl_tensor *x, sl_tensor *gamma, sl_tensor *beta,
                                sl_tensor *running_mean, sl_tensor *running_var,
                                float momentum, float eps);

/* ---- activations -------------------------------------------------------- */

/**
 * max(x, 0); the gradient at x == 0 is 0.  As PyTorch's relu: 0 at -inf, NaN
 * at NaN, and backward is "x <= 0 ? 0 : dy", so a NaN input passes the
 * upstream gradient unchanged (and an infinite dy where x <= 0 gives 0).
 */
SL_API sl_tensor *sl_relu(sl_graph *g, sl_tensor *x);
/**
 * y = x if x > 0 else alpha * x; dy/dx = 1 if x > 0 else alpha (alpha at 0
 * and -0, and at NaN, as PyTorch's leaky_relu).  alpha == 0 is sl_relu,
 * with relu's NaN and -inf rule (torch's leaky_relu(x, 0.0) differs there).
 */
SL_API sl_tensor *sl_leaky_relu(sl_graph *g, sl_tensor *x, float alpha);
/**
 * In-place leaky ReLU: overwrites x and returns it.  Backward needs the
 * sign of y, which forward keeps as one bit per element (n / 8 bytes of the
 * arena), so alpha must be >= 0 (SL_ERR_INVALID otherwise) and backward reads
 * neither x nor y.  x must be an arena tensor made by an op this step,
 * consumed by nothing else before.
 */
SL_API sl_tensor *sl_leaky_relu_(sl_graph *g, sl_tensor *x, float alpha);
/** In-place ReLU (sl_leaky_relu_ with alpha 0). */
SL_API sl_tensor *sl_relu_(sl_graph *g, sl_tensor *x);
/**
 * PReLU: leaky ReLU whose slope is learnable.  alpha has 1 element (shared)
 * or C elements, one per channel (dim 1).  dL/dalpha_c = sum over elements
 * of channel c with x <= 0 of x * dL/dy.  At a NaN input, as PyTorch: dx gets
 * the slope (even a slope of 0) and dL/dalpha becomes NaN.
 */
SL_API sl_tensor *sl_prelu(sl_graph *g, sl_tensor *x, sl_tensor *alpha);
/**
 * Randomised leaky ReLU: in training mode each element's negative slope is
 * drawn uniformly from [lower, upper] (graph rng); in evaluation mode the
 * slope is (lower + upper) / 2.  0 <= lower <= upper.
 */
SL_API sl_tensor *sl_rrelu(sl_graph *g, sl_tensor *x, float lower, float upper);
/** x if x > 0 else alpha * (exp(x) - 1).  A NaN input's gradient is dy (and scale * dy for
 *  selu): the linear side, as PyTorch's elu_backward. */
SL_API sl_tensor *sl_elu(sl_graph *g, sl_tensor *x, float alpha);
/** scale * elu(x, alpha) with PyTorch's constants. */
SL_API sl_tensor *sl_selu(sl_graph *g, sl_tensor *x);
SL_API sl_tensor *sl_sigmoid(sl_graph *g, sl_tensor *x);
SL_API sl_tensor *sl_tanh(sl_graph *g, sl_tensor *x);
/** GELU, exact form as torch.nn.GELU(): x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)). */
SL_API sl_tensor *sl_gelu(sl_graph *g, sl_tensor *x);

#define SL_SELU_ALPHA 1.6732632423543772f
#define SL_SELU_SCALE 1.0507009873554805f

/* ---- losses (return a one-element tensor) ------------------------------- */

/**
 * Mean cross-entropy of logits[N, C] against integer labels (N of them, each
 * in [0, C); the labels are copied).  Log-softmax is computed stably.
 * SL_ERR_INVALID for a label out of range.
 */
SL_API sl_tensor *sl_cross_entropy(sl_graph *g, sl_tensor *logits, const int32_t *labels);
/**
 * Cross-entropy against smoothed targets, as torch.nn.CrossEntropyLoss(label_smoothing=eps):
 * the target of an example with label y is (1 - eps) onehot(y) + eps / C, so the loss is
 * (1 - eps) (-log p_y) + eps mean_c(-log p_c) and the gradient to the logits (p - target) / N.
 * eps = 0 is sl_cross_entropy exactly.  SL_ERR_INVALID for eps outside [0, 1) (or NaN).
 */
SL_API sl_tensor *sl_cross_entropy_smoothed(sl_graph *g, sl_tensor *logits,
                                            const int32_t *labels, float smoothing);
/** Mean of (pred - target)^2 over all elements; same shapes. */
SL_API sl_tensor *sl_mse(sl_graph *g, sl_tensor *pred, sl_tensor *target);
/**
 * Binary cross-entropy on logits, as torch.nn.BCEWithLogitsLoss (mean reduction): the mean
 * over all elements of max(x, 0) - x y + log(1 + exp(-|x|)), which is stable for any x
 * (no sigmoid is taken and then logged).  targets has logits' shape (per-element targets,
 * any real values; 0 and 1 for hard labels) or one element (the same target everywhere:
 * "real" = 1 and "fake" = 0 in a GAN).  Gradients: (sigmoid(x) - y) / n to the logits and
 * -x / n to targets that require one (-sum(x) / n to a single target).  SL_ERR_SHAPE for other target shapes.
 */
SL_API sl_tensor *sl_bce_with_logits(sl_graph *g, sl_tensor *logits, sl_tensor *targets);

/* ---- recurrence ---------------------------------------------------------- */

/** The nonlinearity of an Elman rnn (sl_rnn). */
typedef enum sl_rnn_act {
    SL_RNN_TANH,       /**< tanh, torch.nn.RNN's default */
    SL_RNN_RELU,       /**< max(x, 0) (the gradient at 0 is 0) */
    SL_RNN_LEAKY_RELU, /**< x > 0 ? x : alpha x, with leaky_relu's rule at 0 (slope alpha) */
    SL_RNN_PRELU       /**< leaky_relu with the learnable slope(s) of the slope tensor */
} sl_rnn_act;

/**
 * An Elman recurrence over x[N, T, F] (batch first), as torch.nn.RNN with
 * batch_first=True and h_0 = 0:
 *   pre_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh,   h_t = act(pre_t).
 * w_ih[H, F], w_hh[H, H]; b_ih, b_hh [H] or NULL; slope is read by
 * SL_RNN_PRELU only ([1] or [H] learnable slopes) and may be NULL otherwise;
 * alpha by SL_RNN_LEAKY_RELU only (finite).  sequence != 0 returns every
 * h_t as [N, T, H], else the last one, [N, H].  Backward is backprop through
 * the whole sequence; the pre-activations and hidden states are kept in the
 * graph's arena for it (no heap allocation).  pre (may be NULL) receives an
 * arena view of the pre-activations [N, T, H], valid until the graph's reset.
 * Errors: SL_ERR_SHAPE for shapes that do not fit, SL_ERR_INVALID for an
 * unknown act, a non-finite alpha, or prelu without a slope.
 */
SL_API sl_tensor *sl_rnn(sl_graph *g, sl_tensor *x, sl_tensor *w_ih, sl_tensor *w_hh,
                         sl_tensor *b_ih, sl_tensor *b_hh, sl_tensor *slope, sl_rnn_act act,
                         float alpha, int sequence, sl_tensor **pre);

#ifdef __cplusplus
}
#endif
#endif
