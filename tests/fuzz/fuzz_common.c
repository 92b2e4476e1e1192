/*
 * fuzz_common.c - scratch files and the checks every harness shares.
 */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz_common.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zlib.h>

/* Work bounds for inputs the library accepts, so one input stays fast. */
#define FUZZ_MAX_FLOATS ((int64_t)1 << 20) /* samples read back, activations per forward */
#define FUZZ_MAX_PARAMS ((int64_t)1 << 20) /* parameters initialised */
#define FUZZ_MAX_MACS ((int64_t)1 << 22)   /* multiply-adds of one forward of a batch of 2 */

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---- scratch files ------------------------------------------------------------ */

#define FUZZ_SLOTS 4
static int slot_fd[FUZZ_SLOTS] = {-1, -1, -1, -1};
static char slot_path[FUZZ_SLOTS][64];

static int open_scratch(void)
{
#ifdef MFD_CLOEXEC
    int fd = memfd_create("slope-fuzz", MFD_CLOEXEC);
    if (fd >= 0)
        return fd;
#endif
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/slope-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd2 = mkstemp(path);
    if (fd2 >= 0)
        unlink(path); /* /proc/self/fd/N still opens it */
    return fd2;
}

const char *fuzz_file(int slot, const void *data, size_t size)
{
    if (slot < 0 || slot >= FUZZ_SLOTS)
        fuzz_fail("bad scratch slot %d", slot);
    if (slot_fd[slot] < 0) {
        slot_fd[slot] = open_scratch();
        if (slot_fd[slot] < 0)
            fuzz_fail("cannot create a scratch file");
        snprintf(slot_path[slot], sizeof slot_path[slot], "/proc/self/fd/%d", slot_fd[slot]);
    }
    int fd = slot_fd[slot];
    if (ftruncate(fd, 0) != 0)
        fuzz_fail("ftruncate failed");
    const unsigned char *p = data;
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, p + done, size - done, (off_t)done);
        if (w <= 0)
            fuzz_fail("cannot write a scratch file");
        done += (size_t)w;
    }
    return slot_path[slot];
}

static char dir_path[512];

static void remove_dir(void)
{
    DIR *d = opendir(dir_path);
    if (d) {
        struct dirent *e;
        char path[1024];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir_path);
}

char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
    }
    return text;
}

const char *fuzz_dir(void)
{
    if (!dir_path[0]) {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp)
            tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir_path, sizeof dir_path, "%s/slope-fuzz-XXXXXX", tmp);
        if (!mkdtemp(dir_path))
            fuzz_fail("cannot create a scratch directory under %s", tmp);
        atexit(remove_dir);
    }
    return dir_path;
}

unsigned char *fuzz_gzip(const void *data, size_t size, size_t *out_size)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* 15 + 16: a gzip wrapper rather than zlib's. */
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&z, (uLong)size) + 32;
    unsigned char *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_size = (size_t)z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- shared checks -------------------------------------------------------------- */

void fuzz_check_error(const sl_error *err, const char *what)
{
    if (err->status == SL_OK)
        fuzz_fail("%s failed without an error status", what);
    if (memchr(err->message, '\0', sizeof err->message) == NULL)
        fuzz_fail("%s: the error message is not terminated", what);
    if (err->message[0] == '\0')
        fuzz_fail("%s failed (%s) with an empty message", what, sl_status_name(err->status));
}

