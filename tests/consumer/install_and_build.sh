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
    # The installed CLI trains an installed model config on an installed descriptor.
    # (Its built-in descriptor path is the configure-time prefix's, so point it here.)
    (cd "$work" && SLOPE_DATASETS_DIR="$prefix/share/slope/datasets" "$prefix/bin/slope" train \
        "$prefix/share/slope/models/spiral_mlp.json" --epochs 1 --quiet) ||
        fail "bin/slope train share/slope/models/spiral_mlp.json failed"
fi
echo "== installed tree at $prefix is complete (SONAME $soname)"

bash "$here/build.sh" "$prefix" "$work/consumer"
