/*
 * test_faults.c - fault injection: what slope does when the disk fills up,
 * a write fails midway, a dataset cannot be read, a config asks for an
 * absurdly large model, or training meets a NaN.
 *
 *   - a checkpoint write failing at every byte offset (the io write hook):
 *     SL_ERR_IO naming the file, the previous checkpoint byte-identical, no
 *     temporary file left;
 *   - sl_trainer_save / sl_model_save on a "full disk" (RLIMIT_FSIZE with
 *     SIGXFSZ ignored makes write(2) fail with EFBIG past the limit, as a full
 *     filesystem would with ENOSPC): the same promises, and the old
 *     checkpoint still resumes training;
 *   - unreadable datasets (a directory, a missing file, /dev/null, every
 *     truncation of a fixture, raw and gzip): a clean SL_ERR_READ/FORMAT;
 *   - configs asking for 10^12-element layers or more parameters than
 *     memory: an error before any allocation, not an OOM kill;
 *   - NaN/Inf during training: SL_ERR_NUMERIC naming the step and where.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "io_internal.h"
#include "slope/slope.h"

/* A huge request must come back as NULL (SL_ERR_NOMEM), not abort an ASan run. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

#define PATH_LEN 1024

static char g_dir[512]; /* this run's scratch directory */

/* ---- helpers ---------------------------------------------------------------------- */

static const char *scratch(char *buf, const char *name)
{
    snprintf(buf, PATH_LEN, "%s/%s", g_dir, name);
    return buf;
}

static void assert_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, text);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t)size, f);
    assert_int_equal(*len, (size_t)size);
    fclose(f);
    return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void assert_file_equals(const char *path, const unsigned char *bytes, size_t len)
{
    size_t got = 0;
    unsigned char *now = slurp(path, &got);
    assert_int_equal(got, len);
    assert_memory_equal(now, bytes, len);
    free(now);
}

/* Files in the scratch directory whose name holds ".tmp." (the atomic writer's). */
static int count_temp_files(void)
{
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static int setup_dir(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/slope-faults-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char path[PATH_LEN + 256];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
            if (rmdir(path) != 0)
                unlink(path);
        }
        closedir(d);
    }
    rmdir(g_dir);
    return 0;
}

/* A small spiral classifier from a config, initialised, and a trainer on spiral data. */
typedef struct rig {
    sl_config *cfg;
    sl_dataset *ds;
    sl_model *model;
    sl_trainer *trainer;
} rig;

static const char spiral_config[] =
    "{\"data\": {\"dataset\": \"spiral\", \"spiral\": {\"classes\": 3, \"points\": 40}},"
    " \"model\": {\"input\": [2], \"layers\": [{\"type\": \"linear\", \"out\": 16},"
    " {\"type\": \"leaky_relu\"}, {\"type\": \"linear\", \"out\": 3}]},"
    " \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01}, \"train\": {\"epochs\": 5,"
    " \"batch_size\": 16}}";

static void rig_open(rig *r)
{
    sl_error err = {0};
    memset(r, 0, sizeof *r);
    r->cfg = sl_config_parse(spiral_config, "faults.json", NULL, 0, &err);
    assert_non_null(r->cfg);
    r->ds = sl_dataset_spiral(3, 40, 0.2f, 5, &err);
    assert_non_null(r->ds);
    r->model = sl_config_build_model(r->cfg, &err);
    assert_non_null(r->model);
    assert_int_equal(sl_model_init(r->model, r->cfg->model.init, r->cfg->seed, &err), SL_OK);
    sl_train_options o = sl_train_defaults();
    o.epochs = r->cfg->train.epochs;
    o.batch_size = r->cfg->train.batch_size;
    o.optim = r->cfg->optimizer;
    r->trainer = sl_trainer_new(r->model, r->ds, &o, &err);
    if (!r->trainer)
        fail_msg("sl_trainer_new: %s", err.message);
}

static void rig_close(rig *r)
{
    sl_trainer_free(r->trainer);
    sl_model_free(r->model);
    sl_dataset_free(r->ds);
    sl_config_free(r->cfg);
}

