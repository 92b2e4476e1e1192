#!/bin/sh
# The MPI tests of tests/mpi_tests.cmake: `mpirun -np N slope train` on loopback.
# usage: mpi_check.sh MODE SLOPE MPI_COMPARE CONFIG WORKDIR MPIEXEC "MPIEXEC_FLAGS"
#   equivalence   np=1 (plain and under mpirun), np=2 and np=3 reach the same parameters
#                 (up to float summation order), metrics and sharded evaluation agree,
#                 and only rank 0 writes metrics
#   checkpoint    MPI checkpoint -> single-process resume, single -> MPI, MPI -> MPI
#   failing_rank  rank 1 cannot open its data: all ranks exit non-zero within seconds
#   mismatch      a seed or epochs given to rank 1 only: every rank exits 3 naming it
#   nan_rank      rank 1 alone gets a NaN loss: all ranks stop with exit code 4
set -eu
mode=$1 slope=$2 compare=$3 config=$4 dir=$5 mpiexec=$6 flags=$7
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"

# Open MPI as root in CI, more ranks than cores, no single-copy (ptrace) in containers.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
limit=""
command -v timeout >/dev/null 2>&1 && limit="timeout 60"

one() { "$slope" train "$config" --quiet "$@"; }
# mpi N ARGS...: N ranks of `slope train CONFIG ARGS`.
mpi() {
    n=$1
    shift
    # shellcheck disable=SC2086 # flags and limit are word lists
    $limit "$mpiexec" $flags -np "$n" "$slope" train "$config" --quiet "$@"
}
# metric FILE KEY: the values of KEY in the per-epoch lines of a metrics file.
metric() {
    grep '"train_loss"' "$1" | sed -n "s/.*\"$2\": \\([^,}]*\\).*/\\1/p"
}
# same_metric A B KEY: the epochs' values agree to 1e-4 (relative to 1 + |value|).
same_metric() {
    metric "$1" "$3" >a.txt
    metric "$2" "$3" >b.txt
    [ -s a.txt ] || fail "no $3 in $1"
    paste a.txt b.txt | awk -v key="$3" '{
        d = $1 - $2; if (d < 0) d = -d; m = $1 < 0 ? -$1 : $1
        if (d > 1e-4 * (1 + m)) { print key ": " $1 " vs " $2; bad = 1 } }
        END { exit bad }' || fail "$3 differs between $1 and $2"
    [ "$(wc -l <a.txt)" -eq "$(wc -l <b.txt)" ] || fail "$1 and $2 have different epoch counts"
}
# on_rank1 ARGS...: a wrapper that adds ARGS to rank 1's command line only.
on_rank1() {
    {
        echo '#!/bin/sh'
        echo 'rank=${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}'
        printf 'if [ "$rank" = 1 ]; then exec "$@"'
        for a in "$@"; do printf " '%s'" "$a"; done
        echo '; fi'
        echo 'exec "$@"'
    } >rank1.sh
}
# expect_stop CODE PATTERN: runs rank1.sh under 2 ranks; all must stop within 30 s with
# exit code CODE (any non-zero when CODE is "nonzero") and PATTERN in the one message.
expect_stop() {
    start=$(date +%s)
    set +e
    # shellcheck disable=SC2086
    $limit "$mpiexec" $flags -np 2 sh rank1.sh "$slope" train "$config" --quiet --epochs 50 \
        --checkpoint never.st >out.txt 2>err.txt
    rc=$?
    set -e
    took=$(($(date +%s) - start))
    cat err.txt
    echo "exit code $rc after ${took}s"
    [ "$rc" -ne 0 ] || fail "the job succeeded"
    [ "$rc" -ne 124 ] || fail "the job hung (killed by timeout)"
    [ "$1" = nonzero ] || [ "$rc" -eq "$1" ] || fail "exit code $rc, expected $1"
    [ "$took" -le 30 ] || fail "took ${took}s to stop"
    grep -q "$2" err.txt || fail "no message matching '$2'"
    [ "$(grep -c "rank 1: " err.txt)" -eq 1 ] || fail "expected the message once (from rank 0 only)"
    [ ! -e never.st ] || fail "a checkpoint was written"
}

