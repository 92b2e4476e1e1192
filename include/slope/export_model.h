/*
 * slope/export_model.h - a trained model's weights for PyTorch, and weights from it.
 *
 * (Not to be confused with slope/export.h, the SL_API visibility macro.)
 *
 * PyTorch: sl_export_torch writes the weights only, as safetensors, under the
 * names torch.nn.Sequential gives the same layers in the same order: layer i
 * of the config is module i of the Sequential (activations, pools, flatten and
 * dropout take an index too), so slope's "layers.3.weight" is "3.weight".
 * batch_norm is nn.BatchNorm1d/2d: "<i>.weight", "<i>.bias", "<i>.running_mean",
 * "<i>.running_var" and "<i>.num_batches_tracked"; prelu is nn.PReLU(1) or
 * nn.PReLU(channels): "<i>.weight".  model.load_state_dict(tensors, strict=True)
 * accepts the file.  sl_model_init_from reads such files back (or slope's own).
 *
 * ONNX: sl_export_onnx writes the model itself, normalisation included (below).
 */
#ifndef SLOPE_EXPORT_MODEL_H
#define SLOPE_EXPORT_MODEL_H

#include <stdint.h>

#include "slope/config.h"
#include "slope/error.h"
#include "slope/export.h"
#include "slope/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The model a checkpoint holds, built and loaded (sl_model_load).  The config
 * comes from config_path when it is not NULL, else from the checkpoint's
 * "config" metadata, which `slope train` checkpoints carry.  *cfg_out (may be
 * NULL) receives the config, for the caller to free with sl_config_free.
 * Errors: SL_ERR_INVALID (NULL checkpoint), SL_ERR_FORMAT (no config given and
 * the file has no "config" metadata: the message says to give one), those of
 * sl_safetensors_read, sl_config_load, sl_run_build_model and sl_model_load.
 */
SL_API sl_model *sl_checkpoint_model(const char *checkpoint, const char *config_path,
                                     sl_config **cfg_out, sl_error *err);

/** The PyTorch name of slope parameter name into buf: "layers.3.weight" -> "3.weight"
 *  (cut to size - 1 characters); returns buf, or NULL for a NULL name or buf or size 0. */
SL_API const char *sl_torch_name(const char *name, char *buf, size_t size);

/**
 * Writes m's parameters and buffers (no optimizer state), with PyTorch's
 * names (see above), to path atomically (as sl_safetensors_write does):
 * F32 tensors, plus an I64 scalar "<i>.num_batches_tracked" (0: slope does not
 * count them) per batch_norm layer.  The metadata holds "format": "pt" and the
 * input normalisation as sl_model_save writes it (slope.input_*).
 * Errors: SL_ERR_INVALID (NULL argument), SL_ERR_STATE (before sl_model_init),
 * SL_ERR_NOMEM, SL_ERR_IO (as sl_safetensors_write).
 */
SL_API sl_status sl_export_torch(const sl_model *m, const char *path, sl_error *err);

/**
 * Sets m's parameters and buffers from a weights file: each one is looked up
 * under slope's name ("layers.3.weight") and then PyTorch's ("3.weight"), so
 * sl_export_torch files, torch's own state_dict saved as safetensors, and
 * slope's checkpoints (their optim.* tensors are ignored) all load.  Every
 * tensor of the model must be there with its exact shape, and the file may
 * hold nothing else besides "optim.*" and batch_norm's "num_batches_tracked":
 * as torch's load_state_dict(strict=True).  All or nothing: on error m is
 * unchanged.  The input normalisation is not read (the run sets its own).
 * Errors: SL_ERR_INVALID (NULL argument), SL_ERR_STATE (before sl_model_init),
 * those of sl_safetensors_read (F32, F16, BF16, F64 and integer tensors load,
 * so torch's state_dict loads as saved, I64 num_batches_tracked and half
 * precision included), SL_ERR_FORMAT (a missing
 * tensor, or one the model has no place for: named), SL_ERR_SHAPE (a tensor of
 * another shape: "<path>: tensor 0.weight: expected [64, 2], found [64, 3]").
 */
