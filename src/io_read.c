/*
 * io_read.c - the safetensors reader.
 *
 * Reading goes: header length, header bytes, UTF-8 + JSON parse (cJSON),
 * one entry per tensor (dtype, shape, data_offsets), then checks across
 * entries (unique names; offsets contiguous from 0 and covering the data
 * section exactly), and only then allocation and reading of the data, so a
 * malformed header never makes us allocate more than the file holds.
 *
 * Checksums (slope/io.h): a header that starts the way slope's writer starts
 * it has its CRC checked before the JSON is parsed, so a flipped bit reads as
 * "CRC32 mismatch" rather than some odd JSON error; once parsed, a file with
 * any checksum key must have all of them, and each tensor's data is checked
 * against its CRC as it is read.
 */
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "alloc.h"
#include "io_internal.h"

#define METADATA_KEY "__metadata__"
#define MAX_EXACT_DOUBLE 9007199254740992.0 /* 2^53: beyond it doubles skip integers */
#define SHAPE_STR_MAX 128

typedef struct st_entry {
    char *name;
    int file_ndim;              /* the rank in the file: 0 for a scalar */
    int64_t shape[SL_MAX_DIMS]; /* the file's dims; a scalar gets [1] */
    int64_t size;               /* elements */
    int dtype;                  /* SL_IO_F32, ... (io_internal.h) */
    uint64_t begin, end;        /* data_offsets */
    uint32_t crc;               /* stored CRC32 of the data, when the file has checksums */
    sl_tensor *tensor;
} st_entry;

struct sl_safetensors {
    char *path;
    st_entry *entries; /* header order */
    size_t n;
    st_entry **by_name; /* sorted by name, for lookup */
    char **meta;        /* key0, value0, key1, value1, ... */
    size_t n_meta;
    int header_crc_ok; /* the header began with slope's checksum and it matched */
};

/* The file being read. */
typedef struct reader {
    const char *path;
    int fd;
    uint64_t file_size;
    uint64_t data_start; /* 8 + header length */
} reader;

/* Dtypes of the format that slope does not read (anything else it reads, or is unknown). */
static const char *const OTHER_DTYPES[] = {
    "F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",
};

static sl_status entry_fail(sl_error *err, sl_status status, const char *path, const char *name,
                            const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Records "path: tensor 'name': <message>". */
static sl_status entry_fail(sl_error *err, sl_status status, const char *path, const char *name,
                            const char *fmt, ...)
{
    char msg[SL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sl_io_fail(err, status, path, "tensor '%s': %s", name, msg);
}

/* ---- the file ---------------------------------------------------------------- */

static sl_status errno_fail(sl_error *err, const char *path, const char *what)
{
    char reason[128];
    sl_io_strerror(errno, reason, sizeof reason);
    return sl_io_fail(err, SL_ERR_READ, path, "%s: %s", what, reason);
}

static sl_status open_file(reader *r, sl_error *err)
{
    /* Never blocks on a FIFO; refuses whatever is not a regular file. */
    r->fd = sl_io_open_regular(r->path, &r->file_size, err);
    return r->fd < 0 ? SL_ERR_READ : SL_OK;
}

/* Reads exactly n bytes at offset; running into the end of file is a truncation. */
static sl_status read_at(const reader *r, void *buf, size_t n, uint64_t offset, sl_error *err)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t k = pread(r->fd, p, n, (off_t)offset);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return errno_fail(err, r->path, "cannot read");
        if (k == 0)
            return sl_io_fail(err, SL_ERR_FORMAT, r->path, "file is truncated (it shrank?)");
        p += k;
        n -= (size_t)k;
        offset += (uint64_t)k;
    }
    return SL_OK;
}

