/*
 * cmd_train.c - `slope train CONFIG`: train, evaluate after each epoch,
 * write metrics and checkpoints, stop cleanly on SIGINT or a NaN.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct train_args {
    cli_config_args cfg;
    const char *checkpoint;
    const char *resume;
    const char *metrics;
    int quiet;
} train_args;

static void train_help(void)
{
    printf("usage: slope train CONFIG [options]\n"
           "\n"
           "  --epochs N          train N epochs (overrides train.epochs)\n"
           "  --set PATH=VALUE    override any config key, e.g. --set optimizer.lr=0.1 (repeatable)\n"
           "  --checkpoint FILE   write a checkpoint after every checkpoint.every epochs\n"
           "  --resume FILE       continue a run from its checkpoint\n"
           "  --metrics FILE      append one JSON object per epoch (JSONL)\n"
           "  --threads N         OpenBLAS threads\n"
           "  --quiet             no per-epoch lines, only the final one\n");
}

static int parse_train_args(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        int r = cli_config_option("train", argc, argv, &i, &a->cfg);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        const char *opt = argv[i];
        const char **slot = strcmp(opt, "--checkpoint") == 0 ? &a->checkpoint
                            : strcmp(opt, "--resume") == 0   ? &a->resume
                            : strcmp(opt, "--metrics") == 0  ? &a->metrics
                                                             : NULL;
        if (slot) {
            if (i + 1 >= argc)
                return cli_usage_error("train", "%s needs a file", opt);
            *slot = argv[++i];
        } else if (strcmp(opt, "--quiet") == 0) {
            a->quiet = 1;
        } else if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            train_help();
            return -1;
        } else if (opt[0] == '-') {
            return cli_usage_error("train", "unknown option %s", opt);
        } else if (a->cfg.path) {
            return cli_usage_error("train", "one CONFIG only (got %s and %s)", a->cfg.path, opt);
        } else {
            a->cfg.path = opt;
        }
    }
    if (!a->cfg.path)
        return cli_usage_error("train", "missing CONFIG");
    return 0;
}

typedef struct run {
    train_args args;
    sl_config *cfg;
    char *cfg_json;
    sl_run_data data;
    sl_model *model;
    sl_trainer *trainer;
    FILE *metrics;
    cli_stats stats;      /* dying-neuron statistics when stats.enabled */
    char best_path[4096]; /* checkpoint.keep_best: where the best checkpoint goes, or "" */
    double best_acc;      /* its validation (else test) accuracy; -1 before the first */
} run;

static void run_free(run *r)
{
    cli_stats_close(&r->stats);
    sl_trainer_free(r->trainer);
    sl_model_free(r->model);
    sl_run_data_close(&r->data);
    free(r->cfg_json);
    sl_config_free(r->cfg);
    if (r->metrics)
        fclose(r->metrics);
}

/* Closes the metrics file, reporting what the buffered writes could not put on disk. */
static sl_status close_metrics(run *r, sl_error *err)
{
    if (!r->metrics)
        return SL_OK;
    int failed = ferror(r->metrics);
    int reason = failed ? errno : 0; /* left by the write that failed */
    if (fclose(r->metrics) != 0) {
        failed = 1;
        reason = errno;
    }
    r->metrics = NULL;
    if (failed)
        return sl_error_set(err, SL_ERR_IO, "%s: writing the metrics failed%s%s", r->args.metrics,
                            reason ? ": " : "", reason ? strerror(reason) : "");
    return SL_OK;
}

static const char *checkpoint_path(const run *r)
{
    return r->args.checkpoint ? r->args.checkpoint : r->cfg->checkpoint.path;
}

