/*
 * replay_main.c - runs a fuzz harness without libFuzzer.
 *
 *     fuzz_<name>_replay [--optional] PATH...
 *
 * Feeds every file named (a directory: every regular file in it, in name
 * order, not recursing) to LLVMFuzzerTestOneInput, once each.  A missing
 * PATH is an error unless --optional precedes it.  Exits 0 when every input
 * ran (a harness that finds a bug aborts, or the sanitizer stops it), 1 on
 * a usage or file error.  This is how ctest replays the seed corpora and
 * the crash regressions under gcc, ASan + UBSan and valgrind.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            fprintf(stderr, "replay: %s: out of memory\n", path);
            return -1;
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        unsigned char *grown = realloc(buf, cap * 2);
        if (!grown)
            free(buf);
        buf = grown;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "replay: %s: read error\n", path);
        return -1;
    }
    /* A copy of exactly len bytes, so ASan sees reads past the input. */
    unsigned char *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir in name order; returns the count or -1. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown)
                break;
            names = grown;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n])
            break;
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat s;
        if (stat(names[i], &s) == 0 && S_ISREG(s.st_mode)) {
            if (run_file(names[i]) != 0)
                count = -1;
            else if (count >= 0)
                count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    int optional = 0, status = 0;
    long total = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s [--optional] PATH...\n", argv[0]);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--optional") == 0) {
            optional = 1;
            continue;
        }
        struct stat s;
        if (stat(argv[i], &s) != 0) {
            if (!optional) {
                fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
                status = 1;
            }
        } else if (S_ISDIR(s.st_mode)) {
            long n = run_dir(argv[i]);
            if (n < 0)
                status = 1;
            else
                total += n;
        } else if (run_file(argv[i]) != 0) {
            status = 1;
        } else {
            total++;
        }
        optional = 0;
    }
    printf("replayed %ld inputs\n", total);
    return status;
}
