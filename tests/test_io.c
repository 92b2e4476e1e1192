/*
 * test_io.c - safetensors checkpoints: round trips, an independent parse of
 * what we write, files written by Python (tools/make_io_fixtures.py), every
 * malformed fixture, and atomicity under injected write failures.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "testutil.h"

#include "io_internal.h"
#include "slope/io.h"

#define PATH_MAX_LEN 1024
#define GOLDEN "tests/golden/safetensors/"

static char g_dir[64]; /* this run's scratch directory, under the working directory */

/* ---- helpers ------------------------------------------------------------------ */

static const char *scratch(char *buf, const char *name)
{
    snprintf(buf, PATH_MAX_LEN, "%s/%s", g_dir, name);
    return buf;
}

static const char *golden(char *buf, const char *name)
{
    snprintf(buf, PATH_MAX_LEN, "%s", tu_source_path(GOLDEN));
    strncat(buf, name, PATH_MAX_LEN - strlen(buf) - 1);
    return buf;
}

static void assert_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, text);
}

/* start, start + 0.25, ... (the same values as make_io_fixtures.py's values()). */
static sl_tensor *ramp(int ndim, const int64_t *shape, float start)
{
    sl_error err = {0};
    sl_tensor *t = sl_tensor_new(ndim, shape, &err);
    assert_non_null(t);
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = start + 0.25f * (float)i;
    return t;
}

static void assert_ramp(const sl_tensor *t, float start)
{
    for (int64_t i = 0; i < t->size; i++)
        assert_true(t->data[i] == start + 0.25f * (float)i);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 16;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    *len = fread(buf, 1, cap, f);
    assert_true(*len < cap); /* test files are small */
    fclose(f);
    return buf;
}

static void assert_file_equals(const char *path, const unsigned char *bytes, size_t len)
{
    size_t got_len;
    unsigned char *got = slurp(path, &got_len);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, bytes, len);
    free(got);
}

static int count_temp_files_in(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static int count_temp_files(void)
{
    return count_temp_files_in(g_dir);
}

/* ---- a checkpoint to write ------------------------------------------------------- */

enum { CK_TENSORS = 4, CK_META = 3 };

typedef struct ckpt {
    sl_tensor *t[CK_TENSORS];
    sl_named_tensor nt[CK_TENSORS];
    sl_kv meta[CK_META];
} ckpt;

/* Names deliberately unsorted, so the order written is visibly the order given. */
static void ckpt_make(ckpt *c, float base)
{
    static const char *names[CK_TENSORS] = {"layers.0.weight", "layers.0.bias", "conv.w", "a"};
    static const int64_t s0[] = {2, 3}, s1[] = {3}, s2[] = {2, 1, 3, 3}, s3[] = {1};
    c->t[0] = ramp(2, s0, base);
    c->t[1] = ramp(1, s1, base + 10);
    c->t[2] = ramp(4, s2, base - 5);
    c->t[3] = ramp(1, s3, base + 0.5f);
    /* Bit patterns that must survive exactly. */
    float *x = c->t[2]->data;
    x[0] = -0.0f, x[1] = INFINITY, x[2] = NAN, x[3] = FLT_TRUE_MIN, x[4] = -FLT_MAX;
    for (int i = 0; i < CK_TENSORS; i++)
        c->nt[i] = (sl_named_tensor){names[i], c->t[i]};
    c->meta[0] = (sl_kv){"format", "pt"};
    c->meta[1] = (sl_kv){"epoch", "3"};
    c->meta[2] = (sl_kv){"note", "\xc3\xbcn\xc3\xaf \"q\" \\ \n\t\x01 end"};
}

static void ckpt_free(ckpt *c)
{
    for (int i = 0; i < CK_TENSORS; i++)
        sl_tensor_free(c->t[i]);
}

static void write_ok(const char *path, const ckpt *c)
{
    sl_error err = {0};
    sl_status s = sl_safetensors_write(path, c->nt, CK_TENSORS, c->meta, CK_META, &err);
    if (s != SL_OK)
        fail_msg("write failed: %s", err.message);
}

static sl_safetensors *read_ok(const char *path)
{
    sl_error err = {0};
    sl_safetensors *st = sl_safetensors_read(path, &err);
    if (!st)
        fail_msg("read failed: %s", err.message);
    return st;
}

/* ---- round trip ------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN], again[PATH_MAX_LEN];
    ckpt c;
    ckpt_make(&c, 1.0f);
    write_ok(scratch(path, "rt.safetensors"), &c);
    sl_safetensors *st = read_ok(path);

    assert_int_equal(sl_safetensors_count(st), CK_TENSORS);
    for (size_t i = 0; i < CK_TENSORS; i++) {
        sl_named_tensor nt = sl_safetensors_at(st, i);
        assert_string_equal(nt.name, c.nt[i].name); /* order preserved */
        assert_true(sl_tensor_same_shape(nt.tensor, c.t[i]));
        assert_memory_equal(nt.tensor->data, c.t[i]->data, (size_t)c.t[i]->size * sizeof(float));
        assert_ptr_equal(sl_safetensors_get(st, nt.name), nt.tensor);
    }
    assert_null(sl_safetensors_at(st, CK_TENSORS).name);
    assert_null(sl_safetensors_get(st, "layers.0"));

    assert_int_equal(sl_safetensors_metadata_count(st), CK_META);
    for (size_t i = 0; i < CK_META; i++) {
        sl_kv kv = sl_safetensors_metadata_at(st, i);
        assert_string_equal(kv.key, c.meta[i].key);
        assert_string_equal(kv.value, c.meta[i].value);
        assert_string_equal(sl_safetensors_metadata(st, c.meta[i].key), c.meta[i].value);
    }
    assert_null(sl_safetensors_metadata_at(st, CK_META).key);
    assert_null(sl_safetensors_metadata(st, "missing"));

    /* What we read, written again, is the same file byte for byte. */
    sl_named_tensor back[CK_TENSORS];
    sl_kv meta[CK_META];
    for (size_t i = 0; i < CK_TENSORS; i++)
        back[i] = sl_safetensors_at(st, i);
    for (size_t i = 0; i < CK_META; i++)
        meta[i] = sl_safetensors_metadata_at(st, i);
    sl_error err = {0};
    assert_int_equal(sl_safetensors_write(scratch(again, "rt2.safetensors"), back, CK_TENSORS,
                                          meta, CK_META, &err),
                     SL_OK);
    size_t len;
    unsigned char *bytes = slurp(path, &len);
    assert_file_equals(again, bytes, len);
    free(bytes);
    sl_safetensors_free(st);
    ckpt_free(&c);
}

