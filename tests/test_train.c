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

/*
 * sl_trainer_evaluate is sl_evaluate at the trainer's batch size, in the trainer's graph:
 * the same figures bit for bit, the arena no larger, the graph's modes back, and training
 * afterwards exactly what it is without the evaluations (dropout included).
 */
static void test_trainer_evaluate_in_its_graph(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 40, 0.2f, 1, &err);
    sl_model *a = spiral_model("leaky_relu", 1), *b = spiral_model("leaky_relu", 1);
    sl_train_options o = spiral_options(10);
    sl_trainer *ta = sl_trainer_new(a, ds, &o, &err), *tb = sl_trainer_new(b, ds, &o, &err);
    assert_non_null(ta);
    assert_non_null(tb);
    sl_step_info info;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sl_trainer_step(ta, &info, &err), SL_OK);
        assert_int_equal(sl_trainer_step(tb, &info, &err), SL_OK);
    }
    sl_graph *g = sl_trainer_graph(ta);
    size_t capacity = sl_graph_arena_capacity(g);
    int64_t conf[9], conf_ref[9];
    sl_eval_result r = {.confusion = conf}, ref = {.confusion = conf_ref};
    assert_int_equal(sl_trainer_evaluate(ta, ds, &r, &err), SL_OK);
    assert_int_equal(sl_evaluate(a, ds, o.batch_size, o.loss, &ref, &err), SL_OK);
    assert_int_equal(r.samples, 120);
    assert_true(r.loss == ref.loss && r.accuracy == ref.accuracy);
    assert_memory_equal(conf, conf_ref, sizeof conf);
    assert_int_equal(sl_graph_arena_capacity(g), capacity);
    assert_int_equal(sl_graph_training(g), 1);
    assert_int_equal(sl_graph_grad_enabled(g), 1);
    /* Evaluating between steps (and at an epoch's end) changes nothing training does. */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(sl_trainer_step(ta, &info, &err), SL_OK);
        assert_int_equal(sl_trainer_step(tb, &info, &err), SL_OK);
        if (i % 3 == 0)
            assert_int_equal(sl_trainer_evaluate(ta, ds, &r, &err), SL_OK);
    }
    int64_t n = 0;
    const float *pa = sl_model_flat_params(a, &n), *pb = sl_model_flat_params(b, NULL);
    assert_memory_equal(pa, pb, (size_t)n * sizeof(float));
    assert_int_equal(sl_graph_arena_capacity(g), capacity);
    sl_trainer_free(ta);
    sl_trainer_free(tb);
    sl_model_free(a);
    sl_model_free(b);
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

/* ---- input normalisation: raw inputs for sl_predict, kept by checkpoints ------------------ */

static void assert_norm(const sl_model *m, sl_normalize kind, double mean, double std)
{
    double mu = -1.0, sd = -1.0;
    assert_int_equal(sl_model_input_normalize(m, &mu, &sd), kind);
    assert_true(mu == mean && sd == std); /* exactly: %.17g round-trips doubles */
}

