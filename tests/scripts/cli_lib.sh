# Shared by the CLI test scripts (sourced, not run): set $slope, $dir and $script first.
#   run ARGS...         slope ARGS, behind $SLOPE_WRAPPER when set (e.g. valgrind)
#   fail MESSAGE        prints "<script>: MESSAGE" and exits 1
#   expect_rc CODE WHAT checks $rc, showing err.txt when it differs
#   enter_fresh_dir     empties $dir and changes into it
run() { ${SLOPE_WRAPPER:-} "$slope" "$@"; }
fail() {
  echo "$script: $*" >&2
  exit 1
}
expect_rc() {
  [ "$rc" -eq "$1" ] || fail "$2: exit $rc, expected $1: $(cat err.txt 2>/dev/null)"
}
enter_fresh_dir() {
  rm -rf "$dir"
  mkdir -p "$dir" || exit 1
  cd "$dir" || exit 1
}
