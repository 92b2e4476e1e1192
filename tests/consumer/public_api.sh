#!/usr/bin/env bash
# Prints the name of every function a public header declares with SL_API,
# one per line, sorted.  usage: public_api.sh INCLUDE_DIR
set -euo pipefail
for h in "$1"/slope/*.h; do
    [ "$(basename "$h")" = export.h ] && continue
    # Drop comments, then take each SL_API declaration up to its ';' and the
    # first "sl_name(" in it: the function's name.
    perl -0777 -ne 's{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g;
        while (/\bSL_API\b([^;{}]*)/g) { my $d = $1; print "$1\n" if $d =~ /\b(sl_\w+)\s*\(/; }' "$h"
done | sort -u
