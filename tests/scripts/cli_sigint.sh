#!/bin/sh
# SIGINT during `slope train` saves a checkpoint and exits 130; the checkpoint
# then loads with `slope eval` and resumes with `slope train --resume`.
#
#   cli_sigint.sh SLOPE CONFIG WORKDIR [fallback|term]
#
# With "fallback" the run has no --checkpoint and a config name holding '/', so the
# checkpoint goes to the sanitised default name, runs_x.interrupted.safetensors.
# With "term" the signal is SIGTERM, and the exit status 143.
# With "loading" / "loading-term" the signal comes while the data loads (6 million
# spiral points, about a second; it is sent as soon as --verbose says "loading
# data"): exit 130 / 143, "interrupted before training started: nothing was
# saved", and no checkpoint.
#
# CONFIG must train in-process data (models/spiral_mlp.json).  $SLOPE_WRAPPER,
# when set, prefixes every slope command (e.g. "valgrind --error-exitcode=99").
set -u
slope=$1
config=$2
dir=$3
mode=${4:-checkpoint}
run() { ${SLOPE_WRAPPER:-} "$slope" "$@"; }
fail() {
  echo "cli_sigint: $*" >&2
  for f in "$dir"/out.txt "$dir"/err.txt; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}

rm -rf "$dir"
mkdir -p "$dir" || exit 1
cd "$dir" || exit 1
if [ "$mode" = fallback ]; then
  ckpt="$dir/runs_x.interrupted.safetensors"
  set -- --set 'name="runs/x"'
else
  ckpt="$dir/interrupted.safetensors"
  set -- --checkpoint "$ckpt"
fi
signal=INT
want=130
case $mode in
  term | loading-term)
    signal=TERM
    want=143
    ;;
esac

case $mode in loading*)
  # Under valgrind (this shell is its client: LD_PRELOAD names its preload) everything runs
  # some 50 times slower, so a 50th of the points loads for about as long.
  points=2000000
  case "${LD_PRELOAD:-}" in *vgpreload*) points=40000 ;; esac
  [ -n "${SLOPE_WRAPPER:-}" ] && points=40000
  (exec ${SLOPE_WRAPPER:-} "$slope" train "$config" --verbose --set data.spiral.points=$points \
    --set stats.enabled=false "$@" >out.txt 2>err.txt) &
  pid=$!
  i=0
  until grep -q 'loading data' err.txt 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; fail "slope ended before loading (exit $?)"; }
    i=$((i + 1))
    [ "$i" -gt 3000 ] && { kill -KILL "$pid"; fail "no 'loading data' within 60 s"; }
    sleep 0.02
  done
  kill -"$signal" "$pid"
  # A watchdog: a signal ignored (the old code, in a background job) must fail, not hang.
  ( i=0; while kill -0 "$pid" 2>/dev/null; do
      i=$((i + 1)); [ "$i" -gt 600 ] && { kill -KILL "$pid"; exit 0; }; sleep 0.1
    done ) >/dev/null 2>&1 &
  wait "$pid"
  rc=$?
  [ "$rc" -eq "$want" ] || fail "exit $rc after SIG$signal during loading, expected $want"
  grep -q 'interrupted before training started: nothing was saved' err.txt ||
    fail "no 'interrupted before training started: nothing was saved' message"
  [ -e "$ckpt" ] && fail "a checkpoint was written although training never started"
  echo "cli_sigint: SIG$signal during data loading: exit $rc, nothing saved, said so"
  exit 0
  ;;
esac

# A run far longer than the test: 100000 epochs, no periodic checkpoint, so the
# only checkpoint is the one SIGINT writes.
# exec: $! must be slope itself (through the wrapper), not a subshell that ignores SIGINT.
(exec ${SLOPE_WRAPPER:-} "$slope" train "$config" --set train.epochs=100000 \
  --set checkpoint.every=100000 --set stats.enabled=false "$@" \
  >out.txt 2>err.txt) &
pid=$!
# A watchdog, so a run that ignores SIGINT fails the test instead of hanging it.
# It ends as soon as slope does and holds no output pipe (ctest waits for those).
(
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt 1200 ] && { kill -KILL "$pid"; exit 0; }
    sleep 0.1
  done
) >/dev/null 2>&1 &
watchdog=$!

# The first epoch line (flushed after each epoch) comes after the SIGINT handler is
# installed; a second of training later, interrupt.
i=0
until grep -q '^epoch ' out.txt 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { wait "$pid"; fail "training stopped by itself (exit $?)"; }
  i=$((i + 1))
  [ "$i" -gt 600 ] && fail "no epoch finished within 60 s"
  sleep 0.1
done
sleep 1
kill -"$signal" "$pid"
wait "$pid"
rc=$?
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null

[ "$rc" -eq "$want" ] || fail "exit status $rc, expected $want (SIG$signal)"
grep -q 'interrupted at step' err.txt || fail "no 'interrupted at step' message (killed by the signal?)"
[ -s "$ckpt" ] || fail "no checkpoint at $ckpt"
for f in "$dir"/*.tmp.*; do
  [ -e "$f" ] && fail "a temporary file was left behind: $f"
done

run eval "$config" --checkpoint "$ckpt" >eval.txt 2>&1 || fail "slope eval cannot load the checkpoint: $(cat eval.txt)"
grep -q 'accuracy' eval.txt || fail "slope eval printed no accuracy: $(cat eval.txt)"

# The checkpoint resumes training: the step count goes on from where SIGINT stopped it.
steps=$(sed -n 's/.*interrupted at step \([0-9]*\).*/\1/p' err.txt)
if [ -z "$steps" ] || [ "$steps" -le 0 ]; then
  fail "no step count in: $(cat err.txt)"
fi
epochs=$(( steps / 10 + 2 )) # 300 spiral points / batch 32 = 10 steps an epoch
run train "$config" --resume "$ckpt" --epochs "$epochs" --allow-schedule-change --set stats.enabled=false --quiet \
  >resume.txt 2>&1 || fail "resuming failed: $(cat resume.txt)"
echo "cli_sigint: SIG$signal at step $steps, exit $want, checkpoint loads and resumes"