static void test_predict_takes_raw_inputs(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_model *m = spiral_model("prelu", 0);
    assert_norm(m, SL_NORMALIZE_NONE, 0.0, 1.0); /* the default */
    float raw[8] = {12.0f, 200.0f, 0.0f, 255.0f, 77.5f, 3.25f, 128.0f, 64.0f}, keep[8];
    memcpy(keep, raw, sizeof raw);
    struct { sl_normalize kind; double mean, std; } cases[] = {
        {SL_NORMALIZE_SCALE01, 0.0, 1.0}, {SL_NORMALIZE_STANDARDIZE, 101.3, 1.0 / 3.0 * 80.0}};
    for (size_t c = 0; c < 2; c++) {
        float norm[8], want[12], got[12];
        int32_t want_cls[4], got_cls[4];
        sl_normalize_values(cases[c].kind, cases[c].mean, cases[c].std, raw, norm, 8);
        assert_int_equal(sl_model_set_input_normalize(m, SL_NORMALIZE_NONE, 0, 0, &err), SL_OK);
        assert_int_equal(sl_predict(m, norm, 4, want, want_cls, &err), SL_OK);
        assert_int_equal(sl_model_set_input_normalize(m, cases[c].kind, cases[c].mean,
                                                      cases[c].std, &err), SL_OK);
        assert_norm(m, cases[c].kind, cases[c].mean, cases[c].std);
        assert_int_equal(sl_predict(m, raw, 4, got, got_cls, &err), SL_OK);
        assert_memory_equal(want, got, sizeof want); /* bit for bit */
        assert_memory_equal(want_cls, got_cls, sizeof want_cls);
        assert_memory_equal(raw, keep, sizeof raw); /* x is not written */
        /* and it is not the raw inputs fed as they are */
        assert_int_equal(sl_model_set_input_normalize(m, SL_NORMALIZE_NONE, 0, 0, &err), SL_OK);
        assert_int_equal(sl_predict(m, raw, 4, want, NULL, &err), SL_OK);
        assert_true(memcmp(want, got, sizeof want) != 0);
    }
    /* Refused as a dataset refuses them, and nothing changes. */
    assert_int_equal(sl_model_set_input_normalize(m, SL_NORMALIZE_SCALE01, 0, 0, &err), SL_OK);
    assert_int_equal(sl_model_set_input_normalize(m, (sl_normalize)7, 0, 1, &err), SL_ERR_INVALID);
    assert_non_null(strstr(err.message, "unknown normalisation 7"));
    assert_int_equal(sl_model_set_input_normalize(m, SL_NORMALIZE_STANDARDIZE, 1, 0, &err),
                     SL_ERR_INVALID);
    assert_int_equal(sl_model_set_input_normalize(m, SL_NORMALIZE_STANDARDIZE, NAN, 1, &err),
                     SL_ERR_INVALID);
    assert_int_equal(sl_model_set_input_normalize(m, SL_NORMALIZE_STANDARDIZE, 0, INFINITY, &err),
                     SL_ERR_INVALID);
    assert_non_null(strstr(err.message, "std > 0"));
    assert_int_equal(sl_model_set_input_normalize(NULL, SL_NORMALIZE_NONE, 0, 1, &err),
                     SL_ERR_INVALID);
    assert_norm(m, SL_NORMALIZE_SCALE01, 0.0, 1.0);
    assert_int_equal(sl_model_input_normalize(NULL, NULL, NULL), SL_NORMALIZE_NONE);
    sl_model_free(m);
}

static void test_input_normalize_survives_checkpoints(void **state)
{
    (void)state;
    sl_error err = {0};
    const double mean = 127.29999999999998, std = 0.1 + 0.2; /* digits %g would lose */
    const char *path = tmp_path("norm-model.safetensors"); /* tmp_path keeps two */
    const char *tpath = tmp_path("norm-train.safetensors");
    sl_model *m = spiral_model("tanh", 0);
    assert_int_equal(sl_model_set_input_normalize(m, SL_NORMALIZE_STANDARDIZE, mean, std, &err),
                     SL_OK);
    assert_int_equal(sl_model_save(m, path, NULL, 0, &err), SL_OK);
    sl_model *other = spiral_model("tanh", 0);
    assert_int_equal(sl_model_load(other, path, &err), SL_OK);
    assert_norm(other, SL_NORMALIZE_STANDARDIZE, mean, std);
    /* The keys are reserved. */
    sl_kv mine = {"slope.input_normalize", "none"};
    assert_int_equal(sl_model_save(m, path, &mine, 1, &err), SL_ERR_INVALID);

    /* Through a training checkpoint, into a trainer whose model has another setting. */
    sl_dataset *ds = sl_dataset_spiral(3, 20, 0.2f, 1, &err);
    sl_train_options o = spiral_options(2);
    assert_int_equal(sl_model_set_input_normalize(m, SL_NORMALIZE_SCALE01, 0, 1, &err), SL_OK);
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    assert_non_null(t);
    assert_int_equal(sl_trainer_run_epoch(t, NULL, NULL, NULL, &err), SL_OK);
    assert_int_equal(sl_trainer_save(t, tpath, NULL, 0, &err), SL_OK);
    sl_trainer *t2 = sl_trainer_new(other, ds, &o, &err);
    assert_non_null(t2);
    assert_norm(other, SL_NORMALIZE_STANDARDIZE, mean, std);
    assert_int_equal(sl_trainer_load(t2, tpath, &err), SL_OK);
    assert_norm(other, SL_NORMALIZE_SCALE01, 0.0, 1.0);
    /* a model file into a trainer's model */
    assert_int_equal(sl_model_load(other, path, &err), SL_OK);
    assert_norm(other, SL_NORMALIZE_STANDARDIZE, mean, std);

    sl_trainer_free(t2);
    sl_trainer_free(t);
    sl_dataset_free(ds);
    sl_model_free(other);
    sl_model_free(m);
    unlink(path);
    unlink(tpath);
}

