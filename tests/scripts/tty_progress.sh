#!/bin/sh
# tty_progress.sh - `slope train`'s progress display on a real terminal: a detached tmux
# session of a fixed size runs it, tmux capture-pane reads the screen while it trains, and
# pipe-pane keeps every byte written to the terminal.
#   tty_progress.sh SLOPE CONFIG WORKDIR      (CONFIG: models/spiral_mlp.json)
# Checks: the bar ("epoch 1/2 [", the running mean of the epoch's loss -- its last value is
# the epoch line's loss --, samples/s), the phase lines with their progress ("slope:
# evaluating N/12000", "slope: measuring statistics N/12000"), a final screen of clean lines
# (no bar or phase left over), and with stderr redirected to a file no \r or escape at all.
# Exit 77 (skipped) without tmux.  Polls with timeouts rather than sleeping fixed times.
set -u
slope=$1 config=$2 dir=$3 script=tty_progress
. "$(dirname "$0")/cli_lib.sh"
command -v tmux > /dev/null 2>&1 || { echo "$script: tmux not installed: skipped"; exit 77; }
enter_fresh_dir
# 12,000 points, 512-wide layers: about 0.6 s an epoch, long enough to see the bar.
set -- --epochs 2 --threads 1 --set data.spiral.points=4000 --set stats.enabled=true \
  --set stats.probe.count=12000 --set 'model.layers[0].out=512' --set 'model.layers[2].out=512'
sock="slope-tty-$$"
tm() { tmux -L "$sock" -f /dev/null "$@"; }
trap 'tm kill-server > /dev/null 2>&1' EXIT
# The command waits for "go", so that pipe-pane is on before the first byte.
cat > cmd.sh <<EOS
while [ ! -e go ]; do sleep 0.02; done
"$slope" train "$config" $(for a in "$@"; do printf "'%s' " "$a"; done)
echo \$? > rc.txt
sleep 60
EOS
tm new-session -d -s t -x 120 -y 40 "sh cmd.sh" || fail "tmux new-session failed"
tm pipe-pane -t t -o "cat > raw.txt" || fail "tmux pipe-pane failed"
touch go
bar=0 polls=0
while [ ! -e rc.txt ] && [ "$polls" -lt 600 ]; do  # 600 x 0.05 s: 30 s at most
  tm capture-pane -p -t t > screen.txt
  grep -qE "^epoch [12]/2 \[[=> ]{20}\] [0-9]+/375 loss [0-9.]+ [0-9]+ samples/s ETA [0-9]+s" \
    screen.txt && bar=1
  polls=$((polls + 1))
  sleep 0.05
done
[ -e rc.txt ] || fail "slope train did not end within 30 s"
[ "$(cat rc.txt)" -eq 0 ] || fail "slope train exited $(cat rc.txt)"
[ "$bar" -eq 1 ] || fail "no progress bar seen in $polls screens; the last: $(cat screen.txt)"
tm capture-pane -p -t t > screen.txt
# The final screen: the lines the run printed and nothing else.
grep -q "^final test accuracy: " screen.txt || fail "final screen: $(cat screen.txt)"
[ "$(grep -c '^epoch [12]/2  loss ' screen.txt)" -eq 2 ] || fail "epoch lines: $(cat screen.txt)"
grep -qE '\[[=> ]|ETA|samples/s ETA|^slope: |\.\.\.' screen.txt &&
  fail "a bar or phase line is left on the screen: $(cat screen.txt)"
# What was drawn: phases with progress, and the bar's last loss is the epoch's mean loss.
tr '\r' '\n' < raw.txt | sed 's/\x1b\[K//g' > drawn.txt
grep -qE "^slope: evaluating [0-9]+/12000 [|/\\-]" drawn.txt || fail "no evaluation progress"
grep -qE "^slope: measuring statistics [0-9]+/12000 [|/\\-]" drawn.txt || fail "no probe progress"
grep -q "^slope: loading data \.\.\." drawn.txt || fail "no loading line"
barloss=$(grep -E "^epoch 1/2 \[.*\] 375/375 loss" drawn.txt | tail -n 1 | sed 's/.* loss \([0-9.]*\) .*/\1/')
eploss=$(grep -E "^epoch 1/2  loss" drawn.txt | sed 's/^epoch 1\/2  loss \([0-9.]*\) .*/\1/')
[ -n "$barloss" ] && [ "$barloss" = "$eploss" ] ||
  fail "the bar's loss at the end of epoch 1 is '$barloss', the epoch's is '$eploss'"
# Not a terminal: nothing but lines.
run train "$config" --epochs 1 --set stats.enabled=true > out.txt 2> err.txt || fail "train exited $?"
if LC_ALL=C grep -q "$(printf '[\r\033]')" out.txt err.txt; then
  fail "control characters without a terminal: $(od -c err.txt | head)"
fi
echo "$script: ok"
