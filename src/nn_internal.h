/* nn_internal.h - what the nn files share. */
#ifndef SLOPE_NN_INTERNAL_H
#define SLOPE_NN_INTERNAL_H

#include <stddef.h>

#include "slope/nn.h"

/* The shape of one sample: [F] or [C, H, W]. */
typedef struct sl_shape {
    int ndim;
    int64_t dim[3];
} sl_shape;

/* Validates spec (filling derived defaults such as a pool's stride) and infers the output
 * shape; errors name "layer <index> (<type>)". */
sl_status sl_nn_layer_prepare(sl_layer_spec *spec, int index, const sl_shape *in, sl_shape *out,
                              sl_error *err);
char *sl_nn_shape_str(const sl_shape *s, char *buf, size_t size);
/* The init gain for a weight followed by activation act (NULL: none). */
double sl_nn_gain_for(const sl_layer_spec *act);
/* Multiply-adds per sample. */
int64_t sl_nn_layer_macs(const sl_layer_spec *s, const sl_shape *in, const sl_shape *out);



#include "slope/graph.h"
/* Runs x through the model without recording and returns the index of the first layer
 * whose output holds a NaN or Inf: -2 if the input does, -1 if none does. */
int sl_nn_first_nonfinite_layer(sl_model *m, sl_graph *g, sl_tensor *x);
#endif
