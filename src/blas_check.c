/* blas_check.c - room for OpenBLAS's work buffers under an address-space limit. */
#define _GNU_SOURCE /* on_exit, MAP_ANONYMOUS, MAP_NORESERVE */
#include "blas_check.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "parallel.h"

#define MIB ((uint64_t)1 << 20)
#define BLAS_BUFFER (128 * MIB) /* OpenBLAS's per-thread buffer (BUFFER_SIZE + page) */
#define MAIN_MARGIN (160 * MIB) /* what the rest of the run takes after the check (measured) */
#define THREAD_EXTRA (72 * MIB) /* a further thread: its stack and glibc malloc arena */

static atomic_int fitted; /* the largest thread count that fitted, 0 for none yet */

#if defined(__GLIBC__)
/* exit() would run OpenBLAS's destructor, which joins a worker that may spin forever on
 * its buffer: end with the status instead.  Streams are flushed first. */
static void end_now(int status, void *arg)
{
    (void)arg;
    fflush(NULL);
    _exit(status);
}
#endif

static void arrange_quick_exit(void)
{
#if defined(__GLIBC__)
    static atomic_int armed;
    if (!atomic_exchange(&armed, 1))
        on_exit(end_now, NULL);
#endif
}

/* Whether `bytes` of address space can be reserved now. */
static int room_for(uint64_t bytes)
{
    if (bytes > SIZE_MAX)
        return 0;
    void *p = mmap(NULL, (size_t)bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return 0;
    munmap(p, (size_t)bytes);
    return 1;
}

/* OpenBLAS starts its workers when it is loaded, before this library, and each spins on
 * its buffer if there is no room: then a run that fails early (say, out of memory loading
 * the data) must not hang in exit() either.  Nothing is printed or refused here. */
__attribute__((constructor)) static void check_at_load(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && !room_for(BLAS_BUFFER))
        arrange_quick_exit();
}

/* OpenBLAS running a product on its own workers needs a buffer (and a malloc arena) in
 * each: without room for them, run its products on the calling thread alone; a worker
 * that is already spinning on its start-up buffer then stays idle until the exit. */
static void blas_workers_fit(void)
{
    int workers = openblas_get_num_threads() - 1;
    if (workers < 1)
        return;
    if (!room_for(BLAS_BUFFER + MAIN_MARGIN + (uint64_t)workers * (BLAS_BUFFER + THREAD_EXTRA))) {
        openblas_set_num_threads(1);
        arrange_quick_exit();
    }
}

sl_status sl_blas_check(sl_error *err)
{
    int threads = sl_par_threads();
    if (threads <= atomic_load(&fitted))
        return SL_OK;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return SL_OK;
    blas_workers_fit();
    uint64_t need = BLAS_BUFFER + MAIN_MARGIN + (uint64_t)(threads - 1) * (BLAS_BUFFER + THREAD_EXTRA);
    if (room_for(need)) {
        atomic_store(&fitted, threads);
        return SL_OK;
    }
    arrange_quick_exit();
    return sl_error_set(err, SL_ERR_NOMEM,
                        "the address-space limit (ulimit -v) of %llu MiB leaves no room for "
                        "OpenBLAS's work buffers (%d x 128 MiB and %llu MiB more for %d thread%s); "
                        "raise it%s",
                        (unsigned long long)(rl.rlim_cur / MIB), threads,
                        (unsigned long long)((need - (uint64_t)threads * BLAS_BUFFER) / MIB),
                        threads, threads == 1 ? "" : "s",
                        threads > 1 ? " or use --threads 1" : "");
}