case "$mode" in
equivalence)
    common="--epochs 2 --set data.validation=0.2"
    # shellcheck disable=SC2086
    one $common --checkpoint one.st --metrics one.jsonl
    # shellcheck disable=SC2086
    mpi 1 $common --checkpoint np1.st
    # shellcheck disable=SC2086
    mpi 2 $common --checkpoint np2.st --metrics np2.jsonl
    # 240 training samples in batches of 32 on 3 ranks: shards of 10/11/11 and 5/5/6.
    # shellcheck disable=SC2086
    mpi 3 $common --checkpoint np3.st
    "$compare" one.st np1.st 0 || fail "np=1 under mpirun differs from the plain run"
    "$compare" one.st np2.st 1e-5 || fail "np=2 differs from np=1"
    "$compare" one.st np3.st 1e-5 || fail "np=3 differs from np=1"
    # Batches of 2 on 3 ranks: one rank has an empty shard every step.
    one --epochs 1 --set train.batch_size=2 --checkpoint tiny1.st
    mpi 3 --epochs 1 --set train.batch_size=2 --checkpoint tiny3.st
    "$compare" tiny1.st tiny3.st 1e-5 || fail "empty shards change the result"
    [ "$(grep -c '"train_loss"' np2.jsonl)" -eq 2 ] || fail "np2.jsonl: expected 2 epoch lines (rank 0 only)"
    for key in train_loss train_acc val_loss val_acc test_loss test_acc; do
        same_metric one.jsonl np2.jsonl "$key"
    done
    ;;
checkpoint)
    # A constant learning rate, so a 1-epoch run followed by a resume is the 2-epoch run.
    set -- --set 'schedule={"type": "constant"}'
    one "$@" --epochs 2 --checkpoint full.st
    mpi 2 "$@" --epochs 1 --checkpoint mpi1.st
    one "$@" --epochs 2 --resume mpi1.st --checkpoint mpi_then_one.st
    mpi 2 "$@" --epochs 2 --resume mpi1.st --checkpoint mpi_then_mpi.st
    one "$@" --epochs 1 --checkpoint one1.st
    mpi 2 "$@" --epochs 2 --resume one1.st --checkpoint one_then_mpi.st
    "$compare" mpi1.st one1.st 1e-5 || fail "the 1-epoch checkpoints differ"
    "$compare" full.st mpi_then_one.st 1e-5 || fail "MPI checkpoint resumed in one process"
    "$compare" full.st mpi_then_mpi.st 1e-5 || fail "MPI checkpoint resumed under MPI"
    "$compare" full.st one_then_mpi.st 1e-5 || fail "single-process checkpoint resumed under MPI"
    ;;
failing_rank)
    on_rank1 --set 'data={"train": {"csv": "/nonexistent/slope-missing.csv"}}'
    expect_stop nonzero "rank 1: .*slope-missing.csv"
    ;;
mismatch)
    # A config or resume that differs on one rank is an input error (exit 3), naming the
    # setting and both values.
    on_rank1 --set seed=99
    expect_stop 3 "rank 1: seed (the config's seed): 99 here but 42 on rank 0"
    on_rank1 --epochs 7
    expect_stop 3 "rank 1: epochs (train.epochs): 7 here but 50 on rank 0"
    ;;
nan_rank)
    # Standardising with std 1e-300 makes rank 1's inputs infinite: its loss is NaN.
    on_rank1 --set data.normalize=standardize --set data.mean=0 --set data.std=1e-300
    expect_stop 4 "rank 1: step 1 "
    ;;
*)
    fail "unknown mode $mode"
    ;;
esac
echo "mpi $mode: ok"
