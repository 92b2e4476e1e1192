/* progress.h - a progress bar for one epoch, and a phase line, drawn only on a terminal. */
#ifndef SLOPE_CLI_PROGRESS_H
#define SLOPE_CLI_PROGRESS_H

#include "slope/train.h"

typedef struct progress {
    int enabled, drawn, spin;
    int epoch, epochs;
    double start, last_draw;
    long long samples, timed; /* timed: those after the first step, for the rate */
    double loss_sum; /* the epoch's loss so far, times each batch's examples */
} progress;

/* Draws only when stderr is a terminal and not quiet. */
void progress_init(progress *p, int quiet);
void progress_start(progress *p, int epoch, int epochs);
/* The bar: the running mean of the epoch's loss, samples/s, ETA. */
void progress_update(progress *p, const sl_step_info *info);
/* "slope: PHASE DONE/TOTAL" and a spinner (total 0: the phase alone). */
void progress_phase(progress *p, const char *phase, long long done, long long total);
/* Clears what is drawn, if anything. */
void progress_end(progress *p);

#endif
