/*
 * test_two_models.c - what a loop of one's own with two models needs (a GAN):
 * a frozen model passes the gradient to its input and leaves its own
 * parameters and gradients alone, the other model's gradient unchanged by the
 * freezing; a model saved with its optimizer resumes bit for bit; such a file
 * is checked before anything is copied.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* in -> linear(hidden) -> leaky_relu -> linear(out) */
static sl_model *mlp(int64_t in, int64_t hidden, int64_t out, uint64_t seed)
{
    sl_error err = {0};
    sl_model *m = sl_model_new(1, &in, &err);
    assert_non_null(m);
    sl_layer_spec a = sl_layer_defaults(SL_LAYER_LINEAR), act = sl_layer_defaults(SL_LAYER_LEAKY_RELU),
                  b = a;
    a.out = hidden;
    b.out = out;
    act.alpha = 0.2f;
    assert_int_equal(sl_model_add(m, &a, &err), SL_OK);
    assert_int_equal(sl_model_add(m, &act, &err), SL_OK);
    assert_int_equal(sl_model_add(m, &b, &err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, seed, &err), SL_OK);
    return m;
}

static sl_optimizer *adam_for(sl_model *m)
{
    sl_error err = {0};
    sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_ADAM);
    spec.lr = 0.01f;
    spec.beta1 = 0.5f;
    sl_optimizer *o = sl_optimizer_new(sl_model_param(m, 0), sl_model_num_params(m), &spec, &err);
    assert_non_null(o);
    return o;
}

/* The generator step: D(G(z)) against "real", backward, gradients left in the models. */
static float generator_step(sl_model *gen, sl_model *disc, uint64_t seed)
{
    sl_graph *g = sl_graph_new(seed, NULL);
    int64_t zshape[2] = {8, 3}, one = 1;
    sl_tensor *z = sl_graph_randn(g, 2, zshape, 0.0f, 1.0f);
    sl_tensor *real = sl_graph_tensor(g, 1, &one);
    real->data[0] = 1.0f;
    sl_tensor *loss = sl_bce_with_logits(g, sl_model_forward(disc, g, sl_model_forward(gen, g, z)), real);
    assert_non_null(loss);
    assert_int_equal(sl_backward(g, loss), SL_OK);
    float value = loss->data[0];
    sl_graph_free(g);
    return value;
}

static int all_zero(const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (v[i] != 0.0f)
            return 0;
    return 1;
}

static void test_frozen_model_passes_the_gradient(void **state)
{
    (void)state;
    sl_model *gen = mlp(3, 16, 5, 1), *disc = mlp(5, 16, 1, 2);
    int64_t ng, nd;
    float *gg = sl_model_flat_grads(gen, &ng), *dg = sl_model_flat_grads(disc, &nd);
    assert_int_equal(sl_model_trainable(disc), 1);
    float loss_on = generator_step(gen, disc, 9);
    float *want = malloc((size_t)ng * sizeof *want);
    memcpy(want, gg, (size_t)ng * sizeof *want);
    assert_false(all_zero(dg, nd)); /* trainable: D got gradients too */

    sl_model_zero_grad(gen);
    sl_model_zero_grad(disc);
    sl_model_set_trainable(disc, 0);
    assert_int_equal(sl_model_trainable(disc), 0);
    int64_t np;
    float *dp = sl_model_flat_params(disc, &np);
    float *before = malloc((size_t)np * sizeof *before);
    memcpy(before, dp, (size_t)np * sizeof *before);
    float loss_off = generator_step(gen, disc, 9);
    assert_true(loss_on == loss_off);
    assert_memory_equal(gg, want, (size_t)ng * sizeof *want); /* G's gradient: the same */
    assert_false(all_zero(gg, ng));
    assert_true(all_zero(dg, nd)); /* D's: none */
    sl_optimizer *og = adam_for(gen);
    sl_error err = {0};
    assert_int_equal(sl_optimizer_step(og, 0.01f, &err), SL_OK);
    assert_memory_equal(dp, before, (size_t)np * sizeof *before); /* D untouched */
    sl_model_set_trainable(disc, 1);
    assert_int_equal(sl_model_trainable(disc), 1);
    assert_int_equal(sl_model_trainable(NULL), 0);
    sl_model_set_trainable(NULL, 1);
    free(before);
    free(want);
    sl_optimizer_free(og);
    sl_model_free(gen);
    sl_model_free(disc);
}

