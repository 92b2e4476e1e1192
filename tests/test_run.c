/*
 * test_run.c - the run API (slope/run.h) on the spiral config, a few epochs:
 * per-epoch results through on_epoch and sl_run_last_epoch; the metrics
 * file (one object per epoch with its statistics inside); checkpoints and
 * keep_best; a stop from on_step that saves a checkpoint whose resumed run
 * ends bit-identical to an uninterrupted one; the fallback file of a stop
 * without a checkpoint path; a NaN that leaves the last checkpoint alone; a
 * resumed finished run; borrowed model and data; the model keeping the data's
 * input normalisation; a metrics file that cannot be written; every output
 * checked before the run starts; stale temporary files removed; bad arguments.
 */
#define _POSIX_C_SOURCE 200809L

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parallel.h" /* sl_par_threads: the pool size a run set */
#include "testutil.h"

static char g_dir[512]; /* a scratch directory, also the current directory */
static char g_path[1024];

static const char *scratch(const char *name)
{
    snprintf(g_path, sizeof g_path, "%s/%s", g_dir, name);
    return g_path;
}

/* The spiral config with "--set"-style overrides (stats off, as it ships; every epoch when on). */
static sl_config *spiral(const char *const *overrides, size_t n)
{
    sl_error err = {0};
    sl_config *cfg = sl_config_load(tu_source_path("models/spiral_mlp.json"), overrides, n, &err);
    if (!cfg)
        fail_msg("spiral config: %s", err.message);
    return cfg;
}

/* What the callbacks saw. */
typedef struct seen {
    int steps, epochs, stats, phases, loading;
    int stop_at_step;  /* on_step asks to stop at this global step (0: never) */
    int stop_at_epoch; /* on_epoch asks to stop after this many epochs (0: never) */
    sl_run_epoch epoch[16];
} seen;

static int on_step(const sl_step_info *info, void *user)
{
    seen *s = user;
    s->steps++;
    return s->stop_at_step && info->step == s->stop_at_step;
}

static int on_epoch(const sl_run_epoch *e, void *user)
{
    seen *s = user;
    if (s->epochs < 16)
        s->epoch[s->epochs] = *e;
    s->epochs++;
    return s->stop_at_epoch && s->epochs == s->stop_at_epoch;
}

static int on_stats(const sl_stats *st, void *user)
{
    seen *s = user;
    assert_true(sl_stats_num_layers(st) == 2); /* the spiral MLP's two leaky_relu layers */
    s->stats++;
    return 0;
}

static void on_phase(const char *phase, void *user)
{
    seen *s = user;
    s->phases++;
    s->loading += strcmp(phase, "loading data") == 0;
}

static sl_run_options options(seen *s)
{
    memset(s, 0, sizeof *s);
    sl_run_options o = {.on_step = on_step, .on_epoch = on_epoch, .on_stats = on_stats,
                        .on_phase = on_phase, .user = s};
    return o;
}

static sl_run *must_run(const sl_config *cfg, const sl_run_options *o)
{
    sl_error err = {0};
    sl_run *r = sl_run_new(cfg, o, &err);
    if (!r)
        fail_msg("sl_run_new: %s", err.message);
    return r;
}

static void must_train(sl_run *r)
{
    sl_error err = {0};
    if (sl_run_train(r, &err) != SL_OK)
        fail_msg("sl_run_train: %s", err.message);
}

