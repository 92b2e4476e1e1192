/*
 * parallel.c - the worker pool behind sl_par_run (see parallel.h).
 *
 * One job at a time.  The caller publishes fn and ctx, then one 64-bit word
 * holding (ntasks << 32 | next task), bumps the generation and wakes any
 * sleeping worker.  Everyone, the caller included, claims tasks by
 * compare-and-swap on that word.  A worker counts itself in `running` before
 * it claims and out after its last task, so when the caller finds nothing
 * left to claim it only waits for workers that actually hold a task: a
 * worker that is slow to wake (the machine is busy) costs nothing, the
 * caller simply runs the remaining tasks itself.  A worker that wakes late
 * can only claim from the job current at that moment, whose fn and ctx were
 * published before its word.  Workers spin on the generation for a while
 * before sleeping, since a training step issues its parallel jobs back to
 * back.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <stdatomic.h>

#define SPIN_WORKER 20000 /* polls before a worker sleeps (tens of microseconds) */
#define SPIN_CALLER 2000  /* polls before the waiting caller starts yielding */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static struct pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_int threads;         /* configured size, the caller included */
    int started;                /* workers running (indices 1..started) */
    int sleepers;               /* workers waiting on wake (under lock) */
    atomic_uint generation;     /* bumped once per job, to wake workers */
    atomic_int busy;            /* a job is being run */
    atomic_int running;         /* workers between entering and leaving a job */
    atomic_uint_least64_t work; /* ntasks << 32 | next unclaimed task */
    sl_par_fn _Atomic fn;
    void *_Atomic ctx;
    atomic_int stop;            /* set at exit: workers return */
    pthread_t tids[SL_PAR_MAX_THREADS];
} P = {
    /* Fields left out start at zero (and the pointers null): clang rejects a NULL
     * initializer for an _Atomic pointer as not constant. */
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .threads = 1,
};

/* Set while this thread runs tasks: nested parallel calls then run serially. */
static _Thread_local int in_task;

int sl_par_threads(void)
{
    return in_task ? 1 : atomic_load_explicit(&P.threads, memory_order_relaxed);
}

void sl_par_set_threads(int n)
{
    if (n < 1)
        n = 1;
    if (n > SL_PAR_MAX_THREADS)
        n = SL_PAR_MAX_THREADS;
    atomic_store(&P.threads, n);
    openblas_set_num_threads(1);
}

/* Claims the next task for thread index `thread` (only threads below ntasks take part,
 * so per-thread scratch sized for min(threads, ntasks) suffices). */
static int claim(int thread, int64_t *task)
{
    uint_least64_t w = atomic_load(&P.work);
    for (;;) {
        uint32_t hi = (uint32_t)(w >> 32), lo = (uint32_t)w;
        if (lo >= hi || (uint32_t)thread >= hi)
            return 0;
        if (atomic_compare_exchange_weak(&P.work, &w, w + 1)) {
            *task = lo;
            return 1;
        }
    }
}

static void *worker_main(void *arg)
{
    int index = (int)(intptr_t)arg;
    unsigned seen = 0;
    in_task = 1;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&P.generation, memory_order_acquire)) == seen &&
               spins < SPIN_WORKER) {
            cpu_relax();
            spins++;
        }
        if (g == seen) {
            pthread_mutex_lock(&P.lock);
            P.sleepers++;
            while ((g = atomic_load_explicit(&P.generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&P.wake, &P.lock);
            P.sleepers--;
            pthread_mutex_unlock(&P.lock);
        }
        seen = g;
        if (atomic_load(&P.stop))
            return NULL;
        if (index >= atomic_load_explicit(&P.threads, memory_order_relaxed))
            continue; /* the pool was made smaller */
        atomic_fetch_add(&P.running, 1);
        int64_t t;
        while (claim(index, &t))
            atomic_load(&P.fn)(atomic_load(&P.ctx), t, index);
        atomic_fetch_sub(&P.running, 1);
    }
    return NULL;
}

