/*
 * data_image.c - PNG (libpng) and PGM images into a dataset (slope/predict.h,
 * sl_dataset_load_images).
 *
 * Every image must have the size the caller asks for, so nothing is allocated from a
 * file's claims: the storage for all samples is sized from the arguments and checked
 * against the memory budget first, and a PNG's IHDR or a PGM's header is compared with
 * the expected size before any row is decoded.
 *
 * libpng reports errors by longjmp.  The one setjmp is in png_run, whose frame holds no
 * local variable: everything a failure must clean up (the png structs, the row buffer)
 * lives in a png_ctx the caller owns, and the decoding itself happens in functions it
 * calls, whose frames a longjmp simply discards.  libpng never prints (our warning
 * handler drops warnings, our error handler jumps) and allocates through sl_malloc.
 */
#include "alloc.h"
#include "data_internal.h"
#include "guard.h"
#include "io_internal.h" /* sl_io_open_regular */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

#include "slope/predict.h"

#define IMAGE_MAX_SIDE 65535
/* libpng's cap on one ancillary chunk it holds (text, ICC profile): 8 MiB. */
#define PNG_CHUNK_MAX (8u << 20)

/* What the caller wants: the size of every image and the channels to convert to. */
typedef struct image_want {
    int channels;
    uint32_t height, width;
} image_want;

static sl_status wrong_size(const char *path, const image_want *w, uint64_t width,
                            uint64_t height, int channels, sl_error *err)
{
    return sl_error_set(err, SL_ERR_SHAPE,
                        "%s: an image %llu pixels wide and %llu high (%d channel%s), but the "
                        "model's input [C, H, W] is [%d, %lu, %lu]",
                        path, (unsigned long long)width, (unsigned long long)height, channels,
                        channels == 1 ? "" : "s", w->channels, (unsigned long)w->height,
                        (unsigned long)w->width);
}

/* Stores one pixel of in_ch 8-bit samples (grey, grey+alpha, RGB, RGBA) as w->channels
 * planes of dst. */
static void put_pixel(const image_want *w, uint8_t *dst, size_t at, const uint8_t *s, int in_ch)
{
    size_t plane = (size_t)w->height * w->width;
    if (w->channels == 1) {
        dst[at] = in_ch >= 3 ? (uint8_t)((299u * s[0] + 587u * s[1] + 114u * s[2] + 500u) / 1000u)
                             : s[0];
        return;
    }
    for (int c = 0; c < 3; c++)
        dst[(size_t)c * plane + at] = in_ch >= 3 ? s[c] : s[0];
}

/* A 16-bit sample to 8 bits, rounded: round(v * 255 / 65535). */
static uint8_t to8(unsigned v, unsigned maxval)
{
    return (uint8_t)((v * 255u + maxval / 2u) / maxval);
}

/* ---- PNG ------------------------------------------------------------------------------ */

typedef struct png_ctx {
    const char *path;
    FILE *f;
    const image_want *want;
    uint8_t *dst;
    png_structp png;
    png_infop info;
    uint8_t *pixels; /* the decoded image, rowbytes * height */
    png_bytep *rows;
    sl_status status; /* of a failure inside libpng: SL_ERR_FORMAT unless set */
    char message[256];
    sl_error *err;
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    if (c->message[0] == '\0')
        snprintf(c->message, sizeof c->message, "%s", msg);
    png_longjmp(png, 1); /* never returns: libpng must not go on to print and abort */
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* libpng's warnings (a bad ancillary chunk it skipped) are not errors */
    (void)msg;
}

static png_voidp png_on_malloc(png_structp png, png_alloc_size_t size)
{
    (void)png;
    return sl_malloc(size);
}

static void png_on_free(png_structp png, png_voidp p)
{
    (void)png;
    sl_free(p);
}

static void png_on_read(png_structp png, png_bytep data, size_t len)
{
    png_ctx *c = png_get_io_ptr(png);
    if (fread(data, 1, len, c->f) == len)
        return;
    if (ferror(c->f)) {
        c->status = SL_ERR_IO;
        snprintf(c->message, sizeof c->message, "read failed: %s", strerror(errno));
    } else {
        snprintf(c->message, sizeof c->message, "the file ends early (truncated)");
    }
    png_error(png, c->message);
}

