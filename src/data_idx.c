/*
 * data_idx.c - the IDX reader (MNIST's format), raw or gzip-compressed.
 *
 * An IDX file is a big-endian header (magic 0x0000TTDD: type TT, DD dims,
 * then DD 32-bit dims) followed by the data.  zlib's gzread reads both raw
 * and gzip files: it checks for the gzip magic bytes 1f 8b itself.  The
 * body is read into a buffer that grows as data arrives, so a header that
 * claims far more than the file holds gives a format error, never a huge
 * allocation; the buffer never grows past the memory budget (data_budget.c)
 * or past what the header promises.
 */
#include "alloc.h"
#include "data_internal.h"
#include "io_internal.h" /* sl_io_open_regular */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "slope/tensor.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_COUNT 0x7fffffffu
#define IDX_MAX_SIDE 65535u
#define IDX_CHUNK (1u << 30)
/* How much past a header's promise is counted for the message before giving up. */
#define IDX_MAX_EXTRA ((uint64_t)16 << 20)

sl_status sl_data_gz_open(const char *path, gzFile *out, uint64_t *size, sl_error *err)
{
    /* Never blocks on a FIFO; refuses whatever is not a regular file. */
    int fd = sl_io_open_regular(path, size, err);
    if (fd < 0)
        return SL_ERR_READ;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd); /* gzdopen leaves fd open when it fails */
        return sl_error_set(err, SL_ERR_NOMEM, "%s: cannot open: out of memory", path);
    }
    gzbuffer(f, 1u << 17);
    *out = f;
    return SL_OK;
}

int sl_data_gz_failed(gzFile f)
{
    int code = Z_OK;
    gzerror(f, &code);
    return code != Z_OK;
}

sl_status sl_data_gz_error(gzFile f, const char *path, sl_error *err)
{
    int code = Z_OK;
    const char *msg = gzerror(f, &code);
    size_t len = strlen(path);
    if (strncmp(msg, path, len) == 0 && strncmp(msg + len, ": ", 2) == 0)
        msg += len + 2; /* zlib puts the path in front */
    if (code == Z_ERRNO)
        return sl_error_set(err, SL_ERR_READ, "%s: read failed: %s", path, strerror(errno));
    if (code == Z_BUF_ERROR)
        return sl_error_set(err, SL_ERR_FORMAT, "%s: the gzip stream is cut short (%s)", path,
                            msg);
    return sl_error_set(err, SL_ERR_FORMAT, "%s: corrupt gzip data: %s", path, msg);
}

/* Reads up to want bytes; *got < want only at the end of the file. */
static sl_status read_bytes(gzFile f, const char *path, uint8_t *buf, uint64_t want,
                            uint64_t *got, sl_error *err)
{
    *got = 0;
    while (*got < want) {
        uint64_t left = want - *got;
        unsigned chunk = left > IDX_CHUNK ? IDX_CHUNK : (unsigned)left;
        int n = gzread(f, buf + *got, chunk);
        if (n < 0)
            return sl_data_gz_error(f, path, err);
        if (n == 0)
            break;
        *got += (uint64_t)n;
    }
    return SL_OK;
}

/* " (the gzip stream is cut short)" when zlib hit the end mid-stream. */
static const char *stream_note(gzFile f)
{
    int code = Z_OK;
    gzerror(f, &code);
    return code == Z_BUF_ERROR ? " (the gzip stream is cut short)" : "";
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static sl_status read_header(gzFile f, const char *path, uint32_t magic, uint32_t *dims,
                             sl_error *err)
{
    uint8_t h[16];
    uint64_t need = 4 + 4 * (uint64_t)(magic & 0xffu), got = 0;
    sl_status st = read_bytes(f, path, h, need, &got, err);
    if (st != SL_OK)
        return st;
    if (got >= 4 && be32(h) != magic)
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s: magic number 0x%08lx, expected 0x%08lx (IDX %s)", path,
                            (unsigned long)be32(h), (unsigned long)magic,
                            magic == IDX_MAGIC_IMAGES ? "images: bytes in 3 dims"
                                                      : "labels: bytes in 1 dim");
    if (got < need)
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s: the file ends inside the %u-byte IDX header, after %u bytes%s",
                            path, (unsigned)need, (unsigned)got, stream_note(f));
    for (uint32_t d = 0; d < (magic & 0xffu); d++)
        dims[d] = be32(h + 4 + 4 * d);
    return SL_OK;
}

