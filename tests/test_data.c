/*
 * test_data.c - the data module: IDX and CSV readers and every error they
 * report, the spiral, views, normalisation, the batch iterator and named
 * datasets.  The fixtures come from tools/make_data_fixtures.py.
 */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "slope/data.h"
#include "slope/io.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static const char *fixture(const char *name)
{
    static char buf[4][4096];
    static int next;
    char *out = buf[next++ % 4];
    snprintf(out, sizeof buf[0], "%s", tu_source_path("datasets/fixtures"));
    strncat(out, "/", sizeof buf[0] - strlen(out) - 1);
    strncat(out, name, sizeof buf[0] - strlen(out) - 1);
    return out;
}

/* A scratch directory for files the tests write (made by setup_scratch). */
static char g_scratch[4096];

/* Writes len bytes of text to <scratch>/name, gzip-compressed when gz; returns the path. */
static const char *scratch_file(const char *name, const char *text, size_t len, int gz)
{
    static char buf[4][4096 + 64];
    static int next;
    char *path = buf[next++ % 4];
    snprintf(path, sizeof buf[0], "%s/%s", g_scratch, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, text, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
    return path;
}

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

/* The error has status and its message holds every one of the NULL-ended parts. */
static void expect_error(const sl_error *err, sl_status status, ...)
{
    if (err->status != status)
        fail_msg("expected %s, got %s: %s", sl_status_name(status), sl_status_name(err->status),
                 err->message);
    va_list ap;
    va_start(ap, status);
    for (const char *part = va_arg(ap, const char *); part; part = va_arg(ap, const char *))
        if (!strstr(err->message, part))
            fail_msg("message \"%s\" lacks \"%s\"", err->message, part);
    va_end(ap);
}

static sl_dataset *load_idx_fixture(const char *images, const char *labels, int classes,
                                    sl_error *err)
{
    sl_error_clear(err);
    return sl_dataset_load_idx(fixture(images), fixture(labels), classes, err);
}

/* ---- IDX ------------------------------------------------------------------ */

static void check_tiny_idx(const sl_dataset *ds)
{
    assert_int_equal(sl_dataset_count(ds), 5);
    int64_t shape[SL_DATA_MAX_DIMS];
    assert_int_equal(sl_dataset_shape(ds, shape), 3);
    assert_int_equal(shape[0], 1);
    assert_int_equal(shape[1], 4);
    assert_int_equal(shape[2], 3);
    assert_int_equal(sl_dataset_type(ds), SL_DATA_U8);
    assert_int_equal(sl_dataset_num_classes(ds), 3);
    const uint8_t *px = sl_dataset_storage(ds);
    const int32_t want_labels[5] = {0, 1, 2, 1, 0};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sl_dataset_label(ds, i), want_labels[i]);
        for (int j = 0; j < 12; j++)
            assert_int_equal(px[i * 12 + j], (37 * i + 11 * j) % 256);
    }
}

static void test_idx_raw_and_gzip_identical(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *raw = load_idx_fixture("tiny-images.idx", "tiny-labels.idx", 3, &err);
    assert_non_null(raw);
    sl_dataset *gz = load_idx_fixture("tiny-images.idx.gz", "tiny-labels.idx.gz", 3, &err);
    assert_non_null(gz);
    check_tiny_idx(raw);
    check_tiny_idx(gz);
    assert_memory_equal(sl_dataset_storage(raw), sl_dataset_storage(gz), 60);
    assert_memory_equal(sl_dataset_storage_labels(raw), sl_dataset_storage_labels(gz),
                        5 * sizeof(int32_t));
    /* raw images with gzip labels mix fine too */
    sl_dataset *mixed = load_idx_fixture("tiny-images.idx", "tiny-labels.idx.gz", 0, &err);
    assert_non_null(mixed);
    assert_int_equal(sl_dataset_num_classes(mixed), 3);
    sl_dataset_free(mixed);
    sl_dataset_free(raw);
    sl_dataset_free(gz);
}