/* Decoded rows (8 or 16 bits, 1 to 4 channels, big-endian) into the caller's planes. */
static void png_convert(const png_ctx *c, int channels, int depth)
{
    const image_want *w = c->want;
    uint8_t px[4];
    for (uint32_t y = 0; y < w->height; y++)
        for (uint32_t x = 0; x < w->width; x++) {
            const uint8_t *s = c->rows[y] + (size_t)x * (size_t)channels * (size_t)(depth / 8);
            for (int k = 0; k < channels; k++)
                px[k] = depth == 16 ? to8((unsigned)s[2 * k] << 8 | s[2 * k + 1], 65535u)
                                    : s[k];
            put_pixel(w, c->dst, (size_t)y * w->width + x, px, channels);
        }
}

/* The rows' buffer for the decoded image (height * rowbytes: at most 8 bytes a pixel). */
static sl_status png_alloc_rows(png_ctx *c, size_t rowbytes)
{
    c->pixels = sl_malloc(rowbytes * c->want->height);
    c->rows = sl_malloc(c->want->height * sizeof *c->rows);
    if (!c->pixels || !c->rows)
        return sl_error_set(c->err, SL_ERR_NOMEM, "%s: cannot allocate %llu bytes of rows",
                            c->path, (unsigned long long)(rowbytes * c->want->height));
    for (uint32_t y = 0; y < c->want->height; y++)
        c->rows[y] = c->pixels + (size_t)y * rowbytes;
    return SL_OK;
}

/* Everything libpng does; it may longjmp to png_run from any of its calls. */
static sl_status png_decode(png_ctx *c)
{
    png_set_read_fn(c->png, c, png_on_read);
    png_set_sig_bytes(c->png, 8); /* the caller read and checked them */
    /* No user limit on the size: the IHDR's must equal the caller's, checked below before
     * libpng allocates anything for the rows, so a huge claim is refused as a wrong size. */
    png_set_user_limits(c->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_chunk_malloc_max(c->png, PNG_CHUNK_MAX);
    png_read_info(c->png, c->info);
    png_uint_32 width = png_get_image_width(c->png, c->info);
    png_uint_32 height = png_get_image_height(c->png, c->info);
    if (width != c->want->width || height != c->want->height)
        return wrong_size(c->path, c->want, width, height, png_get_channels(c->png, c->info),
                          c->err);
    png_set_expand(c->png); /* palette to RGB, grey below 8 bits to 8, tRNS to alpha */
    (void)png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    int channels = png_get_channels(c->png, c->info);
    int depth = png_get_bit_depth(c->png, c->info);
    size_t rowbytes = png_get_rowbytes(c->png, c->info);
    if (channels < 1 || channels > 4 || (depth != 8 && depth != 16) ||
        rowbytes != (size_t)width * (size_t)channels * (size_t)(depth / 8))
        return sl_error_set(c->err, SL_ERR_FORMAT,
                            "%s: a PNG of %d channels of %d bits, which slope does not read",
                            c->path, channels, depth);
    sl_status st = png_alloc_rows(c, rowbytes);
    if (st != SL_OK)
        return st;
    png_read_image(c->png, c->rows);
    png_read_end(c->png, NULL); /* the chunks after the image, up to IEND: a cut file fails */
    png_convert(c, channels, depth);
    return SL_OK;
}

/* The setjmp frame: no locals, so nothing here is left indeterminate by a longjmp. */
static sl_status png_run(png_ctx *c)
{
    if (setjmp(png_jmpbuf(c->png)))
        return sl_error_set(c->err, c->status, "%s: %s", c->path,
                            c->message[0] ? c->message : "corrupt PNG data");
    return png_decode(c);
}

static sl_status read_png(const char *path, FILE *f, const image_want *w, uint8_t *dst,
                          sl_error *err)
{
    png_ctx c = {.path = path, .f = f, .want = w, .dst = dst, .status = SL_ERR_FORMAT,
                 .err = err};
    c.png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &c, png_on_error, png_on_warning,
                                     NULL, png_on_malloc, png_on_free);
    c.info = c.png ? png_create_info_struct(c.png) : NULL;
    sl_status st = c.info ? png_run(&c)
                          : sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate a PNG reader",
                                         path);
    png_destroy_read_struct(&c.png, &c.info, NULL); /* either may be NULL */
    sl_free(c.rows);
    sl_free(c.pixels);
    return st;
}

/* ---- PGM ------------------------------------------------------------------------------ */

/* Skips whitespace (and '#' comments to the end of the line, when comments is set). */
static int skip_space(FILE *f, int comments)
{
    int ch;
    while ((ch = getc(f)) != EOF) {
        if (comments && ch == '#') {
            while ((ch = getc(f)) != EOF && ch != '\n')
                ;
        } else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\v' &&
                   ch != '\f') {
            return ch;
        }
    }
    return EOF;
}

