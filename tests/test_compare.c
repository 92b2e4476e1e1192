/*
 * test_compare.c - the activation comparison (slope/compare.h) on the spiral
 * config: every run starts from the same shared weights, one row per
 * activation layer and report (at init, per epoch or every N steps), a run
 * that diverges is recorded as failed while the others finish, the files
 * have their header and rows, and bad activation labels are refused.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "slope/compare.h"

#define CSV_HEADER "act,seed,epoch,step,progress,layer,type,units,dead,dead_frac,sparsity,died," \
                   "revived,grad_mean_abs,alpha_mean,alpha_min,alpha_max,test_acc,neg_mean,"  \
                   "neg_p01,below_minus1"

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* models/spiral_mlp.json (300 points, batches of 32: 10 steps an epoch) with epochs and a
 * 100-example probe, plus one more override (or NULL). */
static sl_config *spiral_config(int epochs, const char *extra)
{
    char *json = read_text(tu_source_path("models/spiral_mlp.json"));
    char ep[32];
    snprintf(ep, sizeof ep, "train.epochs=%d", epochs);
    const char *overrides[3] = {ep, "stats.probe.count=100", extra};
    sl_error err = {0};
    sl_config *cfg = sl_config_parse(json, "spiral_mlp.json", overrides, extra ? 3 : 2, &err);
    free(json);
    if (!cfg)
        fail_msg("%s", err.message);
    return cfg;
}

typedef struct counts {
    int started, epochs, failed;
    size_t last_failed;
} counts;

static void on_started(const sl_compare *c, size_t run, void *user)
{
    counts *k = user;
    assert_int_equal(run, (size_t)k->started);
    assert_true(sl_compare_get_run(c, run)->attempted);
    k->started++;
}

static void on_epoch(const sl_compare *c, size_t run, int epoch, double acc, void *user)
{
    counts *k = user;
    assert_true(epoch >= 1 && epoch <= sl_compare_config(c)->train.epochs);
    assert_true(acc >= 0.0 && acc <= 1.0);
    assert_true(run < sl_compare_num_runs(c));
    k->epochs++;
}

static void on_failed(const sl_compare *c, size_t run, const sl_error *err, void *user)
{
    counts *k = user;
    assert_true(run < sl_compare_num_runs(c));
    assert_int_not_equal(err->status, SL_OK);
    k->failed++;
    k->last_failed = run;
}

/* A scratch output directory for one test (static buffer). */
static const char *scratch(const char *name)
{
    static char buf[600];
    snprintf(buf, sizeof buf, "%s/test_compare.%d.%s", SLOPE_BINARY_DIR, (int)getpid(), name);
    return buf;
}

static sl_compare *run_compare(const sl_config *cfg, const char **acts, size_t n, counts *k,
                               const char *out_dir)
{
    sl_compare_options o = sl_compare_defaults();
    o.acts = acts;
    o.n_acts = n;
    o.out_dir = out_dir;
    o.callbacks = (sl_compare_callbacks){on_started, on_epoch, on_failed, k};
    sl_error err = {0};
    sl_compare *c = sl_compare_new(cfg, &o, &err);
    if (!c)
        fail_msg("%s", err.message);
    assert_int_equal(sl_compare_write(c, &err), SL_ERR_STATE); /* nothing ran yet */
    if (sl_compare_run_all(c, &err) != SL_OK)
        fail_msg("%s", err.message);
    assert_int_equal(sl_compare_run_all(c, &err), SL_ERR_STATE); /* once only */
    return c;
}

