/*
 * fuzz_common.h - what the fuzz harnesses share.
 *
 * Every harness defines LLVMFuzzerTestOneInput.  It is linked either with
 * libFuzzer (SLOPE_FUZZ=ON, clang) or with replay_main.c, a plain main()
 * that feeds it every file of the seed corpora and crash regressions, so
 * the same code runs in ctest under gcc, ASan and valgrind.
 *
 * A harness returns 0 for every input.  When the library breaks one of its
 * own promises (a NULL result with no error status, an accepted file that
 * reads back differently, ...) the harness calls fuzz_fail, which prints
 * the reason and aborts: libFuzzer saves the input as a crash.
 */
#ifndef SLOPE_FUZZ_COMMON_H
#define SLOPE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "slope/slope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "fuzz: <message>" to stderr and aborts. */
_Noreturn void fuzz_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/*
 * Stores data in scratch file slot (0..3) of this process, replacing what
 * was there, and returns a path that opens it ("/proc/self/fd/N" of an
 * anonymous in-memory file: nothing is left behind, even after a crash).
 */
const char *fuzz_file(int slot, const void *data, size_t size);

/* A directory of this process for files the library writes (removed at exit). */
const char *fuzz_dir(void);

/* The input as a NUL-terminated string the caller frees; NULL when out of memory. */
char *fuzz_text(const uint8_t *data, size_t size);

/*
 * gzip-compresses data (level 1) into a new malloc'd buffer; *out_size gets
 * its length.  NULL when out of memory.
 */
unsigned char *fuzz_gzip(const void *data, size_t size, size_t *out_size);

/* Checks the promises of a failed call: a non-OK status and a terminated, non-empty message. */
/* Sets the readers' limits from 3 bits of an input's flags, so the budget and line-limit
 * paths are fuzzed too: bits 0-1 the memory budget (default, 4 KiB, 64 KiB, 1 MiB), bit 2 a
 * 300-byte CSV line limit (else the default). */
void fuzz_set_reader_limits(unsigned bits);

void fuzz_check_error(const sl_error *err, const char *what);

/*
 * Exercises a dataset the library accepted: shape, labels in range, every
 * sample read back normalised (bounded work), mean/std, one epoch of batches.
 */
void fuzz_check_dataset(sl_dataset *ds);

/*
 * Exercises a config the library accepted: emit -> parse -> emit gives the
 * same text; builds the model and, when it is small, initialises it and runs
 * a forward pass on a batch of two.
 */
void fuzz_check_config(const sl_config *cfg);

#endif