/* Reads the header length and the header into *json (malloc'd, NUL-terminated). */
static sl_status read_header(reader *r, char **json, size_t *len, sl_error *err)
{
    unsigned char b[8];
    if (r->file_size < sizeof b)
        return sl_io_fail(err, SL_ERR_FORMAT, r->path,
                          "file is %" PRIu64 " bytes, too short for the 8-byte header length",
                          r->file_size);
    sl_status s = read_at(r, b, sizeof b, 0, err);
    if (s)
        return s;
    uint64_t n = sl_io_get_u64le(b);
    if (n > SL_IO_MAX_HEADER)
        return sl_io_fail(err, SL_ERR_FORMAT, r->path,
                          "header length %" PRIu64 " exceeds the 100 MiB limit", n);
    if (n > r->file_size - sizeof b)
        return sl_io_fail(err, SL_ERR_FORMAT, r->path,
                          "header length %" PRIu64 " exceeds the file size (%" PRIu64 " bytes)",
                          n, r->file_size);
    *json = sl_malloc((size_t)n + 1);
    if (!*json)
        return sl_io_fail(err, SL_ERR_NOMEM, r->path, "out of memory for the header");
    (*json)[n] = '\0';
    *len = (size_t)n;
    r->data_start = sizeof b + n;
    return read_at(r, *json, (size_t)n, sizeof b, err);
}

/* ---- one tensor entry ----------------------------------------------------------- */

/* A JSON number that is an exact non-negative integer. */
static int json_u64(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return 0;
    double d = item->valuedouble;
    if (!(d >= 0.0 && d <= MAX_EXACT_DOUBLE) || (double)(uint64_t)d != d)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

/* The member key of entry, which must exist and be a JSON array or string. */
static sl_status field(const char *path, const cJSON *entry, const char *name, const char *key,
                       int want_array, const cJSON **out, sl_error *err)
{
    *out = cJSON_GetObjectItemCaseSensitive(entry, key);
    if (!*out)
        return entry_fail(err, SL_ERR_FORMAT, path, name, "missing \"%s\"", key);
    if (want_array ? !cJSON_IsArray(*out) : !cJSON_IsString(*out))
        return entry_fail(err, SL_ERR_FORMAT, path, name, "\"%s\" is not %s", key,
                          want_array ? "an array" : "a string");
    return SL_OK;
}

static sl_status parse_dtype(const char *path, const cJSON *entry, st_entry *e, sl_error *err)
{
    const cJSON *dtype;
    const char *name = e->name;
    sl_status s = field(path, entry, name, "dtype", 0, &dtype, err);
    if (s)
        return s;
    const char *d = dtype->valuestring;
    e->dtype = sl_io_dtype_parse(d);
    if (e->dtype >= 0)
        return SL_OK;
    for (size_t i = 0; i < sizeof OTHER_DTYPES / sizeof *OTHER_DTYPES; i++)
        if (strcmp(d, OTHER_DTYPES[i]) == 0)
            return entry_fail(err, SL_ERR_UNSUPPORTED, path, name,
                              "dtype %s is not supported (slope reads F32, F16, BF16, F64, "
                              "integers and BOOL)", d);
    return entry_fail(err, SL_ERR_FORMAT, path, name, "unknown dtype '%s'", d);
}

static sl_status parse_shape(const char *path, const cJSON *entry, st_entry *e, sl_error *err)
{
    const cJSON *shape, *dim;
    sl_status s = field(path, entry, e->name, "shape", 1, &shape, err);
    if (s)
        return s;
    int ndim = 0;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t v;
        if (!json_u64(dim, &v))
            return entry_fail(err, SL_ERR_FORMAT, path, e->name,
                              "shape[%d] is not a non-negative integer", ndim);
        if (ndim < SL_MAX_DIMS)
            e->shape[ndim] = (int64_t)v;
        ndim++;
    }
    if (ndim > SL_MAX_DIMS)
        return entry_fail(err, SL_ERR_UNSUPPORTED, path, e->name,
                          "shape has %d dimensions; slope supports at most %d", ndim, SL_MAX_DIMS);
    e->file_ndim = ndim;
    char str[SHAPE_STR_MAX];
    sl_io_shape_str(ndim, e->shape, str, sizeof str);
    for (int d = 0; d < ndim; d++)
        if (e->shape[d] == 0)
            return entry_fail(err, SL_ERR_UNSUPPORTED, path, e->name,
                              "shape %s has a zero dimension (empty tensors are not supported)",
                              str);
    if (ndim == 0)
        e->shape[0] = 1; /* a scalar is read as shape [1] */
    if (sl_shape_size(ndim ? ndim : 1, e->shape, &e->size, NULL) != SL_OK)
        return entry_fail(err, SL_ERR_FORMAT, path, e->name,
                          "shape %s has more than 2^40 elements", str);
    return SL_OK;
}