static void steps(rig *r, int n)
{
    sl_error err = {0};
    sl_step_info info;
    for (int i = 0; i < n; i++)
        if (sl_trainer_step(r->trainer, &info, &err) != SL_OK)
            fail_msg("step: %s", err.message);
}

/* ---- a checkpoint write failing at every byte offset (the io write hook) ----------- */

typedef struct fault {
    size_t limit, written;
    int errnum;    /* errno of the failing write */
    int zero_then; /* after the limit, return 0 (a write that makes no progress) */
} fault;

static ssize_t faulty_write(void *ctx, int fd, const void *buf, size_t n)
{
    fault *f = ctx;
    if (f->written >= f->limit) {
        if (f->zero_then)
            return 0;
        errno = f->errnum;
        return -1;
    }
    if (n > f->limit - f->written)
        n = f->limit - f->written; /* the device fills up: a short write first */
    ssize_t w = write(fd, buf, n);
    if (w > 0)
        f->written += (size_t)w;
    return w;
}

static void test_write_fails_at_every_offset(void **state)
{
    (void)state;
    char path[PATH_LEN];
    sl_error err = {0};
    int64_t shape[2] = {3, 5};
    sl_tensor *a = sl_tensor_new(2, shape, &err), *b = sl_tensor_new(1, shape, &err);
    for (int64_t i = 0; i < a->size; i++)
        a->data[i] = (float)i;
    sl_named_tensor old_t[2] = {{"a", a}, {"b", b}};
    sl_kv meta[1] = {{"note", "the previous checkpoint"}};
    scratch(path, "every-offset.safetensors");
    assert_int_equal(sl_safetensors_write(path, old_t, 2, meta, 1, &err), SL_OK);
    size_t len = 0;
    unsigned char *before = slurp(path, &len);

    for (int i = 0; i < a->size; i++)
        a->data[i] = -1.0f; /* the new content, never to be seen */
    const int errnums[3] = {ENOSPC, EIO, EFBIG};
    for (size_t limit = 0; limit < len + 16; limit++) {
        fault f = {.limit = limit, .errnum = errnums[limit % 3], .zero_then = limit % 7 == 3};
        sl_io_hooks hooks = {faulty_write, &f};
        sl_error e = {0};
        sl_status st = sl_io_safetensors_write_hooked(path, old_t, 2, meta, 1, &hooks, &e);
        if (limit >= len) {
            /* Room for all of it: the write succeeds; put the old file back. */
            assert_int_equal(st, SL_OK);
            spit(path, before, len);
            continue;
        }
        assert_int_equal(st, SL_ERR_IO);
        assert_contains(e.message, path);
        assert_contains(e.message, strerror(f.zero_then ? EIO : f.errnum));
        assert_file_equals(path, before, len);
        assert_int_equal(count_temp_files(), 0);
    }
    sl_safetensors *st = sl_safetensors_read(path, &err);
    assert_non_null(st);
    assert_string_equal(sl_safetensors_metadata(st, "note"), "the previous checkpoint");
    sl_safetensors_free(st);
    free(before);
    sl_tensor_free(a);
    sl_tensor_free(b);
}

/* ---- the trainer's checkpoint on a full disk (RLIMIT_FSIZE) ------------------------ */

typedef struct fsize_guard {
    struct rlimit saved;
    struct sigaction old_action;
} fsize_guard;

/* From now on write(2) past byte `limit` of any file fails with EFBIG. */
static void fsize_limit(fsize_guard *g, rlim_t limit)
{
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    assert_int_equal(sigaction(SIGXFSZ, &ign, &g->old_action), 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &g->saved), 0);
    struct rlimit r = g->saved;
    r.rlim_cur = limit;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &r), 0);
}

static void fsize_restore(fsize_guard *g)
{
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &g->saved), 0);
    assert_int_equal(sigaction(SIGXFSZ, &g->old_action, NULL), 0);
}

