/*
 * test_train.c - the trainer end to end on the built-in spiral: it learns,
 * resumes bit for bit, checkpoints round-trip, NaNs stop it with a message,
 * evaluation and prediction agree, and a checkpoint that does not fit is
 * refused without touching the model or the trainer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static sl_model *spiral_model(const char *act, int dropout)
{
    sl_error err = {0};
    int64_t in = 2;
    sl_model *m = sl_model_new(1, &in, &err);
    sl_layer_type t;
    assert_int_equal(sl_layer_type_parse(act, &t, &err), SL_OK);
    sl_layer_spec lin = sl_layer_defaults(SL_LAYER_LINEAR), a = sl_layer_defaults(t),
                  drop = sl_layer_defaults(SL_LAYER_DROPOUT), out = lin;
    lin.out = 64;
    out.out = 3;
    drop.p = 0.1f;
    assert_int_equal(sl_model_add(m, &lin, &err), SL_OK);
    assert_int_equal(sl_model_add(m, &a, &err), SL_OK);
    if (dropout)
        assert_int_equal(sl_model_add(m, &drop, &err), SL_OK);
    assert_int_equal(sl_model_add(m, &lin, &err), SL_OK);
    assert_int_equal(sl_model_add(m, &a, &err), SL_OK);
    assert_int_equal(sl_model_add(m, &out, &err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 11, &err), SL_OK);
    return m;
}

static sl_train_options spiral_options(int epochs)
{
    sl_train_options o = sl_train_defaults();
    o.epochs = epochs;
    o.batch_size = 32;
    o.optim = sl_optim_defaults(SL_OPTIM_ADAM);
    o.optim.lr = 0.01f;
    return o;
}

static void test_spiral_learns(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 100, 0.2f, 1, &err);
    assert_non_null(ds);
    sl_model *m = spiral_model("leaky_relu", 0);
    sl_train_options o = spiral_options(150);
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    assert_non_null(t);
    sl_epoch_result r;
    while (!sl_trainer_done(t))
        assert_int_equal(sl_trainer_run_epoch(t, NULL, NULL, &r, &err), SL_OK);
    sl_eval_result ev = {0};
    assert_int_equal(sl_evaluate(m, ds, 64, SL_LOSS_CROSS_ENTROPY, &ev, &err), SL_OK);
    print_message("spiral: train accuracy %.2f%% after %d epochs\n", 100 * ev.accuracy, 150);
    assert_true(ev.accuracy >= 0.97);
    assert_int_equal(sl_trainer_steps(t), 150 * 10); /* 300 points / 32 = 10 batches */
    assert_int_equal(sl_trainer_step(t, &(sl_step_info){0}, &err), SL_ERR_STATE);
    sl_trainer_free(t);
    sl_model_free(m);
    sl_dataset_free(ds);
}

static const char *tmp_path(const char *name)
{
    static char buf[2][512];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], "%s/%s.%d", SLOPE_BINARY_DIR, name, (int)getpid());
    return buf[which];
}

/* 4 epochs straight == 2 epochs, save, new process-like state, load, 2 more: bit for bit. */
static void test_resume_is_exact(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 50, 0.2f, 2, &err);
    sl_train_options o = spiral_options(4);
    o.optim = sl_optim_defaults(SL_OPTIM_SGD);
    o.optim.lr = 0.05f;
    o.optim.momentum = 0.9f;
    o.schedule = sl_schedule_defaults(SL_SCHEDULE_COSINE);
    o.batch_size = 16; /* 150 / 16: a partial last batch */

    sl_model *straight = spiral_model("prelu", 1);
    sl_trainer *t = sl_trainer_new(straight, ds, &o, &err);
    while (!sl_trainer_done(t))
        assert_int_equal(sl_trainer_run_epoch(t, NULL, NULL, NULL, &err), SL_OK);
    sl_trainer_free(t);

    const char *path = tmp_path("resume.safetensors");
    sl_model *first = spiral_model("prelu", 1);
    t = sl_trainer_new(first, ds, &o, &err);
    for (int e = 0; e < 2; e++)
        assert_int_equal(sl_trainer_run_epoch(t, NULL, NULL, NULL, &err), SL_OK);
    sl_step_info info; /* and 3 steps into epoch 3, to resume mid-epoch */
    for (int s = 0; s < 3; s++)
        assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    sl_kv meta[1] = {{"note", "test"}};
    assert_int_equal(sl_trainer_save(t, path, meta, 1, &err), SL_OK);
    sl_trainer_free(t);
    sl_model_free(first);

    sl_model *resumed = spiral_model("prelu", 1);
    sl_model_init(resumed, SL_INIT_PYTORCH, 999, &err); /* different weights: load must replace them */
    t = sl_trainer_new(resumed, ds, &o, &err);
    assert_int_equal(sl_trainer_load(t, path, &err), SL_OK);
    assert_int_equal(sl_trainer_epoch(t), 2);
    while (!sl_trainer_done(t))
        assert_int_equal(sl_trainer_run_epoch(t, NULL, NULL, NULL, &err), SL_OK);
    int64_t n;
    const float *ps = sl_model_flat_params(straight, &n); /* sets n before it is used */
    assert_memory_equal(ps, sl_model_flat_params(resumed, NULL), (size_t)n * sizeof(float));
    sl_trainer_free(t);
    sl_model_free(straight);
    sl_model_free(resumed);
    sl_dataset_free(ds);
    unlink(path);
}

