#!/usr/bin/env bash
# Builds the consumer programs (example.c and train_fashion.c in C, steps.cpp
# in C++) against an installed slope, four ways, and runs each build:
#   pc-shared     cc $(pkg-config --cflags --libs slope)
#   pc-static     libslope.a plus what `pkg-config --static --libs slope` lists
#   cmake-shared  find_package(slope), slope::slope
#   cmake-static  find_package(slope COMPONENTS static), slope::slope_static
# train_fashion (the README's 15-line whole run: models/fashion_mlp.json, about
# 15 s) runs once, in the pc-shared build, and only when Fashion-MNIST is
# installed (/usr/share/datasets/fashion-mnist); the other builds compile it.
# Needs only the installed tree, not slope's sources or build.
#
# usage: build.sh PREFIX [WORK_DIR]
# env:   CC, CXX (default cc, c++); CFLAGS, CXXFLAGS, LDFLAGS are added to
#        every compile and link (the sanitizer build passes -fsanitize=... here).
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 PREFIX [WORK_DIR]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(cd "$1" && pwd)
work=${2:-$PWD/consumer-build}
mkdir -p "$work"
work=$(cd "$work" && pwd)
CC=${CC:-cc}
CXX=${CXX:-c++}
read -r -a cflags <<<"${CFLAGS:-}"
read -r -a cxxflags <<<"${CXXFLAGS:-}"
read -r -a ldflags <<<"${LDFLAGS:-}"
warn=(-Wall -Wextra -pedantic -Werror)

pcfile=$(find "$prefix" -path '*/pkgconfig/slope.pc' -print -quit)
if [ -z "$pcfile" ]; then
    echo "build.sh: no slope.pc under $prefix" >&2
    exit 1
fi
# Only the prefix's slope.pc; the system's paths stay for openblas, libcjson, zlib.
export PKG_CONFIG_PATH="$(dirname "$pcfile")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
libdir=$(pkg-config --variable=libdir slope)
echo "== slope $(pkg-config --modversion slope) from $pcfile"

# Runs one built program in its own directory; fails on a non-zero exit.
run() {
    local dir=$1
    shift
    echo "-- $dir: $*"
    (cd "$dir" && "$@")
}

# A binary must (shared) or must not (static) need libslope.so at run time.
check_needed() {
    local bin=$1 want=$2
    if readelf -d "$bin" | grep -q 'NEEDED.*libslope\.so'; then
        [ "$want" = shared ] || { echo "build.sh: $bin needs libslope.so but was linked statically" >&2; exit 1; }
    else
        [ "$want" = static ] || { echo "build.sh: $bin does not use libslope.so" >&2; exit 1; }
    fi
}

# ---- pkg-config, shared: the rpath lets the programs find libslope.so.N ------
d=$work/pc-shared
mkdir -p "$d"
"$CC" -std=c11 "${warn[@]}" "${cflags[@]}" "$here/example.c" -o "$d/example" \
    $(pkg-config --cflags --libs slope) -Wl,-rpath,"$libdir" "${ldflags[@]}"
"$CC" -std=c11 "${warn[@]}" "${cflags[@]}" "$here/train_fashion.c" -o "$d/train_fashion" \
    $(pkg-config --cflags --libs slope) -Wl,-rpath,"$libdir" "${ldflags[@]}"
"$CXX" -std=c++11 "${warn[@]}" "${cxxflags[@]}" "$here/steps.cpp" -o "$d/steps" \
    $(pkg-config --cflags --libs slope) -Wl,-rpath,"$libdir" "${ldflags[@]}"
