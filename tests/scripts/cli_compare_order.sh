#!/bin/sh
# cli_compare_order.sh - `slope compare`'s output read as one log (stdout and stderr into
# one file, as a batch job keeps it): every line where it happened, and its columns.
#   cli_compare_order.sh SLOPE CONFIG WORKDIR      (CONFIG: models/spiral_mlp.json)
# A run that diverges (elu:1e30) and an output that cannot be written (stats.csv is a
# directory) at the end: the failure lines must follow their run's header, and the final
# error the table, not come first as block-buffered stdout made them.  The epoch lines of a
# long label ("prelu:channel:0.1") keep the others' columns.
set -u
slope=$1 config=$2 dir=$3 script=cli_compare_order
. "$(dirname "$0")/cli_lib.sh"
enter_fresh_dir

mkdir -p out/stats.csv
run compare "$config" --act relu,prelu:channel:0.1,elu:1e30 --epochs 1 --out out >log.txt 2>&1
rc=$?
[ "$rc" -eq 5 ] || fail "exit $rc, expected 5 (stats.csv cannot be written): $(cat log.txt)"
line() { grep -n -m1 -- "$1" log.txt | cut -d: -f1; }
started=$(line "^run 3/3: elu:1e30") failed=$(line "run elu:1e30 failed")
table=$(line "^activation ") error=$(line "^slope: .*stats.csv")
for v in started failed table error; do
  eval "[ -n \"\$$v\" ]" || fail "no $v line in: $(cat log.txt)"
done
[ "$started" -lt "$failed" ] || fail "the failure (line $failed) precedes its run's header (line $started)"
[ "$failed" -lt "$table" ] || fail "the failure (line $failed) follows the table (line $table)"
[ "$table" -lt "$error" ] || fail "the final error (line $error) precedes the table (line $table)"
grep -q "^compare .*: 3 activations, 1 epoch, seed 42, " log.txt ||
  fail "header: $(head -n 1 log.txt)"
# One column for "epoch" on every epoch line, whatever the label's length.
cols=$(grep "^  .*  epoch 1/1 " log.txt | awk '{ print index($0, " epoch 1/1") }' | sort -u | wc -l)
[ "$(grep -c "^  .* epoch 1/1 " log.txt)" -eq 2 ] || fail "epoch lines: $(grep epoch log.txt)"
[ "$cols" -eq 1 ] || fail "the epoch lines' columns shift: $(grep "epoch 1/1" log.txt)"
echo "$script: ok"