void fuzz_check_dataset(sl_dataset *ds)
{
    sl_error err = {0};
    int64_t count = sl_dataset_count(ds), shape[SL_DATA_MAX_DIMS] = {0, 0, 0};
    int ndim = sl_dataset_shape(ds, shape);
    int64_t sample = sl_dataset_sample_size(ds), product = 1;
    int classes = sl_dataset_num_classes(ds);
    if (count < 1 || ndim < 1 || ndim > SL_DATA_MAX_DIMS || sample < 1)
        fuzz_fail("accepted dataset: count %lld, ndim %d, sample %lld", (long long)count, ndim,
                  (long long)sample);
    for (int i = 0; i < ndim; i++)
        product *= shape[i];
    if (product != sample)
        fuzz_fail("accepted dataset: shape product %lld != sample size %lld", (long long)product,
                  (long long)sample);
    if (classes < 1 || classes > SL_DATA_MAX_CLASSES)
        fuzz_fail("accepted dataset: %d classes", classes);
    if (!sl_dataset_name(ds))
        fuzz_fail("accepted dataset without a name");
    for (int64_t i = 0; i < count; i++) {
        int32_t y = sl_dataset_label(ds, i);
        if (y < 0 || y >= classes)
            fuzz_fail("accepted dataset: label %d of sample %lld outside 0..%d", (int)y,
                      (long long)i, classes - 1);
    }
    /* Read back as many whole samples as the work bound allows. */
    int64_t n = FUZZ_MAX_FLOATS / sample;
    if (n > count)
        n = count;
    if (n >= 1) {
        float *x = malloc((size_t)(n * sample) * sizeof *x);
        int32_t *y = malloc((size_t)n * sizeof *y);
        if (!x || !y)
            fuzz_fail("out of memory");
        if (sl_dataset_read(ds, 0, n, x, y, &err) != SL_OK)
            fuzz_fail("accepted dataset: read failed: %s", err.message);
        for (int64_t i = 0; i < n * sample; i++)
            if (!isfinite(x[i]))
                fuzz_fail("accepted dataset: feature %lld is not finite", (long long)i);
        double mean = 0.0, std = 0.0;
        if (sl_dataset_mean_std(ds, &mean, &std, &err) != SL_OK)
            fuzz_fail("mean_std failed: %s", err.message);
        if (std > 0.0 && isfinite(std) && isfinite(mean) &&
            sl_dataset_set_normalize(ds, SL_NORMALIZE_STANDARDIZE, mean, std, &err) == SL_OK &&
            sl_dataset_read(ds, 0, n, x, y, &err) != SL_OK)
            fuzz_fail("standardized read failed: %s", err.message);
        free(x);
        free(y);
    }
    if (count * sample <= FUZZ_MAX_FLOATS) {
        sl_batch_options bo = {3, 1, 7, 0};
        sl_batch_iter *it = sl_batch_iter_new(ds, &bo, &err);
        if (!it)
            fuzz_fail("batch iterator: %s", err.message);
        float *x = malloc((size_t)(3 * sample) * sizeof *x);
        int32_t y[3];
        int64_t got = 0, total = 0;
        if (!x)
            fuzz_fail("out of memory");
        while (sl_batch_iter_next(it, x, y, &got, &err) == SL_OK && got > 0)
            total += got;
        if (total != count)
            fuzz_fail("one epoch of batches gave %lld samples of %lld", (long long)total,
                      (long long)count);
        free(x);
        sl_batch_iter_free(it);
    }
}

