/*
 * test_dist.c - slope/dist.h as one process (every build), and the pieces
 * data-parallel steps stand on: per-rank shards of a global batch that
 * tile it exactly, and range views for sharded evaluation.  The multi-
 * process behaviour is tested under mpirun by tests/mpi_tests.cmake.
 */
#include <string.h>

#include "testutil.h"

#include "data_internal.h"

static void test_one_process(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_int_equal(sl_dist_init(NULL, NULL, &err), SL_OK);
    assert_int_equal(sl_dist_init(NULL, NULL, &err), SL_OK); /* twice is harmless */
    assert_int_equal(sl_dist_rank(), 0);
    assert_int_equal(sl_dist_size(), 1);
    assert_int_equal(sl_dist_any(0), 0);
    assert_int_equal(sl_dist_any(7), 1);
    assert_int_equal(sl_dist_agree(SL_OK, &err), SL_OK);
    sl_error_set(&err, SL_ERR_IO, "data.csv: cannot open");
    assert_int_equal(sl_dist_agree(SL_ERR_IO, &err), SL_ERR_IO);
    assert_string_equal(err.message, "data.csv: cannot open"); /* alone: no "rank 0: " */
    sl_dist_finalize();
    assert_int_equal(sl_dist_size(), 1);
}

/* For every batch of two epochs, the parts' shards concatenated are the whole batch. */
static void check_shards(int64_t count, int64_t batch, int parts, int drop_last)
{
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(1, (int)count, 0.2f, 3, &err);
    assert_non_null(ds);
    sl_batch_options bo = {batch, 1, 99, drop_last};
    sl_batch_iter *whole = sl_batch_iter_new(ds, &bo, &err), *part[4];
    assert_non_null(whole);
    for (int p = 0; p < parts; p++)
        assert_non_null(part[p] = sl_batch_iter_new(ds, &bo, &err));
    float x[2 * 64], xs[2 * 64];
    int32_t y[64], ys[64];
    for (int step = 0; step < 2 * (int)(sl_batch_iter_batches(whole) + 1); step++) {
        int64_t n = -1, at = 0;
        assert_int_equal(sl_batch_iter_next(whole, x, y, &n, &err), SL_OK);
        for (int p = 0; p < parts; p++) {
            int64_t ng = -1, np = -1;
            assert_int_equal(sl_batch_iter_next_part(part[p], p, parts, xs, ys, &ng, &np, &err),
                             SL_OK);
            assert_int_equal(ng, n);
            assert_int_equal(np, n * (p + 1) / parts - n * p / parts);
            assert_true(at + np <= n);
            if (np > 0) {
                assert_memory_equal(xs, x + 2 * at, (size_t)(2 * np) * sizeof(float));
                assert_memory_equal(ys, y + at, (size_t)np * sizeof(int32_t));
            }
            at += np;
        }
        assert_int_equal(at, n);
    }
    for (int p = 0; p < parts; p++)
        sl_batch_iter_free(part[p]);
    sl_batch_iter_free(whole);
    sl_dataset_free(ds);
}

static void test_shards_tile_the_global_batch(void **state)
{
    (void)state;
    check_shards(75, 32, 2, 0); /* 32, 32, then a partial 11 */
    check_shards(75, 32, 3, 0); /* 10/11/11 and 3/4/4 */
    check_shards(75, 32, 3, 1);
    check_shards(9, 2, 3, 0);   /* batches of 2 on 3 parts: an empty shard every step */
    check_shards(9, 2, 1, 0);   /* one part: exactly sl_batch_iter_next */
}

