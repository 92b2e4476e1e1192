/*
 * slope/io.h - checkpoints in the safetensors format.
 *
 * A safetensors file is: an 8-byte little-endian unsigned header length N,
 * N bytes of UTF-8 JSON, then the raw tensor data.  The JSON maps each
 * tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * into the data section) and may hold "__metadata__": string -> string.
 *
 * slope writes dtype F32, stored little-endian.  It reads F32, and also F16,
 * BF16, F64, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL, each converted to
 * float as it loads: F16 and BF16 exactly, F64 rounded to nearest (beyond
 * the float range to +-inf), integers to the nearest float (exact up to
 * 2^24: torch's I64 num_batches_tracked loads as it is), BOOL to 0 or 1.
 * Files made by other tools (PyTorch, NumPy, ...) load as long as every
 * tensor has one of those dtypes and 1..4 dimensions, none of them zero.  A
 * scalar (shape []) loads as shape [1], since slope tensors have at least
 * one dimension.
 *
 * Every error message starts with the file's path, and names the tensor or
 * key at fault when there is one.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 *
 * Checksums.  Every file slope writes carries CRC32s (zlib's crc32) in its
 * "__metadata__", as 8 lowercase hex digits:
 *   - "slope.header_crc32", always the first metadata entry, so the header
 *     begins {"__metadata__":{"slope.header_crc32":"XXXXXXXX": the CRC32 of
 *     the 8 length bytes followed by the whole header (padding included),
 *     computed with these 8 digits written as "00000000";
 *   - "slope.crc32.<tensor name>" for each tensor: the CRC32 of its data
 *     bytes as stored (little-endian F32).
 * Together they cover every byte of the file, so any single flipped bit is
 * detected.  The reader checks the header CRC before parsing the JSON and
 * each tensor's as it reads it, and refuses a mismatch with SL_ERR_FORMAT:
 * "FILE: tensor 'layers.1.weight': CRC32 mismatch (stored 0x..., computed
 * 0x...): the file is corrupt" (or "FILE: header: CRC32 mismatch ...").
 * A file with no such key at all (written by PyTorch, or by slope before
 * checksums) loads unchecked; a file with some but not all of them, or a
 * value that is not 8 lowercase hex digits, is refused as corrupt.
 * The checksum keys are not listed by sl_safetensors_metadata*, and keys of
 * that form given to sl_safetensors_write are ignored (it writes its own).
 */
#ifndef SLOPE_IO_H
#define SLOPE_IO_H

#include <stddef.h>

#include "slope/error.h"
#include "slope/export.h"
#include "slope/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A tensor with its name (borrowed pointers: slope neither copies nor frees them). */
typedef struct sl_named_tensor {
    const char *name;
    const sl_tensor *tensor;
} sl_named_tensor;

/** A metadata entry: a UTF-8 key and its UTF-8 value (borrowed). */
typedef struct sl_kv {
    const char *key;
    const char *value;
} sl_kv;

/**
 * Writes tensors[0..n) (in that order, both in the header and in the data)
 * and the metadata to path, atomically: the data goes to a temporary file
 * "<path>.tmp.XXXXXX" in the same directory, which is synced, renamed over
 * path, and the directory synced.  On failure the temporary file is removed
 * and whatever was at path before is left untouched.  A new file gets mode
 * 0644; a replaced file keeps its mode.
 *
 * Only a regular file is replaced.  When path is a symbolic link the write
 * goes through it: the file the link finally leads to (realpath) is replaced,
 * with the temporary file in that file's directory, and the link itself stays.
 * A dangling symbolic link, a directory, a device, a FIFO or a socket at path
 * (or where its link leads) is refused with SL_ERR_IO before anything is
 * created ("'/dev/null' is a character device, not a regular file; refusing
 * to replace it").
 *
 * Names must be distinct, non-empty, valid UTF-8 and not "__metadata__";
 * metadata keys must be distinct; keys and values must be valid UTF-8.
 * n == 0 writes a valid file with no tensors (its "__metadata__" holds just
 * the header's checksum); metadata may be NULL when n_meta == 0.
 *
 * Errors: SL_ERR_INVALID for a bad argument (NULL, duplicate or bad name,
 * a tensor whose size does not match its shape), and for a header that would
 * exceed the readers' 100 MiB limit (long metadata: "the header would be N
 * bytes or more, over the readers' 100 MiB limit ...; nothing was written"),
 * refused before anything is created, so the file at path stays as it was; SL_ERR_NOMEM; SL_ERR_IO
 * when the file cannot be created, written, synced or renamed, or path is
 * not (a symbolic link to) a regular file or a new name.
 */
