/*
 * test_config.c - the config module: every shipped config loads and builds;
 * defaults are filled; every class of error reports the file, the JSON path
 * and a useful message; overrides apply before validation; the emitted JSON
 * loads back into the same config.
 *
 * JSON in this file is written with single quotes (json() turns them into
 * double quotes) to keep it readable.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slope/config.h"

#include "nn_internal.h" /* sl_nn_key_set: the table's keys by offset */

/* ---- helpers ------------------------------------------------------------------- */

/* s with every ' replaced by " (a static buffer: one at a time). */
static const char *json(const char *s)
{
    static char buf[4096];
    size_t n = strlen(s);
    assert_true(n < sizeof buf);
    for (size_t i = 0; i <= n; i++)
        buf[i] = s[i] == '\'' ? '"' : s[i];
    return buf;
}

#define MINIMAL "{'data':{'dataset':'spiral'},'model':{'input':[2],'layers':[" \
                "{'type':'linear','out':8},{'type':'leaky_relu'},{'type':'linear','out':3}]}"

static sl_config *load_ok(const char *text)
{
    sl_error err = {0};
    sl_config *cfg = sl_config_load_string(json(text), "t.json", &err);
    if (!cfg)
        fail_msg("unexpected error: %s", err.message);
    return cfg;
}

static sl_config *load_with(const char *text, const char *const *ov, size_t n, sl_error *err)
{
    return sl_config_parse(json(text), "t.json", ov, n, err);
}

static void assert_message(const sl_error *err, sl_status status, const char *want)
{
    if (err->status != status || strcmp(err->message, want) != 0)
        fail_msg("got %s \"%s\"\nwant %s \"%s\"", sl_status_name(err->status), err->message,
                 sl_status_name(status), want);
}

static void assert_contains(const sl_error *err, sl_status status, const char *part)
{
    if (err->status != status || !strstr(err->message, part))
        fail_msg("got %s \"%s\"\nwant %s containing \"%s\"", sl_status_name(err->status),
                 err->message, sl_status_name(status), part);
}

/* Loading text must fail with SL_ERR_CONFIG and exactly this message. */
static void expect_error(const char *text, const char *want)
{
    sl_error err = {0};
    sl_config *cfg = sl_config_load_string(json(text), "t.json", &err);
    if (cfg)
        fail_msg("loaded, but expected \"%s\"", want);
    assert_message(&err, SL_ERR_CONFIG, want);
}

/* The same, checking only that the message contains part. */
static void expect_error_part(const char *text, const char *part)
{
    sl_error err = {0};
    sl_config *cfg = sl_config_load_string(json(text), "t.json", &err);
    if (cfg)
        fail_msg("loaded, but expected an error containing \"%s\"", part);
    assert_contains(&err, SL_ERR_CONFIG, part);
}

/* A minimal config with one more top-level section (text without the braces' end). */
static void expect_section_error(const char *section, const char *want)
{
    char text[2048];
    snprintf(text, sizeof text, "%s,%s}", MINIMAL, section);
    expect_error(text, want);
}

/* A config whose layers are the given list, on input [1, 8, 8]. */
static void expect_layer_error(const char *layers, const char *want)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{'data':{'dataset':'mnist'},'model':{'input':[1,8,8],'layers':[%s]}}", layers);
    expect_error(text, want);
}

/* ---- shipped configs ---------------------------------------------------------------- */

static void check_shipped(const char *path)
{
    sl_error err = {0};
    sl_config *cfg = sl_config_load_file(path, &err);
    if (!cfg)
        fail_msg("%s", err.message);
    sl_model *m = sl_config_build_model(cfg, &err);
    if (!m)
        fail_msg("%s", err.message);
    assert_int_equal(sl_model_init(m, cfg->model.init, cfg->seed, &err), SL_OK);
    char *text = sl_config_to_json(cfg);
    assert_non_null(text);
    sl_config *again = sl_config_load_string(text, path, &err);
    if (!again)
        fail_msg("%s: emitted JSON does not load: %s", path, err.message);
    sl_config_free(again);
    free(text);
    sl_model_free(m);
    sl_config_free(cfg);
}

static void test_shipped_configs(void **state)
{
    (void)state;
    static const char *const expected[] = {"spiral_mlp.json",       "fashion_mlp.json",
                                           "fashion_mlp_prelu.json", "fashion_cnn.json",
                                           "fashion_resnet.json",    "fashion_rnn.json"};
    enum { N_EXPECTED = sizeof expected / sizeof expected[0] };
    int found[N_EXPECTED] = {0};
    char dir[4096], path[4352];
    snprintf(dir, sizeof dir, "%s", tu_source_path("models"));
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        check_shipped(path);
        for (int i = 0; i < N_EXPECTED; i++)
            found[i] |= strcmp(e->d_name, expected[i]) == 0;
    }
    closedir(d);
    for (int i = 0; i < N_EXPECTED; i++)
        if (!found[i])
            fail_msg("models/%s is missing", expected[i]);
}

static void test_shipped_contents(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_config *cfg = sl_config_load_file(tu_source_path("models/fashion_mlp_prelu.json"), &err);
    assert_non_null(cfg);
    assert_string_equal(cfg->data.dataset, "fashion-mnist");
    assert_int_equal(cfg->data.normalize, SL_NORMALIZE_SCALE01);
    assert_int_equal(cfg->model.layers[2].type, SL_LAYER_PRELU);
    assert_int_equal(cfg->model.layers[2].per_channel, 1);
    assert_true(cfg->model.layers[2].alpha == 0.25f);
    assert_int_equal(cfg->schedule.kind, SL_SCHEDULE_COSINE);
    sl_config_free(cfg);
}

