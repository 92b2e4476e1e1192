/*
 * alloc.c - the library's one allocation path: every block slope allocates
 * passes here, is counted, and goes to the installed allocator (the C
 * library's unless sl_set_allocator says otherwise).  See alloc.h for what
 * each function guarantees and slope/alloc.h for the public side.
 *
 * Bytes are counted as the allocator's size function reports them
 * (malloc_usable_size by default), so a block's size is known again at
 * sl_free without a header in front of it: slope's blocks stay plain C
 * library blocks with the default allocator.
 */
#define _GNU_SOURCE /* malloc_usable_size */

#include "alloc.h"

#if defined(__APPLE__)
#include <malloc/malloc.h>
#define usable_size(p) malloc_size(p)
#else
#include <malloc.h> /* glibc, musl */
#define usable_size(p) malloc_usable_size(p)
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the allocators ---------------------------------------------------------------- */

static void *libc_malloc(void *user, size_t n)
{
    (void)user;
    return malloc(n);
}

static void *libc_realloc(void *user, void *p, size_t n)
{
    (void)user;
    return realloc(p, n);
}

static void libc_free(void *user, void *p)
{
    (void)user;
    free(p);
}

static void *libc_aligned(void *user, size_t align, size_t n)
{
    (void)user;
    void *p = NULL;
    return posix_memalign(&p, align, n) == 0 ? p : NULL;
}

static size_t libc_size(void *user, void *p)
{
    (void)user;
    return usable_size(p);
}

static const sl_allocator libc_allocator = {NULL,         libc_malloc, libc_realloc,
                                            libc_free,    libc_aligned, libc_size};

/* Written only by sl_set_allocator, which the rules keep single-threaded. */
static sl_allocator current = {NULL, libc_malloc, libc_realloc, libc_free, libc_aligned, libc_size};

/* ---- the counters ------------------------------------------------------------------- */

static _Atomic uint64_t n_allocs, n_frees, n_failures, n_live, bytes_total;
static _Atomic int64_t bytes_now, bytes_peak;

#define RELAXED memory_order_relaxed

static size_t block_size(void *p)
{
    return current.size ? current.size(current.user, p) : 0;
}

static void hold(int64_t delta)
{
    int64_t now = atomic_fetch_add_explicit(&bytes_now, delta, RELAXED) + delta;
    int64_t peak = atomic_load_explicit(&bytes_peak, RELAXED);
    while (now > peak &&
           !atomic_compare_exchange_weak_explicit(&bytes_peak, &peak, now, RELAXED, RELAXED))
        ;
}

/* Counts the outcome of one allocation: p new (or NULL, a failure). */
static void *counted(void *p)
{
    if (!p) {
        atomic_fetch_add_explicit(&n_failures, 1, RELAXED);
        return NULL;
    }
    size_t size = block_size(p);
    atomic_fetch_add_explicit(&n_allocs, 1, RELAXED);
    atomic_fetch_add_explicit(&n_live, 1, RELAXED);
    atomic_fetch_add_explicit(&bytes_total, size, RELAXED);
    hold((int64_t)size);
    return p;
}

static void uncount(void *p)
{
    atomic_fetch_add_explicit(&n_frees, 1, RELAXED);
    atomic_fetch_sub_explicit(&n_live, 1, RELAXED);
    hold(-(int64_t)block_size(p));
}

/* ---- the private path ----------------------------------------------------------------- */

void *sl_malloc(size_t n)
{
    return counted(current.malloc(current.user, n ? n : 1));
}

void *sl_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        atomic_fetch_add_explicit(&n_failures, 1, RELAXED);
        return NULL;
    }
    size_t n = count * size;
    if (n == 0)
        n = 1;
    if (current.malloc == libc_malloc)
        return counted(calloc(1, n)); /* the C library's zero pages for large blocks */
    void *p = current.malloc(current.user, n);
    if (p)
        memset(p, 0, n);
    return counted(p);
}

void *sl_realloc(void *p, size_t n)
{
    if (!p)
        return sl_malloc(n);
    if (n == 0) {
        sl_free(p);
        return NULL;
    }
    size_t old = block_size(p);
    void *q = current.realloc(current.user, p, n);
    if (!q) {
        atomic_fetch_add_explicit(&n_failures, 1, RELAXED);
        return NULL;
    }
    size_t now = block_size(q);
    atomic_fetch_add_explicit(&n_allocs, 1, RELAXED);
    atomic_fetch_add_explicit(&bytes_total, now, RELAXED);
    hold((int64_t)now - (int64_t)old);
    return q;
}

void *sl_aligned_alloc(size_t align, size_t n)
{
    if (align < sizeof(void *))
        align = sizeof(void *);
    if (align & (align - 1)) {
        atomic_fetch_add_explicit(&n_failures, 1, RELAXED);
        return NULL;
    }
    return counted(current.aligned_alloc(current.user, align, n ? n : 1));
}

void sl_free(void *p)
{
    if (!p)
        return;
    uncount(p);
    current.free(current.user, p);
}

/* ---- the public side ------------------------------------------------------------------- */

void sl_alloc_counters(sl_alloc_stats *out)
{
    if (!out)
        return;
    out->allocs = atomic_load_explicit(&n_allocs, RELAXED);
    out->frees = atomic_load_explicit(&n_frees, RELAXED);
    out->failures = atomic_load_explicit(&n_failures, RELAXED);
    out->live = atomic_load_explicit(&n_live, RELAXED);
    out->bytes_total = atomic_load_explicit(&bytes_total, RELAXED);
    out->bytes = atomic_load_explicit(&bytes_now, RELAXED);
    out->peak_bytes = atomic_load_explicit(&bytes_peak, RELAXED);
}

void sl_alloc_reset(void)
{
    atomic_store_explicit(&n_allocs, 0, RELAXED);
    atomic_store_explicit(&n_frees, 0, RELAXED);
    atomic_store_explicit(&n_failures, 0, RELAXED);
    atomic_store_explicit(&bytes_total, 0, RELAXED);
    atomic_store_explicit(&bytes_peak, atomic_load_explicit(&bytes_now, RELAXED), RELAXED);
}

sl_status sl_set_allocator(const sl_allocator *a, sl_error *err)
{
    if (a && (!a->malloc || !a->realloc || !a->free || !a->aligned_alloc))
        return sl_error_set(err, SL_ERR_INVALID,
                            "sl_set_allocator: malloc, realloc, free and aligned_alloc are all "
                            "required");
    uint64_t live = atomic_load_explicit(&n_live, RELAXED);
    if (live != 0)
        return sl_error_set(err, SL_ERR_STATE,
                            "sl_set_allocator: the library still holds %llu blocks of the "
                            "current allocator; free them first",
                            (unsigned long long)live);
    current = a ? *a : libc_allocator;
    /* The bytes held were measured by the old size function: none are held now. */
    atomic_store_explicit(&bytes_now, 0, RELAXED);
    return SL_OK;
}
