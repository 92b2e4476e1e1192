/* io_util.c - small helpers shared by the io module's files. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "io_internal.h"

_Static_assert(sizeof(float) == sizeof(uint32_t), "float must be 32 bits");

sl_status sl_io_fail(sl_error *err, sl_status status, const char *path, const char *fmt, ...)
{
    if (!err)
        return status;
    char msg[SL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_error_set(err, status, "%s: %s", path, msg);
    /* Names come from files: keep control characters (terminal escapes) out of messages. */
    for (char *c = err->message; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return status;
}

const char *sl_io_strerror(int errnum, char *buf, size_t size)
{
    /* The XSI strerror_r (we define _POSIX_C_SOURCE, not _GNU_SOURCE). */
    if (strerror_r(errnum, buf, size) != 0)
        snprintf(buf, size, "error %d", errnum);
    return buf;
}

const char *sl_io_file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "a special file";
}

/* Records "path: <what>: <errno text>" and keeps errno for the caller. */
static int open_fail(sl_error *err, const char *path, const char *what)
{
    int saved = errno;
    char reason[128];
    sl_io_fail(err, SL_ERR_READ, path, "%s: %s", what, sl_io_strerror(saved, reason, sizeof reason));
    errno = saved;
    return -1;
}

int sl_io_open_regular(const char *path, uint64_t *size, sl_error *err)
{
    if (!path || !*path) {
        errno = ENOENT;
        sl_error_set(err, SL_ERR_READ, "cannot open a file with an empty name");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return open_fail(err, path, "cannot open");
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        open_fail(err, path, "cannot stat");
        close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        sl_io_fail(err, SL_ERR_READ, path, "is %s, not a regular file", sl_io_file_kind(sb.st_mode));
        close(fd);
        errno = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        open_fail(err, path, "cannot clear O_NONBLOCK");
        close(fd);
        return -1;
    }
    if (size)
        *size = (uint64_t)sb.st_size;
    return fd;
}

/* The length of the valid UTF-8 sequence starting at s (n bytes left), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    /* No overlong forms, no surrogates, nothing past U+10FFFF. */
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

size_t sl_io_utf8_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_sequence(u + i, n - i);
        if (len == 0)
            break;
        i += len;
    }
    return i;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *sl_io_sorted_duplicate(const char **names, size_t n)
{
    if (n < 2)
        return NULL;
    qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return names[i];
    return NULL;
}

char *sl_io_shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    char tmp[SL_MAX_DIMS * 24 + 4] = "[";
    for (int d = 0; d < ndim && d < SL_MAX_DIMS; d++) {
        size_t len = strlen(tmp);
        snprintf(tmp + len, sizeof tmp - len, "%s%lld", d ? ", " : "", (long long)shape[d]);
    }
    strcat(tmp, "]");
    snprintf(buf, size, "%s", tmp);
    return buf;
}

char *sl_io_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = sl_malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

void sl_io_put_f32le(unsigned char *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(u >> (8 * i));
}

float sl_io_get_f32le(const unsigned char *p)
{
    uint32_t u = 0;
    for (int i = 0; i < 4; i++)
        u |= (uint32_t)p[i] << (8 * i);
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

void sl_io_put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t sl_io_get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}