/* relu, leaky_relu:0.1, prelu and gelu from identical weights; a row per layer and report. */
static void test_shared_weights_and_rows(void **state)
{
    (void)state;
    sl_config *cfg = spiral_config(2, NULL);
    const char *acts[] = {"relu", "leaky_relu:0.1", "prelu", "gelu"};
    const sl_layer_type types[] = {SL_LAYER_RELU, SL_LAYER_LEAKY_RELU, SL_LAYER_PRELU,
                                   SL_LAYER_GELU};
    counts k = {0};
    sl_compare *c = run_compare(cfg, acts, 4, &k, scratch("rows"));
    rmdir(scratch("rows"));
    assert_int_equal(k.started, 4);
    assert_int_equal(k.epochs, 4 * 2);
    assert_int_equal(k.failed, 0);
    assert_int_equal(sl_compare_probe_count(c), 100);
    assert_int_equal(sl_compare_num_runs(c), 4);
    assert_null(sl_compare_get_run(c, 4));
    assert_true(sl_compare_weights_shared(c));
    const sl_compare_run *r0 = sl_compare_get_run(c, 0);
    for (size_t i = 0; i < 4; i++) {
        const sl_compare_run *r = sl_compare_get_run(c, i);
        assert_string_equal(r->label, acts[i]);
        assert_int_equal(r->act.type, types[i]);
        assert_false(r->failed);
        assert_int_equal(r->status, SL_OK);
        assert_true(r->hashed);
        /* 3 linear layers (weight + bias each) are shared; PReLU's slopes are not. */
        assert_int_equal(r->shared_tensors, 6);
        assert_int_equal(r->shared_equal, 6);
        assert_int_equal(r->shared_scalars, 2 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3);
        assert_true(r->initial_hash == r0->initial_hash);
        assert_true(r->final_test_acc > 0.0 && r->final_test_acc <= 1.0);
    }
    assert_true(fabsf(sl_compare_get_run(c, 1)->act.alpha - 0.1f) < 1e-7f);
    /* One seed: the config's, and the titles name PReLU's slopes. */
    assert_int_equal(sl_compare_num_seeds(c), 1);
    assert_int_equal(sl_compare_num_acts(c), 4);
    assert_true(sl_compare_get_run(c, 3)->seed == 42);
    assert_string_equal(sl_compare_get_run(c, 2)->title, "prelu (shared slope)");
    assert_string_equal(sl_compare_get_run(c, 1)->title, "leaky_relu:0.1");

    /* 4 runs x (init + 2 epochs) x 2 activation layers, in the order measured. */
    size_t n_rows;
    const sl_compare_row *rows = sl_compare_rows(c, &n_rows);
    assert_int_equal(n_rows, 24);
    for (size_t j = 0; j < n_rows; j++) {
        const sl_compare_row *row = &rows[j];
        size_t report = (j % 6) / 2;
        assert_int_equal(row->run, j / 6);
        assert_int_equal(row->epoch, (int)report);
        assert_int_equal(row->step, (int64_t)report * 10);
        assert_true(fabs(row->progress - (double)report) < 1e-12);
        assert_int_equal(row->l.layer, j % 2 ? 3 : 1);
        assert_int_equal(row->l.type, types[j / 6]);
        assert_int_equal(row->l.units, 64);
        assert_int_equal(row->l.n_alpha, types[j / 6] == SL_LAYER_PRELU ? 1 : 0);
        if (report == 0)
            assert_int_equal(row->l.died + row->l.revived, 0);
    }

    /* The table's view: first and last report and the died/revived totals. */
    sl_error err = {0};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sl_compare_num_layers(c, i), 2);
        for (size_t m = 0; m < 2; m++) {
            sl_compare_layer layer;
            assert_int_equal(sl_compare_get_layer(c, i, m, &layer, &err), SL_OK);
            const sl_compare_row *first = &rows[6 * i + m], *last = &rows[6 * i + 4 + m];
            assert_int_equal(layer.layer, first->l.layer);
            assert_memory_equal(&layer.first, &first->l, sizeof layer.first);
            assert_memory_equal(&layer.last, &last->l, sizeof layer.last);
            assert_int_equal(layer.died, rows[6 * i + 2 + m].l.died + last->l.died);
            assert_int_equal(layer.revived, rows[6 * i + 2 + m].l.revived + last->l.revived);
        }
        assert_true(sl_compare_get_run(c, i)->final_test_acc == rows[6 * i + 5].test_acc);
    }
    sl_compare_layer layer;
    assert_int_equal(sl_compare_get_layer(c, 0, 2, &layer, &err), SL_ERR_INVALID);
    assert_int_equal(sl_compare_get_layer(c, 4, 0, &layer, &err), SL_ERR_INVALID);
    sl_compare_free(c);
    sl_config_free(cfg);
}

/* An elu alpha of 1e30 overflows to Inf on the first step: that run fails, the rest finish. */
static void test_diverged_run_is_data(void **state)
{
    (void)state;
    sl_config *cfg = spiral_config(1, NULL);
    const char *acts[] = {"relu", "elu:1e30", "prelu:channel"};
    counts k = {0};
    sl_compare *c = run_compare(cfg, acts, 3, &k, scratch("diverged"));
    rmdir(scratch("diverged"));
    assert_int_equal(k.started, 3);
    assert_int_equal(k.failed, 1);
    assert_int_equal(k.last_failed, 1);
    assert_int_equal(k.epochs, 2);
    const sl_compare_run *bad = sl_compare_get_run(c, 1);
    assert_true(bad->attempted && bad->failed);
    assert_int_equal(bad->status, SL_ERR_NUMERIC);
    assert_non_null(strstr(bad->error, "step 1"));
    assert_true(bad->hashed); /* it did start from the shared weights */
    assert_int_equal(sl_compare_num_layers(c, 1), 2); /* its report at init is kept */
    for (size_t i = 0; i < 3; i += 2) {
        const sl_compare_run *r = sl_compare_get_run(c, i);
        assert_true(r->attempted);
        assert_false(r->failed);
        assert_string_equal(r->error, "");
    }
    assert_true(sl_compare_weights_shared(c));
    size_t n_rows;
    sl_compare_rows(c, &n_rows);
    assert_int_equal(n_rows, 2 * 2 + 2 + 2 * 2);
    sl_compare_free(c);
    sl_config_free(cfg);
}

