/*
 * bench_train.c - slope's whole training step, timed: the C half of the
 * slope-vs-PyTorch benchmark (tools/bench_vs_torch.sh runs it beside
 * tools/bench_torch.py; tools/BENCHMARKS.md has the results).
 *
 *   bench_train CONFIG [--batch N] [--threads T] [--warmup W] [--steps S]
 *                      [--epochs E] [--eval-batch B] [--loss-every K]
 *                      [--init FILE] [--t0 SECONDS] [--datasets DIR] [--peak]
 *                      [--no-dropout] [--set PATH=VALUE]...
 *
 * What it does, in order:
 *  1. loads the config, the training and test splits and builds the model with
 *     the config's seed (--init FILE also writes these initial weights, for
 *     PyTorch to load);
 *  2. "startup": the time from --t0 (wall-clock seconds since the epoch, taken
 *     by the caller just before starting this process; without it, from main)
 *     to the moment the first training step starts, data loaded;
 *  3. W + S steps in data order (no shuffle), constant learning rate, the
 *     config's optimizer: the last S are timed ("steps" samples/s), and the
 *     heap allocations libslope makes during them are read from its own
 *     counters (slope/alloc.h: the library's one allocation path; OpenBLAS's
 *     and libc's own allocations are not slope's and are not counted); every
 *     step's loss is kept and every K-th is printed: the loss curve PyTorch
 *     must reproduce;
 *  4. E full shuffled epochs with a fresh trainer (optimizer state reset):
 *     samples/s over the whole epoch, the partial last batch included;
 *  5. evaluation of the test split (batch B, default the training batch):
 *     samples/s and accuracy;
 *  6. the sgemm rate on the step's own matrix shapes (every linear and conv
 *     product of forward and backward, the convolutions as one product per
 *     layer over the whole batch), and with --peak on 2048^3: training FLOP/s
 *     is reported as a fraction of that rate.
 * Peak RSS (getrusage) is read before step 6, which allocates its own buffers.
 * Like the slope CLI should (see tools/BENCHMARKS.md), the program fixes
 * glibc's mmap threshold at 1 MiB: otherwise freeing the 26 MB compressed
 * data buffer raises the dynamic threshold so far that the step arena's
 * first-step blocks, once merged and freed, stay in the heap (+20 MiB RSS).
 * --no-dropout sets every dropout layer's p to 0, for an exact loss-curve
 * comparison with PyTorch (their dropout masks differ).  --set overrides the config as
 * `slope train --set` does (e.g. --set train.precision=bf16), up to MAX_SETS of them.
 * The last line is "RESULT {json}" for the driver script.
 */
#define _GNU_SOURCE /* mallopt; also implies the POSIX clock API */

#include <cblas.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kernels.h" /* private: sl_k_sgemm, the wrapper the ops use */
#include "slope/slope.h"

/* ---- small helpers --------------------------------------------------------------- */

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the whole process (all threads): a busy machine's waiting left out. */
static double now_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

/* Current resident set in MiB (VmRSS of /proc/self/status), 0 if unreadable. */
static double rss_now_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kib = 0.0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atof(line + 6);
    if (f)
        fclose(f);
    return kib / 1024.0;
}

static void die(const char *what, const sl_error *err)
{
    fprintf(stderr, "bench_train: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

#define MAX_SETS 16

typedef struct args {
    const char *config, *init, *datasets;
    const char *sets[MAX_SETS];
    size_t n_sets;
    int64_t batch, eval_batch;
    int threads, warmup, steps, epochs, loss_every, peak, no_dropout;
    double t0;
} args;

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_train CONFIG [--batch N] [--threads T] [--warmup W] [--steps S]\n"
            "                   [--epochs E] [--eval-batch B] [--loss-every K] [--init FILE]\n"
            "                   [--t0 SECONDS] [--datasets DIR] [--peak] [--no-dropout]\n"
            "                   [--set PATH=VALUE]...\n");
    exit(2);
}

