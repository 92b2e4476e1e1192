/*
 * io_write.c - the safetensors writer.
 *
 * Layout written: u64le header length N, N bytes of JSON padded with spaces
 * so the data starts at a multiple of 8, then each tensor's floats as
 * little-endian F32, in the order given, back to back.
 *
 * The metadata always opens with the checksums (slope/io.h has the scheme):
 * "slope.header_crc32" first, written as "00000000" while the header's CRC
 * is computed and patched in afterwards, then "slope.crc32.<name>" for each
 * tensor, then the caller's entries.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "alloc.h"
#include "text.h"
#include "io_internal.h"

#define METADATA_KEY "__metadata__"
#define CHUNK_FLOATS 8192 /* floats encoded per write: 32 KiB on the stack */

/* ---- argument checks ------------------------------------------------------- */

static int is_utf8(const char *s)
{
    size_t n = strlen(s);
    return sl_io_utf8_prefix(s, n) == n;
}

static sl_status check_tensor(const char *path, size_t i, const sl_named_tensor *nt,
                              sl_error *err)
{
    const char *name = nt->name;
    if (!name || !*name)
        return sl_io_fail(err, SL_ERR_INVALID, path, "tensor %zu has no name", i);
    if (!is_utf8(name))
        return sl_io_fail(err, SL_ERR_INVALID, path, "tensor %zu: name is not valid UTF-8", i);
    if (strcmp(name, METADATA_KEY) == 0)
        return sl_io_fail(err, SL_ERR_INVALID, path,
                          "tensor %zu: the name '" METADATA_KEY "' is reserved", i);
    const sl_tensor *t = nt->tensor;
    if (!t || !t->data)
        return sl_io_fail(err, SL_ERR_INVALID, path, "tensor '%s' is NULL or has no data", name);
    int64_t size;
    if (sl_shape_size(t->ndim, t->shape, &size, NULL) != SL_OK || size != t->size)
        return sl_io_fail(err, SL_ERR_INVALID, path, "tensor '%s' has an invalid shape", name);
    return SL_OK;
}

static sl_status check_metadata(const char *path, const sl_kv *metadata, size_t n_meta,
                                sl_error *err)
{
    for (size_t i = 0; i < n_meta; i++) {
        const sl_kv *kv = &metadata[i];
        if (!kv->key || !kv->value)
            return sl_io_fail(err, SL_ERR_INVALID, path, "metadata entry %zu is NULL", i);
        if (!is_utf8(kv->key) || !is_utf8(kv->value))
            return sl_io_fail(err, SL_ERR_INVALID, path,
                              "metadata entry %zu is not valid UTF-8", i);
    }
    return SL_OK;
}

/* Collects n strings (from structs of the given stride) and reports one that repeats. */
static sl_status check_unique(const char *path, const char *what, const char *const *first,
                              size_t stride, size_t n, sl_error *err)
{
    const char **names = sl_malloc((n ? n : 1) * sizeof *names);
    if (!names)
        return sl_io_fail(err, SL_ERR_NOMEM, path, "out of memory");
    for (size_t i = 0; i < n; i++)
        names[i] = *(const char *const *)((const char *)first + i * stride);
    const char *dup = sl_io_sorted_duplicate(names, n);
    sl_status s = SL_OK;
    if (dup)
        s = sl_io_fail(err, SL_ERR_INVALID, path, "duplicate %s '%s'", what, dup);
    sl_free(names);
    return s;
}

static sl_status header_too_big(const char *path, uint64_t bytes, sl_error *err)
{
    return sl_io_fail(err, SL_ERR_INVALID, path,
                      "the header would be %" PRIu64 " bytes or more, over the readers' "
                      "100 MiB limit (%" PRIu64 " bytes); nothing was written",
                      bytes, SL_IO_MAX_HEADER);
}

/*
 * The names, keys and values alone already over the header limit: refused
 * before anything is scanned or built (build_header checks the exact size).
 */
static sl_status check_text_size(const char *path, const sl_named_tensor *tensors, size_t n,
                                 const sl_kv *metadata, size_t n_meta, sl_error *err)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n && total <= SL_IO_MAX_HEADER; i++)
        total += tensors[i].name ? strlen(tensors[i].name) : 0;
    for (size_t i = 0; i < n_meta && total <= SL_IO_MAX_HEADER; i++) {
        total += metadata[i].key ? strlen(metadata[i].key) : 0;
        total += metadata[i].value ? strlen(metadata[i].value) : 0;
    }
    return total > SL_IO_MAX_HEADER ? header_too_big(path, total, err) : SL_OK;
}