static sl_status parse_offsets(const char *path, const cJSON *entry, st_entry *e, sl_error *err)
{
    const cJSON *offsets;
    sl_status s = field(path, entry, e->name, "data_offsets", 1, &offsets, err);
    if (s)
        return s;
    if (cJSON_GetArraySize(offsets) != 2 || !json_u64(cJSON_GetArrayItem(offsets, 0), &e->begin) ||
        !json_u64(cJSON_GetArrayItem(offsets, 1), &e->end))
        return entry_fail(err, SL_ERR_FORMAT, path, e->name,
                          "\"data_offsets\" is not a pair of non-negative integers");
    if (e->end < e->begin)
        return entry_fail(err, SL_ERR_FORMAT, path, e->name,
                          "data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                          e->begin, e->end);
    uint64_t bytes = (uint64_t)e->size * sl_io_dtype_size(e->dtype);
    if (e->end - e->begin != bytes) {
        char str[SHAPE_STR_MAX];
        return entry_fail(err, SL_ERR_FORMAT, path, e->name,
                          "data_offsets [%" PRIu64 ", %" PRIu64 "] do not match shape %s (%" PRIu64
                          " bytes)",
                          e->begin, e->end,
                          sl_io_shape_str(e->file_ndim, e->shape, str, sizeof str), bytes);
    }
    return SL_OK;
}

static sl_status parse_entry(const char *path, const cJSON *item, st_entry *e, sl_error *err)
{
    e->name = sl_io_strdup(item->string);
    if (!e->name)
        return sl_io_fail(err, SL_ERR_NOMEM, path, "out of memory");
    if (!cJSON_IsObject(item))
        return entry_fail(err, SL_ERR_FORMAT, path, e->name, "entry is not an object");
    sl_status s = parse_dtype(path, item, e, err);
    if (!s)
        s = parse_shape(path, item, e, err);
    if (!s)
        s = parse_offsets(path, item, e, err);
    return s;
}

/* ---- the header as a whole -------------------------------------------------------- */

static sl_status parse_metadata(sl_safetensors *st, const cJSON *item, sl_error *err)
{
    if (!cJSON_IsObject(item))
        return sl_io_fail(err, SL_ERR_FORMAT, st->path, "\"" METADATA_KEY "\" is not an object");
    size_t n = 0;
    const cJSON *kv;
    cJSON_ArrayForEach(kv, item) n++;
    st->meta = sl_calloc(2 * n + 1, sizeof *st->meta);
    if (!st->meta)
        return sl_io_fail(err, SL_ERR_NOMEM, st->path, "out of memory");
    cJSON_ArrayForEach(kv, item) {
        if (!cJSON_IsString(kv))
            return sl_io_fail(err, SL_ERR_FORMAT, st->path,
                              "\"" METADATA_KEY "\": the value of '%s' is not a string",
                              kv->string);
        char **pair = st->meta + 2 * st->n_meta++;
        pair[0] = sl_io_strdup(kv->string);
        pair[1] = sl_io_strdup(kv->valuestring);
        if (!pair[0] || !pair[1])
            return sl_io_fail(err, SL_ERR_NOMEM, st->path, "out of memory");
    }
    return SL_OK;
}

static sl_status check_metadata_keys(sl_safetensors *st, sl_error *err)
{
    const char **keys = sl_malloc((st->n_meta + 1) * sizeof *keys);
    if (!keys)
        return sl_io_fail(err, SL_ERR_NOMEM, st->path, "out of memory");
    for (size_t i = 0; i < st->n_meta; i++)
        keys[i] = st->meta[2 * i];
    const char *dup = sl_io_sorted_duplicate(keys, st->n_meta);
    sl_status s = SL_OK;
    if (dup)
        s = sl_io_fail(err, SL_ERR_FORMAT, st->path,
                       "\"" METADATA_KEY "\" has the key '%s' twice", dup);
    sl_free(keys);
    return s;
}

static int is_metadata(const cJSON *item)
{
    return strcmp(item->string, METADATA_KEY) == 0;
}

static sl_status parse_root(sl_safetensors *st, const cJSON *root, sl_error *err)
{
    size_t n = 0, n_meta = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (is_metadata(item))
            n_meta++;
        else
            n++;
    }
    if (n_meta > 1)
        return sl_io_fail(err, SL_ERR_FORMAT, st->path, "\"" METADATA_KEY "\" appears twice");
    st->entries = sl_calloc(n + 1, sizeof *st->entries);
    if (!st->entries)
        return sl_io_fail(err, SL_ERR_NOMEM, st->path, "out of memory");
    cJSON_ArrayForEach(item, root) {
        sl_status s = is_metadata(item) ? parse_metadata(st, item, err)
                                        : parse_entry(st->path, item, &st->entries[st->n++], err);
        if (s)
            return s;
    }
    return check_metadata_keys(st, err);
}