/* The next decimal number: 1 read, 0 the file ended first, -1 not a number or above 2^31. */
static int read_number(FILE *f, int comments, unsigned long *v)
{
    int ch = skip_space(f, comments);
    if (ch == EOF)
        return 0;
    if (ch < '0' || ch > '9')
        return -1;
    *v = 0;
    for (; ch >= '0' && ch <= '9'; ch = getc(f)) {
        *v = *v * 10u + (unsigned long)(ch - '0');
        if (*v > 0x7fffffffUL)
            return -1;
    }
    if (ch != EOF)
        ungetc(ch, f);
    return 1;
}

typedef struct pgm_header {
    int binary; /* P5; else P2 */
    unsigned long width, height, maxval;
} pgm_header;

static sl_status read_pgm_header(const char *path, FILE *f, pgm_header *h, sl_error *err)
{
    static const char *const what[] = {"width", "height", "maxval"};
    unsigned long *field[] = {&h->width, &h->height, &h->maxval};
    int ch = getc(f);
    if (ch != EOF)
        ungetc(ch, f);
    if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '#')
        return sl_error_set(err, SL_ERR_FORMAT, "%s: PGM header: expected whitespace after "
                            "\"P%c\"", path, h->binary ? '5' : '2');
    for (int k = 0; k < 3; k++) {
        int r = read_number(f, 1, field[k]);
        if (r <= 0)
            return sl_error_set(err, SL_ERR_FORMAT, "%s: PGM header: %s", path,
                                r == 0 ? "the file ends inside it (truncated)"
                                       : k < 2 ? "expected the width and height as numbers"
                                               : "expected the maxval as a number");
        if (*field[k] < 1 || (k == 2 && *field[k] > 65535))
            return sl_error_set(err, SL_ERR_FORMAT, "%s: PGM header: %s %lu is not in 1..%d",
                                path, what[k], *field[k], k == 2 ? 65535 : 0x7fffffff);
    }
    ch = getc(f); /* exactly one whitespace byte ends the header */
    if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s: PGM header: expected whitespace after the maxval", path);
    return SL_OK;
}

/* The next sample of a P5 (one byte, or two big-endian above maxval 255) or P2 body. */
static int next_sample(FILE *f, const pgm_header *h, unsigned long *v)
{
    if (!h->binary)
        return read_number(f, 0, v);
    int hi = getc(f);
    int lo = h->maxval > 255 && hi != EOF ? getc(f) : 0;
    if (hi == EOF || lo == EOF)
        return 0;
    *v = h->maxval > 255 ? (unsigned long)hi << 8 | (unsigned long)lo : (unsigned long)hi;
    return 1;
}

static sl_status read_pgm_body(const char *path, FILE *f, const pgm_header *h,
                               const image_want *w, uint8_t *dst, sl_error *err)
{
    uint64_t total = (uint64_t)w->width * w->height;
    for (uint64_t i = 0; i < total; i++) {
        unsigned long v = 0;
        int r = next_sample(f, h, &v);
        if (r == 0 && ferror(f))
            return sl_error_set(err, SL_ERR_IO, "%s: read failed: %s", path, strerror(errno));
        if (r == 0)
            return sl_error_set(err, SL_ERR_FORMAT,
                                "%s: the file ends after %llu of %llu pixels (truncated)", path,
                                (unsigned long long)i, (unsigned long long)total);
        if (r < 0 || v > h->maxval)
            return sl_error_set(err, SL_ERR_FORMAT, "%s: pixel %llu of %llu %s %lu", path,
                                (unsigned long long)i + 1, (unsigned long long)total,
                                r < 0 ? "is not a number up to" : "is above the maxval",
                                h->maxval);
        uint8_t px = h->maxval == 255 ? (uint8_t)v : to8((unsigned)v, (unsigned)h->maxval);
        put_pixel(w, dst, (size_t)i, &px, 1);
    }
    /* One image a file: anything after it (but a text file's last line end) is an error. */
    if ((h->binary ? getc(f) : skip_space(f, 0)) != EOF)
        return sl_error_set(err, SL_ERR_FORMAT, "%s: data after the %lux%lu image", path,
                            h->width, h->height);
    return SL_OK;
}

static sl_status read_pgm(const char *path, FILE *f, int binary, const image_want *w,
                          uint8_t *dst, sl_error *err)
{
    pgm_header h = {.binary = binary};
    sl_status st = read_pgm_header(path, f, &h, err);
    if (st == SL_OK && (h.width != w->width || h.height != w->height))
        st = wrong_size(path, w, h.width, h.height, 1, err);
    return st == SL_OK ? read_pgm_body(path, f, &h, w, dst, err) : st;
}

/* ---- one file, then all of them --------------------------------------------------------- */