/* ---- defaults ---------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    sl_config *cfg = load_ok(MINIMAL "}");
    assert_string_equal(cfg->name, "t");
    assert_string_equal(cfg->origin, "t.json");
    assert_int_equal(cfg->seed, 42);
    assert_true(cfg->label_smoothing == 0.0f);
    assert_string_equal(cfg->data.dataset, "spiral");
    assert_null(cfg->data.train.images);
    assert_int_equal(cfg->data.normalize, SL_NORMALIZE_NONE);
    assert_int_equal(cfg->data.has_mean_std, 0);
    assert_true(cfg->data.validation == 0.0);
    assert_int_equal(cfg->data.spiral_classes, 3);
    assert_int_equal(cfg->data.spiral_points, 100);
    assert_true(cfg->data.spiral_noise == 0.2f);
    assert_int_equal(cfg->model.input_ndim, 1);
    assert_int_equal(cfg->model.input[0], 2);
    assert_int_equal(cfg->model.init, SL_INIT_KAIMING_UNIFORM);
    assert_int_equal(cfg->model.num_layers, 3);
    assert_int_equal(cfg->model.layers[0].bias, 1);
    assert_true(cfg->model.layers[1].alpha == 0.01f);
    assert_int_equal(cfg->loss, SL_LOSS_CROSS_ENTROPY);
    sl_optim_spec sgd = sl_optim_defaults(SL_OPTIM_SGD);
    assert_memory_equal(&cfg->optimizer, &sgd, sizeof sgd);
    sl_schedule_spec constant = sl_schedule_defaults(SL_SCHEDULE_CONSTANT);
    assert_memory_equal(&cfg->schedule, &constant, sizeof constant);
    assert_int_equal(cfg->train.epochs, 10);
    assert_int_equal(cfg->train.batch_size, 64);
    assert_int_equal(cfg->train.drop_last, 0);
    assert_int_equal(cfg->train.shuffle, 1);
    assert_int_equal(cfg->train.threads, 0);
    assert_int_equal(cfg->train.precision, SL_PRECISION_FP32);
    assert_null(cfg->checkpoint.path);
    assert_int_equal(cfg->checkpoint.every, 1);
    assert_int_equal(cfg->checkpoint.keep_best, 0);
    assert_int_equal(cfg->stats.enabled, 0);
    assert_int_equal(cfg->stats.probe_split, SL_SPLIT_TRAIN);
    assert_int_equal(cfg->stats.probe_count, 10000);
    assert_int_equal(cfg->stats.every_steps, 0);
    sl_config_free(cfg);
}

static void test_type_defaults(void **state)
{
    (void)state;
    sl_config *cfg = load_ok(MINIMAL ",'optimizer':{'type':'adamw'},'schedule':{'type':'step'},"
                                     "'loss':'mse'}");
    sl_optim_spec adamw = sl_optim_defaults(SL_OPTIM_ADAMW);
    assert_memory_equal(&cfg->optimizer, &adamw, sizeof adamw);
    sl_schedule_spec step = sl_schedule_defaults(SL_SCHEDULE_STEP);
    assert_memory_equal(&cfg->schedule, &step, sizeof step);
    assert_int_equal(cfg->loss, SL_LOSS_MSE);
    sl_config_free(cfg);
}

static void test_every_layer(void **state)
{
    (void)state;
    sl_config *cfg = load_ok(
        "{'data':{'dataset':'mnist'},'model':{'input':[1,28,28],'init':'pytorch','layers':["
        "{'type':'conv2d','out':4,'kernel':5,'stride':2,'padding':2,'bias':false},"
        "{'type':'batch_norm','momentum':0.2,'eps':0.001},{'type':'rrelu','lower':0.1,'upper':0.2},"
        "{'type':'max_pool2d','kernel':3},{'type':'avg_pool2d','kernel':2,'stride':1,'padding':1},"
        "{'type':'elu','alpha':0.5},{'type':'selu'},{'type':'flatten'},{'type':'dropout','p':0.1},"
        "{'type':'linear','out':20},{'type':'prelu','num_parameters':1,'init':0.1},"
        "{'type':'sigmoid'},{'type':'tanh'},{'type':'relu'},{'type':'linear','out':10}]}}");
    const sl_layer_spec *l = cfg->model.layers;
    assert_int_equal(cfg->model.num_layers, 15);
    assert_int_equal(cfg->model.init, SL_INIT_PYTORCH);
    assert_int_equal(l[0].out, 4);
    assert_int_equal(l[0].kernel, 5);
    assert_int_equal(l[0].stride, 2);
    assert_int_equal(l[0].padding, 2);
    assert_int_equal(l[0].bias, 0);
    assert_true(l[1].momentum == 0.2f && l[1].eps == 0.001f);
    assert_true(l[2].lower == 0.1f && l[2].upper == 0.2f);
    assert_int_equal(l[3].kernel, 3);
    assert_int_equal(l[3].stride, 3); /* a pool's stride defaults to its kernel */
    assert_int_equal(l[4].stride, 1);
    assert_int_equal(l[4].padding, 1);
    assert_true(l[5].alpha == 0.5f);
    assert_int_equal(l[6].type, SL_LAYER_SELU);
    assert_true(l[8].p == 0.1f);
    assert_int_equal(l[10].per_channel, 0);
    assert_true(l[10].alpha == 0.1f);
    sl_error err = {0};
    sl_model *m = sl_config_build_model(cfg, &err);
    if (!m)
        fail_msg("%s", err.message);
    sl_model_free(m);
    sl_config_free(cfg);
}

static void test_explicit_files(void **state)
{
    (void)state;
    sl_config *cfg = load_ok(
        "{'data':{'train':{'images':'a-images.gz','labels':'a-labels.gz'},'test':{'csv':'t.csv'},"
        "'classes':4,'normalize':'standardize','mean':33.3,'std':78.5,'validation':0.1},"
        "'model':{'input':[1,4,4],'layers':[{'type':'flatten'},{'type':'linear','out':4}]}}");
    assert_null(cfg->data.dataset);
    assert_string_equal(cfg->data.train.images, "a-images.gz");
    assert_string_equal(cfg->data.train.labels, "a-labels.gz");
    assert_null(cfg->data.train.csv);
    assert_string_equal(cfg->data.test.csv, "t.csv");
    assert_int_equal(cfg->data.classes, 4);
    assert_int_equal(cfg->data.normalize, SL_NORMALIZE_STANDARDIZE);
    assert_int_equal(cfg->data.has_mean_std, 1);
    assert_true(cfg->data.mean == 33.3 && cfg->data.std == 78.5);
    assert_true(cfg->data.validation == 0.1);
    assert_int_equal(cfg->data.spiral_classes, 0);
    sl_config_free(cfg);
}

static void test_stats_every(void **state)
{
    (void)state;
    sl_config *cfg = load_ok(MINIMAL ",'stats':{'enabled':true,'every':250,"
                                     "'probe':{'split':'test','count':500}}}");
    assert_int_equal(cfg->stats.enabled, 1);
    assert_int_equal(cfg->stats.every_steps, 250);
    assert_int_equal(cfg->stats.probe_split, SL_SPLIT_TEST);
    assert_int_equal(cfg->stats.probe_count, 500);
    sl_config_free(cfg);
}

/* ---- invalid JSON ------------------------------------------------------------------- */

static void test_invalid_json(void **state)
{
    (void)state;
    /* cJSON points at the key that should follow the comma. */
    expect_error("{'data': {'dataset': 'spiral'},,}", "t.json:1:33: invalid JSON near '}'");
    expect_error("{\n  'a': 1,\n  'b': tru\n}", "t.json:3:8: invalid JSON near 'tru'");
    expect_error("{'a': [1, 2}", "t.json:1:12: invalid JSON near '}'");
    expect_error("{'a': 1} x", "t.json:1:10: invalid JSON near 'x'");
    expect_error("", "t.json:1:1: invalid JSON: unexpected end of input");
    expect_error("{'a': 'unterminated", "t.json:1:8: invalid JSON near 'unterminated'");
    expect_error("[1, 2]", "t.json: expected a JSON object {...} at the top level");
}

/* Raw bytes that are not UTF-8 are refused where they are (a checkpoint's metadata, which
 * holds the config, must be UTF-8: found only at the first save, the run would be lost). */
static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_error("{'name': 'sp\xff\xfeiral'}", "t.json:1:13: not valid UTF-8 (byte 0xff)");
    expect_error("{\n 'name': 'caf\xc3'}", "t.json:2:14: not valid UTF-8 (byte 0xc3)");
    /* Escapes are fine: cJSON turns them into UTF-8. */
    sl_config *cfg = load_ok("{'name': 'caf\\u00e9 \xc3\xa9','data':{'dataset':'spiral'},"
                             "'model':{'input':[2],'layers':[{'type':'linear','out':3}]}}");
    assert_string_equal(cfg->name, "caf\xc3\xa9 \xc3\xa9");
    sl_config_free(cfg);
    const char *ov[] = {"name=\"ok\"", "name=\"x\xff\""};
    sl_error err = {0};
    assert_null(load_with(MINIMAL "}", ov, 2, &err));
    assert_message(&err, SL_ERR_CONFIG, "t.json: override 2 is not valid UTF-8");
}

/* A directory opens for reading on Linux; it is refused before any read. */
static void test_config_path_is_directory(void **state)
{
    (void)state;
    sl_error err = {0};
    const char *dir = tu_source_path("tests/configs");
    assert_null(sl_config_load_file(dir, &err));
    char want[4352];
    snprintf(want, sizeof want, "%s: is a directory, not a regular file", dir);
    assert_message(&err, SL_ERR_READ, want);
}

static void test_invalid_json_file(void **state)
{
    (void)state;
    const char *path = tu_source_path("tests/configs/bad_json.json");
    char want[4352];
    snprintf(want, sizeof want,
             "%s:4:3: invalid JSON near '\"model\": { \"input\": [2], \"layer'", path);
    sl_error err = {0};
    assert_null(sl_config_load_file(path, &err));
    assert_message(&err, SL_ERR_CONFIG, want);
}

/* ---- fixtures: each names the file and the JSON path -------------------------------- */

static void check_fixture(const char *file, sl_status status, const char *rest)
{
    char rel[256], path[4096], want[4352];
    snprintf(rel, sizeof rel, "tests/configs/%s", file);
    snprintf(path, sizeof path, "%s", tu_source_path(rel));
    snprintf(want, sizeof want, "%s: %s", path, rest);
    sl_error err = {0};
    sl_config *cfg = sl_config_load_file(path, &err);
    sl_model *m = cfg ? sl_config_build_model(cfg, &err) : NULL;
    if (m)
        fail_msg("%s: loaded and built, expected \"%s\"", file, want);
    if (status == SL_ERR_SHAPE)
        assert_contains(&err, status, want);
    else
        assert_message(&err, status, want);
    sl_config_free(cfg);
}

