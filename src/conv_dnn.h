/*
 * conv_dnn.h - conv2d forward and backward on oneDNN (built with SLOPE_ONEDNN).
 *
 * Which path conv2d takes is a process-wide switch: SLOPE_CONV=im2col|onednn in the
 * environment (read at the first convolution), or sl_conv_set_backend (tests).  The default
 * is onednn when slope is built with it.
 *
 * The batch is cut into parts of SL_DNN_PART images; each part is one single-threaded
 * oneDNN call (its OpenMP set to one thread) on one of slope's threads (parallel.h), so
 * results do not depend on the thread count.  A shorter last part (or batch) is copied
 * into a part-sized stage padded with zero images (which add nothing to dW and db), so
 * one set of primitives serves every batch size and a short batch allocates nothing.  oneDNN picks the layouts ("any"); reorders
 * bring slope's NCHW tensors and OIHW weights to them and back.  The primitives, reorders,
 * streams and memory objects of each shape are made once, at its first step, and kept in
 * the graph (sl_ag_cache); every buffer a step needs, oneDNN's scratchpads included
 * (user-managed), comes from the step's arena.  A shape oneDNN declines, or for which it has
 * only its reference implementation, and a batch below the minimum (SL_DNN_MIN_BATCH) run
 * on im2col instead.
 *
 * bf16 (sl_graph_set_precision): the same plans with bfloat16 for x, w and dy in oneDNN's
 * layouts (the reorders convert) and float32 for y, dx, dW and db.  A bf16 plan is kept only
 * when every one of its convolutions runs on a kernel for the CPU's own bf16 instructions
 * (avx512_bf16 or AMX, not oneDNN's emulation on older AVX-512); otherwise the fp32 plan of
 * the shape runs it.
 */
#ifndef SLOPE_CONV_DNN_H
#define SLOPE_CONV_DNN_H

#include <stdint.h>

#include "autograd.h"

#define SL_DNN_PART 8 /* images per oneDNN call: 16 ran no faster and its buffers are twice the size */
/* Batches below this run on im2col: padded to a part, they would cost oneDNN more. */
#define SL_DNN_MIN_BATCH (SL_DNN_PART / 2)

typedef enum sl_conv_backend { SL_CONV_IM2COL, SL_CONV_ONEDNN } sl_conv_backend;

/* The backend conv2d uses now; SLOPE_CONV decides at the first call.  An unknown value
 * of SLOPE_CONV means the default. */
sl_conv_backend sl_conv_backend_get(void);
/* Sets it for the whole process; SL_CONV_ONEDNN in a build without oneDNN means im2col.
 * Returns the backend now in force. */
sl_conv_backend sl_conv_set_backend(sl_conv_backend b);
/* 1 if this build has the oneDNN path. */
int sl_conv_dnn_built(void);
/* Sets the smallest batch oneDNN takes (>= 1; tests use 1 for the torch goldens' small
 * batches); returns the previous value. */
int sl_conv_dnn_set_min_batch(int n);
/* Forward convolutions oneDNN has run in this process, and of them in bf16 (for tests:
 * which path ran). */
uint64_t sl_conv_dnn_count(void);
uint64_t sl_conv_dnn_bf16_count(void);

/* One conv2d: x[N, C, H, W] * w[O, C, kh, kw] (+ b[O]) -> y[N, O, OH, OW]. */
typedef struct sl_dnn_conv_args {
    int N, C, H, W, O, kh, kw, stride, pad, OH, OW;
    const float *x, *w, *b; /* b may be NULL */
    float *y;
    int need_dx, need_dw; /* backward will want dx; dw or db */
    int bf16;             /* bf16 products when oneDNN has native bf16 kernels for them */
} sl_dnn_conv_args;

typedef struct sl_dnn_conv_saved sl_dnn_conv_saved; /* what backward needs (arena) */

/*
 * Runs the forward on oneDNN when the backend is onednn and oneDNN takes the shape:
 * returns 1, and with want_saved sets *saved to what sl_dnn_conv_backward needs (the arena
 * buffers for the need_* gradients are taken now).  Returns 0, nothing done, when im2col
 * must run it; -1 with an error recorded in g (out of memory, a failed oneDNN call).
 */
int sl_dnn_conv_forward(sl_graph *g, const sl_dnn_conv_args *a, int want_saved,
                        sl_dnn_conv_saved **saved);
/* ACCUMULATES dx (may be NULL), dw and db (either may be NULL) from dy, for the x and w the
 * forward saw.  A failed oneDNN call is recorded in the forward's graph. */
void sl_dnn_conv_backward(const sl_dnn_conv_saved *s, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db);

#endif
