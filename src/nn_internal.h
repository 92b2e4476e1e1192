/* nn_internal.h - what the nn files share.
 *
 *   nn_layers.c     the layer table: one sl_layer_def row per type, and the rows' hooks
 *   nn_layer_def.c  reading the table: lookup, defaults, key values, validation
 *   nn_layer_text.c the table as text: short activation specs, the markdown reference
 *   nn_model.c      the sequential model, driven by the rows
 *   nn_rnn.c        the rnn row's hooks: shapes, forward and capture, its init
 */
#ifndef SLOPE_NN_INTERNAL_H
#define SLOPE_NN_INTERNAL_H

#include <stddef.h>

#include "slope/graph.h"
#include "slope/nn.h"

/* The shape of one sample: [F] or [C, H, W]. */
typedef sl_sample_shape sl_shape;

/* nn_layers.c: the rows, indexed by type (SL_LAYER_TYPE_COUNT of them). */
extern const sl_layer_def sl_nn_layer_table[];

/* A key's value in spec, as a double; and the reverse (rounding is the caller's business). */
double sl_nn_key_value(const sl_layer_spec *spec, const sl_layer_key *k);
void sl_nn_key_set(sl_layer_spec *spec, const sl_layer_key *k, double v);
/* Whether v is a value of key k: in range, integral for integer kinds, finite for floats.
 * When not, writes "must be in [0, 1), got 2" (the config's wording) into msg. */
int sl_nn_key_accepts(const sl_layer_key *k, double v, char *msg, size_t size);
/* The range of k as text: "[0, 1)", "> 0", "1 to 4096", "" for none. */
const char *sl_nn_key_range_text(const sl_layer_key *k, char *buf, size_t size);
/* The key of d named name, or NULL. */
const sl_layer_key *sl_nn_key_find(const sl_layer_def *d, const char *name);

/* Validates spec (filling derived defaults such as a pool's stride) and infers the output
 * shape; errors name "layer <label> (<type>)", label "3" or "3.layers.1" in a block. */
sl_status sl_nn_layer_prepare(sl_layer_spec *spec, const char *label, const sl_shape *in,
                              sl_shape *out, sl_error *err);
char *sl_nn_shape_str(const sl_shape *s, char *buf, size_t size);
/* The init gain for a weight followed by activation act (NULL: none). */
double sl_nn_gain_for(const sl_layer_spec *act);
/* Multiply-adds per sample. */
int64_t sl_nn_layer_macs(const sl_layer_spec *s, const sl_shape *in, const sl_shape *out);

/* nn_rnn.c: the rnn row's hooks (see sl_layer_def). */
struct sl_rng;
const char *sl_nn_rnn_check(sl_layer_spec *s, unsigned given, char *msg, size_t size);
const char *sl_nn_rnn_shape(const sl_layer_spec *s, const sl_shape *in, sl_shape *out);
int sl_nn_rnn_param(const sl_layer_spec *s, int k, const sl_shape *in, int64_t *shape);
int64_t sl_nn_rnn_macs(const sl_layer_spec *s, const sl_shape *in, const sl_shape *out);
sl_tensor *sl_nn_rnn_forward(sl_graph *g, const sl_layer_spec *s, sl_tensor *x,
                             sl_tensor *const *p, int in_place);
sl_tensor *sl_nn_rnn_forward_capture(sl_graph *g, const sl_layer_spec *s, sl_tensor *x,
                                     sl_tensor *const *p, sl_tensor **pre, sl_tensor **post);
sl_layer_type sl_nn_rnn_activation(const sl_layer_spec *s);
void sl_nn_rnn_fill(const sl_layer_spec *s, int k, sl_tensor *t, struct sl_rng *r);
/* Sets an rnn's activation to act's (tanh, relu, leaky_relu with its alpha, prelu with its
 * slopes): what `slope compare --act` does to rnn layers.  SL_ERR_CONFIG for another type. */
sl_status sl_nn_rnn_set_activation(sl_layer_spec *rnn, const sl_layer_spec *act, sl_error *err);

/* Whether ds feeds m (what training, evaluation and prediction check): as
 * sl_dataset_check_input says, except that a model whose first layer is an rnn reads its
 * input [T, F] as a sequence and so takes any samples of T * F values, row-major as T steps
 * of F: [1, 28, 28] images as 28 rows of 28 pixels.  The only reshape beyond the data's. */
sl_status sl_nn_check_data_input(const sl_model *m, const sl_dataset *ds, sl_error *err);

/*
 * A watcher of the activation layers as forward runs (the dying-neuron statistics): fn(user,
 * i, x, 0) sees activation layer i's input x just before the activation runs, fn(user, i, y,
 * 1) its output.  Activations still run in place where forward would run them (unlike
 * capture), so a watched forward needs no more memory than an unwatched one: y may be x
 * itself, its values overwritten; either way, after backward x->grad holds the gradient at
 * the layer's input (an in-place activation turns its output's gradient into it).  fn NULL:
 * off.  m is not checked.
 */
typedef void (*sl_nn_watch_fn)(void *user, size_t layer, const sl_tensor *t, int output);
void sl_nn_set_watch(sl_model *m, sl_nn_watch_fn fn, void *user);

/* Runs x through the model without recording and returns the index of the first layer
 * whose output holds a NaN or Inf: -2 if the input does, -1 if none does. */
int sl_nn_first_nonfinite_layer(sl_model *m, sl_graph *g, sl_tensor *x);
#endif
