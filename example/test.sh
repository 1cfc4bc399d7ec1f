#!/bin/sh
# The example's test: the app greets by name.
set -eu
out=$(sh example/src/greet.sh brewkit)
case "$out" in
  "hello, brewkit!"*) echo "ok: $out" ;;
  *) echo "unexpected output: $out" >&2; exit 1 ;;
esac
