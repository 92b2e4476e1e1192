/*
 * export_onnx.c - sl_export_onnx (slope/export_model.h): the arguments, then the graph
 * (export_onnx_nodes.c), packed by protobuf-c (export_onnx_proto.c) straight into the
 * atomic writer, so a failure at any point leaves no file behind.  A build without
 * protobuf-c (SLOPE_ONNX off) keeps the function and says so.
 */
#include "guard.h"
#include "slope/export_model.h"

#ifdef SLOPE_HAVE_ONNX
#include "export_onnx_internal.h"
#include "io_internal.h"

typedef struct atomic_sink {
    sl_io_atomic *file;
    sl_error *err;
} atomic_sink;

static int write_atomic(void *ctx, const uint8_t *bytes, size_t n)
{
    atomic_sink *s = ctx;
    return sl_io_atomic_write(s->file, bytes, n, s->err) != SL_OK;
}

/* Every layer is checked before anything is built or the file is touched. */
static sl_status check_layers(const sl_model *m, sl_error *err)
{
    for (size_t i = 0; i < sl_model_num_layers(m); i++)
        if (sl_onnx_layer_check(sl_model_layer(m, i), (int)i, err) != SL_OK)
            return err->status;
    return SL_OK;
}

static sl_status write_file(sl_onnx_graph *g, const sl_model *m, const sl_onnx_options *o,
                            const char *path, sl_error *err)
{
    sl_io_atomic f;
    if (sl_io_atomic_open(&f, path, NULL, err) != SL_OK)
        return err->status;
    atomic_sink sink = {&f, err};
    const char *output = o->softmax ? SL_ONNX_PROBABILITIES : SL_ONNX_LOGITS;
    if (sl_onnx_write_model(g, m, o->batch, output, write_atomic, &sink, path, err) != SL_OK) {
        sl_io_atomic_abort(&f);
        return err->status;
    }
    return sl_io_atomic_commit(&f, err);
}

static sl_status export_model(const sl_model *m, const sl_onnx_options *o, const char *path,
                              sl_error *err)
{
    size_t max_nodes = 4 + sl_model_num_layers(m) * sl_onnx_max_nodes_per_layer();
    sl_onnx_graph g;
    sl_status s = sl_onnx_graph_init(&g, max_nodes, err);
    if (s == SL_OK)
        s = sl_onnx_build_nodes(&g, m, o->softmax, err);
    if (s == SL_OK)
        s = write_file(&g, m, o, path, err);
    sl_onnx_graph_free(&g);
    return s;
}
#endif

/* Its parameters are allocated (sl_model_init) if it has any: a model of activations only
 * has nothing to wait for. */
static int initialised(const sl_model *m)
{
    int64_t declared = 0;
    for (size_t i = 0; i < sl_model_num_layers(m); i++)
        declared += sl_model_layer_param_count(m, i);
    return declared == 0 || sl_model_num_params(m) > 0;
}

sl_status sl_export_onnx(const sl_model *m, const sl_onnx_options *opts, const char *path,
                         sl_error *err)
{
    sl_error local = {0};
    if (!err)
        err = &local;
    SL_GUARD(m, err);
    SL_GUARD(path, err);
    sl_onnx_options o = opts ? *opts : (sl_onnx_options){0};
    if (o.batch < 0)
        return sl_error_set(err, SL_ERR_INVALID,
                            "sl_export_onnx: batch must be 0 (any) or a size, got %lld",
                            (long long)o.batch);
    if (o.softmax != 0 && o.softmax != 1)
        return sl_error_set(err, SL_ERR_INVALID, "sl_export_onnx: softmax must be 0 or 1, got %d",
                            o.softmax);
#ifdef SLOPE_HAVE_ONNX
    if (check_layers(m, err) != SL_OK) /* first: the other checks read the layer table */
        return err->status;
#endif
    if (!initialised(m))
        return sl_error_set(err, SL_ERR_STATE, "sl_export_onnx: the model is not initialised");
#ifdef SLOPE_HAVE_ONNX
    return export_model(m, &o, path, err);
#else
    return sl_error_set(err, SL_ERR_UNSUPPORTED,
                        "%s: slope was built without ONNX support (configure with "
                        "-DSLOPE_ONNX=ON; it needs protoc-c, libprotobuf-c and onnx.proto: "
                        "Debian protobuf-c-compiler, libprotobuf-c-dev, libonnx-dev)",
                        path);
#endif
}