static sl_status check_args(const char *path, const sl_named_tensor *tensors, size_t n,
                            const sl_kv *metadata, size_t n_meta, sl_error *err)
{
    if (!path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_safetensors_write: path is NULL");
    if ((n && !tensors) || (n_meta && !metadata))
        return sl_io_fail(err, SL_ERR_INVALID, path, "tensors or metadata is NULL");
    sl_status s0 = check_text_size(path, tensors, n, metadata, n_meta, err);
    if (s0)
        return s0;
    for (size_t i = 0; i < n; i++) {
        sl_status s = check_tensor(path, i, &tensors[i], err);
        if (s)
            return s;
    }
    sl_status s = check_metadata(path, metadata, n_meta, err);
    if (!s && n)
        s = check_unique(path, "tensor name", &tensors[0].name, sizeof *tensors, n, err);
    if (!s && n_meta)
        s = check_unique(path, "metadata key", &metadata[0].key, sizeof *metadata, n_meta, err);
    return s;
}

/* ---- the JSON header: a growing string ------------------------------------- */

static void text_json_chars(sl_text *t, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sl_text_printf(t, "\\%c", c);
        else if (c < 0x20)
            sl_text_printf(t, "\\u%04x", c);
        else
            sl_text_append(t, s, 1);
    }
}

/* Appends s as a JSON string literal. */
static void text_json_string(sl_text *t, const char *s)
{
    sl_text_puts(t, "\"");
    text_json_chars(t, s);
    sl_text_puts(t, "\"");
}

/* A caller's key that the writer sets itself (and so skips). */
static int is_checksum_key(const char *key)
{
    return strcmp(key, SL_IO_CRC_HEADER) == 0 ||
           strncmp(key, SL_IO_CRC_TENSOR, strlen(SL_IO_CRC_TENSOR)) == 0;
}

static void header_checksums(sl_text *t, const sl_named_tensor *tensors, const uint32_t *crcs,
                             size_t n)
{
    sl_text_puts(t, "\"" SL_IO_CRC_HEADER "\":\"00000000\"");
    for (size_t i = 0; i < n; i++) {
        sl_text_puts(t, ",\"" SL_IO_CRC_TENSOR);
        text_json_chars(t, tensors[i].name);
        sl_text_printf(t, "\":\"%08lx\"", (unsigned long)crcs[i]);
    }
}

static void header_metadata(sl_text *t, const sl_named_tensor *tensors, const uint32_t *crcs,
                            size_t n, const sl_kv *metadata, size_t n_meta)
{
    sl_text_puts(t, "{\"" METADATA_KEY "\":{");
    header_checksums(t, tensors, crcs, n);
    for (size_t i = 0; i < n_meta; i++) {
        if (is_checksum_key(metadata[i].key))
            continue;
        sl_text_puts(t, ",");
        text_json_string(t, metadata[i].key);
        sl_text_puts(t, ":");
        text_json_string(t, metadata[i].value);
    }
    sl_text_puts(t, "}");
}

static void header_tensor(sl_text *t, const sl_named_tensor *nt, uint64_t begin, uint64_t end)
{
    const sl_tensor *x = nt->tensor;
    text_json_string(t, nt->name);
    sl_text_puts(t, ":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < x->ndim; d++)
        sl_text_printf(t, "%s%" PRId64, d ? "," : "", x->shape[d]);
    sl_text_printf(t, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", begin, end);
}

/* The CRC32 of the length field and the header (its own digits still "00000000"). */
static uint32_t header_crc(const sl_text *t)
{
    unsigned char len[8];
    sl_io_put_u64le(len, t->len);
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, len, sizeof len);
    c = crc32(c, (const Bytef *)t->p, (uInt)t->len); /* <= 100 MiB, checked before */
    return (uint32_t)c;
}

/*
 * The header JSON, padded with spaces so that 8 + length is a multiple of 8,
 * its CRC patched in.  A header the reader would refuse (over 100 MiB) is
 * refused here, before anything is written.
 */
static sl_status build_header(const char *path, const sl_named_tensor *tensors, size_t n,
                              const uint32_t *crcs, const sl_kv *metadata, size_t n_meta,
                              sl_text *t, sl_error *err)
{
    header_metadata(t, tensors, crcs, n, metadata, n_meta);
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)tensors[i].tensor->size * sizeof(float);
        sl_text_puts(t, ",");
        header_tensor(t, &tensors[i], offset, offset + bytes);
        offset += bytes;
    }
    sl_text_puts(t, "}");
    while (!t->failed && (8 + t->len) % 8 != 0)
        sl_text_puts(t, " ");
    if (t->failed)
        return sl_io_fail(err, SL_ERR_NOMEM, path, "out of memory for the header");
    if (t->len > SL_IO_MAX_HEADER)
        return header_too_big(path, t->len, err);
    char digits[9];
    snprintf(digits, sizeof digits, "%08lx", (unsigned long)header_crc(t));
    memcpy(t->p + strlen(SL_IO_CRC_PREFIX), digits, 8);
    return SL_OK;
}