SL_API sl_status sl_model_init_from(sl_model *m, const char *path, sl_error *err);

/* ---- ONNX ----------------------------------------------------------------------------
 *
 * sl_export_onnx writes the model as an ONNX ModelProto (ir_version 7, opset 13 of the
 * default domain) that takes RAW inputs, exactly as sl_predict does: the model's input
 * normalisation comes first as nodes (scale01: Mul by 1/255; standardize: Mul by 1/std,
 * then Add -mean/std; the float coefficients sl_normalize_values uses), then one group of
 * nodes per layer, with slope's evaluation semantics:
 *
 *   linear       Gemm (transB = 1; no C input without a bias)
 *   conv2d       Conv (kernel_shape, strides, pads on all four sides)
 *   max_pool2d   MaxPool
 *   avg_pool2d   AveragePool (count_include_pad = 1), after a Pad node with zeros when
 *                padding > 0 (slope divides by kernel^2, padding included; OpenCV ignores
 *                count_include_pad, explicit zeros every reader computes alike)
 *   flatten      Flatten (axis 1);  dropout  Identity
 *   batch_norm   BatchNormalization on the running statistics (epsilon = eps,
 *                momentum = 1 - momentum, ONNX weighing the running value)
 *   relu, sigmoid, tanh   Relu, Sigmoid, Tanh
 *   leaky_relu   LeakyRelu (alpha);  rrelu  LeakyRelu with alpha (lower + upper) / 2
 *   prelu        PRelu; the slope is [1] shared, [C, 1, 1] per channel of an image,
 *                [F] per feature
 *   elu, selu    Elu (alpha), Selu (alpha and gamma = SL_SELU_ALPHA, SL_SELU_SCALE)
 *   gelu         Mul, Erf, Add, Mul, Mul: x/2 (1 + erf(x / sqrt 2)) (no Gelu in opset 13)
 *   rnn          Transpose to time first, RNN (W [1, H, F], R [1, H, H], B [1, 2H] =
 *                b_ih then b_hh; activations Tanh, Relu, or LeakyRelu with activation_alpha),
 *                then Gather of the last step and Squeeze, or Squeeze and Transpose back
 *                for "sequence"; an rnn with the prelu activation is refused
 *                (SL_ERR_INVALID: ONNX's RNN has no learned slopes)
 *
 * The graph input is "input", [N, ...the model's sample shape] float; the output is
 * "logits", the last layer's output (what sl_predict writes to outputs: no softmax), or
 * "probabilities" after a Softmax on axis 1 with options.softmax.  Weights are
 * initializers under their PyTorch names ("3.weight", see above); node outputs are named
 * "layers.<i>.<Op>".  metadata_props hold slope.input_normalize / input_mean / input_std.
 */

/** Options of sl_export_onnx; NULL or zero-initialised for the defaults. */
typedef struct sl_onnx_options {
    int64_t batch; /**< the input's (and output's) first dimension: 0 = symbolic "N" (default) */
    int softmax;   /**< 1: end with Softmax over axis 1, output "probabilities"; 0: "logits" */
} sl_onnx_options;

/**
 * Writes m as ONNX (see above) to path, atomically (temporary file, then rename): on any
 * error nothing is written and an existing file at path is left as it was.  opts may be
 * NULL.  Every layer is checked before anything is written.
 * Errors: SL_ERR_INVALID (NULL m or path, batch < 0, softmax not 0 or 1, a layer ONNX
 * cannot express: "layer <i> (<type>): ...", or a model past protobuf's 2 GiB limit),
 * SL_ERR_STATE (a model with parameters before sl_model_init),
 * SL_ERR_UNSUPPORTED (slope built without ONNX support, -DSLOPE_ONNX=OFF: the message
 * says so), SL_ERR_NOMEM, SL_ERR_IO (as the atomic writer: the path named).
 */
SL_API sl_status sl_export_onnx(const sl_model *m, const sl_onnx_options *opts, const char *path,
                                sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