/* Writes a resumable checkpoint; best_acc >= 0 records it as the best so far. */
static sl_status save_as(const run *r, const char *path, double best_acc, sl_error *err)
{
    char acc[32], epoch[16];
    snprintf(acc, sizeof acc, "%.9g", best_acc);
    snprintf(epoch, sizeof epoch, "%d", sl_trainer_epoch(r->trainer));
    sl_kv meta[4] = {{"config", r->cfg_json},
                     {"slope_version", sl_version()},
                     {"best_accuracy", acc},
                     {"best_epoch", epoch}};
    /* Under MPI (slope/dist.h): same batch-norm statistics on all ranks, rank 0 writes, all agree. */
    sl_status st = sl_dist_sync_buffers(r->model, err);
    if (st == SL_OK && sl_dist_rank() == 0)
        st = sl_trainer_save(r->trainer, path, meta, best_acc >= 0.0 ? 4 : 2, err);
    return sl_dist_agree(st, err);
}

static sl_status save(const run *r, const char *path, sl_error *err)
{
    return save_as(r, path, -1.0, err);
}

/* The checkpoint's directory must take new files: found out now, not after an epoch. */
static sl_status check_checkpoint_dir(const run *r, sl_error *err)
{
    const char *ckpt = checkpoint_path(r);
    if (!ckpt || sl_dist_rank() != 0)
        return SL_OK;
    char dir[4096];
    const char *slash = strrchr(ckpt, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == ckpt ? 1 : (int)(slash - ckpt), ckpt);
    if (access(dir, W_OK | X_OK) != 0)
        return sl_error_set(err, SL_ERR_IO, "%s: cannot write checkpoints in '%s': %s", ckpt, dir,
                            strerror(errno));
    return SL_OK;
}

/* checkpoint.keep_best: "run.safetensors" -> "run.best.safetensors" (else PATH.best). */
static sl_status setup_keep_best(run *r, sl_error *err)
{
    r->best_acc = -1.0;
    if (!r->cfg->checkpoint.keep_best)
        return SL_OK;
    const char *ckpt = checkpoint_path(r);
    if (!ckpt)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "%s: checkpoint.keep_best: needs a checkpoint path (--checkpoint "
                            "FILE or checkpoint.path)",
                            r->cfg->origin);
    if (!r->data.val && !r->data.test)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "%s: checkpoint.keep_best: needs a validation or test split to "
                            "tell which epoch is best",
                            r->cfg->origin);
    size_t n = strlen(ckpt), ext = strlen(".safetensors");
    int has_ext = n > ext && strcmp(ckpt + n - ext, ".safetensors") == 0;
    int w = has_ext ? snprintf(r->best_path, sizeof r->best_path, "%.*s.best.safetensors",
                               (int)(n - ext), ckpt)
                    : snprintf(r->best_path, sizeof r->best_path, "%s.best", ckpt);
    if (w < 0 || (size_t)w >= sizeof r->best_path)
        return sl_error_set(err, SL_ERR_CONFIG, "%s: checkpoint path too long", ckpt);
    if (!r->args.resume)
        return SL_OK; /* a new run: its first epoch is its best so far */
    /* A resumed run continues the comparison with the best file it left, if any. */
    sl_error ignored = {0};
    sl_safetensors *best = sl_safetensors_read(r->best_path, &ignored);
    const char *acc = best ? sl_safetensors_metadata(best, "best_accuracy") : NULL;
    if (acc)
        r->best_acc = strtod(acc, NULL);
    sl_safetensors_free(best);
    return SL_OK;
}

static sl_status setup(run *r, sl_error *err)
{
    r->cfg = cli_load_config(&r->args.cfg, err);
    if (!r->cfg)
        return err->status;
    r->cfg_json = sl_config_to_json(r->cfg);
    if (!r->cfg_json)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory");
    if (sl_run_data_open(r->cfg, cli_datasets_dir(), &r->data, err) != SL_OK)
        return err->status;
    r->model = sl_run_build_model(r->cfg, err);
    if (!r->model)
        return err->status;
    sl_train_options opt = sl_run_train_options(r->cfg);
    r->trainer = sl_trainer_new(r->model, r->data.train, &opt, err);
    if (!r->trainer)
        return err->status;
    if (r->args.resume && sl_trainer_load(r->trainer, r->args.resume, err) != SL_OK)
        return err->status;
    if (check_checkpoint_dir(r, err) != SL_OK || setup_keep_best(r, err) != SL_OK)
        return err->status;
    if (r->args.metrics && sl_dist_rank() == 0) {
        r->metrics = fopen(r->args.metrics, "a");
        if (!r->metrics)
            return sl_error_set(err, SL_ERR_IO, "%s: cannot open for appending", r->args.metrics);
    }
    if (r->cfg->stats.enabled && cli_stats_open(r->cfg, &r->data, r->model, &r->stats, err) != SL_OK)
        return err->status;
    return SL_OK;
}

