#!/bin/sh
# cli_stats_check.sh - end-to-end checks of `slope compare` and `slope born-dead`.
# usage: cli_stats_check.sh compare SLOPE CONFIG OUTDIR
#        cli_stats_check.sh born-dead SLOPE OUTDIR
set -eu
fail() { echo "FAIL: $*" >&2; exit 1; }

check_compare() {
    slope=$1 config=$2 out=$3
    rm -rf "$out"
    # 3 activations x (init + 3 epochs) x 2 activation layers = 24 rows.
    "$slope" compare "$config" --act relu,leaky_relu:0.1,prelu:channel --epochs 3 \
        --out "$out" > "$out.log" 2>&1 || { cat "$out.log"; fail "compare exited $?"; }
    for f in stats.csv summary.json plots.gp; do
        [ -s "$out/$f" ] || fail "$out/$f missing"
    done
    if command -v gnuplot > /dev/null 2>&1; then
        [ -s "$out/dying.png" ] || fail "dying.png missing"
        [ -s "$out/prelu.png" ] || fail "prelu.png missing"
    fi
    header=$(head -n 1 "$out/stats.csv")
    for col in act seed epoch step layer units dead dead_frac sparsity died revived grad_mean_abs \
               alpha_mean alpha_min alpha_max test_acc; do
        echo ",$header," | grep -q ",$col," || fail "stats.csv lacks column $col"
    done
    rows=$(($(wc -l < "$out/stats.csv") - 1))
    [ "$rows" -eq 24 ] || fail "stats.csv has $rows rows, expected 24"
    for act in relu leaky_relu:0.1 prelu:channel; do
        n=$(grep -c "^$act," "$out/stats.csv")
        [ "$n" -eq 8 ] || fail "$act has $n rows, expected 8"
        for e in 0 1 2 3; do
            grep -q "^$act,42,$e," "$out/stats.csv" || fail "$act has no report for epoch $e"
        done
    done
    # PReLU rows carry slopes; ReLU rows do not.
    grep "^prelu:channel," "$out/stats.csv" | awk -F, '$15 == "" { exit 1 }' ||
        fail "prelu rows without alpha_mean"
    grep "^relu," "$out/stats.csv" | awk -F, '$15 != "" { exit 1 }' ||
        fail "relu rows with alpha_mean"
    # Shared initial weights: checked by the command, and the hashes agree here too.
    grep -q '"initial_weights_shared":[[:space:]]*true' "$out/summary.json" ||
        fail "summary.json does not report shared initial weights"
    hashes=$(grep -o '"initial_weights_hash":[[:space:]]*"[0-9a-f]*"' "$out/summary.json" |
             sed 's/.*"\([0-9a-f]*\)"$/\1/' | sort -u | wc -l)
    total=$(grep -c '"initial_weights_hash"' "$out/summary.json")
    [ "$total" -eq 3 ] || fail "expected 3 runs in summary.json, got $total"
    [ "$hashes" -eq 1 ] || fail "runs have $hashes different initial weight hashes"
    grep -q "dead@init" "$out.log" || fail "no table printed"
    grep -q "^prelu:channel (per-channel slopes) " "$out.log" || fail "PReLU's slopes not named"
    check_compare_edges "$slope" "$config" "$out.edges"
    check_compare_seeds "$1" "$2" "$3.seeds" # $out was reset by check_compare_edges
    echo "compare: ok"
}