static sl_status read_image(const char *path, const image_want *w, uint8_t *dst, sl_error *err)
{
    int fd = sl_io_open_regular(path, NULL, err);
    if (fd < 0)
        return SL_ERR_IO;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return sl_error_set(err, SL_ERR_NOMEM, "%s: cannot open: out of memory", path);
    }
    uint8_t sig[8] = {0};
    size_t got = fread(sig, 1, 2, f);
    sl_status st;
    if (got == 2 && sig[0] == 'P' && (sig[1] == '5' || sig[1] == '2'))
        st = read_pgm(path, f, sig[1] == '5', w, dst, err);
    else if (got == 2 && sig[0] == 0x89 && (got += fread(sig + 2, 1, 6, f)) == 8 &&
             png_sig_cmp(sig, 0, 8) == 0)
        st = read_png(path, f, w, dst, err);
    else if (ferror(f))
        st = sl_error_set(err, SL_ERR_IO, "%s: read failed: %s", path, strerror(errno));
    else
        st = sl_error_set(err, SL_ERR_FORMAT,
                          "%s: not a PNG or PGM image (no PNG signature, no \"P5\" or \"P2\" "
                          "at the start%s)",
                          path, got < 2 ? ": the file is shorter than 2 bytes" : "");
    fclose(f);
    return st;
}

static sl_status check_image_args(const char *const *paths, size_t n, int channels,
                                  int64_t height, int64_t width, sl_error *err)
{
    SL_GUARD(paths, err);
    if (n < 1 || n > (size_t)INT32_MAX || (channels != 1 && channels != 3) || height < 1 ||
        height > IMAGE_MAX_SIDE || width < 1 || width > IMAGE_MAX_SIDE)
        return sl_error_set(err, SL_ERR_INVALID,
                            "sl_dataset_load_images: %zu images of %d channels of %lldx%lld; "
                            "need 1 or more, 1 or 3 channels, 1..%d pixels a side",
                            n, channels, (long long)width, (long long)height, IMAGE_MAX_SIDE);
    for (size_t i = 0; i < n; i++)
        if (!paths[i])
            return sl_error_set(err, SL_ERR_INVALID, "sl_dataset_load_images: paths[%zu] is NULL",
                                i);
    return SL_OK;
}

/* The storage of n samples and their labels, within the memory budget. */
static sl_status alloc_images(const char *path, size_t n, uint64_t sample, uint8_t **pixels,
                              int32_t **labels, sl_error *err)
{
    sl_data_budget budget;
    uint64_t bytes = 0;
    sl_status st = sl_data_budget_init(&budget, err);
    if (st != SL_OK)
        return st;
    char what[96];
    snprintf(what, sizeof what, "%zu images of %llu bytes", n, (unsigned long long)sample);
    if (!sl_data_mul_ok(n, sample + sizeof(int32_t), SIZE_MAX, &bytes))
        return sl_error_set(err, SL_ERR_NOMEM, "%s: %s are too many to hold", path, what);
    /* The decoded rows of one PNG come on top: at most 8 bytes a pixel. */
    st = sl_data_budget_check(&budget, path, 0, bytes + sample * 8, what, err);
    if (st != SL_OK)
        return st;
    *pixels = sl_malloc((size_t)(n * sample));
    *labels = sl_calloc(n, sizeof **labels);
    if (!*pixels || !*labels) {
        sl_free(*pixels);
        sl_free(*labels);
        return sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate %s", path, what);
    }
    return SL_OK;
}

sl_dataset *sl_dataset_load_images(const char *const *paths, size_t n, int channels,
                                   int64_t height, int64_t width, sl_error *err)
{
    if (check_image_args(paths, n, channels, height, width, err) != SL_OK)
        return NULL;
    image_want w = {.channels = channels, .height = (uint32_t)height, .width = (uint32_t)width};
    uint64_t sample = (uint64_t)channels * (uint64_t)height * (uint64_t)width;
    uint8_t *pixels = NULL;
    int32_t *labels = NULL;
    if (alloc_images(paths[0], n, sample, &pixels, &labels, err) != SL_OK)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (read_image(paths[i], &w, pixels + i * sample, err) != SL_OK) {
            sl_free(pixels);
            sl_free(labels);
            return NULL;
        }
    sl_data_store *st = sl_data_store_new(SL_DATA_U8, (int64_t)n, (int64_t)sample, pixels,
                                          labels, err);
    if (!st || sl_data_check_labels(st, 1, paths[0], err) != SL_OK) {
        sl_data_store_release(st);
        return NULL;
    }
    int64_t shape[3] = {channels, height, width};
    return sl_data_handle_new(st, paths[0], 3, shape, err);
}
