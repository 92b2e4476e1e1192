#!/usr/bin/env bash
# The ctest test "public_symbols": libslope.so exports exactly the public API.
#   - every dynamic symbol it defines starts with sl_ (hidden visibility by
#     default, SL_API on the public functions only);
#   - every function a public header declares with SL_API is exported (so it
#     exists and its header has it), and nothing is exported that no header declares.
#   - every global symbol libslope.a defines starts with sl_ too (the archive cannot hide
#     them, so anything else -- the generated ONNX code's, say -- would clash with a user's).
# usage: check_symbols.sh LIBSLOPE_SO INCLUDE_DIR [LIBSLOPE_A]
set -euo pipefail
lib=$1
inc=$2
archive=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/exported"
bash "$here/public_api.sh" "$inc" >"$tmp/declared"
status=0
count=$(wc -l <"$tmp/exported")
if [ "$count" -lt 50 ]; then
    echo "only $count symbols exported: is this libslope.so?" >&2
    status=1
fi
if [ -n "$archive" ]; then
    # (a sanitizer build adds its own __odr_asan.* markers beside each global)
    nm -g --defined-only "$archive" | awk 'NF == 3 && $3 !~ /^__(odr_asan|asan|ubsan)/ { print $3 }' |
        sort -u >"$tmp/archive"
    [ -s "$tmp/archive" ] || { echo "$archive defines no global symbols?" >&2; status=1; }
    if grep -v '^sl_' "$tmp/archive" >"$tmp/bad_archive"; then
        echo "global symbols of $archive without the sl_ prefix:" >&2
        sed 's/^/  /' "$tmp/bad_archive" | head -20 >&2
        status=1
    fi
fi
if grep -v '^sl_' "$tmp/exported" >"$tmp/bad"; then
    echo "exported symbols without the sl_ prefix:" >&2
    sed 's/^/  /' "$tmp/bad" >&2
    status=1
fi
# A few functions every user needs, checked by name in case a header loses them.
for f in sl_version sl_error_clear sl_status_name sl_model_new sl_model_add sl_model_init \
    sl_model_free sl_dataset_from_arrays sl_trainer_new sl_trainer_step sl_model_save \
    sl_model_load sl_predict sl_evaluate sl_config_load sl_backward sl_optimizer_step; do
    grep -qx "$f" "$tmp/exported" || { echo "missing public symbol: $f" >&2; status=1; }
done
if comm -23 "$tmp/declared" "$tmp/exported" >"$tmp/undefined" && [ -s "$tmp/undefined" ]; then
    echo "declared with SL_API in include/slope but not exported by $lib:" >&2
    sed 's/^/  /' "$tmp/undefined" >&2
    status=1
fi
if comm -13 "$tmp/declared" "$tmp/exported" >"$tmp/extra" && [ -s "$tmp/extra" ]; then
    echo "exported but declared in no public header (missing declaration, or SL_API on a private function):" >&2
    sed 's/^/  /' "$tmp/extra" >&2
    status=1
fi
[ $status -eq 0 ] && echo "$count exported symbols, all sl_*, matching the $(wc -l <"$tmp/declared") SL_API declarations"
exit $status