/* ---- an independent parse of the written bytes -------------------------------------- */

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t crc_of(const unsigned char *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static uint32_t hex32(const char *s)
{
    assert_int_equal(strlen(s), 8);
    assert_int_equal(strspn(s, "0123456789abcdef"), 8);
    return (uint32_t)strtoul(s, NULL, 16);
}

/*
 * The checksums as slope/io.h defines them: the header's over the length
 * field and the header with its own 8 digits as "00000000", then one per
 * tensor over its data bytes, in order.
 */
static const cJSON *check_checksums_json(const cJSON *kv, const ckpt *c, unsigned char *file)
{
    uint64_t n = le64(file);
    assert_string_equal(kv->string, "slope.header_crc32");
    uint32_t stored = hex32(kv->valuestring);
    size_t at = strlen("{\"__metadata__\":{\"slope.header_crc32\":\"");
    char digits[8];
    memcpy(digits, file + 8 + at, 8);
    assert_memory_equal(digits, kv->valuestring, 8);
    memset(file + 8 + at, '0', 8);
    assert_int_equal(crc_of(file, 8 + (size_t)n), stored);
    memcpy(file + 8 + at, digits, 8);
    size_t begin = 8 + (size_t)n;
    for (int i = 0; i < CK_TENSORS; i++) {
        kv = kv->next;
        char key[128];
        snprintf(key, sizeof key, "slope.crc32.%s", c->nt[i].name);
        assert_string_equal(kv->string, key);
        size_t bytes = 4 * (size_t)c->nt[i].tensor->size;
        assert_int_equal(crc_of(file + begin, bytes), hex32(kv->valuestring));
        begin += bytes;
    }
    return kv->next;
}

static void check_metadata_json(const cJSON *meta, const ckpt *c, unsigned char *file)
{
    assert_string_equal(meta->string, "__metadata__");
    assert_true(cJSON_IsObject(meta));
    const cJSON *kv = check_checksums_json(meta->child, c, file);
    for (int i = 0; i < CK_META; i++, kv = kv->next) {
        assert_non_null(kv);
        assert_string_equal(kv->string, c->meta[i].key);
        assert_string_equal(kv->valuestring, c->meta[i].value);
    }
    assert_null(kv);
}

/* Checks one entry and its bytes in data; returns its end offset. */
static double check_tensor_json(const cJSON *e, const sl_named_tensor *nt,
                                const unsigned char *data, double begin)
{
    const sl_tensor *t = nt->tensor;
    assert_string_equal(e->string, nt->name);
    assert_string_equal(cJSON_GetObjectItem(e, "dtype")->valuestring, "F32");
    const cJSON *shape = cJSON_GetObjectItem(e, "shape");
    assert_int_equal(cJSON_GetArraySize(shape), t->ndim);
    for (int d = 0; d < t->ndim; d++)
        assert_true(cJSON_GetArrayItem(shape, d)->valuedouble == (double)t->shape[d]);
    const cJSON *off = cJSON_GetObjectItem(e, "data_offsets");
    assert_true(cJSON_GetArrayItem(off, 0)->valuedouble == begin);
    double end = cJSON_GetArrayItem(off, 1)->valuedouble;
    assert_true(end == begin + 4.0 * (double)t->size);
    for (int64_t i = 0; i < t->size; i++) {
        const unsigned char *p = data + (size_t)begin + 4 * (size_t)i;
        uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                        (uint32_t)p[3] << 24;
        uint32_t want;
        memcpy(&want, &t->data[i], sizeof want);
        assert_int_equal(bits, want);
    }
    return end;
}

static void test_written_file_parses_by_hand(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    ckpt c;
    ckpt_make(&c, -2.0f);
    write_ok(scratch(path, "hand.safetensors"), &c);
    size_t len;
    unsigned char *bytes = slurp(path, &len);
    assert_true(len >= 8);
    uint64_t n = le64(bytes);
    assert_true(8 + n <= len);
    assert_int_equal((8 + n) % 8, 0); /* data aligned to 8 */

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)bytes + 8, (size_t)n, &end, 0);
    assert_non_null(root);
    for (const char *p = end; p < (const char *)bytes + 8 + n; p++)
        assert_int_equal(*p, ' '); /* padding is spaces */

    const cJSON *item = root->child;
    check_metadata_json(item, &c, bytes);
    double offset = 0;
    for (int i = 0; i < CK_TENSORS; i++) {
        item = item->next;
        assert_non_null(item);
        offset = check_tensor_json(item, &c.nt[i], bytes + 8 + n, offset);
    }
    assert_null(item->next);
    assert_true(offset == (double)(len - 8 - n)); /* the data section is exactly covered */
    cJSON_Delete(root);
    free(bytes);
    ckpt_free(&c);
}

