#!/usr/bin/env bash
# The ctest test "public_headers": every public header stands alone.
#   - compiles by itself (and included twice) as C11 and as C++11 with
#     -Wall -Wextra -pedantic -Werror, with only the include dir on the path
#     (public headers may include the C library only);
#   - wraps its declarations in extern "C" for C++;
#   - slope.h includes it;
# and a C++ program taking the address of every SL_API function links
# against libslope.so (a declaration without C linkage would not link).
# usage: check_headers.sh INCLUDE_DIR CC CXX LIBSLOPE_SO [EXTRA_FLAGS]
set -euo pipefail
inc=$1
cc=$2
cxx=$3
lib=$4
read -r -a extra <<<"${5:-}"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-Wall -Wextra -pedantic -Werror -I"$inc")
status=0
n=0
for h in "$inc"/slope/*.h; do
    name=$(basename "$h")
    n=$((n + 1))
    printf '#include <slope/%s>\n#include <slope/%s>\n' "$name" "$name" >"$tmp/t.cpp"
    # (ISO C forbids an empty translation unit: export.h alone declares nothing)
    { cat "$tmp/t.cpp"; echo 'typedef int slope_check_nonempty;'; } >"$tmp/t.c"
    "$cc" -std=c11 -Wstrict-prototypes "${flags[@]}" -fsyntax-only "$tmp/t.c" ||
        { echo "FAIL: $name does not compile alone as C11" >&2; status=1; }
    "$cxx" -std=c++11 "${flags[@]}" -fsyntax-only "$tmp/t.cpp" ||
        { echo "FAIL: $name does not compile alone as C++11" >&2; status=1; }
    if grep -q '\bSL_API\b' "$h" && [ "$name" != export.h ] &&
        ! grep -q 'extern "C"' "$h"; then
        echo "FAIL: $name declares SL_API functions outside extern \"C\"" >&2
        status=1
    fi
    if [ "$name" != slope.h ] && ! grep -q "#include \"slope/$name\"" "$inc/slope/slope.h"; then
        echo "FAIL: slope.h does not include slope/$name" >&2
        status=1
    fi
done

{
    for h in "$inc"/slope/*.h; do echo "#include <slope/$(basename "$h")>"; done
    echo 'int main() {'
    echo '    void (*volatile sink)(void);'
    bash "$here/public_api.sh" "$inc" |
        sed 's/.*/    sink = reinterpret_cast<void (*)(void)>(\&&);/'
    echo '    (void)sink;'
    echo '    return 0;'
    echo '}'
} >"$tmp/all.cpp"
"$cxx" -std=c++11 "${flags[@]}" "${extra[@]}" "$tmp/all.cpp" -o "$tmp/all" "$lib" ||
    { echo "FAIL: a C++ program using every SL_API function does not link against $lib" >&2; status=1; }
[ $status -eq 0 ] && echo "$n headers compile alone as C11 and C++11; all $(bash "$here/public_api.sh" "$inc" | wc -l) functions link from C++"
exit $status