static args parse_args(int argc, char **argv)
{
    args a = {0};
    a.threads = 1;
    a.warmup = 20;
    a.steps = 200;
    a.epochs = 1;
    a.eval_batch = 0; /* the training batch */
    a.loss_every = 10;
    const char *env = getenv("SLOPE_DATASETS_DIR");
    a.datasets = env && *env ? env : "datasets";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--peak") == 0 || strcmp(o, "--no-dropout") == 0) {
            *(o[2] == 'p' ? &a.peak : &a.no_dropout) = 1;
            continue;
        }
        if (o[0] != '-') {
            if (a.config)
                usage();
            a.config = o;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (strcmp(o, "--batch") == 0)
            a.batch = atoll(v);
        else if (strcmp(o, "--threads") == 0)
            a.threads = atoi(v);
        else if (strcmp(o, "--warmup") == 0)
            a.warmup = atoi(v);
        else if (strcmp(o, "--steps") == 0)
            a.steps = atoi(v);
        else if (strcmp(o, "--epochs") == 0)
            a.epochs = atoi(v);
        else if (strcmp(o, "--eval-batch") == 0)
            a.eval_batch = atoll(v);
        else if (strcmp(o, "--loss-every") == 0)
            a.loss_every = atoi(v);
        else if (strcmp(o, "--init") == 0)
            a.init = v;
        else if (strcmp(o, "--t0") == 0)
            a.t0 = atof(v);
        else if (strcmp(o, "--datasets") == 0)
            a.datasets = v;
        else if (strcmp(o, "--set") == 0 && a.n_sets < MAX_SETS)
            a.sets[a.n_sets++] = v;
        else
            usage();
    }
    if (!a.config || a.threads < 1 || a.warmup < 1 || a.steps < 1 || a.epochs < 0 ||
        a.eval_batch < 0 || a.loss_every < 1)
        usage();
    return a;
}

/* ---- FLOPs and the sgemm reference ------------------------------------------------- */

typedef struct gemm_shape {
    int ta, tb, M, N, K;
} gemm_shape;

#define MAX_GEMMS 64

/*
 * The products of one training step at batch n, as one sgemm per product
 * (convolutions batched over the images).  A layer whose input needs no
 * gradient (the first layer with weights) skips the dx product.
 * Returns the count; *flops gets their FLOPs (2 per multiply-add), and
 * *fwd_flops the forward ones.
 */
static int step_gemms(const sl_model *m, int64_t n, gemm_shape *g, double *flops,
                      double *fwd_flops)
{
    int count = 0, seen_weights = 0;
    *flops = *fwd_flops = 0.0;
    for (size_t i = 0; i < sl_model_num_layers(m); i++) {
        const sl_layer_spec *s = sl_model_layer(m, i);
        int64_t in[4], out[4];
        sl_model_layer_shape(m, (int)i - 1, in);
        sl_model_layer_shape(m, (int)i, out);
        int M, N, K; /* forward: out[M, N] = A[M, K] B[K, N] */
        int lin = s->type == SL_LAYER_LINEAR;
        if (lin) { /* y[n, out] = x[n, in] W^T */
            int64_t fin = sl_model_layer_flops(m, i) / s->out;
            M = (int)n, N = (int)s->out, K = (int)fin;
            g[count++] = (gemm_shape){0, 1, M, N, K};
            g[count++] = (gemm_shape){1, 0, N, K, M}; /* dW = dy^T x */
            if (seen_weights)
                g[count++] = (gemm_shape){0, 0, M, K, N}; /* dx = dy W */
        } else if (s->type == SL_LAYER_CONV2D) { /* y[O, n*ohw] = W[O, ckk] cols */
            int64_t ohw = out[1] * out[2];
            M = (int)s->out, N = (int)(n * ohw), K = (int)(in[0] * s->kernel * s->kernel);
            g[count++] = (gemm_shape){0, 0, M, N, K};
            g[count++] = (gemm_shape){0, 1, M, K, N}; /* dW = dy cols^T */
            if (seen_weights)
                g[count++] = (gemm_shape){1, 0, K, N, M}; /* dcols = W^T dy */
        } else {
            continue;
        }
        double macs = (double)sl_model_layer_flops(m, i) * (double)n;
        *fwd_flops += 2.0 * macs;
        *flops += 2.0 * macs * (seen_weights ? 3.0 : 2.0);
        seen_weights = 1;
        if (count > MAX_GEMMS - 3)
            break;
    }
    return count;
}

static float *filled(size_t n)
{
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "bench_train: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((i * 2654435761u) % 1000) * 0.001f - 0.5f;
    return p;
}

/* Through slope's sgemm wrapper: with --threads > 1 it splits the product over slope's
 * threads exactly as the ops do (OpenBLAS itself runs single-threaded then). */
static void run_gemm(const gemm_shape *s, const float *a, const float *b, float *c)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    sl_k_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, a, lda, b, ldb, 0.0f, c, s->N);
}

