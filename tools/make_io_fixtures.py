#!/usr/bin/env python3
"""Writes the safetensors fixtures of tests/test_io.c into tests/golden/safetensors/.

Python standard library only, and deterministic: running it again gives the
same bytes, so the committed files can be checked against this script.

A safetensors file is: u64 little-endian header length N, N bytes of UTF-8
JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{str: str}}, then the data section.  The valid_* files are written here
independently of slope's writer; every other file is malformed in exactly one
way, and tests/test_io.c lists the status and message each one must give.

Usage: python3 tools/make_io_fixtures.py [output_dir]
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "tests", "golden", "safetensors")


def values(n, start):
    """n floats start, start + 0.25, ...: all exact in float32 (test_io.c recomputes them)."""
    return [start + 0.25 * i for i in range(n)]


def f32le(vals):
    return struct.pack("<%df" % len(vals), *vals)


def product(shape):
    p = 1
    for d in shape:
        p *= d
    return p


def encode_header(obj, pad=True, indent=None):
    text = json.dumps(obj, separators=None if indent else (",", ":"), indent=indent,
                      ensure_ascii=False).encode("utf-8")
    if pad:
        text += b" " * ((-(8 + len(text))) % 8)
    return text


def container(header, data, length=None):
    """The file bytes; length overrides the header length field."""
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def entry(shape, begin, end, dtype="F32"):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def one_tensor(name, shape, begin, end, data_len, dtype="F32", **extra):
    """A file with one tensor entry (maybe inconsistent) and data_len data bytes."""
    header = {name: entry(shape, begin, end, dtype)}
    header.update(extra)
    return container(encode_header(header), f32le(values(data_len // 4, 1.0)))


def valid_python():
    """Header order differs from data order; a scalar; metadata last; padded."""
    data_order = [("b.weight", [2, 3], values(6, -1.0)),
                  ("a.bias", [3], values(3, 10.0)),
                  ("scalar", [], [42.5])]
    entries, data, offset = {}, b"", 0
    for name, shape, vals in data_order:
        entries[name] = entry(shape, offset, offset + 4 * len(vals))
        data += f32le(vals)
        offset += 4 * len(vals)
    header = {"scalar": entries["scalar"], "a.bias": entries["a.bias"],
              "b.weight": entries["b.weight"],
              "__metadata__": {"format": "pt", "source": "make_io_fixtures.py"}}
    return container(encode_header(header), data)


# Each dtype slope converts on load, with values test_io.c knows (tests the edges:
# half subnormals and inf, doubles past the float range, integers past 2^24).
OTHER_DTYPES = [
    ("f16", "F16", [2], struct.pack("<2e", 1.5, -65504.0)),
    ("f16_edges", "F16", [3], struct.pack("<3H", 0x0001, 0x7C00, 0x8000)),
    ("bf16", "BF16", [2], struct.pack("<f", -3.5)[2:] + struct.pack("<f", 2.0 ** 100)[2:]),
    ("f64", "F64", [2, 2], struct.pack("<4d", 0.1, 1e300, -1e300, 3.0)),
    ("num_batches_tracked", "I64", [], struct.pack("<q", 12345)),
    ("i64", "I64", [2], struct.pack("<2q", -(2 ** 40), 2 ** 24 + 1)),
    ("i32", "I32", [2], struct.pack("<2i", -7, 2 ** 31 - 1)),
    ("i16", "I16", [2], struct.pack("<2h", -32768, 5)),
    ("i8", "I8", [2], struct.pack("<2b", -128, 127)),
    ("u64", "U64", [1], struct.pack("<Q", 2 ** 64 - 1)),
    ("u32", "U32", [1], struct.pack("<I", 2 ** 32 - 1)),
    ("u16", "U16", [1], struct.pack("<H", 65535)),
    ("u8", "U8", [2], struct.pack("<2B", 0, 255)),
    ("bool", "BOOL", [3], bytes([1, 0, 1])),
]


def valid_dtypes():
    """One tensor per dtype other than F32, in the order of OTHER_DTYPES."""
    entries, data = {}, b""
    for name, dtype, shape, raw_bytes in OTHER_DTYPES:
        entries[name] = entry(shape, len(data), len(data) + len(raw_bytes), dtype)
        data += raw_bytes
    return container(encode_header(entries), data)


def valid_indented():
    """Pretty-printed JSON with newlines, no padding."""
    header = {"w": entry([2, 2], 0, 16)}
    return container(encode_header(header, pad=False, indent=2), f32le(values(4, 0.5)))


def raw(header_text, data=b""):
    return container(header_text.encode("utf-8"), data)


def malformed():
    w = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'
    eight = f32le([1.0, 2.0])
    return {
        "empty_file": b"",
        "short_file": b"\x05\x00\x00",
        "header_len_beyond_file": container(b"{}", b"", length=1000),
        "header_len_huge": container(b"{}", b"", length=1 << 40),
        "header_len_max": container(b"{}", b"", length=(1 << 64) - 1),
        "invalid_json": raw('{"w": {"dtype": "F32",'),
        "trailing_garbage": raw('{"w":' + w + '} x', eight),
        "header_not_object": raw("[1,2]    "),
        "invalid_utf8": container(b'{"w\xff":' + w.encode() + b"}", eight),
        "entry_not_object": raw('{"w":[1,2]}'),
        "missing_dtype": raw('{"w":{"shape":[2],"data_offsets":[0,8]}}', eight),
        "missing_shape": raw('{"w":{"dtype":"F32","data_offsets":[0,8]}}', eight),
        "missing_offsets": raw('{"w":{"dtype":"F32","shape":[2]}}', eight),
        "dtype_not_string": raw('{"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}', eight),
        "dtype_f8": one_tensor("w", [4], 0, 4, 4, dtype="F8_E5M2"),
        "dtype_f4": one_tensor("w", [8], 0, 4, 4, dtype="F4"),
        "dtype_f16_offsets": one_tensor("w", [2, 3], 0, 24, 24, dtype="F16"),
        "dtype_unknown": one_tensor("w", [2], 0, 8, 8, dtype="FLOAT"),
        "dtype_control_chars": one_tensor("w", [2], 0, 8, 8, dtype="F\n32\x1b[0m"),
        "shape_not_array": raw('{"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}', eight),
        "shape_negative": one_tensor("w", [2, -3], 0, 8, 8),
        "shape_fraction": one_tensor("w", [2.5], 0, 8, 8),
        "shape_5d": one_tensor("w", [1, 1, 1, 1, 2], 0, 8, 8),
        "shape_zero": one_tensor("w", [0, 3], 0, 0, 0),
        "shape_overflow": one_tensor("w", [1 << 20] * 4, 0, 8, 8),
        "offsets_mismatch": one_tensor("layers.0.weight", [2, 3], 0, 12, 12),
        "offsets_reversed": one_tensor("w", [2], 8, 0, 8),
        "offsets_not_pair": raw('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', eight),
        "offsets_negative": one_tensor("w", [2], -8, 0, 8),
        "offsets_overlap": container(encode_header(
            {"a": entry([2], 0, 8), "b": entry([2], 4, 12)}), f32le(values(3, 0.0))),
        "offsets_gap": container(encode_header(
            {"a": entry([2], 0, 8), "b": entry([2], 12, 20)}), f32le(values(5, 0.0))),
        "offsets_not_from_zero": one_tensor("w", [2], 4, 12, 12),
        "truncated": one_tensor("w", [2, 3], 0, 24, 20),
        "trailing_data": one_tensor("w", [2], 0, 8, 12),
        "duplicate_name": raw('{"w":' + w + ',"w":' + w + "}", eight),
        "metadata_not_object": one_tensor("w", [2], 0, 8, 8, __metadata__=["a"]),
        "metadata_value_not_string": one_tensor("w", [2], 0, 8, 8, __metadata__={"epoch": 3}),
        "metadata_duplicate_key": raw('{"__metadata__":{"k":"1","k":"2"},"w":' + w + "}", eight),
        "metadata_twice": raw('{"__metadata__":{},"__metadata__":{},"w":' + w + "}", eight),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    os.makedirs(out, exist_ok=True)
    files = {"valid_python": valid_python(), "valid_indented": valid_indented(),
             "valid_dtypes": valid_dtypes(),
             "valid_empty": container(encode_header({}), b"")}
    files.update({"bad_" + k: v for k, v in malformed().items()})
    for name, content in sorted(files.items()):
        with open(os.path.join(out, name + ".safetensors"), "wb") as f:
            f.write(content)
    print("wrote %d files to %s" % (len(files), os.path.normpath(out)))


if __name__ == "__main__":
    main()
