#!/bin/sh
# ulimit_sweep.sh SLOPE CONFIG - training under address-space limits always ends.
#
# OpenBLAS retries a failed work-buffer allocation forever, so under some `ulimit -v`
# limits `slope train` used to spin for good (issue #18).  Each run here is under a
# limit from 16 MB to 1.5 GB (in KiB, as ulimit counts), alone or with --threads 2, and must end within its
# timeout: exit 0, or non-zero with a message on stderr (127, the dynamic loader
# failing to map a library at the smallest limits, counts as ending).
# Skipped (77) behind $SLOPE_WRAPPER (valgrind) or a sanitizer's runtime, whose own
# reservations make `ulimit -v` meaningless.
set -u
slope=$1
config=$2
if [ -n "${SLOPE_WRAPPER:-}" ] || ldd "$slope" 2>/dev/null | grep -q 'libasan\|libtsan'; then
    echo "skipped: ulimit -v means nothing under a wrapper or sanitizer"
    exit 77
fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT
fail=0
# 12 limits, each alone and with --threads 2: 24 runs.
for v in 16000 32000 50000 64000 100000 150000 200000 300000 400000 600000 1000000 1500000; do
    for threads in "" "--threads 2"; do
        (ulimit -v "$v" && exec timeout -k 2 20 "$slope" train "$config" --epochs 1 $threads) >/dev/null 2>"$err"
        rc=$?
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "FAIL: ulimit -v $v $threads: still running after 20 s (rc $rc)"
            fail=1
            break 2
        elif [ "$rc" -ne 0 ] && [ ! -s "$err" ]; then
            echo "FAIL: ulimit -v $v $threads: exit $rc with nothing on stderr"
            fail=1
        else
            echo "ok: ulimit -v $v $threads: exit $rc $(head -c 160 "$err" | tr '\n' ' ')"
        fi
    done
done
exit $fail
