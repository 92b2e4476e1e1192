/*
 * example.c - use libslope from C.
 *
 * Builds a small MLP with a Leaky ReLU and a PReLU layer in code, trains it
 * on the caller's own arrays, saves it, loads the file into a fresh model
 * and predicts with both.  Exits 0 when the loss fell, the model learned
 * the task and the reloaded model predicts exactly what the trained one did.
 *
 * This is the program of the README's "Use slope from C" section; CI builds
 * it against an installed slope with pkg-config and with CMake, shared and
 * static (tests/consumer/build.sh), and runs it.
 *
 *     cc example.c -o example $(pkg-config --cflags --libs slope)
 *     ./example [checkpoint]          (default: xor_mlp.safetensors)
 */
#include <stdio.h>
#include <string.h>

#include <slope/slope.h>

#define N_TRAIN 512
#define N_TEST 256

/* The task: points in [-1, 1]^2; class 1 where x and y have the same sign. */
static void make_xor(float *x, int32_t *y, int n, uint64_t seed)
{
    sl_rng rng;
    sl_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) {
        float a = 2.0f * sl_rng_uniform(&rng) - 1.0f;
        float b = 2.0f * sl_rng_uniform(&rng) - 1.0f;
        x[2 * i] = a;
        x[2 * i + 1] = b;
        y[i] = (a > 0.0f) == (b > 0.0f);
    }
}

