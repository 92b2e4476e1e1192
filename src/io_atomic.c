/*
 * io_atomic.c - replacing a file atomically.
 *
 * The new content goes to "<path>.tmp.XXXXXX" in the same directory (so the
 * rename stays on one filesystem), is synced to disk, then renamed over path;
 * finally the directory is synced so the rename itself survives a crash.
 * Readers see either the old file or the complete new one, never a mix.
 *
 * Only a regular file is ever replaced.  A symbolic link at path is written
 * through: the file it finally leads to is replaced, the link stays.  A
 * dangling link, a directory, a device, a FIFO or a socket is refused before
 * any temporary file exists (rename(2) would silently swap a device node or a
 * FIFO for a regular file).
 */
/* XSI for realpath(3): glibc declares it only with _XOPEN_SOURCE (or _DEFAULT_SOURCE). */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
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

static sl_status nomem(sl_error *err, const char *path)
{
    return sl_io_fail(err, SL_ERR_NOMEM, path, "out of memory");
}

/*
 * The symlink at path, followed to its end: *real (sl_malloc'd, absolute) and
 * its stat.  A dangling link is refused rather than guessed at: where the
 * link text leads may be a directory that does not exist either.
 */
static sl_status follow_link(const char *path, char **real, struct stat *st, sl_error *err)
{
    char *resolved = realpath(path, NULL); /* libc's malloc: copied into our own path */
    int resolve_errno = errno;
    *real = resolved ? sl_io_strdup(resolved) : NULL;
    free(resolved); /* libc-alloc: realpath's own block */
    errno = resolve_errno;
    if (resolved && !*real)
        return sl_io_fail(err, SL_ERR_NOMEM, path, "out of memory");
    if (!*real && errno == ENOENT)
        return sl_io_fail(err, SL_ERR_IO, path,
                          "'%s' is a dangling symbolic link (what it points to does not "
                          "exist); refusing to write through it",
                          path);
    if (!*real)
        return errno_fail(err, path, errno, "cannot resolve the symbolic link", path);
    if (stat(*real, st) != 0) {
        sl_status s = errno_fail(err, path, errno, "cannot inspect", *real);
        sl_free(*real);
        *real = NULL;
        return s;
    }
    return SL_OK;
}

/* The error for a target that is not a regular file (target: where path leads). */
static sl_status refuse(sl_error *err, const char *path, const char *target, mode_t mode)
{
    if (strcmp(target, path) == 0)
        return sl_io_fail(err, SL_ERR_IO, path,
                          "'%s' is %s, not a regular file; refusing to replace it", path,
                          sl_io_file_kind(mode));
    return sl_io_fail(err, SL_ERR_IO, path,
                      "'%s' leads to '%s', %s, not a regular file; refusing to replace it",
                      path, target, sl_io_file_kind(mode));
}

/*
 * Decides which file the commit replaces, before any temporary file exists:
 * *target (malloc'd) is path itself, or where a symlink at path leads; *mode
 * is the mode the new file gets (a replaced file keeps its permission bits;
 * a new one gets NEW_FILE_MODE).  Anything but a regular file is refused.
 * (Someone swapping the file between this check and the rename can still
 * win; this guards against mistakes, not against an attacker.)
 */
static sl_status resolve_target(const char *path, char **target, mode_t *mode, sl_error *err)
{
    struct stat st;
    *target = NULL;
    *mode = NEW_FILE_MODE;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            return errno_fail(err, path, errno, "cannot inspect", path);
        /* A new file (or a missing directory, which mkstemp will report). */
        *target = sl_io_strdup(path);
        return *target ? SL_OK : nomem(err, path);
    }
    sl_status s = SL_OK;
    if (S_ISLNK(st.st_mode))
        s = follow_link(path, target, &st, err);
    else if (!(*target = sl_io_strdup(path)))
        s = nomem(err, path);
    if (s)
        return s;
    if (!S_ISREG(st.st_mode)) {
        s = refuse(err, path, *target, st.st_mode);
        sl_free(*target);
        *target = NULL;
        return s;
    }
    *mode = st.st_mode & 07777;
    return SL_OK;
}

sl_status sl_io_atomic_open(sl_io_atomic *f, const char *path, const sl_io_hooks *hooks,
                            sl_error *err)
{
    mode_t mode;
    f->path = path;
    f->tmp_path = NULL;
    f->fd = -1;
    f->hooks.write = hooks && hooks->write ? hooks->write : plain_write;
    f->hooks.ctx = hooks ? hooks->ctx : NULL;
    sl_status s = resolve_target(path, &f->target, &mode, err);
    if (s)
        return s;
    /* Beside the file really replaced, so the rename stays on one filesystem. */
    size_t len = strlen(f->target);
    f->tmp_path = sl_malloc(len + sizeof TMP_SUFFIX);
    if (!f->tmp_path) {
        sl_io_atomic_abort(f);
        return nomem(err, path);
    }
    memcpy(f->tmp_path, f->target, len);
    memcpy(f->tmp_path + len, TMP_SUFFIX, sizeof TMP_SUFFIX);

    f->fd = mkstemp(f->tmp_path);
    if (f->fd < 0) {
        s = errno_fail(err, path, errno, "cannot create temporary file", f->tmp_path);
        sl_free(f->tmp_path); /* nothing to unlink: mkstemp created no file */
        f->tmp_path = NULL;
        sl_io_atomic_abort(f);
        return s;
    }
    /* Held until the file is closed: a later run removes a temporary file only when it can
     * take this lock, i.e. when its writer died (run_outputs.c).  Best effort: a file system
     * without flock still gets its checkpoint. */
    (void)flock(f->fd, LOCK_EX | LOCK_NB);
    if (fchmod(f->fd, mode) != 0) {
        s = errno_fail(err, path, errno, "cannot set the mode of", f->tmp_path);
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
    char *dir = sl_malloc(len + 1);
    if (dir) {
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    return dir;
}

/*
 * Syncs the directory holding f->target, so the rename is durable.
 * Filesystems that cannot sync a directory (EINVAL) are accepted as they are.
 */
static sl_status sync_directory(const sl_io_atomic *f, sl_error *err)
{
    char *dir = directory_of(f->target);
    if (!dir)
        return nomem(err, f->path);
    sl_status s = SL_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || (fsync_retry(fd) != 0 && errno != EINVAL))
        s = errno_fail(err, f->path, errno, "file replaced, but cannot sync its directory", dir);
    if (fd >= 0)
        close(fd);
    sl_free(dir);
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
    if (s == SL_OK && rename(f->tmp_path, f->target) != 0)
        s = errno_fail(err, f->path, errno, "cannot rename into place", f->tmp_path);
    if (s != SL_OK) {
        sl_io_atomic_abort(f);
        return s;
    }
    sl_free(f->tmp_path);
    f->tmp_path = NULL;
    s = sync_directory(f, err);
    sl_free(f->target);
    f->target = NULL;
    return s;
}

void sl_io_atomic_abort(sl_io_atomic *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp_path)
        unlink(f->tmp_path);
    sl_free(f->tmp_path);
    f->tmp_path = NULL;
    sl_free(f->target);
    f->target = NULL;
}
