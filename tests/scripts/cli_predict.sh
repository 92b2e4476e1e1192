#!/bin/sh
# `slope predict` end to end: trains a tiny model (the 4x3 IDX fixture, 3 classes, named by
# a descriptor written here, standardized inputs) for 3 epochs, then predicts on
#   - the IDX images (raw and .gz), the same pixels as CSV rows with and without a label
#     column (and a header), as PNG (grey 8-bit, RGB, grey 16-bit, palette, interlaced)
#     and PGM (P5, P2) images: every -o CSV is the same file, byte for byte;
#   - the printed lines: one per input, "INPUT: class C (NAME)  NAME=P ...", the class the
#     first (largest) of the list, the probabilities summing to 1, --top K listing K;
#   - -o CSV: header index,class,p0,p1,p2, class = arg-max, rows summing to 1; --logits
#     gives logits whose softmax is the probabilities;
#   - the config given explicitly, or taken from the checkpoint;
#   - bad inputs: exit 3 with the file's name (wrong size, truncated, bad magic, a value
#     above maxval, a CSV of the wrong width, an image among IDX files), an -o that cannot
#     be written exits 5, bad command lines exit 2.
#
#   cli_predict.sh SLOPE SOURCE_DIR WORKDIR
#
# $SLOPE_WRAPPER, when set, prefixes every slope command.  The images are written by a
# short Python program (stdlib only: zlib, struct); without python3 that part is skipped.
set -u
slope=$1
src=$2
dir=$3
script=cli_predict
. "$(dirname "$0")/cli_lib.sh"
enter_fresh_dir
fx=$src/datasets/fixtures

mkdir ds
cat >ds/tiny43.json <<JSON
{ "name": "tiny43", "format": "idx", "classes": 3, "input": [1, 4, 3], "directory": "$fx",
  "class_names": ["zero", "one", "two"],
  "splits": { "train": { "images": "tiny-images.idx", "labels": "tiny-labels.idx" },
              "test": { "images": "tiny-images.idx.gz", "labels": "tiny-labels.idx.gz" } } }
JSON
cat >tiny.json <<JSON
{ "name": "tiny-predict", "seed": 1,
  "data": { "dataset": "tiny43", "normalize": "standardize", "validation": 0.0 },
  "model": { "input": [1, 4, 3], "layers": [ { "type": "flatten" }, { "type": "linear", "out": 3 } ] },
  "optimizer": { "type": "sgd", "lr": 0.1 }, "train": { "epochs": 3, "batch_size": 2 },
  "stats": { "enabled": false } }
JSON
SLOPE_DATASETS_DIR=$PWD/ds
export SLOPE_DATASETS_DIR
run train tiny.json --checkpoint ck.safetensors --quiet >out.txt 2>err.txt; rc=$?
expect_rc 0 "train"

predict() { run predict --checkpoint ck.safetensors "$@" >out.txt 2>err.txt; rc=$?; }

# ---- the printed lines --------------------------------------------------------------------
predict "$fx/tiny-images.idx"
expect_rc 0 "predict IDX"
[ "$(wc -l <out.txt)" -eq 5 ] || fail "IDX: $(wc -l <out.txt) lines, expected 5: $(cat out.txt)"
awk '
  { ok = match($0, /^[0-9]+: class [0-2] \((zero|one|two)\)  [a-z]+=[0-9.]+ [a-z]+=[0-9.]+ [a-z]+=[0-9.]+$/) }
  !ok { print "bad line: " $0; bad = 1; next }
  { name = $4; gsub(/[()]/, "", name); split($5, first, "=")
    if (first[1] != name) { print "class is not the first listed: " $0; bad = 1 }
    sum = 0; prev = 2
    for (f = 5; f <= NF; f++) { split($f, kv, "="); sum += kv[2]
      if (kv[2] + 0 > prev + 0) { print "not sorted: " $0; bad = 1 }; prev = kv[2] }
    if (sum < 0.9997 || sum > 1.0003) { print "sum " sum ": " $0; bad = 1 } }
  END { exit bad }' out.txt || fail "IDX lines"