SL_API sl_status sl_safetensors_write(const char *path, const sl_named_tensor *tensors, size_t n,
                                      const sl_kv *metadata, size_t n_meta, sl_error *err);

/** A loaded checkpoint: owns its tensors, names and metadata. */
typedef struct sl_safetensors sl_safetensors;

/**
 * Reads and validates a whole safetensors file.  Returns NULL on error.
 *
 * Errors: SL_ERR_READ when the file cannot be opened or read (or is not a
 * regular file); SL_ERR_FORMAT for any malformed content: a file shorter than
 * 8 bytes, a header length beyond the file or above 100 MiB, a header that is
 * not UTF-8 JSON or not an object, an entry that is not an object or lacks
 * dtype/shape/data_offsets, an unknown dtype, a negative or non-integer
 * dimension, a shape with more than 2^40 elements, data_offsets that do not
 * match the shape, overlap, leave gaps, or do not cover the data section
 * exactly (a truncated file), duplicate names, a "__metadata__" that is not
 * an object of strings, a checksum that does not match or is incomplete
 * (see Checksums above).  SL_ERR_UNSUPPORTED for a valid dtype slope does not
 * read (F8_E5M2, F8_E4M3, F8_E8M0, F6_E2M3, F6_E3M2, F4),
 * more than 4 dimensions, or a zero dimension (an empty tensor).
 * SL_ERR_NOMEM when memory runs out.
 */
SL_API sl_safetensors *sl_safetensors_read(const char *path, sl_error *err);

/** Frees st, its tensors and strings.  NULL is a no-op. */
SL_API void sl_safetensors_free(sl_safetensors *st);

/** The number of tensors. */
SL_API size_t sl_safetensors_count(const sl_safetensors *st);

/**
 * The i-th tensor in header order (for files slope wrote: the order given to
 * sl_safetensors_write).  {NULL, NULL} when i >= count.  Both pointers are
 * owned by st and valid until sl_safetensors_free; the result can be passed
 * straight back to sl_safetensors_write.
 */
SL_API sl_named_tensor sl_safetensors_at(const sl_safetensors *st, size_t i);

/** The tensor called name, or NULL when there is none.  Owned by st. */
SL_API const sl_tensor *sl_safetensors_get(const sl_safetensors *st, const char *name);

/** The number of "__metadata__" entries. */
SL_API size_t sl_safetensors_metadata_count(const sl_safetensors *st);

/** The i-th metadata entry in file order; {NULL, NULL} when i >= count.  Owned by st. */
SL_API sl_kv sl_safetensors_metadata_at(const sl_safetensors *st, size_t i);

/** The metadata value for key, or NULL when absent.  Owned by st. */
SL_API const char *sl_safetensors_metadata(const sl_safetensors *st, const char *key);

/**
 * Copies the tensor called name into dst->data.  The shapes must be equal
 * (same ndim and dimensions; a file scalar counts as shape [1]).
 * Errors: SL_ERR_INVALID for a NULL argument; SL_ERR_FORMAT when the file
 * has no such tensor; SL_ERR_SHAPE when the shapes differ (the message
 * names the tensor and both shapes).  dst is unchanged on error.
 */
SL_API sl_status sl_safetensors_load_into(const sl_safetensors *st, const char *name,
                                          sl_tensor *dst, sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