/* ---- checksums -------------------------------------------------------------------- */

/* Exactly 8 lowercase hex digits (what the writer prints), so no flip goes unseen. */
static int parse_crc(const char *v, uint32_t *out)
{
    uint32_t c = 0;
    for (int i = 0; i < 8; i++) {
        char d = v[i];
        if (d >= '0' && d <= '9')
            c = c * 16 + (uint32_t)(d - '0');
        else if (d >= 'a' && d <= 'f')
            c = c * 16 + (uint32_t)(d - 'a' + 10);
        else
            return 0;
    }
    *out = c;
    return v[8] == '\0' || v[8] == '"';
}

static sl_status corrupt(sl_error *err, const char *path, const char *what, uint32_t stored,
                         uint32_t computed)
{
    return sl_io_fail(err, SL_ERR_FORMAT, path,
                      "%s: CRC32 mismatch (stored 0x%08lx, computed 0x%08lx): the file is corrupt",
                      what, (unsigned long)stored, (unsigned long)computed);
}

/*
 * When the header starts with slope's header checksum, checks it: CRC32 of
 * the 8 length bytes and the header, the 8 digits counted as "00000000".
 */
static sl_status check_header_crc(sl_safetensors *st, char *json, size_t len, sl_error *err)
{
    size_t at = strlen(SL_IO_CRC_PREFIX);
    uint32_t stored;
    if (len < at + 9 || memcmp(json, SL_IO_CRC_PREFIX, at) != 0 || json[at + 8] != '"' ||
        !parse_crc(json + at, &stored))
        return SL_OK; /* not slope's layout: the checks after parsing decide */
    char digits[8];
    memcpy(digits, json + at, 8);
    memset(json + at, '0', 8);
    unsigned char b[8];
    sl_io_put_u64le(b, len);
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, b, sizeof b);
    c = crc32(c, (const Bytef *)json, (uInt)len); /* len <= 100 MiB */
    memcpy(json + at, digits, 8);
    if ((uint32_t)c != stored)
        return corrupt(err, st->path, "header", stored, (uint32_t)c);
    st->header_crc_ok = 1;
    return SL_OK;
}

static int is_crc_key(const char *key)
{
    return strcmp(key, SL_IO_CRC_HEADER) == 0 ||
           strncmp(key, SL_IO_CRC_TENSOR, strlen(SL_IO_CRC_TENSOR)) == 0;
}

static st_entry *find_entry(const sl_safetensors *st, const char *name);

/* The checksums, once checked, are not shown as metadata (the writer makes its own). */
static void drop_crc_keys(sl_safetensors *st)
{
    size_t kept = 0;
    for (size_t i = 0; i < st->n_meta; i++) {
        char *key = st->meta[2 * i], *value = st->meta[2 * i + 1];
        if (is_crc_key(key)) {
            sl_free(key);
            sl_free(value);
            continue;
        }
        st->meta[2 * kept] = key;
        st->meta[2 * kept + 1] = value;
        kept++;
    }
    st->n_meta = kept;
}