static void test_trainer_save_on_full_disk(void **state)
{
    (void)state;
    char path[PATH_LEN];
    sl_error err = {0};
    rig r;
    rig_open(&r);
    steps(&r, 3);
    sl_kv meta[1] = {{"config", "spiral"}};
    assert_int_equal(sl_trainer_save(r.trainer, scratch(path, "trainer.safetensors"), meta, 1,
                                     &err),
                     SL_OK);
    size_t len = 0;
    unsigned char *before = slurp(path, &len);
    steps(&r, 2); /* the parameters and optimizer state move on */

    const rlim_t limits[] = {0, 1, 8, 64, (rlim_t)len / 2, (rlim_t)len - 1};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        fsize_guard g;
        sl_error e = {0};
        fsize_limit(&g, limits[i]);
        sl_status st = sl_trainer_save(r.trainer, path, meta, 1, &e);
        fsize_restore(&g);
        if (st != SL_ERR_IO)
            fail_msg("limit %lu: expected SL_ERR_IO, got %s: %s", (unsigned long)limits[i],
                     sl_status_name(st), e.message);
        assert_contains(e.message, path);
        assert_contains(e.message, strerror(EFBIG));
        assert_file_equals(path, before, len);
        assert_int_equal(count_temp_files(), 0);
    }

    /* The surviving checkpoint is the one saved after step 3, and it resumes. */
    rig back;
    rig_open(&back);
    assert_int_equal(sl_trainer_load(back.trainer, path, &err), SL_OK);
    assert_int_equal(sl_trainer_steps(back.trainer), 3);
    /* With room again, the save goes through. */
    assert_int_equal(sl_trainer_save(r.trainer, path, meta, 1, &err), SL_OK);
    assert_int_equal(sl_trainer_load(back.trainer, path, &err), SL_OK);
    assert_int_equal(sl_trainer_steps(back.trainer), 5);
    rig_close(&back);
    free(before);
    rig_close(&r);
}

static void test_model_save_on_full_disk(void **state)
{
    (void)state;
    char path[PATH_LEN];
    sl_error err = {0};
    rig r;
    rig_open(&r);
    assert_int_equal(sl_model_save(r.model, scratch(path, "model.safetensors"), NULL, 0, &err),
                     SL_OK);
    size_t len = 0;
    unsigned char *before = slurp(path, &len);
    steps(&r, 1);
    fsize_guard g;
    sl_error e = {0};
    fsize_limit(&g, (rlim_t)len / 3);
    sl_status st = sl_model_save(r.model, path, NULL, 0, &e);
    fsize_restore(&g);
    assert_int_equal(st, SL_ERR_IO);
    assert_contains(e.message, path);
    assert_file_equals(path, before, len);
    assert_int_equal(count_temp_files(), 0);
    free(before);
    rig_close(&r);
}

/* ---- unreadable and truncated datasets --------------------------------------------- */

static void expect_load_failure(const char *images, const char *labels, const char *csv,
                                sl_status want, const char *named)
{
    sl_error err = {0};
    sl_dataset *ds = csv ? sl_dataset_load_csv(csv, 0, &err)
                         : sl_dataset_load_idx(images, labels, 0, &err);
    if (ds)
        fail_msg("%s loaded", csv ? csv : images);
    if (err.status != want)
        fail_msg("%s: expected %s, got %s: %s", named, sl_status_name(want),
                 sl_status_name(err.status), err.message);
    assert_contains(err.message, named);
}

static void test_unreadable_datasets(void **state)
{
    (void)state;
    char images[PATH_LEN], labels[PATH_LEN], missing[PATH_LEN];
    snprintf(images, sizeof images, "%s", tu_source_path("datasets/fixtures/tiny-images.idx"));
    snprintf(labels, sizeof labels, "%s", tu_source_path("datasets/fixtures/tiny-labels.idx"));
    scratch(missing, "no-such-file.idx");
    /* A directory opens but cannot be read: an I/O error, not a crash or a hang. */
    expect_load_failure(g_dir, labels, NULL, SL_ERR_READ, g_dir);
    expect_load_failure(images, g_dir, NULL, SL_ERR_READ, g_dir);
    expect_load_failure(NULL, NULL, g_dir, SL_ERR_READ, g_dir);
    expect_load_failure(missing, labels, NULL, SL_ERR_READ, missing);
    expect_load_failure(images, missing, NULL, SL_ERR_READ, missing);
    expect_load_failure(NULL, NULL, missing, SL_ERR_READ, missing);
    /* A device is refused before reading: SL_ERR_READ, not an empty file. */
    expect_load_failure("/dev/null", labels, NULL, SL_ERR_READ, "is a character device");
    expect_load_failure(NULL, NULL, "/dev/null", SL_ERR_READ, "is a character device");
    /* An empty file: a format error (no header, no rows). */
    char empty[PATH_LEN];
    scratch(empty, "empty.idx");
    spit(empty, (const unsigned char *)"", 0);
    expect_load_failure(empty, labels, NULL, SL_ERR_FORMAT, empty);
    expect_load_failure(NULL, NULL, empty, SL_ERR_FORMAT, empty);
    unlink(empty);
}