static void test_fixtures(void **state)
{
    (void)state;
    check_fixture("bad_unknown_key.json", SL_ERR_CONFIG,
                  "model.layers[1].ot: unknown key (did you mean \"out\"?)");
    check_fixture("bad_type.json", SL_ERR_CONFIG,
                  "model.layers[3].alpha: expected a number, got \"0.1x\"");
    check_fixture("bad_range.json", SL_ERR_CONFIG, "optimizer.lr: must be > 0, got -0.1");
    check_fixture("bad_integer.json", SL_ERR_CONFIG,
                  "model.layers[0].out: expected an integer, got 3.5");
    check_fixture("bad_enum.json", SL_ERR_CONFIG,
                  "schedule.type: unknown value \"cosin\" (did you mean \"cosine\"?); valid "
                  "values: \"constant\", \"step\", \"cosine\"");
    check_fixture("bad_layer_type.json", SL_ERR_CONFIG,
                  "model.layers[1].type: unknown value \"leaky_rleu\" (did you mean "
                  "\"leaky_relu\"?); valid values: \"linear\", \"conv2d\", \"max_pool2d\", "
                  "\"avg_pool2d\", \"flatten\", \"dropout\", \"batch_norm\", \"relu\", "
                  "\"leaky_relu\", \"prelu\", \"rrelu\", \"elu\", \"selu\", \"sigmoid\", "
                  "\"tanh\", \"gelu\", \"residual\", \"rnn\"");
    expect_section_error("'train':{'precision':'fp61'}",
                         "t.json: train.precision: unknown value \"fp61\" (did you mean "
                         "\"fp32\"?); valid values: \"fp32\", \"bf16\"");
    expect_section_error("'train':{'precision':16}",
                         "t.json: train.precision: expected one of \"fp32\", \"bf16\", got 16");
    check_fixture("bad_shape.json", SL_ERR_SHAPE, "model.layers[2]: layer 2 (linear)");
    check_fixture("bad_augment_spiral.json", SL_ERR_CONFIG,
                  "data.augment.crop: needs image data [C, H, W]; the spiral's samples are "
                  "points [2]");
    check_fixture("bad_augment_key.json", SL_ERR_CONFIG,
                  "data.augment.flips: unknown key (did you mean \"flip\"?)");
    /* The nested block is named by its JSON path, and the fix is in the message. */
    check_fixture("bad_residual_shape.json", SL_ERR_SHAPE,
                  "model.layers[2].layers[1]: layer 2.layers.1 (residual): identity shortcut "
                  "needs the block's layers to keep its input shape [8, 28, 28], but they give "
                  "[16, 14, 14]; use \"shortcut\": \"projection\"");
    /* An rnn reads sequences [T, F]: on images it is refused, saying how to read them. */
    check_fixture("bad_rnn_input.json", SL_ERR_SHAPE,
                  "model.layers[0]: layer 0 (rnn): input [1, 28, 28]: rnn needs a sequence "
                  "input [T, F] (steps, features per step); a model input of [28, 28] reads "
                  "each [1, 28, 28] image as 28 rows of 28 pixels");
    /* 784 x 4,000,000 weights: refused when the model is built, before any allocation. */
    check_fixture("bad_too_many_params.json", SL_ERR_CONFIG,
                  "model.layers[1]: layer 1 (linear): more than 2147483648 parameters (the model "
                  "limit: 2^31)");
}

/* ---- keys ---------------------------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_layer_error("{'type':'flatten'},{'type':'linear','ot':3}",
                       "t.json: model.layers[1].ot: unknown key (did you mean \"out\"?)");
    expect_section_error("'optimizer':{'type':'sgd','momentun':0.9}",
                         "t.json: optimizer.momentun: unknown key (did you mean \"momentum\"?)");
    expect_section_error("'trian':{}", "t.json: trian: unknown key (did you mean \"train\"?)");
    expect_section_error("'colour':'red'",
                         "t.json: colour: unknown key (the keys of the config are \"name\", "
                         "\"seed\", \"data\", \"model\", \"loss\", \"label_smoothing\", "
                         "\"optimizer\", \"schedule\", \"train\", \"checkpoint\", \"stats\")");
    expect_layer_error("{'type':'relu','alpha':0.1}",
                       "t.json: model.layers[0].alpha: not a setting of a \"relu\" layer (its "
                       "keys: \"type\"); remove it, e.g. with --set model.layers[0].alpha=null");
    expect_section_error("'optimizer':{'type':'adam','momentum':0.9}",
                         "t.json: optimizer.momentum: not a setting of the \"adam\" optimizer "
                         "(its keys: \"type\", \"lr\", \"betas\", \"eps\", \"weight_decay\", "
                         "\"decay_bias\", \"decay_prelu\", \"decay_norm\", \"clip_grad_norm\"); "
                         "remove it, e.g. with --set optimizer.momentum=null");
    expect_section_error("'schedule':{'type':'constant','gamma':0.5}",
                         "t.json: schedule.gamma: not a setting of the \"constant\" schedule "
                         "(its keys: \"type\", \"warmup_epochs\"); remove it, e.g. with --set "
                         "schedule.gamma=null");
    expect_section_error("'train':{'epochs':3,'epochs':4}", "t.json: train.epochs: duplicate key");
}

static void test_missing_keys(void **state)
{
    (void)state;
    expect_error("{'model':{'input':[2],'layers':[{'type':'linear','out':3}]}}",
                 "t.json: missing key \"data\"");
    expect_error("{'data':{'dataset':'spiral'},'model':{'layers':[{'type':'linear','out':3}]}}",
                 "t.json: model: missing key \"input\"");
    expect_error("{'data':{},'model':{'input':[2],'layers':[{'type':'linear','out':3}]}}",
                 "t.json: data: missing key \"dataset\" (or explicit \"train\" files)");
    expect_layer_error("{'type':'flatten'},{'type':'linear'}",
                       "t.json: model.layers[1]: missing key \"out\"");
    expect_layer_error("{'out':3}", "t.json: model.layers[0]: missing key \"type\"");
    expect_error("{'data':{'train':{'images':'x'}},'model':{'input':[2],"
                 "'layers':[{'type':'relu'}]}}",
                 "t.json: data.train: missing key \"labels\" (IDX files come in pairs)");
}

/* ---- types, ranges, integers, enums ----------------------------------------------------- */

static void test_wrong_types(void **state)
{
    (void)state;
    expect_layer_error("{'type':'leaky_relu','alpha':'0.1x'}",
                       "t.json: model.layers[0].alpha: expected a number, got \"0.1x\"");
    expect_layer_error("{'type':'flatten'},{'type':'linear','out':3,'bias':1}",
                       "t.json: model.layers[1].bias: expected true or false, got 1");
    expect_section_error("'name':7", "t.json: name: expected a string, got 7");
    expect_section_error("'train':[1]", "t.json: train: expected an object {...}, got an array");
    expect_error("{'data':{'dataset':'spiral'},'model':{'input':2,'layers':[{'type':'relu'}]}}",
                 "t.json: model.input: expected the shape of one sample, 1 to 3 sizes such as "
                 "[1, 28, 28], got 2");
    expect_error("{'data':{'dataset':'spiral'},'model':{'input':[2],'layers':{'type':'relu'}}}",
                 "t.json: model.layers: expected an array of layers [{\"type\": ...}, ...]");
    expect_layer_error("'relu'", "t.json: model.layers[0]: expected an object {...}, got a string");
    expect_section_error("'optimizer':{'type':'adam','betas':0.9}",
                         "t.json: optimizer.betas: expected two numbers [beta1, beta2], got 0.9");
    expect_section_error("'stats':{'every':'step'}",
                         "t.json: stats.every: expected \"epoch\" or a number of steps, got "
                         "\"step\"");
    expect_layer_error("{'type':'prelu','num_parameters':8}",
                       "t.json: model.layers[0].num_parameters: expected 1 (one shared slope) or "
                       "\"channel\" (one per channel), got 8");
}