/* Every parameter of a and b equal bit for bit. */
static void assert_same_params(const sl_model *a, const sl_model *b)
{
    assert_int_equal(sl_model_num_params(a), sl_model_num_params(b));
    for (size_t i = 0; i < sl_model_num_params(a); i++) {
        const sl_tensor *x = sl_model_param(a, i)->tensor, *y = sl_model_param(b, i)->tensor;
        assert_int_equal(x->size, y->size);
        if (memcmp(x->data, y->data, (size_t)x->size * sizeof(float)) != 0)
            fail_msg("parameter %s differs", sl_model_param(a, i)->name);
    }
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

/* ---- tests --------------------------------------------------------------------------- */

/* sl_run_options.threads: > 0 sets it; SL_RUN_THREADS_AUTO takes train.threads, else
 * sl_default_threads() (here OMP_NUM_THREADS=3); 0 takes train.threads, else leaves it. */
static int threads_after_setup(const char *train_threads, int threads)
{
    const char *set[1] = {train_threads};
    sl_config *cfg = spiral(set, train_threads ? 1 : 0);
    sl_run_options o = {.threads = threads};
    sl_run *r = must_run(cfg, &o);
    int got = sl_par_threads();
    sl_run_free(r);
    sl_config_free(cfg);
    return got;
}

static void test_thread_options(void **state)
{
    (void)state;
    char *saved = tu_env_save("OMP_NUM_THREADS");
    setenv("OMP_NUM_THREADS", "3", 1);
    struct { const char *train_threads; int threads, before, want; } cases[] = {
        {NULL, SL_RUN_THREADS_AUTO, 1, 3},
        {"train.threads=2", SL_RUN_THREADS_AUTO, 1, 2},
        {"train.threads=2", 1, 3, 1},
        {NULL, 0, 2, 2},
        {"train.threads=1", 0, 2, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_set_num_threads(cases[i].before);
        int got = threads_after_setup(cases[i].train_threads, cases[i].threads);
        if (got != cases[i].want)
            fail_msg("case %zu: %d threads, want %d", i, got, cases[i].want);
    }
    sl_set_num_threads(1);
    tu_env_restore("OMP_NUM_THREADS", saved);
}

static void test_trains_and_reports_epochs(void **state)
{
    (void)state;
    const char *set[] = {"train.epochs=3", "stats.enabled=true"};
    sl_config *cfg = spiral(set, 2);
    seen s;
    sl_run_options o = options(&s);
    sl_run *r = must_run(cfg, &o);
    assert_int_equal(s.loading, 1);
    must_train(r);
    assert_int_equal(s.epochs, 3);
    assert_int_equal(s.steps, 30); /* 300 points, batch 32: 10 steps an epoch */
    assert_int_equal(s.stats, 4);  /* at the start and after each epoch */
    assert_true(s.phases > 3);
    for (int e = 0; e < 3; e++) {
        assert_int_equal(s.epoch[e].train.epoch, e);
        assert_int_equal(s.epoch[e].train.samples, 300);
        assert_true(s.epoch[e].has_test && !s.epoch[e].has_val);
        assert_int_equal(s.epoch[e].test.samples, 300);
        assert_true(s.epoch[e].train.lr > 0.0f);
    }
    assert_true(s.epoch[2].train.loss < s.epoch[0].train.loss);
    const sl_run_epoch *last = sl_run_last_epoch(r);
    assert_non_null(last);
    assert_true(last->test.accuracy == s.epoch[2].test.accuracy);
    assert_false(sl_run_stopped(r));
    assert_false(sl_run_was_complete(r));
    assert_null(sl_run_saved_path(r)); /* no checkpoint path: nothing saved */
    assert_int_equal(sl_trainer_epoch(sl_run_trainer(r)), 3);
    assert_non_null(sl_run_stats(r));
    assert_int_equal(sl_stats_epoch(sl_run_stats(r)), 3);
    assert_ptr_equal(sl_run_config(r), cfg);
    sl_run_free(r);
    sl_config_free(cfg);
}

/* The metrics of a spiral run with the extra overrides: one parsed object per line. */
static int run_metrics(const char *const *extra, size_t n_extra, cJSON **lines, int max)
{
    const char *set[5] = {"train.epochs=3", "stats.enabled=true"};
    for (size_t i = 0; i < n_extra && i < 3; i++)
        set[2 + i] = extra[i];
    sl_config *cfg = spiral(set, 2 + n_extra);
    seen s;
    sl_run_options o = options(&s);
    remove(scratch("m.jsonl"));
    char metrics[1024];
    snprintf(metrics, sizeof metrics, "%s", scratch("m.jsonl"));
    o.metrics = metrics;
    sl_run *r = must_run(cfg, &o);
    must_train(r);
    sl_run_free(r);
    sl_config_free(cfg);
    size_t len;
    char *text = (char *)slurp(metrics, &len);
    int n = 0;
    for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        lines[n] = cJSON_Parse(line);
        assert_non_null(lines[n++]);
    }
    free(text);
    return n;
}

/* A report's "stats": one entry per leaky_relu layer, with its figures. */
static void check_report(const cJSON *stats)
{
    assert_true(cJSON_IsArray(stats));
    assert_int_equal(cJSON_GetArraySize(stats), 2);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(stats, 0), "dead_frac"));
    for (int k = 0; k < 2; k++) { /* negative growth: leaky_relu layers have x < 0 */
        const cJSON *l = cJSON_GetArrayItem(stats, k);
        const cJSON *mean = cJSON_GetObjectItem(l, "neg_mean");
        const cJSON *p01 = cJSON_GetObjectItem(l, "neg_p01");
        const cJSON *below = cJSON_GetObjectItem(l, "below_minus1");
        assert_true(cJSON_IsNumber(mean) && cJSON_IsNumber(p01) && cJSON_IsNumber(below));
        assert_true(p01->valuedouble <= mean->valuedouble && mean->valuedouble < 0.0);
        assert_true(below->valuedouble >= 0.0 && below->valuedouble <= 1.0);
    }
}

/* One line per epoch, holding its results and the report taken at its end ("stats"); the
 * report before training is inside the first epoch's line ("reports", with its step). */
static void test_metrics_hold_stats_per_epoch(void **state)
{
    (void)state;
    cJSON *lines[8];
    int n = run_metrics(NULL, 0, lines, 8);
    assert_int_equal(n, 3);
    for (int e = 0; e < n; e++) {
        const cJSON *obj = lines[e];
        assert_int_equal(cJSON_GetObjectItem(obj, "epoch")->valueint, e + 1);
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(obj, "train_loss")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(obj, "test_acc")));
        assert_int_equal(cJSON_GetObjectItem(obj, "probe")->valueint, 300);
        check_report(cJSON_GetObjectItem(obj, "stats"));
        const cJSON *reports = cJSON_GetObjectItem(obj, "reports");
        if (e == 0) {
            assert_int_equal(cJSON_GetArraySize(reports), 1);
            const cJSON *first = cJSON_GetArrayItem(reports, 0);
            assert_int_equal(cJSON_GetObjectItem(first, "step")->valueint, 0);
            check_report(cJSON_GetObjectItem(first, "stats"));
        } else {
            assert_null(reports);
        }
        cJSON_Delete(lines[e]);
    }
}

