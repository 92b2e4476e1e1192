/*
 * cmd_train.c - `slope train CONFIG`: the run of slope/run.h, shown as a
 * progress bar, one line per epoch and the statistics; SIGINT and SIGTERM
 * stop it through the step callback (checkpoint saved, exit 130 or 143).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "progress.h"

static volatile sig_atomic_t stop_signal; /* the signal that asked to stop, or 0 */

static void on_signal(int sig)
{
    stop_signal = sig;
}

typedef struct train_args {
    cli_config_args cfg;
    const char *checkpoint, *resume, *metrics, *init_from;
    int quiet, verbose, allow_schedule_change;
} train_args;

static int parse_train_args(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    const cli_flag flags[] = {
        CLI_CONFIG_FLAGS(&a->cfg),
        {"--checkpoint", "FILE", CLI_STR, &a->checkpoint, 0, 0, NULL,
         "save one every checkpoint.every epochs and at the end"},
        {"--resume", "FILE", CLI_STR, &a->resume, 0, 0, NULL, "continue a run from its checkpoint"},
        {"--allow-schedule-change", NULL, CLI_BOOL, &a->allow_schedule_change, 0, 0, NULL,
         "resume with other epochs although a cosine schedule then changes"},
        {"--init-from", "FILE", CLI_STR, &a->init_from, 0, 0, NULL,
         "start from these weights (slope's names or torch's)"},
        {"--metrics", "FILE", CLI_STR, &a->metrics, 0, 0, NULL, "append one JSON object per epoch (JSONL)"},
        {"--quiet", NULL, CLI_BOOL, &a->quiet, 0, 0, NULL, "no progress bar, epoch or statistics lines: only the final one"},
        {"--verbose", NULL, CLI_BOOL, &a->verbose, 0, 0, NULL,
         "also say on stderr what it is doing (loading data, ...)"}};
    const cli_command cmd = {
        "train", "CONFIG [options]", "Trains the model CONFIG describes on its data.",
        "Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and exits 130 or 143 (before training\n"
        "starts, while the data loads, nothing is saved).",
        NULL, flags, sizeof flags / sizeof flags[0], "CONFIG", &a->cfg.path, 1, NULL};
    return cli_parse(&cmd, argc, argv);
}

/* What the callbacks print with. */
typedef struct train_ui {
    const train_args *args;
    int epochs; /* the config's, known once the run is made */
    progress bar;
    int bar_started, after_epoch; /* after_epoch: the last line printed is an epoch's */
} train_ui;

static int ui_step(const sl_step_info *info, void *user)
{
    train_ui *u = user;
    if (!u->bar_started || info->epoch != u->bar.epoch)
        progress_start(&u->bar, info->epoch, u->epochs);
    u->bar_started = 1;
    u->after_epoch = 0;
    progress_update(&u->bar, info);
    return stop_signal != 0;
}

static void ui_phase(const char *phase, void *user)
{
    train_ui *u = user;
    progress_end(&u->bar); /* clears the line; the next step redraws it */
    if (u->args->verbose && sl_dist_rank() == 0)
        fprintf(stderr, "slope: %s\n", phase);
    progress_phase(&u->bar, phase, 0, 0);
}

static void ui_progress(const char *phase, int64_t done, int64_t total, void *user)
{
    progress_phase(&((train_ui *)user)->bar, phase, (long long)done, (long long)total);
}

static void ui_note(const char *note, void *user)
{
    train_ui *u = user;
    progress_end(&u->bar);
    if (sl_dist_rank() == 0)
        fprintf(stderr, "slope: %s\n", note);
}

static int ui_epoch(const sl_run_epoch *e, void *user)
{
    train_ui *u = user;
    progress_end(&u->bar);
    if (u->args->quiet)
        return stop_signal != 0;
    u->after_epoch = 1;
    printf("epoch %d/%d  loss %.4f  acc %.2f%%", e->train.epoch + 1, u->epochs, e->train.loss,
           100.0 * e->train.accuracy);
    if (e->has_val)
        printf("  val_loss %.4f  val_acc %.2f%%", e->val.loss, 100.0 * e->val.accuracy);
    if (e->has_test)
        printf("  test_loss %.4f  test_acc %.2f%%", e->test.loss, 100.0 * e->test.accuracy);
    printf("  lr %.4g  %.1fs  %.0f samples/s\n", (double)e->train.lr, e->train.seconds,
           e->train.seconds > 0 ? (double)e->train.samples / e->train.seconds : 0.0);
    fflush(stdout);
    return stop_signal != 0;
}

static int ui_stats(const sl_stats *s, void *user)
{
    train_ui *u = user;
    progress_end(&u->bar);
    if (!u->args->quiet)
        cli_stats_print(stdout, s, !u->after_epoch);
    return stop_signal != 0;
}

static void print_final(const sl_run_epoch *last)
{
    if (last->has_test)
        printf("final test accuracy: %.2f%% (loss %.4f, %lld examples)\n",
               100.0 * last->test.accuracy, last->test.loss, (long long)last->test.samples);
    else if (last->has_val)
        printf("final validation accuracy: %.2f%% (no test split)\n", 100.0 * last->val.accuracy);
    else
        printf("final training accuracy: %.2f%% (no test split)\n", 100.0 * last->train.accuracy);
}

