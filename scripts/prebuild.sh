#!/usr/bin/env bash
# npm run prebuild: the prebuilt addons the package carries, made with
# prebuildify (N-API: one binary serves every Node >= 20), loaded by
# node-gyp-build (which falls back to a source build when none fits):
#
#   prebuilds/linux-x64/rethook.glibc.node     built here on an x86-64 host
#   prebuilds/linux-arm64/rethook.glibc.node   built here on an arm64 host, else
#                                              in the arm64 VM (docker/arm64-vm.sh),
#                                              which then runs the suite on it
#
#   scripts/prebuild.sh            both (the VM takes 10+ minutes)
#   scripts/prebuild.sh --host     this machine's architecture only (prepack)
#   scripts/prebuild.sh --check    say which prebuilds are missing or stale, build nothing
#
# Each prebuild directory holds SOURCES, the hash of the native sources it was
# built from: a prebuild is stale when they changed since. Prebuilds are build
# output: not committed (.gitignore), made by prepack and by this script.
# Environment: RETHOOK_PREBUILD_SUITE=0 skips the suite in the VM.
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=$(node -p process.arch)
MODE=${1:-all}

sources_hash() {
  { echo binding.gyp; find native -type f \( -name '*.cc' -o -name '*.h' -o -name '*.c' -o -name '*.S' \) | LC_ALL=C sort; } |
    while read -r f; do echo "$f $(sha256sum <"$f" | cut -c1-64)"; done | sha256sum | cut -c1-16
}
HASH=$(sources_hash)

fresh() { # fresh ARCH: its prebuild exists and was built from these sources
  [ -f "prebuilds/linux-$1/rethook.glibc.node" ] && [ "$(cat "prebuilds/linux-$1/SOURCES" 2>/dev/null)" = "$HASH" ]
}

build_host() {
  if fresh "$HOST"; then echo "prebuild: prebuilds/linux-$HOST is up to date"; return; fi
  echo "prebuild: building prebuilds/linux-$HOST"
  rm -rf "prebuilds/linux-$HOST"
  npx --no-install prebuildify --napi --strip --tag-libc
  echo "$HASH" >"prebuilds/linux-$HOST/SOURCES"
  # It must load (node-gyp-build with prebuilds only, as an installed package would).
  PREBUILDS_ONLY=1 node -e "require('node-gyp-build')('.'); console.log('prebuild: linux-$HOST loads')"
}

build_arm64_vm() {
  if fresh arm64; then echo "prebuild: prebuilds/linux-arm64 is up to date"; return; fi
  if pgrep -f "^(timeout .* )?qemu-system-aarch64" >/dev/null; then
    echo "prebuild: an arm64 VM is already running (it shares its work directory): try again when it is done" >&2
    exit 1
  fi
  local work=${RETHOOK_CACHE:-/var/cache/rethook}/arm64/work/src
  local suite=""
  if [ "${RETHOOK_PREBUILD_SUITE:-1}" != 0 ]; then
    # The suite against the prebuild itself: no build/ (node-gyp-build would prefer it), PREBUILDS_ONLY.
    suite=" && rm -rf build && npx tsc -p . && PREBUILDS_ONLY=1 taskset -c 1 npx jest --runInBand --forceExit --reporters=default --reporters=./docker/vm-progress-reporter.js"
  fi
  echo "prebuild: building prebuilds/linux-arm64 in the arm64 VM${suite:+, then the suite on it}"
  bash docker/arm64-vm.sh --shell-cmd "rm -rf prebuilds/linux-arm64 && npx --no-install prebuildify --napi --strip --tag-libc && PREBUILDS_ONLY=1 node -e \"require('node-gyp-build')('.'); console.log('prebuild: linux-arm64 loads')\"$suite"
  mkdir -p prebuilds/linux-arm64
  cp "$work/prebuilds/linux-arm64/rethook.glibc.node" prebuilds/linux-arm64/
  echo "$HASH" >prebuilds/linux-arm64/SOURCES
}

case "$MODE" in
  --check)
    rc=0
    for a in x64 arm64; do
      if fresh "$a"; then echo "prebuild: linux-$a up to date"; else echo "prebuild: linux-$a missing or stale (npm run prebuild)"; rc=1; fi
    done
    exit $rc ;;
  --host) build_host ;;
  all)
    build_host
    if [ "$HOST" = x64 ]; then build_arm64_vm
    else echo "prebuild: build prebuilds/linux-x64 on an x86-64 host (npm run prebuild there) and copy it here" >&2; fi ;;
  *) echo "usage: scripts/prebuild.sh [--host | --check]" >&2; exit 2 ;;
esac
