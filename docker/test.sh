#!/usr/bin/env bash
# Run rethook's test suite in a Debian bookworm container with Node 20.
#
#   docker/test.sh amd64|arm64 [jest arguments...]
#
# amd64 (and arm64 on an arm64 host): build the image (docker/Dockerfile) and
# run `npm ci && npm test` in it on a copy of this checkout; exit with the
# suite's status.  arm64 on an x86-64 host: hand over to docker/arm64-vm.sh,
# because ptrace does not work under qemu-user emulation (a docker container of
# another architecture), only under a real arm64 kernel.
#
# Nothing here needs an image registry (none is reachable where this was
# written): the base image is debootstrapped and imported, Node comes from the
# npm registry.  Downloads and the base rootfs are cached in $RETHOOK_CACHE.
#
# Environment:
#   RETHOOK_CACHE          cache dir (default /var/cache/rethook)
#   RETHOOK_NODE_VERSION   node-linux-* version: a major (default 20) or exact (20.20.2)
#   RETHOOK_NPM_VERSION    npm version, likewise (default 10, the major bundled with Node 20)
#   RETHOOK_DEBIAN_MIRROR  Debian mirror for debootstrap (default: read from apt sources)
#   RETHOOK_TEST_CMD       command run in the container (default: npm ci && npm test;
#                          jest arguments given to this script are appended)
#   RETHOOK_TIMEOUT        seconds the container command may take (default 900):
#                          a jest that never exits must not hang CI forever
#   RETHOOK_TEST_*         passed on to the tests in the container (e.g. RETHOOK_TEST_SCALE)
#   RETHOOK_REV            test this commit (git archive) instead of the work tree
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# Our part of the shared cache (docker/arm64-vm.sh keeps its own under arm64/).
cache=${RETHOOK_CACHE:-/var/cache/rethook}/docker
node_version=${RETHOOK_NODE_VERSION:-20}
npm_version=${RETHOOK_NPM_VERSION:-10}
test_cmd=${RETHOOK_TEST_CMD:-npm ci && npm test}
timeout_s=${RETHOOK_TIMEOUT:-900}
suite=bookworm
base_image=rethook-base:$suite
# What goes into the base rootfs.  procps: ps/kill, to look inside a hung run
# with `docker exec`.  Changing this list changes base_key, which rebuilds the
# base (the key is a label on the image and part of the cached tarball's name).
base_packages=g++,make,python3,ca-certificates,procps,xz-utils,binutils,util-linux,golang-go,libdw-dev,libiberty-dev
test_image=rethook-test:$suite-node$node_version

log() { printf '[test.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---------------------------------------------------------------- arguments
arch=${1:-}
case "$arch" in
  amd64|arm64) ;;
  *) echo "usage: $0 amd64|arm64" >&2; exit 2 ;;
esac

case "$(uname -m)" in
  x86_64) host_arch=amd64 ;;
  aarch64|arm64) host_arch=arm64 ;;
  *) host_arch=$(uname -m) ;;
esac

if [ "$arch" != "$host_arch" ]; then
  if [ "$arch" = arm64 ] && [ "$host_arch" = amd64 ]; then
    # Hook point for the arm64 runner (a qemu-system-aarch64 VM, maintained
    # separately).  It gets the remaining arguments and decides the exit status.
    vm="$here/arm64-vm.sh"
    if [ -x "$vm" ]; then
      exec "$vm" "${@:2}"
    elif [ -f "$vm" ]; then
      exec bash "$vm" "${@:2}"
    fi
    die "arm64 on an x86-64 host needs $vm (the qemu-system-aarch64 VM runner), which is missing. A docker container cannot do it: ptrace does not work under qemu-user emulation."
  fi
  die "running $arch tests on a $host_arch host is not supported"
fi

# Names of the architecture in the node-linux-* packages and in the OpenSSL
# headers shipped with them.
case "$arch" in
  amd64) node_arch=x64 ossl_arch=linux-x86_64 ;;
  arm64) node_arch=arm64 ossl_arch=linux-aarch64 ;;
esac