# A long label keeps the table's columns; a run that diverges is a result (exit 0), a bad
# label a usage error (exit 2).
check_compare_edges() {
    slope=$1 config=$2 out=$3
    rm -rf "$out"
    "$slope" compare "$config" --act relu,prelu:channel:0.1,elu:1e30,gelu --epochs 1 \
        --out "$out" > "$out.log" 2> "$out.err" || { cat "$out.log" "$out.err"; fail "exit $?"; }
    grep -q "run elu:1e30 failed" "$out.err" || fail "the diverged run is not reported"
    grep -q "^elu:1e30 .*failed: " "$out.log" || fail "no failed run in the table"
    grep -q '"error"' "$out/summary.json" || fail "summary.json lacks the failed run's error"
    # gelu (a layer-table row and nothing else in the CLI) trains and reports like any other.
    grep -qE "^gelu +[0-9]+ +64 .*%" "$out.log" || fail "gelu is not in the table"
    [ "$(grep -c '^gelu,' "$out/stats.csv")" -ge 4 ] || fail "gelu has no stats rows"
    # Every table line puts "layer" and the layer index in the same column.
    col=$(grep "^activation " "$out.log" | awk '{ print index($0, " layer") + 5 }')
    grep -E "^(relu|prelu:channel:0.1|elu:1e30|gelu) " "$out.log" |
        awk -v c="$col" 'substr($0, c, 1) !~ /[0-9]/ || substr($0, c + 1, 1) != " " { exit 1 }' ||
        fail "table columns shift for long labels"
    set +e
    "$slope" compare "$config" --act relu,nope --epochs 1 --out "$out" > /dev/null 2> "$out.err"
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "a bad activation exited $rc, expected 2"
    grep -q 'activation "nope": unknown name' "$out.err" || fail "the bad label is not named"
}

# --seeds 2: every activation from seeds 42 and 43; seeds.csv, the aggregated table, and a
# diverging activation reported as such with exit status 0.
check_compare_seeds() {
    slope=$1 config=$2 out=$3
    rm -rf "$out"
    "$slope" compare "$config" --act relu,elu:1e30,prelu --seeds 2 --epochs 1 --out "$out" \
        > "$out.log" 2> "$out.err" || { cat "$out.log" "$out.err"; fail "--seeds exited $?"; }
    [ "$(head -n 1 "$out/seeds.csv")" = "act,seed,layer,units,dead_frac,sparsity,test_acc,diverged" ] ||
        fail "seeds.csv header: $(head -n 1 "$out/seeds.csv")"
    rows=$(($(wc -l < "$out/seeds.csv") - 1))
    [ "$rows" -eq 12 ] || fail "seeds.csv has $rows rows, expected 3 x 2 seeds x 2 layers"
    for s in 42 43; do
        [ "$(grep -c "^relu,$s,[13],64,[0-9.e-]*,[0-9.e-]*,[0-9.e-]*,0$" "$out/seeds.csv")" -eq 2 ] ||
            fail "relu seed $s rows"
        [ "$(grep -c "^elu:1e30,$s,[13],64,,,,1$" "$out/seeds.csv")" -eq 2 ] ||
            fail "elu:1e30 seed $s is not a diverged row"
    done
    grep -q "fin  *div" "$out.log" || fail "no aggregated table"
    grep -qE "^relu +1 +64 +2 +0 " "$out.log" || fail "relu: not 2 finished, 0 diverged"
    grep -qE "^elu:1e30 +1 +64 +0 +2 " "$out.log" || fail "elu:1e30: not 0 finished, 2 diverged"
    grep -qE "^prelu \(shared slope\) +3 +64 +2 +0 " "$out.log" || fail "prelu line"
    grep -q "Welch's t-test" "$out.log" || fail "the table does not name its tests"
    grep -q "Fisher's exact test" "$out.log" || fail "the table does not name Fisher's test"
    grep -q "elu:1e30 seed 43 diverged" "$out.log" || fail "the diverged runs are not listed"
    grep -q "filledcurves" "$out/plots.gp" || fail "plots.gp has no bands"
    grep -q '"aggregates"' "$out/summary.json" || fail "summary.json has no aggregates"
    if command -v gnuplot > /dev/null 2>&1; then
        [ -s "$out/dying.png" ] || fail "dying.png missing (seeds)"
    fi
    "$slope" compare "$config" --act relu --seeds 0 --out "$out" > /dev/null 2>&1 &&
        fail "--seeds 0 accepted"
    return 0
}

