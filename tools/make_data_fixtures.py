#!/usr/bin/env python3
"""Writes the data loaders' test fixtures into datasets/fixtures/.

Run from anywhere: python3 tools/make_data_fixtures.py
Standard library only.  The output is deterministic (gzip mtime 0), so
running it again leaves git clean.  tests/test_data.c relies on the exact
contents below (sizes, labels, which line and column is bad).
"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "datasets", "fixtures")

COUNT, ROWS, COLS = 5, 4, 3
LABELS = [0, 1, 2, 1, 0]


def pixels(count=COUNT):
    """Image i, pixel j has value (37 i + 11 j) mod 256: every byte is known."""
    return bytes((37 * i + 11 * j) % 256 for i in range(count) for j in range(ROWS * COLS))


def images_file(count_in_header=COUNT, rows=ROWS, cols=COLS, magic=0x00000803, body=None):
    header = struct.pack(">IIII", magic, count_in_header, rows, cols)
    return header + (pixels() if body is None else body)


def labels_file(labels, count_in_header=None):
    n = len(labels) if count_in_header is None else count_in_header
    return struct.pack(">II", 0x00000801, n) + bytes(labels)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def write_idx():
    good = images_file()
    write("tiny-images.idx", good)
    write("tiny-images.idx.gz", gz(good))
    write("tiny-labels.idx", labels_file(LABELS))
    write("tiny-labels.idx.gz", gz(labels_file(LABELS)))
    # 5 bytes short: 55 data bytes = 4.58 images, reported as "4.5".
    write("truncated-images.idx", good[:-5])
    write("truncated-images.idx.gz", gz(good[:-5]))
    # A gzip stream cut in the middle (its trailer and part of the data gone).
    write("cut-images.idx.gz", gz(good)[:40])
    write("trailing-images.idx", good + b"\x00\x01\x02")
    # The header claims a million images; the file holds 5.
    write("lying-images.idx", images_file(count_in_header=1000000))
    write("huge-images.idx", images_file(rows=70000))
    write("badmagic-images.idx", images_file(magic=0x00000D03))
    write("short-header.idx", good[:7])
    write("range-labels.idx", labels_file([0, 1, 7, 1, 0]))
    write("count-labels.idx", labels_file(LABELS[:4]))
    write("truncated-labels.idx", labels_file(LABELS, count_in_header=5)[:-1])


CSV_ROWS = [(1, 0.5, -1.25, 3.0), (0, 2.0, 0.0, -0.5), (2, 1e-3, 4.5, 7.0), (1, -2.0, 8.0, 0.25)]


def csv_text(header, newline="\n"):
    lines = ["label,x0,x1,x2"] if header else []
    lines += ["%d, %r, %r, %r" % row for row in CSV_ROWS]
    return (newline.join(lines) + newline + newline).encode()


def write_csv():
    write("tiny.csv", csv_text(True))
    write("tiny.csv.gz", gz(csv_text(True)))
    write("tiny-noheader.csv", csv_text(False, "\r\n"))
    write("bad-columns.csv", b"label,a,b\n1,2,3\n0,4\n2,5,6\n")      # line 3, column 3
    write("bad-number.csv", b"1,2,3\n0,4,5\n2,6,abc\n")            # line 3, column 3
    write("bad-label.csv", b"label,a\n1,2\n-1,3\n")                  # line 3, column 1
    write("range-label.csv", b"0,1\n1,2\n3,3\n")                     # line 3: 3 with 3 classes


def descriptor(file_name, **fields):
    with open(os.path.join(OUT, file_name + ".json"), "w") as f:
        json.dump(fields, f, indent=2)
        f.write("\n")


def write_descriptors():
    idx_split = {"images": "tiny-images.idx.gz", "labels": "tiny-labels.idx.gz"}
    descriptor("tiny-idx", name="tiny-idx", format="idx", classes=3, input=[12],
               directory=".", class_names=["zero", "one", "two"],
               splits={"train": idx_split,
                       "test": {"images": "tiny-images.idx", "labels": "tiny-labels.idx"}})
    descriptor("tiny-csv", name="tiny-csv", format="csv", classes=3, input=[3],
               directory=".", splits={"train": {"file": "tiny.csv"}})
    descriptor("missing-pkg", name="missing-pkg", format="idx", classes=10,
               directory="no-such-directory", debian_package="dataset-nothing",
               splits={"train": idx_split})
    descriptor("bad-input", name="bad-input", format="idx", classes=3, input=[1, 5, 5],
               directory=".", splits={"train": idx_split})
    descriptor("bad-type", name="bad-type", format="idx", classes="ten",
               directory=".", splits={"train": idx_split})


def main():
    os.makedirs(OUT, exist_ok=True)
    write_idx()
    write_csv()
    write_descriptors()


if __name__ == "__main__":
    main()
