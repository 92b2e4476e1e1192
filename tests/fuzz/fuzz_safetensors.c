/*
 * fuzz_safetensors.c - the safetensors (checkpoint) reader.
 *
 * Input: a whole .safetensors file.  An accepted file is walked (every
 * tensor by index and by name, every metadata entry, load_into a tensor of
 * the same shape) and written back with sl_safetensors_write: the writer
 * must take what the reader gave, and reading the copy must give the same
 * names, shapes, bits and metadata.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static void same_contents(const sl_safetensors *a, const sl_safetensors *b)
{
    size_t n = sl_safetensors_count(a);
    if (sl_safetensors_count(b) != n)
        fuzz_fail("round trip: %zu tensors became %zu", n, sl_safetensors_count(b));
    for (size_t i = 0; i < n; i++) {
        sl_named_tensor x = sl_safetensors_at(a, i), y = sl_safetensors_at(b, i);
        if (!y.name || strcmp(x.name, y.name) != 0)
            fuzz_fail("round trip: tensor %zu renamed", i);
        if (x.tensor->ndim != y.tensor->ndim || x.tensor->size != y.tensor->size ||
            memcmp(x.tensor->shape, y.tensor->shape, sizeof x.tensor->shape) != 0 ||
            memcmp(x.tensor->data, y.tensor->data, (size_t)x.tensor->size * sizeof(float)) != 0)
            fuzz_fail("round trip: tensor %s changed", x.name);
    }
    size_t m = sl_safetensors_metadata_count(a);
    if (sl_safetensors_metadata_count(b) != m)
        fuzz_fail("round trip: %zu metadata entries became %zu", m,
                  sl_safetensors_metadata_count(b));
    for (size_t i = 0; i < m; i++) {
        sl_kv x = sl_safetensors_metadata_at(a, i);
        const char *v = sl_safetensors_metadata(b, x.key);
        if (!v || strcmp(v, x.value) != 0)
            fuzz_fail("round trip: metadata %s changed", x.key);
    }
}

static void walk(const sl_safetensors *st)
{
    size_t n = sl_safetensors_count(st);
    sl_named_tensor *all = calloc(n ? n : 1, sizeof *all);
    if (!all)
        fuzz_fail("out of memory");
    for (size_t i = 0; i < n; i++) {
        sl_named_tensor nt = sl_safetensors_at(st, i);
        if (!nt.name || !nt.tensor)
            fuzz_fail("tensor %zu of %zu is missing", i, n);
        if (sl_safetensors_get(st, nt.name) != nt.tensor)
            fuzz_fail("get(%s) is not at(%zu)", nt.name, i);
        const sl_tensor *t = nt.tensor;
        if (t->ndim < 1 || t->ndim > SL_MAX_DIMS || t->size < 1)
            fuzz_fail("tensor %s: ndim %d, size %lld", nt.name, t->ndim, (long long)t->size);
        sl_error err = {0};
        sl_tensor *copy = sl_tensor_new(t->ndim, t->shape, &err);
        if (!copy)
            fuzz_fail("tensor %s: %s", nt.name, err.message);
        if (sl_safetensors_load_into(st, nt.name, copy, &err) != SL_OK)
            fuzz_fail("load_into(%s): %s", nt.name, err.message);
        if (memcmp(copy->data, t->data, (size_t)t->size * sizeof(float)) != 0)
            fuzz_fail("load_into(%s) changed the data", nt.name);
        sl_tensor_free(copy);
        all[i] = nt;
    }
    if (sl_safetensors_at(st, n).name != NULL)
        fuzz_fail("at(count) is not empty");
    size_t m = sl_safetensors_metadata_count(st);
    sl_kv *meta = calloc(m ? m : 1, sizeof *meta);
    if (!meta)
        fuzz_fail("out of memory");
    for (size_t i = 0; i < m; i++) {
        meta[i] = sl_safetensors_metadata_at(st, i);
        if (!meta[i].key || !meta[i].value)
            fuzz_fail("metadata %zu of %zu is missing", i, m);
        if (sl_safetensors_metadata(st, meta[i].key) != meta[i].value)
            fuzz_fail("metadata(%s) is not metadata_at(%zu)", meta[i].key, i);
    }

    char path[1024];
    snprintf(path, sizeof path, "%s/round-trip.safetensors", fuzz_dir());
    sl_error err = {0};
    /* The reader takes a tensor named "" (other tools write them); the writer does not. */
    int empty_name = 0;
    for (size_t i = 0; i < n; i++)
        empty_name |= all[i].name[0] == '\0';
    if (sl_safetensors_write(path, all, n, meta, m, &err) != SL_OK) {
        if (err.status != SL_ERR_IO && err.status != SL_ERR_NOMEM &&
            !(empty_name && err.status == SL_ERR_INVALID))
            fuzz_fail("the writer refuses what the reader accepted: %s", err.message);
    } else {
        sl_safetensors *back = sl_safetensors_read(path, &err);
        if (!back)
            fuzz_fail("the written copy does not read back: %s", err.message);
        same_contents(st, back);
        sl_safetensors_free(back);
    }
    free(meta);
    free(all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_error err = {0};
    sl_safetensors *st = sl_safetensors_read(fuzz_file(0, data, size), &err);
    if (!st) {
        fuzz_check_error(&err, "sl_safetensors_read");
        if (err.status != SL_ERR_FORMAT && err.status != SL_ERR_UNSUPPORTED &&
            err.status != SL_ERR_READ && err.status != SL_ERR_NOMEM)
            fuzz_fail("sl_safetensors_read: unexpected %s: %s", sl_status_name(err.status),
                      err.message);
        return 0;
    }
    walk(st);
    sl_safetensors_free(st);
    return 0;
}
