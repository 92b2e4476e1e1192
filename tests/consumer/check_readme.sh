#!/usr/bin/env bash
# The ctest test "readme_example": the programs README.md shows are the files
# CI compiles and runs (consumer_install), character for character:
#   - the first ```c block of the "Use slope from C" section is example.c;
#   - the ```c block that calls sl_run_new_file (the whole run in 15 lines)
#     is train_fashion.c, when one is given (README.md must have such a block).
# Skipped (77) while README.md has neither.
# usage: check_readme.sh README.md example.c [train_fashion.c]
set -euo pipefail
readme=$1
example=$2
fashion=${3:-}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
checked=0

# same FILE WHAT: the block in $tmp is FILE.
same() {
    if ! diff -u "$1" "$tmp"; then
        echo "README.md's $2 differs from $1 (paste the file into the README)" >&2
        exit 1
    fi
    echo "README.md's $2 is $1"
    checked=$((checked + 1))
}

if [ -f "$readme" ] && grep -q '^##* Use slope from C' "$readme"; then
    # The first ```c block after the heading.
    awk '/^#+ Use slope from C/ { sec = 1; next }
         sec && !inblk && /^```c[[:space:]]*$/ { inblk = 1; next }
         inblk && /^```[[:space:]]*$/ { exit }
         inblk { print }' "$readme" >"$tmp"
    if [ ! -s "$tmp" ]; then
        echo "README.md's \"Use slope from C\" section has no \`\`\`c code block" >&2
        exit 1
    fi
    same "$example" "example"
else
    echo "README.md has no \"Use slope from C\" section yet: example.c not checked"
fi

if [ -n "$fashion" ] && [ -f "$readme" ]; then
    # The first ```c block anywhere that calls sl_run_new_file.
    awk '!inblk && /^```c[[:space:]]*$/ { inblk = 1; n = 0; has = 0; next }
         inblk && /^```[[:space:]]*$/ { if (has) { for (i = 1; i <= n; i++) print line[i]; exit }
                                        inblk = 0; next }
         inblk { line[++n] = $0; if (index($0, "sl_run_new_file(")) has = 1 }' \
        "$readme" >"$tmp"
    if [ -s "$tmp" ]; then
        same "$fashion" "whole-run program"
    else
        echo "README.md shows no program calling sl_run_new_file: it must show $(basename "$fashion")" >&2
        exit 1
    fi
fi
[ "$checked" -gt 0 ] || exit 77