/* One body to read: the header promises want bytes, and at most limit may be held. */
typedef struct idx_body {
    const char *path;
    const char *claim;  /* "5 images of 4x3", for messages */
    const char *what;   /* "5 images of 4x3 and their labels", for the budget's */
    uint64_t want;
    uint64_t per_item;  /* bytes per image or label, for "holds 4.5" */
    uint64_t limit;     /* the budget's share for this body */
    uint64_t total;     /* what the whole load would hold, for the budget's message */
    const sl_data_budget *budget;
} idx_body;

/* After limit bytes of a body promised to be longer: one more byte means the budget is
 * what stops it (SL_ERR_NOMEM); the end of the file means a truncation (SL_OK). */
static sl_status past_limit(gzFile f, const idx_body *b, sl_error *err)
{
    uint8_t byte;
    int n = gzread(f, &byte, 1);
    if (n < 0)
        return sl_data_gz_error(f, b->path, err);
    if (n == 0)
        return SL_OK;
    return sl_data_budget_check(b->budget, b->path, 0, b->total, b->what, err);
}

/* Reads the body into a new buffer grown as data arrives, never past the budget's
 * share; *got may be short (the file ended).  On error the buffer is freed. */
static sl_status read_body(gzFile f, const idx_body *b, uint8_t **out, uint64_t *got,
                           sl_error *err)
{
    uint64_t top = b->want < b->limit ? b->want : b->limit;
    uint64_t cap = top < (1u << 22) ? top : (1u << 22);
    uint8_t *buf = NULL;
    sl_status st = SL_OK;
    *got = 0;
    for (;;) {
        uint8_t *grown = cap ? sl_realloc(buf, (size_t)cap) : buf;
        if (cap && !grown) {
            st = sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate %llu bytes", b->path,
                              (unsigned long long)cap);
            break;
        }
        buf = grown;
        uint64_t n = 0;
        if (cap > *got) /* cap is 0 when the budget leaves no room: buf is still NULL */
            st = read_bytes(f, b->path, buf + *got, cap - *got, &n, err);
        *got += n;
        if (st != SL_OK || *got < cap || cap == b->want)
            break;
        if (cap == top) { /* the budget's share is full and the header promises more */
            st = past_limit(f, b, err);
            break;
        }
        cap = cap > top / 2 ? top : cap * 2;
    }
    if (st != SL_OK) {
        sl_free(buf);
        buf = NULL;
    }
    *out = buf;
    return st;
}

/* Counts the bytes left before the end of the file, up to IDX_MAX_EXTRA: *more says
 * there were more (a gzip bomb after a valid body is not inflated to its end). */
static sl_status count_rest(gzFile f, const char *path, uint64_t *extra, int *more,
                            sl_error *err)
{
    uint8_t scratch[4096];
    *extra = 0;
    *more = 0;
    for (;;) {
        int n = gzread(f, scratch, sizeof scratch);
        if (n < 0)
            return sl_data_gz_error(f, path, err);
        if (n == 0) /* the end, or a gzip stream cut short (its trailer missing) */
            return sl_data_gz_failed(f) ? sl_data_gz_error(f, path, err) : SL_OK;
        *extra += (uint64_t)n;
        if (*extra >= IDX_MAX_EXTRA) {
            *more = 1;
            return SL_OK;
        }
    }
}

/* "59999.3": a count of items, rounded down so it never shows the expected whole. */
static void format_items(char *buf, size_t size, uint64_t bytes, uint64_t per_item)
{
    if (bytes % per_item == 0)
        snprintf(buf, size, "%llu", (unsigned long long)(bytes / per_item));
    else
        snprintf(buf, size, "%.1f", floor((double)bytes * 10.0 / (double)per_item) / 10.0);
}

