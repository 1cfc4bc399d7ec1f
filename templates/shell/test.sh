#!/bin/sh
set -eu
[ "$(sh src/hello.sh brewkit)" = "hello, brewkit!" ] || { echo "greeting is wrong" >&2; exit 1; }
echo "tests passed"