# Jest arguments: appended to the test command, quoted for the container's bash.
shift
if [ $# -gt 0 ] && [ -z "${RETHOOK_TEST_CMD:-}" ]; then
  test_cmd+=" --$(printf ' %q' "$@")"
fi

mkdir -p "$cache/dl"
declare -A took=()   # step name -> "N s" for the summary at the end

# ------------------------------------------------------------ docker engine
# The docker.io package brings dockerd, but there is no init system here to
# start it, so start it ourselves and leave it running for the next run.
ensure_docker() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  [ "$(id -u)" = 0 ] || die "docker is not reachable and starting dockerd needs root"
  if ! command -v dockerd >/dev/null; then
    log "dockerd not installed: apt-get install -y docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y docker.io >&2
  fi
  log "dockerd is not running: starting it in the background (log: $cache/dockerd.log); it stays up after this script"
  # setsid: its own session, so it outlives this script and ^C here.
  setsid dockerd >"$cache/dockerd.log" 2>&1 </dev/null &
  local i
  for i in $(seq 60); do
    if docker info >/dev/null 2>&1; then
      log "dockerd is up (pid $(pgrep -xo dockerd))"
      return
    fi
    sleep 1
  done
  tail -n 20 "$cache/dockerd.log" >&2 || true
  die "dockerd did not come up within 60 s"
}

# -------------------------------------------------------------- base image
# The Debian mirror the host's apt uses for $suite, from the one-line
# (sources.list, *.list) or deb822 (*.sources) format.  Only the plain suite
# counts (not -updates/-security): debootstrap wants the main archive.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
    [ -r "$f" ] || continue
    case "$f" in
      *.sources)
        # Paragraph mode: one stanza per record.  Comment lines are skipped,
        # continuation lines (leading blank) belong to the previous field.
        awk -v suite="$suite" '
          BEGIN { RS = ""; FS = "\n" }
          {
            delete v; key = ""
            for (i = 1; i <= NF; i++) {
              line = $i
              if (line ~ /^#/) continue
              if (line ~ /^[ \t]/) { if (key != "") v[key] = v[key] " " line; continue }
              p = index(line, ":"); if (!p) continue
              key = tolower(substr(line, 1, p - 1)); v[key] = substr(line, p + 1)
            }
            for (k in v) { gsub(/[ \t]+/, " ", v[k]); v[k] = " " v[k] " " }
            if (v["enabled"] ~ / no /) next
            if (v["types"] !~ / deb / || v["suites"] !~ (" " suite " ")) next
            n = split(v["uris"], u, " ")
            for (j = 1; j <= n; j++) if (u[j] ~ /^(https?|file):/) { print u[j]; exit }
          }' "$f" ;;
      *.list|*/sources.list)
        # deb [options] URI SUITE COMPONENT...
        awk -v suite="$suite" '
          $1 == "deb" {
            sub(/^deb[ \t]+(\[[^]]*\][ \t]+)?/, "")
            split($0, w, /[ \t]+/)
            if (w[2] == suite && w[1] ~ /^(https?|file):/) { print w[1]; exit }
          }' "$f" ;;
    esac
  done | head -n 1
}

# Unmount whatever debootstrap left mounted under $1 (it mounts proc/sys, and
# bind-mounts /dev in some setups), then delete it without crossing into any
# other file system: never rm -rf through a mount of the host's /dev.
remove_rootfs() {
  local dir=$1 m
  [ -d "$dir" ] || return 0
  for m in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" || true
  done
  rm -rf --one-file-system "$dir"
}