static void test_checkpoint_round_trip_and_errors(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_model *m = spiral_model("tanh", 0);
    const char *path = tmp_path("model.safetensors");
    assert_int_equal(sl_model_save(m, path, NULL, 0, &err), SL_OK);
    float x[8] = {0.1f, -0.2f, 0.5f, 0.5f, -0.7f, 0.3f, 0.0f, 0.9f};
    float before[12], after[12];
    int32_t cls[4];
    assert_int_equal(sl_predict(m, x, 4, before, cls, &err), SL_OK);
    sl_model *other = spiral_model("tanh", 0);
    sl_model_init(other, SL_INIT_PYTORCH, 5, &err);
    assert_int_equal(sl_model_load(other, path, &err), SL_OK);
    assert_int_equal(sl_predict(other, x, 4, after, NULL, &err), SL_OK);
    assert_memory_equal(before, after, sizeof before);
    for (int i = 0; i < 4; i++) /* classes are the arg-max of the outputs */
        assert_true(before[i * 3 + cls[i]] >= before[i * 3] && before[i * 3 + cls[i]] >= before[i * 3 + 2]);

    /* A model of another shape: the error names the tensor. */
    int64_t in = 2;
    sl_model *wide = sl_model_new(1, &in, &err);
    sl_layer_spec lin = sl_layer_defaults(SL_LAYER_LINEAR);
    lin.out = 65;
    sl_model_add(wide, &lin, &err);
    sl_model_init(wide, SL_INIT_KAIMING_UNIFORM, 1, &err);
    assert_int_equal(sl_model_load(wide, path, &err), SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, "layers.0.weight"));
    assert_non_null(strstr(err.message, path));
    assert_null(strstr(strstr(err.message, path) + 1, path)); /* the path once */
    /* A model-only checkpoint is not a training checkpoint. */
    sl_dataset *ds = sl_dataset_spiral(3, 20, 0.2f, 1, &err);
    sl_train_options o = spiral_options(1);
    sl_trainer *t = sl_trainer_new(other, ds, &o, &err);
    assert_int_equal(sl_trainer_load(t, path, &err), SL_ERR_FORMAT);
    assert_non_null(strstr(err.message, path));
    sl_trainer_free(t);
    /* A dataset that does not fit the model. */
    sl_dataset *wrong = sl_dataset_spiral(5, 20, 0.2f, 1, &err);
    assert_null(sl_trainer_new(other, wrong, &o, &err));
    assert_int_equal(err.status, SL_ERR_SHAPE);
    sl_dataset_free(wrong);
    sl_dataset_free(ds);
    sl_model_free(wide);
    sl_model_free(other);
    sl_model_free(m);
    unlink(path);
}

static void test_nan_stops_training_with_a_message(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 50, 0.2f, 1, &err);
    sl_model *m = spiral_model("relu", 0);
    /* A NaN weight in layer 2 (the second linear) poisons its output. */
    sl_model_find_param(m, "layers.2.weight")->tensor->data[5] = NAN;
    sl_train_options o = spiral_options(1);
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    int64_t n;
    float *p = sl_model_flat_params(m, &n);
    float w0 = p[0];
    sl_step_info info;
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_ERR_NUMERIC);
    assert_non_null(strstr(err.message, "step 1"));
    assert_non_null(strstr(err.message, "layer 2 (linear)"));
    assert_true(p[0] == w0); /* nothing updated */
    sl_trainer_free(t);
    sl_model_free(m);
    sl_dataset_free(ds);
}