/* Every proper prefix of an IDX file (raw or gzip) is refused with a format error. */
static void truncations(const char *fixture, int is_labels)
{
    char cut[PATH_LEN], other[PATH_LEN];
    size_t len = 0;
    unsigned char *bytes = slurp(tu_source_path(fixture), &len);
    snprintf(other, sizeof other, "%s",
             tu_source_path(is_labels ? "datasets/fixtures/tiny-images.idx"
                                      : "datasets/fixtures/tiny-labels.idx"));
    scratch(cut, "cut.idx");
    for (size_t k = 0; k < len; k++) {
        spit(cut, bytes, k);
        sl_error err = {0};
        sl_dataset *ds = is_labels ? sl_dataset_load_idx(other, cut, 0, &err)
                                   : sl_dataset_load_idx(cut, other, 0, &err);
        if (ds)
            fail_msg("%s cut to %zu of %zu bytes loaded", fixture, k, len);
        if (err.status != SL_ERR_FORMAT)
            fail_msg("%s cut to %zu bytes: %s: %s", fixture, k, sl_status_name(err.status),
                     err.message);
        assert_contains(err.message, cut);
    }
    unlink(cut);
    free(bytes);
}

static void test_truncated_idx_files(void **state)
{
    (void)state;
    truncations("datasets/fixtures/tiny-images.idx", 0);
    truncations("datasets/fixtures/tiny-images.idx.gz", 0);
    truncations("datasets/fixtures/tiny-labels.idx", 1);
    truncations("datasets/fixtures/tiny-labels.idx.gz", 1);
}

/* A CSV cut anywhere either loads (cut at a row boundary) or fails with a format error. */
static void test_truncated_csv_files(void **state)
{
    (void)state;
    const char *fixtures[2] = {"datasets/fixtures/tiny.csv", "datasets/fixtures/tiny.csv.gz"};
    char cut[PATH_LEN];
    scratch(cut, "cut.csv");
    for (int f = 0; f < 2; f++) {
        size_t len = 0;
        unsigned char *bytes = slurp(tu_source_path(fixtures[f]), &len);
        int loaded = 0;
        for (size_t k = 0; k < len; k++) {
            spit(cut, bytes, k);
            sl_error err = {0};
            sl_dataset *ds = sl_dataset_load_csv(cut, 0, &err);
            if (ds) {
                assert_true(sl_dataset_count(ds) >= 1);
                loaded++;
                sl_dataset_free(ds);
                continue;
            }
            if (err.status != SL_ERR_FORMAT)
                fail_msg("%s cut to %zu bytes: %s: %s", fixtures[f], k,
                         sl_status_name(err.status), err.message);
            assert_contains(err.message, cut);
        }
        if (f == 1)
            assert_int_equal(loaded, 0); /* no prefix of a gzip stream is a whole stream */
        free(bytes);
    }
    unlink(cut);
}

/* ---- configs asking for more than memory --------------------------------------------- */

/* Builds and initialises the config's model; returns the status of the first failure. */
static sl_status build_and_init(const char *json, sl_error *err)
{
    sl_config *cfg = sl_config_parse(json, "huge.json", NULL, 0, err);
    if (!cfg)
        return err->status;
    sl_model *m = sl_config_build_model(cfg, err);
    sl_status st = m ? sl_model_init(m, cfg->model.init, cfg->seed, err) : err->status;
    sl_model_free(m);
    sl_config_free(cfg);
    return st;
}