/* With stats.every = N the reports go inside the line of the epoch they were taken in. */
static void test_metrics_every_steps_inside_epochs(void **state)
{
    (void)state;
    const char *set[] = {"stats.every=5"};
    cJSON *lines[8];
    int n = run_metrics(set, 1, lines, 8);
    assert_int_equal(n, 3);
    int want_step = 0; /* 0 (before training), then every 5 steps; 10 steps an epoch */
    for (int e = 0; e < n; e++) {
        const cJSON *obj = lines[e];
        assert_int_equal(cJSON_GetObjectItem(obj, "epoch")->valueint, e + 1);
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(obj, "train_loss")));
        assert_null(cJSON_GetObjectItem(obj, "stats"));
        const cJSON *report;
        cJSON_ArrayForEach(report, cJSON_GetObjectItem(obj, "reports"))
        {
            assert_int_equal(cJSON_GetObjectItem(report, "step")->valueint, want_step);
            check_report(cJSON_GetObjectItem(report, "stats"));
            want_step += 5;
        }
        cJSON_Delete(lines[e]);
    }
    assert_int_equal(want_step, 35); /* steps 0, 5, ..., 30 */
}

/* A run stopped mid-epoch: the reports of the epoch it did not finish are not lost, they
 * end the file on a line of that epoch marked "partial". */
static void test_metrics_of_a_stopped_epoch(void **state)
{
    (void)state;
    const char *set[] = {"train.epochs=3", "stats.every=2", "stats.enabled=true"};
    sl_config *cfg = spiral(set, 3);
    seen s;
    sl_run_options o = options(&s);
    s.stop_at_step = 13; /* in epoch 2: its report at step 12 is taken, the epoch not done */
    char metrics[1024], ckpt[1024];
    snprintf(metrics, sizeof metrics, "%s", scratch("stopped.jsonl"));
    snprintf(ckpt, sizeof ckpt, "%s", scratch("stopped.safetensors"));
    remove(metrics);
    o.metrics = metrics;
    o.checkpoint = ckpt;
    sl_run *r = must_run(cfg, &o);
    must_train(r);
    assert_true(sl_run_stopped(r));
    sl_run_free(r);
    sl_config_free(cfg);
    size_t len;
    char *text = (char *)slurp(metrics, &len);
    char *second = strchr(text, '\n');
    assert_non_null(second);
    cJSON *last = cJSON_Parse(second + 1);
    assert_non_null(last);
    assert_int_equal(cJSON_GetObjectItem(last, "epoch")->valueint, 2);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(last, "partial")));
    assert_null(cJSON_GetObjectItem(last, "train_loss"));
    const cJSON *reports = cJSON_GetObjectItem(last, "reports");
    assert_int_equal(cJSON_GetArraySize(reports), 1);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(reports, 0), "step")->valueint, 12);
    cJSON_Delete(last);
    free(text);
}

static void save_note(const char *note, void *user)
{
    snprintf(user, 1024, "%s", note);
}

/* A checkpoint of a spiral run of `epochs` epochs under schedule (sets too). */
static void train_to(const char *ckpt, const char *epochs, const char *schedule)
{
    const char *set[] = {epochs, schedule, "stats.enabled=false", "schedule.min_lr=null"};
    sl_config *cfg = spiral(set, 4);
    seen s;
    sl_run_options o = options(&s);
    o.checkpoint = ckpt;
    remove(ckpt);
    sl_run *r = must_run(cfg, &o);
    must_train(r);
    sl_run_free(r);
    sl_config_free(cfg);
}

/* Resuming a cosine run with other epochs would change every learning rate left: refused,
 * with both counts, the schedule and the option named; allowed with a note.  A constant
 * schedule's rates do not depend on the epochs: resumed as asked. */
