/*
 * progress.h - per-batch progress of the long loops behind a run's phases
 * (evaluation, a statistics report), for sl_run_options.on_progress.
 *
 * The loops (sl_evaluate, sl_stats_measure) are public functions whose
 * signatures stay as they are, so the run hands them its callback through
 * the calling thread: sl_progress_push before the loop, sl_progress_pop
 * after.  Without a hook a report costs one thread-local load.
 */
#ifndef SLOPE_PROGRESS_H
#define SLOPE_PROGRESS_H

#include <stdint.h>

typedef void (*sl_progress_fn)(const char *phase, int64_t done, int64_t total, void *user);

typedef struct sl_progress_hook {
    sl_progress_fn fn;
    const char *phase;
    void *user;
} sl_progress_hook;

/* Makes hook (copied; fn may be NULL: none) this thread's and returns the one it replaces,
 * for sl_progress_pop. */
sl_progress_hook sl_progress_push(sl_progress_fn fn, const char *phase, void *user);
void sl_progress_pop(sl_progress_hook previous);
/* done of total examples: tells this thread's hook, if any. */
void sl_progress_report(int64_t done, int64_t total);

#endif
