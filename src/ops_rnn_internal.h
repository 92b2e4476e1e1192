/* ops_rnn_internal.h - what the rnn layer (nn_rnn.c) needs of the sl_rnn op beyond
 * slope/ops.h: the states kept for backward, for the statistics' capture. */
#ifndef SLOPE_OPS_RNN_INTERNAL_H
#define SLOPE_OPS_RNN_INTERNAL_H

#include "slope/ops.h"

/* sl_rnn, also giving *pre, the pre-activations [N, T, H] whose grad is dl/dpre once
 * backward has run (zero before; NULL without gradients), and *hidden, every state
 * h_t [N, T, H].  Both are arena views valid until the graph's reset. */
sl_tensor *sl_rnn_capture(sl_graph *g, sl_tensor *x, sl_tensor *w_ih, sl_tensor *w_hh,
                          sl_tensor *b_ih, sl_tensor *b_hh, sl_tensor *slope, sl_rnn_act act,
                          float alpha, int sequence, sl_tensor **pre, sl_tensor **hidden);
#endif