/*
 * A file with any checksum key must be a whole checksummed file: the header
 * CRC checked, one well-formed CRC per tensor, none for a tensor not there.
 * A file with none (PyTorch's, older slope files) is read unchecked.
 */
static sl_status check_crc_keys(sl_safetensors *st, sl_error *err)
{
    size_t n_crc = 0;
    for (size_t i = 0; i < st->n_meta; i++)
        n_crc += (size_t)is_crc_key(st->meta[2 * i]);
    if (n_crc == 0 && !st->header_crc_ok)
        return SL_OK;
    if (!st->header_crc_ok)
        return sl_io_fail(err, SL_ERR_FORMAT, st->path,
                          "the header's checksum is missing or misplaced: the file is corrupt");
    for (size_t i = 0; i < st->n_meta; i++) {
        const char *key = st->meta[2 * i], *v = st->meta[2 * i + 1];
        if (!is_crc_key(key) || strcmp(key, SL_IO_CRC_HEADER) == 0)
            continue;
        st_entry *e = find_entry(st, key + strlen(SL_IO_CRC_TENSOR));
        if (!e || !parse_crc(v, &e->crc) || v[8] != '\0')
            return sl_io_fail(err, SL_ERR_FORMAT, st->path,
                              "metadata '%s' is not a CRC32 of a tensor: the file is corrupt",
                              key);
    }
    if (n_crc != st->n + 1)
        return sl_io_fail(err, SL_ERR_FORMAT, st->path,
                          "%zu checksums for %zu tensors: the file is corrupt", n_crc - 1, st->n);
    drop_crc_keys(st);
    return SL_OK;
}

static sl_status parse_header(sl_safetensors *st, const char *json, size_t len, sl_error *err)
{
    size_t valid = sl_io_utf8_prefix(json, len);
    if (valid != len)
        return sl_io_fail(err, SL_ERR_FORMAT, st->path,
                          "header is not valid UTF-8 (at header byte %zu)", valid);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root)
        return sl_io_fail(err, SL_ERR_FORMAT, st->path,
                          "header is not valid JSON (error at header byte %zu)",
                          end ? (size_t)(end - json) : (size_t)0);
    sl_status s = SL_OK;
    for (const char *p = end; p < json + len && !s; p++)
        if (!strchr(" \t\r\n", *p) || *p == '\0')
            s = sl_io_fail(err, SL_ERR_FORMAT, st->path,
                           "unexpected data after the JSON header (at header byte %zu)",
                           (size_t)(p - json));
    if (!s && !cJSON_IsObject(root))
        s = sl_io_fail(err, SL_ERR_FORMAT, st->path, "header is not a JSON object");
    if (!s)
        s = parse_root(st, root, err);
    cJSON_Delete(root);
    return s;
}