/* Old checkpoints (no keys) load and leave the setting; malformed ones change nothing. */
static void test_input_normalize_keys_are_checked(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 50, 0.2f, 2, &err);
    char good[512], bad[512], old[512], std_file[512]; /* tmp_path has two buffers only */
    snprintf(good, sizeof good, "%s", tmp_path("norm-good.safetensors"));
    snprintf(bad, sizeof bad, "%s", tmp_path("norm-bad.safetensors"));
    snprintf(old, sizeof old, "%s", tmp_path("norm-old.safetensors"));
    snprintf(std_file, sizeof std_file, "%s", tmp_path("norm-std.safetensors"));
    save_small_run(ds, good);
    sl_model *m;
    sl_trainer *t = two_steps_into_another_run(ds, &m);
    assert_int_equal(sl_model_set_input_normalize(m, SL_NORMALIZE_STANDARDIZE, 5.5, 2.0, &err),
                     SL_OK);
    snapshot before = take_snapshot(m, t);

    /* Without the three keys: loads, the model keeps standardize 5.5/2. */
    rewrite(good, bad, (edit){"slope.input_normalize", NULL, NULL, NULL});
    rewrite(bad, old, (edit){"slope.input_mean", NULL, NULL, NULL});
    rewrite(old, bad, (edit){"slope.input_std", NULL, NULL, NULL});
    assert_int_equal(rename(bad, old), 0);
    sl_safetensors *st = sl_safetensors_read(old, &err);
    assert_non_null(st);
    assert_null(sl_safetensors_metadata(st, "slope.input_normalize"));
    assert_null(sl_safetensors_metadata(st, "slope.input_std"));
    sl_safetensors_free(st);

    /* Malformed: each refused naming the key, everything as it was. */
    struct { const char *key, *value, *names; } cases[] = {
        {"slope.input_normalize", "zscore", "slope.input_normalize"},
        {"slope.input_normalize", "", "slope.input_normalize"},
        {"slope.input_mean", "abc", "slope.input_mean"},
        {"slope.input_mean", "1.5x", "slope.input_mean"},
        {"slope.input_std", "0", "slope.input_std"},
        {"slope.input_std", "-2", "slope.input_std"},
        {"slope.input_std", "inf", "slope.input_std"},
        {"slope.input_mean", NULL, "slope.input_mean"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* mean and std only matter for standardize: make the file say so first */
        rewrite(good, std_file, (edit){"slope.input_normalize", "standardize", NULL, NULL});
        rewrite(std_file, bad, (edit){cases[c].key, cases[c].value, NULL, NULL});
        assert_int_equal(sl_model_load(m, bad, &err), SL_ERR_FORMAT);
        print_message("  %s\n", err.message);
        assert_non_null(strstr(err.message, cases[c].names));
        assert_unchanged(&before, m, t);
        assert_norm(m, SL_NORMALIZE_STANDARDIZE, 5.5, 2.0);
        assert_int_equal(sl_trainer_load(t, bad, &err), SL_ERR_FORMAT);
        assert_non_null(strstr(err.message, cases[c].names));
        assert_unchanged(&before, m, t);
        assert_norm(m, SL_NORMALIZE_STANDARDIZE, 5.5, 2.0);
    }
    /* A kind other than standardize ignores the mean and std. */
    rewrite(good, bad, (edit){"slope.input_std", "junk", NULL, NULL});
    assert_int_equal(sl_model_load(m, bad, &err), SL_OK);
    assert_norm(m, SL_NORMALIZE_NONE, 0.0, 1.0);

    assert_int_equal(sl_model_set_input_normalize(m, SL_NORMALIZE_STANDARDIZE, 5.5, 2.0, &err),
                     SL_OK);
    assert_int_equal(sl_trainer_load(t, old, &err), SL_OK);
    assert_norm(m, SL_NORMALIZE_STANDARDIZE, 5.5, 2.0);
    assert_int_equal(sl_model_load(m, old, &err), SL_OK);
    assert_norm(m, SL_NORMALIZE_STANDARDIZE, 5.5, 2.0);
    assert_int_equal(sl_model_load(m, good, &err), SL_OK); /* and a current one sets it */
    assert_norm(m, SL_NORMALIZE_NONE, 0.0, 1.0);

    free(before.params);
    free(before.optim);
    sl_trainer_free(t);
    sl_model_free(m);
    sl_dataset_free(ds);
    unlink(good);
    unlink(bad);
    unlink(old);
    unlink(std_file);
}

