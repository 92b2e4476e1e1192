/*
 * alloc_test.c - a training step makes no heap allocation once warm.
 *
 * Linked with -Wl,--wrap=malloc,... so every allocation the library makes
 * passes through the counters below (allocations inside shared libraries such
 * as OpenBLAS are theirs, not slope's, and are not seen).
 */
#include <stdlib.h>

#include "testutil.h"

static long n_allocs;
static int counting;

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
int __real_posix_memalign(void **p, size_t align, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
int __wrap_posix_memalign(void **p, size_t align, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);

void *__wrap_malloc(size_t size)
{
    n_allocs += counting;
    return __real_malloc(size);
}
void *__wrap_calloc(size_t n, size_t size)
{
    n_allocs += counting;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t size)
{
    n_allocs += counting;
    return __real_realloc(p, size);
}
int __wrap_posix_memalign(void **p, size_t align, size_t size)
{
    n_allocs += counting;
    return __real_posix_memalign(p, align, size);
}
void *__wrap_aligned_alloc(size_t align, size_t size)
{
    n_allocs += counting;
    return __real_aligned_alloc(align, size);
}

typedef struct net {
    sl_tensor *conv_w, *conv_b, *bn_g, *bn_b, *bn_rm, *bn_rv, *alpha, *w1, *b1, *w2, *b2;
    sl_tensor *params[9];
} net;

static void net_init(net *m)
{
    int64_t cw[4] = {4, 1, 3, 3}, c4[1] = {4}, w1[2] = {16, 4 * 4 * 4}, b16[1] = {16},
            w2[2] = {3, 16}, b3[1] = {3};
    m->conv_w = tu_param_uniform(4, cw, -0.3f, 0.3f, 1);
    m->conv_b = tu_param_uniform(1, c4, -0.1f, 0.1f, 2);
    m->bn_g = tu_param_uniform(1, c4, 0.9f, 1.1f, 3);
    m->bn_b = tu_param_uniform(1, c4, -0.1f, 0.1f, 4);
    m->bn_rm = tu_tensor_uniform(1, c4, 0.0f, 0.0f, 5);
    m->bn_rv = tu_tensor_uniform(1, c4, 1.0f, 1.0f, 6);
    m->alpha = tu_param_uniform(1, b16, 0.25f, 0.25f, 7);
    m->w1 = tu_param_uniform(2, w1, -0.2f, 0.2f, 8);
    m->b1 = tu_param_uniform(1, b16, -0.1f, 0.1f, 9);
    m->w2 = tu_param_uniform(2, w2, -0.2f, 0.2f, 10);
    m->b2 = tu_param_uniform(1, b3, -0.1f, 0.1f, 11);
    sl_tensor *p[9] = {m->conv_w, m->conv_b, m->bn_g, m->bn_b, m->alpha, m->w1, m->b1, m->w2, m->b2};
    for (int i = 0; i < 9; i++)
        m->params[i] = p[i];
}

static void net_free(net *m)
{
    for (int i = 0; i < 9; i++)
        sl_tensor_free(m->params[i]);
    sl_tensor_free(m->bn_rm);
    sl_tensor_free(m->bn_rv);
}

/* One SGD step on a fixed batch; returns the loss. */
static float train_step(sl_graph *g, net *m, const float *images, const int32_t *labels)
{
    sl_graph_reset(g);
    int64_t xs[4] = {6, 1, 8, 8};
    sl_tensor *x = sl_graph_tensor(g, 4, xs);
    assert_non_null(x);
    for (int64_t i = 0; i < x->size; i++)
        x->data[i] = images[i];
    sl_tensor *h = sl_conv2d(g, x, m->conv_w, m->conv_b, 1, 1);
    h = sl_batch_norm(g, h, m->bn_g, m->bn_b, m->bn_rm, m->bn_rv, 0.1f, 1e-5f);
    h = sl_leaky_relu_(g, h, 0.01f);
    h = sl_max_pool2d(g, h, 2, 2, 0);
    h = sl_dropout(g, sl_flatten(g, h), 0.1f);
    h = sl_prelu(g, sl_linear(g, h, m->w1, m->b1), m->alpha);
    h = sl_linear(g, sl_elu(g, h, 1.0f), m->w2, m->b2);
    sl_tensor *loss = sl_cross_entropy(g, h, labels);
    if (!loss)
        fail_msg("forward: %s", sl_graph_errmsg(g));
    for (int i = 0; i < 9; i++)
        sl_tensor_zero_grad(m->params[i]);
    assert_int_equal(sl_backward(g, loss), SL_OK);
    for (int i = 0; i < 9; i++)
        for (int64_t j = 0; j < m->params[i]->size; j++)
            m->params[i]->data[j] -= 0.05f * m->params[i]->grad[j];
    return loss->data[0];
}

static void test_steady_state_step_allocates_nothing(void **state)
{
    (void)state;
    net m;
    net_init(&m);
    float images[6 * 64];
    int32_t labels[6] = {0, 1, 2, 0, 1, 2};
    sl_rng rng;
    sl_rng_seed(&rng, 3);
    for (int i = 0; i < 6 * 64; i++)
        images[i] = sl_rng_uniform(&rng);
    sl_error err = {0};
    sl_graph *g = sl_graph_new(7, &err);
    assert_non_null(g);

    float first = train_step(g, &m, images, labels); /* warms the arena and parameter grads */
    counting = 1;
    n_allocs = 0;
    float last = first;
    for (int step = 0; step < 20; step++)
        last = train_step(g, &m, images, labels);
    counting = 0;
    assert_int_equal(n_allocs, 0);
    assert_true(last < first); /* the steps did real work */

    sl_graph_free(g);
    net_free(&m);
}

/* The counter itself works: a first step (cold arena) must allocate. */
static void test_cold_step_is_counted(void **state)
{
    (void)state;
    net m;
    net_init(&m);
    float images[6 * 64] = {0};
    int32_t labels[6] = {0, 1, 2, 0, 1, 2};
    sl_error err = {0};
    sl_graph *g = sl_graph_new(7, &err);
    counting = 1;
    n_allocs = 0;
    train_step(g, &m, images, labels);
    counting = 0;
    assert_true(n_allocs > 0);
    sl_graph_free(g);
    net_free(&m);
}

/* Arena reuse: a step that outgrows the arena merges blocks, then stays in one. */
static void test_arena_merges_and_reuses(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_graph *g = sl_graph_new(1, &err);
    int64_t big[1] = {600000}; /* 2.4 MB per tensor: several 1 MiB-min blocks */
    for (int i = 0; i < 3; i++)
        assert_non_null(sl_graph_tensor(g, 1, big));
    size_t used = sl_graph_arena_used(g);
    sl_graph_reset(g);
    assert_int_equal(sl_graph_arena_used(g), 0);
    assert_true(sl_graph_arena_capacity(g) >= used);
    counting = 1;
    n_allocs = 0;
    for (int i = 0; i < 3; i++)
        assert_non_null(sl_graph_tensor(g, 1, big));
    counting = 0;
    assert_int_equal(n_allocs, 0);
    sl_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_state_step_allocates_nothing),
        cmocka_unit_test(test_cold_step_is_counted),
        cmocka_unit_test(test_arena_merges_and_reuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
