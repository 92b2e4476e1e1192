/*
 * io_atomic.c - replacing a file atomically.
 *
 * The new content goes to "<path>.tmp.XXXXXX" in the same directory (so the
 * rename stays on one filesystem), is synced to disk, then renamed over path;
 * finally the directory is synced so the rename itself survives a crash.
 * Readers see either the old file or the complete new one, never a mix.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_internal.h"

#define TMP_SUFFIX ".tmp.XXXXXX"
#define NEW_FILE_MODE 0644

static ssize_t plain_write(void *ctx, int fd, const void *buf, size_t n)
{
    (void)ctx;
    return write(fd, buf, n);
}

static sl_status errno_fail(sl_error *err, const char *path, int errnum, const char *what,
                            const char *file)
{
    char reason[128];
    sl_io_strerror(errnum, reason, sizeof reason);
    return sl_io_fail(err, SL_ERR_IO, path, "%s '%s': %s", what, file, reason);
}

/* A replaced file keeps its permission bits; a new one gets NEW_FILE_MODE. */
static mode_t target_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return st.st_mode & 07777;
    return NEW_FILE_MODE;
}

sl_status sl_io_atomic_open(sl_io_atomic *f, const char *path, const sl_io_hooks *hooks,
                            sl_error *err)
{
    size_t len = strlen(path);
    f->path = path;
    f->fd = -1;
    f->hooks.write = hooks && hooks->write ? hooks->write : plain_write;
    f->hooks.ctx = hooks ? hooks->ctx : NULL;
    f->tmp_path = malloc(len + sizeof TMP_SUFFIX);
    if (!f->tmp_path)
        return sl_io_fail(err, SL_ERR_NOMEM, path, "out of memory");
    memcpy(f->tmp_path, path, len);
    memcpy(f->tmp_path + len, TMP_SUFFIX, sizeof TMP_SUFFIX);

    f->fd = mkstemp(f->tmp_path);
    if (f->fd < 0) {
        sl_status s = errno_fail(err, path, errno, "cannot create temporary file", f->tmp_path);
        free(f->tmp_path);
        f->tmp_path = NULL;
        return s;
    }
    if (fchmod(f->fd, target_mode(path)) != 0) {
        sl_status s = errno_fail(err, path, errno, "cannot set the mode of", f->tmp_path);
        sl_io_atomic_abort(f);
        return s;
    }
    return SL_OK;
}

sl_status sl_io_atomic_write(sl_io_atomic *f, const void *buf, size_t n, sl_error *err)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = f->hooks.write(f->hooks.ctx, f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) /* 0 for n > 0 would loop forever: treat it as an I/O error */
            return errno_fail(err, f->path, w < 0 ? errno : EIO, "cannot write", f->tmp_path);
        p += w;
        n -= (size_t)w;
    }
    return SL_OK;
}

static int fsync_retry(int fd)
{
    int rc;
    do {
        rc = fsync(fd);
    } while (rc != 0 && errno == EINTR);
    return rc;
}

/* The directory part of path: "." for a bare name, "/" for "/name". */
static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return sl_io_strdup(".");
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(len + 1);
    if (dir) {
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    return dir;
}

/*
 * Syncs the directory holding path, so the rename is durable.  Filesystems
 * that cannot sync a directory (EINVAL) are accepted as they are.
 */
static sl_status sync_directory(const char *path, sl_error *err)
{
    char *dir = directory_of(path);
    if (!dir)
        return sl_io_fail(err, SL_ERR_NOMEM, path, "out of memory");
    sl_status s = SL_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || (fsync_retry(fd) != 0 && errno != EINVAL))
        s = errno_fail(err, path, errno, "file replaced, but cannot sync its directory", dir);
    if (fd >= 0)
        close(fd);
    free(dir);
    return s;
}

sl_status sl_io_atomic_commit(sl_io_atomic *f, sl_error *err)
{
    sl_status s = SL_OK;
    if (fsync_retry(f->fd) != 0)
        s = errno_fail(err, f->path, errno, "cannot sync", f->tmp_path);
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0 && s == SL_OK)
        s = errno_fail(err, f->path, errno, "cannot close", f->tmp_path);
    if (s == SL_OK && rename(f->tmp_path, f->path) != 0)
        s = errno_fail(err, f->path, errno, "cannot rename into place", f->tmp_path);
    if (s != SL_OK) {
        sl_io_atomic_abort(f);
        return s;
    }
    free(f->tmp_path);
    f->tmp_path = NULL;
    return sync_directory(f->path, err);
}

void sl_io_atomic_abort(sl_io_atomic *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp_path)
        unlink(f->tmp_path);
    free(f->tmp_path);
    f->tmp_path = NULL;
}