static void test_evaluate_confusion(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 40, 0.2f, 1, &err);
    sl_model *m = spiral_model("selu", 0);
    int64_t conf[9];
    sl_eval_result r = {.confusion = conf};
    assert_int_equal(sl_evaluate(m, ds, 7, SL_LOSS_CROSS_ENTROPY, &r, &err), SL_OK);
    int64_t total = 0, diag = 0;
    for (int i = 0; i < 9; i++)
        total += conf[i];
    for (int i = 0; i < 3; i++)
        diag += conf[i * 4];
    assert_int_equal(total, 120);
    assert_true(fabs(r.accuracy - (double)diag / 120.0) < 1e-12);
    assert_true(r.loss > 0 && isfinite(r.loss));
    sl_eval_result r2 = {0};
    assert_int_equal(sl_evaluate(m, ds, 120, SL_LOSS_CROSS_ENTROPY, &r2, &err), SL_OK);
    assert_true(fabs(r.loss - r2.loss) < 1e-5); /* batch size does not change the mean */
    sl_model_free(m);
    sl_dataset_free(ds);
}

/* ---- checkpoints that do not fit: refused, all or nothing -------------------------- */

/* What rewrite changes in a copy of a checkpoint. */
typedef struct edit {
    const char *key;     /* metadata key to set ... */
    const char *value;   /* ... to this value (NULL: leave the key out) */
    const char *drop;    /* a tensor to leave out, or NULL */
    const char *reshape; /* a tensor to write one element longer (1-D), or NULL */
} edit;

/* Copies the checkpoint at from to to with e applied, through the library's own writer. */
static void rewrite(const char *from, const char *to, edit e)
{
    sl_error err = {0};
    sl_safetensors *st = sl_safetensors_read(from, &err);
    assert_non_null(st);
    size_t n = sl_safetensors_count(st), n_meta = sl_safetensors_metadata_count(st), k = 0, km = 0;
    sl_named_tensor *ts = calloc(n + 1, sizeof *ts);
    sl_kv *kv = calloc(n_meta + 1, sizeof *kv);
    assert_true(ts && kv);
    sl_tensor *grown = NULL;
    for (size_t i = 0; i < n; i++) {
        sl_named_tensor t = sl_safetensors_at(st, i);
        if (e.drop && strcmp(t.name, e.drop) == 0)
            continue;
        if (e.reshape && strcmp(t.name, e.reshape) == 0) {
            int64_t shape[1] = {t.tensor->size + 1};
            t.tensor = grown = sl_tensor_new(1, shape, &err);
            assert_non_null(grown);
        }
        ts[k++] = t;
    }
    for (size_t i = 0; i < n_meta; i++) {
        sl_kv m = sl_safetensors_metadata_at(st, i);
        if (e.key && strcmp(m.key, e.key) == 0) {
            if (!e.value)
                continue;
            m.value = e.value;
        }
        kv[km++] = m;
    }
    assert_int_equal(sl_safetensors_write(to, ts, k, kv, km, &err), SL_OK);
    sl_tensor_free(grown);
    free(ts);
    free(kv);
    sl_safetensors_free(st);
}