static void test_range_view(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 20, 0.2f, 1, &err);
    sl_dataset *train = NULL, *val = NULL;
    assert_int_equal(sl_dataset_split(ds, 0.25, 5, &train, &val, &err), SL_OK);
    sl_dataset *v = sl_data_range_view(train, 10, 5, &err); /* a view of an indexed view */
    assert_non_null(v);
    assert_int_equal(sl_dataset_count(v), 5);
    float a[10], b[10];
    int32_t la[5], lb[5];
    assert_int_equal(sl_dataset_read(v, 0, 5, a, la, &err), SL_OK);
    assert_int_equal(sl_dataset_read(train, 10, 5, b, lb, &err), SL_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(la, lb, sizeof la);
    assert_null(sl_data_range_view(train, 44, 2, &err)); /* 45 samples: 44..45 is outside */
    assert_int_equal(err.status, SL_ERR_INVALID);
    assert_null(sl_data_range_view(train, 0, 0, &err));
    sl_dataset_free(v);
    sl_dataset_free(train);
    sl_dataset_free(val);
    sl_dataset_free(ds);
}

static sl_model *small_model(void)
{
    sl_error err = {0};
    int64_t in = 2;
    sl_model *m = sl_model_new(1, &in, &err);
    sl_layer_spec lin = sl_layer_defaults(SL_LAYER_LINEAR), act = sl_layer_defaults(SL_LAYER_PRELU),
                  bn = sl_layer_defaults(SL_LAYER_BATCH_NORM), out = lin;
    lin.out = 16;
    out.out = 3;
    assert_int_equal(sl_model_add(m, &lin, &err), SL_OK);
    assert_int_equal(sl_model_add(m, &bn, &err), SL_OK);
    assert_int_equal(sl_model_add(m, &act, &err), SL_OK);
    assert_int_equal(sl_model_add(m, &out, &err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 5, &err), SL_OK);
    return m;
}

/* One process: a "distributed" trainer and evaluation are the plain ones, bit for bit. */
static void test_dist_trainer_alone_is_the_trainer(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 30, 0.2f, 1, &err);
    sl_model *a = small_model(), *b = small_model();
    sl_train_options o = sl_train_defaults();
    o.epochs = 3;
    o.batch_size = 16;
    o.optim = sl_optim_defaults(SL_OPTIM_ADAM);
    sl_trainer *ta = sl_trainer_new(a, ds, &o, &err), *tb = sl_trainer_new(b, ds, &o, &err);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_int_equal(sl_dist_trainer(tb, &err), SL_OK);
    assert_int_equal(sl_dist_trainer(NULL, &err), SL_ERR_INVALID);
    while (!sl_trainer_done(ta)) {
        sl_step_info ia, ib;
        assert_int_equal(sl_trainer_step(ta, &ia, &err), SL_OK);
        assert_int_equal(sl_trainer_step(tb, &ib, &err), SL_OK);
        assert_int_equal(ia.n, ib.n);
        assert_true(ia.loss == ib.loss);
    }
    int64_t n = 0, nb = 0;
    float *pa = sl_model_flat_params(a, &n), *pb = sl_model_flat_params(b, &nb);
    assert_int_equal(n, nb);
    assert_memory_equal(pa, pb, (size_t)n * sizeof(float));
    assert_int_equal(sl_dist_sync_buffers(b, &err), SL_OK);
    int64_t ca[9], cb[9];
    sl_eval_result ea = {.confusion = ca}, eb = {.confusion = cb};
    assert_int_equal(sl_evaluate(a, ds, 7, SL_LOSS_CROSS_ENTROPY, &ea, &err), SL_OK);
    assert_int_equal(sl_dist_evaluate(b, ds, 7, SL_LOSS_CROSS_ENTROPY, &eb, &err), SL_OK);
    assert_true(ea.loss == eb.loss);
    assert_true(ea.accuracy == eb.accuracy);
    assert_int_equal(ea.samples, eb.samples);
    assert_memory_equal(ca, cb, sizeof ca);
    sl_trainer_free(ta);
    sl_trainer_free(tb);
    sl_model_free(a);
    sl_model_free(b);
    sl_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_process),
        cmocka_unit_test(test_shards_tile_the_global_batch),
        cmocka_unit_test(test_range_view),
        cmocka_unit_test(test_dist_trainer_alone_is_the_trainer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
