/*
 * run_outputs.c - the files a run will write, checked before it loads data or
 * trains: each one a regular file or absent, in a directory that takes new
 * files, none of them an input of the run, no two of them one file.  And the
 * temporary files an interrupted write of its own checkpoints left behind
 * ("<checkpoint>.tmp.XXXXXX", io_atomic.c), removed with a note.
 */
/* realpath (XSI) and flock (BSD) are declared only beyond plain POSIX. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_internal.h"
#include "run_internal.h"
#include "slope/dist.h"

enum { MAX_OUTPUTS = 3, MAX_INPUTS = 9 };

typedef struct run_file {
    const char *what; /* "the checkpoint", "the metrics file", ... */
    const char *path;
    char canon[2 * SL_RUN_PATH_MAX + 2]; /* absolute, symlinks resolved: what two paths compare by */
    int exists;
    struct stat st;
} run_file;

/* "dir/name" -> "dir" ("." without a slash, "/" for "/name"). */
static void parent_dir(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else
        snprintf(dir, size, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

/* Fills f->canon: realpath of the file, else of its directory plus its name. */
static void canonical(run_file *f)
{
    char dir[SL_RUN_PATH_MAX], real[PATH_MAX];
    if (f->exists && realpath(f->path, real)) {
        snprintf(f->canon, sizeof f->canon, "%s", real);
        return;
    }
    parent_dir(f->path, dir, sizeof dir);
    const char *slash = strrchr(f->path, '/');
    const char *base = slash ? slash + 1 : f->path;
    if (realpath(dir, real))
        snprintf(f->canon, sizeof f->canon, "%s/%s", strcmp(real, "/") ? real : "", base);
    else
        snprintf(f->canon, sizeof f->canon, "%s", f->path);
}

static void describe(run_file *f, const char *what, const char *path)
{
    f->what = what;
    f->path = path;
    f->exists = stat(path, &f->st) == 0;
    canonical(f);
}

/* One output: a regular file or absent, writable, in a directory that takes files. */
static sl_status check_output(const run_file *f, sl_error *err)
{
    if (!f->path[0])
        return sl_error_set(err, SL_ERR_INVALID, "%s: the path is empty", f->what);
    struct stat link;
    if (!f->exists && lstat(f->path, &link) == 0 && S_ISLNK(link.st_mode))
        return sl_error_set(err, SL_ERR_IO,
                            "%s (%s) is a dangling symbolic link: its target does not exist",
                            f->path, f->what);
    if (f->exists && !S_ISREG(f->st.st_mode))
        return sl_error_set(err, SL_ERR_IO, "%s (%s) is %s, not a regular file", f->path, f->what,
                            sl_io_file_kind(f->st.st_mode));
    if (f->exists && access(f->path, W_OK) != 0)
        return sl_error_set(err, SL_ERR_IO, "%s (%s): cannot write: %s", f->path, f->what,
                            strerror(errno));
    char dir[SL_RUN_PATH_MAX];
    parent_dir(f->path, dir, sizeof dir);
    if (access(dir, W_OK | X_OK) != 0)
        return sl_error_set(err, SL_ERR_IO, "%s: cannot write %s in '%s': %s", f->path, f->what,
                            dir, strerror(errno));
    return SL_OK;
}

static int same_file(const run_file *a, const run_file *b)
{
    if (a->exists && b->exists)
        return a->st.st_dev == b->st.st_dev && a->st.st_ino == b->st.st_ino;
    return strcmp(a->canon, b->canon) == 0;
}

/* The run's inputs that exist as files: config, resume checkpoint, explicit data files,
 * the weights of init_from. */
static size_t list_inputs(const sl_run *r, run_file *in)
{
    const sl_config_data *d = &r->cfg->data;
    const char *const paths[MAX_INPUTS] = {
        r->cfg->origin, r->opt.resume,  d->train.images, d->train.labels,  d->train.csv,
        d->test.images, d->test.labels, d->test.csv,     r->opt.init_from};
    static const char *const whats[MAX_INPUTS] = {
        "the config",      "the resumed checkpoint", "the training images",
        "the training labels", "the training CSV",   "the test images",
        "the test labels", "the test CSV",           "the weights it starts from"};
    size_t n = 0;
    for (size_t i = 0; i < MAX_INPUTS; i++) {
        if (!paths[i] || !paths[i][0])
            continue;
        describe(&in[n], whats[i], paths[i]);
        if (in[n].exists)
            n++;
    }
    return n;
}

/* A checkpoint may replace the checkpoint it resumed from (it was read whole first). */
static int may_overwrite(const run_file *out, const run_file *in, const sl_run *r)
{
    return in->path == r->opt.resume && out->path != r->opt.metrics;
}

static sl_status check_collisions(const sl_run *r, const run_file *out, size_t n_out,
                                  sl_error *err)
{
    run_file in[MAX_INPUTS];
    size_t n_in = list_inputs(r, in);
    for (size_t o = 0; o < n_out; o++) {
        for (size_t i = 0; i < n_in; i++)
            if (same_file(&out[o], &in[i]) && !may_overwrite(&out[o], &in[i], r))
                return sl_error_set(err, SL_ERR_INVALID,
                                    "%s (%s) is %s of this run (%s): writing it would destroy "
                                    "it; choose another path",
                                    out[o].path, out[o].what, in[i].what, in[i].path);
        for (size_t p = 0; p < o; p++)
            if (same_file(&out[o], &out[p]))
                return sl_error_set(err, SL_ERR_INVALID,
                                    "%s is both %s and %s (%s): one would overwrite the other",
                                    out[o].path, out[o].what, out[p].what, out[p].path);
    }
    return SL_OK;
}

sl_status sl_run_check_outputs(const sl_run *r, sl_error *err)
{
    if (sl_dist_rank() != 0)
        return SL_OK; /* rank 0 writes; sl_run_new makes every rank agree */
    run_file out[MAX_OUTPUTS];
    char best[SL_RUN_PATH_MAX]; /* only for the check: r->best_path is set after the data */
    size_t n = 0;
    if (r->checkpoint)
        describe(&out[n++], "the checkpoint", r->checkpoint);
    if (r->checkpoint && r->checkpoint[0] && r->cfg->checkpoint.keep_best) {
        if (sl_run_best_name(r->checkpoint, best, sizeof best) == SL_OK)
            describe(&out[n++], "the best checkpoint", best);
    }
    if (r->opt.metrics)
        describe(&out[n++], "the metrics file", r->opt.metrics);
    for (size_t i = 0; i < n; i++)
        if (check_output(&out[i], err) != SL_OK)
            return err->status;
    return check_collisions(r, out, n, err);
}

/* ---- stale temporary files ------------------------------------------------------------ */

/* "<base>.tmp.XXXXXX" with mkstemp's six letters or digits. */
static int is_temp_of(const char *entry, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(entry, base, n) != 0 || strncmp(entry + n, ".tmp.", 5) != 0)
        return 0;
    const char *x = entry + n + 5;
    size_t k = 0;
    for (; x[k]; k++)
        if (!((x[k] >= 'a' && x[k] <= 'z') || (x[k] >= 'A' && x[k] <= 'Z') ||
              (x[k] >= '0' && x[k] <= '9')))
            return 0;
    return k == 6;
}

/* A writer holds an exclusive flock on its temporary file until it is renamed (io_atomic.c):
 * a file whose lock can be taken belongs to no live writer. */
static int remove_if_abandoned(int dir_fd, const char *name)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    int removed = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0)
        removed = unlinkat(dir_fd, name, 0) == 0;
    close(fd);
    return removed;
}

static void remove_stale_temps_of(const sl_run *r, const char *path)
{
    char dir[SL_RUN_PATH_MAX], note[SL_RUN_PATH_MAX + 512];
    parent_dir(path, dir, sizeof dir);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_temp_of(e->d_name, base) || !remove_if_abandoned(dirfd(d), e->d_name))
            continue;
        snprintf(note, sizeof note,
                 "removed %s/%s, a temporary file left by an interrupted checkpoint write", dir,
                 e->d_name);
        sl_run_note(r, note);
    }
    closedir(d);
}

void sl_run_remove_stale_temps(const sl_run *r)
{
    if (sl_dist_rank() != 0 || !r->checkpoint || !r->checkpoint[0])
        return;
    remove_stale_temps_of(r, r->checkpoint);
    if (r->best_path[0])
        remove_stale_temps_of(r, r->best_path);
}