/* ---- options and strategies ---------------------------------------------------------- */

static void test_bad_enums_are_refused(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 20, 0.2f, 1, &err);
    sl_model *m = spiral_model("tanh", 0);
    for (int which = 0; which < 5; which++) {
        sl_train_options o = spiral_options(1);
        if (which == 0)
            o.loss = (sl_loss_kind)7;
        else if (which == 1)
            o.optim.kind = (sl_optim_kind)9;
        else if (which == 2)
            o.schedule.kind = (sl_schedule_kind)-1;
        else if (which == 3)
            o.precision = (sl_precision)2;
        else
            o.loss = (sl_loss_kind)-2;
        memset(&err, 0, sizeof err);
        assert_null(sl_trainer_new(m, ds, &o, &err));
        assert_int_equal(err.status, SL_ERR_CONFIG);
        assert_non_null(strstr(err.message, "unknown"));
        print_message("  %s\n", err.message);
    }
    sl_model_free(m);
    sl_dataset_free(ds);
}

/* The trainer's graph computes in the precision its options ask for (its steps, probe and
 * evaluations all run there). */
static void test_precision_reaches_the_graph(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 20, 0.2f, 1, &err);
    sl_model *m = spiral_model("tanh", 0);
    for (int p = SL_PRECISION_FP32; p <= SL_PRECISION_BF16; p++) {
        sl_train_options o = spiral_options(1);
        o.precision = (sl_precision)p;
        sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
        assert_non_null(t);
        assert_int_equal(sl_graph_precision(sl_trainer_graph(t)), p);
        assert_int_equal(sl_trainer_options(t)->precision, p);
        sl_trainer_free(t);
    }
    assert_int_equal(sl_train_defaults().precision, SL_PRECISION_FP32);
    sl_model_free(m);
    sl_dataset_free(ds);
}

/* The first step's loss with label smoothing eps, on a fresh copy of the same model. */
static float first_step_loss(const sl_dataset *ds, float eps)
{
    sl_error err = {0};
    sl_model *m = spiral_model("tanh", 0);
    sl_train_options o = spiral_options(1);
    o.shuffle = 0;
    o.label_smoothing = eps;
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    assert_non_null(t);
    sl_step_info info;
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    sl_trainer_free(t);
    sl_model_free(m);
    return info.loss;
}

/* Smoothing mixes the two terms linearly, (1 - eps) CE + eps mean_c(-log p_c), so the first
 * step's loss moves from eps 0 to 0.1 by half what it moves to 0.2 (the op's values themselves
 * are checked against torch in test_reference); out-of-range or MSE smoothing is refused. */