cp out.txt idx-lines.txt
predict "$fx/tiny-images.idx" --top 1
expect_rc 0 "--top 1"
[ "$(awk '{ print NF }' out.txt | sort -u)" = 5 ] || fail "--top 1: $(cat out.txt)"
predict "$fx/tiny-images.idx.gz"
expect_rc 0 "predict IDX .gz"
cmp -s out.txt idx-lines.txt || fail "IDX .gz differs from IDX: $(cat out.txt)"
# The config named explicitly gives the same; so does a checkpoint without "config" then.
run predict tiny.json --checkpoint ck.safetensors "$fx/tiny-images.idx" >out.txt 2>err.txt; rc=$?
expect_rc 0 "predict CONFIG"
cmp -s out.txt idx-lines.txt || fail "with CONFIG: $(cat out.txt)"

# ---- -o CSV ---------------------------------------------------------------------------------
predict "$fx/tiny-images.idx" -o idx.csv
expect_rc 0 "-o"
grep -q "^idx.csv: 5 predictions$" out.txt || fail "-o printed: $(cat out.txt)"
[ "$(head -n 1 idx.csv)" = "index,class,p0,p1,p2" ] || fail "header: $(head -n 1 idx.csv)"
awk -F, 'NR > 1 { best = 3; for (j = 4; j <= NF; j++) if ($j > $best) best = j
                  if ($2 != best - 3 || $1 != NR - 2) { print "argmax: " $0; bad = 1 }
                  s = $3 + $4 + $5; if (s < 0.999999 || s > 1.000001) { print "sum: " $0; bad = 1 } }
         END { if (NR != 6) { print NR " lines"; bad = 1 }; exit bad }' idx.csv || fail "idx.csv"
# The printed classes are the CSV's.
[ "$(awk -F, 'NR > 1 { print $2 }' idx.csv)" = "$(awk '{ print $3 }' idx-lines.txt)" ] ||
  fail "printed classes differ from the CSV's"
predict "$fx/tiny-images.idx" -o logits.csv --logits
expect_rc 0 "--logits"
[ "$(head -n 1 logits.csv)" = "index,class,logit0,logit1,logit2" ] || fail "logits header"
paste -d, logits.csv idx.csv | awk -F, 'NR > 1 {
    m = $3; for (j = 4; j <= 5; j++) if ($j > m) m = $j
    s = 0; for (j = 3; j <= 5; j++) s += exp($j - m)
    for (j = 3; j <= 5; j++) { d = exp($j - m) / s - $(j + 5); if (d < -1e-6 || d > 1e-6) bad = 1 }
    if ($2 != $7) bad = 1 } END { exit bad }' || fail "softmax(logits) is not the probabilities"

# ---- the same pixels as CSV -----------------------------------------------------------------
od -An -v -tu1 -j16 "$fx/tiny-images.idx" | tr -s ' \n' '  ' |
  awk '{ for (i = 1; i <= NF; i++) printf "%s%s", $i, (i % 12 == 0) ? "\n" : "," }' >rows.csv
od -An -v -tu1 -j8 "$fx/tiny-labels.idx" | tr -s ' \n' '\n' | grep . >labels.txt
paste -d, labels.txt rows.csv >labelled.csv
{ echo "label$(seq 0 11 | sed 's/^/,px/' | tr -d '\n')"; cat labelled.csv; } >header.csv
for f in rows.csv labelled.csv header.csv; do
  predict "$f" -o out.csv
  expect_rc 0 "CSV $f"
  cmp -s out.csv idx.csv || fail "CSV $f: $(cat out.csv)"
done
printf '1,2,3\n' >narrow.csv
predict narrow.csv
expect_rc 3 "CSV of 3 columns"
grep -q "narrow.csv: rows of 3 values, but the model takes 12 features" err.txt || fail "narrow: $(cat err.txt)"

# ---- images ---------------------------------------------------------------------------------
py=$(command -v python3 || true)
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
if [ -z "$py" ]; then
  echo "$script: no python3: the PNG and PGM part is skipped"
  echo "$script: ok"
  exit 0
fi
"$py" - "$fx/tiny-images.idx" <<'PY' || fail "writing the images"
import struct, sys, zlib
raw = open(sys.argv[1], "rb").read()[16:]
imgs = [raw[i * 12:(i + 1) * 12] for i in range(5)]
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
def png(path, w, h, depth, ctype, rows, extra=b"", interlace=0):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    body = zlib.compress(b"".join(b"\0" + r for r in rows))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
                           chunk(b"IDAT", body) + chunk(b"IEND", b""))
def adam7(img, w, h):  # the rows of the 7 interlaced passes, each with its filter byte
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    return [bytes(img[y * w + x] for x in range(x0, w, dx)) for x0, y0, dx, dy in passes
            for y in range(y0, h, dy) if x0 < w]
