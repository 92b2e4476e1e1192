/*
 * model_golden.h - checking models against tests/golden/model_reference.json (PyTorch's
 * logits, loss and gradients for small models, from tools/torch_model_reference.py).
 */
#ifndef SLOPE_MODEL_GOLDEN_H
#define SLOPE_MODEL_GOLDEN_H

/* Runs every case whose name starts with prefix ("residual_", "rnn_") and fails the
 * current test unless there are exactly expected of them and each matches torch. */
void tu_model_golden_check(const char *prefix, int expected);

#endif