static void test_out_of_range(void **state)
{
    (void)state;
    expect_section_error("'optimizer':{'lr':0}", "t.json: optimizer.lr: must be > 0, got 0");
    expect_section_error("'optimizer':{'momentum':-0.5}",
                         "t.json: optimizer.momentum: must be in [0, 1), got -0.5");
    expect_section_error("'optimizer':{'type':'adam','betas':[0.9,1]}",
                         "t.json: optimizer.betas[1]: must be in [0, 1), got 1");
    expect_layer_error("{'type':'dropout','p':1}",
                       "t.json: model.layers[0].p: must be in [0, 1), got 1");
    expect_layer_error("{'type':'flatten'},{'type':'linear','out':0}",
                       "t.json: model.layers[1].out: must be >= 1, got 0");
    expect_layer_error("{'type':'max_pool2d','kernel':2,'padding':2}",
                       "t.json: model.layers[0].padding: must be <= 1, got 2");
    expect_layer_error("{'type':'rrelu','lower':0.5,'upper':0.25}",
                       "t.json: model.layers[0].upper: needs lower <= upper, got lower 0.5 and "
                       "upper 0.25");
    expect_error("{'data':{'dataset':'spiral','validation':1},'model':{'input':[2],'layers':["
                 "{'type':'linear','out':3}]}}",
                 "t.json: data.validation: must be in [0, 1), got 1");
    expect_section_error("'seed':-1", "t.json: seed: must be >= 0, got -1");
    expect_section_error("'label_smoothing':1",
                         "t.json: label_smoothing: must be in [0, 1), got 1");
    expect_section_error("'label_smoothing':-0.1",
                         "t.json: label_smoothing: must be in [0, 1), got -0.1");
    expect_section_error("'train':{'batch_size':0}",
                         "t.json: train.batch_size: must be >= 1, got 0");
    expect_section_error("'optimizer':{'lr':1e999}",
                         "t.json: optimizer.lr: the number is too large");
    expect_section_error("'optimizer':{'lr':1e300}",
                         "t.json: optimizer.lr: 1e+300 is too large for a float");
    /* Positive as JSON, 0 as a float: refused, not trained with (fuzz_override found the
     * schedule's gamma; tests/fuzz/regressions keeps the input). */
    expect_section_error("'optimizer':{'lr':1e-50}",
                         "t.json: optimizer.lr: 1e-50 rounds to 0 as a float, outside the "
                         "allowed range");
    expect_section_error("'schedule':{'type':'step','gamma':0.51e-45}",
                         "t.json: schedule.gamma: 5.1e-46 rounds to 0 as a float, outside the "
                         "allowed range");
    expect_section_error("'optimizer':{'type':'adam','eps':1e-50}",
                         "t.json: optimizer.eps: 1e-50 rounds to 0 as a float, outside the "
                         "allowed range");
    expect_layer_error("{'type':'batch_norm','eps':1e-50},{'type':'flatten'},"
                       "{'type':'linear','out':10}",
                       "t.json: model.layers[0].eps: 1e-50 rounds to 0 as a float, outside the "
                       "allowed range");
}

static void test_non_integral(void **state)
{
    (void)state;
    expect_layer_error("{'type':'flatten'},{'type':'linear','out':3.5}",
                       "t.json: model.layers[1].out: expected an integer, got 3.5");
    expect_section_error("'train':{'epochs':2.5}",
                         "t.json: train.epochs: expected an integer, got 2.5");
    expect_error("{'data':{'dataset':'spiral'},'model':{'input':[1,28.5],"
                 "'layers':[{'type':'relu'}]}}",
                 "t.json: model.input[1]: expected an integer, got 28.5");
    expect_section_error("'train':{'epochs':'3'}",
                         "t.json: train.epochs: expected an integer, got \"3\"");
}

static void test_unknown_enums(void **state)
{
    (void)state;
    expect_error("{'data':{'dataset':'spiral','normalize':'zscore'},'model':{'input':[2],"
                 "'layers':[{'type':'relu'}]}}",
                 "t.json: data.normalize: unknown value \"zscore\"; valid values: \"none\", "
                 "\"scale01\", \"standardize\"");
    expect_section_error("'loss':'nll'",
                         "t.json: loss: unknown value \"nll\"; valid values: \"cross_entropy\", "
                         "\"mse\"");
    expect_section_error("'optimizer':{'type':'Adam'}",
                         "t.json: optimizer.type: unknown value \"Adam\" (did you mean \"adam\"?); "
                         "valid values: \"sgd\", \"adam\", \"adamw\"");
    expect_error_part("{'data':{'dataset':'spiral'},'model':{'input':[2],'init':'he',"
                      "'layers':[{'type':'relu'}]}}",
                      "model.init: unknown value \"he\"; valid values: \"kaiming_uniform\", "
                      "\"kaiming_normal\", \"xavier_uniform\", \"xavier_normal\", \"pytorch\"");
    expect_section_error("'stats':{'probe':{'split':'val'}}",
                         "t.json: stats.probe.split: unknown value \"val\"; valid values: "
                         "\"train\", \"test\"");
    expect_layer_error("{'type':'softmax'}",
                       "t.json: model.layers[0].type: unknown value \"softmax\"; valid values: "
                       "\"linear\", \"conv2d\", \"max_pool2d\", \"avg_pool2d\", \"flatten\", "
                       "\"dropout\", \"batch_norm\", \"relu\", \"leaky_relu\", \"prelu\", "
                       "\"rrelu\", \"elu\", \"selu\", \"sigmoid\", \"tanh\", \"gelu\", \"residual\", "
                       "\"rnn\"");
}

static void test_conflicts(void **state)
{
    (void)state;
    expect_error("{'data':{'dataset':'mnist','train':{'csv':'a.csv'}},'model':{'input':[2],"
                 "'layers':[{'type':'relu'}]}}",
                 "t.json: data.train: only for explicit files; \"dataset\" \"mnist\" describes "
                 "its own");
    expect_error("{'data':{'train':{'csv':'a','images':'b','labels':'c'}},'model':{'input':[2],"
                 "'layers':[{'type':'relu'}]}}",
                 "t.json: data.train.images: give either \"csv\" or \"images\" + \"labels\", not "
                 "both");
    expect_error("{'data':{'dataset':'mnist','mean':0.1,'std':0.3},'model':{'input':[2],"
                 "'layers':[{'type':'relu'}]}}",
                 "t.json: data.mean: only used with \"normalize\": \"standardize\"");
    expect_error("{'data':{'dataset':'mnist','normalize':'standardize','std':0.3},'model':{"
                 "'input':[2],'layers':[{'type':'relu'}]}}",
                 "t.json: data.std: give both \"mean\" and \"std\" (or neither, to compute them "
                 "from the training data)");
    expect_error("{'data':{'dataset':'mnist','spiral':{'classes':2}},'model':{'input':[2],"
                 "'layers':[{'type':'relu'}]}}",
                 "t.json: data.spiral: only for \"dataset\": \"spiral\"");
    expect_error("{'data':{'dataset':'../etc'},'model':{'input':[2],'layers':[{'type':'relu'}]}}",
                 "t.json: data.dataset: \"../etc\" is not a dataset name (letters, digits, '.', "
                 "'_' and '-', naming a descriptor in datasets/)");
    expect_section_error("'optimizer':{'nesterov':true}",
                         "t.json: optimizer.nesterov: needs momentum > 0 and dampening 0");
    expect_section_error("'loss':'mse','label_smoothing':0.1",
                         "t.json: label_smoothing: needs \"loss\": \"cross_entropy\", not \"mse\"");
    expect_section_error("'schedule':{'warmup_epochs':11}",
                         "t.json: schedule.warmup_epochs: 11 is more than train.epochs (10)");
    expect_section_error("'optimizer':{'lr':0.01},'schedule':{'type':'cosine','min_lr':0.1}",
                         "t.json: schedule.min_lr: must be <= optimizer.lr (0.01), got 0.1");
}

