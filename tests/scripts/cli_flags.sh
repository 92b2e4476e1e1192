#!/bin/sh
# The command lines of every `slope` command, parsed from one table per command: each flag
# its --help lists is one the command takes; a mistyped flag or command gets "did you mean";
# --flag=VALUE equals --flag VALUE; a flag missing its value, a bool given one, a count out
# of range and a second CONFIG exit 2; after "--" an argument is a file even if it starts
# with '-'.
#
#   cli_flags.sh SLOPE SOURCE_DIR WORKDIR
set -u
slope=$1
src=$2
dir=$3
script=cli_flags
. "$(dirname "$0")/cli_lib.sh"

enter_fresh_dir
spiral=$src/models/spiral_mlp.json

# Every flag in a command's help is known to its parser (whatever else goes wrong).
for cmd in train eval summary compare export predict born-dead; do
  run $cmd --help >help.txt 2>err.txt; rc=$?
  expect_rc 0 "$cmd --help"
  flags=$(grep -o '^  -[-a-z]*' help.txt | tr -d ' ')
  [ -n "$flags" ] || fail "$cmd --help lists no flags"
  for flag in $flags; do
    run $cmd $flag >out.txt 2>err.txt
    if grep -q "unknown option" err.txt; then fail "$cmd --help lists $flag, which $cmd refuses"; fi
  done
done

expect_suggestion() { # WANT CMD ARGS...: exit 2 and "did you mean WANT"
  want=$1
  shift
  run "$@" >out.txt 2>err.txt; rc=$?
  expect_rc 2 "$*"
  grep -q "did you mean $want?" err.txt || fail "$*: no suggestion of $want: $(cat err.txt)"
}
expect_suggestion --checkpoint train "$spiral" --chekpoint ck.safetensors
expect_suggestion --checkpoint train "$spiral" --check ck.safetensors
expect_suggestion --metrics train "$spiral" --metircs m.jsonl
expect_suggestion --seeds compare "$spiral" --act relu --seed 3
expect_suggestion --width born-dead --widht 2 --depth 2
expect_suggestion --checkpoint eval "$spiral" --checkpiont x
expect_suggestion train trian "$spiral"
expect_suggestion born-dead born_dead
expect_suggestion predict predcit --checkpoint x.safetensors in.png
expect_suggestion --logits predict --checkpoint x.safetensors in.png --logit
run train "$spiral" --zzzzzzzz >out.txt 2>err.txt; rc=$?
expect_rc 2 "a flag near none"
grep -q "did you mean" err.txt && fail "suggested something for --zzzzzzzz: $(cat err.txt)"

usage_error() { # WHAT CMD ARGS...: exit 2 with a message
  what=$1
  shift
  run "$@" >out.txt 2>err.txt; rc=$?
  expect_rc 2 "$what"
  [ -s err.txt ] || fail "$what: no message"
}
usage_error "--epochs without a value" train "$spiral" --epochs
usage_error "--epochs 0" train "$spiral" --epochs 0
usage_error "--threads x" summary "$spiral" --threads x
usage_error "--quiet=1" train "$spiral" --quiet=1
usage_error "two CONFIGs" summary "$spiral" "$spiral"
usage_error "--set without =" summary "$spiral" --set model
usage_error "eval without --checkpoint" eval "$spiral"
usage_error "born-dead without --depth" born-dead --width 2
usage_error "born-dead --trials 0" born-dead --width 2 --depth 2 --trials 0
grep -q "1 to 100000000" err.txt || fail "--trials range not said: $(cat err.txt)"

# --flag=VALUE is --flag VALUE.
run summary "$spiral" --set=model.layers[0].out=8 >a.txt 2>err.txt; rc=$?
expect_rc 0 "--set=..."
run summary "$spiral" --set model.layers[0].out=8 >b.txt 2>err.txt; rc=$?
expect_rc 0 "--set ..."
cmp -s a.txt b.txt || fail "--set=V and --set V differ"
grep -q "^total: " a.txt || fail "summary printed no total"
cmp -s a.txt "$(run summary "$spiral" >c.txt 2>&1; echo c.txt)" && fail "--set had no effect"

# After "--", a file that starts with '-'.
cp "$spiral" ./-spiral.json
run summary -- -spiral.json >out.txt 2>err.txt; rc=$?
expect_rc 0 "summary -- -spiral.json"
run summary -spiral.json >out.txt 2>err.txt; rc=$?
expect_rc 2 "summary -spiral.json (a flag)"
echo "cli_flags: ok"
