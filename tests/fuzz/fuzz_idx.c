/*
 * fuzz_idx.c - the IDX reader, raw and gzip.
 *
 * Input layout:
 *   byte 0     flags: bit 0 gzip the images file, bit 1 gzip the labels file
 *              (the harness compresses them, so the mutator works on the
 *              plain bytes; raw inputs may still carry their own 1f 8b
 *              streams), bits 2-3 num_classes: 0 (infer), 10, 1, 256,
 *              bits 4-5 the memory budget (fuzz_set_reader_limits)
 *   bytes 1-2  little-endian length L of the images file
 *   then       L bytes of images file, the rest is the labels file
 * Both go to in-memory files and through sl_dataset_load_idx; an accepted
 * dataset is read back whole (fuzz_check_dataset).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static const char *store(int slot, const uint8_t *p, size_t n, int gzip)
{
    if (!gzip)
        return fuzz_file(slot, p, n);
    size_t zn = 0;
    unsigned char *z = fuzz_gzip(p, n, &zn);
    if (!z)
        fuzz_fail("gzip failed");
    const char *path = fuzz_file(slot, z, zn);
    free(z);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const int class_choice[4] = {0, 10, 1, 256};
    unsigned flags = data[0];
    size_t split = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (split > size)
        split = size;
    const char *images = store(0, data, split, flags & 1);
    const char *labels = store(1, data + split, size - split, flags & 2);

    sl_error err = {0};
    fuzz_set_reader_limits((flags >> 4) & 3);
    sl_dataset *ds = sl_dataset_load_idx(images, labels, class_choice[(flags >> 2) & 3], &err);
    if (!ds) {
        fuzz_check_error(&err, "sl_dataset_load_idx");
        if (err.status != SL_ERR_FORMAT && err.status != SL_ERR_READ && err.status != SL_ERR_NOMEM)
            fuzz_fail("sl_dataset_load_idx: unexpected %s: %s", sl_status_name(err.status),
                      err.message);
        return 0;
    }
    if (sl_dataset_type(ds) != SL_DATA_U8)
        fuzz_fail("an IDX dataset is not stored as bytes");
    fuzz_check_dataset(ds);
    sl_dataset_free(ds);
    return 0;
}