/* A forward and backward pass of two zero/one samples, when the model is small. */
static void run_model(sl_model *m, const sl_config *cfg)
{
    sl_error err = {0};
    int64_t params = 0, acts = 0, macs = 0, shape[4];
    size_t layers = sl_model_num_layers(m);
    for (size_t i = 0; i < layers; i++) {
        int64_t p = sl_model_layer_param_count(m, i), f = sl_model_layer_flops(m, i);
        if (p < 0 || f < 0)
            fuzz_fail("layer %zu: %lld parameters, %lld multiply-adds", i, (long long)p,
                      (long long)f);
        int nd = sl_model_layer_shape(m, (int)i, shape);
        int64_t size = 1;
        for (int d = 0; d < nd; d++)
            size *= shape[d]; /* at most 2^32: sl_model_add bounds it */
        /* Too big to run in a fuzzing loop: test_faults covers huge models. */
        if (p > FUZZ_MAX_PARAMS || f > FUZZ_MAX_MACS || size > FUZZ_MAX_FLOATS)
            return;
        params += p;
        macs += f;
        acts += size;
        if (params > FUZZ_MAX_PARAMS || macs > FUZZ_MAX_MACS / 2 || acts > FUZZ_MAX_FLOATS / 4)
            return;
    }
    if (sl_model_init(m, cfg->model.init, cfg->seed, &err) != SL_OK) {
        fuzz_check_error(&err, "sl_model_init");
        return;
    }
    if (sl_model_param_count(m) != params)
        fuzz_fail("param count %lld after init, %lld before", (long long)sl_model_param_count(m),
                  (long long)params);
    int64_t xshape[4] = {2, 1, 1, 1};
    for (int d = 0; d < cfg->model.input_ndim; d++)
        xshape[d + 1] = cfg->model.input[d];
    sl_tensor *x = sl_tensor_new(cfg->model.input_ndim + 1, xshape, &err);
    if (!x)
        fuzz_fail("input tensor: %s", err.message);
    for (int64_t i = 0; i < x->size; i++)
        x->data[i] = (float)(i % 7) * 0.25f - 0.75f;
    /* One graph for the process: its 1 MiB arena is reused, not remade per input. */
    static sl_graph *g;
    if (!g && !(g = sl_graph_new(cfg->seed, &err)))
        fuzz_fail("graph: %s", err.message);
    sl_graph_reset(g);
    sl_graph_clear_error(g);
    sl_rng_seed(sl_graph_rng(g), cfg->seed);
    sl_graph_set_training(g, 1);
    sl_tensor *out = sl_model_forward(m, g, x);
    if (!out) {
        fuzz_fail("forward of a model sl_config_build_model accepted: %s", sl_graph_errmsg(g));
    } else {
        int64_t oshape[4];
        int ond = sl_model_output_shape(m, oshape);
        if (out->ndim != ond + 1 || out->shape[0] != 2 || out->shape[1] != oshape[0])
            fuzz_fail("forward output has %d dims [%lld, %lld], the model says [%lld]", out->ndim,
                      (long long)out->shape[0], (long long)out->shape[1], (long long)oshape[0]);
        int32_t labels[2] = {0, (int32_t)(oshape[0] - 1)};
        sl_tensor *loss = sl_loss(g, out, labels, cfg->loss);
        if (!loss)
            fuzz_fail("loss: %s", sl_graph_errmsg(g));
        if (sl_backward(g, loss) != SL_OK)
            fuzz_fail("backward: %s", sl_graph_errmsg(g));
    }
    sl_graph_reset(g);
    sl_tensor_free(x);
}

void fuzz_check_config(const sl_config *cfg)
{
    sl_error err = {0};
    /* The emitted config loads back as the same config. */
    char *text = sl_config_to_json(cfg);
    if (!text)
        fuzz_fail("sl_config_to_json returned NULL");
    sl_config *again = sl_config_parse(text, cfg->origin, NULL, 0, &err);
    if (!again)
        fuzz_fail("the emitted config does not load: %s\n%s", err.message, text);
    char *text2 = sl_config_to_json(again);
    if (!text2 || strcmp(text, text2) != 0)
        fuzz_fail("emit -> parse -> emit changed the config:\n%s\n---\n%s", text,
                  text2 ? text2 : "(NULL)");
    free(text2);
    free(text);
    sl_config_free(again);

    sl_model *m = sl_config_build_model(cfg, &err);
    if (!m) {
        fuzz_check_error(&err, "sl_config_build_model");
        if (err.status != SL_ERR_SHAPE && err.status != SL_ERR_CONFIG &&
            err.status != SL_ERR_NOMEM)
            fuzz_fail("sl_config_build_model: unexpected %s: %s", sl_status_name(err.status),
                      err.message);
        return;
    }
    run_model(m, cfg);
    sl_model_free(m);
}

void fuzz_set_reader_limits(unsigned bits)
{
    static const uint64_t budgets[4] = {0, 4096, 65536, 1u << 20};
    sl_data_set_memory_budget(budgets[bits & 3]);
    sl_data_set_max_line((bits & 4) ? 300 : 0);
}
