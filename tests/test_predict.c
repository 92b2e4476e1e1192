/*
 * test_predict.c - slope/predict.h: predictions equal sl_evaluate's (the tiny IDX fixture
 * and, when installed, 64 Fashion-MNIST test images), the predictor and its class names,
 * the inputs' kinds and shapes, softmax, the top classes, the CSV; and the PNG / PGM
 * readers on files this test writes with libpng (grey, RGB, 16-bit, palette, alpha, 1-bit,
 * interlaced), truncated at every length, with a byte flipped anywhere, of the wrong
 * size, of a huge size, with bad magic, past the memory budget.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <png.h>
#include <zlib.h>

#include "slope/slope.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static char scratch[512];

/* A path in this test's scratch directory (one of two rotating buffers). */
static const char *tmp(const char *name)
{
    static char buf[2][1024];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], "%s/%s", scratch, name);
    return buf[which];
}

static int setup_scratch(void **state)
{
    (void)state;
    snprintf(scratch, sizeof scratch, "%s/test_predict.%d", SLOPE_BINARY_DIR, (int)getpid());
    return mkdir(scratch, 0755) == 0 ? 0 : -1;
}

static int teardown_scratch(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 16);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void expect_error(const sl_error *err, sl_status st, const char *a, const char *b)
{
    if (err->status != st || (a && !strstr(err->message, a)) || (b && !strstr(err->message, b)))
        fail_msg("expected %s with \"%s\" and \"%s\", got %s \"%s\"", sl_status_name(st),
                 a ? a : "", b ? b : "", sl_status_name(err->status), err->message);
}

/* ---- writing PNGs with libpng ------------------------------------------------------------ */

typedef struct png_out {
    uint32_t w, h;
    int depth, ctype, interlace;
    const uint8_t *data; /* h rows of rowbytes, as PNG stores them (16-bit big-endian) */
    size_t rowbytes;
    const png_color *palette;
    int n_palette;
    const png_byte *trns;
    int n_trns;
} png_out;

static void write_png(const char *path, const png_out *o)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rows = malloc(o->h * sizeof *rows);
    for (uint32_t y = 0; y < o->h; y++)
        rows[y] = (png_bytep)(uintptr_t)(o->data + y * o->rowbytes);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng could not write %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, o->w, o->h, o->depth, o->ctype,
                 o->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (o->palette)
        png_set_PLTE(png, info, o->palette, o->n_palette);
    if (o->trns)
        png_set_tRNS(png, info, o->trns, o->n_trns, NULL);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    assert_int_equal(fclose(f), 0);
}

/* The pixels of the 4-high, 3-wide grey test image, and what a reader must make of them. */
static const uint8_t grey[12] = {0, 11, 22, 33, 44, 55, 66, 77, 128, 200, 254, 255};

static sl_dataset *load_one(const char *path, int channels, int64_t h, int64_t w,
                            sl_error *err)
{
    const char *paths[1] = {path};
    return sl_dataset_load_images(paths, 1, channels, h, w, err);
}

/* Loads path as [channels, 4, 3] and compares its stored bytes with want. */
static void expect_pixels(const char *path, int channels, const uint8_t *want)
{
    sl_error err = {0};
    sl_dataset *ds = load_one(path, channels, 4, 3, &err);
    if (!ds)
        fail_msg("%s: %s", path, err.message);
    int64_t shape[3];
    assert_int_equal(sl_dataset_shape(ds, shape), 3);
    assert_int_equal(shape[0], channels);
    assert_int_equal(shape[1], 4);
    assert_int_equal(shape[2], 3);
    assert_int_equal(sl_dataset_type(ds), SL_DATA_U8);
    assert_int_equal(sl_dataset_label(ds, 0), 0);
    const uint8_t *got = sl_dataset_storage(ds);
    for (int i = 0; i < channels * 12; i++)
        if (got[i] != want[i])
            fail_msg("%s: byte %d is %d, expected %d", path, i, got[i], want[i]);
    sl_dataset_free(ds);
}

static void test_png_grey_8_and_16(void **state)
{
    (void)state;
    png_out o = {.w = 3, .h = 4, .depth = 8, .ctype = PNG_COLOR_TYPE_GRAY, .data = grey,
                 .rowbytes = 3};
    write_png(tmp("g8.png"), &o);
    expect_pixels(tmp("g8.png"), 1, grey);
    uint8_t three[36];
    for (int c = 0; c < 3; c++)
        memcpy(three + 12 * c, grey, 12);
    expect_pixels(tmp("g8.png"), 3, three); /* grey in every plane */
    o.interlace = 1;
    write_png(tmp("g8i.png"), &o);
    expect_pixels(tmp("g8i.png"), 1, grey);

    /* 16 bits: round(v * 255 / 65535). */
    uint16_t v16[12] = {0, 128, 129, 256, 257, 32767, 32768, 65279, 65280, 65407, 65408, 65535};
    uint8_t data[24], want[12];
    for (int i = 0; i < 12; i++) {
        data[2 * i] = (uint8_t)(v16[i] >> 8);
        data[2 * i + 1] = (uint8_t)v16[i];
        want[i] = (uint8_t)floor(v16[i] * 255.0 / 65535.0 + 0.5);
    }
    png_out o16 = {.w = 3, .h = 4, .depth = 16, .ctype = PNG_COLOR_TYPE_GRAY, .data = data,
                   .rowbytes = 6};
    write_png(tmp("g16.png"), &o16);
    expect_pixels(tmp("g16.png"), 1, want);
    assert_int_equal(want[1], 0);   /* 128 * 255 / 65535 = 0.498 */
    assert_int_equal(want[2], 1);   /* 129: 0.502 */
    assert_int_equal(want[11], 255);

    /* 1-bit grey: 0 and 255. */
    uint8_t bits[4] = {0xA0, 0x40, 0xE0, 0x00}; /* rows 101, 010, 111, 000 */
    uint8_t want1[12] = {255, 0, 255, 0, 255, 0, 255, 255, 255, 0, 0, 0};
    png_out o1 = {.w = 3, .h = 4, .depth = 1, .ctype = PNG_COLOR_TYPE_GRAY, .data = bits,
                  .rowbytes = 1};
    write_png(tmp("g1.png"), &o1);
    expect_pixels(tmp("g1.png"), 1, want1);
}

