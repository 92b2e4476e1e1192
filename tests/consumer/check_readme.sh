#!/usr/bin/env bash
# The ctest test "readme_example": the program in README.md's "Use slope from C"
# section is tests/consumer/example.c, character for character, so the README
# shows exactly what CI compiles and runs (consumer_install).  Skipped (77)
# while README.md has no such section.
# usage: check_readme.sh README.md example.c
set -euo pipefail
readme=$1
example=$2
if [ ! -f "$readme" ] || ! grep -q '^##* Use slope from C' "$readme"; then
    echo "README.md has no \"Use slope from C\" section yet: skipped"
    exit 77
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# The first ```c block after the heading.
awk '/^#+ Use slope from C/ { sec = 1; next }
     sec && !inblk && /^```c[[:space:]]*$/ { inblk = 1; next }
     inblk && /^```[[:space:]]*$/ { exit }
     inblk { print }' "$readme" >"$tmp"
if [ ! -s "$tmp" ]; then
    echo "README.md's \"Use slope from C\" section has no \`\`\`c code block" >&2
    exit 1
fi
if ! diff -u "$example" "$tmp"; then
    echo "README.md's example differs from $example (paste the file into the README)" >&2
    exit 1
fi
echo "README.md's example is $example"
