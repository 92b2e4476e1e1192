/*
 * io_internal.h - private parts of the io module (checkpoints).
 *
 * io_atomic.c  replaces a file atomically: temp file, full write, fsync, rename
 * io_write.c   the safetensors writer
 * io_read.c    the safetensors reader
 * io_util.c    helpers shared by the three
 *
 * Tests include this header to inject write failures: every write(2) on the
 * temporary file goes through an sl_io_hooks, so a test can make it fail
 * after K bytes, return short counts or EINTR, without any global state.
 */
#ifndef SLOPE_IO_INTERNAL_H
#define SLOPE_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "slope/io.h"

/* The refusal limit for a safetensors header (the reference implementation's too). */
#define SL_IO_MAX_HEADER ((uint64_t)100 << 20)

/*
 * Checksums (see slope/io.h): slope's writer puts the header's CRC32 first in
 * "__metadata__", so the header starts with SL_IO_CRC_PREFIX and 8 lowercase
 * hex digits; each tensor's CRC32 is under SL_IO_CRC_TENSOR "<name>".
 */
#define SL_IO_CRC_HEADER "slope.header_crc32"
#define SL_IO_CRC_TENSOR "slope.crc32."
#define SL_IO_CRC_PREFIX "{\"__metadata__\":{\"" SL_IO_CRC_HEADER "\":\""

/* ---- fault injection -------------------------------------------------------- */

/* Behaves like write(2): returns bytes written (maybe fewer than n) or -1 with errno. */
typedef ssize_t (*sl_io_write_fn)(void *ctx, int fd, const void *buf, size_t n);

typedef struct sl_io_hooks {
    sl_io_write_fn write; /* NULL means plain write(2) */
    void *ctx;            /* passed to write */
} sl_io_hooks;

/* sl_safetensors_write, with every write(2) going through hooks (NULL: none). */
sl_status sl_io_safetensors_write_hooked(const char *path, const sl_named_tensor *tensors,
                                         size_t n, const sl_kv *metadata, size_t n_meta,
                                         const sl_io_hooks *hooks, sl_error *err);

/* ---- atomic replacement of a file ------------------------------------------- */

typedef struct sl_io_atomic {
    const char *path; /* the path asked for (borrowed), named in every error */
    char *target;     /* the file replaced (owned): path, or where a symlink at path leads */
    char *tmp_path;   /* "<target>.tmp.XXXXXX" (owned), NULL once gone */
    int fd;           /* the temporary file, -1 once closed */
    sl_io_hooks hooks;
} sl_io_atomic;

/*
 * Creates the temporary file beside the target: path, or the file a symlink
 * at path finally leads to.  Refuses (SL_ERR_IO, before creating anything) a
 * dangling symlink and anything that is not a regular file.
 * SL_ERR_IO / SL_ERR_NOMEM; f needs no cleanup then.
 */
sl_status sl_io_atomic_open(sl_io_atomic *f, const char *path, const sl_io_hooks *hooks,
                            sl_error *err);
/* Writes all n bytes (retrying short writes and EINTR).  SL_ERR_IO. */
sl_status sl_io_atomic_write(sl_io_atomic *f, const void *buf, size_t n, sl_error *err);
/* fsync, close, rename over the target, fsync its directory.  Cleans f up either way. */
sl_status sl_io_atomic_commit(sl_io_atomic *f, sl_error *err);
/* Closes and removes the temporary file.  Safe to call twice. */
void sl_io_atomic_abort(sl_io_atomic *f);

/* ---- helpers (io_util.c) ------------------------------------------------------ */

/* Records "path: <formatted message>" in err (control characters shown as '?'); returns status. */
sl_status sl_io_fail(sl_error *err, sl_status status, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/*
 * Opens path for reading and refuses, before a byte is read, anything that is not a
 * regular file: "PATH: is a FIFO, not a regular file" (a directory, a character or
 * block device, a socket likewise), SL_ERR_IO.  The open never blocks: it is made with
 * O_NONBLOCK (a FIFO nobody writes would otherwise hang open(2) forever), which is
 * cleared again once the file is known to be regular.  Symlinks are followed; what
 * they lead to is checked.  Returns the descriptor (O_CLOEXEC; the caller closes it)
 * with the file's size in *size (may be NULL), or -1 with err set to
 * "PATH: cannot open: REASON" and errno kept (ENOENT for a missing file).
 */
int sl_io_open_regular(const char *path, uint64_t *size, sl_error *err);

/* What a file that is not regular is, with its article ("a FIFO", "a directory", "a
 * character device", ...), for "PATH: is a FIFO, not a regular file". */
const char *sl_io_file_kind(mode_t mode);

/* The text for an errno value, thread-safely written into buf. */
const char *sl_io_strerror(int errnum, char *buf, size_t size);

/* The length of the longest valid UTF-8 prefix of s[0..n) (n when all is valid). */
size_t sl_io_utf8_prefix(const char *s, size_t n);

/* Sorts names (in place) and returns the first one that occurs twice, or NULL. */
const char *sl_io_sorted_duplicate(const char **names, size_t n);

/* Writes "[2, 3]" ("[]" for ndim 0; ndim <= SL_MAX_DIMS) into buf, terminated.  Returns buf. */
char *sl_io_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);

/* A malloc'd copy of s, or NULL. */
char *sl_io_strdup(const char *s);

/* The safetensors dtypes slope reads (io_dtype.c); all load as float. */
enum {
    SL_IO_F32, SL_IO_F16, SL_IO_BF16, SL_IO_F64,
    SL_IO_I64, SL_IO_I32, SL_IO_I16, SL_IO_I8,
    SL_IO_U64, SL_IO_U32, SL_IO_U16, SL_IO_U8, SL_IO_BOOL,
    SL_IO_N_DTYPES
};
/* The dtype called name ("F16"), or -1 when slope does not read it. */
int sl_io_dtype_parse(const char *name);
/* Bytes per element (0 for an unknown dtype). */
size_t sl_io_dtype_size(int dtype);
/* n little-endian elements of dtype at src, as floats into dst. */
void sl_io_dtype_to_f32(int dtype, const unsigned char *src, float *dst, int64_t n);

/* Little-endian encoding of a float32 / uint64, independent of the host's byte order. */
void sl_io_put_f32le(unsigned char *p, float v);
float sl_io_get_f32le(const unsigned char *p);
void sl_io_put_u64le(unsigned char *p, uint64_t v);
uint64_t sl_io_get_u64le(const unsigned char *p);

#endif
