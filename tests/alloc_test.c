/*
 * alloc_test.c - a training step makes no heap allocation once warm.
 *
 * Reads the library's own counters (slope/alloc.h): every block libslope
 * allocates passes through its one allocation path, so no malloc
 * interposition is needed (allocations inside OpenBLAS, cJSON or libc are
 * theirs, not slope's, and are not seen).  Checked at the graph level (a
 * hand-written CNN step) and through the trainer (an MLP, a CNN and a residual model,
 * across an epoch boundary; the CNN also with data.augment's crop and flip), plus: a
 * cold step is counted, the arena merges and reuses, a statistics report and an evaluation
 * in the trainer's graph allocate nothing either, and sl_set_allocator's functions are the
 * ones called.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Allocations the library made since the last sl_alloc_reset. */
static uint64_t allocs_since_reset(void)
{
    sl_alloc_stats s;
    sl_alloc_counters(&s);
    return s.allocs + s.failures;
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
    sl_alloc_reset();
    float last = first;
    for (int step = 0; step < 20; step++)
        last = train_step(g, &m, images, labels);
    assert_int_equal(allocs_since_reset(), 0);
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
    sl_alloc_reset();
    train_step(g, &m, images, labels);
    assert_true(allocs_since_reset() > 0);
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
    sl_alloc_reset();
    for (int i = 0; i < 3; i++)
        assert_non_null(sl_graph_tensor(g, 1, big));
    assert_int_equal(allocs_since_reset(), 0);
    sl_graph_free(g);
}


/* ---- through the trainer --------------------------------------------------------------- */

static sl_model *mlp_model(void)
{
    sl_error err = {0};
    int64_t in = 2;
    sl_model *m = sl_model_new(1, &in, &err);
    assert_non_null(m);
    sl_layer_spec lin = sl_layer_defaults(SL_LAYER_LINEAR), act = sl_layer_defaults(SL_LAYER_PRELU),
                  drop = sl_layer_defaults(SL_LAYER_DROPOUT), out = lin;
    lin.out = 32;
    out.out = 3;
    drop.p = 0.1f;
    const sl_layer_spec *layers[] = {&lin, &act, &drop, &lin, &act, &out};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        assert_int_equal(sl_model_add(m, layers[i], &err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 5, &err), SL_OK);
    return m;
}

static sl_model *cnn_model(void)
{
    sl_error err = {0};
    int64_t in[3] = {1, 8, 8};
    sl_model *m = sl_model_new(3, in, &err);
    assert_non_null(m);
    sl_layer_spec conv = sl_layer_defaults(SL_LAYER_CONV2D), bn = sl_layer_defaults(SL_LAYER_BATCH_NORM),
                  act = sl_layer_defaults(SL_LAYER_LEAKY_RELU),
                  pool = sl_layer_defaults(SL_LAYER_MAX_POOL2D),
                  flat = sl_layer_defaults(SL_LAYER_FLATTEN), lin = sl_layer_defaults(SL_LAYER_LINEAR);
    conv.out = 4;
    conv.kernel = 3;
    conv.padding = 1;
    pool.kernel = 2;
    lin.out = 3;
    const sl_layer_spec *layers[] = {&conv, &bn, &act, &pool, &flat, &lin};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        assert_int_equal(sl_model_add(m, layers[i], &err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 6, &err), SL_OK);
    return m;
}

/* warm steps, then `steps` more (crossing epoch ends) that must allocate nothing. */
static void check_trainer_steps_with(sl_model *m, const sl_dataset *ds, const char *what,
                                     sl_augment_spec augment)
{
    sl_error err = {0};
    sl_train_options o = sl_train_defaults();
    o.augment = augment;
    o.epochs = 100;
    o.batch_size = 16;
    o.optim = sl_optim_defaults(SL_OPTIM_ADAM);
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    assert_non_null(t);
    sl_step_info info;
    for (int i = 0; i < 3; i++)
        assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    sl_alloc_reset();
    int epoch_ends = 0;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
        epoch_ends += info.n == 0;
    }
    uint64_t n = allocs_since_reset();
    print_message("%s: %llu library allocations in 40 warm steps\n", what, (unsigned long long)n);
    assert_int_equal(n, 0);
    assert_true(epoch_ends >= 1); /* the epoch boundary was crossed */
    sl_trainer_free(t);
}

static void check_trainer_steps(sl_model *m, const sl_dataset *ds, const char *what)
{
    check_trainer_steps_with(m, ds, what, (sl_augment_spec){0, 0, 0.0f});
}

static void test_trainer_mlp_step_allocates_nothing(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 60, 0.2f, 1, &err); /* 180 points: 12 batches */
    assert_non_null(ds);
    sl_model *m = mlp_model();
    check_trainer_steps(m, ds, "mlp");
    sl_model_free(m);
    sl_dataset_free(ds);
}

/* 100 random [1, 8, 8] images of 3 classes, drawn from seed (the arrays are the caller's
 * static storage: one dataset at a time). */