/* Median seconds of one pass over the shapes (7 samples of >= 30 ms each). */
static double time_gemms(const gemm_shape *g, int count)
{
    size_t big = 1;
    for (int i = 0; i < count; i++) {
        size_t sz[3] = {(size_t)g[i].M * g[i].K, (size_t)g[i].K * g[i].N, (size_t)g[i].M * g[i].N};
        for (int j = 0; j < 3; j++)
            big = sz[j] > big ? sz[j] : big;
    }
    float *a = filled(big), *b = filled(big), *c = filled(big);
    for (int i = 0; i < count; i++)
        run_gemm(&g[i], a, b, c);
    double t = now_mono();
    for (int i = 0; i < count; i++)
        run_gemm(&g[i], a, b, c);
    double once = now_mono() - t;
    int reps = once > 0.03 ? 1 : (int)(0.03 / (once > 1e-6 ? once : 1e-6)) + 1;
    double samples[7];
    for (int r = 0; r < 7; r++) {
        t = now_mono();
        for (int k = 0; k < reps; k++)
            for (int i = 0; i < count; i++)
                run_gemm(&g[i], a, b, c);
        samples[r] = (now_mono() - t) / reps;
    }
    for (int i = 1; i < 7; i++) /* insertion sort, for the median */
        for (int j = i; j > 0 && samples[j] < samples[j - 1]; j--) {
            double tmp = samples[j];
            samples[j] = samples[j - 1];
            samples[j - 1] = tmp;
        }
    free(a);
    free(b);
    free(c);
    return samples[3];
}