/* ---- building the model ---------------------------------------------------------------- */

static void expect_build_error(const char *text, sl_status status, const char *part)
{
    sl_config *cfg = load_ok(text);
    sl_error err = {0};
    sl_model *m = sl_config_build_model(cfg, &err);
    if (m)
        fail_msg("built, but expected \"%s\"", part);
    assert_contains(&err, status, part);
    sl_config_free(cfg);
}

static void test_build_errors(void **state)
{
    (void)state;
    expect_build_error("{'data':{'dataset':'mnist'},'model':{'input':[1,28,28],'layers':["
                       "{'type':'conv2d','out':8},{'type':'linear','out':10}]}}",
                       SL_ERR_SHAPE, "t.json: model.layers[1]: layer 1 (linear): input [");
    expect_build_error("{'data':{'dataset':'mnist'},'model':{'input':[1,4,4],'layers':["
                       "{'type':'conv2d','out':8,'kernel':7}]}}",
                       SL_ERR_SHAPE, "t.json: model.layers[0]: layer 0 (conv2d)");
    expect_build_error("{'data':{'dataset':'mnist'},'model':{'input':[1,4,4],'layers':["
                       "{'type':'conv2d','out':8}]}}",
                       SL_ERR_SHAPE,
                       "t.json: model.layers[0]: the model's output per sample is [8, 2, 2]; a "
                       "classifier needs one vector [classes]");
    expect_build_error("{'data':{'dataset':'spiral'},'model':{'input':[2],'layers':["
                       "{'type':'linear','out':4}]}}",
                       SL_ERR_SHAPE,
                       "t.json: model.layers[0]: the model outputs 4 values per sample but the "
                       "data has 3 classes");
    /* Nothing to train: said when the model is built (fuzz_config found it failing only at
     * the first backward). */
    expect_build_error("{'data':{'dataset':'mnist'},'model':{'input':[2,28,28],'layers':["
                       "{'type':'flatten'}]}}",
                       SL_ERR_CONFIG, "t.json: model.layers: the model has no trainable "
                                      "parameters");
}