static sl_dataset *random_images(uint64_t seed)
{
    enum { COUNT = 100 };
    static float images[COUNT * 64];
    static int32_t labels[COUNT];
    sl_rng rng;
    sl_rng_seed(&rng, seed);
    for (int i = 0; i < COUNT * 64; i++)
        images[i] = sl_rng_uniform(&rng);
    for (int i = 0; i < COUNT; i++)
        labels[i] = i % 3;
    sl_error err = {0};
    int64_t shape[3] = {1, 8, 8};
    sl_dataset *ds = sl_dataset_from_arrays(images, labels, COUNT, 3, shape, 3, &err);
    assert_non_null(ds);
    return ds;
}

static void test_trainer_cnn_step_allocates_nothing(void **state)
{
    (void)state;
    sl_dataset *ds = random_images(9);
    sl_model *m = cnn_model();
    check_trainer_steps(m, ds, "cnn");
    /* Crop and flip on every batch: the scratch image is the trainer's, made once. */
    check_trainer_steps_with(m, ds, "cnn, augmented", (sl_augment_spec){1, 2, 0.5f});
    sl_model_free(m);
    sl_dataset_free(ds);
}

/* [1, 8, 8]: conv, relu, a downsampling projection block (conv stride 2, batch_norm,
 * leaky_relu, a nested identity block of conv and relu), relu, flatten, linear. */
static sl_model *residual_model(void)
{
    sl_error err = {0};
    int64_t in[3] = {1, 8, 8};
    sl_model *m = sl_model_new(3, in, &err);
    assert_non_null(m);
    sl_layer_spec conv = sl_layer_defaults(SL_LAYER_CONV2D), relu = sl_layer_defaults(SL_LAYER_RELU),
                  block = sl_layer_defaults(SL_LAYER_RESIDUAL), proj = block,
                  bn = sl_layer_defaults(SL_LAYER_BATCH_NORM),
                  leaky = sl_layer_defaults(SL_LAYER_LEAKY_RELU),
                  flat = sl_layer_defaults(SL_LAYER_FLATTEN), lin = sl_layer_defaults(SL_LAYER_LINEAR);
    conv.out = 4;
    conv.padding = 1;
    sl_layer_spec down = conv;
    down.stride = 2;
    proj.shortcut = 1;
    lin.out = 3;
    /* NULL closes the innermost block. */
    const sl_layer_spec *layers[] = {&conv, &relu, &proj, &down, &bn, &leaky, &block, &conv,
                                     &relu, NULL, NULL, &relu, &flat, &lin};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        assert_int_equal(layers[i] ? sl_model_add(m, layers[i], &err) : sl_model_end_block(m, &err),
                         SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 7, &err), SL_OK);
    return m;
}

static void test_trainer_residual_step_allocates_nothing(void **state)
{
    (void)state;
    sl_dataset *ds = random_images(10);
    sl_model *m = residual_model();
    check_trainer_steps(m, ds, "residual");
    sl_model_free(m);
    sl_dataset_free(ds);
}

/* [8, 8] (each [1, 8, 8] image read as 8 rows of 8): an rnn returning every state (relu,
 * identity init), an rnn returning the last (prelu per unit, orthogonal init), linear. */
static sl_model *rnn_model(void)
{
    sl_error err = {0};
    int64_t in[2] = {8, 8};
    sl_model *m = sl_model_new(2, in, &err);
    assert_non_null(m);
    sl_layer_spec seq = sl_layer_defaults(SL_LAYER_RNN), last = seq,
                  lin = sl_layer_defaults(SL_LAYER_LINEAR);
    seq.out = 6;
    seq.act = SL_RNN_RELU;
    seq.recurrent_init = 1;
    seq.sequence = 1;
    last.out = 5;
    last.act = SL_RNN_PRELU;
    last.per_channel = 1;
    last.recurrent_init = 2;
    lin.out = 3;
    const sl_layer_spec *layers[] = {&seq, &last, &lin};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        assert_int_equal(sl_model_add(m, layers[i], &err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 8, &err), SL_OK);
    return m;
}

static void test_trainer_rnn_step_allocates_nothing(void **state)
{
    (void)state;
    sl_dataset *ds = random_images(11);
    sl_model *m = rnn_model();
    check_trainer_steps(m, ds, "rnn");
    sl_model_free(m);
    sl_dataset_free(ds);
}

/*
 * What a run does between steps, in the trainer's graph: a dying-neuron report at the
 * training batch (sl_stats_share_graph) and an evaluation (sl_trainer_evaluate) allocate
 * nothing once a step has grown the arena, and the steps after them allocate nothing either.
 */