/* sl_compare_print_table into a string (static buffer). */
static const char *table_text(const sl_compare *c, int *any_prelu)
{
    static char text[16384];
    FILE *f = tmpfile();
    assert_non_null(f);
    sl_error err = {0};
    assert_int_equal(sl_compare_print_table(c, f, any_prelu, &err), SL_OK);
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The end columns of the whitespace-separated tokens of line[from..] (at most max). */
static int token_ends(const char *line, size_t from, int *ends, int max)
{
    int n = 0;
    for (size_t i = from; line[i] && line[i] != '\n' && n < max; i++)
        if (line[i] != ' ' && (line[i + 1] == ' ' || line[i + 1] == '\n' || !line[i + 1]))
            ends[n++] = (int)i + 1;
    return n;
}

/* Every line of a run (it starts with the run's title) ends its right-aligned cells where the
 * header's names end: header token cols[k] is column k + 1 (column 0 is the title); a failed
 * run's line has its first `failed_cols` cells, then "failed: ". */
static void check_columns(const sl_compare *c, const char *text, const int *cols, int ncols,
                          int failed_cols)
{
    const char *header = strstr(text, "\nactivation ");
    assert_non_null(header);
    header++;
    int hend[32];
    int nh = token_ends(header, 0, hend, 32);
    assert_true(nh > cols[ncols - 1]);
    int checked = 0;
    for (const char *line = header; line && *line; line = strchr(line, '\n') + 1) {
        size_t title = 0; /* the longest run title the line starts with */
        for (size_t i = 0; i < sl_compare_num_runs(c); i++) {
            const char *t = sl_compare_get_run(c, i)->title;
            if (strncmp(line, t, strlen(t)) == 0 && line[strlen(t)] == ' ' && strlen(t) > title)
                title = strlen(t);
        }
        if (!title || strncmp(line + title, " seed ", 6) == 0) /* not a row of the table */
            continue;
        int ends[32];
        int n = token_ends(line, title, ends, 32);
        int failed = strstr(line, "  failed: ") && strstr(line, "  failed: ") < strchr(line, '\n');
        int want = failed ? failed_cols : ncols;
        assert_true(n >= want);
        for (int k = 0; k < want; k++)
            if (ends[k] != hend[cols[k]])
                fail_msg("column %d ends at %d, not %d under the header, in: %.*s", k + 1,
                         ends[k], hend[cols[k]], (int)(strchr(line, '\n') - line), line);
        checked++;
    }
    assert_true(checked >= 4);
}

/* Long labels, a failed run and PReLU's slopes: every column stays where its header is. */
static void test_table_columns(void **state)
{
    (void)state;
    sl_config *cfg = spiral_config(1, NULL);
    const char *acts[] = {"relu", "prelu:channel:0.1", "leaky_relu:0.01", "elu:1e30"};
    counts k = {0};
    sl_compare *c = run_compare(cfg, acts, 4, &k, scratch("table"));
    rmdir(scratch("table"));
    int any_prelu = 0;
    sl_error bad = {0};
    assert_int_equal(sl_compare_print_table(c, NULL, NULL, &bad), SL_ERR_INVALID);
    const char *text = table_text(c, &any_prelu);
    assert_true(any_prelu);
    assert_non_null(strstr(text, "\nprelu:channel:0.1 (per-channel slopes) "));
    assert_non_null(strstr(text, "\nelu:1e30 "));
    assert_non_null(strstr(text, "  failed: step 1"));
    /* layer units dead@init dead@end died revived sparsity |grad| neg_mean neg_p1 y<-1 acc */
    static const int cols[] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 15};
    check_columns(c, text, cols, 12, 3);
    sl_compare_free(c);

    /* Over seeds: layer units fin div dead@init dead@end sparsity died revived acc p_dead
     * p_acc p_div neg_mean neg_p1 y<-1. */
    sl_compare_options o = sl_compare_defaults();
    o.acts = acts;
    o.n_acts = 4;
    o.seeds = 2;
    o.out_dir = scratch("table2");
    sl_error err = {0};
    c = sl_compare_new(cfg, &o, &err);
    assert_non_null(c);
    assert_int_equal(sl_compare_print_table(c, stdout, NULL, &err), SL_ERR_STATE);
    assert_int_equal(sl_compare_run_all(c, &err), SL_OK);
    rmdir(scratch("table2"));
    text = table_text(c, NULL);
    static const int seed_cols[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 15, 17, 19, 21, 22};
    check_columns(c, text, seed_cols, 16, 16);
    assert_non_null(strstr(text, "elu:1e30 seed 42 diverged: "));
    sl_compare_free(c);
    sl_config_free(cfg);
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* stats.every 7 over 2 epochs of 10 steps: reports at steps 0, 7, 14 and the end (20). */
static void test_every_steps_and_files(void **state)
{
    (void)state;
    sl_config *cfg = spiral_config(2, "stats.every=7");
    const char *acts[] = {"relu", "prelu:channel"};
    char dir[600];
    snprintf(dir, sizeof dir, "%s/test_compare.%d/out", SLOPE_BINARY_DIR, (int)getpid());
    counts k = {0};
    sl_compare *c = run_compare(cfg, acts, 2, &k, dir);
    assert_int_equal(k.epochs, 2 * 2);
    size_t n_rows;
    const sl_compare_row *rows = sl_compare_rows(c, &n_rows);
    assert_int_equal(n_rows, 2 * 4 * 2);
    const int64_t steps[] = {0, 7, 14, 20};
    const int epochs[] = {0, 0, 1, 2};
    for (size_t j = 0; j < n_rows; j++) {
        assert_int_equal(rows[j].step, steps[(j % 8) / 2]);
        assert_int_equal(rows[j].epoch, epochs[(j % 8) / 2]);
    }
    assert_int_equal(sl_compare_get_run(c, 1)->act.per_channel, 1);

    sl_error err = {0};
    if (sl_compare_write(c, &err) != SL_OK) /* creates test_compare.<pid>/out */
        fail_msg("%s", err.message);
    char path[700];
    snprintf(path, sizeof path, "%s/stats.csv", dir);
    char *csv = read_text(path);
    assert_memory_equal(csv, CSV_HEADER "\n", strlen(CSV_HEADER) + 1);
    assert_int_equal(count_lines(csv), 1 + (int)n_rows);
    assert_non_null(strstr(csv, "\nprelu:channel,42,2,20,2,3,prelu,64,"));
    free(csv);
    unlink(path);
    snprintf(path, sizeof path, "%s/seeds.csv", dir);
    unlink(path);

    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *text = read_text(path);
    cJSON *s = cJSON_Parse(text);
    free(text);
    assert_non_null(s);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(s, "initial_weights_shared")));
    assert_int_equal(cJSON_GetObjectItem(s, "stats_every_steps")->valueint, 7);
    assert_int_equal(cJSON_GetObjectItem(s, "probe_count")->valueint, 100);
    assert_string_equal(cJSON_GetObjectItem(s, "initial_weights_from")->valuestring, "relu");
    assert_string_equal(cJSON_GetObjectItem(s, "config")->valuestring, "spiral_mlp.json");
    cJSON *runs = cJSON_GetObjectItem(s, "runs");
    assert_int_equal(cJSON_GetArraySize(runs), 2);
    const char *h0 = cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 0), "initial_weights_hash")
                         ->valuestring;
    cJSON *pr = cJSON_GetArrayItem(runs, 1);
    assert_string_equal(cJSON_GetObjectItem(pr, "initial_weights_hash")->valuestring, h0);
    cJSON *hists = cJSON_GetObjectItem(pr, "alpha_histograms");
    assert_int_equal(cJSON_GetArraySize(hists), 2);
    cJSON *counts_arr = cJSON_GetObjectItem(cJSON_GetArrayItem(hists, 0), "counts");
    assert_int_equal(cJSON_GetArraySize(counts_arr), 20);
    double total = 0;
    for (int b = 0; b < 20; b++)
        total += cJSON_GetArrayItem(counts_arr, b)->valuedouble;
    assert_true(total == 64.0); /* one slope per channel */
    cJSON_Delete(s);
    unlink(path);

    snprintf(path, sizeof path, "%s/plots.gp", dir);
    char *gp = read_text(path);
    assert_non_null(strstr(gp, "$dead_1_0 << EOD\n0 0\n0.7 "));
    assert_non_null(strstr(gp, "$alpha_3_1 << EOD\n"));
    assert_non_null(strstr(gp, "/out/dying.png'"));
    assert_non_null(strstr(gp, "/out/prelu.png'"));
    assert_non_null(strstr(gp, "prelu:channel (per-channel slopes)"));
    assert_null(strstr(gp, "$band_")); /* one seed: no bands */
    free(gp);
    unlink(path);
    rmdir(dir);
    *strrchr(dir, '/') = '\0';
    rmdir(dir);
    sl_compare_free(c);
    sl_config_free(cfg);
}