static void test_idx_truncated(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_null(load_idx_fixture("truncated-images.idx", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "truncated-images.idx:",
                 "header says 5 images of 4x3 but the file holds 4.5", NULL);
    assert_null(load_idx_fixture("truncated-images.idx.gz", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "truncated-images.idx.gz:", "holds 4.5", NULL);
    assert_null(load_idx_fixture("tiny-images.idx", "truncated-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "truncated-labels.idx:",
                 "header says 5 labels but the file holds 4", NULL);
}

static void test_idx_cut_gzip_stream(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_null(load_idx_fixture("cut-images.idx.gz", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "cut-images.idx.gz:", "cut short", NULL);
}

static void test_idx_trailing_bytes(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_null(load_idx_fixture("trailing-images.idx", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "trailing-images.idx:", "holds 5.2",
                 "63 data bytes after the header, expected 60", NULL);
}

static void test_idx_lying_header(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_null(load_idx_fixture("lying-images.idx", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "lying-images.idx:",
                 "header says 1000000 images of 4x3 but the file holds 5", NULL);
    assert_null(load_idx_fixture("huge-images.idx", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "huge-images.idx:", "5 images of 70000x3", NULL);
    assert_null(load_idx_fixture("short-header.idx", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "short-header.idx:", "16-byte IDX header", NULL);
}

static void test_idx_wrong_magic(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_null(load_idx_fixture("badmagic-images.idx", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "badmagic-images.idx:", "0x00000d03", "0x00000803", NULL);
    /* files swapped: the labels file has the wrong magic for images */
    assert_null(load_idx_fixture("tiny-labels.idx", "tiny-images.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "tiny-labels.idx:", "0x00000801", NULL);
    assert_null(load_idx_fixture("tiny-images.idx", "tiny-images.idx.gz", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "tiny-images.idx.gz:", "expected 0x00000801", NULL);
}

static void test_idx_labels_checked(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_null(load_idx_fixture("tiny-images.idx", "range-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "range-labels.idx:", "label 7 of sample 2", NULL);
    sl_dataset *ds = load_idx_fixture("tiny-images.idx", "range-labels.idx", 0, &err);
    assert_non_null(ds);
    assert_int_equal(sl_dataset_num_classes(ds), 8);
    sl_dataset_free(ds);
    assert_null(load_idx_fixture("tiny-images.idx", "count-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "count-labels.idx:", "4 labels", "holds 5 images", NULL);
    assert_null(load_idx_fixture("tiny-images.idx", "no-such-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_READ, "no-such-labels.idx:", NULL);
    assert_null(load_idx_fixture("tiny-images.idx", "tiny-labels.idx", -1, &err));
    expect_error(&err, SL_ERR_INVALID, NULL);
}

/* ---- CSV ------------------------------------------------------------------ */

static void check_tiny_csv(const sl_dataset *ds)
{
    static const float want[4][3] = {
        {0.5f, -1.25f, 3.0f}, {2.0f, 0.0f, -0.5f}, {1e-3f, 4.5f, 7.0f}, {-2.0f, 8.0f, 0.25f}};
    static const int32_t labels[4] = {1, 0, 2, 1};
    assert_int_equal(sl_dataset_count(ds), 4);
    assert_int_equal(sl_dataset_sample_size(ds), 3);
    assert_int_equal(sl_dataset_type(ds), SL_DATA_F32);
    assert_int_equal(sl_dataset_num_classes(ds), 3);
    float x[12];
    int32_t y[4];
    assert_int_equal(sl_dataset_read(ds, 0, 4, x, y, NULL), SL_OK);
    assert_memory_equal(x, want, sizeof want);
    assert_memory_equal(y, labels, sizeof labels);
}

static void test_csv_header_optional(void **state)
{
    (void)state;
    sl_error err = {0};
    const char *files[] = {"tiny.csv", "tiny-noheader.csv", "tiny.csv.gz"};
    for (int k = 0; k < 3; k++) {
        sl_dataset *ds = sl_dataset_load_csv(fixture(files[k]), 0, &err);
        if (!ds)
            fail_msg("%s: %s", files[k], err.message);
        check_tiny_csv(ds);
        sl_dataset_free(ds);
    }
}

static void test_csv_errors_name_line_and_column(void **state)
{
    (void)state;
    sl_error err = {0};
    assert_null(sl_dataset_load_csv(fixture("bad-columns.csv"), 0, &err));
    expect_error(&err, SL_ERR_FORMAT, "bad-columns.csv:3:3:", "2 columns, expected 3", NULL);
    assert_null(sl_dataset_load_csv(fixture("bad-number.csv"), 0, &err));
    expect_error(&err, SL_ERR_FORMAT, "bad-number.csv:3:3:", "\"abc\"", NULL);
    assert_null(sl_dataset_load_csv(fixture("bad-label.csv"), 0, &err));
    expect_error(&err, SL_ERR_FORMAT, "bad-label.csv:3:1:", "non-negative integer", NULL);
    assert_null(sl_dataset_load_csv(fixture("range-label.csv"), 3, &err));
    expect_error(&err, SL_ERR_FORMAT, "range-label.csv:3:1:", "label 3", NULL);
    assert_null(sl_dataset_load_csv(fixture("tiny-images.idx"), 0, &err));
    expect_error(&err, SL_ERR_FORMAT, "tiny-images.idx:1:", "NUL byte", NULL);
    assert_null(sl_dataset_load_csv(fixture("cut-images.idx.gz"), 0, &err));
    expect_error(&err, SL_ERR_FORMAT, "cut-images.idx.gz:", "cut short", NULL);
    assert_null(sl_dataset_load_csv(fixture("no-such.csv"), 0, &err));
    expect_error(&err, SL_ERR_READ, "no-such.csv:", NULL);
    sl_dataset *ds = sl_dataset_load_csv(fixture("range-label.csv"), 0, &err);
    assert_non_null(ds);
    assert_int_equal(sl_dataset_num_classes(ds), 4);
    sl_dataset_free(ds);
}

static void test_csv_bom_skipped(void **state)
{
    (void)state;
    static const char text[] = "\xEF\xBB\xBF" "0,1,2,3\n1,1,2,3\n";
    const char *names[] = {"bom.csv", "bom.csv.gz"};
    for (int gz = 0; gz < 2; gz++) {
        sl_error err = {0};
        sl_dataset *ds =
            sl_dataset_load_csv(scratch_file(names[gz], text, sizeof text - 1, gz), 0, &err);
        if (!ds)
            fail_msg("%s: %s", names[gz], err.message);
        assert_int_equal(sl_dataset_count(ds), 2);
        assert_int_equal(sl_dataset_label(ds, 0), 0);
        assert_int_equal(sl_dataset_label(ds, 1), 1);
        sl_dataset_free(ds);
    }
    /* a BOM before a header: the header is still recognised */
    static const char header[] = "\xEF\xBB\xBF" "label,a\n1,2\n";
    sl_error err = {0};
    sl_dataset *ds =
        sl_dataset_load_csv(scratch_file("bom-header.csv", header, sizeof header - 1, 0), 0,
                            &err);
    assert_non_null(ds);
    assert_int_equal(sl_dataset_count(ds), 1);
    sl_dataset_free(ds);
}

static void test_csv_mixed_first_row_refused(void **state)
{
    (void)state;
    static const char text[] = "x,1,2,3\n1,1,2,3\n0,4,5,6\n";
    for (int gz = 0; gz < 2; gz++) {
        sl_error err = {0};
        const char *path = scratch_file(gz ? "mixed.csv.gz" : "mixed.csv", text,
                                        sizeof text - 1, gz);
        assert_null(sl_dataset_load_csv(path, 0, &err));
        expect_error(&err, SL_ERR_FORMAT, gz ? "mixed.csv.gz:1:1:" : "mixed.csv:1:1:",
                     "expected a number, got \"x\" (a header row would have no numeric fields)",
                     NULL);
    }
    /* the first text field is named, wherever it is; blank lines count */
    static const char later[] = "\n1,1,oops,3\n1,1,2,3\n";
    sl_error err = {0};
    assert_null(sl_dataset_load_csv(scratch_file("later.csv", later, sizeof later - 1, 0), 0,
                                    &err));
    expect_error(&err, SL_ERR_FORMAT, "later.csv:2:3:", "\"oops\"", NULL);
}

static void test_csv_text_header_skipped(void **state)
{
    (void)state;
    static const char text[] = "label,pixel0,pixel1\n2,0.5,1\n0,1,2\n";
    sl_error err = {0};
    sl_dataset *ds =
        sl_dataset_load_csv(scratch_file("header.csv", text, sizeof text - 1, 0), 0, &err);
    if (!ds)
        fail_msg("%s", err.message);
    assert_int_equal(sl_dataset_count(ds), 2);
    assert_int_equal(sl_dataset_sample_size(ds), 2);
    assert_int_equal(sl_dataset_label(ds, 0), 2);
    sl_dataset_free(ds);
}

static void test_csv_cr_only_message_escaped(void **state)
{
    (void)state;
    static const char text[] = "1,2,3\r0,4,5\r31,7,8\r";
    sl_error err = {0};
    assert_null(sl_dataset_load_csv(scratch_file("cr.csv", text, sizeof text - 1, 0), 0, &err));
    assert_int_equal(err.status, SL_ERR_FORMAT);
    assert_non_null(strstr(err.message, "cr.csv:1:"));
    assert_non_null(strstr(err.message, "\\r"));
    for (const char *p = err.message; *p; p++)
        if ((unsigned char)*p < 0x20)
            fail_msg("control character 0x%02x in \"%s\"", (unsigned char)*p, err.message);
}

/* ---- spiral and caller arrays --------------------------------------------- */

static void test_spiral_deterministic(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *a = sl_dataset_spiral(3, 50, 0.2f, 7, &err);
    sl_dataset *b = sl_dataset_spiral(3, 50, 0.2f, 7, &err);
    sl_dataset *c = sl_dataset_spiral(3, 50, 0.2f, 8, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(sl_dataset_count(a), 150);
    assert_int_equal(sl_dataset_num_classes(a), 3);
    assert_memory_equal(sl_dataset_storage(a), sl_dataset_storage(b), 300 * sizeof(float));
    assert_memory_not_equal(sl_dataset_storage(a), sl_dataset_storage(c), 300 * sizeof(float));
    const float *x = sl_dataset_storage(a);
    for (int64_t s = 0; s < 150; s++) {
        assert_int_equal(sl_dataset_label(a, s), s / 50);
        double r = hypot(x[2 * s], x[2 * s + 1]);
        assert_true(fabs(r - (double)(s % 50) / 50.0) < 1e-6);
    }
    assert_null(sl_dataset_spiral(0, 50, 0.2f, 7, &err));
    expect_error(&err, SL_ERR_INVALID, "spiral", NULL);
    assert_null(sl_dataset_spiral(3, 50, -1.0f, 7, &err));
    expect_error(&err, SL_ERR_INVALID, "noise", NULL);
    sl_dataset_free(a);
    sl_dataset_free(b);
    sl_dataset_free(c);
}

#define N_ARR 10

/* Sample i has the single feature i and label i % 3. */
static sl_dataset *counting_dataset(float *x, int32_t *y)
{
    for (int i = 0; i < N_ARR; i++) {
        x[i] = (float)i;
        y[i] = i % 3;
    }
    int64_t shape[1] = {1};
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_from_arrays(x, y, N_ARR, 1, shape, 3, &err);
    if (!ds)
        fail_msg("from_arrays: %s", err.message);
    return ds;
}

static void test_from_arrays_borrows(void **state)
{
    (void)state;
    float x[N_ARR];
    int32_t y[N_ARR];
    sl_dataset *ds = counting_dataset(x, y);
    assert_ptr_equal(sl_dataset_storage(ds), x);
    assert_ptr_equal(sl_dataset_storage_labels(ds), y);
    x[4] = 42.0f; /* the dataset sees the caller's change: nothing was copied */
    float got = 0;
    assert_int_equal(sl_dataset_read(ds, 4, 1, &got, NULL, NULL), SL_OK);
    assert_true(got == 42.0f);
    sl_dataset_free(ds);
    assert_true(x[4] == 42.0f && y[9] == 0); /* not freed, not written */

    sl_error err = {0};
    int64_t shape[1] = {1};
    y[3] = 5;
    assert_null(sl_dataset_from_arrays(x, y, N_ARR, 1, shape, 3, &err));
    expect_error(&err, SL_ERR_INVALID, "label 5 of sample 3", NULL);
    int64_t bad[1] = {0};
    assert_null(sl_dataset_from_arrays(x, y, N_ARR, 1, bad, 0, &err));
    expect_error(&err, SL_ERR_SHAPE, NULL);
}

/* ---- normalisation and views ---------------------------------------------- */

static void test_normalize(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = load_idx_fixture("tiny-images.idx", "tiny-labels.idx", 3, &err);
    assert_non_null(ds);
    const uint8_t *px = sl_dataset_storage(ds);
    float x[60];
    assert_int_equal(sl_dataset_set_normalize(ds, SL_NORMALIZE_SCALE01, 0, 0, &err), SL_OK);
    assert_int_equal(sl_dataset_read(ds, 0, 5, x, NULL, &err), SL_OK);
    for (int j = 0; j < 60; j++)
        assert_true(fabsf(x[j] - px[j] / 255.0f) < 1e-6f);

    double mean = 0, std = 0, sum = 0, sq = 0;
    assert_int_equal(sl_dataset_mean_std(ds, &mean, &std, &err), SL_OK);
    for (int j = 0; j < 60; j++)
        sum += px[j];
    for (int j = 0; j < 60; j++)
        sq += (px[j] - sum / 60) * (px[j] - sum / 60);
    assert_true(fabs(mean - sum / 60) < 1e-9 && fabs(std - sqrt(sq / 60)) < 1e-9);

    assert_int_equal(sl_dataset_set_normalize(ds, SL_NORMALIZE_STANDARDIZE, mean, std, &err),
                     SL_OK);
    assert_int_equal(sl_dataset_read(ds, 0, 5, x, NULL, &err), SL_OK);
    double m2 = 0, v2 = 0;
    for (int j = 0; j < 60; j++)
        m2 += x[j] / 60.0;
    for (int j = 0; j < 60; j++)
        v2 += (x[j] - m2) * (x[j] - m2) / 60.0;
    assert_true(fabs(m2) < 1e-5 && fabs(v2 - 1.0) < 1e-4);

    assert_int_equal(sl_dataset_set_normalize(ds, SL_NORMALIZE_STANDARDIZE, 0, 0, &err),
                     SL_ERR_INVALID);
    sl_normalize kind;
    assert_int_equal(sl_normalize_parse("scale01", &kind, NULL), SL_OK);
    assert_int_equal(kind, SL_NORMALIZE_SCALE01);
    assert_int_equal(sl_normalize_parse("zscore", &kind, &err), SL_ERR_INVALID);
    assert_string_equal(sl_normalize_name(SL_NORMALIZE_STANDARDIZE), "standardize");
    sl_dataset_free(ds);
}

/* sl_normalize_values on raw values gives exactly what a dataset handle reads (bit for bit),
 * so a model can normalise raw inputs at prediction time as training saw them. */
static void test_normalize_values_match_reads(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = load_idx_fixture("tiny-images.idx", "tiny-labels.idx", 3, &err);
    assert_non_null(ds);
    const uint8_t *px = sl_dataset_storage(ds);
    float raw[60], mine[60], read[60];
    for (int j = 0; j < 60; j++)
        raw[j] = (float)px[j];
    const sl_normalize kinds[3] = {SL_NORMALIZE_NONE, SL_NORMALIZE_SCALE01,
                                   SL_NORMALIZE_STANDARDIZE};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(sl_dataset_set_normalize(ds, kinds[k], 33.3, 71.7, &err), SL_OK);
        assert_int_equal(sl_dataset_read(ds, 0, 5, read, NULL, &err), SL_OK);
        sl_normalize_values(kinds[k], 33.3, 71.7, raw, mine, 60);
        assert_memory_equal(mine, read, sizeof mine);
        memcpy(mine, raw, sizeof mine); /* in place gives the same */
        sl_normalize_values(kinds[k], 33.3, 71.7, mine, mine, 60);
        assert_memory_equal(mine, read, sizeof mine);
    }
    sl_normalize_values(SL_NORMALIZE_SCALE01, 0, 1, NULL, mine, 60); /* ignored, no crash */
    sl_dataset_free(ds);
}

static void test_split_and_subset(void **state)
{
    (void)state;
    float x[N_ARR];
    int32_t y[N_ARR];
    sl_dataset *ds = counting_dataset(x, y);
    sl_dataset *train = NULL, *val = NULL, *train2 = NULL, *val2 = NULL;
    sl_error err = {0};
    assert_int_equal(sl_dataset_split(ds, 0.3, 5, &train, &val, &err), SL_OK);
    assert_int_equal(sl_dataset_split(ds, 0.3, 5, &train2, &val2, &err), SL_OK);
    sl_dataset_free(ds); /* views keep the storage alive */
    assert_int_equal(sl_dataset_count(train), 7);
    assert_int_equal(sl_dataset_count(val), 3);
    assert_ptr_equal(sl_dataset_storage(train), x);
    assert_ptr_equal(sl_dataset_storage(val), x);

    float a[N_ARR], b[N_ARR];
    int32_t la[N_ARR];
    assert_int_equal(sl_dataset_read(train, 0, 7, a, la, &err), SL_OK);
    assert_int_equal(sl_dataset_read(val, 0, 3, a + 7, la + 7, &err), SL_OK);
    int seen[N_ARR] = {0};
    for (int i = 0; i < N_ARR; i++) {
        seen[(int)a[i]]++;
        assert_int_equal(la[i], (int)a[i] % 3);
    }
    for (int i = 0; i < N_ARR; i++)
        assert_int_equal(seen[i], 1); /* disjoint, and together everything */
    assert_int_equal(sl_dataset_read(val2, 0, 3, b, NULL, &err), SL_OK);
    assert_memory_equal(a + 7, b, 3 * sizeof(float)); /* same seed, same split */
    sl_dataset_free(train2);
    sl_dataset_free(val2);

    sl_dataset *probe = sl_dataset_subset(train, 4, &err);
    assert_non_null(probe);
    assert_int_equal(sl_dataset_read(probe, 0, 4, b, NULL, &err), SL_OK);
    assert_memory_equal(a, b, 4 * sizeof(float));
    assert_null(sl_dataset_subset(train, 8, &err));
    expect_error(&err, SL_ERR_INVALID, NULL);
    assert_int_equal(sl_dataset_split(train, 1.0, 5, &train2, &val2, &err), SL_ERR_INVALID);
    assert_null(train2);
    sl_dataset_free(probe);
    sl_dataset_free(train);
    sl_dataset_free(val);
}

/* ---- batches -------------------------------------------------------------- */

/* Walks one epoch; returns the samples seen in order (features are indices). */
static int64_t run_epoch(sl_batch_iter *it, float *order, int64_t *sizes)
{
    float x[4];
    int32_t y[4];
    int64_t n = 0, total = 0, batches = 0;
    while (sl_batch_iter_next(it, x, y, &n, NULL) == SL_OK && n > 0) {
        for (int64_t i = 0; i < n; i++) {
            assert_int_equal(y[i], (int)x[i] % 3);
            order[total++] = x[i];
        }
        sizes[batches++] = n;
    }
    return total;
}

static void test_batches_shuffled_reproducibly(void **state)
{
    (void)state;
    float x[N_ARR];
    int32_t y[N_ARR];
    sl_dataset *ds = counting_dataset(x, y);
    sl_batch_options opt = {.batch_size = 4, .shuffle = 1, .seed = 11};
    sl_batch_iter *a = sl_batch_iter_new(ds, &opt, NULL);
    sl_batch_iter *b = sl_batch_iter_new(ds, &opt, NULL);
    opt.seed = 12;
    sl_batch_iter *c = sl_batch_iter_new(ds, &opt, NULL);
    assert_non_null(a);
    assert_int_equal(sl_batch_iter_batches(a), 3);
    float oa[N_ARR], oa2[N_ARR], ob[N_ARR], oc[N_ARR];
    int64_t sizes[4] = {0};
    assert_int_equal(run_epoch(a, oa, sizes), N_ARR);
    assert_int_equal(sizes[0], 4);
    assert_int_equal(sizes[1], 4);
    assert_int_equal(sizes[2], 2); /* the partial last batch */
    assert_int_equal(run_epoch(b, ob, sizes), N_ARR);
    assert_int_equal(run_epoch(c, oc, sizes), N_ARR);
    assert_int_equal(run_epoch(a, oa2, sizes), N_ARR);
    assert_memory_equal(oa, ob, sizeof oa);     /* same seed, same order */
    assert_memory_not_equal(oa, oc, sizeof oa); /* another seed, another order */
    assert_memory_not_equal(oa, oa2, sizeof oa); /* a new order each epoch */
    int seen[N_ARR] = {0};
    for (int i = 0; i < N_ARR; i++)
        seen[(int)oa[i]]++;
    for (int i = 0; i < N_ARR; i++)
        assert_int_equal(seen[i], 1); /* a permutation */
    int64_t epoch = -1, batch = -1;
    sl_batch_iter_position(a, &epoch, &batch);
    assert_int_equal(epoch, 2);
    assert_int_equal(batch, 0);
    sl_batch_iter_free(a);
    sl_batch_iter_free(b);
    sl_batch_iter_free(c);
    sl_dataset_free(ds);
}

static void test_batches_drop_last_and_in_order(void **state)
{
    (void)state;
    float x[N_ARR];
    int32_t y[N_ARR];
    sl_dataset *ds = counting_dataset(x, y);
    sl_batch_options opt = {.batch_size = 4, .drop_last = 1};
    sl_batch_iter *it = sl_batch_iter_new(ds, &opt, NULL);
    assert_non_null(it);
    assert_int_equal(sl_batch_iter_batches(it), 2);
    float order[N_ARR];
    int64_t sizes[4] = {0};
    assert_int_equal(run_epoch(it, order, sizes), 8);
    for (int i = 0; i < 8; i++)
        assert_true(order[i] == (float)i); /* no shuffle: storage order */
    sl_batch_iter_free(it);
    sl_error err = {0};
    opt.batch_size = 11;
    assert_null(sl_batch_iter_new(ds, &opt, &err));
    expect_error(&err, SL_ERR_INVALID, "drop_last", NULL);
    sl_dataset_free(ds);
}

static void test_batches_resume(void **state)
{
    (void)state;
    float x[N_ARR];
    int32_t y[N_ARR];
    sl_dataset *ds = counting_dataset(x, y);
    sl_batch_options opt = {.batch_size = 3, .shuffle = 1, .seed = 99};
    sl_batch_iter *it = sl_batch_iter_new(ds, &opt, NULL);
    float order[N_ARR], xb[3], xr[3];
    int32_t yb[3], yr[3];
    int64_t sizes[4], n = 0, nr = 0, epoch = 0, batch = 0;
    run_epoch(it, order, sizes);
    assert_int_equal(sl_batch_iter_next(it, xb, yb, &n, NULL), SL_OK);
    assert_int_equal(sl_batch_iter_next(it, xb, yb, &n, NULL), SL_OK);
    sl_batch_iter_position(it, &epoch, &batch); /* a checkpoint: epoch 1, batch 2 */
    assert_int_equal(epoch, 1);
    assert_int_equal(batch, 2);
    assert_int_equal(sl_batch_iter_next(it, xb, yb, &n, NULL), SL_OK);

    sl_batch_iter *resumed = sl_batch_iter_new(ds, &opt, NULL);
    assert_int_equal(sl_batch_iter_seek(resumed, epoch, batch, NULL), SL_OK);
    assert_int_equal(sl_batch_iter_next(resumed, xr, yr, &nr, NULL), SL_OK);
    assert_int_equal(nr, n);
    assert_memory_equal(xr, xb, (size_t)n * sizeof(float));
    assert_memory_equal(yr, yb, (size_t)n * sizeof(int32_t));
    sl_error err = {0};
    assert_int_equal(sl_batch_iter_seek(resumed, 0, 5, &err), SL_ERR_INVALID);
    sl_batch_iter_free(it);
    sl_batch_iter_free(resumed);
    sl_dataset_free(ds);
}

/* ---- named datasets ------------------------------------------------------- */

static void test_named_fixture(void **state)
{
    (void)state;
    sl_error err = {0};
    const char *dir = tu_source_path("datasets/fixtures");
    sl_dataset *ds = sl_dataset_open(dir, "tiny-idx", "train", &err);
    if (!ds)
        fail_msg("%s", err.message);
    int64_t shape[SL_DATA_MAX_DIMS];
    assert_int_equal(sl_dataset_shape(ds, shape), 1);
    assert_int_equal(shape[0], 12);
    assert_string_equal(sl_dataset_name(ds), "tiny-idx/train");
    assert_string_equal(sl_dataset_class_name(ds, 2), "two");
    assert_null(sl_dataset_class_name(ds, 3));
    sl_dataset_free(ds);

    ds = sl_dataset_open(dir, "tiny-csv", "train", &err);
    assert_non_null(ds);
    check_tiny_csv(ds);
    sl_dataset_free(ds);
}

static void test_named_errors(void **state)
{
    (void)state;
    sl_error err = {0};
    const char *dir = tu_source_path("datasets/fixtures");
    assert_null(sl_dataset_open(dir, "missing-pkg", "train", &err));
    expect_error(&err, SL_ERR_READ, "no-such-directory/tiny-images.idx.gz",
                 "install it with: apt-get install dataset-nothing", NULL);
    assert_null(sl_dataset_open(dir, "tiny-idx", "validation", &err));
    expect_error(&err, SL_ERR_FORMAT, "tiny-idx.json", "no split \"validation\"", "train, test",
                 NULL);
    assert_null(sl_dataset_open(dir, "bad-type", "train", &err));
    expect_error(&err, SL_ERR_FORMAT, "bad-type.json: classes: expected an integer", NULL);
    assert_null(sl_dataset_open(dir, "bad-input", "train", &err));
    expect_error(&err, SL_ERR_FORMAT, "bad-input.json: input:", NULL);
    assert_null(sl_dataset_open(dir, "nothing-here", "train", &err));
    expect_error(&err, SL_ERR_READ, "nothing-here.json", NULL);
    assert_null(sl_dataset_open(dir, "../etc/passwd", "train", &err));
    expect_error(&err, SL_ERR_INVALID, NULL);
}

/* A descriptor <scratch>/<name>.json of text, over datasets/fixtures/tiny.csv. */
static void write_descriptor(const char *name, const char *text)
{
    char file[64];
    snprintf(file, sizeof file, "%s.json", name);
    scratch_file(file, text, strlen(text), 0);
}

/* first goes before the object's keys, extra after the split's "file". */
#define TINY_CSV_JSON(first, extra)                                                           \
    "{" first "\"format\": \"csv\", \"classes\": 3, \"directory\": \"" SLOPE_SOURCE_DIR     \
    "/datasets/fixtures\",\n \"splits\": {\"train\": {\"file\": \"tiny.csv\"" extra "}}}"

static void test_named_strict_json(void **state)
{
    (void)state;
    sl_error err = {0};
    write_descriptor("good", TINY_CSV_JSON("", "") "\n\t \n");
    sl_dataset *ds = sl_dataset_open(g_scratch, "good", "train", &err);
    if (!ds)
        fail_msg("%s", err.message);
    check_tiny_csv(ds);
    sl_dataset_free(ds);

    write_descriptor("trailing", TINY_CSV_JSON("", "") "\n,");
    assert_null(sl_dataset_open(g_scratch, "trailing", "train", &err));
    expect_error(&err, SL_ERR_FORMAT, "trailing.json:3:", "unexpected text after the object",
                 NULL);
    write_descriptor("two", TINY_CSV_JSON("", "") " {}");
    assert_null(sl_dataset_open(g_scratch, "two", "train", &err));
    expect_error(&err, SL_ERR_FORMAT, "two.json:2:", "unexpected text after the object", NULL);

    write_descriptor("dup-top", TINY_CSV_JSON("\"classes\": 2, ", ""));
    assert_null(sl_dataset_open(g_scratch, "dup-top", "train", &err));
    expect_error(&err, SL_ERR_FORMAT, "dup-top.json: duplicate key \"classes\"", NULL);
    write_descriptor("dup-inner", TINY_CSV_JSON("", ", \"file\": \"other.csv\""));
    assert_null(sl_dataset_open(g_scratch, "dup-inner", "train", &err));
    expect_error(&err, SL_ERR_FORMAT, "dup-inner.json: duplicate key \"file\"", NULL);
}

static void test_shipped_descriptors(void **state)
{
    (void)state;
    sl_error err = {0};
    const char *dir = tu_source_path("datasets");
    sl_dataset *ds = sl_dataset_open(dir, "spiral", "train", &err);
    if (!ds)
        fail_msg("%s", err.message);
    assert_int_equal(sl_dataset_count(ds), 300);
    assert_int_equal(sl_dataset_num_classes(ds), 3);
    sl_dataset_free(ds);
    if (!file_exists("/usr/share/datasets/mnist/t10k-images-idx3-ubyte.gz")) {
        assert_null(sl_dataset_open(dir, "mnist", "test", &err));
        expect_error(&err, SL_ERR_READ, "/usr/share/datasets/mnist/t10k-", "no Debian package",
                     NULL);
    }
}

static void test_fashion_mnist_t10k(void **state)
{
    (void)state;
    if (!file_exists(FASHION_DIR "/t10k-images-idx3-ubyte.gz"))
        skip();
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_open(tu_source_path("datasets"), "fashion-mnist", "test", &err);
    if (!ds)
        fail_msg("%s", err.message);
    assert_int_equal(sl_dataset_count(ds), 10000);
    assert_int_equal(sl_dataset_type(ds), SL_DATA_U8);
    assert_int_equal(sl_dataset_sample_size(ds), 784);
    assert_int_equal(sl_dataset_label(ds, 0), 9);
    assert_string_equal(sl_dataset_class_name(ds, 9), "Ankle boot");
    double mean = 0, std = 0;
    assert_int_equal(sl_dataset_mean_std(ds, &mean, &std, &err), SL_OK);
    assert_true(mean > 60 && mean < 90 && std > 80 && std < 100);
    sl_dataset_set_normalize(ds, SL_NORMALIZE_SCALE01, 0, 0, NULL);
    float *x = malloc(64 * 784 * sizeof *x);
    int32_t y[64];
    int64_t n = 0;
    sl_batch_options opt = {.batch_size = 64, .shuffle = 1, .seed = 1};
    sl_batch_iter *it = sl_batch_iter_new(ds, &opt, &err);
    assert_int_equal(sl_batch_iter_next(it, x, y, &n, &err), SL_OK);
    assert_int_equal(n, 64);
    for (int64_t j = 0; j < 64 * 784; j++)
        assert_true(x[j] >= 0.0f && x[j] <= 1.0f);
    free(x);
    sl_batch_iter_free(it);
    sl_dataset_free(ds);
}

static int setup_scratch(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_scratch, sizeof g_scratch, "%s/slope-data-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(g_scratch) ? 0 : -1;
}

static int teardown_scratch(void **state)
{
    (void)state;
    DIR *d = opendir(g_scratch);
    if (d) {
        char path[sizeof g_scratch + 256];
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(path, sizeof path, "%s/%s", g_scratch, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(g_scratch);
    return 0;
}


/* ---- limits: non-regular files, the memory budget, the CSV line limit ------------ */

/* A FIFO nobody writes: every reader refuses it at once (they used to hang in open). */
static void test_fifo_inputs_refused(void **state)
{
    (void)state;
    char fifo[4096 + 16];
    snprintf(fifo, sizeof fifo, "%s/fifo", g_scratch);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    sl_error err = {0};
    alarm(10); /* a hang fails the test instead of stalling it */
    assert_null(sl_dataset_load_idx(fifo, fixture("tiny-labels.idx"), 3, &err));
    expect_error(&err, SL_ERR_READ, fifo, ": is a FIFO, not a regular file", NULL);
    sl_error_clear(&err);
    assert_null(sl_dataset_load_idx(fixture("tiny-images.idx"), fifo, 3, &err));
    expect_error(&err, SL_ERR_READ, fifo, ": is a FIFO, not a regular file", NULL);
    sl_error_clear(&err);
    assert_null(sl_dataset_load_csv(fifo, 0, &err));
    expect_error(&err, SL_ERR_READ, fifo, ": is a FIFO, not a regular file", NULL);
    sl_error_clear(&err);
    assert_null(sl_safetensors_read(fifo, &err));
    expect_error(&err, SL_ERR_READ, fifo, ": is a FIFO, not a regular file", NULL);
    /* a descriptor that is a FIFO, and one whose data file is */
    char json[4096 + 32];
    snprintf(json, sizeof json, "%s/fifo-desc.json", g_scratch);
    unlink(json);
    assert_int_equal(mkfifo(json, 0600), 0);
    sl_error_clear(&err);
    assert_null(sl_dataset_open(g_scratch, "fifo-desc", "train", &err));
    expect_error(&err, SL_ERR_READ, "fifo-desc.json: is a FIFO, not a regular file", NULL);
    const char *desc = "{\"format\": \"csv\", \"classes\": 3, \"splits\": {\"train\": "
                       "{\"file\": \"fifo\"}}}";
    scratch_file("fifo-data.json", desc, strlen(desc), 0);
    sl_error_clear(&err);
    assert_null(sl_dataset_open(g_scratch, "fifo-data", "train", &err));
    expect_error(&err, SL_ERR_READ, "/fifo: is a FIFO, not a regular file", NULL);
    alarm(0);
    unlink(fifo);
    unlink(json);
}

/* Writes n copies of row to <scratch>/name, gzip-compressed; returns the path. */
static const char *gz_repeat(const char *name, const char *head, size_t head_len,
                             const char *row, size_t row_len, long n)
{
    static char path[4096 + 64];
    snprintf(path, sizeof path, "%s/%s", g_scratch, name);
    gzFile f = gzopen(path, "wb1");
    assert_non_null(f);
    if (head_len)
        assert_int_equal(gzwrite(f, head, (unsigned)head_len), (int)head_len);
    for (long i = 0; i < n; i++)
        assert_int_equal(gzwrite(f, row, (unsigned)row_len), (int)row_len);
    assert_int_equal(gzclose(f), Z_OK);
    return path;
}

/* A small .gz of many rows stops at the budget (it used to grow without bound). */
static void test_csv_gz_bomb_stops_at_budget(void **state)
{
    (void)state;
    const char row[] = "1,0.5,0.25,0.125\n";
    const char *path = gz_repeat("bomb.csv.gz", "", 0, row, sizeof row - 1, 100000);
    sl_error err = {0};
    sl_data_set_memory_budget(1u << 20);
    assert_int_equal(sl_data_memory_budget(), 1u << 20);
    assert_null(sl_dataset_load_csv(path, 0, &err));
    expect_error(&err, SL_ERR_NOMEM, "bomb.csv.gz:", "rows of 3 features would hold",
                 "past the memory budget of 1.0 MiB (1048576 bytes; set by "
                 "sl_data_set_memory_budget)", NULL);
    /* within the budget it loads, the rows exactly */
    sl_data_set_memory_budget(64u << 20);
    sl_dataset *ds = sl_dataset_load_csv(path, 0, &err);
    assert_non_null(ds);
    assert_int_equal(sl_dataset_count(ds), 100000);
    sl_dataset_free(ds);
    sl_data_set_memory_budget(0);
    unlink(path);
}

/* A gzipped IDX header promising 100000 images of 28x28 over zeros stops at the budget;
 * one that inflates past its promise is a format error found without inflating it all. */
static void test_idx_gz_bombs(void **state)
{
    (void)state;
    static const unsigned char head[16] = {0, 0, 8, 3, 0, 1, 0x86, 0xa0, 0, 0, 0, 28, 0, 0, 0, 28};
    static char zeros[1 << 16];
    const char *path = gz_repeat("bomb-images.idx.gz", (const char *)head, 16, zeros,
                                 sizeof zeros, 96); /* 6 MiB of zeros, past the budget */
    sl_error err = {0};
    sl_data_set_memory_budget(4u << 20);
    assert_null(sl_dataset_load_idx(path, fixture("tiny-labels.idx"), 0, &err));
    expect_error(&err, SL_ERR_NOMEM, "bomb-images.idx.gz:",
                 "100000 images of 28x28 and their labels would hold",
                 "past the memory budget of 4.0 MiB", NULL);
    sl_data_set_memory_budget(0);
    /* 5 images of 4x3 promised, 17 MiB delivered: counted up to 16 MiB, no further */
    static const unsigned char small[16] = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0, 3};
    path = gz_repeat("over-images.idx.gz", (const char *)small, 16, zeros, sizeof zeros, 272);
    sl_error_clear(&err);
    assert_null(sl_dataset_load_idx(path, fixture("tiny-labels.idx"), 0, &err));
    expect_error(&err, SL_ERR_FORMAT, "over-images.idx.gz:", "header says 5 images of 4x3",
                 "holds more than", NULL);
    unlink(path);
}

/* A raw IDX whose body is really there but past the budget is refused before reading. */
static void test_idx_raw_past_budget(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_data_set_memory_budget(64);
    assert_null(load_idx_fixture("tiny-images.idx", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_NOMEM, "tiny-images.idx:",
                 "5 images of 4x3 and their labels would hold 85 bytes",
                 "past the memory budget of 64 bytes", NULL);
    sl_data_set_memory_budget(85);
    sl_dataset *ds = load_idx_fixture("tiny-images.idx", "tiny-labels.idx", 3, &err);
    assert_non_null(ds);
    sl_dataset_free(ds);
    sl_data_set_memory_budget(0);
}

/* A line longer than the limit fails when the limit is reached, naming line and limit. */
static void test_csv_line_limit(void **state)
{
    (void)state;
    static char line[8192];
    memset(line, '1', sizeof line);
    const char *path = gz_repeat("long.csv.gz", "0,1\n", 4, line, sizeof line, 512);
    sl_error err = {0};
    sl_data_set_max_line(1024);
    assert_int_equal(sl_data_max_line(), 1024);
    assert_null(sl_dataset_load_csv(path, 0, &err));
    expect_error(&err, SL_ERR_FORMAT, "long.csv.gz:2: the line is longer than 1024 bytes", NULL);
    sl_data_set_max_line(0);
    assert_int_equal(sl_data_max_line(), 16u << 20);
    unlink(path);
}

static void test_budget_env(void **state)
{
    (void)state;
    sl_error err = {0};
    setenv("SLOPE_DATA_BUDGET", "12x", 1);
    assert_int_equal(sl_data_memory_budget(), 0);
    assert_null(load_idx_fixture("tiny-images.idx", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_INVALID, "SLOPE_DATA_BUDGET=\"12x\"", NULL);
    setenv("SLOPE_DATA_BUDGET", "2K", 1);
    assert_int_equal(sl_data_memory_budget(), 2048);
    setenv("SLOPE_DATA_BUDGET", "64", 1);
    assert_null(load_idx_fixture("tiny-images.idx", "tiny-labels.idx", 3, &err));
    expect_error(&err, SL_ERR_NOMEM, "from SLOPE_DATA_BUDGET", NULL);
    unsetenv("SLOPE_DATA_BUDGET");
    assert_true(sl_data_memory_budget() > (1u << 20)); /* the machine's default */
}

/* Same features, another shape: refused; flat samples feed any shape of that size. */
static void test_check_input_shape(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = load_idx_fixture("tiny-images.idx", "tiny-labels.idx", 3, &err);
    assert_non_null(ds);
    const int64_t same[3] = {1, 4, 3}, other[3] = {1, 3, 4}, flat[1] = {12}, big[1] = {13};
    assert_int_equal(sl_dataset_check_input(ds, 3, same, &err), SL_OK);
    assert_int_equal(sl_dataset_check_input(ds, 3, other, &err), SL_ERR_SHAPE);
    expect_error(&err, SL_ERR_SHAPE, "tiny-images.idx: samples of shape [1, 4, 3] do not fit "
                 "the model's input [1, 3, 4]", NULL);
    assert_int_equal(sl_dataset_check_input(ds, 1, flat, &err), SL_ERR_SHAPE);
    expect_error(&err, SL_ERR_SHAPE, "[1, 4, 3]", "[12]", NULL);
    assert_int_equal(sl_dataset_check_input(ds, 1, big, &err), SL_ERR_SHAPE);
    expect_error(&err, SL_ERR_SHAPE, "samples have 12 features but the model takes 13", NULL);
    assert_int_equal(sl_dataset_reshape(ds, 1, flat, &err), SL_OK);
    assert_int_equal(sl_dataset_check_input(ds, 3, other, &err), SL_OK); /* flat: reshaped */
    assert_int_equal(sl_dataset_check_input(NULL, 1, flat, &err), SL_ERR_INVALID);
    sl_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_raw_and_gzip_identical),
        cmocka_unit_test(test_idx_truncated),
        cmocka_unit_test(test_idx_cut_gzip_stream),
        cmocka_unit_test(test_idx_trailing_bytes),
        cmocka_unit_test(test_idx_lying_header),
        cmocka_unit_test(test_idx_wrong_magic),
        cmocka_unit_test(test_idx_labels_checked),
        cmocka_unit_test(test_csv_header_optional),
        cmocka_unit_test(test_csv_errors_name_line_and_column),
        cmocka_unit_test(test_csv_bom_skipped),
        cmocka_unit_test(test_csv_mixed_first_row_refused),
        cmocka_unit_test(test_csv_text_header_skipped),
        cmocka_unit_test(test_csv_cr_only_message_escaped),
        cmocka_unit_test(test_spiral_deterministic),
        cmocka_unit_test(test_from_arrays_borrows),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_normalize_values_match_reads),
        cmocka_unit_test(test_split_and_subset),
        cmocka_unit_test(test_batches_shuffled_reproducibly),
        cmocka_unit_test(test_batches_drop_last_and_in_order),
        cmocka_unit_test(test_batches_resume),
        cmocka_unit_test(test_named_fixture),
        cmocka_unit_test(test_named_errors),
        cmocka_unit_test(test_named_strict_json),
        cmocka_unit_test(test_shipped_descriptors),
        cmocka_unit_test(test_fashion_mnist_t10k),
        cmocka_unit_test(test_fifo_inputs_refused),
        cmocka_unit_test(test_csv_gz_bomb_stops_at_budget),
        cmocka_unit_test(test_idx_gz_bombs),
        cmocka_unit_test(test_idx_raw_past_budget),
        cmocka_unit_test(test_csv_line_limit),
        cmocka_unit_test(test_budget_env),
        cmocka_unit_test(test_check_input_shape),
    };
    return cmocka_run_group_tests(tests, setup_scratch, teardown_scratch);
}