static void test_build_model(void **state)
{
    (void)state;
    sl_config *cfg = load_ok(MINIMAL "}");
    sl_error err = {0};
    sl_model *m = sl_config_build_model(cfg, &err);
    assert_non_null(m);
    assert_int_equal(sl_model_num_layers(m), 3);
    int64_t shape[4];
    assert_int_equal(sl_model_output_shape(m, shape), 1);
    assert_int_equal(shape[0], 3);
    sl_model_free(m);
    sl_config_free(cfg);
    assert_null(sl_config_build_model(NULL, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
}

/* ---- overrides --------------------------------------------------------------------------- */

static void test_overrides(void **state)
{
    (void)state;
    const char *ov[] = {
        "optimizer.lr=0.1",
        "optimizer.type=adam",
        "model.layers[1].alpha=0.2",
        "checkpoint.path=runs/x.safetensors",
        "train.shuffle=false",
        "name=\"quoted name\"",
        "optimizer.betas=[0.8, 0.9]",
        "model.layers[2]={\"type\":\"linear\",\"out\":3,\"bias\":false}",
        "seed=7",
    };
    sl_error err = {0};
    sl_config *cfg = load_with(MINIMAL "}", ov, sizeof ov / sizeof ov[0], &err);
    if (!cfg)
        fail_msg("%s", err.message);
    assert_int_equal(cfg->optimizer.kind, SL_OPTIM_ADAM);
    assert_true(cfg->optimizer.lr == 0.1f);
    assert_true(cfg->optimizer.beta1 == 0.8f && cfg->optimizer.beta2 == 0.9f);
    assert_true(cfg->model.layers[1].alpha == 0.2f);
    assert_string_equal(cfg->checkpoint.path, "runs/x.safetensors");
    assert_int_equal(cfg->train.shuffle, 0);
    assert_string_equal(cfg->name, "quoted name");
    assert_int_equal(cfg->model.layers[2].bias, 0);
    assert_int_equal(cfg->seed, 7);
    sl_config_free(cfg);
}

static void test_override_order_and_null(void **state)
{
    (void)state;
    const char *ov[] = {"checkpoint.path=a", "train.epochs=3", "train.epochs=5",
                        "checkpoint.path=null", "model.input[0]=2"};
    sl_error err = {0};
    sl_config *cfg = load_with(MINIMAL ",'checkpoint':{'path':'p'}}", ov, 5, &err);
    if (!cfg)
        fail_msg("%s", err.message);
    assert_int_equal(cfg->train.epochs, 5);
    assert_null(cfg->checkpoint.path); /* null = not given = the default */
    sl_config_free(cfg);
}

/* An SGD config with an SGD-only key and a layer setting, for the null overrides. */
#define SGD_CONFIG                                                                              \
    "{'data':{'dataset':'spiral'},'model':{'input':[2],'layers':[{'type':'linear','out':8},"    \
    "{'type':'leaky_relu','alpha':0.2},{'type':'linear','out':3}]},"                            \
    "'optimizer':{'type':'sgd','lr':0.1,'momentum':0.9,'nesterov':true}}"

/* null removes a key wherever it stands: an SGD config becomes an Adam one by dropping its
 * SGD-only keys, a layer's setting goes back to its default, and a path that leads nowhere
 * removes nothing. */
static void test_override_null_removes(void **state)
{
    (void)state;
    const char *ov[] = {"optimizer.type=adam", "optimizer.momentum=null",
                        "optimizer.nesterov= null ", "model.layers.1.alpha=null",
                        "train.nothing.deeper=null", "model.layers[0].bias=null"};
    sl_error err = {0};
    sl_config *cfg = load_with(SGD_CONFIG, ov, sizeof ov / sizeof ov[0], &err);
    if (!cfg)
        fail_msg("%s", err.message);
    assert_int_equal(cfg->optimizer.kind, SL_OPTIM_ADAM);
    assert_true(cfg->model.layers[1].alpha == 0.01f); /* leaky_relu's default */
    sl_config_free(cfg);

    /* A key of digits indexes an array, for setting too. */
    const char *digits[] = {"model.layers.1.alpha=0.3"};
    cfg = load_with(SGD_CONFIG, digits, 1, &err);
    if (!cfg)
        fail_msg("%s", err.message);
    assert_true(cfg->model.layers[1].alpha == 0.3f);
    sl_config_free(cfg);

    /* The typo check stays: type=adam alone keeps momentum, and the message says how to
     * drop it. */
    const char *adam[] = {"optimizer.type=adam"};
    assert_null(load_with(SGD_CONFIG, adam, 1, &err));
    assert_contains(&err, SL_ERR_CONFIG,
                    "optimizer.momentum: not a setting of the \"adam\" optimizer");
    assert_contains(&err, SL_ERR_CONFIG, "remove it, e.g. with --set optimizer.momentum=null");
    /* Arrays keep their length: null does not remove an element. */
    const char *element[] = {"model.layers.1=null"};
    assert_null(load_with(SGD_CONFIG, element, 1, &err));
    assert_message(&err, SL_ERR_CONFIG,
                   "t.json: override \"model.layers.1=null\": model.layers[1]: null removes "
                   "keys, not array elements");
    const char *through[] = {"model.input.size=null"};
    assert_null(load_with(SGD_CONFIG, through, 1, &err));
    assert_contains(&err, SL_ERR_CONFIG, "model.input: not an object, so it has no keys");
}

static void expect_override_error(const char *assignment, sl_status status, const char *want)
{
    sl_error err = {0};
    const char *ov[] = {assignment};
    sl_config *cfg = load_with(MINIMAL "}", ov, 1, &err);
    if (cfg)
        fail_msg("loaded, but expected \"%s\"", want);
    assert_message(&err, status, want);
}

static void test_bad_overrides(void **state)
{
    (void)state;
    expect_override_error("model.layers[9].out=3", SL_ERR_CONFIG,
                          "t.json: override \"model.layers[9].out=3\": model.layers[9]: no such "
                          "element (the array has 3)");
    expect_override_error("model.layers[3]={}", SL_ERR_CONFIG,
                          "t.json: override \"model.layers[3]={}\": model.layers[3]: no such "
                          "element (the array has 3)");
    expect_override_error("optimizer.lr", SL_ERR_CONFIG,
                          "t.json: override \"optimizer.lr\": expected path=value");
    expect_override_error("optimizer..lr=1", SL_ERR_CONFIG,
                          "t.json: override \"optimizer..lr=1\": empty key");
    expect_override_error("=1", SL_ERR_CONFIG, "t.json: override \"=1\": empty path");
    expect_override_error("model.layers[x]=1", SL_ERR_CONFIG,
                          "t.json: override \"model.layers[x]=1\": expected an array index like "
                          "[2]");
    expect_override_error("model.input.size=1", SL_ERR_CONFIG,
                          "t.json: override \"model.input.size=1\": model.input: not an object, "
                          "so it has no keys");
    expect_override_error("model[0]=1", SL_ERR_CONFIG,
                          "t.json: override \"model[0]=1\": model: not an array, so it has no "
                          "index");
    expect_override_error("train.extra[0]=1", SL_ERR_CONFIG,
                          "t.json: override \"train.extra[0]=1\": train.extra: no such array");
    /* Well-formed overrides whose values validation refuses name the override. */
    expect_override_error("model.layers[1].alpha=0.1x", SL_ERR_CONFIG,
                          "t.json: model.layers[1].alpha: expected a number, got \"0.1x\" (set by "
                          "override \"model.layers[1].alpha=0.1x\")");
    expect_override_error("optimizer.lrr=0.1", SL_ERR_CONFIG,
                          "t.json: optimizer.lrr: unknown key (did you mean \"lr\"?) (set by "
                          "override \"optimizer.lrr=0.1\")");
    expect_override_error("model.layers[2]={\"type\":\"linear\"}", SL_ERR_CONFIG,
                          "t.json: model.layers[2]: missing key \"out\" (set by override "
                          "\"model.layers[2]={\"type\":\"linear\"}\")");
    sl_error err = {0};
    const char *null_ov[] = {NULL};
    assert_null(load_with(MINIMAL "}", null_ov, 1, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
}

static void test_override_file(void **state)
{
    (void)state;
    const char *ov[] = {"optimizer.lr=0.5", "train.epochs=2"};
    sl_error err = {0};
    sl_config *cfg = sl_config_load(tu_source_path("models/fashion_mlp.json"), ov, 2, &err);
    if (!cfg)
        fail_msg("%s", err.message);
    assert_true(cfg->optimizer.lr == 0.5f);
    assert_int_equal(cfg->train.epochs, 2);
    assert_string_equal(cfg->name, "fashion-mlp-leaky");
    sl_config_free(cfg);
}

/* ---- to_json ------------------------------------------------------------------------------ */

static const char *const RICH =
    "{'name':'rich','seed':123456789012,'data':{'train':{'csv':'tr.csv'},'test':{'images':'i',"
    "'labels':'l'},'classes':10,'normalize':'standardize','mean':0.1307,'std':0.3081,"
    "'validation':0.15},'model':{'input':[3,16,16],'init':'xavier_normal','layers':["
    "{'type':'conv2d','out':6,'kernel':3,'stride':1,'padding':1,'bias':false},"
    "{'type':'batch_norm','momentum':0.05},{'type':'prelu','num_parameters':'channel','init':0.2},"
    "{'type':'avg_pool2d','kernel':2},{'type':'rrelu'},{'type':'elu','alpha':0.7},"
    "{'type':'flatten'},{'type':'dropout','p':0.3},{'type':'linear','out':10}]},"
    "'loss':'mse','optimizer':{'type':'adamw','lr':0.003,'betas':[0.85,0.995],'eps':1e-7,"
    "'weight_decay':0.05,'decay_prelu':true,'clip_grad_norm':1.5},"
    "'schedule':{'type':'step','warmup_epochs':0.5,'step_epochs':3,'gamma':0.3},"
    "'train':{'epochs':12,'batch_size':100,'drop_last':true,'shuffle':false,'threads':4,"
    "'precision':'bf16'},"
    "'checkpoint':{'path':'runs/rich.safetensors','every':2,'keep_best':true},"
    "'stats':{'enabled':true,'probe':{'split':'test','count':1000},'every':50}}";

/* Field by field: the structs have padding that memcmp would compare. */
static void assert_same_layer(const sl_layer_spec *a, const sl_layer_spec *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->out, b->out);
    assert_int_equal(a->kernel, b->kernel);
    assert_int_equal(a->stride, b->stride);
    assert_int_equal(a->padding, b->padding);
    assert_int_equal(a->bias, b->bias);
    assert_int_equal(a->per_channel, b->per_channel);
    assert_true(a->alpha == b->alpha && a->p == b->p && a->lower == b->lower &&
                a->upper == b->upper && a->momentum == b->momentum && a->eps == b->eps);
}

static void assert_same_config(const sl_config *a, const sl_config *b)
{
    assert_string_equal(a->name, b->name);
    assert_true(a->seed == b->seed);
    assert_true(a->data.mean == b->data.mean && a->data.std == b->data.std);
    assert_true(a->data.validation == b->data.validation);
    assert_int_equal(a->data.augment.crop, b->data.augment.crop);
    assert_int_equal(a->data.augment.crop_padding, b->data.augment.crop_padding);
    assert_true(a->data.augment.flip == b->data.augment.flip);
    assert_int_equal(a->model.num_layers, b->model.num_layers);
    for (size_t i = 0; i < a->model.num_layers; i++)
        assert_same_layer(&a->model.layers[i], &b->model.layers[i]);
    assert_memory_equal(a->model.input, b->model.input, sizeof a->model.input);
    assert_memory_equal(&a->optimizer, &b->optimizer, sizeof a->optimizer);
    assert_memory_equal(&a->schedule, &b->schedule, sizeof a->schedule);
    assert_int_equal(a->train.epochs, b->train.epochs);
    assert_int_equal(a->train.batch_size, b->train.batch_size);
    assert_int_equal(a->train.drop_last, b->train.drop_last);
    assert_int_equal(a->train.shuffle, b->train.shuffle);
    assert_int_equal(a->train.threads, b->train.threads);
    assert_int_equal(a->train.precision, b->train.precision);
    assert_int_equal(a->stats.enabled, b->stats.enabled);
    assert_int_equal(a->stats.probe_split, b->stats.probe_split);
    assert_int_equal(a->stats.probe_count, b->stats.probe_count);
    assert_int_equal(a->stats.every_steps, b->stats.every_steps);
    assert_int_equal(a->checkpoint.every, b->checkpoint.every);
    assert_int_equal(a->checkpoint.keep_best, b->checkpoint.keep_best);
}

static void round_trip(const char *text)
{
    sl_config *cfg = load_ok(text);
    char *once = sl_config_to_json(cfg);
    assert_non_null(once);
    sl_error err = {0};
    sl_config *again = sl_config_load_string(once, "t.json", &err);
    if (!again)
        fail_msg("emitted JSON does not load: %s\n%s", err.message, once);
    assert_same_config(cfg, again);
    char *twice = sl_config_to_json(again);
    assert_string_equal(once, twice);
    free(once);
    free(twice);
    sl_config_free(again);
    sl_config_free(cfg);
}

static void test_to_json_round_trip(void **state)
{
    (void)state;
    round_trip(RICH);
    round_trip(MINIMAL "}");
    round_trip(MINIMAL ",'optimizer':{'type':'sgd','lr':0.05,'momentum':0.9,'nesterov':true},"
                       "'schedule':{'type':'cosine','min_lr':0.0001}}");
    round_trip(MINIMAL ",'label_smoothing':0.1}");
    sl_config *cfg = load_ok(MINIMAL ",'label_smoothing':0.1}");
    assert_true(cfg->label_smoothing == 0.1f);
    sl_config_free(cfg);
}

/* ---- data.augment ---------------------------------------------------------------- */

#define IMAGES "{'data':{'train':{'images':'i.idx','labels':'l.idx'},'normalize':'scale01'%s}," \
               "'model':{'input':[1,28,28],'layers':[{'type':'flatten'}," \
               "{'type':'linear','out':10}]}}"

static sl_config *images_with(const char *augment, const char *const *ov, size_t n,
                              sl_error *err)
{
    char text[1024];
    snprintf(text, sizeof text, IMAGES, augment);
    return load_with(text, ov, n, err);
}

static void test_augment_parse_and_emit(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_config *cfg = images_with("", NULL, 0, &err);
    assert_non_null(cfg);
    assert_false(sl_augment_active(&cfg->data.augment)); /* none by default */
    char *text = sl_config_to_json(cfg);
    assert_null(strstr(text, "augment")); /* and none written */
    free(text);
    sl_config_free(cfg);

    cfg = images_with(",'augment':{'crop':{'padding':2},'flip':0.5}", NULL, 0, &err);
    assert_non_null(cfg);
    assert_int_equal(cfg->data.augment.crop, 1);
    assert_int_equal(cfg->data.augment.crop_padding, 2);
    assert_true(cfg->data.augment.flip == 0.5f);
    sl_train_options o = sl_run_train_options(cfg); /* what the run's trainer gets */
    assert_memory_equal(&o.augment, &cfg->data.augment, sizeof o.augment);
    text = sl_config_to_json(cfg);
    assert_non_null(strstr(text, "\"augment\":\t{\n\t\t\t\"crop\":\t{\n\t\t\t\t\"padding\":\t2"));
    assert_non_null(strstr(text, "\"flip\":\t0.5"));
    free(text);
    sl_config_free(cfg);

    /* One of the two alone; --set changes or adds it. */
    const char *set[] = {"data.augment.flip=0.3"};
    cfg = images_with(",'augment':{'crop':{'padding':0}}", set, 1, &err);
    assert_non_null(cfg);
    assert_int_equal(cfg->data.augment.crop, 1);
    assert_int_equal(cfg->data.augment.crop_padding, 0);
    assert_true(cfg->data.augment.flip == 0.3f);
    sl_config_free(cfg);
    cfg = images_with("", set, 1, &err);
    assert_non_null(cfg);
    assert_int_equal(cfg->data.augment.crop, 0);
    assert_true(cfg->data.augment.flip == 0.3f);
    sl_config_free(cfg);

    char text2[1024];
    snprintf(text2, sizeof text2, IMAGES, ",'augment':{'crop':{'padding':3},'flip':0.25}");
    round_trip(text2);
    snprintf(text2, sizeof text2, IMAGES, ",'augment':{'flip':1}");
    round_trip(text2);
    snprintf(text2, sizeof text2, IMAGES, ",'augment':{'crop':{'padding':0}}");
    round_trip(text2);
}

static void expect_augment_error(const char *augment, const char *want)
{
    sl_error err = {0};
    sl_config *cfg = images_with(augment, NULL, 0, &err);
    if (cfg)
        fail_msg("%s: accepted, expected \"%s\"", augment, want);
    assert_message(&err, SL_ERR_CONFIG, want);
}

static void test_augment_errors(void **state)
{
    (void)state;
    expect_augment_error(",'augment':{'flp':0.5}",
                         "t.json: data.augment.flp: unknown key (did you mean \"flip\"?)");
    expect_augment_error(",'augment':{'crop':{'paddin':2}}",
                         "t.json: data.augment.crop.paddin: unknown key (did you mean "
                         "\"padding\"?)");
    expect_augment_error(",'augment':{'crop':{}}", "t.json: data.augment.crop: missing key "
                                                  "\"padding\"");
    expect_augment_error(",'augment':{'crop':2}",
                         "t.json: data.augment.crop: expected an object {...}, got a number");
    expect_augment_error(",'augment':[1]",
                         "t.json: data.augment: expected an object {...}, got an array");
    expect_augment_error(",'augment':{'crop':{'padding':1.5}}",
                         "t.json: data.augment.crop.padding: expected an integer, got 1.5");
    expect_augment_error(",'augment':{'crop':{'padding':-1}}",
                         "t.json: data.augment.crop.padding: must be >= 0, got -1");
    expect_augment_error(",'augment':{'crop':{'padding':28}}",
                         "t.json: data.augment.crop.padding: must be below the image size 28x28 "
                         "(model.input), got 28");
    expect_augment_error(",'augment':{'flip':1.5}",
                         "t.json: data.augment.flip: must be in [0, 1], got 1.5");
    expect_augment_error(",'augment':{'flip':'yes'}",
                         "t.json: data.augment.flip: expected a number, got \"yes\"");
    /* Not images: the spiral, CSV features, a flat model input. */
    sl_error err = {0};
    assert_null(load_with("{'data':{'dataset':'spiral','augment':{'crop':{'padding':1}}},"
                          "'model':{'input':[2],'layers':[{'type':'linear','out':3}]}}",
                          NULL, 0, &err));
    assert_message(&err, SL_ERR_CONFIG, "t.json: data.augment.crop: needs image data [C, H, W]; "
                                        "the spiral's samples are points [2]");
    assert_null(load_with("{'data':{'train':{'csv':'f.csv'},'augment':{'flip':0.5}},"
                          "'model':{'input':[1,28,28],'layers':[{'type':'flatten'},"
                          "{'type':'linear','out':3}]}}",
                          NULL, 0, &err));
    assert_message(&err, SL_ERR_CONFIG, "t.json: data.augment.flip: needs image data [C, H, W]; "
                                        "CSV features are flat [F]");
    assert_null(load_with("{'data':{'dataset':'fashion-mnist','augment':{'flip':0.5}},"
                          "'model':{'input':[784],'layers':[{'type':'linear','out':10}]}}",
                          NULL, 0, &err));
    assert_message(&err, SL_ERR_CONFIG, "t.json: data.augment.flip: needs image data [C, H, W]; "
                                        "model.input is not [C, H, W]");
    /* flip 0 does nothing, so it is no request for images: accepted on the spiral. */
    sl_config *cfg = load_with("{'data':{'dataset':'spiral','augment':{'flip':0}},"
                               "'model':{'input':[2],'layers':[{'type':'linear','out':3}]}}",
                               NULL, 0, &err);
    assert_non_null(cfg);
    sl_config_free(cfg);
    /* An override at fault is named. */
    const char *set[] = {"data.augment.flip=2"};
    assert_null(images_with("", set, 1, &err));
    assert_message(&err, SL_ERR_CONFIG, "t.json: data.augment.flip: must be in [0, 1], got 2 "
                                        "(set by override \"data.augment.flip=2\")");
}

static void test_to_json_text(void **state)
{
    (void)state;
    sl_config *cfg = load_ok(RICH);
    char *text = sl_config_to_json(cfg);
    assert_non_null(text);
    /* Floats come out in their shortest form, not as 0.0030000000260770321. */
    assert_non_null(strstr(text, "\"lr\":\t0.003"));
    assert_null(strstr(text, "0.00300000"));
    assert_non_null(strstr(text, "\"seed\":\t123456789012"));
    assert_non_null(strstr(text, "\"every\":\t50"));
    free(text);
    sl_config_free(cfg);
    assert_null(sl_config_to_json(NULL));
}

/* ---- the layer table ------------------------------------------------------------------ */

/* One layer of type d alone, its required keys at their lowest values, in a config. */
static void one_layer_config(const sl_layer_def *d, char *text, size_t size)
{
    int len = snprintf(text, size, "{'data':{'dataset':'mnist'},'model':{'input':[1,8,8],"
                                   "'layers':[{'type':'%s'", d->name);
    for (int k = 0; k < d->n_keys; k++)
        if (d->keys[k].required)
            len += snprintf(text + len, size - (size_t)len, ",'%s':%.0f", d->keys[k].name,
                            d->keys[k].lo);
    if (d->flags & SL_LAYER_CONTAINER) /* a block needs a layer of its own */
        len += snprintf(text + len, size - (size_t)len, ",'layers':[{'type':'relu'}]");
    snprintf(text + len, size - (size_t)len, "}]}}");
}

/* Every row: its defaults load, equal sl_layer_defaults (derived keys filled), are written
 * out with every key of the row and load back to the same layer. */
static void test_every_row_round_trips(void **state)
{
    (void)state;
    for (int t = 0; t < SL_LAYER_TYPE_COUNT; t++) {
        const sl_layer_def *d = sl_layer_def_of((sl_layer_type)t);
        char text[512];
        one_layer_config(d, text, sizeof text);
        sl_config *cfg = load_ok(text);
        sl_layer_spec want = sl_layer_defaults(d->type);
        for (int k = 0; k < d->n_keys; k++)
            if (d->keys[k].required)
                sl_nn_key_set(&want, &d->keys[k], d->keys[k].lo);
        sl_error err = {0};
        assert_int_equal(sl_layer_spec_check(&want, &err), SL_OK);
        assert_same_layer(&cfg->model.layers[0], &want);
        char *once = sl_config_to_json(cfg);
        assert_non_null(once);
        for (int k = 0; k < d->n_keys; k++) {
            char key[64];
            snprintf(key, sizeof key, "\"%s\":", d->keys[k].name);
            if (!strstr(once, key))
                fail_msg("%s: key %s not written", d->name, d->keys[k].name);
        }
        sl_config *again = sl_config_load_string(once, "t.json", &err);
        if (!again)
            fail_msg("%s: emitted JSON does not load: %s", d->name, err.message);
        assert_same_layer(&cfg->model.layers[0], &again->model.layers[0]);
        free(once);
        sl_config_free(again);
        sl_config_free(cfg);
    }
}

static void test_gelu_layer(void **state)
{
    (void)state;
    const char *text = "{'data':{'dataset':'spiral'},'model':{'input':[2],'layers':["
                       "{'type':'linear','out':8},{'type':'gelu'},{'type':'linear','out':3}]}}";
    sl_config *cfg = load_ok(text);
    assert_int_equal(cfg->model.layers[1].type, SL_LAYER_GELU);
    char *once = sl_config_to_json(cfg);
    assert_non_null(strstr(once, "\"type\":\t\"gelu\""));
    free(once);
    sl_error err = {0};
    sl_model *m = sl_config_build_model(cfg, &err);
    assert_non_null(m);
    assert_int_equal(sl_model_layer(m, 1)->type, SL_LAYER_GELU);
    sl_model_free(m);
    sl_config_free(cfg);
    round_trip(text);
    expect_layer_error("{'type':'gelu','alpha':1}",
                       "t.json: model.layers[0].alpha: not a setting of a \"gelu\" layer (its "
                       "keys: \"type\"); remove it, e.g. with --set model.layers[0].alpha=null");
    expect_layer_error("{'type':'gleu'}",
                       "t.json: model.layers[0].type: unknown value \"gleu\" (did you mean "
                       "\"gelu\"?); valid values: \"linear\", \"conv2d\", \"max_pool2d\", "
                       "\"avg_pool2d\", \"flatten\", \"dropout\", \"batch_norm\", \"relu\", "
                       "\"leaky_relu\", \"prelu\", \"rrelu\", \"elu\", \"selu\", \"sigmoid\", "
                       "\"tanh\", \"gelu\", \"residual\", \"rnn\"");
}

/* The rules a row adds to its keys' ranges, as the config reports them. */
static void test_row_rules(void **state)
{
    (void)state;
    /* rrelu: the key the user wrote is the one blamed. */
    expect_layer_error("{'type':'rrelu','lower':0.5}",
                       "t.json: model.layers[0].lower: needs lower <= upper, got lower 0.5 and "
                       "upper 0.333333");
    expect_layer_error("{'type':'avg_pool2d','kernel':4,'padding':3}",
                       "t.json: model.layers[0].padding: must be <= 2, got 3");
    expect_layer_error("{'type':'max_pool2d','stride':0}",
                       "t.json: model.layers[0].stride: must be >= 1, got 0");
    expect_layer_error("{'type':'prelu','num_parameters':'shared'}",
                       "t.json: model.layers[0].num_parameters: expected 1 (one shared slope) or "
                       "\"channel\" (one per channel), got \"shared\"");
    expect_layer_error("{'type':'elu','alpha':0}",
                       "t.json: model.layers[0].alpha: must be > 0, got 0");
    expect_layer_error("{'type':'batch_norm','eps':0}",
                       "t.json: model.layers[0].eps: must be > 0, got 0");
    expect_layer_error("{'type':'conv2d','out':2,'kernel':5000}",
                       "t.json: model.layers[0].kernel: must be <= 4096, got 5000");
}

/* ---- files and arguments ----------------------------------------------------------------- */

/* "\u0000" inside a key or value would end the string in cJSON: "name\u0000zzz" passed
 * as "name", past the unknown-key check.  Refused with the place. */
static void test_nul_escape(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_null(sl_config_load_string(
        json("{'name\\u0000zzz':'x','data':{'dataset':'spiral'},'model':{'input':[2],"
             "'layers':[{'type':'linear','out':3}]}}"), "k.json", &err));
    assert_contains(&err, SL_ERR_CONFIG, "k.json:1:7: a string holds \\u0000");
    assert_null(sl_config_load_string(
        json("{'name':'a\\u0000b','data':{'dataset':'spiral'},'model':{'input':[2],"
             "'layers':[{'type':'linear','out':3}]}}"), "v.json", &err));
    assert_contains(&err, SL_ERR_CONFIG, "v.json:1:11: a string holds \\u0000");
    /* an escaped backslash before u0000 is text, not the escape */
    sl_config *cfg = sl_config_load_string(
        json("{'name':'a\\\\u0000b','data':{'dataset':'spiral'},'model':{'input':[2],"
             "'layers':[{'type':'linear','out':3}]}}"), NULL, &err);
    assert_non_null(cfg);
    sl_config_free(cfg);
}

/* A message naming a long path keeps its reason (SL_ERROR_MSG_MAX was 512); a message cut
 * at the limit ends with "...". */
static void test_long_path_message(void **state)
{
    (void)state;
    static char path[4100];
    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    sl_error err = {0};
    assert_null(sl_config_load_file(path, &err));
    assert_int_equal(err.status, SL_ERR_READ);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, ": cannot open: "));
    static char big[SL_ERROR_MSG_MAX * 2];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sl_error_set(&err, SL_ERR_IO, "%s", big);
    size_t n = strlen(err.message);
    assert_int_equal(n, SL_ERROR_MSG_MAX - 1);
    assert_string_equal(err.message + n - 3, "...");
}

static void test_file_and_arguments(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_null(sl_config_load_file("/nonexistent/x.json", &err));
    assert_contains(&err, SL_ERR_READ, "/nonexistent/x.json: cannot open: ");
    assert_null(sl_config_load_file(NULL, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    assert_null(sl_config_load_string(NULL, "x", &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    assert_null(sl_config_load_string(json(MINIMAL), NULL, &err)); /* unterminated */
    assert_contains(&err, SL_ERR_CONFIG, "<string>:1:");
    sl_config *cfg = sl_config_load_string(json(MINIMAL "}"), NULL, &err);
    assert_non_null(cfg);
    assert_string_equal(cfg->name, "config");
    sl_config_free(cfg);
    sl_config_free(NULL);
    assert_string_equal(sl_loss_name(SL_LOSS_MSE), "mse");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_configs),
        cmocka_unit_test(test_shipped_contents),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_type_defaults),
        cmocka_unit_test(test_every_layer),
        cmocka_unit_test(test_explicit_files),
        cmocka_unit_test(test_stats_every),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_invalid_json_file),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_config_path_is_directory),
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_augment_parse_and_emit),
        cmocka_unit_test(test_augment_errors),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_missing_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_non_integral),
        cmocka_unit_test(test_unknown_enums),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_build_model),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_override_order_and_null),
        cmocka_unit_test(test_override_null_removes),
        cmocka_unit_test(test_bad_overrides),
        cmocka_unit_test(test_override_file),
        cmocka_unit_test(test_to_json_round_trip),
        cmocka_unit_test(test_to_json_text),
        cmocka_unit_test(test_file_and_arguments),
        cmocka_unit_test(test_nul_escape),
        cmocka_unit_test(test_long_path_message),
        cmocka_unit_test(test_every_row_round_trips),
        cmocka_unit_test(test_gelu_layer),
        cmocka_unit_test(test_row_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