static void test_resume_refuses_schedule_change(void **state)
{
    (void)state;
    char ckpt[1024], note[1024] = "";
    snprintf(ckpt, sizeof ckpt, "%s", scratch("cosine.safetensors"));
    train_to(ckpt, "train.epochs=2", "schedule.type=cosine");
    const char *set[] = {"train.epochs=4", "stats.enabled=false"};
    sl_config *cfg = spiral(set, 2);
    sl_run_options o = {.resume = ckpt, .on_note = save_note, .user = note};
    sl_error err = {0};
    assert_null(sl_run_new(cfg, &o, &err));
    assert_int_equal(err.status, SL_ERR_CONFIG);
    const char *parts[] = {ckpt, "saved with train.epochs 2, this one has 4", "cosine",
                           "from epoch 3 on", "--allow-schedule-change",
                           "sl_run_options.allow_schedule_change"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (!strstr(err.message, parts[i]))
            fail_msg("no \"%s\" in: %s", parts[i], err.message);
    o.allow_schedule_change = 1;
    sl_run *r = must_run(cfg, &o);
    assert_non_null(strstr(note, "resuming with train.epochs 4 instead of 2"));
    must_train(r);
    assert_int_equal(sl_trainer_epoch(sl_run_trainer(r)), 4);
    sl_run_free(r);
    sl_config_free(cfg);

    /* The same epochs: nothing changes, nothing said. */
    train_to(ckpt, "train.epochs=4", "schedule.type=cosine");
    const char *same[] = {"train.epochs=4", "stats.enabled=false"};
    cfg = spiral(same, 2);
    o.allow_schedule_change = 0;
    note[0] = '\0';
    r = must_run(cfg, &o);
    assert_string_equal(note, "");
    sl_run_free(r);
    sl_config_free(cfg);

    /* A constant schedule: more epochs are more of the same rate. */
    train_to(ckpt, "train.epochs=2", "schedule.type=constant");
    const char *constant[] = {"train.epochs=4", "stats.enabled=false", "schedule.type=constant",
                              "schedule.min_lr=null"};
    cfg = spiral(constant, 4);
    r = must_run(cfg, &o);
    assert_string_equal(note, "");
    must_train(r);
    sl_run_free(r);
    sl_config_free(cfg);
}

static void test_checkpoint_and_keep_best(void **state)
{
    (void)state;
    const char *set[] = {"train.epochs=4", "checkpoint.keep_best=true", "stats.enabled=false"};
    sl_config *cfg = spiral(set, 3);
    seen s;
    sl_run_options o = options(&s);
    char ckpt[1024];
    snprintf(ckpt, sizeof ckpt, "%s", scratch("ck.safetensors"));
    o.checkpoint = ckpt;
    sl_run *r = must_run(cfg, &o);
    assert_string_equal(sl_run_checkpoint_path(r), ckpt);
    assert_string_equal(sl_run_best_path(r), scratch("ck.best.safetensors"));
    must_train(r);
    assert_int_equal(s.stats, 0);
    assert_string_equal(sl_run_saved_path(r), ckpt);
    assert_true(sl_run_checkpoint_exists(r));
    /* The best epoch: the first with the highest test accuracy. */
    int best = 0;
    for (int e = 1; e < 4; e++)
        if (s.epoch[e].test.accuracy > s.epoch[best].test.accuracy)
            best = e;
    assert_int_equal(sl_run_best_epoch(r), best + 1);
    assert_true(sl_run_best_accuracy(r) == s.epoch[best].test.accuracy);
    sl_error err = {0};
    sl_safetensors *bf = sl_safetensors_read(sl_run_best_path(r), &err);
    assert_non_null(bf);
    char want[16];
    snprintf(want, sizeof want, "%d", best + 1);
    assert_string_equal(sl_safetensors_metadata(bf, "best_epoch"), want);
    assert_non_null(sl_safetensors_metadata(bf, "config"));
    sl_safetensors_free(bf);
    sl_safetensors *cf = sl_safetensors_read(ckpt, &err);
    assert_non_null(cf);
    assert_string_equal(sl_safetensors_metadata(cf, "slope_version"), sl_version());
    assert_null(sl_safetensors_metadata(cf, "best_accuracy"));
    sl_safetensors_free(cf);
    sl_run_free(r);
    /* Without a checkpoint path keep_best is a config error before training. */
    o.checkpoint = NULL;
    assert_null(sl_run_new(cfg, &o, &err));
    assert_int_equal(err.status, SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "checkpoint.keep_best: needs a checkpoint path"));
    sl_config_free(cfg);
}

static void test_stop_and_resume_bit_identical(void **state)
{
    (void)state;
    const char *set[] = {"train.epochs=3", "stats.enabled=true"};
    sl_config *cfg = spiral(set, 2);
    seen s;
    sl_run_options o = options(&s);
    sl_run *whole = must_run(cfg, &o);
    must_train(whole);

    /* Stopped at step 13, mid-epoch 2: a checkpoint, SL_OK, stopped. */
    char ckpt[1024];
    snprintf(ckpt, sizeof ckpt, "%s", scratch("stop.safetensors"));
    remove(ckpt);
    o = options(&s);
    s.stop_at_step = 13;
    o.checkpoint = ckpt;
    sl_run *part = must_run(cfg, &o);
    must_train(part);
    assert_true(sl_run_stopped(part));
    assert_int_equal(s.steps, 13);
    assert_int_equal(s.epochs, 1);
    assert_int_equal(sl_trainer_steps(sl_run_trainer(part)), 13);
    assert_string_equal(sl_run_saved_path(part), ckpt);
    sl_run_free(part);

    /* Resumed: the same parameters as the run that never stopped, bit for bit. */
    o = options(&s);
    o.resume = ckpt;
    sl_run *rest = must_run(cfg, &o);
    must_train(rest);
    assert_false(sl_run_stopped(rest));
    assert_int_equal(s.steps, 17);
    assert_int_equal(s.epochs, 2);
    assert_same_params(sl_run_model(whole), sl_run_model(rest));
    sl_run_free(rest);
    sl_run_free(whole);
    sl_config_free(cfg);
}

/* The same with data.augment on the tiny IDX images (standardized, so the padding is not 0),
 * statistics on: the augmented draws depend on (seed, epoch, batch, image) only, so the
 * resumed run still ends bit for bit where the whole one does. */