/* 2 -> linear 32 -> leaky_relu(0.05) -> linear 32 -> prelu (one slope per unit) -> linear 2 */
static sl_model *build_mlp(sl_error *err)
{
    const int64_t input[1] = {2}; /* the shape of one sample */
    sl_model *m = sl_model_new(1, input, err);
    if (!m)
        return NULL;

    sl_layer_spec hidden = sl_layer_defaults(SL_LAYER_LINEAR);
    hidden.out = 32;
    sl_layer_spec leaky = sl_layer_defaults(SL_LAYER_LEAKY_RELU);
    leaky.alpha = 0.05f;
    sl_layer_spec prelu = sl_layer_defaults(SL_LAYER_PRELU);
    prelu.per_channel = 1; /* a learnable slope per unit, starting at 0.25 */
    sl_layer_spec out = sl_layer_defaults(SL_LAYER_LINEAR);
    out.out = 2;

    const sl_layer_spec *layers[] = {&hidden, &leaky, &hidden, &prelu, &out};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        if (sl_model_add(m, layers[i], err) != SL_OK) {
            sl_model_free(m);
            return NULL;
        }
    }
    return m;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "xor_mlp.safetensors";
    static float x_train[N_TRAIN * 2], x_test[N_TEST * 2];
    static int32_t y_train[N_TRAIN], y_test[N_TEST];
    static float out_trained[N_TEST * 2], out_loaded[N_TEST * 2];
    const int64_t sample_shape[1] = {2};
    sl_error err = {0};
    int status = 1;
    sl_model *model = NULL, *loaded = NULL;
    sl_dataset *train = NULL, *test = NULL;
    sl_trainer *trainer = NULL;

    printf("slope %s\n", sl_version());
    make_xor(x_train, y_train, N_TRAIN, 1);
    make_xor(x_test, y_test, N_TEST, 2);

    /* Datasets over our arrays: not copied, so the arrays must outlive them. */
    train = sl_dataset_from_arrays(x_train, y_train, N_TRAIN, 1, sample_shape, 2, &err);
    test = train ? sl_dataset_from_arrays(x_test, y_test, N_TEST, 1, sample_shape, 2, &err) : NULL;
    if (!test)
        goto fail;

    model = build_mlp(&err);
    if (!model || sl_model_init(model, SL_INIT_KAIMING_UNIFORM, 42, &err) != SL_OK)
        goto fail;

    sl_train_options opt = sl_train_defaults();
    opt.epochs = 40;
    opt.batch_size = 32;
    opt.seed = 7;
    opt.optim = sl_optim_defaults(SL_OPTIM_ADAM);
    opt.optim.lr = 0.01f;
    trainer = sl_trainer_new(model, train, &opt, &err);
    if (!trainer)
        goto fail;

    double first_loss = 0.0, last_loss = 0.0;
    while (!sl_trainer_done(trainer)) {
        sl_epoch_result r;
        if (sl_trainer_run_epoch(trainer, NULL, NULL, &r, &err) != SL_OK)
            goto fail;
        if (r.epoch == 0)
            first_loss = r.loss;
        last_loss = r.loss;
        if (r.epoch == 0 || (r.epoch + 1) % 10 == 0)
            printf("epoch %2d  loss %.4f  accuracy %5.1f%%\n", r.epoch + 1, r.loss,
                   100.0 * r.accuracy);
    }

    sl_eval_result ev = {0};
    if (sl_evaluate(model, test, 64, SL_LOSS_CROSS_ENTROPY, &ev, &err) != SL_OK)
        goto fail;
    printf("test: loss %.4f  accuracy %.1f%% on %lld points\n", ev.loss, 100.0 * ev.accuracy,
           (long long)ev.samples);

    /* The PReLU slopes are parameters like any other: layer 3's "weight". */
    const sl_param *slopes = sl_model_find_param(model, "layers.3.weight");
    if (!slopes)
        goto fail;
    float lo = slopes->tensor->data[0], hi = lo;
    for (int64_t i = 1; i < slopes->tensor->size; i++) {
        float a = slopes->tensor->data[i];
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    printf("prelu slopes after training: min %.3f  max %.3f\n", lo, hi);

    /* Save the parameters, then load them into a freshly built model. */
    const sl_kv meta[] = {{"task", "xor"}};
    if (sl_model_save(model, path, meta, 1, &err) != SL_OK)
        goto fail;
    loaded = build_mlp(&err);
    if (!loaded || sl_model_init(loaded, SL_INIT_KAIMING_UNIFORM, 0, &err) != SL_OK ||
        sl_model_load(loaded, path, &err) != SL_OK)
        goto fail;
    printf("saved to %s and loaded into a new model\n", path);

    /* Both models on the test points: the outputs (logits) must be identical. */
    if (sl_predict(model, x_test, N_TEST, out_trained, NULL, &err) != SL_OK ||
        sl_predict(loaded, x_test, N_TEST, out_loaded, NULL, &err) != SL_OK)
        goto fail;

    /* The reloaded model on one point per quadrant: classes 1, 0, 1, 0. */
    const float corners[4 * 2] = {0.5f, 0.5f, -0.5f, 0.5f, -0.5f, -0.5f, 0.5f, -0.5f};
    const int32_t expected[4] = {1, 0, 1, 0};
    int32_t predicted[4];
    if (sl_predict(loaded, corners, 4, NULL, predicted, &err) != SL_OK)
        goto fail;

    status = 0;
    for (int i = 0; i < 4; i++) {
        printf("predict (%+.1f, %+.1f) -> class %d\n", corners[2 * i], corners[2 * i + 1],
               (int)predicted[i]);
        if (predicted[i] != expected[i]) {
            fprintf(stderr, "FAIL: expected class %d\n", (int)expected[i]);
            status = 1;
        }
    }
    if (!(last_loss < 0.5 * first_loss)) {
        fprintf(stderr, "FAIL: the loss did not fall enough (%.4f -> %.4f)\n", first_loss,
                last_loss);
        status = 1;
    }
    if (ev.accuracy < 0.9) {
        fprintf(stderr, "FAIL: test accuracy %.3f is below 0.9\n", ev.accuracy);
        status = 1;
    }
    if (memcmp(out_trained, out_loaded, sizeof out_trained) != 0) {
        fprintf(stderr, "FAIL: the reloaded model predicts differently\n");
        status = 1;
    }
    if (status == 0)
        printf("ok\n");
    goto done;

fail:
    fprintf(stderr, "example: %s: %s\n", sl_status_name(err.status), err.message);
    status = 1;
done:
    sl_trainer_free(trainer);
    sl_model_free(loaded);
    sl_model_free(model);
    sl_dataset_free(test);
    sl_dataset_free(train);
    return status;
}