static void test_label_smoothing_in_the_trainer(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 20, 0.2f, 1, &err);
    float l0 = first_step_loss(ds, 0.0f), l1 = first_step_loss(ds, 0.1f),
          l2 = first_step_loss(ds, 0.2f);
    print_message("  first-step loss: eps 0 %.6f, 0.1 %.6f, 0.2 %.6f\n", l0, l1, l2);
    assert_true(fabsf(l1 - l0) > 1e-4f);
    assert_float_equal(l2 - l0, 2.0f * (l1 - l0), 1e-5);
    sl_model *m = spiral_model("tanh", 0);
    const float bad[] = {1.0f, -0.1f, NAN};
    for (int i = 0; i < 4; i++) {
        sl_train_options o = spiral_options(1);
        o.label_smoothing = i < 3 ? bad[i] : 0.1f;
        if (i == 3)
            o.loss = SL_LOSS_MSE;
        memset(&err, 0, sizeof err);
        assert_null(sl_trainer_new(m, ds, &o, &err));
        assert_int_equal(err.status, SL_ERR_CONFIG);
        assert_non_null(strstr(err.message, "label_smoothing"));
    }
    sl_model_free(m);
    sl_dataset_free(ds);
}

/* A strategy of one rank that counts its calls and fails the third step. */
typedef struct failing {
    int calls;
} failing;

static sl_status fail_on_third(void *ctx, sl_status local, int64_t n_global, sl_step_info *info,
                               float *grad, int64_t n_grad, sl_error *err)
{
    failing *f = ctx;
    assert_non_null(grad);
    assert_true(n_grad > 0);
    assert_int_equal(info->n, n_global); /* one rank: its part is the batch */
    if (++f->calls == 3)
        return sl_error_set(err, SL_ERR_IO, "fake transport: link down at call %d", f->calls);
    return local;
}

static void test_strategy_failure_stops_the_step(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 50, 0.2f, 1, &err);
    sl_model *m = spiral_model("tanh", 0);
    sl_train_options o = spiral_options(2);
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    assert_non_null(t);
    assert_null(sl_trainer_strategy(t));

    failing f = {0};
    sl_train_strategy bad = {&f, 1, 1, fail_on_third, NULL}; /* rank 1 of 1 */
    assert_int_equal(sl_trainer_set_strategy(t, &bad, &err), SL_ERR_INVALID);
    bad.rank = 0;
    bad.ranks = 2; /* two ranks need reduce_eval */
    assert_int_equal(sl_trainer_set_strategy(t, &bad, &err), SL_ERR_INVALID);
    bad.ranks = 1;
    bad.reduce_step = NULL;
    assert_int_equal(sl_trainer_set_strategy(t, &bad, &err), SL_ERR_INVALID);
    assert_null(sl_trainer_strategy(t)); /* refusals changed nothing */

    sl_train_strategy s = {&f, 0, 1, fail_on_third, NULL};
    assert_int_equal(sl_trainer_set_strategy(t, &s, &err), SL_OK);
    assert_ptr_equal(sl_trainer_strategy(t)->ctx, &f);
    sl_step_info info;
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    int64_t n = 0;
    float *params = sl_model_flat_params(m, &n);
    float *before = malloc((size_t)n * sizeof *before);
    memcpy(before, params, (size_t)n * sizeof *before);
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_ERR_IO);
    assert_string_equal(err.message, "fake transport: link down at call 3");
    assert_int_equal(f.calls, 3);
    assert_int_equal(sl_trainer_steps(t), 2); /* no optimizer step */
    assert_memory_equal(before, params, (size_t)n * sizeof *before);

    /* Back to one process: no more strategy calls. */
    assert_int_equal(sl_trainer_set_strategy(t, NULL, &err), SL_OK);
    assert_null(sl_trainer_strategy(t));
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    assert_int_equal(f.calls, 3);
    free(before);
    sl_trainer_free(t);
    sl_model_free(m);
    sl_dataset_free(ds);
}

/*
 * Two ranks in one thread: rank 0's reduce_step runs rank 1's whole step,
 * whose reduce_step finds rank 0's part waiting and averages the two.
 */
typedef struct pair {
    sl_trainer *follower;      /* rank 1 */
    sl_step_info *lead_info;   /* rank 0's part, while its reduce_step runs */
    float *lead_grad;
    sl_status lead_status;
    int steps;
} pair;

