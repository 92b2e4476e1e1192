/*
 * slope/slope.h - the whole public API of libslope.
 *
 * slope is a small neural-network training framework: tensors, a tape
 * autograd, differentiable ops (Leaky ReLU and PReLU first among them),
 * layers, optimizers, data loaders and checkpoints.
 */
#ifndef SLOPE_SLOPE_H
#define SLOPE_SLOPE_H

#include "slope/export.h"
#include "slope/error.h"
#include "slope/rng.h"
#include "slope/tensor.h"
#include "slope/graph.h"
#include "slope/ops.h"
#include "slope/nn.h"
#include "slope/optim.h"
#include "slope/data.h"
#include "slope/io.h"
#include "slope/config.h"
#include "slope/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version, e.g. "0.1.0". */
SL_API const char *sl_version(void);

#ifdef __cplusplus
}
#endif
#endif