/* n generator steps of G alone (D frozen), each followed by an Adam step. */
static void train_steps(sl_model *gen, sl_model *disc, sl_optimizer *og, int first, int n)
{
    sl_error err = {0};
    for (int s = first; s < first + n; s++) {
        sl_model_zero_grad(gen);
        generator_step(gen, disc, 100 + (uint64_t)s);
        assert_int_equal(sl_optimizer_step(og, 0.01f, &err), SL_OK);
    }
}

static void test_saved_with_optimizer_resumes_exactly(void **state)
{
    (void)state;
    sl_error err = {0};
    char path[] = "/tmp/slope_two_models_XXXXXX";
    close(mkstemp(path));
    sl_model *disc = mlp(5, 16, 1, 2);
    sl_model_set_trainable(disc, 0);
    sl_model *a = mlp(3, 16, 5, 1);
    sl_optimizer *oa = adam_for(a);
    train_steps(a, disc, oa, 0, 3);
    sl_kv meta[1] = {{"epoch", "3"}};
    assert_int_equal(sl_model_save_with_optimizer(a, oa, path, meta, 1, &err), SL_OK);
    train_steps(a, disc, oa, 3, 2);

    sl_model *b = mlp(3, 16, 5, 77); /* other weights until loaded */
    sl_optimizer *ob = adam_for(b);
    assert_int_equal(sl_model_load_with_optimizer(b, ob, path, &err), SL_OK);
    assert_int_equal(sl_optimizer_steps(ob), 3);
    train_steps(b, disc, ob, 3, 2);
    int64_t n;
    const float *pa = sl_model_flat_params(a, &n); /* n is set before it is used */
    assert_memory_equal(pa, sl_model_flat_params(b, NULL), (size_t)n * sizeof(float));
    sl_safetensors *st = sl_safetensors_read(path, &err);
    assert_non_null(st);
    assert_string_equal(sl_safetensors_metadata(st, "epoch"), "3");
    sl_safetensors_free(st);

    /* Refused, with nothing changed: another optimizer, a plain model file, another shape. */
    sl_optim_spec sgd = sl_optim_defaults(SL_OPTIM_SGD);
    sl_optimizer *os = sl_optimizer_new(sl_model_param(b, 0), sl_model_num_params(b), &sgd, &err);
    assert_int_equal(sl_model_load_with_optimizer(b, os, path, &err), SL_ERR_FORMAT);
    assert_non_null(strstr(err.message, "saved with optimizer \"adam\""));
    assert_int_equal(sl_model_save(b, path, NULL, 0, &err), SL_OK);
    assert_int_equal(sl_model_load_with_optimizer(b, ob, path, &err), SL_ERR_FORMAT);
    assert_non_null(strstr(err.message, "slope-model-1"));
    sl_model *c = mlp(3, 8, 5, 1);
    sl_optimizer *oc = adam_for(c);
    assert_int_equal(sl_model_save_with_optimizer(a, oa, path, NULL, 0, &err), SL_OK);
    float first = sl_model_flat_params(c, NULL)[0];
    assert_int_equal(sl_model_load_with_optimizer(c, oc, path, &err), SL_ERR_SHAPE);
    assert_true(sl_model_flat_params(c, NULL)[0] == first);
    assert_int_equal(sl_model_load_with_optimizer(c, oc, "/nonexistent/x.safetensors", &err),
                     SL_ERR_READ);
    remove(path);
    sl_optimizer_free(oa);
    sl_optimizer_free(ob);
    sl_optimizer_free(oc);
    sl_optimizer_free(os);
    sl_model_free(a);
    sl_model_free(b);
    sl_model_free(c);
    sl_model_free(disc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frozen_model_passes_the_gradient),
        cmocka_unit_test(test_saved_with_optimizer_resumes_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