static sl_status follower_reduce(void *ctx, sl_status local, int64_t n_global, sl_step_info *info,
                                 float *grad, int64_t n_grad, sl_error *err)
{
    pair *p = ctx;
    if (p->lead_status != SL_OK || local != SL_OK)
        return sl_error_set(err, SL_ERR_STATE, "a rank failed");
    double n0 = (double)p->lead_info->n, n1 = (double)info->n, n = (double)n_global;
    assert_true(n0 + n1 == n);
    for (int64_t i = 0; i < n_grad; i++)
        grad[i] = p->lead_grad[i] = (float)((n0 * p->lead_grad[i] + n1 * grad[i]) / n);
    float loss = (float)((n0 * p->lead_info->loss + n1 * info->loss) / n);
    int64_t correct = p->lead_info->correct + info->correct;
    info->loss = p->lead_info->loss = loss;
    info->correct = p->lead_info->correct = correct;
    p->steps++;
    return SL_OK;
}

static sl_status lead_reduce(void *ctx, sl_status local, int64_t n_global, sl_step_info *info,
                             float *grad, int64_t n_grad, sl_error *err)
{
    (void)n_global;
    (void)n_grad;
    pair *p = ctx;
    p->lead_info = info;
    p->lead_grad = grad;
    p->lead_status = local;
    sl_step_info other;
    return sl_trainer_step(p->follower, &other, err);
}

/* Rank 1 records its sums; rank 0 adds them to its own. */
typedef struct eval_pair {
    double sums[3];
    int64_t counts[9];
} eval_pair;

static sl_status eval_record(void *ctx, sl_status local, double sums[3], int64_t *counts,
                             int64_t n_counts, sl_error *err)
{
    (void)err;
    eval_pair *e = ctx;
    assert_int_equal(n_counts, 9);
    memcpy(e->sums, sums, sizeof e->sums);
    memcpy(e->counts, counts, sizeof e->counts);
    return local;
}

static sl_status eval_add(void *ctx, sl_status local, double sums[3], int64_t *counts,
                          int64_t n_counts, sl_error *err)
{
    (void)err;
    eval_pair *e = ctx;
    for (int i = 0; i < 3; i++)
        sums[i] += e->sums[i];
    for (int64_t i = 0; i < n_counts; i++)
        counts[i] += e->counts[i];
    return local;
}

