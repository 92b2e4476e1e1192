/*
 * test_classifier_score.c - sl_classifier_score on a classifier whose logits
 * are its inputs (a 3x3 identity linear layer): confident, evenly used classes
 * score the class count, one class or no confidence scores 1, and random
 * inputs give what a double-precision computation here gives; batching does
 * not change it; bad arguments are refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define C 3

static sl_model *identity_classifier(void)
{
    sl_error err = {0};
    int64_t in = C;
    sl_model *m = sl_model_new(1, &in, &err);
    sl_layer_spec lin = sl_layer_defaults(SL_LAYER_LINEAR);
    lin.out = C;
    assert_int_equal(sl_model_add(m, &lin, &err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 1, &err), SL_OK);
    float *w = sl_model_find_param(m, "layers.0.weight")->tensor->data;
    float *b = sl_model_find_param(m, "layers.0.bias")->tensor->data;
    for (int i = 0; i < C * C; i++)
        w[i] = i % (C + 1) == 0 ? 1.0f : 0.0f;
    memset(b, 0, C * sizeof *b);
    return m;
}

/* The score computed here in double, from the logits themselves. */
static double reference_score(const float *x, int n)
{
    double p[64][C], pbar[C] = {0};
    for (int i = 0; i < n; i++) {
        double max = x[i * C], sum = 0.0;
        for (int k = 1; k < C; k++)
            max = fmax(max, x[i * C + k]);
        for (int k = 0; k < C; k++)
            sum += (p[i][k] = exp(x[i * C + k] - max));
        for (int k = 0; k < C; k++) {
            p[i][k] /= sum;
            pbar[k] += p[i][k] / n;
        }
    }
    double kl = 0.0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < C; k++)
            kl += p[i][k] * log(p[i][k] / pbar[k]);
    return exp(kl / n);
}

static void test_limits_and_reference(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_model *m = identity_classifier();
    float x[60 * C];
    double score = 0.0;
    for (int i = 0; i < 60; i++) /* confident, each class a third of the time */
        for (int k = 0; k < C; k++)
            x[i * C + k] = k == i % C ? 40.0f : 0.0f;
    assert_int_equal(sl_classifier_score(m, x, 60, 7, &score, &err), SL_OK);
    assert_float_equal(score, 3.0, 1e-4);
    for (int i = 0; i < 60; i++) /* confident, always class 1 */
        for (int k = 0; k < C; k++)
            x[i * C + k] = k == 1 ? 40.0f : 0.0f;
    assert_int_equal(sl_classifier_score(m, x, 60, 7, &score, &err), SL_OK);
    assert_float_equal(score, 1.0, 1e-6);
    memset(x, 0, sizeof x); /* no confidence at all */
    assert_int_equal(sl_classifier_score(m, x, 60, 60, &score, &err), SL_OK);
    assert_float_equal(score, 1.0, 1e-6);
    sl_rng r;
    sl_rng_seed(&r, 3);
    for (int i = 0; i < 60 * C; i++)
        x[i] = 3.0f * sl_rng_normal(&r);
    double want = reference_score(x, 60), one_batch, small_batches;
    assert_int_equal(sl_classifier_score(m, x, 60, 60, &one_batch, &err), SL_OK);
    assert_int_equal(sl_classifier_score(m, x, 60, 1, &small_batches, &err), SL_OK);
    print_message("random logits: score %.6f (reference %.6f)\n", one_batch, want);
    assert_float_equal(one_batch, want, 1e-5 * want);
    assert_float_equal(small_batches, one_batch, 1e-12);
    assert_true(want > 1.2 && want < 3.0);
    assert_int_equal(sl_classifier_score(m, x, 0, 8, &score, &err), SL_ERR_INVALID);
    assert_int_equal(sl_classifier_score(m, x, 8, 0, &score, &err), SL_ERR_INVALID);
    sl_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_and_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