check_born_dead() {
    slope=$1 out=$2
    mkdir -p "$out"
    "$slope" born-dead --width 1,2 --depth 1-3 --trials 2000 --csv "$out/born.csv" \
        > "$out/born.log" 2>&1 || { cat "$out/born.log"; fail "born-dead exited $?"; }
    head -n 1 "$out/born.csv" | grep -q "^width,depth,trials,p_dead,stderr" ||
        fail "born.csv header"
    rows=$(($(wc -l < "$out/born.csv") - 1))
    [ "$rows" -eq 6 ] || fail "born.csv has $rows rows, expected 6"
    # Width 1, depth 3: exactly 1 - 2^-2 = 0.75; allow 5 standard errors (0.0097 each).
    awk -F, '$1 == 1 && $2 == 3 { d = $4 - 0.75; if (d < -0.05 || d > 0.05) exit 1 }' \
        "$out/born.csv" || fail "width 1 depth 3 is far from 0.75"
    "$slope" born-dead --width 0 --depth 2 > /dev/null 2>&1 && fail "width 0 accepted"
    echo "born-dead: ok"
}

# `slope train`'s statistics: off in the training configs, on in the dying ones; when on,
# one line per activation layer and report, "dead" for ReLU and "inactive" for Leaky ReLU.
check_train() {
    slope=$1 models=$2 out=$3
    rm -rf "$out" && mkdir -p "$out"
    for m in fashion_mlp fashion_mlp_prelu fashion_cnn spiral_mlp; do
        grep -q '"stats": { "enabled": false' "$models/$m.json" || fail "$m.json: stats not off"
    done
    for m in dying_mlp dying_cnn; do
        grep -q '"stats": { "enabled": true' "$models/$m.json" || fail "$m.json: stats not on"
    done
    "$slope" train "$models/spiral_mlp.json" --epochs 1 > "$out/off.log" 2>&1 ||
        fail "train exited $?: $(cat "$out/off.log")"
    [ "$(wc -l < "$out/off.log")" -eq 3 ] || fail "stats off: $(cat "$out/off.log")"
    grep -q "training examples, 1 epoch$" "$out/off.log" || fail "1 epoch: $(head -n 1 "$out/off.log")"
    "$slope" train "$models/spiral_mlp.json" --epochs 2 --set stats.enabled=true \
        --set 'model.layers[1]={"type": "relu"}' > "$out/on.log" 2>&1 ||
        fail "train exited $?: $(cat "$out/on.log")"
    grep -q "training examples, 2 epochs$" "$out/on.log" || fail "2 epochs: $(head -n 1 "$out/on.log")"
    # Init and 2 epochs, 2 layers: 6 lines, and one header for the report at init.
    [ "$(grep -c '^  layer [13] ' "$out/on.log")" -eq 6 ] || fail "layer lines: $(cat "$out/on.log")"
    [ "$(grep -c '^stats at init (probe 300 examples):$' "$out/on.log")" -eq 1 ] ||
        fail "no header for the report at init: $(cat "$out/on.log")"
    [ "$(grep -cE '^  layer 1 relu: [0-9]+/64 dead \([0-9.]+%\), [0-9]+ since init, died [0-9]+, revived [0-9]+, neg mean ' "$out/on.log")" -eq 3 ] ||
        fail "relu lines: $(cat "$out/on.log")"
    [ "$(grep -cE '^  layer 3 leaky_relu: [0-9]+/64 inactive \([0-9.]+%\), ' "$out/on.log")" -eq 3 ] ||
        fail "leaky_relu lines: $(cat "$out/on.log")"
    [ "$(wc -l < "$out/on.log")" -eq 11 ] || fail "on: $(cat "$out/on.log")"
    # The help says what the flags do: the checkpoint at the end too, slope's own threads.
    "$slope" train --help > "$out/help.txt" || fail "train --help exited $?"
    grep -q -- "--checkpoint FILE .* and at the end" "$out/help.txt" || fail "--checkpoint help"
    grep -q -- "--threads N  .*slope's worker threads" "$out/help.txt" || fail "--threads help"
    grep -q -- "--quiet  .*no progress bar" "$out/help.txt" || fail "--quiet help"
    echo "train: ok"
}

case "$1" in
train) check_train "$2" "$3" "$4" ;;
compare) check_compare "$2" "$3" "$4" ;;
born-dead) check_born_dead "$2" "$3" ;;
*) fail "unknown check $1" ;;
esac