for i, im in enumerate(imgs):
    rows = [im[r * 3:(r + 1) * 3] for r in range(4)]
    png("g8_%d.png" % i, 3, 4, 8, 0, rows)
    png("rgb_%d.png" % i, 3, 4, 8, 2, [bytes(v for p in r for v in (p, p, p)) for r in rows])
    png("g16_%d.png" % i, 3, 4, 16, 0, [b"".join(struct.pack(">H", p * 257) for p in r) for r in rows])
    pal = sorted(set(im))
    plte = chunk(b"PLTE", b"".join(bytes((p, p, p)) for p in pal))
    png("pal_%d.png" % i, 3, 4, 8, 3, [bytes(pal.index(p) for p in r) for r in rows], plte)
    png("il_%d.png" % i, 3, 4, 8, 0, adam7(im, 3, 4), interlace=1)
    open("p5_%d.pgm" % i, "wb").write(b"P5\n# a comment\n3 4\n255\n" + im)
    open("p2_%d.pgm" % i, "w").write("P2\n3 4\n65535\n" + " ".join(str(p * 257) for p in im) + "\n")
png("wide.png", 4, 4, 8, 0, [b"\0\0\0\0"] * 4)
png("huge.png", 100000, 100000, 8, 0, [b"\0"])
whole = open("g8_0.png", "rb").read()
open("cut.png", "wb").write(whole[:len(whole) - 20])
open("badmagic.png", "wb").write(b"\x89PNX" + whole[4:])
open("above.pgm", "wb").write(b"P2\n3 4\n10\n" + b"1 " * 11 + b"11\n")
open("short.pgm", "wb").write(b"P5\n3 4\n255\n" + imgs[0][:7])
PY
for kind in g8 rgb g16 pal il p5 p2; do
  ext=png
  case $kind in p5|p2) ext=pgm ;; esac
  predict "${kind}_0.$ext" "${kind}_1.$ext" "${kind}_2.$ext" "${kind}_3.$ext" "${kind}_4.$ext" -o out.csv
  expect_rc 0 "images $kind"
  cmp -s out.csv idx.csv || fail "images $kind: $(cat out.csv)"
done
# Printed, one file an input: named by the file.
predict g8_0.png p5_1.pgm
expect_rc 0 "a PNG and a PGM"
[ "$(cut -d' ' -f1-3 out.txt)" = "$(printf 'g8_0.png: class %s\np5_1.pgm: class %s' \
    "$(sed -n 1p idx-lines.txt | cut -d' ' -f3)" "$(sed -n 2p idx-lines.txt | cut -d' ' -f3)")" ] ||
  fail "image lines: $(cat out.txt)"

expect_bad() { # FILE PATTERN [MORE INPUTS]
  f=$1; pattern=$2; shift 2
  predict "$@" "$f"
  expect_rc 3 "$f"
  grep -q "^slope: $f: .*$pattern" err.txt || fail "$f: $(cat err.txt)"
}
expect_bad wide.png "4 pixels wide and 4 high (1 channel), but the model's input \[C, H, W\] is \[1, 4, 3\]"
expect_bad huge.png "100000 pixels wide and 100000 high"
expect_bad cut.png "truncated"
expect_bad badmagic.png "not a PNG or PGM image"
expect_bad above.pgm "pixel 12 of 12 is above the maxval 10"
expect_bad short.pgm "the file ends after 7 of 12 pixels (truncated)"
predict "$fx/tiny-images.idx" g8_0.png
expect_rc 3 "IDX among several inputs"
grep -q "tiny-images.idx: IDX files are read one at a time" err.txt || fail "IDX and PNG: $(cat err.txt)"

# ---- outputs and command lines -------------------------------------------------------------
predict "$fx/tiny-images.idx" -o "$PWD/no/such/dir/out.csv"
expect_rc 5 "-o into a missing directory"
predict
expect_rc 2 "no INPUT"
run predict "$fx/tiny-images.idx" >out.txt 2>err.txt; rc=$?
expect_rc 2 "no --checkpoint"
predict "$fx/tiny-images.idx" --top x
expect_rc 2 "--top x"
run predict --help >out.txt 2>err.txt; rc=$?
expect_rc 0 "--help"
grep -q "^usage: slope predict" out.txt || fail "--help: $(cat out.txt)"
echo "$script: ok"