static int count_of(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Everything a load could change: the parameters (bit for bit), the optimizer state, and
 * the position in training. */
typedef struct snapshot {
    float *params, *optim;
    int64_t n_params, n_optim, steps, optim_steps;
    int epoch;
} snapshot;

static snapshot take_snapshot(sl_model *m, sl_trainer *t)
{
    snapshot s = {0};
    const float *p = sl_model_flat_params(m, &s.n_params);
    s.params = malloc((size_t)s.n_params * sizeof(float));
    assert_non_null(s.params);
    memcpy(s.params, p, (size_t)s.n_params * sizeof(float));
    if (!t)
        return s;
    sl_optimizer *opt = sl_trainer_optimizer(t);
    for (size_t i = 0; i < sl_optimizer_state_count(opt); i++)
        s.n_optim += sl_optimizer_state(opt, i, NULL)->size;
    s.optim = malloc((size_t)s.n_optim * sizeof(float) + 1);
    assert_non_null(s.optim);
    int64_t at = 0;
    for (size_t i = 0; i < sl_optimizer_state_count(opt); i++) {
        const sl_tensor *st = sl_optimizer_state(opt, i, NULL);
        memcpy(s.optim + at, st->data, (size_t)st->size * sizeof(float));
        at += st->size;
    }
    s.epoch = sl_trainer_epoch(t);
    s.steps = sl_trainer_steps(t);
    return s;
}

static void assert_unchanged(const snapshot *s, sl_model *m, sl_trainer *t)
{
    snapshot now = take_snapshot(m, t);
    assert_int_equal(now.n_params, s->n_params);
    assert_memory_equal(now.params, s->params, (size_t)s->n_params * sizeof(float));
    if (t) {
        assert_int_equal(now.n_optim, s->n_optim);
        assert_memory_equal(now.optim, s->optim, (size_t)s->n_optim * sizeof(float));
        assert_int_equal(now.epoch, s->epoch);
        assert_int_equal(now.steps, s->steps);
    }
    free(now.params);
    free(now.optim);
}

/* 150 spiral points in batches of 16: 10 batches per epoch; the run is 4 epochs. */
static sl_train_options small_run(void)
{
    sl_train_options o = spiral_options(4);
    o.batch_size = 16;
    return o;
}

/* Saves a run 1 epoch and 3 steps in: slope.epoch 1, slope.steps 13. */
static void save_small_run(const sl_dataset *ds, const char *path)
{
    sl_error err = {0};
    sl_train_options o = small_run();
    sl_model *m = spiral_model("leaky_relu", 0);
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    assert_non_null(t);
    assert_int_equal(sl_trainer_run_epoch(t, NULL, NULL, NULL, &err), SL_OK);
    sl_step_info info;
    for (int s = 0; s < 3; s++)
        assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    assert_int_equal(sl_trainer_save(t, path, NULL, 0, &err), SL_OK);
    sl_trainer_free(t);
    sl_model_free(m);
}

/* A trainer two steps into its own run, with weights other than the saved run's: what a
 * refused load must leave untouched. */
static sl_trainer *two_steps_into_another_run(const sl_dataset *ds, sl_model **model)
{
    sl_error err = {0};
    sl_train_options o = small_run();
    sl_model *m = spiral_model("leaky_relu", 0);
    assert_int_equal(sl_model_init(m, SL_INIT_PYTORCH, 7, &err), SL_OK);
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    assert_non_null(t);
    sl_step_info info;
    for (int s = 0; s < 2; s++)
        assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    *model = m;
    return t;
}

static void test_checkpoint_position_is_checked(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 50, 0.2f, 2, &err);
    const char *good = tmp_path("position.safetensors"), *bad = tmp_path("position-bad.safetensors");
    save_small_run(ds, good);
    /* A trainer two steps into its own run, with other weights. */
    sl_model *m;
    sl_trainer *t = two_steps_into_another_run(ds, &m);
    sl_step_info info;
    snapshot before = take_snapshot(m, t);

    static const struct {
        const char *key, *value;
    } refused[] = {
        {"slope.epoch", "9223372036854775807"}, /* 10 * epoch used to overflow */
        {"slope.epoch", "2147483648"},          /* used to wrap to a negative int */
        {"slope.epoch", "300000000000"},
        {"slope.epoch", "99999999999999999999"}, /* past int64 */
        {"slope.epoch", "-1"},
        {"slope.epoch", "5"}, /* past the run's 4 epochs */
        {"slope.epoch", "+1"},
        {"slope.epoch", " 1"},
        {"slope.epoch", "1x"},
        {"slope.epoch", ""},
        {"slope.epoch", NULL},
        {"slope.steps", "9"},  /* epoch 1 of 10 batches is steps 10..20 */
        {"slope.steps", "21"},
        {"slope.steps", "-13"},
        {"slope.steps", "9223372036854775807"},
        {"slope.steps", NULL},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        rewrite(good, bad, (edit){refused[i].key, refused[i].value, NULL, NULL});
        sl_error_clear(&err);
        assert_int_equal(sl_trainer_load(t, bad, &err), SL_ERR_FORMAT);
        print_message("  %s = %s: %s\n", refused[i].key, refused[i].value ? refused[i].value : "(none)",
                      err.message);
        assert_non_null(strstr(err.message, refused[i].key));
        if (refused[i].value && *refused[i].value)
            assert_non_null(strstr(err.message, refused[i].value));
        assert_int_equal(count_of(err.message, bad), 1);
        assert_unchanged(&before, m, t);
    }
    /* A finished run has no partial epoch: epoch 4 is exactly 40 steps. */
    rewrite(good, bad, (edit){"slope.epoch", "4", NULL, NULL});
    assert_int_equal(sl_trainer_load(t, bad, &err), SL_ERR_FORMAT);
    assert_non_null(strstr(err.message, "slope.steps"));
    assert_unchanged(&before, m, t);

    /* The edges that are fine: an epoch's last step taken but the epoch not yet closed... */
    rewrite(good, bad, (edit){"slope.steps", "20", NULL, NULL});
    assert_int_equal(sl_trainer_load(t, bad, &err), SL_OK);
    assert_int_equal(sl_trainer_epoch(t), 1);
    assert_int_equal(sl_trainer_steps(t), 20);
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    assert_int_equal(info.n, 0); /* closes epoch 2 */
    assert_int_equal(sl_trainer_epoch(t), 2);
    /* ... and a finished run. */
    sl_model *m2 = spiral_model("leaky_relu", 0);
    sl_train_options o = small_run();
    sl_trainer *t2 = sl_trainer_new(m2, ds, &o, &err);
    rewrite(good, bad, (edit){"slope.epoch", "4", NULL, NULL});
    rewrite(bad, bad, (edit){"slope.steps", "40", NULL, NULL});
    assert_int_equal(sl_trainer_load(t2, bad, &err), SL_OK);
    assert_true(sl_trainer_done(t2));
    assert_int_equal(sl_trainer_steps(t2), 40);

    free(before.params);
    free(before.optim);
    sl_trainer_free(t2);
    sl_model_free(m2);
    sl_trainer_free(t);
    sl_model_free(m);
    sl_dataset_free(ds);
    unlink(good);
    unlink(bad);
}