static void test_png_colour(void **state)
{
    (void)state;
    uint8_t rgb[36], rgba16[96], ga[24], want_grey[12], want_rgb[36];
    for (int i = 0; i < 12; i++) {
        uint8_t r = (uint8_t)(i * 20), g = (uint8_t)(255 - i * 7), b = (uint8_t)(i * i);
        rgb[3 * i] = r, rgb[3 * i + 1] = g, rgb[3 * i + 2] = b;
        want_grey[i] = (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000);
        want_rgb[i] = r, want_rgb[12 + i] = g, want_rgb[24 + i] = b;
        uint16_t c16[4] = {(uint16_t)(r * 257), (uint16_t)(g * 257), (uint16_t)(b * 257), 1234};
        for (int k = 0; k < 4; k++) {
            rgba16[8 * i + 2 * k] = (uint8_t)(c16[k] >> 8);
            rgba16[8 * i + 2 * k + 1] = (uint8_t)c16[k];
        }
        ga[2 * i] = grey[i], ga[2 * i + 1] = (uint8_t)(i * 10); /* alpha is dropped */
    }
    png_out o = {.w = 3, .h = 4, .depth = 8, .ctype = PNG_COLOR_TYPE_RGB, .data = rgb,
                 .rowbytes = 9};
    write_png(tmp("rgb.png"), &o);
    expect_pixels(tmp("rgb.png"), 1, want_grey);
    expect_pixels(tmp("rgb.png"), 3, want_rgb);
    png_out o16 = {.w = 3, .h = 4, .depth = 16, .ctype = PNG_COLOR_TYPE_RGB_ALPHA,
                   .data = rgba16, .rowbytes = 24};
    write_png(tmp("rgba16.png"), &o16);
    expect_pixels(tmp("rgba16.png"), 1, want_grey); /* v * 257 is v again in 8 bits */
    expect_pixels(tmp("rgba16.png"), 3, want_rgb);
    png_out oga = {.w = 3, .h = 4, .depth = 8, .ctype = PNG_COLOR_TYPE_GRAY_ALPHA, .data = ga,
                   .rowbytes = 6};
    write_png(tmp("ga.png"), &oga);
    expect_pixels(tmp("ga.png"), 1, grey);

    /* A 4-bit palette with transparency: the colours, the alpha dropped. */
    png_color pal[12];
    png_byte trns[12];
    uint8_t idx[8];
    for (int i = 0; i < 12; i++) {
        pal[i] = (png_color){rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]};
        trns[i] = (png_byte)(i * 20);
    }
    for (int y = 0; y < 4; y++) { /* pixel (y, x) is entry 3y + x, two a byte */
        idx[2 * y] = (uint8_t)((3 * y) << 4 | (3 * y + 1));
        idx[2 * y + 1] = (uint8_t)((3 * y + 2) << 4);
    }
    png_out op = {.w = 3, .h = 4, .depth = 4, .ctype = PNG_COLOR_TYPE_PALETTE, .data = idx,
                  .rowbytes = 2, .palette = pal, .n_palette = 12, .trns = trns, .n_trns = 12};
    write_png(tmp("pal.png"), &op);
    expect_pixels(tmp("pal.png"), 1, want_grey);
    expect_pixels(tmp("pal.png"), 3, want_rgb);
}

/* ---- bad PNGs ---------------------------------------------------------------------------- */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A PNG of a signature, an IHDR of w x h grey 8-bit, an IDAT of one zlib-compressed row
 * byte when idat is set, and IEND, with correct CRCs. */
static size_t tiny_header_png(unsigned char *out, uint32_t w, uint32_t h, int idat)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, sig, 8);
    put_be32(out + 8, 13);
    memcpy(out + 12, "IHDR", 4);
    put_be32(out + 16, w);
    put_be32(out + 20, h);
    memcpy(out + 24, "\x08\x00\x00\x00\x00", 5);
    put_be32(out + 29, (uint32_t)crc32(0, out + 12, 17));
    size_t at = 33;
    if (idat) {
        uLongf len = 32;
        const Bytef zero = 0;
        assert_int_equal(compress(out + at + 8, &len, &zero, 1), Z_OK);
        put_be32(out + at, (uint32_t)len);
        memcpy(out + at + 4, "IDAT", 4);
        put_be32(out + at + 8 + len, (uint32_t)crc32(0, out + at + 4, 4 + (uInt)len));
        at += 12 + len;
    }
    put_be32(out + at, 0);
    memcpy(out + at + 4, "IEND", 4);
    put_be32(out + at + 8, (uint32_t)crc32(0, out + at + 4, 4));
    return at + 12;
}