static void test_empty_checkpoint(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    sl_error err = {0};
    scratch(path, "empty.safetensors");
    assert_int_equal(sl_safetensors_write(path, NULL, 0, NULL, 0, &err), SL_OK);
    size_t len;
    unsigned char *bytes = slurp(path, &len);
    const char *want = "{\"__metadata__\":{\"slope.header_crc32\":\"";
    assert_true(len > 8 + strlen(want));
    assert_memory_equal(bytes + 8, want, strlen(want)); /* just the header's checksum */
    assert_memory_equal(bytes + 8 + strlen(want) + 8, "\"}}", 3);
    assert_int_equal(le64(bytes), len - 8);
    free(bytes);
    sl_safetensors *st = read_ok(path);
    assert_int_equal(sl_safetensors_count(st), 0);
    assert_int_equal(sl_safetensors_metadata_count(st), 0);
    assert_null(sl_safetensors_get(st, "x"));
    sl_safetensors_free(st);
}

/* ---- checksums -------------------------------------------------------------------- */

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/*
 * A single-bit flip in every byte of a checkpoint slope wrote (length field,
 * header JSON and its padding, data; the bit cycling through 0..7 with the
 * byte, about 700 flips, to stay fast) is refused; a flip in a tensor's data
 * names that tensor and says CRC32 mismatch.  Before the checksums, every
 * data flip and about half the header flips loaded silently.
 */
static void test_every_bit_flip_refused(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN], flipped[PATH_MAX_LEN];
    ckpt c;
    ckpt_make(&c, 1.0f);
    write_ok(scratch(path, "flip.safetensors"), &c);
    scratch(flipped, "flipped.safetensors");
    size_t len;
    unsigned char *bytes = slurp(path, &len);
    size_t data_start = 8 + (size_t)le64(bytes);
    for (size_t bit = 0; bit < 8 * len; bit += 8 + (bit % 8 == 7 ? -7 : 1)) {
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        write_bytes(flipped, bytes, len);
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        sl_error err = {0};
        sl_safetensors *st = sl_safetensors_read(flipped, &err);
        if (st)
            fail_msg("a flip of bit %zu (byte %zu of %zu) loaded silently", bit % 8, bit / 8, len);
        assert_int_not_equal(err.status, SL_OK);
        if (bit / 8 >= data_start) {
            assert_int_equal(err.status, SL_ERR_FORMAT);
            assert_contains(err.message, "CRC32 mismatch (stored 0x");
            assert_contains(err.message, "the file is corrupt");
            size_t off = bit / 8 - data_start, end = 0;
            int i = 0;
            while ((end += 4 * (size_t)c.t[i]->size) <= off)
                i++;
            char want[128];
            snprintf(want, sizeof want, "flipped.safetensors: tensor '%s': CRC32 mismatch",
                     c.nt[i].name);
            assert_contains(err.message, want);
        }
    }
    free(bytes);
    ckpt_free(&c);
}

/* A header CRC that matches but a tensor CRC key taken away or renamed is refused too. */
static void test_checksum_keys_must_be_whole(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    ckpt c;
    ckpt_make(&c, 1.0f);
    /* The caller's own "slope.crc32.*" keys are replaced by the writer's, not kept. */
    sl_kv meta[CK_META + 2];
    memcpy(meta, c.meta, sizeof c.meta);
    meta[CK_META] = (sl_kv){"slope.crc32.a", "deadbeef"};
    meta[CK_META + 1] = (sl_kv){"slope.header_crc32", "00000000"};
    sl_error err = {0};
    scratch(path, "keys.safetensors");
    assert_int_equal(sl_safetensors_write(path, c.nt, CK_TENSORS, meta, CK_META + 2, &err), SL_OK);
    sl_safetensors *st = read_ok(path);
    assert_int_equal(sl_safetensors_metadata_count(st), CK_META); /* checksums not listed */
    assert_null(sl_safetensors_metadata(st, "slope.crc32.a"));
    sl_safetensors_free(st);
    /* A CRC-less file (a torch-style header) with one stray checksum key is corrupt. */
    const char *json = "{\"__metadata__\":{\"slope.crc32.x\":\"00000000\"},"
                       "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    unsigned char buf[256] = {0};
    size_t n = strlen(json);
    buf[0] = (unsigned char)n;
    memcpy(buf + 8, json, n);
    write_bytes(path, buf, 8 + n + 4);
    assert_null(sl_safetensors_read(path, &err));
    assert_int_equal(err.status, SL_ERR_FORMAT);
    assert_contains(err.message, "checksum is missing or misplaced: the file is corrupt");
    ckpt_free(&c);
}

/*
 * A header over the reader's 100 MiB limit is refused by the writer, before
 * anything is created: the old file stays, no temporary file is left.
 * Before, it was written and then refused by every reader.
 */
static void test_write_refuses_oversized_header(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    ckpt c;
    ckpt_make(&c, 1.0f);
    write_ok(scratch(path, "big.safetensors"), &c);
    size_t len;
    unsigned char *before = slurp(path, &len);
    size_t big = (size_t)SL_IO_MAX_HEADER + 1;
    char *value = malloc(big + 1);
    assert_non_null(value);
    memset(value, 'n', big);
    value[big] = '\0';
    sl_kv meta[1] = {{"name", value}};
    sl_error err = {0};
    assert_int_equal(sl_safetensors_write(path, c.nt, CK_TENSORS, meta, 1, &err), SL_ERR_INVALID);
    assert_contains(err.message, "big.safetensors: the header would be");
    assert_contains(err.message, "over the readers' 100 MiB limit");
    assert_file_equals(path, before, len);
    assert_int_equal(count_temp_files(), 0);
    free(value);
    free(before);
    ckpt_free(&c);
}

