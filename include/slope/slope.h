/*
 * slope/slope.h - the whole public API of libslope.
 *
 * slope is a small neural-network training framework: tensors, a tape
 * autograd, differentiable ops (Leaky ReLU and PReLU first among them),
 * layers, optimizers, data loaders and checkpoints.
 *
 * Link with `pkg-config --cflags --libs slope` or CMake's
 * find_package(slope) + target slope::slope (libslope.a: slope::slope_static,
 * `pkg-config --static`).  The headers work from C11 and C++ (extern "C").
 *
 * Where to look, in the order most programs need it:
 *   run.h     what `slope train CONFIG` does, in one call: sl_run_new_file,
 *             sl_run_train (datasets, model, trainer, evaluation, metrics,
 *             checkpoints, statistics, a clean stop from a callback)
 *   compare.h what `slope compare` does: one config per activation, from
 *             shared initial weights, with dying-neuron reports
 *   nn.h      build a model in code: sl_model_new, sl_model_add, sl_model_init;
 *             the layer table (sl_layer_def_of)
 *   config.h  or from a JSON config file or string: sl_config_load,
 *             sl_config_build_model
 *   data.h    datasets over caller arrays without copying
 *             (sl_dataset_from_arrays), IDX/CSV files, batch iterators
 *   train.h   the trainer (sl_trainer_new, sl_trainer_run_epoch),
 *             sl_evaluate, sl_predict, sl_model_save / sl_model_load
 *   predict.h what `slope predict` does: a checkpoint's predictions on IDX, CSV,
 *             PNG and PGM files (sl_predictor_open, sl_predict_dataset)
 *   graph.h, ops.h, optim.h
 *             the step-level API for custom loops: sl_model_forward,
 *             sl_loss, sl_backward, sl_optimizer_step, sl_graph_reset
 *   stats.h   dying-neuron statistics
 *   dist.h    data-parallel training over MPI processes (mpirun -np N)
 *   io.h      safetensors files;  tensor.h, rng.h  the building blocks
 *   alloc.h   the library's allocation counters and an allocator of your own
 *   error.h   the one error model: an sl_status return (NULL for
 *             constructors) plus an optional sl_error with a readable message
 *
 * Thread safety: the library has no global mutable state of its own;
 * separate models (with their graphs, trainers and optimizers) may be used
 * from separate threads at the same time, but one model and everything
 * attached to it is used by one thread at a time.  Two process-wide
 * exceptions: sl_set_num_threads sets OpenBLAS's thread count for everyone,
 * and cJSON's parser keeps its last error in a global, so parse configs from
 * one thread at a time (config.h).  dist.h's rank and communicator are
 * process-wide, as MPI's own state is.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_SLOPE_H
#define SLOPE_SLOPE_H

#include "slope/export.h"
#include "slope/alloc.h"
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
#include "slope/stats.h"
#include "slope/dist.h"
#include "slope/run.h"
#include "slope/compare.h"
#include "slope/export_model.h"
#include "slope/predict.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version, e.g. "0.1.0". */
SL_API const char *sl_version(void);

#ifdef __cplusplus
}
#endif
#endif