ensure_base_image() {
  local base_key key_hash tarball
  base_key="debootstrap minbase $suite $arch $base_packages"
  key_hash=$(printf '%s' "$base_key" | sha256sum | cut -c1-12)
  tarball="$cache/base-$suite-$arch-$key_hash.tar.gz"
  if [ "$(docker image inspect -f '{{index .Config.Labels "rethook.base-key"}}' "$base_image" 2>/dev/null)" = "$base_key" ]; then
    log "base image $base_image: cached"
    base=$base_image
    return
  fi
  # The plain route first, in case a registry is reachable after all.
  if docker image inspect "debian:$suite" >/dev/null 2>&1 \
     || timeout 120 docker pull "debian:$suite" >/dev/null 2>&1; then
    log "base image: debian:$suite (the Dockerfile installs the toolchain with apt)"
    base=debian:$suite
    return
  fi
  log "debian:$suite cannot be pulled (no registry): making $base_image"
  if [ ! -s "$tarball" ]; then
    [ "$(id -u)" = 0 ] || die "debootstrap needs root"
    command -v debootstrap >/dev/null || {
      log "debootstrap not installed: apt-get install -y debootstrap"
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y debootstrap >&2
    }
    local mirror=${RETHOOK_DEBIAN_MIRROR:-$(debian_mirror)}
    [ -n "$mirror" ] || die "no Debian '$suite' source in /etc/apt/sources.list*; set RETHOOK_DEBIAN_MIRROR"
    local rootfs="$cache/rootfs-$suite-$arch"
    remove_rootfs "$rootfs"    # leftovers of an interrupted run
    trap "remove_rootfs '$rootfs'" EXIT   # also on ^C or a failed step
    log "debootstrap $suite ($arch) from $mirror (log: $cache/debootstrap.log)"
    if ! debootstrap --arch="$arch" --variant=minbase \
           --include="$base_packages" \
           "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1; then
      tail -n 20 "$cache/debootstrap.log" >&2
      die "debootstrap failed"
    fi
    # Not wanted in a test image: the .debs debootstrap keeps (~100 MB),
    # translations (~50 MB), man pages and docs (licences excepted).
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
           "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    find "$rootfs"/usr/share/doc -type f ! -name copyright -delete
    # Keep the rootfs as a tarball so a wiped docker store costs an import, not a debootstrap.
    tar --numeric-owner -C "$rootfs" -czf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    remove_rootfs "$rootfs"
    trap - EXIT
  fi
  log "docker import $tarball as $base_image"
  docker import --change "LABEL rethook.base-key=\"$base_key\"" "$tarball" "$base_image" >/dev/null
  base=$base_image
}

# ------------------------------------------------------------- Node and npm
# Print the path of a cached tarball of npm package $1 at version $2 (a major
# such as 20, or an exact version), downloading the newest match with
# `npm pack` if none is cached.  The host's npm config (registry, proxy CA)
# applies to the download.
npm_tarball() {
  local name=$1 version=$2 file
  file=$(ls -1 "$cache/dl/$name-$version.tgz" "$cache/dl/$name-$version".*.tgz 2>/dev/null \
           | sort -V | tail -n 1 || true)
  if [ -z "$file" ]; then
    log "npm pack $name@$version"
    # --loglevel=error: npm pack otherwise lists every file of the package.
    file=$cache/dl/$(cd "$cache/dl" && npm pack --loglevel=error "$name@$version" | tail -n 1)
  fi
  [ -s "$file" ] || die "could not get $name@$version"
  printf '%s\n' "$file"
}

