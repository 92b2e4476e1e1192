/* progress.c - the calling thread's progress hook (see progress.h). */
#include "progress.h"

static _Thread_local sl_progress_hook current;

sl_progress_hook sl_progress_push(sl_progress_fn fn, const char *phase, void *user)
{
    sl_progress_hook previous = current;
    current.fn = fn;
    current.phase = phase;
    current.user = user;
    return previous;
}

void sl_progress_pop(sl_progress_hook previous)
{
    current = previous;
}

void sl_progress_report(int64_t done, int64_t total)
{
    if (current.fn)
        current.fn(current.phase, done, total, current.user);
}