static void test_two_simulated_ranks_train_as_one(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 50, 0.2f, 3, &err);
    sl_train_options o = spiral_options(3);
    o.optim = sl_optim_defaults(SL_OPTIM_SGD);
    o.optim.lr = 0.05f;
    o.batch_size = 20; /* 150 / 20: a partial last batch of 10 */
    sl_model *alone = spiral_model("tanh", 0), *m0 = spiral_model("tanh", 0),
             *m1 = spiral_model("tanh", 0);
    sl_trainer *t = sl_trainer_new(alone, ds, &o, &err), *t0 = sl_trainer_new(m0, ds, &o, &err),
               *t1 = sl_trainer_new(m1, ds, &o, &err);
    assert_non_null(t);
    assert_non_null(t0);
    assert_non_null(t1);
    pair p = {t1, NULL, NULL, SL_OK, 0};
    sl_train_strategy s0 = {&p, 0, 2, lead_reduce, eval_add}, s1 = {&p, 1, 2, follower_reduce,
                                                                     eval_record};
    assert_int_equal(sl_trainer_set_strategy(t0, &s0, &err), SL_OK);
    assert_int_equal(sl_trainer_set_strategy(t1, &s1, &err), SL_OK);
    sl_epoch_result r, r0;
    while (!sl_trainer_done(t)) {
        assert_int_equal(sl_trainer_run_epoch(t, NULL, NULL, &r, &err), SL_OK);
        assert_int_equal(sl_trainer_run_epoch(t0, NULL, NULL, &r0, &err), SL_OK);
        sl_step_info end;
        assert_int_equal(sl_trainer_step(t1, &end, &err), SL_OK); /* rank 1's epoch end */
        assert_int_equal(end.n, 0);
        assert_int_equal(r0.samples, r.samples);
        assert_true(fabs(r0.loss - r.loss) < 1e-5);
        assert_true(fabs(r0.accuracy - r.accuracy) < 1e-9);
    }
    assert_int_equal(p.steps, sl_trainer_steps(t));
    assert_int_equal(sl_trainer_steps(t0), sl_trainer_steps(t));
    assert_int_equal(sl_trainer_steps(t1), sl_trainer_steps(t));
    int64_t n = 0;
    const float *pa = sl_model_flat_params(alone, &n), *p0 = sl_model_flat_params(m0, NULL),
                *p1 = sl_model_flat_params(m1, NULL);
    assert_memory_equal(p0, p1, (size_t)n * sizeof(float)); /* the replicas stay equal */
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)p0[i] - (double)pa[i]));
    print_message("  two simulated ranks vs one: max |dw| = %.3g\n", worst);
    assert_true(worst < 1e-4); /* one process's parameters up to summation order */

    /* Sharded evaluation: the two halves reduced equal the whole. */
    int64_t conf[9], conf0[9], conf1[9];
    sl_eval_result whole = {.confusion = conf}, e0 = {.confusion = conf0}, e1 = {.confusion = conf1};
    assert_int_equal(sl_evaluate(alone, ds, 32, o.loss, &whole, &err), SL_OK);
    eval_pair ep;
    s0.ctx = s1.ctx = &ep;
    assert_int_equal(sl_evaluate_sharded(alone, ds, 32, o.loss, &s1, &e1, &err), SL_OK);
    assert_int_equal(e1.samples, 75); /* its own half only: nobody added the other's */
    assert_int_equal(sl_evaluate_sharded(alone, ds, 32, o.loss, &s0, &e0, &err), SL_OK);
    assert_int_equal(e0.samples, whole.samples);
    assert_true(fabs(e0.loss - whole.loss) < 1e-6);
    assert_true(fabs(e0.accuracy - whole.accuracy) < 1e-12);
    assert_memory_equal(conf0, conf, sizeof conf);
    /* The same through the trainers (their strategies, graphs and batch of 20). */
    sl_eval_result m0_whole = {.confusion = conf};
    assert_int_equal(sl_evaluate(m0, ds, o.batch_size, o.loss, &m0_whole, &err), SL_OK);
    assert_int_equal(sl_trainer_set_strategy(t0, &s0, &err), SL_OK);
    assert_int_equal(sl_trainer_set_strategy(t1, &s1, &err), SL_OK);
    assert_int_equal(sl_trainer_evaluate(t1, ds, &e1, &err), SL_OK);
    assert_int_equal(e1.samples, 75);
    assert_int_equal(sl_trainer_evaluate(t0, ds, &e0, &err), SL_OK);
    assert_int_equal(e0.samples, m0_whole.samples);
    assert_true(fabs(e0.loss - m0_whole.loss) < 1e-6);
    assert_true(fabs(e0.accuracy - m0_whole.accuracy) < 1e-12);
    assert_memory_equal(conf0, conf, sizeof conf);

    sl_trainer_free(t);
    sl_trainer_free(t0);
    sl_trainer_free(t1);
    sl_model_free(alone);
    sl_model_free(m0);
    sl_model_free(m1);
    sl_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spiral_learns),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_precision_reaches_the_graph),
        cmocka_unit_test(test_checkpoint_round_trip_and_errors),
        cmocka_unit_test(test_nan_stops_training_with_a_message),
        cmocka_unit_test(test_evaluate_confusion),
        cmocka_unit_test(test_checkpoint_position_is_checked),
        cmocka_unit_test(test_failed_load_changes_nothing),
        cmocka_unit_test(test_predict_takes_raw_inputs),
        cmocka_unit_test(test_input_normalize_survives_checkpoints),
        cmocka_unit_test(test_input_normalize_keys_are_checked),
        cmocka_unit_test(test_bad_enums_are_refused),
        cmocka_unit_test(test_label_smoothing_in_the_trainer),
        cmocka_unit_test(test_strategy_failure_stops_the_step),
        cmocka_unit_test(test_two_simulated_ranks_train_as_one),
        cmocka_unit_test(test_trainer_evaluate_in_its_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