/* ---- the run ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    double t_main = now_wall();
    args a = parse_args(argc, argv);
    double t0 = a.t0 > 0 ? a.t0 : t_main;
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    sl_error err = {0};
    sl_set_num_threads(a.threads);

    sl_config *cfg = sl_config_load(a.config, a.sets, a.n_sets, &err);
    if (!cfg)
        die("config", &err);
    int64_t batch = a.batch > 0 ? a.batch : cfg->train.batch_size;
    if (a.eval_batch == 0)
        a.eval_batch = batch;
    for (size_t i = 0; a.no_dropout && i < cfg->model.num_layers; i++)
        if (cfg->model.layers[i].type == SL_LAYER_DROPOUT)
            cfg->model.layers[i].p = 0.0f;
    /* The run's own pieces: the config's datasets (normalised) and its initialised model. */
    sl_run_data data;
    if (sl_run_data_open(cfg, a.datasets, &data, &err) != SL_OK)
        die("data", &err);
    const sl_dataset *train = data.train_all, *test = data.test;
    if (!test)
        die("the benchmark needs a config whose data has a test split", NULL);
    sl_model *model = sl_run_build_model(cfg, &err);
    if (!model)
        die("model", &err);
    if (a.init && sl_model_save(model, a.init, NULL, 0, &err) != SL_OK)
        die("--init", &err);

    sl_train_options opt = sl_run_train_options(cfg);
    opt.epochs = 1000000; /* steps are counted here, not epochs */
    opt.batch_size = batch;
    opt.shuffle = 0;
    opt.drop_last = 0;
    opt.schedule = sl_schedule_defaults(SL_SCHEDULE_CONSTANT);
    sl_trainer *tr = sl_trainer_new(model, train, &opt, &err);
    if (!tr)
        die("trainer", &err);

    /* ---- fixed steps ---- */
    int total = a.warmup + a.steps;
    float *losses = malloc((size_t)total * sizeof *losses);
    if (!losses)
        die("out of memory", NULL);
    double rss_loaded = rss_now_mib(), hwm_loaded = peak_rss_mib();
    double t_ready = now_wall(), t_first = 0.0, t_timed = 0.0, cpu_timed = 0.0;
    long allocs = 0;
    int64_t samples = 0;
    for (int s = 0; s < total; s++) {
        if (s == a.warmup) {
            sl_alloc_reset();
            t_timed = now_mono();
            cpu_timed = now_cpu();
        }
        sl_step_info info;
        if (sl_trainer_step(tr, &info, &err) != SL_OK)
            die("step", &err);
        if (info.n == 0) { /* an epoch boundary: not a step */
            s--;
            continue;
        }
        if (s == 0)
            t_first = now_wall();
        if (s >= a.warmup)
            samples += info.n;
        losses[s] = info.loss;
    }
    double steps_sec = now_mono() - t_timed, steps_cpu = now_cpu() - cpu_timed;
    sl_alloc_stats counted;
    sl_alloc_counters(&counted);
    allocs = (long)(counted.allocs + counted.failures);
    double allocs_per_step = (double)allocs / a.steps;
    double arena_mib = (double)sl_graph_arena_capacity(sl_trainer_graph(tr)) / 1048576.0;
    double arena_used = (double)sl_graph_arena_used(sl_trainer_graph(tr)) / 1048576.0;
    double rss_trained = rss_now_mib();
    sl_trainer_free(tr);

    /* ---- full epochs, shuffled ---- */
    double epoch_sps = 0.0, epoch_sec = 0.0, epoch_loss = 0.0, epoch_acc = 0.0;
    if (a.epochs > 0) {
        opt.shuffle = 1;
        opt.epochs = a.epochs;
        tr = sl_trainer_new(model, train, &opt, &err);
        if (!tr)
            die("trainer", &err);
        int64_t n = 0;
        for (int e = 0; e < a.epochs; e++) {
            sl_epoch_result r;
            if (sl_trainer_run_epoch(tr, NULL, NULL, &r, &err) != SL_OK)
                die("epoch", &err);
            epoch_sec += r.seconds;
            n += r.samples;
            epoch_loss = r.loss;
            epoch_acc = r.accuracy;
        }
        epoch_sps = (double)n / epoch_sec;
        sl_trainer_free(tr);
    }

    /* ---- evaluation ---- */
    sl_eval_result ev;
    memset(&ev, 0, sizeof ev);
    double te = now_mono();
    if (sl_evaluate(model, test, a.eval_batch, cfg->loss, &ev, &err) != SL_OK)
        die("evaluate", &err);
    double eval_sec = now_mono() - te;
    double rss = peak_rss_mib();

    /* ---- sgemm on the step's shapes ---- */
    gemm_shape shapes[MAX_GEMMS];
    double step_flops, fwd_flops;
    int ng = step_gemms(model, batch, shapes, &step_flops, &fwd_flops);
    double gemm_sec = time_gemms(shapes, ng);
    double step_sps = (double)samples / steps_sec;
    double train_gflops = step_flops / (double)batch * step_sps * 1e-9;
    double gemm_gflops = step_flops / gemm_sec * 1e-9;
    double peak_gflops = 0.0;
    if (a.peak) {
        gemm_shape big = {0, 0, 2048, 2048, 2048};
        peak_gflops = 2.0 * 2048.0 * 2048.0 * 2048.0 / time_gemms(&big, 1) * 1e-9;
    }

    /* ---- report ---- */
    printf("model %s  batch %lld  threads %d\n", cfg->name, (long long)batch, a.threads);
    printf("startup (process start -> first step, data loaded): %.3f s; first step done at %.3f s\n",
           t_ready - t0, t_first - t0);
    printf("steps: %d timed after %d warm-up: %.0f samples/s (%.3f ms/step, %.3f CPU ms/step), "
           "%ld allocations (%.2f per step)\n",
           a.steps, a.warmup, step_sps, 1e3 * steps_sec / a.steps, 1e3 * steps_cpu / a.steps,
           allocs, allocs_per_step);
    if (a.epochs > 0)
        printf("full epochs: %d, %.0f samples/s, last epoch loss %.4f acc %.2f%%\n", a.epochs,
               epoch_sps, epoch_loss, 100.0 * epoch_acc);
    printf("eval: %lld samples, batch %lld, %.0f samples/s, loss %.4f, accuracy %.2f%%\n",
           (long long)ev.samples, (long long)a.eval_batch, (double)ev.samples / eval_sec, ev.loss,
           100.0 * ev.accuracy);
    printf("FLOPs/step %.1f M: training %.1f GFLOP/s = %.1f%% of sgemm on the same shapes "
           "(%.1f GFLOP/s)",
           step_flops * 1e-6, train_gflops, 100.0 * train_gflops / gemm_gflops, gemm_gflops);
    if (a.peak)
        printf("; sgemm 2048^3: %.1f GFLOP/s", peak_gflops);
    printf("\npeak RSS: %.1f MiB (after loading: %.1f MiB now, %.1f peak; while training: "
           "%.1f MiB, step arena %.1f MiB, %.1f used)\n",
           rss, rss_loaded, hwm_loaded, rss_trained, arena_mib, arena_used);
    printf("loss curve (step: loss):");
    for (int s = 0; s < total; s++)
        if ((s + 1) % a.loss_every == 0 || s == 0)
            printf(" %d:%.4f", s + 1, (double)losses[s]);
    printf("\n");

    printf("RESULT {\"impl\": \"slope\", \"model\": \"%s\", \"batch\": %lld, \"threads\": %d, "
           "\"startup_s\": %.4f, \"first_step_s\": %.4f, \"steps_sps\": %.1f, \"cpu_ms_per_step\": %.3f, "
           "\"epoch_sps\": %.1f, \"eval_sps\": %.1f, \"eval_acc\": %.5f, \"rss_mib\": %.1f, "
           "\"allocs_per_step\": %.3f, \"step_gflop\": %.5f, \"train_gflops\": %.2f, "
           "\"gemm_gflops\": %.2f, \"peak_gflops\": %.2f, \"losses\": [",
           cfg->name, (long long)batch, a.threads, t_ready - t0, t_first - t0, step_sps,
           1e3 * steps_cpu / a.steps, epoch_sps, (double)ev.samples / eval_sec, ev.accuracy, rss, allocs_per_step,
           step_flops * 1e-9, train_gflops, gemm_gflops, peak_gflops);
    for (int s = 0; s < total; s++)
        printf("%s%.6g", s ? ", " : "", (double)losses[s]);
    printf("]}\n");

    free(losses);
    sl_model_free(model);
    sl_run_data_close(&data);
    sl_config_free(cfg);
    return 0;
}