static void print_start(const sl_run *run, const train_args *a)
{
    const sl_config *cfg = sl_run_config(run);
    if (sl_trainer_done(sl_run_trainer(run)) && sl_dist_rank() == 0)
        fprintf(stderr, "slope: %s: already trained %d of %d epochs; nothing to train (raise "
                        "--epochs to continue)\n",
                a->resume, sl_trainer_epoch(sl_run_trainer(run)), cfg->train.epochs);
    /* bf16 is a request: where this CPU has no bf16 kernels it trains in fp32, and says so
     * even when quiet (the run's figures are then fp32's). */
    int bf16 = cfg->train.precision == SL_PRECISION_BF16;
    if (bf16 && !sl_bf16_supported() && sl_dist_rank() == 0)
        fprintf(stderr, "slope: %s: train.precision \"bf16\": no bf16 convolution kernels here "
                        "(they need slope built with oneDNN and a CPU with avx512_bf16 or AMX); "
                        "convolutions run in fp32\n", cfg->origin ? cfg->origin : cfg->name);
    if (a->quiet)
        return;
    if (bf16 && sl_bf16_supported())
        printf("precision: bf16 convolutions (oneDNN), fp32 weights, gradients and optimizer\n");
    printf("training %s: %lld parameters, %lld training examples, %d epoch%s\n", cfg->name,
           (long long)sl_model_param_count(sl_run_model(run)),
           (long long)sl_dataset_count(sl_run_datasets(run)->train), cfg->train.epochs,
           cfg->train.epochs == 1 ? "" : "s");
    if (sl_dist_size() > 1)
        printf("data-parallel on %d processes: each takes 1/%d of every batch of %lld\n",
               sl_dist_size(), sl_dist_size(), (long long)cfg->train.batch_size);
}

/* The exit code and the last words of a run that sl_run_train returned st for. */
static int finish(const sl_run *run, sl_status st, const sl_error *err)
{
    if (st != SL_OK) {
        int rc = cli_fail(err);
        /* Only a checkpoint that exists is worth naming (the NaN may precede the first). */
        if (st == SL_ERR_NUMERIC && sl_run_checkpoint_exists(run) && sl_dist_rank() == 0)
            fprintf(stderr, "slope: the last good checkpoint, %s, is left as it was\n",
                    sl_run_checkpoint_path(run));
        return rc;
    }
    if (sl_run_stopped(run)) {
        const char *path = sl_run_saved_path(run);
        if (sl_dist_rank() == 0)
            fprintf(stderr, "slope: interrupted at step %lld; checkpoint saved to %s (resume "
                            "with --resume %s)\n",
                    (long long)sl_trainer_steps(sl_run_trainer(run)), path, path);
        return stop_signal == SIGTERM ? EXIT_TERMINATED : EXIT_INTERRUPTED;
    }
    const sl_run_epoch *last = sl_run_last_epoch(run);
    if (last && (!sl_run_was_complete(run) || last->has_val || last->has_test))
        print_final(last);
    return EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = parse_train_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    sl_error err = {0};
    /* mpirun -np N: N ranks train one model; only rank 0 prints; 1 thread each unless --threads. */
    if (sl_dist_init(NULL, NULL, &err) != SL_OK)
        return cli_fail(&err);
    if (sl_dist_size() > 1) {
        sl_set_num_threads(1);
        if (sl_dist_rank() != 0) {
            a.quiet = 1;
            (void)!freopen("/dev/null", "w", stdout); /* the final summary line too */
        }
    }
    /* Installed before the data loads, so a signal then gets an honest message, not a kill. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    train_ui ui = {.args = &a};
    sl_run_options opt = {.checkpoint = a.checkpoint, .resume = a.resume, .metrics = a.metrics,
                          .init_from = a.init_from, .datasets_dir = sl_datasets_dir(),
                          .threads = cli_run_threads(&a.cfg), .on_step = ui_step, .on_epoch = ui_epoch,
                          .on_stats = ui_stats, .on_phase = ui_phase, .on_progress = ui_progress,
                          .on_note = ui_note, .user = &ui,
                          .allow_schedule_change = a.allow_schedule_change};
    progress_init(&ui.bar, a.quiet || sl_dist_rank() != 0);
    sl_run *run = sl_run_new_file(a.cfg.path, a.cfg.overrides, a.cfg.n_overrides, &opt, &err);
    progress_end(&ui.bar);
    if (stop_signal) {
        if (sl_dist_rank() == 0)
            fprintf(stderr, "slope: interrupted before training started: nothing was saved\n");
        rc = stop_signal == SIGTERM ? EXIT_TERMINATED : EXIT_INTERRUPTED;
    } else if (run) {
        ui.epochs = sl_run_config(run)->train.epochs;
        print_start(run, &a);
        sl_status st = sl_run_train(run, &err);
        progress_end(&ui.bar);
        rc = finish(run, st, &err);
    } else {
        rc = cli_fail(&err);
    }
    sl_run_free(run);
    sl_dist_finalize();
    return rc;
}
