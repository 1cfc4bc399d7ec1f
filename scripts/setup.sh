#!/usr/bin/env bash
# Installs everything brewkit needs on a Debian/Ubuntu machine: runc, the CNI plugins that
# give each build step its own network, RootlessKit, uidmap and slirp4netns (the daemon of
# a user who is not root), busybox-static (the examples' offline base image), the npm
# dependencies, and the pinned BuildKit (buildkitd + buildctl, built with Go into
# ~/.brewkit/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

# The plugins BuildKit's bridge network runs, in one of the directories brewkit looks in.
have_cni_plugins() {
  local dir
  for dir in /opt/cni/bin /usr/lib/cni; do
    [ -x "$dir/bridge" ] && [ -x "$dir/loopback" ] && [ -x "$dir/host-local" ] && [ -x "$dir/firewall" ] && return 0
  done
  return 1
}

need=()
command -v runc >/dev/null || need+=(runc)
have_cni_plugins || need+=(containernetworking-plugins)
command -v rootlesskit >/dev/null || need+=(rootlesskit)
{ command -v newuidmap >/dev/null && command -v newgidmap >/dev/null; } || need+=(uidmap)
command -v slirp4netns >/dev/null || need+=(slirp4netns)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v ssh-agent >/dev/null || need+=(openssh-client)
[ -x /usr/bin/time ] || need+=(time)
command -v openssl >/dev/null || need+=(openssl)
command -v htpasswd >/dev/null || need+=(apache2-utils)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
fi

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

npm ci --no-audit --no-fund
# npm ci compiles brewkit (the prepare script); build here if an install policy skipped it.
[ -f dist/bundle/main.cjs ] || npm run build
node bin/brewkit.js daemon install
