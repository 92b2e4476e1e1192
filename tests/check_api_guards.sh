#!/usr/bin/env bash
# check_api_guards.sh - every SL_API function of include/slope/*.h is named in
# tests/test_api_guards.c (called there with NULL and extreme arguments, or named
# in a comment when a call would change process-wide state).  Fails naming the
# missing ones.  Usage: check_api_guards.sh <source dir>
set -euo pipefail
root=${1:-.}
test_file="$root/tests/test_api_guards.c"
# Functions without a pointer or range argument to guard, exempt from the check.
exempt="sl_version"
missing=0
for name in $(cat "$root"/include/slope/*.h | tr '\n' ' ' |
              grep -oE 'SL_API[^;(]*\(' | grep -oE 'sl_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u); do
    case " $exempt " in *" $name "*) continue ;; esac
    if ! grep -qE "\\b$name\\b" "$test_file"; then
        echo "check_api_guards: $name (SL_API) is not exercised by tests/test_api_guards.c" >&2
        missing=$((missing + 1))
    fi
done
if [ "$missing" -gt 0 ]; then
    echo "check_api_guards: $missing SL_API function(s) missing" >&2
    exit 1
fi
echo "check_api_guards: every SL_API function is covered"