/* At exit (or when libslope.so is unloaded) the workers are woken, told to stop and
 * joined, so none outlives the library's code and nothing of theirs is left (valgrind
 * counted a detached worker's thread as possibly lost).  No job runs then: jobs are
 * synchronous, and exit runs after the caller's last one. */
__attribute__((destructor)) static void stop_workers(void)
{
    if (P.started == 0)
        return;
    pthread_mutex_lock(&P.lock);
    atomic_store(&P.stop, 1);
    atomic_fetch_add_explicit(&P.generation, 1, memory_order_release);
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.lock);
    for (int i = 0; i < P.started; i++)
        pthread_join(P.tids[i], NULL);
    P.started = 0;
}

/* Starts workers up to want; returns how many run. */
static int ensure_workers(int want)
{
    while (P.started < want && P.started < SL_PAR_MAX_THREADS) {
        if (pthread_create(&P.tids[P.started], NULL, worker_main,
                           (void *)(intptr_t)(P.started + 1)) != 0)
            break;
        P.started++;
    }
    return P.started;
}

static void run_serial(int64_t ntasks, sl_par_fn fn, void *ctx)
{
    int was = in_task;
    in_task = 1;
    for (int64_t t = 0; t < ntasks; t++)
        fn(ctx, t, 0);
    in_task = was;
}

/* OMP_NUM_THREADS's first value (0 when unset or not a positive integer). */
static long omp_num_threads_env(void)
{
    const char *v = getenv("OMP_NUM_THREADS");
    if (!v || !*v)
        return 0;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    return (*end == '\0' || *end == ',') && n >= 1 ? n : 0;
}

int sl_par_default_threads(void)
{
    long n = omp_num_threads_env();
    if (n == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    }
    return n < 1 ? 1 : n > SL_PAR_MAX_THREADS ? SL_PAR_MAX_THREADS : (int)n;
}

void sl_par_run(int64_t ntasks, sl_par_fn fn, void *ctx)
{
    if (ntasks <= 0)
        return;
    int threads = sl_par_threads();
    int expected = 0;
    if (ntasks == 1 || threads == 1 || ntasks >= ((int64_t)1 << 31) ||
        !atomic_compare_exchange_strong(&P.busy, &expected, 1)) {
        run_serial(ntasks, fn, ctx);
        return;
    }
    if (ensure_workers(threads - 1) == 0) {
        atomic_store(&P.busy, 0);
        run_serial(ntasks, fn, ctx);
        return;
    }
    atomic_store(&P.fn, fn);
    atomic_store(&P.ctx, ctx);
    atomic_store(&P.work, (uint_least64_t)ntasks << 32);
    pthread_mutex_lock(&P.lock);
    atomic_fetch_add(&P.generation, 1);
    if (P.sleepers > 0)
        pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.lock);

    in_task = 1;
    int64_t t;
    while (claim(0, &t))
        fn(ctx, t, 0);
    in_task = 0;
    int spins = 0;
    while (atomic_load(&P.running) > 0) {
        if (++spins < SPIN_CALLER)
            cpu_relax();
        else
            sched_yield();
    }
    atomic_store(&P.busy, 0);
}

typedef struct range_job {
    int64_t n, chunk;
    sl_par_range_fn fn;
    void *ctx;
} range_job;

static void range_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const range_job *j = ctx;
    int64_t begin = task * j->chunk, end = begin + j->chunk;
    if (end > j->n)
        end = j->n;
    if (begin < end)
        j->fn(j->ctx, begin, end);
}

void sl_par_for(int64_t n, int64_t min_chunk, int64_t align, sl_par_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    int threads = sl_par_threads();
    if (min_chunk < 1)
        min_chunk = 1;
    if (align < 1)
        align = 1;
    int64_t parts = n / min_chunk;
    if (parts > threads)
        parts = threads;
    if (parts <= 1) {
        fn(ctx, 0, n);
        return;
    }
    int64_t chunk = (n + parts - 1) / parts;
    chunk = (chunk + align - 1) / align * align;
    range_job j = {n, chunk, fn, ctx};
    sl_par_run((n + chunk - 1) / chunk, range_task, &j);
}