/* Reads the body and checks the file ends exactly there. */
static sl_status read_exact(gzFile f, const idx_body *b, uint8_t **out, sl_error *err)
{
    uint64_t got = 0, extra = 0;
    int more = 0;
    sl_status st = read_body(f, b, out, &got, err);
    if (st != SL_OK)
        return st; /* read_body freed its buffer */
    if (got == b->want) {
        st = count_rest(f, b->path, &extra, &more, err);
        if (st == SL_OK && extra == 0)
            return SL_OK;
    }
    sl_free(*out);
    *out = NULL;
    if (st != SL_OK)
        return st; /* an error after the body: a bad gzip trailer, a read failure */
    char holds[64];
    format_items(holds, sizeof holds, got + extra, b->per_item);
    const char *than = more ? "more than " : "";
    return sl_error_set(err, SL_ERR_FORMAT,
                        "%s: header says %s but the file holds %s%s "
                        "(%s%llu data bytes after the header, expected %llu)%s",
                        b->path, b->claim, than, holds, than,
                        (unsigned long long)(got + extra), (unsigned long long)b->want,
                        stream_note(f));
}

static sl_status check_dims(const char *path, const uint32_t *dims, uint64_t *bytes,
                            sl_error *err)
{
    if (dims[0] < 1 || dims[0] > IDX_MAX_COUNT || dims[1] < 1 || dims[1] > IDX_MAX_SIDE ||
        dims[2] < 1 || dims[2] > IDX_MAX_SIDE)
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s: header says %lu images of %lux%lu; slope reads 1..%lu images "
                            "of 1..%lu pixels a side",
                            path, (unsigned long)dims[0], (unsigned long)dims[1],
                            (unsigned long)dims[2], (unsigned long)IDX_MAX_COUNT,
                            (unsigned long)IDX_MAX_SIDE);
    uint64_t limit = (uint64_t)SL_TENSOR_MAX_ELEMS, side = (uint64_t)dims[1] * dims[2];
    if (limit > SIZE_MAX)
        limit = SIZE_MAX;
    if (!sl_data_mul_ok(dims[0], side, limit, bytes))
        return sl_error_set(err, SL_ERR_FORMAT, "%s: header says %lu images of %lux%lu, "
                            "too many bytes to hold", path, (unsigned long)dims[0],
                            (unsigned long)dims[1], (unsigned long)dims[2]);
    return SL_OK;
}

/* The bytes the labels of count images take while they are read: the file's bytes and
 * the int32 labels made of them. */
static uint64_t label_bytes(uint32_t count)
{
    return (uint64_t)count * (1 + sizeof(int32_t));
}

/* Reads the image body, the budget checked before (a raw file whose body is there in
 * full: its size is known) and while (a gzip stream: only inflating tells). */
static sl_status read_pixels(gzFile f, const char *path, uint64_t file_size,
                             const uint32_t *dims, uint64_t bytes, const sl_data_budget *budget,
                             uint8_t **pixels, sl_error *err)
{
    char claim[96], what[128];
    snprintf(claim, sizeof claim, "%lu images of %lux%lu", (unsigned long)dims[0],
             (unsigned long)dims[1], (unsigned long)dims[2]);
    snprintf(what, sizeof what, "%s and their labels", claim);
    uint64_t labels = label_bytes(dims[0]), total = bytes + labels;
    if (gzdirect(f) && file_size >= 16 + bytes &&
        sl_data_budget_check(budget, path, 0, total, what, err) != SL_OK)
        return SL_ERR_NOMEM;
    idx_body b = {.path = path, .claim = claim, .what = what, .want = bytes,
                  .per_item = (uint64_t)dims[1] * dims[2],
                  .limit = budget->cap > labels ? budget->cap - labels : 0, .total = total,
                  .budget = budget};
    return read_exact(f, &b, pixels, err);
}

static sl_status load_images(const char *path, const sl_data_budget *budget, uint8_t **pixels,
                             uint32_t *dims, sl_error *err)
{
    gzFile f = NULL;
    uint64_t file_size = 0, bytes = 0;
    sl_status st = sl_data_gz_open(path, &f, &file_size, err);
    if (st != SL_OK)
        return st;
    st = read_header(f, path, IDX_MAGIC_IMAGES, dims, err);
    if (st == SL_OK)
        st = check_dims(path, dims, &bytes, err);
    if (st == SL_OK)
        st = read_pixels(f, path, file_size, dims, bytes, budget, pixels, err);
    gzclose(f);
    return st;
}