/* Caller-given specs instead of labels: the labels are then the type names. */
static void test_specs(void **state)
{
    (void)state;
    sl_config *cfg = spiral_config(1, NULL);
    sl_layer_spec specs[2] = {sl_layer_defaults(SL_LAYER_LEAKY_RELU),
                              sl_layer_defaults(SL_LAYER_ELU)};
    specs[0].alpha = 0.2f;
    sl_compare_options o = sl_compare_defaults();
    o.specs = specs;
    o.n_acts = 2;
    sl_error err = {0};
    sl_compare *c = sl_compare_new(cfg, &o, &err);
    assert_non_null(c);
    assert_string_equal(sl_compare_out_dir(c), "compare-spiral-mlp-leaky"); /* the default */
    sl_compare_free(c);
    o.out_dir = scratch("specs");
    c = sl_compare_new(cfg, &o, &err);
    assert_non_null(c);
    assert_int_equal(sl_compare_run_all(c, &err), SL_OK);
    rmdir(scratch("specs"));
    assert_string_equal(sl_compare_get_run(c, 0)->label, "leaky_relu");
    assert_string_equal(sl_compare_get_run(c, 1)->label, "elu");
    assert_true(sl_compare_get_run(c, 0)->act.alpha == 0.2f);
    size_t n_rows;
    const sl_compare_row *rows = sl_compare_rows(c, &n_rows);
    assert_int_equal(n_rows, 2 * 2 * 2);
    assert_int_equal(rows[n_rows - 1].l.type, SL_LAYER_ELU);
    assert_true(sl_compare_weights_shared(c));
    sl_compare_free(c);

    specs[1] = sl_layer_defaults(SL_LAYER_LINEAR);
    assert_null(sl_compare_new(cfg, &o, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    assert_non_null(strstr(err.message, "specs[1]"));
    sl_config_free(cfg);
}

/* An output directory that cannot be made fails before any run starts. */
static void test_unwritable_out_dir(void **state)
{
    (void)state;
    sl_config *cfg = spiral_config(1, NULL);
    const char *acts[] = {"relu"};
    char dir[600];
    snprintf(dir, sizeof dir, "%s/CMakeCache.txt/out", SLOPE_BINARY_DIR); /* under a file */
    counts k = {0};
    sl_compare_options o = sl_compare_defaults();
    o.acts = acts;
    o.n_acts = 1;
    o.out_dir = dir;
    o.callbacks = (sl_compare_callbacks){on_started, on_epoch, on_failed, &k};
    sl_error err = {0};
    sl_compare *c = sl_compare_new(cfg, &o, &err);
    assert_non_null(c);
    assert_int_equal(sl_compare_run_all(c, &err), SL_ERR_IO);
    assert_non_null(strstr(err.message, "CMakeCache.txt"));
    assert_int_equal(k.started, 0);
    assert_false(sl_compare_get_run(c, 0)->attempted);
    sl_compare_free(c);
    o.out_dir = ""; /* an empty name is refused, not scanned past */
    c = sl_compare_new(cfg, &o, &err);
    assert_non_null(c);
    assert_int_equal(sl_compare_run_all(c, &err), SL_ERR_IO);
    assert_non_null(strstr(err.message, "empty"));
    sl_compare_free(c);
    sl_config_free(cfg);
}

static void test_bad_labels(void **state)
{
    (void)state;
    sl_config *cfg = spiral_config(1, NULL);
    const char *bad[] = {"bogus",         "linear",       "relu:0.5", "leaky_relu:abc",
                         "prelu:1:2:3",   "leaky_relu:inf", "",       "leaky_relu:1.5",
                         "elu:1e300" /* finite as a double, not as a float */};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *acts[] = {"relu", bad[i]};
        sl_compare_options o = sl_compare_defaults();
        o.acts = acts;
        o.n_acts = 2;
        sl_error err = {0};
        assert_null(sl_compare_new(cfg, &o, &err));
        assert_int_equal(err.status, SL_ERR_CONFIG);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\"", bad[i]);
        if (!strstr(err.message, quoted))
            fail_msg("label %s not named in: %s", quoted, err.message);
    }
    sl_error err = {0};
    sl_compare_options o = sl_compare_defaults();
    assert_null(sl_compare_new(cfg, &o, &err)); /* no activations */
    assert_int_equal(err.status, SL_ERR_INVALID);
    assert_null(sl_compare_new(NULL, &o, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    assert_null(sl_compare_new(cfg, NULL, &err));
    assert_int_equal(sl_compare_run_all(NULL, &err), SL_ERR_INVALID);
    assert_int_equal(sl_compare_write(NULL, &err), SL_ERR_INVALID);
    sl_compare_free(NULL);
    sl_config_free(cfg);
}


#define PI 3.14159265358979323846

/* ---- the statistics ------------------------------------------------------------------------ */

/* Student's t density, for an independent check of the cdf by Simpson's rule. */
static double t_density(double x, double df)
{
    return exp(lgamma((df + 1) / 2) - lgamma(df / 2)) / sqrt(df * PI) *
           pow(1 + x * x / df, -(df + 1) / 2);
}

static double simpson_cdf(double t, double df)
{
    int n = 20000; /* P(T <= t) = 1/2 + integral from 0 to t */
    double h = t / n, s = t_density(0, df) + t_density(t, df);
    for (int i = 1; i < n; i++)
        s += (i % 2 ? 4 : 2) * t_density(i * h, df);
    return 0.5 + s * h / 3;
}

static void test_statistics(void **state)
{
    (void)state;
    /* Fisher's exact test.  [[1, 9], [11, 3]]: two-sided p = 0.002759 (the worked example of
     * Wikipedia's "Fisher's exact test"; exactly 2 * 0.00137... from the hypergeometric). */
    assert_true(fabs(sl_compare_fisher_exact(1, 9, 11, 3) - 0.002759) < 5e-7);
    assert_true(isnan(sl_compare_fisher_exact((int64_t)1 << 40, 1, 1, 1))); /* bounded loop */

    /* Constant samples of different sizes: no difference at all (t = 0, p = 1), and an
     * estimate whose mean is the value itself and spread exactly 0. */
    const double c3[3] = {0.1, 0.1, 0.1}, c2[2] = {0.1, 0.1};
    double tc, dfc;
    assert_true(sl_compare_welch(c3, 3, c2, 2, &tc, &dfc) == 1.0 && tc == 0.0);
    sl_compare_estimate ec = sl_compare_estimate_of(c3, 3);
    assert_true(ec.mean == 0.1 && ec.sd == 0.0 && ec.lo == 0.1 && ec.hi == 0.1);
    /* Fisher's tea tasting (The Design of Experiments, 1935): [[3, 1], [1, 3]],
     * P(table) = 16/70, two-sided p = (1 + 16 + 16 + 1)/70 = 34/70. */
    assert_true(fabs(sl_compare_fisher_exact(3, 1, 1, 3) - 34.0 / 70.0) < 1e-12);
    /* 3 of 3 finished against 0 of 3: 2 tables of probability 1/20 each: p = 0.1. */
    assert_true(fabs(sl_compare_fisher_exact(3, 0, 0, 3) - 0.1) < 1e-12);
    assert_true(sl_compare_fisher_exact(5, 0, 5, 0) == 1.0);
    assert_true(sl_compare_fisher_exact(0, 0, 0, 0) == 1.0);
    assert_true(isnan(sl_compare_fisher_exact(-1, 0, 0, 0)));

    /* The t cdf: closed forms for 1 (Cauchy: 1/2 + atan(t)/pi) and 2 degrees of freedom
     * (1/2 + t / (2 sqrt(2 + t^2))), and Simpson's rule on the density elsewhere. */
    const double ts[] = {-30.0, -2.5, -0.3, 0.0, 0.7, 1.96, 12.706};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        double t = ts[i];
        assert_true(fabs(sl_compare_t_cdf(t, 1) - (0.5 + atan(t) / PI)) < 1e-12);
        assert_true(fabs(sl_compare_t_cdf(t, 2) - (0.5 + t / (2 * sqrt(2 + t * t)))) < 1e-12);
        if (t > 0)
            assert_true(fabs(sl_compare_t_cdf(t, 5.882353) - simpson_cdf(t, 5.882353)) < 1e-9);
    }
    assert_true(isnan(sl_compare_t_cdf(1.0, 0.0)));
    /* t(0.975, df) of the usual tables (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2), 3 decimals. */
    const double df[] = {1, 2, 3, 4, 5, 10, 30};
    const double q[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.228, 2.042};
    for (int i = 0; i < 7; i++) {
        assert_true(fabs(sl_compare_t_quantile(0.975, df[i]) - q[i]) < 5e-4);
        assert_true(fabs(sl_compare_t_quantile(0.025, df[i]) + q[i]) < 5e-4);
    }
    assert_true(fabs(sl_compare_t_quantile(0.975, 1) - tan(PI * 0.475)) < 1e-9);
    assert_true(isnan(sl_compare_t_quantile(1.0, 3)));

    /* Welch, by hand: x = 1..5 (mean 3, variance 2.5), y = 2, 4, .., 10 (mean 6, variance 10):
     * se^2 = 0.5 + 2 = 2.5, t = -3 / sqrt(2.5), df = 2.5^2 / (0.5^2/4 + 2^2/4) = 100/17. */
    const double x[] = {1, 2, 3, 4, 5}, y[] = {2, 4, 6, 8, 10};
    double t, d;
    double p = sl_compare_welch(x, 5, y, 5, &t, &d);
    assert_true(fabs(t + 3.0 / sqrt(2.5)) < 1e-12);
    assert_true(fabs(d - 100.0 / 17.0) < 1e-12);
    assert_true(fabs(p - 2.0 * simpson_cdf(t, d)) < 1e-9 || fabs(p - 2.0 * (1.0 - simpson_cdf(-t, d))) < 1e-9);
    assert_true(p > 0.1 && p < 0.11); /* about 0.107 */
    const double z[] = {0, 0, 0}, one[] = {1, 1, 1};
    assert_true(sl_compare_welch(z, 3, z, 3, &t, &d) == 1.0 && t == 0.0);
    assert_true(sl_compare_welch(one, 3, z, 3, &t, NULL) == 0.0 && isinf(t));
    assert_true(isnan(sl_compare_welch(x, 1, y, 5, &t, &d)) && isnan(t) && isnan(d));

    /* The estimate: mean, sd and the t-interval. */
    sl_compare_estimate e = sl_compare_estimate_of(x, 5);
    assert_true(e.n == 5 && e.mean == 3.0 && fabs(e.sd - sqrt(2.5)) < 1e-12);
    assert_true(fabs(e.hi - 3.0 - sl_compare_t_quantile(0.975, 4) * sqrt(2.5 / 5)) < 1e-12);
    e = sl_compare_estimate_of(x, 1);
    assert_true(e.mean == 1.0 && isnan(e.lo) && isnan(e.hi));
}

/* ---- seeds --------------------------------------------------------------------------------- */

/* seeds.csv, split: rows[i] = its fields (up to 8), "" for empty ones. */
typedef struct seeds_row {
    char act[32];
    unsigned long long seed;
    int layer, diverged;
    long long units;
    char dead[32], sparsity[32], acc[32];
} seeds_row;

static int read_seeds_csv(const char *path, seeds_row *rows, int max)
{
    char *text = read_text(path);
    const char *header = "act,seed,layer,units,dead_frac,sparsity,test_acc,diverged\n";
    assert_memory_equal(text, header, strlen(header));
    int n = 0;
    for (char *line = strchr(text, '\n') + 1; *line && n < max; n++) {
        char *end = strchr(line, '\n');
        assert_non_null(end);
        *end = '\0';
        char *f[8] = {0};
        int k = 0;
        for (char *p = line; k < 8; k++) {
            f[k] = p;
            char *comma = strchr(p, ',');
            if (!comma)
                break;
            *comma = '\0';
            p = comma + 1;
        }
        assert_int_equal(k, 7); /* exactly 8 fields */
        seeds_row *r = &rows[n];
        snprintf(r->act, sizeof r->act, "%s", f[0]);
        r->seed = strtoull(f[1], NULL, 10);
        r->layer = atoi(f[2]);
        r->units = atoll(f[3]);
        snprintf(r->dead, sizeof r->dead, "%s", f[4]);
        snprintf(r->sparsity, sizeof r->sparsity, "%s", f[5]);
        snprintf(r->acc, sizeof r->acc, "%s", f[6]);
        r->diverged = atoi(f[7]);
        line = end + 1;
    }
    free(text);
    return n;
}

/* relu, elu:1e30 (diverges) and leaky_relu:0.1 from 3 seeds, 1 epoch. */
static void test_seeds(void **state)
{
    (void)state;
    sl_config *cfg = spiral_config(1, NULL);
    const char *acts[] = {"relu", "elu:1e30", "leaky_relu:0.1"};
    char dir[600];
    snprintf(dir, sizeof dir, "%s", scratch("seeds"));
    counts k = {0};
    sl_compare_options o = sl_compare_defaults();
    o.acts = acts;
    o.n_acts = 3;
    o.seeds = 3;
    o.out_dir = dir;
    o.callbacks = (sl_compare_callbacks){on_started, on_epoch, on_failed, &k};
    sl_error err = {0};
    sl_compare *c = sl_compare_new(cfg, &o, &err);
    assert_non_null(c);
    assert_int_equal(sl_compare_run_all(c, &err), SL_OK); /* divergence is not an error */
    assert_int_equal(sl_compare_num_runs(c), 9);
    assert_int_equal(sl_compare_num_seeds(c), 3);
    assert_int_equal(k.started, 9);
    assert_int_equal(k.failed, 3);
    assert_int_equal(k.epochs, 6);
    /* Seed-major order; every run of a seed starts from that seed's weights, and the seeds
     * draw different weights. */
    for (size_t i = 0; i < 9; i++) {
        const sl_compare_run *r = sl_compare_get_run(c, i);
        assert_int_equal(r->act_index, i % 3);
        assert_int_equal(r->seed_index, (int)(i / 3));
        assert_true(r->seed == 42 + i / 3);
        assert_string_equal(r->label, acts[i % 3]);
        assert_true(r->attempted && r->hashed);
        assert_int_equal(r->failed, i % 3 == 1);
        assert_int_equal(r->shared_equal, r->shared_tensors);
        const sl_compare_run *first = sl_compare_get_run(c, i - i % 3);
        assert_true(r->initial_hash == first->initial_hash);
        if (i >= 3)
            assert_true(r->initial_hash != sl_compare_get_run(c, i - 3)->initial_hash);
    }
    assert_true(sl_compare_weights_shared(c));
    assert_int_equal(sl_compare_write(c, &err), SL_OK);

    /* seeds.csv: a row per run and layer, the diverged ones empty. */
    char path[700];
    snprintf(path, sizeof path, "%s/seeds.csv", dir);
    seeds_row rows[32];
    int n = read_seeds_csv(path, rows, 32);
    unlink(path);
    assert_int_equal(n, 9 * 2);
    for (int i = 0; i < n; i++) {
        const seeds_row *r = &rows[i];
        assert_string_equal(r->act, acts[(i / 2) % 3]);
        assert_true(r->seed == 42 + (unsigned long long)(i / 6));
        assert_int_equal(r->layer, i % 2 ? 3 : 1);
        assert_int_equal(r->units, 64);
        assert_int_equal(r->diverged, (i / 2) % 3 == 1);
        if (r->diverged) {
            assert_string_equal(r->dead, "");
            assert_string_equal(r->acc, "");
        } else {
            assert_true(r->dead[0] && r->acc[0] && r->sparsity[0]);
        }
    }

    /* The aggregates are the means of seeds.csv's rows; the tests use the same values. */
    assert_int_equal(sl_compare_num_act_layers(c), 2);
    assert_int_equal(sl_compare_num_aggregates(c), 6);
    double ref_dead[2][3], ref_acc[2][3];
    for (size_t i = 0; i < 6; i++) {
        sl_compare_aggregate g;
        assert_int_equal(sl_compare_get_aggregate(c, i, &g, &err), SL_OK);
        assert_int_equal(g.act, i / 2);
        assert_int_equal(g.layer, i % 2 ? 3 : 1);
        assert_int_equal(g.runs, 3);
        assert_int_equal(g.finished, i / 2 == 1 ? 0 : 3);
        assert_int_equal(g.diverged, i / 2 == 1 ? 3 : 0);
        double dead[3], acc[3];
        int m = 0;
        for (int j = 0; j < n; j++) {
            if (strcmp(rows[j].act, acts[i / 2]) || rows[j].layer != g.layer || rows[j].diverged)
                continue;
            dead[m] = strtod(rows[j].dead, NULL);
            acc[m++] = strtod(rows[j].acc, NULL);
        }
        assert_int_equal(m, g.finished);
        assert_int_equal(g.dead_frac.n, m);
        assert_int_equal(g.test_acc.n, m);
        if (m == 0) {
            assert_true(isnan(g.dead_frac.mean) && isnan(g.test_acc.mean));
            assert_true(fabs(g.p_diverged - 0.1) < 1e-12); /* 3/0 against 0/3 */
            assert_true(isnan(g.p_dead));
            continue;
        }
        /* Negative growth: the means of the runs' last reports. */
        double neg[3], p01[3], below[3];
        for (int sd = 0; sd < 3; sd++) {
            sl_compare_layer l;
            assert_int_equal(sl_compare_get_layer(c, (size_t)sd * 3 + g.act, i % 2, &l, &err),
                             SL_OK);
            neg[sd] = l.last.neg_mean;
            p01[sd] = l.last.neg_p01;
            below[sd] = l.last.below_minus1;
            assert_true(p01[sd] <= neg[sd] && neg[sd] < 0.0);
            assert_true(below[sd] >= 0.0 && below[sd] <= 1.0);
        }
        assert_int_equal(g.neg_mean.n, 3);
        assert_true(fabs(g.neg_mean.mean - sl_compare_estimate_of(neg, 3).mean) < 1e-12);
        assert_true(fabs(g.neg_p01.mean - sl_compare_estimate_of(p01, 3).mean) < 1e-12);
        assert_true(fabs(g.below_minus1.mean - sl_compare_estimate_of(below, 3).mean) < 1e-12);
        sl_compare_estimate d = sl_compare_estimate_of(dead, m), a = sl_compare_estimate_of(acc, m);
        assert_true(fabs(g.dead_frac.mean - d.mean) < 1e-6); /* seeds.csv has 6 digits */
        assert_true(fabs(g.test_acc.mean - a.mean) < 1e-6);
        assert_true(fabs(g.dead_frac.hi - g.dead_frac.lo - (d.hi - d.lo)) < 1e-5);
        assert_true(g.test_acc.lo <= g.test_acc.mean && g.test_acc.mean <= g.test_acc.hi);
        if (g.act == 0) {
            assert_true(isnan(g.p_diverged) && isnan(g.p_dead) && isnan(g.p_acc));
            memcpy(ref_dead[i % 2], dead, sizeof dead);
            memcpy(ref_acc[i % 2], acc, sizeof acc);
        } else { /* Welch's t against relu's three values of the same layer */
            assert_true(g.p_diverged == 1.0);
            double t, df;
            double p_acc = sl_compare_welch(acc, 3, ref_acc[i % 2], 3, &t, &df);
            assert_true(fabs(g.p_acc - p_acc) < 1e-3);
            assert_true(fabs(g.t_acc - t) < 1e-2 * fmax(1.0, fabs(t)));
            double p_dead = sl_compare_welch(dead, 3, ref_dead[i % 2], 3, &t, &df);
            if (isnan(p_dead))
                assert_true(isnan(g.p_dead));
            else
                assert_true(fabs(g.p_dead - p_dead) < 1e-9); /* k/64: exact in seeds.csv */
        }
    }
    sl_compare_aggregate g;
    assert_int_equal(sl_compare_get_aggregate(c, 6, &g, &err), SL_ERR_INVALID);

    /* summary.json carries the aggregates; plots.gp the bands. */
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *text = read_text(path);
    cJSON *s = cJSON_Parse(text);
    free(text);
    unlink(path);
    assert_non_null(s);
    assert_int_equal(cJSON_GetObjectItem(s, "seeds")->valueint, 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "seed_list")), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "runs")), 9);
    cJSON *aggs = cJSON_GetObjectItem(s, "aggregates");
    assert_int_equal(cJSON_GetArraySize(aggs), 6);
    cJSON *elu = cJSON_GetArrayItem(aggs, 2);
    assert_int_equal(cJSON_GetObjectItem(elu, "diverged")->valueint, 3);
    cJSON *vs = cJSON_GetObjectItem(elu, "vs_first");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(vs, "diverged"), "test")
                            ->valuestring, "fisher_exact_two_sided");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(elu, "dead_frac"), "mean")));
    cJSON_Delete(s);
    snprintf(path, sizeof path, "%s/plots.gp", dir);
    char *gp = read_text(path);
    assert_non_null(strstr(gp, "$band_1_0 << EOD\n0 "));
    assert_non_null(strstr(gp, "filledcurves"));
    assert_non_null(strstr(gp, "elu:1e30: all 3 diverged"));
    assert_null(strstr(gp, "alpha.png"));
    free(gp);
    unlink(path);
    snprintf(path, sizeof path, "%s/stats.csv", dir);
    unlink(path);
    rmdir(dir);
    sl_compare_free(c);

    o.seeds = -1;
    assert_null(sl_compare_new(cfg, &o, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    sl_config_free(cfg);
}

/* A sweep of leaky_relu slopes draws alpha.png. */
static void test_alpha_sweep(void **state)
{
    (void)state;
    sl_config *cfg = spiral_config(1, NULL);
    const char *acts[] = {"leaky_relu:0.01", "leaky_relu:0.2"};
    sl_compare_options o = sl_compare_defaults();
    o.acts = acts;
    o.n_acts = 2;
    o.seeds = 2;
    char dir[600];
    snprintf(dir, sizeof dir, "%s", scratch("sweep"));
    o.out_dir = dir;
    sl_error err = {0};
    sl_compare *c = sl_compare_new(cfg, &o, &err);
    assert_non_null(c);
    assert_int_equal(sl_compare_run_all(c, &err), SL_OK);
    assert_int_equal(sl_compare_write(c, &err), SL_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/plots.gp", dir);
    char *gp = read_text(path);
    assert_non_null(strstr(gp, "$sweep << EOD\n0.01 "));
    assert_non_null(strstr(gp, "\n0.2 "));
    assert_non_null(strstr(gp, "alpha.png'"));
    assert_non_null(strstr(gp, "yerrorlines"));
    free(gp);
    const char *files[] = {"plots.gp", "stats.csv", "seeds.csv", "summary.json"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    sl_compare_free(c);
    sl_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_weights_and_rows),
        cmocka_unit_test(test_diverged_run_is_data),
        cmocka_unit_test(test_table_columns),
        cmocka_unit_test(test_every_steps_and_files),
        cmocka_unit_test(test_specs),
        cmocka_unit_test(test_unwritable_out_dir),
        cmocka_unit_test(test_bad_labels),
        cmocka_unit_test(test_statistics),
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_alpha_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
