#!/bin/sh
# README.md's commands run as pasted.  Every `slope ...` command of README.md's shell blocks
# (```sh/```bash blocks and 4-space indented blocks; `./build/slope`, `build/slope` and
# `build-mpi/slope` are the slope under test; `a && b` lines give their slope parts; a
# trailing "\" continues a command) is extracted from README.md itself, in order, and run
# in this shell, one after the other as in a terminal, in one scratch directory that has
# models/ (the source tree's), so a command can use what an earlier one wrote.  Each must exit 0, except:
#   - SKIP: commands this test cannot run quickly or at all, each with its reason;
#   - BROKEN: commands that do not work as README shows them; each must still fail (the
#     test proves the README wrong) and its entry goes with the README fix.
# An entry of either list that matches no README command fails the test, as does a README
# command that fails and is on neither list.
#
# Long trainings run fast on tiny data: SLOPE_DATASETS_DIR points at a "fashion-mnist"
# descriptor of 16 random 28x28 images (one file for both splits), so the Fashion-MNIST
# configs run their full epochs in a fraction of a second and nothing needs the real data.
#
#   readme_commands.sh SLOPE SOURCE_DIR WORKDIR
#
# $SLOPE_WRAPPER, when set, prefixes every slope command.
set -u
slope=$1
src=$2
dir=$3
script=readme_commands
readme=$src/README.md
. "$(dirname "$0")/cli_lib.sh"
enter_fresh_dir

# PREFIX|REASON: a command that starts with PREFIX (whitespace squeezed, slope's path
# reduced to "slope") is not run.
SKIP='mpirun |needs an MPI build and mpirun; tests/mpi_check.sh runs slope under MPI'
[ -d /usr/share/datasets/fashion-mnist ] || SKIP="$SKIP
slope predict --checkpoint fmlp.safetensors /usr/share/datasets/fashion-mnist/|needs dataset-fashion-mnist installed"
# (Not run under valgrind: .ci/valgrind.sh leaves this test out, see there.)
# PREFIX|WHAT IS WRONG: a command README shows that fails as pasted.
BROKEN=''

# The commands, one a line, in README order, duplicates dropped.
extract() {
  awk '
    /^```/ {
      if (!fence) { fence = 1; shell = ($0 ~ /^```(sh|bash|shell)[[:space:]]*$/) }
      else fence = 0
      blank = 0; indent = 0; next
    }
    {
      text = ""; ok = 0
      if (fence && shell) { text = $0; ok = 1 }
      else if (!fence && /^    / && (blank || indent)) { text = substr($0, 5); ok = indent = 1 }
      else if (!fence && !/^[[:space:]]*$/) indent = 0
      blank = ($0 ~ /^[[:space:]]*$/)
      if (!ok) next
      sub(/^[[:space:]]*#.*/, "", text); sub(/[[:space:]]+#.*/, "", text)
      if (text ~ /\\$/) { cont = cont substr(text, 1, length(text) - 1) " "; next }
      text = cont text; cont = ""
      n = split(text, part, /&&|;/)
      for (i = 1; i <= n; i++) {
        c = part[i]
        gsub(/[[:space:]]+/, " ", c); sub(/^ /, "", c); sub(/ $/, "", c)
        gsub(/(\.\/)?build(-[a-z]+)?\/slope /, "slope ", c)
        if (c ~ /(^| )slope [a-z-]/ && !seen[c]++) print c
      }
    }' "$readme"
}

# Sets $found to the entry (PREFIX|REASON) of LIST whose prefix starts COMMAND, else "".
# (No subshells that run only shell code: under valgrind each one's exit is checked too,
# and dash's are not clean.)
nl='
'
find_entry() { # LIST COMMAND
  found=
  set -f
  old_ifs=$IFS
  IFS=$nl
  for e in $1; do
    case "$2" in "${e%%|*}"*) found=$e; break ;; esac
  done
  IFS=$old_ifs
  set +f
}

