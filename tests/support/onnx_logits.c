/*
 * onnx_logits.c - slope's outputs on raw inputs, for tests/scripts/onnx_roundtrip.py to
 * compare with what ONNX runtimes compute from `slope export --onnx`.
 *
 *   onnx_logits CHECKPOINT CONFIG|- INPUTS.f32 OUTPUTS.f32
 *
 * INPUTS.f32 holds N samples of the model's input shape as little-endian float32 RAW values
 * (0..255 for images, as the dataset stores them); OUTPUTS.f32 receives N rows of the model's
 * output, the same way: sl_predict's outputs, which apply the checkpoint's input
 * normalisation first and no softmax.  CONFIG "-" uses the checkpoint's own config.
 */
#include <stdio.h>
#include <stdlib.h>

#include "slope/slope.h"

static int64_t elements(const sl_model *m, int layer)
{
    int64_t shape[4], n = 1;
    int ndim = sl_model_layer_shape(m, layer, shape);
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    return n;
}

/* The whole file into *n floats (malloc'd), NULL on error. */
static float *read_floats(const char *path, int64_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0)
        return NULL;
    long bytes = ftell(f);
    rewind(f);
    float *x = bytes > 0 ? malloc((size_t)bytes) : NULL;
    if (x && fread(x, 1, (size_t)bytes, f) != (size_t)bytes) {
        free(x);
        x = NULL;
    }
    fclose(f);
    *n = bytes / (long)sizeof(float);
    return x;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: onnx_logits CHECKPOINT CONFIG|- INPUTS.f32 OUTPUTS.f32\n");
        return 2;
    }
    sl_error err = {0};
    const char *config = argv[2][0] == '-' && !argv[2][1] ? NULL : argv[2];
    sl_model *m = sl_checkpoint_model(argv[1], config, NULL, &err);
    int64_t count = 0;
    float *x = m ? read_floats(argv[3], &count) : NULL;
    int64_t in = m ? elements(m, -1) : 1, n = count / in;
    int64_t out = m ? elements(m, (int)sl_model_num_layers(m) - 1) : 0;
    float *y = x && n > 0 && count % in == 0 ? malloc((size_t)(n * out) * sizeof *y) : NULL;
    int rc = 1;
    if (!m || !y)
        fprintf(stderr, "onnx_logits: %s\n", m ? "cannot read the inputs" : err.message);
    else if (sl_predict(m, x, n, y, NULL, &err) != SL_OK)
        fprintf(stderr, "onnx_logits: %s\n", err.message);
    else {
        FILE *f = fopen(argv[4], "wb");
        rc = !f || fwrite(y, sizeof *y, (size_t)(n * out), f) != (size_t)(n * out);
        rc |= f && fclose(f) != 0;
        if (rc)
            fprintf(stderr, "onnx_logits: cannot write %s\n", argv[4]);
    }
    free(x);
    free(y);
    sl_model_free(m);
    return rc;
}