static sl_config *augmented_images(void)
{
    char images[4096], text[8192];
    snprintf(images, sizeof images, "%s", tu_source_path("datasets/fixtures/tiny-images.idx"));
    snprintf(text, sizeof text,
             "{\"seed\": 9, \"data\": {\"train\": {\"images\": \"%s\", \"labels\": \"%s\"},"
             " \"normalize\": \"standardize\","
             " \"augment\": {\"crop\": {\"padding\": 1}, \"flip\": 0.5}},"
             " \"model\": {\"input\": [1, 4, 3], \"layers\": [{\"type\": \"flatten\"},"
             " {\"type\": \"linear\", \"out\": 8}, {\"type\": \"relu\"},"
             " {\"type\": \"linear\", \"out\": 8}, {\"type\": \"relu\"},"
             " {\"type\": \"linear\", \"out\": 3}]}," /* two layers, as on_stats expects */
             " \"optimizer\": {\"type\": \"sgd\", \"lr\": 0.1, \"momentum\": 0.9},"
             " \"train\": {\"epochs\": 3, \"batch_size\": 2},"
             " \"stats\": {\"enabled\": true, \"probe\": {\"count\": 4}}}",
             images, tu_source_path("datasets/fixtures/tiny-labels.idx"));
    sl_error err = {0};
    sl_config *cfg = sl_config_load_string(text, "aug.json", &err);
    if (!cfg)
        fail_msg("augmented config: %s", err.message);
    return cfg;
}

static void test_stop_and_resume_augmented(void **state)
{
    (void)state;
    sl_config *cfg = augmented_images();
    seen s;
    sl_run_options o = options(&s);
    sl_run *whole = must_run(cfg, &o);
    must_train(whole);
    assert_int_equal(s.steps, 9); /* 5 images in batches of 2: 3 steps an epoch */

    char ckpt[1024];
    snprintf(ckpt, sizeof ckpt, "%s", scratch("augment_stop.safetensors"));
    remove(ckpt);
    o = options(&s);
    s.stop_at_step = 4; /* mid-epoch 2 */
    o.checkpoint = ckpt;
    sl_run *part = must_run(cfg, &o);
    must_train(part);
    assert_true(sl_run_stopped(part));
    sl_run_free(part);

    o = options(&s);
    o.resume = ckpt;
    sl_run *rest = must_run(cfg, &o);
    must_train(rest);
    assert_int_equal(s.steps, 5);
    assert_true(s.stats > 0); /* the (unaugmented) probe was measured along the way */
    assert_same_params(sl_run_model(whole), sl_run_model(rest));
    sl_run_free(rest);
    sl_run_free(whole);
    sl_config_free(cfg);
}

static void test_stop_without_checkpoint_path(void **state)
{
    (void)state;
    const char *set[] = {"train.epochs=5", "stats.enabled=false", "name=\"runs/x\""};
    sl_config *cfg = spiral(set, 3);
    seen s;
    sl_run_options o = options(&s);
    s.stop_at_epoch = 2; /* on_epoch stops after the epoch's outputs */
    remove("runs_x.interrupted.safetensors");
    sl_run *r = must_run(cfg, &o);
    must_train(r);
    assert_true(sl_run_stopped(r));
    assert_int_equal(s.epochs, 2);
    assert_int_equal(sl_trainer_epoch(sl_run_trainer(r)), 2);
    assert_string_equal(sl_run_saved_path(r), "runs_x.interrupted.safetensors");
    assert_int_equal(access("runs_x.interrupted.safetensors", F_OK), 0);
    /* Calling again goes on from there. */
    s.stop_at_epoch = 0;
    must_train(r);
    assert_false(sl_run_stopped(r));
    assert_int_equal(sl_trainer_epoch(sl_run_trainer(r)), 5);
    sl_run_free(r);
    sl_config_free(cfg);
}

static void test_nan_leaves_checkpoint(void **state)
{
    (void)state;
    const char *good[] = {"train.epochs=2", "stats.enabled=false"};
    sl_config *cfg = spiral(good, 2);
    seen s;
    sl_run_options o = options(&s);
    char ckpt[1024];
    snprintf(ckpt, sizeof ckpt, "%s", scratch("good.safetensors"));
    o.checkpoint = ckpt;
    sl_run *r = must_run(cfg, &o);
    must_train(r);
    sl_run_free(r);
    sl_config_free(cfg);
    size_t len_before, len_after;
    unsigned char *before = slurp(ckpt, &len_before);

    const char *bad[] = {"train.epochs=4", "stats.enabled=false", "optimizer.lr=1e30"};
    cfg = spiral(bad, 3);
    o = options(&s);
    o.checkpoint = ckpt;
    o.resume = ckpt;
    o.allow_schedule_change = 1; /* 2 more epochs of the cosine run: not what is tested */
    r = must_run(cfg, &o);
    sl_error err = {0};
    assert_int_equal(sl_run_train(r, &err), SL_ERR_NUMERIC);
    assert_non_null(strstr(err.message, "step"));
    assert_true(sl_run_checkpoint_exists(r));
    assert_false(sl_run_stopped(r));
    unsigned char *after = slurp(ckpt, &len_after);
    assert_int_equal(len_before, len_after);
    assert_memory_equal(before, after, len_before);
    free(before);
    free(after);
    sl_run_free(r);

    /* Resuming the good, finished checkpoint: nothing to train, an evaluation. */
    const char *done[] = {"train.epochs=2", "stats.enabled=false"};
    sl_config_free(cfg);
    cfg = spiral(done, 2);
    o = options(&s);
    o.resume = ckpt;
    r = must_run(cfg, &o);
    must_train(r);
    assert_true(sl_run_was_complete(r));
    assert_int_equal(s.steps, 0);
    assert_int_equal(s.epochs, 0);
    assert_non_null(sl_run_last_epoch(r));
    assert_true(sl_run_last_epoch(r)->has_test);
    assert_int_equal(sl_run_last_epoch(r)->test.samples, 300);
    sl_run_free(r);
    sl_config_free(cfg);
}