/* A tensor that does not fit, last in the file, leaves everything as it was. */
static void test_failed_load_changes_nothing(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 50, 0.2f, 2, &err);
    const char *good = tmp_path("partial.safetensors"), *bad = tmp_path("partial-bad.safetensors");
    save_small_run(ds, good);
    sl_model *m;
    sl_trainer *t = two_steps_into_another_run(ds, &m);
    sl_step_info info;
    snapshot before = take_snapshot(m, t);

    /* The model's last tensor, and the trainer's (the optimizer state comes after the model). */
    const char *last_param = sl_model_param(m, sl_model_num_params(m) - 1)->name, *slot;
    sl_optimizer *opt = sl_trainer_optimizer(t);
    sl_optimizer_state(opt, sl_optimizer_state_count(opt) - 1, &slot);
    char last_state[128];
    snprintf(last_state, sizeof last_state, "optim.%s", slot);

    /* sl_model_load: wrong shape, then missing. */
    rewrite(good, bad, (edit){NULL, NULL, NULL, last_param});
    assert_int_equal(sl_model_load(m, bad, &err), SL_ERR_SHAPE);
    print_message("  %s\n", err.message);
    assert_non_null(strstr(err.message, last_param));
    assert_int_equal(count_of(err.message, bad), 1);
    assert_unchanged(&before, m, t);
    rewrite(good, bad, (edit){NULL, NULL, last_param, NULL});
    assert_int_equal(sl_model_load(m, bad, &err), SL_ERR_FORMAT);
    print_message("  %s\n", err.message);
    assert_non_null(strstr(err.message, last_param));
    assert_int_equal(count_of(err.message, bad), 1);
    assert_unchanged(&before, m, t);

    /* sl_trainer_load: the same for the last optimizer tensor (all the model's would fit). */
    rewrite(good, bad, (edit){NULL, NULL, NULL, last_state});
    assert_int_equal(sl_trainer_load(t, bad, &err), SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, last_state));
    assert_int_equal(count_of(err.message, bad), 1);
    assert_unchanged(&before, m, t);
    rewrite(good, bad, (edit){NULL, NULL, last_state, NULL});
    assert_int_equal(sl_trainer_load(t, bad, &err), SL_ERR_FORMAT);
    assert_non_null(strstr(err.message, last_state));
    assert_int_equal(count_of(err.message, bad), 1);
    assert_unchanged(&before, m, t);

    /* After all that the good checkpoint still loads, and training goes on from it. */
    assert_int_equal(sl_trainer_load(t, good, &err), SL_OK);
    assert_int_equal(sl_trainer_epoch(t), 1);
    assert_int_equal(sl_trainer_steps(t), 13);
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    assert_int_equal(info.batch, 3);

    free(before.params);
    free(before.optim);
    sl_trainer_free(t);
    sl_model_free(m);
    sl_dataset_free(ds);
    unlink(good);
    unlink(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spiral_learns),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_checkpoint_round_trip_and_errors),
        cmocka_unit_test(test_nan_stops_training_with_a_message),
        cmocka_unit_test(test_evaluate_confusion),
        cmocka_unit_test(test_checkpoint_position_is_checked),
        cmocka_unit_test(test_failed_load_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