/* ---- files written by Python ------------------------------------------------------- */

static void test_python_fixtures(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    sl_safetensors *st = read_ok(golden(path, "valid_python.safetensors"));
    static const char *order[] = {"scalar", "a.bias", "b.weight"}; /* header order */
    assert_int_equal(sl_safetensors_count(st), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(sl_safetensors_at(st, i).name, order[i]);
    const sl_tensor *scalar = sl_safetensors_get(st, "scalar");
    assert_int_equal(scalar->ndim, 1); /* shape [] reads as [1] */
    assert_int_equal(scalar->shape[0], 1);
    assert_true(scalar->data[0] == 42.5f);
    const sl_tensor *w = sl_safetensors_get(st, "b.weight");
    assert_int_equal(w->ndim, 2);
    assert_int_equal(w->shape[0], 2);
    assert_int_equal(w->shape[1], 3);
    assert_ramp(w, -1.0f);
    assert_ramp(sl_safetensors_get(st, "a.bias"), 10.0f);
    assert_string_equal(sl_safetensors_metadata(st, "format"), "pt");
    assert_string_equal(sl_safetensors_metadata(st, "source"), "make_io_fixtures.py");

    int64_t one = 1;
    sl_tensor *dst = sl_tensor_new(1, &one, NULL);
    sl_error err = {0};
    assert_int_equal(sl_safetensors_load_into(st, "scalar", dst, &err), SL_OK);
    assert_true(dst->data[0] == 42.5f);
    sl_tensor_free(dst);
    sl_safetensors_free(st);

    st = read_ok(golden(path, "valid_indented.safetensors"));
    assert_int_equal(sl_safetensors_count(st), 1);
    assert_ramp(sl_safetensors_get(st, "w"), 0.5f);
    sl_safetensors_free(st);

    st = read_ok(golden(path, "valid_empty.safetensors"));
    assert_int_equal(sl_safetensors_count(st), 0);
    sl_safetensors_free(st);
}

/* ---- malformed files ----------------------------------------------------------------- */

typedef struct bad_case {
    const char *file; /* tests/golden/safetensors/bad_<file>.safetensors */
    sl_status status;
    const char *needle; /* in the message, after the path */
} bad_case;

static const bad_case BAD[] = {
    {"empty_file", SL_ERR_FORMAT, "file is 0 bytes, too short for the 8-byte header length"},
    {"short_file", SL_ERR_FORMAT, "file is 3 bytes, too short"},
    {"header_len_beyond_file", SL_ERR_FORMAT,
     "header length 1000 exceeds the file size (10 bytes)"},
    {"header_len_huge", SL_ERR_FORMAT, "header length 1099511627776 exceeds the 100 MiB limit"},
    {"header_len_max", SL_ERR_FORMAT, "header length 18446744073709551615 exceeds the 100 MiB"},
    {"invalid_json", SL_ERR_FORMAT, "header is not valid JSON"},
    {"trailing_garbage", SL_ERR_FORMAT, "unexpected data after the JSON header"},
    {"header_not_object", SL_ERR_FORMAT, "header is not a JSON object"},
    {"invalid_utf8", SL_ERR_FORMAT, "header is not valid UTF-8 (at header byte 3)"},
    {"entry_not_object", SL_ERR_FORMAT, "tensor 'w': entry is not an object"},
    {"missing_dtype", SL_ERR_FORMAT, "tensor 'w': missing \"dtype\""},
    {"missing_shape", SL_ERR_FORMAT, "tensor 'w': missing \"shape\""},
    {"missing_offsets", SL_ERR_FORMAT, "tensor 'w': missing \"data_offsets\""},
    {"dtype_not_string", SL_ERR_FORMAT, "tensor 'w': \"dtype\" is not a string"},
    {"dtype_f8", SL_ERR_UNSUPPORTED, "tensor 'w': dtype F8_E5M2 is not supported"},
    {"dtype_f4", SL_ERR_UNSUPPORTED, "tensor 'w': dtype F4 is not supported"},
    {"dtype_f16_offsets", SL_ERR_FORMAT, "tensor 'w': data_offsets [0, 24] do not match shape "
                                         "[2, 3] (12 bytes)"},
    {"dtype_unknown", SL_ERR_FORMAT, "tensor 'w': unknown dtype 'FLOAT'"},
    /* bytes from the file never put control characters (terminal escapes) in a message */
    {"dtype_control_chars", SL_ERR_FORMAT, "tensor 'w': unknown dtype 'F?32?[0m'"},
    {"shape_not_array", SL_ERR_FORMAT, "tensor 'w': \"shape\" is not an array"},
    {"shape_negative", SL_ERR_FORMAT, "tensor 'w': shape[1] is not a non-negative integer"},
    {"shape_fraction", SL_ERR_FORMAT, "tensor 'w': shape[0] is not a non-negative integer"},
    {"shape_5d", SL_ERR_UNSUPPORTED, "tensor 'w': shape has 5 dimensions"},
    {"shape_zero", SL_ERR_UNSUPPORTED, "tensor 'w': shape [0, 3] has a zero dimension"},
    {"shape_overflow", SL_ERR_FORMAT, "tensor 'w': shape [1048576, 1048576, 1048576, 1048576] "
                                      "has more than 2^40 elements"},
    {"offsets_mismatch", SL_ERR_FORMAT, "tensor 'layers.0.weight': data_offsets [0, 12] do not "
                                        "match shape [2, 3] (24 bytes)"},
    {"offsets_reversed", SL_ERR_FORMAT, "tensor 'w': data_offsets [8, 0] end before they begin"},
    {"offsets_not_pair", SL_ERR_FORMAT, "tensor 'w': \"data_offsets\" is not a pair"},
    {"offsets_negative", SL_ERR_FORMAT,
     "tensor 'w': \"data_offsets\" is not a pair of non-negative integers"},
    {"offsets_overlap", SL_ERR_FORMAT,
     "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]"},
    {"offsets_gap", SL_ERR_FORMAT, "tensor 'b': data_offsets [12, 20] leave a gap: data bytes "
                                   "[8, 12) belong to no tensor"},
    {"offsets_not_from_zero", SL_ERR_FORMAT, "tensor 'w': data_offsets [4, 12] leave a gap: "
                                             "data bytes [0, 4) belong to no tensor"},
    {"truncated", SL_ERR_FORMAT,
     "file is truncated: the tensors need 24 data bytes, the file has 20"},
    {"trailing_data", SL_ERR_FORMAT, "4 bytes after the last tensor belong to no tensor"},
    {"duplicate_name", SL_ERR_FORMAT, "duplicate tensor name 'w'"},
    {"metadata_not_object", SL_ERR_FORMAT, "\"__metadata__\" is not an object"},
    {"metadata_value_not_string", SL_ERR_FORMAT,
     "\"__metadata__\": the value of 'epoch' is not a string"},
    {"metadata_duplicate_key", SL_ERR_FORMAT, "\"__metadata__\" has the key 'k' twice"},
    {"metadata_twice", SL_ERR_FORMAT, "\"__metadata__\" appears twice"},
};

#define N_BAD (sizeof BAD / sizeof *BAD)

/* The values tools/make_io_fixtures.py stored in each dtype, as floats. */
static void expect_values(const sl_safetensors *st, const char *name, const float *want, int n)
{
    const sl_tensor *t = sl_safetensors_get(st, name);
    if (!t)
        fail_msg("valid_dtypes: no tensor %s", name);
    assert_int_equal(t->size, n);
    for (int i = 0; i < n; i++)
        if (memcmp(&t->data[i], &want[i], sizeof(float)) != 0) /* bit-exact, -0 and inf too */
            fail_msg("valid_dtypes: %s[%d] = %.9g, expected %.9g", name, i, t->data[i], want[i]);
}

static void test_other_dtypes_convert(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    sl_safetensors *st = read_ok(golden(path, "valid_dtypes.safetensors"));
    expect_values(st, "f16", (const float[]){1.5f, -65504.0f}, 2);
    expect_values(st, "f16_edges", (const float[]){ldexpf(1.0f, -24), INFINITY, -0.0f}, 3);
    expect_values(st, "bf16", (const float[]){-3.5f, ldexpf(1.0f, 100)}, 2);
    expect_values(st, "f64", (const float[]){(float)0.1, INFINITY, -INFINITY, 3.0f}, 4);
    expect_values(st, "num_batches_tracked", (const float[]){12345.0f}, 1);
    expect_values(st, "i64", (const float[]){-ldexpf(1.0f, 40), 16777216.0f}, 2);
    expect_values(st, "i32", (const float[]){-7.0f, 2147483648.0f}, 2);
    expect_values(st, "i16", (const float[]){-32768.0f, 5.0f}, 2);
    expect_values(st, "i8", (const float[]){-128.0f, 127.0f}, 2);
    expect_values(st, "u64", (const float[]){ldexpf(1.0f, 64)}, 1);
    expect_values(st, "u32", (const float[]){4294967296.0f}, 1);
    expect_values(st, "u16", (const float[]){65535.0f}, 1);
    expect_values(st, "u8", (const float[]){0.0f, 255.0f}, 2);
    expect_values(st, "bool", (const float[]){1.0f, 0.0f, 1.0f}, 3);
    assert_int_equal(sl_safetensors_get(st, "f64")->ndim, 2);
    assert_int_equal(sl_safetensors_get(st, "num_batches_tracked")->ndim, 1); /* [] as [1] */
    sl_safetensors_free(st);
}

static void test_malformed_fixtures(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_BAD; i++) {
        char name[256], path[PATH_MAX_LEN], want[PATH_MAX_LEN + 256];
        snprintf(name, sizeof name, "bad_%s.safetensors", BAD[i].file);
        golden(path, name);
        sl_error err = {0};
        sl_safetensors *st = sl_safetensors_read(path, &err);
        if (st || err.status != BAD[i].status)
            fail_msg("%s: expected %s, got %s: %s", name, sl_status_name(BAD[i].status),
                     sl_status_name(err.status), err.message);
        snprintf(want, sizeof want, "%s: %s", path, BAD[i].needle);
        assert_contains(err.message, want);
    }
}