check_needed "$d/example" shared
check_needed "$d/train_fashion" shared
check_needed "$d/steps" shared
# The GAN example as installed (share/slope/examples), with libpng beside slope.
examples=$(pkg-config --variable=datadir slope 2>/dev/null)/slope/examples
[ -f "$examples/gan.c" ] || examples=$prefix/share/slope/examples
if pkg-config --exists libpng; then
    "$CC" -std=c11 "${warn[@]}" "${cflags[@]}" "$examples/gan.c" -o "$d/gan" \
        $(pkg-config --cflags --libs slope libpng) -lm -Wl,-rpath,"$libdir" "${ldflags[@]}"
    check_needed "$d/gan" shared
    if (cd "$d" && ./gan >gan.txt 2>&1); then
        echo "build.sh: gan without arguments exited 0" >&2
        exit 1
    fi
    grep -q "^usage: gan --generator" "$d/gan.txt" || { cat "$d/gan.txt" >&2; exit 1; }
else
    echo "-- $d: gan not built (no libpng)"
fi
run "$d" ./example model.safetensors
run "$d" ./steps
if [ -d /usr/share/datasets/fashion-mnist ]; then
    # The installed model config and descriptors (the built-in descriptor path is the
    # configure-time prefix's, so point it at this one).
    (cd "$d" && SLOPE_DATASETS_DIR="$prefix/share/slope/datasets" ./train_fashion \
        "$prefix/share/slope/models/fashion_mlp.json" | tee train_fashion.txt)
    grep -q '^test accuracy: [0-9.]*%$' "$d/train_fashion.txt" ||
        { echo "build.sh: train_fashion printed no test accuracy" >&2; exit 1; }
else
    echo "-- $d: train_fashion not run (no /usr/share/datasets/fashion-mnist)"
fi

# ---- pkg-config, static: libslope.a (-l:libslope.a picks the archive over the
# .so in the same directory); --static adds OpenBLAS, cJSON, zlib, -lm, -lpthread.
d=$work/pc-static
mkdir -p "$d"
static_libs=$(pkg-config --static --libs slope | sed 's/-lslope\b/-l:libslope.a/')
"$CC" -std=c11 "${warn[@]}" "${cflags[@]}" -DSLOPE_STATIC "$here/example.c" -o "$d/example" \
    $(pkg-config --cflags slope) $static_libs "${ldflags[@]}"
"$CC" -std=c11 "${warn[@]}" "${cflags[@]}" -DSLOPE_STATIC "$here/train_fashion.c" \
    -o "$d/train_fashion" $(pkg-config --cflags slope) $static_libs "${ldflags[@]}"
"$CXX" -std=c++11 "${warn[@]}" "${cxxflags[@]}" -DSLOPE_STATIC "$here/steps.cpp" -o "$d/steps" \
    $(pkg-config --cflags slope) $static_libs "${ldflags[@]}"
check_needed "$d/example" static
check_needed "$d/train_fashion" static
check_needed "$d/steps" static
run "$d" ./example model.safetensors
run "$d" ./steps

# ---- CMake find_package, shared and static ------------------------------------
for kind in shared static; do
    d=$work/cmake-$kind
    rm -rf "$d"
    static=OFF
    [ "$kind" = static ] && static=ON
    CC="$CC" CXX="$CXX" cmake -S "$here" -B "$d" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
        -DSLOPE_CONSUMER_STATIC=$static >"$d.configure.log" 2>&1 ||
        { cat "$d.configure.log" >&2; exit 1; }
    # The package must come from the prefix, not from anywhere else on the system.
    found=$(sed -n 's/^slope_DIR:PATH=//p' "$d/CMakeCache.txt")
    case "$found" in
        "$prefix"/*) ;;
        *) echo "build.sh: find_package(slope) used $found, not $prefix" >&2; exit 1 ;;
    esac
    cmake --build "$d" >"$d.build.log" 2>&1 || { cat "$d.build.log" >&2; exit 1; }
    check_needed "$d/example" "$kind"
    check_needed "$d/train_fashion" "$kind"
    check_needed "$d/steps" "$kind"
    run "$d" ./example model.safetensors
    run "$d" ./steps
done
echo "== consumer: all 4 builds passed"