static void test_report_and_evaluation_between_steps_allocate_nothing(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = random_images(11);
    sl_model *m = cnn_model();
    sl_train_options o = sl_train_defaults();
    o.epochs = 100;
    o.batch_size = 16;
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    sl_stats *st = sl_stats_new(m, ds, o.batch_size, o.loss, &err);
    assert_non_null(t);
    assert_non_null(st);
    assert_int_equal(sl_stats_share_graph(st, sl_trainer_graph(t), &err), SL_OK);
    sl_step_info info;
    sl_eval_result res = {0};
    assert_int_equal(sl_stats_measure(st, 0, 0, &err), SL_OK); /* a run's first, before any step */
    for (int i = 0; i < 3; i++)
        assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    size_t capacity = sl_graph_arena_capacity(sl_trainer_graph(t));
    sl_alloc_reset();
    for (int round = 0; round < 3; round++) {
        assert_int_equal(sl_stats_measure(st, round, sl_trainer_steps(t), &err), SL_OK);
        assert_int_equal(sl_trainer_evaluate(t, ds, &res, &err), SL_OK);
        for (int i = 0; i < 5; i++)
            assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    }
    uint64_t n = allocs_since_reset();
    print_message("reports, evaluations and steps: %llu library allocations\n",
                  (unsigned long long)n);
    assert_int_equal(n, 0);
    assert_int_equal(sl_graph_arena_capacity(sl_trainer_graph(t)), capacity);
    assert_int_equal(res.samples, 100);
    sl_stats_free(st);
    sl_trainer_free(t);
    sl_model_free(m);
    sl_dataset_free(ds);
}

/* ---- sl_set_allocator ------------------------------------------------------------------ */

/* A counting allocator over the C library's: a header keeps each block's size. */
typedef struct user_heap {
    long mallocs, reallocs, aligned, frees, live;
} user_heap;

#define HEADER 64 /* keeps every alignment up to 64 of the blocks handed out */

static void *user_malloc(void *user, size_t n)
{
    user_heap *h = user;
    unsigned char *base = NULL;
    if (posix_memalign((void **)&base, HEADER, n + HEADER) != 0)
        return NULL;
    memcpy(base, &n, sizeof n);
    h->mallocs++;
    h->live++;
    return base + HEADER;
}

static size_t user_size(void *user, void *p)
{
    (void)user;
    size_t n;
    memcpy(&n, (unsigned char *)p - HEADER, sizeof n);
    return n;
}

static void user_free(void *user, void *p)
{
    user_heap *h = user;
    h->frees++;
    h->live--;
    free((unsigned char *)p - HEADER);
}

static void *user_realloc(void *user, void *p, size_t n)
{
    user_heap *h = user;
    void *q = user_malloc(user, n);
    if (!q)
        return NULL;
    size_t old = user_size(user, p);
    memcpy(q, p, old < n ? old : n);
    user_free(user, p);
    h->mallocs--, h->frees--; /* counted as one realloc */
    h->reallocs++;
    return q;
}

static void *user_aligned(void *user, size_t align, size_t n)
{
    user_heap *h = user;
    if (align > HEADER)
        return NULL;
    void *p = user_malloc(user, n);
    if (p) {
        h->mallocs--;
        h->aligned++;
    }
    return p;
}

static void test_user_allocator_is_used(void **state)
{
    (void)state;
    sl_error err = {0};
    user_heap heap = {0};
    sl_allocator a = {&heap, user_malloc, user_realloc, user_free, user_aligned, user_size};
    sl_allocator half = a;
    half.free = NULL;
    assert_int_equal(sl_set_allocator(&half, &err), SL_ERR_INVALID);

    sl_alloc_stats before;
    sl_alloc_counters(&before);
    assert_int_equal(before.live, 0); /* nothing of slope's is alive yet */
    assert_int_equal(sl_set_allocator(&a, &err), SL_OK);

    sl_dataset *ds = sl_dataset_spiral(3, 20, 0.2f, 1, &err);
    sl_model *m = mlp_model();
    sl_train_options o = sl_train_defaults();
    o.batch_size = 16;
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    assert_non_null(t);
    sl_step_info info;
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    assert_true(heap.mallocs > 0); /* the trainer's own blocks */
    assert_true(heap.aligned > 0); /* the step arena's */
    sl_alloc_stats during;
    sl_alloc_counters(&during);
    assert_true(during.live > 0);
    assert_true(during.bytes > 0);
    assert_true(during.peak_bytes >= during.bytes);
    /* Blocks are alive: the allocator cannot change under them. */
    assert_int_equal(sl_set_allocator(NULL, &err), SL_ERR_STATE);
    print_message("  %s\n", err.message);

    sl_trainer_free(t);
    sl_model_free(m);
    sl_dataset_free(ds);
    sl_alloc_stats after;
    sl_alloc_counters(&after);
    assert_int_equal(heap.live, 0); /* what the library took from it, it gave back */
    assert_int_equal((long long)after.live, 0);
    assert_int_equal(after.bytes, 0);
    assert_int_equal(sl_set_allocator(NULL, &err), SL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First: sl_set_allocator needs a library holding no block. */
        cmocka_unit_test(test_user_allocator_is_used),
        cmocka_unit_test(test_steady_state_step_allocates_nothing),
        cmocka_unit_test(test_cold_step_is_counted),
        cmocka_unit_test(test_arena_merges_and_reuses),
        cmocka_unit_test(test_trainer_mlp_step_allocates_nothing),
        cmocka_unit_test(test_trainer_cnn_step_allocates_nothing),
        cmocka_unit_test(test_trainer_residual_step_allocates_nothing),
        cmocka_unit_test(test_trainer_rnn_step_allocates_nothing),
        cmocka_unit_test(test_report_and_evaluation_between_steps_allocate_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