/* Each tensor's CRC32 over its little-endian bytes, as they will be written. */
static void tensor_crcs(const sl_named_tensor *tensors, size_t n, uint32_t *crcs)
{
    unsigned char chunk[CHUNK_FLOATS * 4];
    for (size_t i = 0; i < n; i++) {
        const float *x = tensors[i].tensor->data;
        int64_t left = tensors[i].tensor->size;
        uLong c = crc32(0L, Z_NULL, 0);
        while (left > 0) {
            size_t k = left < CHUNK_FLOATS ? (size_t)left : CHUNK_FLOATS;
            for (size_t j = 0; j < k; j++)
                sl_io_put_f32le(chunk + 4 * j, x[j]);
            c = crc32(c, chunk, (uInt)(4 * k));
            x += k;
            left -= (int64_t)k;
        }
        crcs[i] = (uint32_t)c;
    }
}

/* ---- the body ---------------------------------------------------------------- */

static sl_status write_f32le(sl_io_atomic *f, const float *x, int64_t n, sl_error *err)
{
    unsigned char chunk[CHUNK_FLOATS * 4];
    while (n > 0) {
        size_t k = n < CHUNK_FLOATS ? (size_t)n : CHUNK_FLOATS;
        for (size_t i = 0; i < k; i++)
            sl_io_put_f32le(chunk + 4 * i, x[i]);
        sl_status s = sl_io_atomic_write(f, chunk, 4 * k, err);
        if (s)
            return s;
        x += k;
        n -= (int64_t)k;
    }
    return SL_OK;
}

static sl_status write_body(sl_io_atomic *f, const sl_text *header, const sl_named_tensor *tensors,
                            size_t n, sl_error *err)
{
    unsigned char len[8];
    sl_io_put_u64le(len, header->len);
    sl_status s = sl_io_atomic_write(f, len, sizeof len, err);
    if (!s)
        s = sl_io_atomic_write(f, header->p, header->len, err);
    for (size_t i = 0; i < n && !s; i++)
        s = write_f32le(f, tensors[i].tensor->data, tensors[i].tensor->size, err);
    return s;
}

sl_status sl_io_safetensors_write_hooked(const char *path, const sl_named_tensor *tensors,
                                         size_t n, const sl_kv *metadata, size_t n_meta,
                                         const sl_io_hooks *hooks, sl_error *err)
{
    sl_status s = check_args(path, tensors, n, metadata, n_meta, err);
    if (s)
        return s;
    sl_text header = {0};
    uint32_t *crcs = sl_malloc((n ? n : 1) * sizeof *crcs);
    if (!crcs)
        return sl_io_fail(err, SL_ERR_NOMEM, path, "out of memory");
    tensor_crcs(tensors, n, crcs);
    s = build_header(path, tensors, n, crcs, metadata, n_meta, &header, err);
    sl_free(crcs);
    sl_io_atomic f;
    if (!s)
        s = sl_io_atomic_open(&f, path, hooks, err);
    if (!s) {
        s = write_body(&f, &header, tensors, n, err);
        if (s)
            sl_io_atomic_abort(&f);
        else
            s = sl_io_atomic_commit(&f, err);
    }
    sl_free(header.p);
    return s;
}

sl_status sl_safetensors_write(const char *path, const sl_named_tensor *tensors, size_t n,
                               const sl_kv *metadata, size_t n_meta, sl_error *err)
{
    return sl_io_safetensors_write_hooked(path, tensors, n, metadata, n_meta, NULL, err);
}
