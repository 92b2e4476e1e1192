#!/usr/bin/env bash
# The ctest test "consumer_install": installs the build tree into a scratch
# prefix, checks the installed layout, then builds and runs tests/consumer
# against that prefix four ways (build.sh).  Nothing from the source or build
# tree is on any search path of the consumer builds.
#
# usage: install_and_build.sh BUILD_DIR WORK_DIR VERSION CLI(0|1) [CONFIG]
set -euo pipefail

build=$1
work=$2
version=$3
cli=$4
config=${5:-}
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" ${config:+--config "$config"} >"$work/install.log"

fail() {
    echo "install_and_build.sh: $*" >&2
    exit 1
}
major=${version%%.*}
libdir=$(dirname "$(find "$prefix" -name "libslope.so.$version" -print -quit)")
[ -n "$libdir" ] && [ "$libdir" != . ] || fail "no libslope.so.$version installed"
for f in include/slope/slope.h include/slope/export.h \
    "${libdir#"$prefix"/}/libslope.so" "${libdir#"$prefix"/}/libslope.so.$major" \
    "${libdir#"$prefix"/}/libslope.a" "${libdir#"$prefix"/}/pkgconfig/slope.pc" \
    "${libdir#"$prefix"/}/cmake/slope/slopeConfig.cmake" \
    "${libdir#"$prefix"/}/cmake/slope/slopeConfigVersion.cmake" \
    "${libdir#"$prefix"/}/cmake/slope/slopeTargets.cmake" \
    "${libdir#"$prefix"/}/cmake/slope/slopeStaticTargets.cmake" \
    share/slope/datasets/spiral.json share/slope/models/spiral_mlp.json; do
    [ -e "$prefix/$f" ] || fail "missing $f in the installed tree"
done
soname=$(readelf -d "$libdir/libslope.so.$version" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libslope.so.$major" ] || fail "SONAME is '$soname', expected libslope.so.$major"
[ ! -e "$prefix/share/slope/datasets/fixtures" ] || fail "the loaders' test fixtures were installed"
if [ "$cli" = 1 ]; then
    [ -x "$prefix/bin/slope" ] || fail "the slope CLI is not in bin/"
    out=$("$prefix/bin/slope" --version)
    [ "$out" = "slope $version" ] || fail "bin/slope --version printed '$out'"
    # The installed CLI trains an installed model config.
    (cd "$work" && "$prefix/bin/slope" train \
        "$prefix/share/slope/models/spiral_mlp.json" --epochs 1 --quiet) ||
        fail "bin/slope train share/slope/models/spiral_mlp.json failed"
    # It finds the descriptors installed beside it (this prefix is not the configured one),
    # with SLOPE_DATASETS_DIR unset, run outside the source tree: a descriptor only the
    # installed tree holds opens.
    mkdir -p "$work/run"
    printf 'label,x0,x1\n0,0.5,1\n1,-1,0.25\n0,0.75,0.5\n1,-0.5,-1\n' >"$work/run/tiny.csv"
    cat >"$prefix/share/slope/datasets/installed-only.json" <<JSON
{ "name": "installed-only", "format": "csv", "classes": 2, "directory": "$work/run",
  "splits": { "train": { "file": "tiny.csv" }, "test": { "file": "tiny.csv" } } }
JSON
    cat >"$work/run/cfg.json" <<'JSON'
{ "name": "installed", "data": { "dataset": "installed-only", "validation": 0.0 },
  "model": { "input": [2], "layers": [ { "type": "linear", "out": 2 } ] },
  "train": { "epochs": 1, "batch_size": 2 }, "stats": { "enabled": false } }
JSON
    (cd "$work/run" && env -u SLOPE_DATASETS_DIR "$prefix/bin/slope" train cfg.json --quiet \
        >train.txt 2>&1) || fail "bin/slope did not find its installed descriptor: $(cat "$work/run/train.txt")"
    # A descriptor nobody has: the message names where it looked and SLOPE_DATASETS_DIR.
    sed 's/installed-only/nowhere/' "$work/run/cfg.json" >"$work/run/nowhere.json"
    (cd "$work/run" && env -u SLOPE_DATASETS_DIR "$prefix/bin/slope" train nowhere.json \
        --quiet >nowhere.txt 2>&1) && fail "bin/slope found a descriptor that does not exist"
    grep -qF "$prefix/bin/../share/slope/datasets" "$work/run/nowhere.txt" &&
        grep -qF "set SLOPE_DATASETS_DIR" "$work/run/nowhere.txt" ||
        fail "the message does not say where it looked: $(cat "$work/run/nowhere.txt")"
fi
echo "== installed tree at $prefix is complete (SONAME $soname)"

bash "$here/build.sh" "$prefix" "$work/consumer"