static void test_huge_models_are_refused(void **state)
{
    (void)state;
    sl_error err = {0};
    /* 10^12 weights in one linear layer: 4 TB of floats, refused before allocating. */
    const char *linear =
        "{\"data\": {\"dataset\": \"mnist\"}, \"model\": {\"input\": [1000000], \"layers\": ["
        "{\"type\": \"linear\", \"out\": 1000000}, {\"type\": \"linear\", \"out\": 10}]}}";
    sl_status st = build_and_init(linear, &err);
    if (st != SL_ERR_CONFIG)
        fail_msg("10^12-weight linear: %s: %s", sl_status_name(st), err.message);
    assert_contains(err.message, "model.layers[0]: layer 0 (linear): more than 2147483648 parameters");

    /* Two layers of 1.6 * 10^9 weights: each fits, the second takes the model past 2^31. */
    const char *pair =
        "{\"data\": {\"dataset\": \"mnist\"}, \"model\": {\"input\": [40000], \"layers\": ["
        "{\"type\": \"linear\", \"out\": 40000, \"bias\": false},"
        " {\"type\": \"linear\", \"out\": 40000, \"bias\": false}]}}";
    memset(&err, 0, sizeof err);
    st = build_and_init(pair, &err);
    assert_int_equal(st, SL_ERR_CONFIG);
    assert_contains(err.message,
                    "model.layers[1]: layer 1 (linear): its 1600000000 parameters take the model "
                    "past 2147483648");

    /* 10^12 activations per sample (a conv's output): refused when the model is built. */
    const char *conv =
        "{\"data\": {\"dataset\": \"mnist\"}, \"model\": {\"input\": [1, 1000, 1000], \"layers\": ["
        "{\"type\": \"conv2d\", \"out\": 1000000, \"kernel\": 1}, {\"type\": \"flatten\"},"
        " {\"type\": \"linear\", \"out\": 10}]}}";
    memset(&err, 0, sizeof err);
    st = build_and_init(conv, &err);
    if (st != SL_ERR_SHAPE)
        fail_msg("10^12-activation conv: %s: %s", sl_status_name(st), err.message);
    assert_contains(err.message, "model.layers[0]: layer 0 (conv2d): output is empty or too large");

    /* 10^12 input features: refused by the model's input bounds. */
    const char *input = "{\"data\": {\"dataset\": \"mnist\"}, \"model\": {\"input\": [1000, 1000, "
                        "1000000], \"layers\": [{\"type\": \"flatten\"}]}}";
    memset(&err, 0, sizeof err);
    st = build_and_init(input, &err);
    assert_int_equal(st, SL_ERR_SHAPE);
    assert_contains(err.message, "model.input: model input dimension 2 is 1000000: out of range");

    /* A model that fits but a batch that cannot: the trainer says so. */
    sl_config *cfg = sl_config_parse(
        "{\"data\": {\"dataset\": \"mnist\"}, \"model\": {\"input\": [1, 1024, 1024], \"layers\": ["
        "{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 2}]},"
        " \"train\": {\"batch_size\": 2147483647}}",
        "batch.json", NULL, 0, &err);
    assert_non_null(cfg);
    sl_model *m = sl_config_build_model(cfg, &err);
    assert_non_null(m);
    assert_int_equal(sl_model_init(m, cfg->model.init, 1, &err), SL_OK);
    float *x = malloc(2 * 1024 * 1024 * sizeof *x);
    int32_t y[2] = {0, 1};
    assert_non_null(x);
    for (size_t i = 0; i < 2 * 1024 * 1024; i++)
        x[i] = 0.5f;
    int64_t shape[3] = {1, 1024, 1024};
    sl_dataset *ds = sl_dataset_from_arrays(x, y, 2, 3, shape, 2, &err);
    assert_non_null(ds);
    sl_train_options o = sl_train_defaults();
    o.batch_size = cfg->train.batch_size;
    memset(&err, 0, sizeof err);
    sl_trainer *t = sl_trainer_new(m, ds, &o, &err);
    if (t) {
        sl_trainer_free(t); /* 8 TiB of batch buffer was granted: a lazy allocator. */
    } else if (err.status != SL_ERR_NOMEM && err.status != SL_ERR_CONFIG &&
               err.status != SL_ERR_INVALID) {
        fail_msg("huge batch: %s: %s", sl_status_name(err.status), err.message);
    }
    sl_dataset_free(ds);
    free(x);
    sl_model_free(m);
    sl_config_free(cfg);
}