/* Every bad_* fixture on disk has a row in BAD (the script and the table stay in step). */
static void test_every_fixture_is_listed(void **state)
{
    (void)state;
    DIR *d = opendir(tu_source_path(GOLDEN));
    assert_non_null(d);
    size_t seen = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "bad_", 4) != 0)
            continue;
        size_t i = 0;
        char want[256];
        for (; i < N_BAD; i++) {
            snprintf(want, sizeof want, "bad_%s.safetensors", BAD[i].file);
            if (strcmp(e->d_name, want) == 0)
                break;
        }
        if (i == N_BAD)
            fail_msg("fixture %s has no row in BAD", e->d_name);
        seen++;
    }
    closedir(d);
    assert_int_equal(seen, N_BAD);
}

static void test_read_errors(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    sl_error err = {0};
    assert_null(sl_safetensors_read(scratch(path, "does-not-exist.safetensors"), &err));
    assert_int_equal(err.status, SL_ERR_READ);
    assert_contains(err.message, path);
    assert_contains(err.message, "No such file");

    assert_null(sl_safetensors_read(g_dir, &err));
    assert_int_equal(err.status, SL_ERR_READ);
    assert_contains(err.message, "not a regular file");

    assert_null(sl_safetensors_read(NULL, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);

    sl_safetensors_free(NULL);
    assert_int_equal(sl_safetensors_count(NULL), 0);
    assert_null(sl_safetensors_get(NULL, "w"));
}

/* ---- load_into ------------------------------------------------------------------------ */

static void test_load_into(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    ckpt c;
    ckpt_make(&c, 3.0f);
    write_ok(scratch(path, "load.safetensors"), &c);
    sl_safetensors *st = read_ok(path);
    sl_error err = {0};

    int64_t good[2] = {2, 3}, bad[2] = {3, 2};
    sl_tensor *dst = sl_tensor_new(2, good, NULL);
    assert_int_equal(sl_safetensors_load_into(st, "layers.0.weight", dst, &err), SL_OK);
    assert_memory_equal(dst->data, c.t[0]->data, 6 * sizeof(float));
    sl_tensor_free(dst);

    dst = sl_tensor_new(2, bad, NULL);
    sl_tensor_fill(dst, 7.0f);
    assert_int_equal(sl_safetensors_load_into(st, "layers.0.weight", dst, &err), SL_ERR_SHAPE);
    assert_contains(err.message, path);
    assert_contains(err.message, "tensor 'layers.0.weight': shape [2, 3] in the file does not "
                                 "match the destination's shape [3, 2]");
    for (int i = 0; i < 6; i++)
        assert_true(dst->data[i] == 7.0f); /* untouched */

    assert_int_equal(sl_safetensors_load_into(st, "layers.1.weight", dst, &err), SL_ERR_FORMAT);
    assert_contains(err.message, "no tensor named 'layers.1.weight'");
    assert_int_equal(sl_safetensors_load_into(st, NULL, dst, &err), SL_ERR_INVALID);
    assert_int_equal(sl_safetensors_load_into(NULL, "a", dst, &err), SL_ERR_INVALID);
    sl_tensor_free(dst);
    sl_safetensors_free(st);
    ckpt_free(&c);
}

/* ---- atomicity ------------------------------------------------------------------------- */

/* A write(2) that fails with ENOSPC after limit bytes, and can also give short writes and EINTR. */
typedef struct fault {
    size_t limit;     /* bytes accepted before ENOSPC */
    size_t max_chunk; /* 0, or the most bytes one call writes */
    int eintr_every;  /* 0, or every how many calls fail with EINTR */
    size_t written;
    int calls;
} fault;

static ssize_t faulty_write(void *ctx, int fd, const void *buf, size_t n)
{
    fault *f = ctx;
    f->calls++;
    if (f->eintr_every && f->calls % f->eintr_every == 0) {
        errno = EINTR;
        return -1;
    }
    if (f->written >= f->limit) {
        errno = ENOSPC;
        return -1;
    }
    if (n > f->limit - f->written)
        n = f->limit - f->written; /* a disk filling up: a short write first */
    if (f->max_chunk && n > f->max_chunk)
        n = f->max_chunk;
    ssize_t w = write(fd, buf, n);
    if (w > 0)
        f->written += (size_t)w;
    return w;
}

static sl_status write_with_fault(const char *path, const ckpt *c, fault *f, sl_error *err)
{
    sl_io_hooks hooks = {faulty_write, f};
    return sl_io_safetensors_write_hooked(path, c->nt, CK_TENSORS, c->meta, CK_META, &hooks, err);
}

static void test_failed_write_keeps_previous_file(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    ckpt old, new;
    ckpt_make(&old, 0.0f);
    ckpt_make(&new, 100.0f);
    write_ok(scratch(path, "atomic.safetensors"), &old);
    size_t len;
    unsigned char *before = slurp(path, &len);

    const size_t limits[] = {0, 1, 7, 8, 9, 64, len / 2, len - 1};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        fault f = {.limit = limits[i]};
        sl_error err = {0};
        assert_int_equal(write_with_fault(path, &new, &f, &err), SL_ERR_IO);
        assert_contains(err.message, path);
        assert_contains(err.message, strerror(ENOSPC));
        assert_file_equals(path, before, len);
        assert_int_equal(count_temp_files(), 0);
    }
    free(before);
    ckpt_free(&old);
    ckpt_free(&new);
}