typedef struct epoch_report {
    sl_epoch_result train;
    sl_eval_result val, test;
    int has_val, has_test;
} epoch_report;

static void print_epoch(const run *r, const epoch_report *e)
{
    if (r->args.quiet)
        return;
    printf("epoch %d/%d  loss %.4f  acc %.2f%%", e->train.epoch + 1, r->cfg->train.epochs,
           e->train.loss, 100.0 * e->train.accuracy);
    if (e->has_val)
        printf("  val_loss %.4f  val_acc %.2f%%", e->val.loss, 100.0 * e->val.accuracy);
    if (e->has_test)
        printf("  test_loss %.4f  test_acc %.2f%%", e->test.loss, 100.0 * e->test.accuracy);
    printf("  lr %.4g  %.1fs  %.0f samples/s\n", (double)e->train.lr, e->train.seconds,
           e->train.seconds > 0 ? (double)e->train.samples / e->train.seconds : 0.0);
    fflush(stdout);
}

/* After an epoch's evaluation: saves the model when it beats the best so far. */
static sl_status keep_if_best(run *r, const epoch_report *e, sl_error *err)
{
    if (!r->best_path[0])
        return SL_OK;
    double acc = e->has_val ? e->val.accuracy : e->test.accuracy;
    if (acc <= r->best_acc)
        return SL_OK;
    if (save_as(r, r->best_path, acc, err) != SL_OK)
        return err->status;
    r->best_acc = acc;
    return SL_OK;
}

/* One JSON line per epoch; a write error is found by the check after the flush. */
static sl_status write_metrics(run *r, const epoch_report *e, sl_error *err)
{
    if (!r->metrics)
        return SL_OK;
    fprintf(r->metrics,
            "{\"epoch\": %d, \"train_loss\": %.6g, \"train_acc\": %.6g, \"lr\": %.6g, "
            "\"seconds\": %.4g, \"samples_per_s\": %.6g",
            e->train.epoch + 1, e->train.loss, e->train.accuracy, (double)e->train.lr,
            e->train.seconds,
            e->train.seconds > 0 ? (double)e->train.samples / e->train.seconds : 0.0);
    if (e->has_val)
        fprintf(r->metrics, ", \"val_loss\": %.6g, \"val_acc\": %.6g", e->val.loss,
                e->val.accuracy);
    if (e->has_test)
        fprintf(r->metrics, ", \"test_loss\": %.6g, \"test_acc\": %.6g", e->test.loss,
                e->test.accuracy);
    fprintf(r->metrics, "}\n");
    if (fflush(r->metrics) != 0 || ferror(r->metrics))
        return close_metrics(r, err);
    return SL_OK;
}

/* A dying-neuron report now (if stats are on): printed and appended to the metrics. */
static sl_status stats_report(run *r, sl_error *err)
{
    if (!r->stats.stats)
        return SL_OK;
    if (sl_stats_measure(r->stats.stats, sl_trainer_epoch(r->trainer),
                         sl_trainer_steps(r->trainer), err) != SL_OK)
        return err->status;
    if (!r->args.quiet)
        cli_stats_print(stdout, r->stats.stats);
    if (r->metrics)
        cli_stats_jsonl(r->metrics, r->stats.stats);
    return SL_OK;
}