static void test_borrowed_model_and_data(void **state)
{
    (void)state;
    const char *set[] = {"train.epochs=2"};
    sl_config *cfg = spiral(set, 1);
    seen s;
    sl_run_options o = options(&s);
    sl_run *own = must_run(cfg, &o);
    must_train(own);

    sl_error err = {0};
    sl_run_data data;
    assert_int_equal(sl_run_data_open(cfg, NULL, &data, &err), SL_OK);
    sl_model *model = sl_run_build_model(cfg, &err);
    assert_non_null(model);
    o = options(&s);
    o.data = &data;
    o.model = model;
    sl_run *lent = must_run(cfg, &o);
    assert_int_equal(s.loading, 0); /* nothing to load */
    assert_ptr_equal(sl_run_model(lent), model);
    assert_ptr_equal(sl_run_datasets(lent), &data);
    must_train(lent);
    assert_same_params(sl_run_model(own), model);
    sl_run_free(lent); /* frees neither the model nor the data */
    assert_int_equal(sl_model_num_params(model), sl_model_num_params(sl_run_model(own)));
    assert_true(sl_dataset_count(data.train) == 300);
    sl_model_free(model);
    sl_run_data_close(&data);
    sl_run_free(own);
    sl_config_free(cfg);
}

/* Reads every sample of ds (as its handle normalises them) and its labels. */
static float *read_all(const sl_dataset *ds, int32_t **labels)
{
    sl_error err = {0};
    int64_t n = sl_dataset_count(ds), size = sl_dataset_sample_size(ds);
    float *x = malloc((size_t)(n * size) * sizeof *x);
    *labels = malloc((size_t)n * sizeof **labels);
    assert_true(x && *labels);
    assert_int_equal(sl_dataset_read(ds, 0, n, x, *labels, &err), SL_OK);
    return x;
}

/* A standardize run: the model keeps the data's computed mean and std, its checkpoint carries
 * them to a model built from the config alone, and predicting raw test samples gives the
 * classes the run's evaluation counted. */
