/*
 * fuzz_csv.c - the CSV reader, raw and gzip.
 *
 * Input layout: byte 0 flags (bit 0: gzip the file; bits 1-2 num_classes:
 * 0 (infer), 3, 1, 10; bits 3-5 the readers' limits, fuzz_set_reader_limits), then
 * the CSV text.  An accepted dataset is read
 * back whole (fuzz_check_dataset).
 */
#include <stdlib.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const int class_choice[4] = {0, 3, 1, 10};
    unsigned flags = data[0];
    data++;
    size--;
    const char *path;
    if (flags & 1) {
        size_t zn = 0;
        unsigned char *z = fuzz_gzip(data, size, &zn);
        if (!z)
            fuzz_fail("gzip failed");
        path = fuzz_file(0, z, zn);
        free(z);
    } else {
        path = fuzz_file(0, data, size);
    }
    fuzz_set_reader_limits(flags >> 3);
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_load_csv(path, class_choice[(flags >> 1) & 3], &err);
    if (!ds) {
        fuzz_check_error(&err, "sl_dataset_load_csv");
        if (err.status != SL_ERR_FORMAT && err.status != SL_ERR_READ && err.status != SL_ERR_NOMEM)
            fuzz_fail("sl_dataset_load_csv: unexpected %s: %s", sl_status_name(err.status),
                      err.message);
        return 0;
    }
    if (sl_dataset_type(ds) != SL_DATA_F32)
        fuzz_fail("a CSV dataset is not stored as floats");
    fuzz_check_dataset(ds);
    sl_dataset_free(ds);
    return 0;
}