static int stats_due_at_step(const run *r)
{
    int64_t every = r->cfg->stats.every_steps;
    return r->stats.stats && every > 0 && sl_trainer_steps(r->trainer) % every == 0;
}

/* Steps through one epoch; returns SL_OK with *stopped set on SIGINT. */
static sl_status train_epoch(run *r, sl_epoch_result *res, int *stopped, sl_error *err)
{
    progress p;
    progress_start(&p, sl_trainer_epoch(r->trainer), r->cfg->train.epochs, r->args.quiet);
    memset(res, 0, sizeof *res);
    res->epoch = sl_trainer_epoch(r->trainer);
    double loss_sum = 0.0;
    int64_t correct = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (sl_dist_any(interrupted)) { /* all ranks stop at the same step */
            *stopped = 1;
            break;
        }
        sl_step_info info;
        sl_status st = sl_trainer_step(r->trainer, &info, err);
        if (st != SL_OK) {
            progress_end(&p);
            return st;
        }
        if (info.n == 0)
            break;
        loss_sum += (double)info.loss * (double)info.n;
        correct += info.correct;
        res->samples += info.n;
        res->lr = info.lr;
        progress_update(&p, &info);
        if (stats_due_at_step(r) && stats_report(r, err) != SL_OK) {
            progress_end(&p);
            return err->status;
        }
    }
    progress_end(&p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    res->loss = res->samples ? loss_sum / (double)res->samples : 0.0;
    res->accuracy = res->samples ? (double)correct / (double)res->samples : 0.0;
    return SL_OK;
}

static sl_status evaluate_epoch(run *r, epoch_report *e, sl_error *err)
{
    /* The training batch size: the arena already holds a step of that size, so evaluation
     * adds no memory (a larger batch cost the CNN 50 MiB). */
    int64_t batch = r->cfg->train.batch_size;
    if (r->data.val) {
        e->has_val = 1;
        if (sl_dist_evaluate(r->model, r->data.val, batch, r->cfg->loss, &e->val, err) != SL_OK)
            return err->status;
    }
    if (r->data.test) {
        e->has_test = 1;
        if (sl_dist_evaluate(r->model, r->data.test, batch, r->cfg->loss, &e->test, err) != SL_OK)
            return err->status;
    }
    return SL_OK;
}

/* "<name>.interrupted.safetensors" in the current directory, the name reduced to a safe
 * file name (it comes from the config, and may hold '/' or be very long). */