static void test_model_keeps_input_normalize(void **state)
{
    (void)state;
    const char *set[] = {"train.epochs=2", "stats.enabled=false", "data.normalize=standardize"};
    sl_config *cfg = spiral(set, 3);
    seen s;
    sl_run_options o = options(&s);
    char ckpt[1024];
    snprintf(ckpt, sizeof ckpt, "%s", scratch("ck.safetensors"));
    o.checkpoint = ckpt;
    sl_run *r = must_run(cfg, &o);
    must_train(r);
    const sl_run_data *d = sl_run_datasets(r);
    assert_int_equal(d->normalize, SL_NORMALIZE_STANDARDIZE);
    assert_true(d->std > 0.0 && d->std != 1.0); /* computed from the training split */
    double mean, std;
    sl_model *model = sl_run_model(r);
    assert_int_equal(sl_model_input_normalize(model, &mean, &std), SL_NORMALIZE_STANDARDIZE);
    assert_true(mean == d->mean && std == d->std);

    /* Built from the config alone: no mean/std to know, so none; the checkpoint brings them. */
    sl_error err = {0};
    sl_model *loaded = sl_run_build_model(cfg, &err);
    assert_non_null(loaded);
    assert_int_equal(sl_model_input_normalize(loaded, NULL, NULL), SL_NORMALIZE_NONE);
    assert_int_equal(sl_model_load(loaded, ckpt, &err), SL_OK);
    assert_int_equal(sl_model_input_normalize(loaded, &mean, &std), SL_NORMALIZE_STANDARDIZE);
    assert_true(mean == d->mean && std == d->std);

    /* The raw test split: the same data opened without normalisation. */
    const char *raw_set[] = {"data.normalize=none"};
    sl_config *raw_cfg = spiral(raw_set, 1);
    sl_run_data raw;
    assert_int_equal(sl_run_data_open(raw_cfg, NULL, &raw, &err), SL_OK);
    int32_t *labels, *raw_labels;
    float *x = read_all(raw.test, &raw_labels);
    free(read_all(d->test, &labels));
    int64_t n = sl_dataset_count(d->test);
    assert_memory_equal(labels, raw_labels, (size_t)n * sizeof *labels);

    /* The run's evaluation path: sl_evaluate on the normalised split, one batch. */
    int64_t conf[9], mine[9] = {0};
    sl_eval_result ev = {.confusion = conf};
    assert_int_equal(sl_evaluate(model, d->test, n, cfg->loss, &ev, &err), SL_OK);
    assert_true(ev.accuracy == sl_run_last_epoch(r)->test.accuracy);
    int32_t *cls = malloc((size_t)n * sizeof *cls), *cls_loaded = malloc((size_t)n * sizeof *cls);
    assert_true(cls && cls_loaded);
    assert_int_equal(sl_predict(model, x, n, NULL, cls, &err), SL_OK);
    assert_int_equal(sl_predict(loaded, x, n, NULL, cls_loaded, &err), SL_OK);
    assert_memory_equal(cls, cls_loaded, (size_t)n * sizeof *cls);
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        mine[labels[i] * 3 + cls[i]]++;
        correct += cls[i] == labels[i];
    }
    assert_memory_equal(mine, conf, sizeof conf);
    assert_true((double)correct / (double)n == ev.accuracy);
    assert_true(ev.accuracy > 0.5); /* it did learn something: the classes are not all one */

    free(cls);
    free(cls_loaded);
    free(x);
    free(labels);
    free(raw_labels);
    sl_run_data_close(&raw);
    sl_config_free(raw_cfg);
    sl_model_free(loaded);
    sl_run_free(r);
    sl_config_free(cfg);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_null(sl_run_new(NULL, NULL, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    sl_error_clear(&err);
    assert_null(sl_run_new_file(NULL, NULL, 0, NULL, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    assert_int_equal(sl_run_train(NULL, &err), SL_ERR_INVALID);
    assert_int_equal(sl_run_train(NULL, NULL), SL_ERR_INVALID);
    sl_config *cfg = spiral(NULL, 0);
    sl_run_data empty = {0};
    sl_run_options o = {.data = &empty};
    sl_error_clear(&err);
    assert_null(sl_run_new(cfg, &o, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    /* A misspelt override: the config's error. */
    const char *typo[] = {"train.epoch=3"};
    assert_null(sl_run_new_file(tu_source_path("models/spiral_mlp.json"), typo, 1, NULL, &err));
    assert_int_equal(err.status, SL_ERR_CONFIG);
    /* A checkpoint directory that does not exist: found before training. */
    sl_run_options missing = {.checkpoint = "no/such/dir/ck.safetensors"};
    assert_null(sl_run_new(cfg, &missing, &err));
    assert_int_equal(err.status, SL_ERR_IO);
    assert_non_null(strstr(err.message, "cannot write the checkpoint in 'no/such/dir'"));
    /* Accessors of NULL. */
    assert_null(sl_run_model(NULL));
    assert_null(sl_run_last_epoch(NULL));
    assert_false(sl_run_stopped(NULL));
    assert_false(sl_run_checkpoint_exists(NULL));
    sl_run_free(NULL);
    sl_config_free(cfg);
}

/* Outputs that cannot be written: a device is refused before training; a write that fails
 * (a file-size limit with SIGXFSZ ignored, as `slope` runs) is SL_ERR_IO at that epoch. */
static void test_unwritable_metrics(void **state)
{
    (void)state;
    const char *set[] = {"train.epochs=3", "stats.enabled=false"};
    sl_config *cfg = spiral(set, 2);
    seen s;
    sl_run_options o = options(&s);
    sl_error err = {0};
    o.metrics = "/dev/null";
    assert_null(sl_run_new(cfg, &o, &err));
    assert_int_equal(err.status, SL_ERR_IO);
    assert_non_null(strstr(err.message, "/dev/null (the metrics file) is a character device"));
    char metrics[4096];
    snprintf(metrics, sizeof metrics, "%s", scratch("full.jsonl"));
    FILE *f = fopen(metrics, "w");
    assert_non_null(f);
    for (int i = 0; i < 64; i++)
        fputs("{\"filler\": \"to the size limit..............\"}\n", f);
    long size = ftell(f);
    fclose(f);
    o.metrics = metrics;
    sl_run *r = must_run(cfg, &o);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)size;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    sl_status st = sl_run_train(r, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(st, SL_ERR_IO);
    assert_non_null(strstr(err.message, "full.jsonl: writing the metrics failed"));
    assert_int_equal(s.epochs, 1);
    sl_run_free(r);
    /* A metrics file that cannot be opened: before training. */
    o.metrics = "no/such/dir/m.jsonl";
    assert_null(sl_run_new(cfg, &o, &err));
    assert_int_equal(err.status, SL_ERR_IO);
    assert_non_null(strstr(err.message, "cannot write the metrics file in 'no/such/dir'"));
    sl_config_free(cfg);
}

static void count_note(const char *note, void *user)
{
    int *n = user;
    if (strstr(note, "a temporary file left by an interrupted checkpoint write"))
        (*n)++;
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("half a checkpoint", f);
    fclose(f);
}

/* A run removes the temporary files a killed write of its own checkpoint left, saying so;
 * one a live writer holds (its flock), or of another path, stays. */
static void test_stale_temps_removed(void **state)
{
    (void)state;
    const char *set[] = {"train.epochs=1", "stats.enabled=false"};
    sl_config *cfg = spiral(set, 2);
    char ckpt[4096], stale[4096], live[4096], other[4096], odd[4096];
    snprintf(ckpt, sizeof ckpt, "%s", scratch("tmp.safetensors"));
    snprintf(stale, sizeof stale, "%s", scratch("tmp.safetensors.tmp.Ab12Cd"));
    snprintf(live, sizeof live, "%s", scratch("tmp.safetensors.tmp.Zz98Yy"));
    snprintf(other, sizeof other, "%s", scratch("other.safetensors.tmp.Ab12Cd"));
    snprintf(odd, sizeof odd, "%s", scratch("tmp.safetensors.tmp.Ab12"));
    touch(stale);
    touch(live);
    touch(other);
    touch(odd);
    int held = open(live, O_RDONLY);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX | LOCK_NB), 0);
    int notes = 0;
    sl_run_options o = {.checkpoint = ckpt, .on_note = count_note, .user = &notes};
    sl_run *r = must_run(cfg, &o);
    sl_run_free(r);
    assert_int_equal(notes, 1);
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
    assert_int_equal(access(odd, F_OK), 0);
    close(held);
    remove(live);
    remove(other);
    remove(odd);
    sl_config_free(cfg);
}

/* Expects sl_run_new to refuse opt with status and a message holding want, before it
 * loaded any data (no on_phase "loading data" seen). */
static void expect_output_refused(const sl_config *cfg, sl_run_options o, sl_status status,
                                  const char *want)
{
    sl_error err = {0};
    assert_null(sl_run_new(cfg, &o, &err));
    if (err.status != status || !strstr(err.message, want))
        fail_msg("wanted %s '%s', got %s '%s'", sl_status_name(status), want,
                 sl_status_name(err.status), err.message);
}

/* Every output is checked before the run starts: kind, writability, not an input, no two
 * outputs in one file.  A checkpoint may replace the one it resumes from. */
static void test_outputs_checked_first(void **state)
{
    (void)state;
    const char *set[] = {"train.epochs=1", "stats.enabled=false"};
    sl_config *cfg = spiral(set, 2);
    sl_run_options o = {0};
    o.checkpoint = "";
    expect_output_refused(cfg, o, SL_ERR_INVALID, "the checkpoint: the path is empty");
    o.checkpoint = "/dev/null";
    expect_output_refused(cfg, o, SL_ERR_IO, "/dev/null (the checkpoint) is a character device");
    o.checkpoint = scratch("");
    expect_output_refused(cfg, o, SL_ERR_IO, "(the checkpoint) is a directory");
    char fifo[4096], dangling[4096], ckpt[4096], metrics[4096], config[4096];
    snprintf(fifo, sizeof fifo, "%s", scratch("out.fifo"));
    remove(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    o.checkpoint = fifo;
    expect_output_refused(cfg, o, SL_ERR_IO, "(the checkpoint) is a FIFO");
    snprintf(dangling, sizeof dangling, "%s", scratch("dangling.safetensors"));
    remove(dangling);
    assert_int_equal(symlink("no-such-target", dangling), 0);
    o.checkpoint = dangling;
    expect_output_refused(cfg, o, SL_ERR_IO, "is a dangling symbolic link");
    /* Two outputs in one file, spelt differently. */
    snprintf(ckpt, sizeof ckpt, "%s", scratch("one.safetensors"));
    snprintf(metrics, sizeof metrics, "%s", scratch("./one.safetensors"));
    o.checkpoint = ckpt;
    o.metrics = metrics;
    expect_output_refused(cfg, o, SL_ERR_INVALID, "is both the metrics file and the checkpoint");
    o.metrics = NULL;
    /* An input as an output: the resumed checkpoint as the metrics file. */
    snprintf(ckpt, sizeof ckpt, "%s", scratch("in.safetensors"));
    o.checkpoint = ckpt;
    sl_run *r = must_run(cfg, &o);
    sl_error err = {0};
    assert_int_equal(sl_run_train(r, &err), SL_OK);
    sl_run_free(r);
    o.resume = ckpt;
    o.metrics = ckpt;
    o.checkpoint = NULL;
    expect_output_refused(cfg, o, SL_ERR_INVALID, "is the resumed checkpoint of this run");
    o.metrics = NULL;
    o.checkpoint = ckpt; /* replacing the checkpoint it resumes from is allowed */
    r = must_run(cfg, &o);
    sl_run_free(r);
    /* The config file as the checkpoint. */
    snprintf(config, sizeof config, "%s", scratch("own.json"));
    char *json = sl_config_to_json(cfg);
    FILE *f = fopen(config, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    free(json);
    sl_run_options c = {.checkpoint = config};
    assert_null(sl_run_new_file(config, NULL, 0, &c, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    assert_non_null(strstr(err.message, "is the config of this run"));
    remove(fifo);
    remove(dangling);
    sl_config_free(cfg);
}

static int setup_dir(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/slope-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir) || chdir(g_dir) != 0)
        return -1;
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    const char *names[] = {"m.jsonl", "ck.safetensors", "ck.best.safetensors", "stop.safetensors",
                           "good.safetensors", "runs_x.interrupted.safetensors",
                           "augment_stop.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        remove(scratch(names[i]));
    return rmdir(g_dir) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trains_and_reports_epochs),
        cmocka_unit_test(test_metrics_hold_stats_per_epoch),
        cmocka_unit_test(test_metrics_every_steps_inside_epochs),
        cmocka_unit_test(test_metrics_of_a_stopped_epoch),
        cmocka_unit_test(test_resume_refuses_schedule_change),
        cmocka_unit_test(test_checkpoint_and_keep_best),
        cmocka_unit_test(test_stop_and_resume_bit_identical),
        cmocka_unit_test(test_stop_and_resume_augmented),
        cmocka_unit_test(test_stop_without_checkpoint_path),
        cmocka_unit_test(test_nan_leaves_checkpoint),
        cmocka_unit_test(test_borrowed_model_and_data),
        cmocka_unit_test(test_model_keeps_input_normalize),
        cmocka_unit_test(test_unwritable_metrics),
        cmocka_unit_test(test_outputs_checked_first),
        cmocka_unit_test(test_stale_temps_removed),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_thread_options),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