# 16 random 28x28 images, labels 0..9 in turn, as IDX: the "fashion-mnist" descriptor's.
mkdir ds
n=16
{ printf '\000\000\010\003\000\000\000\020\000\000\000\034\000\000\000\034'
  head -c $((n * 784)) /dev/urandom; } >ds/images.idx
printf '\000\000\010\001\000\000\000\020\000\001\002\003\004\005\006\007\010\011\000\001\002\003\004\005' \
  >ds/labels.idx
cat >ds/fashion-mnist.json <<'JSON'
{ "name": "fashion-mnist", "format": "idx", "classes": 10, "input": [1, 28, 28],
  "directory": ".", "splits": { "train": { "images": "images.idx", "labels": "labels.idx" },
                                "test": { "images": "images.idx", "labels": "labels.idx" } } }
JSON
export SLOPE_DATASETS_DIR="$PWD/ds"
# Stand-ins for the files README's predict examples name as the user's own: a 28x28 PNG, a
# PGM and a CSV of 784 pixels a row.
if ! command -v python3 >/dev/null 2>&1; then
  SKIP="$SKIP
slope predict --checkpoint fmlp.safetensors boot.png|no python3 here to write the stand-in PNG (cli_predict reads every image kind)
slope predict --checkpoint fmlp.safetensors pixels.csv|no python3 here to write the stand-in CSV (cli_predict reads CSV inputs)
slope predict models/fashion_mlp.json --checkpoint fmlp.safetensors boot.png|no python3 here to write the stand-in PNG"
else python3 - <<'PY' || fail "cannot write the stand-in images"
import struct, zlib
rows = b"".join(b"\0" + bytes((x * 9 + y * 7) % 256 for x in range(28)) for y in range(28))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open("boot.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
                             + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
open("shirt.pgm", "wb").write(b"P5 28 28 255\n" + bytes((i * 5) % 256 for i in range(784)))
open("pixels.csv", "w").write("".join(",".join(str((i * r) % 256) for i in range(784)) + "\n" for r in range(3)))
PY
fi
ln -s "$src/models" models
# `slope` in a command is the slope under test.  Commands run in this shell (eval), one
# after the other as in a terminal, so that under valgrind slope is traced (a shell from
# /usr/bin would not be).
slope_bin=$slope
slope() { ${SLOPE_WRAPPER:-} "$slope_bin" "$@"; }

extract >commands.txt
[ -s commands.txt ] || fail "no slope commands found in $readme"
used=""
ran=0
k=0
while IFS= read -r cmd; do
  k=$((k + 1))
  find_entry "$SKIP" "$cmd"
  skip=$found
  find_entry "$BROKEN" "$cmd"
  broken=$found
  if [ -n "$skip" ]; then
    echo "$script: skipped: $cmd (${skip#*|})"
    used="$used
${skip%%|*}"
    continue
  fi
  printf '%s\n' "$cmd" >cmd$k.sh
  { eval "$cmd"; } >out$k.txt 2>err$k.txt </dev/null
  rc=$?
  if [ -n "$broken" ]; then
    [ "$rc" -ne 0 ] || fail "now runs as pasted, so take it off BROKEN: $cmd"
    echo "$script: fails as README shows it (exit $rc): $cmd (${broken#*|})"
    used="$used
${broken%%|*}"
    continue
  fi
  [ "$rc" -eq 0 ] || fail "README command failed (exit $rc): $cmd: $(tail -n 3 err$k.txt)"
  echo "$script: ran: $cmd"
  ran=$((ran + 1))
done <commands.txt
[ "$ran" -gt 0 ] || fail "no README command was run"
# Every list entry stands for a README command: a stale one means README changed.
set -f
IFS=$nl
for e in $SKIP $BROKEN; do
  case "$used$nl" in
  *"$nl${e%%|*}$nl"*) ;;
  *) fail "no README command starts with '${e%%|*}' any more: remove it from the list" ;;
  esac
done
IFS=' 	
'
set +f
echo "$script: $ran README commands ran as pasted"