static void fallback_checkpoint(const run *r, char *buf, size_t size)
{
    char name[65];
    size_t n = 0;
    for (const char *p = r->cfg->name; *p && n + 1 < sizeof name; p++) {
        unsigned char c = (unsigned char)*p;
        name[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_' || c == '.'
                        ? (char)c
                        : '_';
    }
    name[n] = '\0';
    snprintf(buf, size, "%s.interrupted.safetensors", n && name[0] != '.' ? name : "slope");
}

static int interrupted_exit(run *r, sl_error *err)
{
    const char *path = checkpoint_path(r);
    char fallback[128];
    if (!path) {
        fallback_checkpoint(r, fallback, sizeof fallback);
        path = fallback;
    }
    if (save(r, path, err) != SL_OK)
        return cli_fail(err);
    if (sl_dist_rank() == 0)
        fprintf(stderr, "slope: interrupted at step %lld; checkpoint saved to %s (resume with "
                    "--resume %s)\n",
            (long long)sl_trainer_steps(r->trainer), path, path);
    return EXIT_INTERRUPTED;
}

static void print_final(const epoch_report *last)
{
    if (last->has_test)
        printf("final test accuracy: %.2f%% (loss %.4f, %lld examples)\n",
               100.0 * last->test.accuracy, last->test.loss, (long long)last->test.samples);
    else if (last->has_val)
        printf("final validation accuracy: %.2f%% (no test split)\n", 100.0 * last->val.accuracy);
    else
        printf("final training accuracy: %.2f%% (no test split)\n", 100.0 * last->train.accuracy);
}

/* --resume of a run that already has all its epochs: say so, and evaluate what it holds. */
static int finished_already(run *r, sl_error *err)
{
    if (sl_dist_rank() == 0)
        fprintf(stderr, "slope: %s: already trained %d of %d epochs; nothing to train (raise "
                    "--epochs to continue)\n",
            r->args.resume, sl_trainer_epoch(r->trainer), r->cfg->train.epochs);
    epoch_report e;
    memset(&e, 0, sizeof e);
    if (evaluate_epoch(r, &e, err) != SL_OK)
        return cli_fail(err);
    if (e.has_val || e.has_test)
        print_final(&e);
    return EXIT_OK;
}

static int train_loop(run *r, sl_error *err)
{
    epoch_report last;
    memset(&last, 0, sizeof last);
    const char *ckpt = checkpoint_path(r);
    if (sl_trainer_done(r->trainer))
        return finished_already(r, err);
    if (stats_report(r, err) != SL_OK)
        return cli_fail(err);
    while (!sl_trainer_done(r->trainer)) {
        epoch_report e;
        memset(&e, 0, sizeof e);
        int stopped = 0;
        if (train_epoch(r, &e.train, &stopped, err) != SL_OK) {
            int rc = cli_fail(err);
            /* Only a checkpoint that exists is worth naming (the NaN may precede the first). */
            if (err->status == SL_ERR_NUMERIC && ckpt && sl_dist_rank() == 0 &&
                access(ckpt, F_OK) == 0)
                fprintf(stderr, "slope: the last good checkpoint, %s, is left as it was\n", ckpt);
            return rc;
        }
        if (stopped)
            return interrupted_exit(r, err);
        if (evaluate_epoch(r, &e, err) != SL_OK)
            return cli_fail(err);
        print_epoch(r, &e);
        if (write_metrics(r, &e, err) != SL_OK)
            return cli_fail(err);
        if (r->cfg->stats.every_steps == 0 && stats_report(r, err) != SL_OK)
            return cli_fail(err);
        int done = sl_trainer_epoch(r->trainer);
        if (ckpt && (done % r->cfg->checkpoint.every == 0 || sl_trainer_done(r->trainer)) &&
            save(r, ckpt, err) != SL_OK)
            return cli_fail(err);
        if (keep_if_best(r, &e, err) != SL_OK)
            return cli_fail(err);
        last = e;
    }
    if (close_metrics(r, err) != SL_OK)
        return cli_fail(err);
    print_final(&last);
    return EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    int rc = parse_train_args(argc, argv, &r.args);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    sl_error err = {0};
    /* mpirun -np N: N ranks train one model; only rank 0 prints; 1 thread each unless --threads. */
    if (sl_dist_init(NULL, NULL, &err) != SL_OK)
        return cli_fail(&err);
    if (sl_dist_size() > 1) {
        sl_set_num_threads(1);
        if (sl_dist_rank() != 0) {
            r.args.quiet = 1;
            (void)!freopen("/dev/null", "w", stdout); /* the final summary line too */
        }
    }
    if (sl_dist_agree(setup(&r, &err), &err) != SL_OK || sl_dist_trainer(r.trainer, &err) != SL_OK) {
        rc = cli_fail(&err);
        run_free(&r);
        sl_dist_finalize();
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (!r.args.quiet)
        printf("training %s: %lld parameters, %lld training examples, %d epochs\n", r.cfg->name,
               (long long)sl_model_param_count(r.model), (long long)sl_dataset_count(r.data.train),
               r.cfg->train.epochs);
    if (!r.args.quiet && sl_dist_size() > 1)
        printf("data-parallel on %d processes: each takes 1/%d of every batch of %lld\n",
               sl_dist_size(), sl_dist_size(), (long long)r.cfg->train.batch_size);
    rc = train_loop(&r, &err);
    run_free(&r);
    sl_dist_finalize();
    return rc;
}