static void test_short_writes_and_eintr(void **state)
{
    (void)state;
    char plain[PATH_MAX_LEN], choppy[PATH_MAX_LEN];
    ckpt c;
    ckpt_make(&c, 5.0f);
    write_ok(scratch(plain, "plain.safetensors"), &c);
    fault f = {.limit = (size_t)-1, .max_chunk = 3, .eintr_every = 2};
    sl_error err = {0};
    assert_int_equal(write_with_fault(scratch(choppy, "choppy.safetensors"), &c, &f, &err), SL_OK);
    size_t len;
    unsigned char *bytes = slurp(plain, &len);
    assert_true(f.calls > (int)(len / 3)); /* the hook really wrote it, 3 bytes at a time */
    assert_file_equals(choppy, bytes, len);
    assert_int_equal(count_temp_files(), 0);
    free(bytes);
    ckpt_free(&c);
}

static void test_missing_directory(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    ckpt c;
    ckpt_make(&c, 0.0f);
    scratch(path, "no/such/dir/x.safetensors");
    sl_error err = {0};
    assert_int_equal(sl_safetensors_write(path, c.nt, CK_TENSORS, NULL, 0, &err), SL_ERR_IO);
    assert_contains(err.message, path);
    assert_contains(err.message, "No such file or directory");
    assert_int_equal(access(path, F_OK), -1);
    ckpt_free(&c);
}