/*
 * Layers of 2^32 x 2^31 and 2^31 x 2^31 weights (2^63 and more): counting them must
 * not overflow (UBSan checks it), and the first is refused when it is added.
 */
static void test_parameter_total_overflow(void **state)
{
    (void)state;
    sl_error err = {0};
    const char *many =
        "{\"data\": {\"dataset\": \"mnist\"}, \"model\": {\"input\": [4, 1073741824], "
        "\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 2147483647},"
        " {\"type\": \"linear\", \"out\": 2147483647}, {\"type\": \"linear\", \"out\": 10}]}}";
    sl_status st = build_and_init(many, &err);
    if (st != SL_ERR_CONFIG)
        fail_msg("2^62-weight layers: %s: %s", sl_status_name(st), err.message);
    assert_contains(err.message, "model.layers[1]: layer 1 (linear): more than 2147483648");
}

/* ---- NaN and Inf during training ------------------------------------------------------ */

static void test_nan_input_is_named(void **state)
{
    (void)state;
    sl_error err = {0};
    float x[8] = {0.1f, 0.2f, 0.3f, NAN, 0.5f, 0.6f, 0.7f, 0.8f};
    int32_t y[4] = {0, 1, 2, 0};
    int64_t shape[1] = {2};
    sl_dataset *ds = sl_dataset_from_arrays(x, y, 4, 1, shape, 3, &err);
    assert_non_null(ds);
    rig r;
    rig_open(&r);
    sl_train_options o = sl_train_defaults();
    o.batch_size = 4;
    o.shuffle = 0;
    sl_trainer *t = sl_trainer_new(r.model, ds, &o, &err);
    assert_non_null(t);
    int64_t n = 0;
    float *p = sl_model_flat_params(r.model, &n);
    float *before = malloc((size_t)n * sizeof *before);
    assert_non_null(before);
    memcpy(before, p, (size_t)n * sizeof *p);
    sl_step_info info;
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_ERR_NUMERIC);
    assert_contains(err.message, "step 1");
    assert_contains(err.message, "the input batch");
    assert_memory_equal(before, p, (size_t)n * sizeof *p); /* nothing updated */
    free(before);
    sl_trainer_free(t);
    sl_dataset_free(ds);
    rig_close(&r);
}

static void test_inf_weight_is_named(void **state)
{
    (void)state;
    sl_error err = {0};
    rig r;
    rig_open(&r);
    steps(&r, 2);
    char path[PATH_LEN];
    assert_int_equal(sl_trainer_save(r.trainer, scratch(path, "good.safetensors"), NULL, 0, &err),
                     SL_OK);
    sl_model_find_param(r.model, "layers.2.weight")->tensor->data[0] = INFINITY;
    sl_step_info info;
    assert_int_equal(sl_trainer_step(r.trainer, &info, &err), SL_ERR_NUMERIC);
    assert_contains(err.message, "step 3");
    assert_contains(err.message, "layer 2 (linear)");
    /* The last good checkpoint is untouched and loads. */
    rig back;
    rig_open(&back);
    assert_int_equal(sl_trainer_load(back.trainer, path, &err), SL_OK);
    assert_int_equal(sl_trainer_steps(back.trainer), 2);
    rig_close(&back);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_fails_at_every_offset),
        cmocka_unit_test(test_trainer_save_on_full_disk),
        cmocka_unit_test(test_model_save_on_full_disk),
        cmocka_unit_test(test_unreadable_datasets),
        cmocka_unit_test(test_truncated_idx_files),
        cmocka_unit_test(test_truncated_csv_files),
        cmocka_unit_test(test_huge_models_are_refused),
        cmocka_unit_test(test_parameter_total_overflow),
        cmocka_unit_test(test_nan_input_is_named),
        cmocka_unit_test(test_inf_weight_is_named),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