# The build context: everything the Dockerfile COPYs, and nothing from the
# repository (the checkout is sent at run time, so editing a test does not
# rebuild the image).
stage_context() {
  local ctx=$1 node_tgz npm_tgz
  node_tgz=$(npm_tarball "node-linux-$node_arch" "$node_version")
  npm_tgz=$(npm_tarball npm "$npm_version")
  log "node: ${node_tgz##*/}, npm: ${npm_tgz##*/}"

  # Unpacking ~100 MB takes a while on a busy machine: only when the tarballs
  # changed.  (docker build's layer cache then makes an unchanged build ~3 s.)
  local stamp="${node_tgz##*/} ${npm_tgz##*/} $ossl_arch"
  if [ "$(cat "$ctx/.unpacked" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$ctx/usr-local"
    mkdir -p "$ctx/usr-local/lib/node_modules/npm"
    # Only bin/node and the headers; the package's docs and man pages are not needed.
    tar -xzf "$node_tgz" -C "$ctx/usr-local" --strip-components=1 package/bin/node package/include
    # OpenSSL's generated headers come for 21 platforms (~50 MB); keep ours.
    find "$ctx/usr-local/include/node/openssl/archs" -mindepth 1 -maxdepth 1 \
      ! -name "$ossl_arch" -exec rm -rf {} +
    tar -xzf "$npm_tgz" -C "$ctx/usr-local/lib/node_modules/npm" --strip-components=1
    # The links an npm install would make.
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/usr-local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/usr-local/bin/npx"
    printf '%s\n' "$stamp" >"$ctx/.unpacked"
  fi

  # Small, and may change between runs (the proxy's CA is per machine): always fresh.
  rm -rf "$ctx/ca"
  mkdir -p "$ctx/ca"
  # The host's extra CAs (the HTTPS proxy's among them), whatever they are.
  if [ -d /usr/local/share/ca-certificates ]; then
    cp -a /usr/local/share/ca-certificates/. "$ctx/ca/"
  fi

  # The registry only, when not the default; never credentials.
  local registry
  registry=$(npm config get registry 2>/dev/null || true)
  if [ -n "$registry" ] && [ "${registry%/}" != https://registry.npmjs.org ]; then
    printf 'registry=%s\n' "$registry" >"$ctx/npmrc"
  else
    printf '# default registry\n' >"$ctx/npmrc"
  fi
}

# ----------------------------------------------------------------- the run
# The checkout as git sees it: tracked and untracked files, minus what
# .gitignore excludes (node_modules, build, dist, fixture binaries built on the
# host) and minus files deleted in the work tree.  Uncommitted tests are included.
# With RETHOOK_REV, exactly that commit instead.
checkout_tar() {
  local out=$1
  if [ -n "${RETHOOK_REV:-}" ]; then
    git -C "$repo" archive --format=tar -o "$out" "$RETHOOK_REV"
    return
  fi
  (
    cd "$repo"
    git ls-files -z --cached --others --exclude-standard \
      | while IFS= read -r -d '' f; do
          if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
        done \
      | sort -zu \
      | tar --null -T - -cf "$out"
  )
}

timed() {  # timed NAME COMMAND...: run, and record how long it took
  local name=$1 start=$SECONDS
  shift
  "$@"
  took[$name]="$((SECONDS - start)) s"
}

ensure_docker
timed "base image" ensure_base_image

build_image() {
  local ctx="$cache/context-$arch"
  stage_context "$ctx"
  log "docker build $test_image (FROM $base)"
  # The legacy builder is what docker.io 20.10 + a CLI without buildx gives;
  # DOCKER_BUILDKIT=0 says so and keeps newer CLIs from asking for buildx.
  if ! DOCKER_BUILDKIT=0 docker build --build-arg BASE="$base" -t "$test_image" \
         -f "$here/Dockerfile" "$ctx" >"$cache/build-$arch.log" 2>&1; then
    tail -n 30 "$cache/build-$arch.log" >&2
    die "docker build failed (log: $cache/build-$arch.log)"
  fi
  log "image $test_image: $(docker image inspect -f '{{.Size}}' "$test_image" | awk '{ printf "%d MB", $1 / 1e6 }')"
}
timed "image build" build_image

run_suite() {
  local src
  src=$(mktemp "$cache/checkout.XXXXXX.tar")
  checkout_tar "$src"
  log "running in the container on ${RETHOOK_REV:+commit $RETHOOK_REV of }$repo: $test_cmd"
  # RETHOOK_TEST_* settings of the caller reach the tests.
  local env_args=(-e CI=true) name
  for name in $(compgen -e | grep '^RETHOOK_TEST_' | grep -vx RETHOOK_TEST_CMD || true); do
    env_args+=(-e "$name")
  done
  # SYS_PTRACE: the attach tests seize processes that are not the tracer's
  # children (Yama's ptrace_scope 1 asks for the capability then).
  # seccomp=unconfined: the suite runs as it does on a host, with no syscall
  # filter between the tracer, its injected syscalls and the tracee.  --init: a real PID 1 that reaps orphaned tracees and passes
  # signals on.  The checkout arrives as a tar on stdin: nothing in the host's
  # work tree is written (node_modules, build/ and dist/ stay in the container).
  set +e
  docker run --rm -i --init \
    --cap-add SYS_PTRACE --security-opt seccomp=unconfined \
    "${env_args[@]}" \
    "$test_image" \
    bash -c 'tar -xf - && exec timeout -k 30 "$1" bash -c "$2"' bash "$timeout_s" "$test_cmd" <"$src"
  status=$?
  set -e
  rm -f "$src"
  if [ "$status" = 124 ]; then
    log "the test command did not finish within $timeout_s s (RETHOOK_TIMEOUT) and was stopped"
  fi
}
status=0
timed "suite run" run_suite

log "took: base image ${took[base image]}, image build ${took[image build]}, suite run ${took[suite run]}"
log "suite exit status: $status"
exit "$status"