static int compare_by_name(const void *a, const void *b)
{
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

static int compare_by_offset(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* A malloc'd array of pointers to the entries, sorted with compare. */
static st_entry **sorted_entries(const sl_safetensors *st,
                                 int (*compare)(const void *, const void *))
{
    st_entry **v = sl_malloc((st->n + 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < st->n; i++)
        v[i] = &st->entries[i];
    qsort(v, st->n, sizeof *v, compare);
    return v;
}

static sl_status check_names(sl_safetensors *st, sl_error *err)
{
    st->by_name = sorted_entries(st, compare_by_name);
    if (!st->by_name)
        return sl_io_fail(err, SL_ERR_NOMEM, st->path, "out of memory");
    for (size_t i = 1; i < st->n; i++)
        if (strcmp(st->by_name[i - 1]->name, st->by_name[i]->name) == 0)
            return sl_io_fail(err, SL_ERR_FORMAT, st->path, "duplicate tensor name '%s'",
                              st->by_name[i]->name);
    return SL_OK;
}

/* The offsets, sorted, must tile [0, data_size) exactly. */
static sl_status check_offsets(const sl_safetensors *st, uint64_t data_size, sl_error *err)
{
    st_entry **v = sorted_entries(st, compare_by_offset);
    if (!v)
        return sl_io_fail(err, SL_ERR_NOMEM, st->path, "out of memory");
    sl_status s = SL_OK;
    uint64_t expect = 0;
    for (size_t i = 0; i < st->n && !s; i++) {
        const st_entry *e = v[i];
        if (e->begin < expect)
            s = entry_fail(err, SL_ERR_FORMAT, st->path, e->name,
                           "data_offsets [%" PRIu64 ", %" PRIu64 "] overlap tensor '%s' [%" PRIu64
                           ", %" PRIu64 "]",
                           e->begin, e->end, v[i - 1]->name, v[i - 1]->begin, v[i - 1]->end);
        else if (e->begin > expect)
            s = entry_fail(err, SL_ERR_FORMAT, st->path, e->name,
                           "data_offsets [%" PRIu64 ", %" PRIu64 "] leave a gap: "
                           "data bytes [%" PRIu64 ", %" PRIu64 ") belong to no tensor",
                           e->begin, e->end, expect, e->begin);
        expect = e->end;
    }
    sl_free(v);
    if (!s && expect > data_size)
        s = sl_io_fail(err, SL_ERR_FORMAT, st->path,
                       "file is truncated: the tensors need %" PRIu64
                       " data bytes, the file has %" PRIu64,
                       expect, data_size);
    if (!s && expect < data_size)
        s = sl_io_fail(err, SL_ERR_FORMAT, st->path,
                       "%" PRIu64 " bytes after the last tensor belong to no tensor",
                       data_size - expect);
    return s;
}

/* ---- the data ------------------------------------------------------------------------ */

/* Reads e's bytes as stored, checks their CRC when the file has them, converts to floats.
 * F32 is read in place; other dtypes through a buffer of their own size. */
static sl_status load_entry(const sl_safetensors *st, const reader *r, st_entry *e,
                            sl_error *err)
{
    size_t bytes = (size_t)e->size * sl_io_dtype_size(e->dtype);
    unsigned char *raw = e->dtype == SL_IO_F32 ? (unsigned char *)e->tensor->data : sl_malloc(bytes);
    if (!raw)
        return entry_fail(err, SL_ERR_NOMEM, st->path, e->name, "out of memory for %zu bytes",
                          bytes);
    sl_status s = read_at(r, raw, bytes, r->data_start + e->begin, err);
    if (!s && st->header_crc_ok) {
        uLong c = crc32_z(crc32(0L, Z_NULL, 0), (const Bytef *)raw, bytes);
        if ((uint32_t)c != e->crc)
            s = entry_fail(err, SL_ERR_FORMAT, st->path, e->name,
                           "CRC32 mismatch (stored 0x%08lx, computed 0x%08lx): the file is "
                           "corrupt",
                           (unsigned long)e->crc, (unsigned long)c);
    }
    if (!s)
        sl_io_dtype_to_f32(e->dtype, raw, e->tensor->data, e->size);
    if (raw != (unsigned char *)e->tensor->data)
        sl_free(raw);
    return s;
}

static sl_status load_data(sl_safetensors *st, const reader *r, sl_error *err)
{
    for (size_t i = 0; i < st->n; i++) {
        st_entry *e = &st->entries[i];
        e->tensor = sl_tensor_new(e->file_ndim ? e->file_ndim : 1, e->shape, NULL);
        if (!e->tensor)
            return entry_fail(err, SL_ERR_NOMEM, st->path, e->name,
                              "out of memory for %" PRId64 " floats", e->size);
        sl_status s = load_entry(st, r, e, err);
        if (s)
            return s;
    }
    return SL_OK;
}

static sl_status read_file(sl_safetensors *st, reader *r, sl_error *err)
{
    char *json = NULL;
    size_t len = 0;
    sl_status s = open_file(r, err);
    if (!s)
        s = read_header(r, &json, &len, err);
    if (!s)
        s = check_header_crc(st, json, len, err);
    if (!s)
        s = parse_header(st, json, len, err);
    sl_free(json);
    if (!s)
        s = check_names(st, err);
    if (!s)
        s = check_crc_keys(st, err);
    if (!s)
        s = check_offsets(st, r->file_size - r->data_start, err);
    if (!s)
        s = load_data(st, r, err);
    return s;
}

sl_safetensors *sl_safetensors_read(const char *path, sl_error *err)
{
    if (!path) {
        sl_error_set(err, SL_ERR_INVALID, "sl_safetensors_read: path is NULL");
        return NULL;
    }
    sl_safetensors *st = sl_calloc(1, sizeof *st);
    if (st)
        st->path = sl_io_strdup(path);
    if (!st || !st->path) {
        sl_free(st);
        sl_io_fail(err, SL_ERR_NOMEM, path, "out of memory");
        return NULL;
    }
    reader r = {.path = path, .fd = -1};
    sl_status s = read_file(st, &r, err);
    if (r.fd >= 0)
        close(r.fd);
    if (s) {
        sl_safetensors_free(st);
        return NULL;
    }
    return st;
}

void sl_safetensors_free(sl_safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++) {
        sl_free(st->entries[i].name);
        sl_tensor_free(st->entries[i].tensor);
    }
    for (size_t i = 0; i < 2 * st->n_meta; i++)
        sl_free(st->meta[i]);
    sl_free(st->entries);
    sl_free(st->by_name);
    sl_free(st->meta);
    sl_free(st->path);
    sl_free(st);
}

/* ---- access ---------------------------------------------------------------------------- */

size_t sl_safetensors_count(const sl_safetensors *st)
{
    return st ? st->n : 0;
}

sl_named_tensor sl_safetensors_at(const sl_safetensors *st, size_t i)
{
    sl_named_tensor nt = {NULL, NULL};
    if (st && i < st->n) {
        nt.name = st->entries[i].name;
        nt.tensor = st->entries[i].tensor;
    }
    return nt;
}

/* Binary search in by_name. */
static const st_entry *find(const sl_safetensors *st, const char *name)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->by_name[mid]->name);
        if (c == 0)
            return st->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static st_entry *find_entry(const sl_safetensors *st, const char *name)
{
    return (st_entry *)find(st, name);
}

const sl_tensor *sl_safetensors_get(const sl_safetensors *st, const char *name)
{
    const st_entry *e = st && name ? find(st, name) : NULL;
    return e ? e->tensor : NULL;
}

size_t sl_safetensors_metadata_count(const sl_safetensors *st)
{
    return st ? st->n_meta : 0;
}

sl_kv sl_safetensors_metadata_at(const sl_safetensors *st, size_t i)
{
    sl_kv kv = {NULL, NULL};
    if (st && i < st->n_meta) {
        kv.key = st->meta[2 * i];
        kv.value = st->meta[2 * i + 1];
    }
    return kv;
}

const char *sl_safetensors_metadata(const sl_safetensors *st, const char *key)
{
    for (size_t i = 0; st && key && i < st->n_meta; i++)
        if (strcmp(st->meta[2 * i], key) == 0)
            return st->meta[2 * i + 1];
    return NULL;
}

sl_status sl_safetensors_load_into(const sl_safetensors *st, const char *name,
                                   sl_tensor *dst, sl_error *err)
{
    if (!st || !name || !dst)
        return sl_error_set(err, SL_ERR_INVALID, "sl_safetensors_load_into: NULL argument");
    const st_entry *e = find(st, name);
    if (!e)
        return sl_io_fail(err, SL_ERR_FORMAT, st->path, "no tensor named '%s'", name);
    if (!sl_tensor_same_shape(e->tensor, dst)) {
        char have[SHAPE_STR_MAX], want[SHAPE_STR_MAX];
        return entry_fail(err, SL_ERR_SHAPE, st->path, name,
                          "shape %s in the file does not match the destination's shape %s",
                          sl_io_shape_str(e->file_ndim, e->shape, have, sizeof have),
                          sl_io_shape_str(dst->ndim, dst->shape, want, sizeof want));
    }
    memcpy(dst->data, e->tensor->data, (size_t)e->size * sizeof(float));
    return SL_OK;
}
