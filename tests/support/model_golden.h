/*
 * model_golden.h - checking whole models: against tests/golden/model_reference.json
 * (PyTorch's logits, loss and gradients for small models, from
 * tools/torch_model_reference.py) and against finite differences.
 */
#ifndef SLOPE_MODEL_GOLDEN_H
#define SLOPE_MODEL_GOLDEN_H

/* Runs every case whose name starts with prefix ("residual_", "rnn_") and fails the
 * current test unless there are exactly expected of them and each matches torch. */
void tu_model_golden_check(const char *prefix, int expected);

#include <stdint.h>

#include "slope/nn.h"

/* sl_model_init with kaiming_uniform and seed; fails the test on an error. */
void tu_model_init(sl_model *m, uint64_t seed);
/* The tensor of m's parameter name; fails the test when there is none. */
const sl_tensor *tu_model_param(const sl_model *m, const char *name);
/* Every trainable parameter of m and the input x against central differences of the
 * model's output (buffers such as running statistics are left out). */
void tu_model_gradcheck(sl_model *m, sl_tensor *x);

#endif