static void test_file_mode(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    struct stat sb;
    ckpt c;
    ckpt_make(&c, 0.0f);
    write_ok(scratch(path, "mode.safetensors"), &c);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644); /* not mkstemp's 0600 */
    assert_int_equal(chmod(path, 0600), 0);
    write_ok(path, &c);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600); /* a replaced file keeps its mode */
    ckpt_free(&c);
}

/* ---- what the target path already is ---------------------------------------------------- */

/* A write(2) hook that notes how many temporary files dir holds while the writer writes. */
typedef struct temp_probe {
    const char *dir;
    int seen; /* the most temporary files dir held during a write */
} temp_probe;

static ssize_t probing_write(void *ctx, int fd, const void *buf, size_t n)
{
    temp_probe *p = ctx;
    int k = count_temp_files_in(p->dir);
    if (k > p->seen)
        p->seen = k;
    return write(fd, buf, n);
}

static void assert_symlink_to(const char *link, const char *text)
{
    struct stat sb;
    char got[PATH_MAX_LEN];
    assert_int_equal(lstat(link, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    ssize_t n = readlink(link, got, sizeof got - 1);
    assert_true(n >= 0);
    got[n] = '\0';
    assert_string_equal(got, text);
}

/* A write to path fails with SL_ERR_IO, a message naming path and saying why, no temp file. */
static void expect_refused(const char *path, const char *needle)
{
    ckpt c;
    ckpt_make(&c, 9.0f);
    sl_error err = {0};
    assert_int_equal(sl_safetensors_write(path, c.nt, CK_TENSORS, c.meta, CK_META, &err),
                     SL_ERR_IO);
    assert_contains(err.message, path);
    assert_contains(err.message, needle);
    assert_int_equal(count_temp_files(), 0);
    ckpt_free(&c);
}

static void test_symlink_written_through(void **state)
{
    (void)state;
    char real[PATH_MAX_LEN], link[PATH_MAX_LEN], chain[PATH_MAX_LEN], want[PATH_MAX_LEN];
    ckpt old, new;
    ckpt_make(&old, 0.0f);
    ckpt_make(&new, 50.0f);
    write_ok(scratch(want, "want.safetensors"), &new); /* the bytes expected through the link */
    size_t len;
    unsigned char *bytes = slurp(want, &len);

    write_ok(scratch(real, "real.safetensors"), &old);
    assert_int_equal(chmod(real, 0600), 0);
    assert_int_equal(symlink("real.safetensors", scratch(link, "link.safetensors")), 0);
    assert_int_equal(symlink("link.safetensors", scratch(chain, "chain.safetensors")), 0);

    write_ok(link, &new);
    assert_symlink_to(link, "real.safetensors"); /* the link itself is left in place */
    assert_file_equals(real, bytes, len);
    struct stat sb;
    assert_int_equal(stat(real, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600); /* the target keeps its mode */
    assert_int_equal(count_temp_files(), 0);

    /* A chain of links ends at the same file. */
    write_ok(real, &old);
    write_ok(chain, &new);
    assert_symlink_to(chain, "link.safetensors");
    assert_symlink_to(link, "real.safetensors");
    assert_file_equals(real, bytes, len);
    assert_int_equal(count_temp_files(), 0);
    free(bytes);
    ckpt_free(&old);
    ckpt_free(&new);
}

/* The temporary file goes beside the file the link leads to, not beside the link. */
static void test_symlink_temp_file_beside_target(void **state)
{
    (void)state;
    char sub[PATH_MAX_LEN], real[PATH_MAX_LEN], link[PATH_MAX_LEN];
    ckpt c;
    ckpt_make(&c, 2.0f);
    assert_int_equal(mkdir(scratch(sub, "sub"), 0755), 0);
    write_ok(scratch(real, "sub/deep.safetensors"), &c);
    assert_int_equal(symlink("sub/deep.safetensors", scratch(link, "deep-link.safetensors")), 0);

    temp_probe beside_link = {g_dir, 0}, beside_target = {sub, 0};
    sl_io_hooks hooks = {probing_write, &beside_target};
    sl_error err = {0};
    assert_int_equal(sl_io_safetensors_write_hooked(link, c.nt, CK_TENSORS, NULL, 0, &hooks, &err),
                     SL_OK);
    hooks.ctx = &beside_link;
    assert_int_equal(sl_io_safetensors_write_hooked(link, c.nt, CK_TENSORS, NULL, 0, &hooks, &err),
                     SL_OK);
    assert_int_equal(beside_target.seen, 1);
    assert_int_equal(beside_link.seen, 0);
    assert_symlink_to(link, "sub/deep.safetensors");
    assert_int_equal(count_temp_files_in(sub), 0);

    assert_int_equal(unlink(real), 0);
    assert_int_equal(rmdir(sub), 0);
    ckpt_free(&c);
}

static void test_fifo_refused(void **state)
{
    (void)state;
    char fifo[PATH_MAX_LEN], link[PATH_MAX_LEN];
    struct stat sb;
    assert_int_equal(mkfifo(scratch(fifo, "fifo.safetensors"), 0644), 0);
    expect_refused(fifo, "/fifo.safetensors' is a FIFO, not a regular file; refusing to "
                         "replace it");
    assert_int_equal(lstat(fifo, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));

    /* Through a symlink: refused too, both left as they were. */
    assert_int_equal(symlink("fifo.safetensors", scratch(link, "fifo-link.safetensors")), 0);
    expect_refused(link, "', a FIFO, not a regular file; refusing to replace it");
    assert_symlink_to(link, "fifo.safetensors");
    assert_int_equal(lstat(fifo, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
}

static void test_directory_refused(void **state)
{
    (void)state;
    char dir[PATH_MAX_LEN];
    struct stat sb;
    assert_int_equal(mkdir(scratch(dir, "dir.safetensors"), 0755), 0);
    expect_refused(dir, "is a directory, not a regular file; refusing to replace it");
    assert_int_equal(lstat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(count_temp_files_in(dir), 0);
}

static void test_dangling_symlink_refused(void **state)
{
    (void)state;
    char link[PATH_MAX_LEN], nowhere[PATH_MAX_LEN];
    assert_int_equal(symlink("nowhere.safetensors", scratch(link, "dangling.safetensors")), 0);
    expect_refused(link, "is a dangling symbolic link");
    assert_symlink_to(link, "nowhere.safetensors");
    assert_int_equal(access(scratch(nowhere, "nowhere.safetensors"), F_OK), -1);
}

/* ---- bad arguments to the writer ------------------------------------------------------- */

static void expect_invalid(const char *path, const sl_named_tensor *nt, size_t n, const sl_kv *meta,
                           size_t n_meta, const char *needle)
{
    sl_error err = {0};
    assert_int_equal(sl_safetensors_write(path, nt, n, meta, n_meta, &err), SL_ERR_INVALID);
    assert_contains(err.message, path);
    assert_contains(err.message, needle);
}

static void test_write_rejects_bad_arguments(void **state)
{
    (void)state;
    char path[PATH_MAX_LEN];
    ckpt c;
    ckpt_make(&c, 0.0f);
    write_ok(scratch(path, "args.safetensors"), &c);
    size_t len;
    unsigned char *before = slurp(path, &len);

    sl_named_tensor nt[2] = {c.nt[0], c.nt[1]};
    nt[1].name = nt[0].name;
    expect_invalid(path, nt, 2, NULL, 0, "duplicate tensor name 'layers.0.weight'");
    nt[1].name = "__metadata__";
    expect_invalid(path, nt, 2, NULL, 0, "tensor 1: the name '__metadata__' is reserved");
    nt[1].name = "";
    expect_invalid(path, nt, 2, NULL, 0, "tensor 1 has no name");
    nt[1].name = NULL;
    expect_invalid(path, nt, 2, NULL, 0, "tensor 1 has no name");
    nt[1].name = "bad\xff";
    expect_invalid(path, nt, 2, NULL, 0, "tensor 1: name is not valid UTF-8");
    nt[1] = (sl_named_tensor){"b", NULL};
    expect_invalid(path, nt, 2, NULL, 0, "tensor 'b' is NULL or has no data");
    expect_invalid(path, NULL, 2, NULL, 0, "tensors or metadata is NULL");

    sl_kv meta[2] = {{"k", "1"}, {"k", "2"}};
    expect_invalid(path, c.nt, 1, meta, 2, "duplicate metadata key 'k'");
    meta[1] = (sl_kv){"v", NULL};
    expect_invalid(path, c.nt, 1, meta, 2, "metadata entry 1 is NULL");
    meta[1] = (sl_kv){"v", "\xc3"};
    expect_invalid(path, c.nt, 1, meta, 2, "metadata entry 1 is not valid UTF-8");

    sl_error err = {0};
    assert_int_equal(sl_safetensors_write(NULL, c.nt, 1, NULL, 0, &err), SL_ERR_INVALID);
    assert_file_equals(path, before, len);
    assert_int_equal(count_temp_files(), 0);
    free(before);
    ckpt_free(&c);
}

/* ---- setup --------------------------------------------------------------------------------- */

static int make_scratch_dir(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "io_test.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int remove_scratch_dir(void **state)
{
    (void)state;
    DIR *d = opendir(g_dir);
    if (!d)
        return -1;
    char path[PATH_MAX_LEN];
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove(scratch(path, e->d_name));
    closedir(d);
    return rmdir(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_written_file_parses_by_hand),
        cmocka_unit_test(test_empty_checkpoint),
        cmocka_unit_test(test_every_bit_flip_refused),
        cmocka_unit_test(test_checksum_keys_must_be_whole),
        cmocka_unit_test(test_write_refuses_oversized_header),
        cmocka_unit_test(test_python_fixtures),
        cmocka_unit_test(test_other_dtypes_convert),
        cmocka_unit_test(test_malformed_fixtures),
        cmocka_unit_test(test_every_fixture_is_listed),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_load_into),
        cmocka_unit_test(test_failed_write_keeps_previous_file),
        cmocka_unit_test(test_short_writes_and_eintr),
        cmocka_unit_test(test_missing_directory),
        cmocka_unit_test(test_file_mode),
        cmocka_unit_test(test_symlink_written_through),
        cmocka_unit_test(test_symlink_temp_file_beside_target),
        cmocka_unit_test(test_fifo_refused),
        cmocka_unit_test(test_directory_refused),
        cmocka_unit_test(test_dangling_symlink_refused),
        cmocka_unit_test(test_write_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, make_scratch_dir, remove_scratch_dir);
}