static sl_status read_labels(gzFile f, const char *path, uint32_t count, int32_t **labels,
                             sl_error *err)
{
    char claim[64];
    snprintf(claim, sizeof claim, "%lu labels", (unsigned long)count);
    uint8_t *raw = NULL;
    /* The budget was checked for these bytes with the images: they may all be held. */
    idx_body b = {.path = path, .claim = claim, .want = count, .per_item = 1, .limit = count};
    sl_status st = read_exact(f, &b, &raw, err);
    if (st != SL_OK)
        return st;
    *labels = sl_malloc((size_t)count * sizeof **labels);
    if (!*labels) {
        sl_free(raw);
        return sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate %lu labels", path,
                            (unsigned long)count);
    }
    for (uint32_t i = 0; i < count; i++)
        (*labels)[i] = raw[i];
    sl_free(raw);
    return SL_OK;
}

static sl_status load_labels(const char *path, const char *images_path, uint32_t images,
                             int32_t **labels, sl_error *err)
{
    gzFile f = NULL;
    sl_status st = sl_data_gz_open(path, &f, NULL, err);
    if (st != SL_OK)
        return st;
    uint32_t count = 0;
    st = read_header(f, path, IDX_MAGIC_LABELS, &count, err);
    if (st == SL_OK && count != images)
        st = sl_error_set(err, SL_ERR_FORMAT, "%s: header says %lu labels but %s holds %lu images",
                          path, (unsigned long)count, images_path, (unsigned long)images);
    if (st == SL_OK)
        st = read_labels(f, path, count, labels, err);
    gzclose(f);
    return st;
}

sl_dataset *sl_dataset_load_idx(const char *images_path, const char *labels_path,
                                int num_classes, sl_error *err)
{
    if (!images_path || !labels_path) {
        sl_error_set(err, SL_ERR_INVALID, "load_idx: NULL path");
        return NULL;
    }
    uint8_t *pixels = NULL;
    int32_t *labels = NULL;
    uint32_t dims[3] = {0, 0, 0};
    sl_data_budget budget;
    if (sl_data_budget_init(&budget, err) != SL_OK ||
        load_images(images_path, &budget, &pixels, dims, err) != SL_OK)
        return NULL;
    if (load_labels(labels_path, images_path, dims[0], &labels, err) != SL_OK) {
        sl_free(pixels);
        return NULL;
    }
    int64_t size = (int64_t)dims[1] * dims[2];
    sl_data_store *st = sl_data_store_new(SL_DATA_U8, dims[0], size, pixels, labels, err);
    if (!st)
        return NULL;
    if (sl_data_check_labels(st, num_classes, labels_path, err) != SL_OK) {
        sl_data_store_release(st);
        return NULL;
    }
    int64_t shape[3] = {1, dims[1], dims[2]};
    return sl_data_handle_new(st, images_path, 3, shape, err);
}

sl_dataset *sl_data_load_idx_images(const char *path, sl_error *err)
{
    uint8_t *pixels = NULL;
    uint32_t dims[3] = {0, 0, 0};
    sl_data_budget budget; /* load_images counts the labels in: they are made here */
    if (sl_data_budget_init(&budget, err) != SL_OK ||
        load_images(path, &budget, &pixels, dims, err) != SL_OK)
        return NULL;
    int32_t *labels = sl_calloc(dims[0], sizeof *labels);
    if (!labels) {
        sl_free(pixels);
        sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate %lu labels", path,
                     (unsigned long)dims[0]);
        return NULL;
    }
    sl_data_store *st = sl_data_store_new(SL_DATA_U8, dims[0], (int64_t)dims[1] * dims[2],
                                          pixels, labels, err);
    if (!st || sl_data_check_labels(st, 1, path, err) != SL_OK) {
        sl_data_store_release(st);
        return NULL;
    }
    int64_t shape[3] = {1, dims[1], dims[2]};
    return sl_data_handle_new(st, path, 3, shape, err);
}