static void test_png_refused(void **state)
{
    (void)state;
    sl_error err = {0};
    png_out o = {.w = 3, .h = 4, .depth = 8, .ctype = PNG_COLOR_TYPE_GRAY, .data = grey,
                 .rowbytes = 3};
    write_png(tmp("ok.png"), &o);
    /* The wrong size, either way round: both shapes named. */
    assert_null(load_one(tmp("ok.png"), 1, 3, 4, &err));
    expect_error(&err, SL_ERR_SHAPE, "ok.png: an image 3 pixels wide and 4 high (1 channel)",
                 "the model's input [C, H, W] is [1, 3, 4]");
    unsigned char huge[128];
    write_bytes(tmp("huge.png"), huge, tiny_header_png(huge, 100000, 100000, 1));
    assert_null(load_one(tmp("huge.png"), 1, 28, 28, &err));
    expect_error(&err, SL_ERR_SHAPE, "huge.png: an image 100000 pixels wide and 100000 high",
                 "[1, 28, 28]");
    write_bytes(tmp("zero.png"), huge, tiny_header_png(huge, 0, 4, 1));
    assert_null(load_one(tmp("zero.png"), 1, 4, 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "zero.png: ", NULL);
    /* No image data at all (IHDR then IEND). */
    write_bytes(tmp("noidat.png"), huge, tiny_header_png(huge, 3, 4, 0));
    assert_null(load_one(tmp("noidat.png"), 1, 4, 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "noidat.png: ", NULL);
    /* Bad magic, and not an image at all. */
    size_t n = 0;
    unsigned char *bytes = read_all(tmp("ok.png"), &n);
    bytes[3] = 'X';
    write_bytes(tmp("magic.png"), bytes, n);
    assert_null(load_one(tmp("magic.png"), 1, 4, 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "magic.png: not a PNG or PGM image", NULL);
    write_bytes(tmp("text.png"), "hello, world\n", 13);
    assert_null(load_one(tmp("text.png"), 1, 4, 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "text.png: not a PNG or PGM image", NULL);
    assert_null(load_one(scratch, 1, 4, 3, &err)); /* a directory */
    expect_error(&err, SL_ERR_READ, "is a directory, not a regular file", NULL);
    assert_null(load_one(tmp("missing.png"), 1, 4, 3, &err));
    expect_error(&err, SL_ERR_READ, "missing.png: ", NULL);
    free(bytes);
}

/* Cut at every length, and with each byte flipped: refused (or, for a flip libpng can
 * tell is harmless, read), never a crash or a leak (ASan, valgrind). */
static void test_png_truncated_and_flipped(void **state)
{
    (void)state;
    png_out o = {.w = 3, .h = 4, .depth = 8, .ctype = PNG_COLOR_TYPE_GRAY, .data = grey,
                 .rowbytes = 3};
    write_png(tmp("whole.png"), &o);
    size_t n = 0;
    unsigned char *bytes = read_all(tmp("whole.png"), &n);
    assert_true(n > 50);
    for (size_t len = 0; len < n; len++) {
        sl_error err = {0};
        write_bytes(tmp("cut.png"), bytes, len);
        sl_dataset *ds = load_one(tmp("cut.png"), 1, 4, 3, &err);
        if (ds)
            fail_msg("a PNG cut to %zu of %zu bytes was read", len, n);
        expect_error(&err, SL_ERR_FORMAT, "cut.png: ", NULL);
        if (len > 33 && !strstr(err.message, "truncated")) /* past the IHDR: our reader's EOF */
            fail_msg("cut to %zu: %s", len, err.message);
    }
    for (size_t at = 0; at < n; at++) {
        sl_error err = {0};
        bytes[at] ^= 0x10;
        write_bytes(tmp("flip.png"), bytes, n);
        bytes[at] ^= 0x10;
        sl_dataset *ds = load_one(tmp("flip.png"), 1, 4, 3, &err);
        if (!ds && err.status != SL_ERR_FORMAT && err.status != SL_ERR_SHAPE)
            fail_msg("flip at %zu: %s %s", at, sl_status_name(err.status), err.message);
        if (!ds && !strstr(err.message, "flip.png: "))
            fail_msg("flip at %zu: the message does not name the file: %s", at, err.message);
        sl_dataset_free(ds);
    }
    free(bytes);
}

static void test_images_budget_and_several(void **state)
{
    (void)state;
    sl_error err = {0};
    png_out o = {.w = 3, .h = 4, .depth = 8, .ctype = PNG_COLOR_TYPE_GRAY, .data = grey,
                 .rowbytes = 3};
    write_png(tmp("a.png"), &o);
    const char *pgm = "P5\n3 4\n255\n";
    unsigned char file[64];
    memcpy(file, pgm, strlen(pgm));
    for (int i = 0; i < 12; i++)
        file[strlen(pgm) + (size_t)i] = (unsigned char)(255 - grey[i]);
    write_bytes(tmp("b.pgm"), file, strlen(pgm) + 12);
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s", tmp("a.png"));
    snprintf(b, sizeof b, "%s", tmp("b.pgm"));
    const char *paths[3] = {a, b, a};
    sl_dataset *ds = sl_dataset_load_images(paths, 3, 1, 4, 3, &err);
    if (!ds)
        fail_msg("%s", err.message);
    assert_int_equal(sl_dataset_count(ds), 3);
    const uint8_t *px = sl_dataset_storage(ds);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(px[i], grey[i]);
        assert_int_equal(px[12 + i], 255 - grey[i]);
        assert_int_equal(px[24 + i], grey[i]);
    }
    sl_dataset_free(ds);
    /* 3 images of 12 bytes and their labels, plus a PNG's rows: past 64 bytes. */
    sl_data_set_memory_budget(64);
    assert_null(sl_dataset_load_images(paths, 3, 1, 4, 3, &err));
    sl_data_set_memory_budget(0);
    expect_error(&err, SL_ERR_NOMEM, "past the memory budget of 64 bytes", NULL);
    /* A bad one among good ones: named. */
    const char *bad[2] = {a, scratch};
    assert_null(sl_dataset_load_images(bad, 2, 1, 4, 3, &err));
    expect_error(&err, SL_ERR_READ, scratch, "not a regular file");
}

/* ---- PGM ------------------------------------------------------------------------------- */

static void write_text(const char *name, const char *text)
{
    write_bytes(tmp(name), text, strlen(text));
}

static void test_pgm(void **state)
{
    (void)state;
    sl_error err = {0};
    char text[512];
    int used = snprintf(text, sizeof text, "P2\n# made by test_predict\n3 # width\n4\n255\n");
    for (int i = 0; i < 12; i++)
        used += snprintf(text + used, sizeof text - (size_t)used, "%d%s", grey[i],
                         i % 3 == 2 ? "\n" : " ");
    write_text("p2.pgm", text);
    expect_pixels(tmp("p2.pgm"), 1, grey);
    /* maxval 15: round(v * 255 / 15); two-byte samples above maxval 255. */
    write_text("p2-15.pgm", "P2 3 4 15 0 1 2 3 4 5 6 7 8 13 14 15");
    uint8_t want15[12] = {0, 17, 34, 51, 68, 85, 102, 119, 136, 221, 238, 255};
    expect_pixels(tmp("p2-15.pgm"), 1, want15);
    unsigned char p5[64] = "P5 3 4 65535\n";
    size_t h = strlen((char *)p5);
    for (int i = 0; i < 12; i++)
        p5[h + 2 * (size_t)i] = grey[i], p5[h + 2 * (size_t)i + 1] = grey[i];
    write_bytes(tmp("p5-16.pgm"), p5, h + 24);
    expect_pixels(tmp("p5-16.pgm"), 1, grey); /* v * 257 */
    uint8_t three[36];
    for (int c = 0; c < 3; c++)
        memcpy(three + 12 * c, grey, 12);
    expect_pixels(tmp("p5-16.pgm"), 3, three);

    struct { const char *name, *text, *message; sl_status st; } bad[] = {
        {"short.pgm", "P2 3 4 255 1 2 3 4 5", "short.pgm: the file ends after 5 of 12 pixels", SL_ERR_FORMAT},
        {"above.pgm", "P2 3 4 9 1 2 3 4 5 6 7 8 9 10 1 2", "above.pgm: pixel 10 of 12 is above the maxval 9", SL_ERR_FORMAT},
        {"word.pgm", "P2 3 4 9 1 2 x", "word.pgm: pixel 3 of 12 is not a number", SL_ERR_FORMAT},
        {"after.pgm", "P2 3 4 9 1 2 3 4 5 6 7 8 9 1 2 3 4", "after.pgm: data after the 3x4 image", SL_ERR_FORMAT},
        {"maxval.pgm", "P2 3 4 70000 1", "maxval.pgm: PGM header: maxval 70000 is not in 1..65535", SL_ERR_FORMAT},
        {"zero.pgm", "P2 0 4 255 1", "zero.pgm: PGM header: width 0 is not in", SL_ERR_FORMAT},
        {"header.pgm", "P2 3", "header.pgm: PGM header: the file ends inside it", SL_ERR_FORMAT},
        {"letters.pgm", "P5 three 4 255\n", "letters.pgm: PGM header: expected the width", SL_ERR_FORMAT},
        {"glued.pgm", "P53 4 255\n", "glued.pgm: PGM header: expected whitespace after \"P5\"", SL_ERR_FORMAT},
        {"nospace.pgm", "P5 3 4 255x", "nospace.pgm: PGM header: expected whitespace after the maxval", SL_ERR_FORMAT},
        {"big.pgm", "P5 99999 99999 255\n", "big.pgm: an image 99999 pixels wide and 99999 high", SL_ERR_SHAPE},
        {"cut.pgm", "P5 3 4 255\nabc", "cut.pgm: the file ends after 3 of 12 pixels (truncated)", SL_ERR_FORMAT},
        {"tail.pgm", "P5 3 4 255\nabcdefghijkl\n", "tail.pgm: data after the 3x4 image", SL_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(bad[i].name, bad[i].text);
        assert_null(load_one(tmp(bad[i].name), 1, 4, 3, &err));
        expect_error(&err, bad[i].st, bad[i].message, NULL);
    }
    /* A 16-bit P5 cut inside a sample. */
    write_bytes(tmp("half.pgm"), p5, h + 23);
    assert_null(load_one(tmp("half.pgm"), 1, 4, 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "half.pgm: the file ends after 11 of 12 pixels", NULL);
}

/* ---- the model, its inputs and its predictions ------------------------------------------ */

/* The tiny IDX fixture's config: 5 images of 4x3, 3 classes, standardized. */
static const char *tiny_config(const char *input)
{
    static char json[4096];
    char images[1024], labels[1024]; /* tu_source_path's buffer is static */
    snprintf(images, sizeof images, "%s", tu_source_path("datasets/fixtures/tiny-images.idx"));
    snprintf(labels, sizeof labels, "%s", tu_source_path("datasets/fixtures/tiny-labels.idx"));
    snprintf(json, sizeof json,
             "{ \"name\": \"tiny\", \"seed\": 3, \"data\": { \"train\": { \"images\": \"%s\", "
             "\"labels\": \"%s\" }, \"classes\": 3, \"normalize\": \"standardize\", "
             "\"validation\": 0.0 }, \"model\": { \"input\": %s, \"layers\": [ "
             "{ \"type\": \"flatten\" }, { \"type\": \"linear\", \"out\": 8 }, "
             "{ \"type\": \"leaky_relu\" }, { \"type\": \"linear\", \"out\": 3 } ] }, "
             "\"optimizer\": { \"type\": \"sgd\", \"lr\": 0.1 }, \"train\": { \"epochs\": 1, "
             "\"batch_size\": 2 }, \"stats\": { \"enabled\": false } }",
             images, labels, input);
    return json;
}

/* The config's model with the data's normalisation, and the data (normalised). */
static sl_model *tiny_model(const char *input, sl_config **cfg, sl_run_data *d)
{
    sl_error err = {0};
    *cfg = sl_config_load_string(tiny_config(input), "tiny.json", &err);
    if (!*cfg)
        fail_msg("%s", err.message);
    if (sl_run_data_open(*cfg, NULL, d, &err) != SL_OK)
        fail_msg("%s", err.message);
    sl_model *m = sl_run_build_model(*cfg, &err);
    assert_non_null(m);
    assert_int_equal(sl_model_set_input_normalize(m, d->normalize, d->mean, d->std, &err), SL_OK);
    return m;
}

/* The confusion matrix of predicted classes against ds's labels. */
static void confusion_of(const sl_dataset *ds, const int32_t *cls, int64_t k, int64_t *conf)
{
    memset(conf, 0, (size_t)(k * k) * sizeof *conf);
    for (int64_t i = 0; i < sl_dataset_count(ds); i++)
        conf[sl_dataset_label(ds, i) * k + cls[i]]++;
}

static void test_predict_equals_evaluate(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_config *cfg;
    sl_run_data d = {0};
    sl_model *m = tiny_model("[1, 4, 3]", &cfg, &d);
    assert_int_equal(d.normalize, SL_NORMALIZE_STANDARDIZE);
    char images[1024];
    snprintf(images, sizeof images, "%s", tu_source_path("datasets/fixtures/tiny-images.idx"));
    sl_dataset *raw = sl_dataset_load_idx(images, tu_source_path("datasets/fixtures/tiny-labels.idx"),
                                          3, &err);
    assert_non_null(raw);
    int64_t conf[9], mine[9];
    sl_eval_result res = {.confusion = conf};
    assert_int_equal(sl_evaluate(m, d.train, 2, SL_LOSS_CROSS_ENTROPY, &res, &err), SL_OK);
    float logits[15], ref[15], x[60];
    int32_t cls[5], ref_cls[5];
    for (int64_t batch = 1; batch <= 6; batch++) {
        /* Raw data, the model's normalisation: what sl_evaluate saw on normalised data. */
        assert_int_equal(sl_predict_dataset(m, raw, batch, logits, cls, &err), SL_OK);
        confusion_of(raw, cls, 3, mine);
        assert_memory_equal(mine, conf, sizeof conf);
        /* The handle's own normalisation is ignored: the normalised one gives the same. */
        assert_int_equal(sl_predict_dataset(m, d.train, batch, ref, ref_cls, &err), SL_OK);
        assert_memory_equal(ref_cls, cls, sizeof cls);
        tu_assert_close(ref, logits, 15, 0, 0, "normalised handle");
    }
    /* sl_predict on the raw values gives the same logits. */
    assert_int_equal(sl_dataset_read(raw, 0, 5, x, NULL, &err), SL_OK);
    assert_int_equal(sl_predict(m, x, 5, ref, ref_cls, &err), SL_OK);
    tu_assert_close(logits, ref, 15, 1e-6, 1e-5, "sl_predict");
    assert_memory_equal(ref_cls, cls, sizeof cls);
    /* Either output may be left out. */
    assert_int_equal(sl_predict_dataset(m, raw, 2, NULL, ref_cls, &err), SL_OK);
    assert_memory_equal(ref_cls, cls, sizeof cls);
    assert_int_equal(sl_predict_dataset(m, raw, 2, ref, NULL, &err), SL_OK);
    /* Samples of another shape. */
    int64_t other[3] = {1, 3, 4};
    assert_int_equal(sl_dataset_reshape(raw, 3, other, &err), SL_OK);
    assert_int_equal(sl_predict_dataset(m, raw, 2, logits, cls, &err), SL_ERR_SHAPE);
    expect_error(&err, SL_ERR_SHAPE, "[1, 3, 4] do not fit the model's input [1, 4, 3]", NULL);
    sl_dataset_free(raw);
    sl_model_free(m);
    sl_run_data_close(&d);
    sl_config_free(cfg);
}

static void test_predict_fashion_mnist(void **state)
{
    (void)state;
    if (access(FASHION_DIR "/t10k-images-idx3-ubyte.gz", R_OK) != 0)
        skip();
    sl_error err = {0};
    sl_config *cfg = sl_config_load_file(tu_source_path("models/fashion_mlp.json"), &err);
    assert_non_null(cfg);
    sl_model *m = sl_run_build_model(cfg, &err); /* scale01, from the config */
    assert_non_null(m);
    assert_int_equal(sl_model_input_normalize(m, NULL, NULL), SL_NORMALIZE_SCALE01);
    sl_dataset *all = sl_dataset_open(tu_source_path("datasets"), "fashion-mnist", "test", &err);
    assert_non_null(all);
    /* 64 images in batches of 24 (the last one short): enough to tell, and quick under
     * valgrind, where the forward passes are what takes the time. */
    sl_dataset *ds = sl_dataset_subset(all, 64, &err);
    assert_non_null(ds);
    int64_t conf[100], mine[100];
    float *logits = malloc(64 * 10 * sizeof *logits);
    int32_t cls[64];
    assert_int_equal(sl_predict_dataset(m, ds, 24, logits, cls, &err), SL_OK); /* raw */
    assert_int_equal(sl_dataset_set_normalize(ds, SL_NORMALIZE_SCALE01, 0, 0, &err), SL_OK);
    sl_eval_result res = {.confusion = conf};
    assert_int_equal(sl_evaluate(m, ds, 24, SL_LOSS_CROSS_ENTROPY, &res, &err), SL_OK);
    confusion_of(ds, cls, 10, mine);
    assert_memory_equal(mine, conf, sizeof conf);
    free(logits);
    sl_dataset_free(ds);
    sl_dataset_free(all);
    sl_model_free(m);
    sl_config_free(cfg);
}

/* A checkpoint of m with the config as metadata (as `slope train` writes), or without. */
static void save_checkpoint(const sl_model *m, const sl_config *cfg, const char *path)
{
    sl_error err = {0};
    char *json = cfg ? sl_config_to_json(cfg) : NULL;
    sl_kv meta[1] = {{"config", json}};
    assert_int_equal(sl_model_save(m, path, meta, json ? 1 : 0, &err), SL_OK);
    free(json);
}

static void test_predictor(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_config *cfg = sl_config_load_file(tu_source_path("models/fashion_mlp.json"), &err);
    assert_non_null(cfg);
    sl_model *m = sl_run_build_model(cfg, &err);
    assert_non_null(m);
    save_checkpoint(m, cfg, tmp("fmlp.safetensors"));
    save_checkpoint(m, NULL, tmp("bare.safetensors"));
    /* The descriptor gives the names; the data files are not needed. */
    sl_predictor *p = sl_predictor_open(tmp("fmlp.safetensors"), NULL, tu_source_path("datasets"),
                                        &err);
    if (!p)
        fail_msg("%s", err.message);
    assert_int_equal(sl_predictor_classes(p), 10);
    assert_string_equal(sl_predictor_class_name(p, 0), "T-shirt/top");
    assert_string_equal(sl_predictor_class_name(p, 9), "Ankle boot");
    assert_null(sl_predictor_class_name(p, 10));
    assert_null(sl_predictor_class_name(p, -1));
    assert_int_equal(sl_model_input_normalize(sl_predictor_model(p), NULL, NULL),
                     SL_NORMALIZE_SCALE01);
    /* The lines slope predict prints: named by file when there is one a prediction. */
    float probs[20] = {0};
    probs[9] = 0.75f, probs[7] = 0.25f, probs[10] = 1.0f;
    int32_t cls[2] = {9, 0};
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    const char *names[2] = {"a.png", "b.png"};
    assert_int_equal(sl_predict_print(mem, p, names, 2, probs, cls, 2, 2, &err), SL_OK);
    assert_int_equal(sl_predict_print(mem, p, names, 0, probs, cls, 1, 1, &err), SL_OK);
    fclose(mem);
    assert_string_equal(text, "a.png: class 9 (Ankle boot)  Ankle boot=0.7500 Sneaker=0.2500\n"
                              "b.png: class 0 (T-shirt/top)  T-shirt/top=1.0000 Trouser=0.0000\n"
                              "0: class 9 (Ankle boot)  Ankle boot=0.7500\n");
    free(text);
    sl_predictor_free(p);
    /* No descriptor there: no names, the predictor all the same. */
    p = sl_predictor_open(tmp("fmlp.safetensors"), NULL, scratch, &err);
    assert_non_null(p);
    assert_null(sl_predictor_class_name(p, 0));
    sl_predictor_free(p);
    /* A checkpoint without its config: refused unless one is given. */
    assert_null(sl_predictor_open(tmp("bare.safetensors"), NULL, NULL, &err));
    expect_error(&err, SL_ERR_FORMAT, "bare.safetensors: no \"config\" metadata", NULL);
    char datasets[1024];
    snprintf(datasets, sizeof datasets, "%s", tu_source_path("datasets"));
    p = sl_predictor_open(tmp("bare.safetensors"), tu_source_path("models/fashion_mlp.json"),
                          datasets, &err);
    assert_non_null(p);
    assert_string_equal(sl_predictor_class_name(p, 9), "Ankle boot");
    sl_predictor_free(p);
    assert_null(sl_predictor_open(tmp("none.safetensors"), NULL, NULL, &err));
    expect_error(&err, SL_ERR_READ, "none.safetensors", NULL);
    sl_model_free(m);
    sl_config_free(cfg);
}

static sl_dataset *inputs(const sl_model *m, const char *a, const char *b, sl_error *err)
{
    const char *paths[2] = {a, b};
    return sl_predict_load_inputs(m, paths, b ? 2 : 1, err);
}

static void test_inputs(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_config *cfg;
    sl_run_data d = {0};
    sl_model *m = tiny_model("[1, 4, 3]", &cfg, &d);
    char idx[1024];
    snprintf(idx, sizeof idx, "%s", tu_source_path("datasets/fixtures/tiny-images.idx"));
    char gz[1024];
    snprintf(gz, sizeof gz, "%s", tu_source_path("datasets/fixtures/tiny-images.idx.gz"));
    float want[15], got[15];
    int32_t cls[5];
    sl_dataset *ds = inputs(m, idx, NULL, &err);
    assert_non_null(ds);
    assert_int_equal(sl_predict_dataset(m, ds, 4, want, cls, &err), SL_OK);
    sl_dataset_free(ds);
    ds = inputs(m, gz, NULL, &err);
    assert_non_null(ds);
    assert_int_equal(sl_predict_dataset(m, ds, 4, got, cls, &err), SL_OK);
    tu_assert_close(got, want, 15, 0, 0, "IDX .gz");
    sl_dataset_free(ds);

    /* The same pixels as CSV: 12 columns, or a label and 12, with a header or not. */
    FILE *f = fopen(tmp("rows.csv"), "w"), *g = fopen(tmp("labelled.csv"), "w");
    sl_dataset *pix = sl_dataset_load_idx(idx, tu_source_path("datasets/fixtures/tiny-labels.idx"),
                                          3, &err);
    const uint8_t *px = sl_dataset_storage(pix);
    fprintf(g, "label,a,b,c,d,e,f,g,h,i,j,k,l\n");
    for (int i = 0; i < 5; i++) {
        fprintf(g, "%d", (int)sl_dataset_label(pix, i));
        for (int j = 0; j < 12; j++) {
            fprintf(f, "%s%d", j ? "," : "", px[12 * i + j]);
            fprintf(g, ",%d", px[12 * i + j]);
        }
        fprintf(f, "\n");
        fprintf(g, "\n");
    }
    fclose(f);
    fclose(g);
    const char *csvs[2] = {"rows.csv", "labelled.csv"};
    for (int c = 0; c < 2; c++) {
        ds = inputs(m, tmp(csvs[c]), NULL, &err);
        if (!ds)
            fail_msg("%s: %s", csvs[c], err.message);
        assert_int_equal(sl_dataset_sample_size(ds), 12);
        assert_int_equal(sl_dataset_label(ds, 0), c ? sl_dataset_label(pix, 0) : 0);
        assert_int_equal(sl_predict_dataset(m, ds, 4, got, cls, &err), SL_OK);
        tu_assert_close(got, want, 15, 0, 0, csvs[c]);
        sl_dataset_free(ds);
    }
    write_text("narrow.csv", "1,2,3\n4,5,6\n");
    assert_null(inputs(m, tmp("narrow.csv"), NULL, &err));
    expect_error(&err, SL_ERR_SHAPE, "narrow.csv: rows of 3 values, but the model takes 12",
                 "13 values");
    write_text("neg.csv", "-1,1,2,3,4,5,6,7,8,9,10,11,12\n"); /* 13 wide: the first a label */
    assert_null(inputs(m, tmp("neg.csv"), NULL, &err));
    expect_error(&err, SL_ERR_FORMAT, "neg.csv:1:1: expected a non-negative integer label",
                 NULL);

    /* Images, and the kinds that cannot be mixed. */
    png_out o = {.w = 3, .h = 4, .depth = 8, .ctype = PNG_COLOR_TYPE_GRAY, .data = px,
                 .rowbytes = 3};
    write_png(tmp("img0.png"), &o);
    char img[1024];
    snprintf(img, sizeof img, "%s", tmp("img0.png"));
    ds = inputs(m, img, img, &err);
    assert_non_null(ds);
    assert_int_equal(sl_predict_dataset(m, ds, 4, got, cls, &err), SL_OK);
    /* A batch of 2, not of 4: the same logits up to the BLAS's rounding. */
    tu_assert_close(got, want, 3, 1e-6, 1e-5, "PNG 0");
    tu_assert_close(got + 3, want, 3, 1e-6, 1e-5, "PNG 0 again");
    sl_dataset_free(ds);
    assert_null(inputs(m, idx, img, &err));
    expect_error(&err, SL_ERR_INVALID, "tiny-images.idx: IDX files are read one at a time", NULL);
    assert_null(inputs(m, img, tmp("rows.csv"), &err));
    expect_error(&err, SL_ERR_INVALID, "rows.csv: CSV files are read one at a time", NULL);
    write_text("fake.png", "1,2,3\n");
    assert_null(inputs(m, tmp("fake.png"), NULL, &err)); /* named .png: an image, a bad one */
    expect_error(&err, SL_ERR_FORMAT, "fake.png: not a PNG or PGM image", NULL);
    assert_null(inputs(m, tu_source_path("datasets/fixtures/tiny-labels.idx"), NULL, &err));
    expect_error(&err, SL_ERR_FORMAT, "tiny-labels.idx: magic number 0x00000801", NULL);
    sl_model_free(m);
    sl_run_data_close(&d);
    sl_config_free(cfg);

    /* A flat model: IDX images read row-major, images refused. */
    m = tiny_model("[12]", &cfg, &d);
    ds = inputs(m, idx, NULL, &err);
    assert_non_null(ds);
    int64_t shape[3];
    assert_int_equal(sl_dataset_shape(ds, shape), 1);
    assert_int_equal(shape[0], 12);
    sl_dataset_free(ds);
    assert_null(inputs(m, img, NULL, &err));
    expect_error(&err, SL_ERR_SHAPE, "img0.png: an image, but the model's input [12] is not",
                 NULL);
    sl_model_free(m);
    sl_run_data_close(&d);
    sl_config_free(cfg);
    /* A 2-D model [4, 3] takes images as one channel. */
    m = tiny_model("[4, 3]", &cfg, &d);
    ds = inputs(m, img, NULL, &err);
    assert_non_null(ds);
    assert_int_equal(sl_dataset_shape(ds, shape), 2);
    sl_dataset_free(ds);
    assert_null(inputs(m, idx, NULL, &err)); /* [1, 4, 3] is not [4, 3] */
    expect_error(&err, SL_ERR_SHAPE, "do not fit the model's input [4, 3]", NULL);
    sl_model_free(m);
    sl_run_data_close(&d);
    sl_config_free(cfg);
    sl_dataset_free(pix);
}

/* ---- softmax, top, CSV ------------------------------------------------------------------ */

static void test_softmax_top_csv(void **state)
{
    (void)state;
    float x[6] = {1000.0f, 1001.0f, 999.0f, -3.0f, -3.0f, -3.0f}, p[6];
    sl_softmax_rows(x, p, 2, 3);
    double e = exp(1.0), s = 1.0 + e + 1.0 / e;
    assert_float_equal(p[0], 1.0 / s, 1e-6);
    assert_float_equal(p[1], e / s, 1e-6);
    assert_float_equal(p[3], 1.0 / 3.0, 1e-7);
    assert_float_equal(p[0] + p[1] + p[2], 1.0, 1e-6);
    sl_softmax_rows(x, x, 2, 3); /* in place */
    assert_memory_equal(x, p, sizeof p);

    float sc[6] = {0.1f, 0.5f, 0.2f, 0.5f, -1.0f, 0.3f};
    int32_t order[8];
    assert_int_equal(sl_predict_top(sc, 6, order, 8), 6); /* cut to k */
    int32_t want[6] = {1, 3, 5, 2, 0, 4};                  /* ties: the lower index first */
    assert_memory_equal(order, want, sizeof want);
    assert_int_equal(sl_predict_top(sc, 6, order, 2), 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 3);
    assert_int_equal(sl_predict_top(sc, 6, order, 0), 0);

    sl_error err = {0};
    float v[4] = {0.25f, 0.75f, 0.1f, 1.0f / 3.0f};
    int32_t cls[2] = {1, 1};
    assert_int_equal(sl_predict_write_csv(tmp("p.csv"), v, cls, 2, 2, 0, &err), SL_OK);
    size_t n = 0;
    unsigned char *text = read_all(tmp("p.csv"), &n);
    const char *expect = "index,class,p0,p1\n0,1,0.25,0.75\n1,1,0.100000001,0.333333343\n";
    assert_int_equal(n, strlen(expect));
    assert_memory_equal(text, expect, n);
    free(text);
    assert_int_equal(sl_predict_write_csv(tmp("l.csv"), v, cls, 1, 4, 1, &err), SL_OK);
    text = read_all(tmp("l.csv"), &n);
    assert_true(n > 28 && memcmp(text, "index,class,logit0,logit1,logit2,logit3\n0,1,", 44) == 0);
    free(text);
    assert_int_equal(sl_predict_write_csv(scratch, v, cls, 2, 2, 0, &err), SL_ERR_IO);
    expect_error(&err, SL_ERR_IO, "is a directory", NULL);
    /* Many classes: rows longer than the writer's buffer. */
    float *many = calloc(40000, sizeof *many);
    assert_int_equal(sl_predict_write_csv(tmp("many.csv"), many, cls, 2, 20000, 0, &err), SL_OK);
    struct stat sb;
    assert_int_equal(stat(tmp("many.csv"), &sb), 0);
    assert_true(sb.st_size > 2 * 20000 * 2);
    free(many);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_grey_8_and_16),
        cmocka_unit_test(test_png_colour),
        cmocka_unit_test(test_png_refused),
        cmocka_unit_test(test_png_truncated_and_flipped),
        cmocka_unit_test(test_images_budget_and_several),
        cmocka_unit_test(test_pgm),
        cmocka_unit_test(test_predict_equals_evaluate),
        cmocka_unit_test(test_predict_fashion_mnist),
        cmocka_unit_test(test_predictor),
        cmocka_unit_test(test_inputs),
        cmocka_unit_test(test_softmax_top_csv),
    };
    return cmocka_run_group_tests(tests, setup_scratch, teardown_scratch);
}
