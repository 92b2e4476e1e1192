#!/usr/bin/env bash
# The ctest test "alloc_path": every src/ file allocates through src/alloc.h
# (sl_malloc, sl_calloc, sl_realloc, sl_aligned_alloc, sl_free), so the
# allocation counters that alloc_test and bench_train read see every block.
# A direct malloc/calloc/realloc/free/strdup call is allowed only on a line
# that says why with the tag "libc-alloc" (memory another library made, or a
# result the caller frees with free()).  usage: check_alloc_path.sh SRC_DIR
set -euo pipefail
src=$1
bad=$(grep -nE '(^|[^_[:alnum:].>])(malloc|calloc|realloc|free|strdup|strndup|posix_memalign|aligned_alloc)\(' \
          "$src"/*.c | grep -v "^$src/alloc.c:" | grep -v 'libc-alloc' |
      grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' || true)
if [ -n "$bad" ]; then
    echo "direct allocation calls outside src/alloc.c (use sl_malloc/sl_free, or tag the line"
    echo "libc-alloc with the reason):"
    echo "$bad"
    exit 1
fi
echo "every allocation in $src goes through src/alloc.h (or is tagged libc-alloc)"
