# shellcheck shell=bash
# The lab's machinery: cached image build, local apt repositories, network namespace, qemu machines, SSH,
# phase timings and scenario bookkeeping. Sourced by scripts/lab; LAB_SRC is the checkout.

LAB_CACHE="${LAB_CACHE:-/var/cache/cloudstrap-lab}"
LAB_SUITE=bookworm
LAB_MIRROR="${LAB_MIRROR:-http://deb.debian.org/debian}"
LAB_NET=10.77.0          # the namespace's /24; the host side (bridge) is .1
LAB_HOST_IP=$LAB_NET.1
LAB_PORT=8000            # the repository and template HTTP server on the host side
LAB_DIR="$LAB_SRC/tests/lab"

# What debootstrap puts in every machine: a small Debian 12 server (kernel, systemd, ssh, ifupdown with
# DHCP client as the Debian installer sets up, python3 as the standard task has).
BASE_INCLUDE=(linux-image-amd64 systemd-sysv udev dbus openssh-server iproute2 iputils-ping ca-certificates
  sudo procps netbase kmod less ifupdown isc-dhcp-client python3 gnupg)

# Everything the machines may install, downloaded once on the host: the roles' packages as the install engine
# asks for them, the dependencies the stand-in CloudStack packages declare, and their recommends.
REPO_PACKAGES=(mariadb-server mariadb-client default-mysql-client default-mysql-server nfs-kernel-server
  nfs-common rpcbind libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu qemu-system-x86
  qemu-utils chrony iptables nftables bridge-utils ipmitool genisoimage sudo openssh-client python3
  python3-paramiko python3-pymysql ebtables ipset cpu-checker curl wget bzip2 lsof sysstat augeas-tools
  apparmor dnsmasq-base uuid-runtime man-db bash-completion dnsmasq nginx ipxe xorriso)
# Alternatives that conflict with the set above (or each other), downloaded in separate passes.
REPO_ALTERNATIVES=(ntpsec ufw iptables-persistent firewalld)

# What the snapshot has installed already, because these take minutes under TCG. The install engine still
# runs its package actions; on these it finds them installed.
# apparmor, man-db, bash-completion: a standard Debian 12 install has them; the debootstrap minbase does not.
# man-db's index is not updated on package installs (auto-update off, as the base image intends) until a
# scenario turns it back on.
SNAPSHOT_PACKAGES=(mariadb-server mariadb-client nfs-kernel-server nfs-common rpcbind libvirt-daemon-system
  libvirt-clients qemu-system-x86 qemu-utils chrony python3-paramiko iptables bridge-utils apparmor man-db
  bash-completion)

LAB_SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
  -o ConnectTimeout=5 -o BatchMode=yes -o ServerAliveInterval=15 -o ServerAliveCountMax=40)

# ---------------------------------------------------------------------------------------------------------
# output and timing

say() { printf '[lab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

declare -a LAB_PHASES=()      # "name<TAB>seconds<TAB>note"
declare -a LAB_NOTES=()       # what was reused or skipped, and why
declare -A LAB_T0=()
phase_start() { LAB_T0[$1]=$SECONDS; say "phase $1 ..."; }
# Phases and notes go to files as well: scenarios run in subshells, whose variables die with them.
phase_end() {   # NAME [NOTE]
  local d=$((SECONDS - ${LAB_T0[$1]:-$SECONDS}))
  if [ -n "${LAB_RUN:-}" ]; then printf '%s\t%s\t%s\n' "$1" "$d" "${2:-}" >>"$LAB_RUN/phases"; else LAB_PHASES+=("$1"$'\t'"$d"$'\t'"${2:-}"); fi
  say "phase $1 done in ${d}s${2:+ ($2)}"
}
note() {
  if [ -n "${LAB_RUN:-}" ]; then printf '%s\n' "$*" >>"$LAB_RUN/notes"; else LAB_NOTES+=("$*"); fi
  say "$*"
}

print_summary() {
  local p name d n
  [ -f "$LAB_RUN/phases" ] && mapfile -t -O "${#LAB_PHASES[@]}" LAB_PHASES <"$LAB_RUN/phases"
  [ -f "$LAB_RUN/notes" ] && mapfile -t -O "${#LAB_NOTES[@]}" LAB_NOTES <"$LAB_RUN/notes"
  {
    echo
    echo "================ lab summary ================"
    printf '%-44s %8s  %s\n' phase seconds note
    for p in "${LAB_PHASES[@]}"; do
      IFS=$'\t' read -r name d n <<<"$p"
      printf '%-44s %8s  %s\n' "$name" "$d" "$n"
    done
    if ((${#LAB_NOTES[@]})); then
      echo "-- reused / skipped"
      for n in "${LAB_NOTES[@]}"; do echo "  $n"; done
    fi
    if ((${#LAB_RESULTS[@]})); then
      echo "-- scenarios"
      for n in "${LAB_RESULTS[@]}"; do echo "  $n"; done
    fi
    echo "total ${SECONDS}s"
  } >&2
}

lab_hash() {   # hash of arguments and of the named files' contents (args prefixed with @ are files)
  local a
  for a in "$@"; do
    if [[ $a == @* ]]; then cat "${a#@}"; else printf '%s\n' "$a"; fi
  done | sha256sum | cut -c1-12
}

# ---------------------------------------------------------------------------------------------------------
# prerequisites

check_host() {
  [ "$(id -u)" = 0 ] || die "the lab needs root (debootstrap, network namespaces, taps)"
  local missing=() c
  for c in debootstrap qemu-system-x86_64 qemu-img mkfs.ext4 dpkg-scanpackages dpkg-deb apt-ftparchive \
    ssh scp ssh-keygen ip dnsmasq python3 gpg sha256sum bzip2 rpm; do
    command -v "$c" >/dev/null || missing+=("$c")
  done
  ((${#missing[@]} == 0)) || die "missing host commands: ${missing[*]} (install the packages in scripts/test-env/packages/lab.list)"
  [ -e /dev/net/tun ] || die "/dev/net/tun is missing: qemu needs tap devices"
  mkdir -p "$LAB_CACHE"
}

lab_accel() {
  case "${LAB_ACCEL:-auto}" in
    kvm) echo kvm ;;
    tcg) echo tcg ;;
    *) if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then echo kvm; else echo tcg; fi ;;
  esac
}

# ---------------------------------------------------------------------------------------------------------
# base image: debootstrap + customisation, packed into a raw ext4 image; cached by a hash of its inputs

base_key() {
  lab_hash v1 "$LAB_SUITE" "$LAB_MIRROR" "${BASE_INCLUDE[*]}" "@$LAB_DIR/image/customize.sh" \
    "@$LAB_DIR/image/cslab-firstboot" "@$LAB_DIR/image/cslab-firstboot.service"
}

build_base() {
  BASE_DIR="$LAB_CACHE/base-$(base_key)"
  if [ -f "$BASE_DIR/done" ]; then
    note "base image: reused $BASE_DIR (built $(date -u -r "$BASE_DIR/done" +%F\ %H:%M), same inputs hash)"
    return
  fi
  phase_start build-base
  local tmp="$BASE_DIR.tmp" rootfs
  rm -rf "$tmp"; mkdir -p "$tmp"
  rootfs="$tmp/rootfs"
  say "debootstrap $LAB_SUITE from $LAB_MIRROR (log: $tmp/debootstrap.log)"
  debootstrap --variant=minbase --include="$(IFS=,; echo "${BASE_INCLUDE[*]}")" \
    "$LAB_SUITE" "$rootfs" "$LAB_MIRROR" >"$tmp/debootstrap.log" 2>&1 \
    || { tail -20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
  ssh-keygen -q -t ed25519 -N '' -C cloudstrap-lab -f "$tmp/id_ed25519"
  install -d -m 0700 "$rootfs/root/.ssh"
  install -m 0600 "$tmp/id_ed25519.pub" "$rootfs/root/.ssh/authorized_keys"
  install -m 0755 "$LAB_DIR/image/cslab-firstboot" "$rootfs/usr/local/sbin/cslab-firstboot"
  install -m 0644 "$LAB_DIR/image/cslab-firstboot.service" "$rootfs/etc/systemd/system/cslab-firstboot.service"
  install -m 0755 "$LAB_DIR/image/customize.sh" "$rootfs/tmp/customize.sh"
  LAB_HOST_IP=$LAB_HOST_IP LAB_PORT=$LAB_PORT chroot "$rootfs" /tmp/customize.sh >"$tmp/customize.log" 2>&1 \
    || { tail -20 "$tmp/customize.log" >&2; die "customizing the image failed"; }
  rm -f "$rootfs/tmp/customize.sh"
  cp "$(ls "$rootfs"/boot/vmlinuz-* | sort -V | tail -1)" "$tmp/vmlinuz"
  cp "$(ls "$rootfs"/boot/initrd.img-* | sort -V | tail -1)" "$tmp/initrd.img"
  say "packing the root filesystem into an 8 GB ext4 image"
  truncate -s 8G "$tmp/base.raw"
  mkfs.ext4 -q -L root -d "$rootfs" "$tmp/base.raw"
  touch "$tmp/done"
  rm -rf "$BASE_DIR"; mv "$tmp" "$BASE_DIR"
  phase_end build-base "$(du -sh "$BASE_DIR/rootfs" | cut -f1) rootfs"
}

# ---------------------------------------------------------------------------------------------------------
# the Debian repository the machines install from (downloaded in the base's chroot, so it holds exactly what
# the machines lack)

build_debian_repo() {
  local key; key=$(lab_hash v1 "${REPO_PACKAGES[*]}" "${REPO_ALTERNATIVES[*]}")
  DEBIAN_REPO="$BASE_DIR/repo-$key"
  if [ -f "$DEBIAN_REPO/Packages.gz" ]; then
    note "debian repo: reused $DEBIAN_REPO ($(ls "$DEBIAN_REPO"/*.deb | wc -l) packages, same package list)"
    return
  fi
  phase_start download-debs
  local rootfs="$BASE_DIR/rootfs" dl=/var/tmp/lab-dl
  rm -rf "$rootfs$dl"; mkdir -p "$rootfs$dl/lists/partial" "$rootfs$dl/archives/partial"
  echo "deb $LAB_MIRROR $LAB_SUITE main" >"$rootfs$dl/sources.list"
  cp "$rootfs/etc/resolv.conf" "$rootfs$dl/resolv.conf.saved" 2>/dev/null || true
  cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
  local aptopts=(-o "Dir::Etc::SourceList=$dl/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$dl/lists" -o "Dir::Cache::Archives=$dl/archives" -o Dir::Cache::pkgcache=
    -o Dir::Cache::srcpkgcache= -o Acquire::Languages=none -o APT::Sandbox::User=root)
  {
    chroot "$rootfs" apt-get "${aptopts[@]}" update &&
      chroot "$rootfs" apt-get "${aptopts[@]}" install -y --download-only "${REPO_PACKAGES[@]}" &&
      for alt in "${REPO_ALTERNATIVES[@]}"; do
        chroot "$rootfs" apt-get "${aptopts[@]}" install -y --download-only "$alt" || exit 1
      done
  } >"$BASE_DIR/download.log" 2>&1 || { tail -20 "$BASE_DIR/download.log" >&2; die "downloading packages failed"; }
  if [ -f "$rootfs$dl/resolv.conf.saved" ]; then cp "$rootfs$dl/resolv.conf.saved" "$rootfs/etc/resolv.conf"; else : >"$rootfs/etc/resolv.conf"; fi
  local tmp="$DEBIAN_REPO.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  mv "$rootfs$dl"/archives/*.deb "$tmp/"
  rm -rf "$rootfs$dl"
  (cd "$tmp" && dpkg-scanpackages . /dev/null 2>/dev/null >Packages && gzip -k Packages)
  rm -rf "$DEBIAN_REPO"; mv "$tmp" "$DEBIAN_REPO"
  phase_end download-debs "$(ls "$DEBIAN_REPO"/*.deb | wc -l) packages, $(du -sh "$DEBIAN_REPO" | cut -f1)"
}

# ---------------------------------------------------------------------------------------------------------
# network namespace, HTTP server, DHCP server

LAB_NS=""
LAB_RUN=""
declare -A VM_IP=() VM_PID=() VM_MAC=()

net_up() {
  LAB_NS="cslab-$$"
  ip netns add "$LAB_NS"
  ip -n "$LAB_NS" link set lo up
  ip -n "$LAB_NS" link add br0 type bridge
  ip -n "$LAB_NS" addr add "$LAB_HOST_IP/24" dev br0
  ip -n "$LAB_NS" link set br0 up
  mkdir -p "$LAB_RUN/www"
  ln -sfn "$DEBIAN_REPO" "$LAB_RUN/www/debian"
  ip netns exec "$LAB_NS" /usr/bin/python3 -m http.server --bind "$LAB_HOST_IP" --directory "$LAB_RUN/www" \
    "$LAB_PORT" >"$LAB_RUN/http.log" 2>&1 &
  echo $! >"$LAB_RUN/http.pid"
  local i
  for i in $(seq 1 50); do
    ip netns exec "$LAB_NS" bash -c "exec 3<>/dev/tcp/$LAB_HOST_IP/$LAB_PORT" 2>/dev/null && break
    sleep 0.2
  done
  say "network namespace $LAB_NS: bridge $LAB_HOST_IP/24, no uplink; repository http://$LAB_HOST_IP:$LAB_PORT/"
}

dhcp_up() {   # a DHCP server on the bridge (no DNS), for machines that configure themselves by DHCP
  [ -f "$LAB_RUN/dnsmasq.pid" ] && return
  ip netns exec "$LAB_NS" dnsmasq --conf-file=/dev/null --user=root --port=0 --interface=br0 --bind-interfaces \
    --dhcp-range="$LAB_NET.100,$LAB_NET.150,255.255.255.0,12h" --dhcp-leasefile="$LAB_RUN/dhcp.leases" \
    --pid-file="$LAB_RUN/dnsmasq.pid" --log-facility="$LAB_RUN/dnsmasq.log" --log-dhcp
}

# dhcp_down: stop the lab's DHCP server; a scenario whose own DHCP server must be the only one on the bridge
dhcp_down() {
  [ -f "$LAB_RUN/dnsmasq.pid" ] || return 0
  kill "$(cat "$LAB_RUN/dnsmasq.pid")" 2>/dev/null || true
  rm -f "$LAB_RUN/dnsmasq.pid"
}

# lab_http_status URL [METHOD]: the HTTP status a request from the host side (10.77.0.1) gets
lab_http_status() {
  ip netns exec "$LAB_NS" python3 "$LAB_DIR/guest/labcheck" http-status "$1" "${2:-GET}"
}

lab_cleanup() {
  local rc=$? f pid
  set +e
  ssh_masters_close
  for f in "$LAB_RUN"/*.qemu.pid "$LAB_RUN"/http.pid "$LAB_RUN"/dnsmasq.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f"); [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  for f in "$LAB_RUN"/*.qemu.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  [ -n "$LAB_NS" ] && ip netns del "$LAB_NS" 2>/dev/null
  print_summary
  if [ -n "$LAB_RUN" ] && [ -d "$LAB_RUN" ]; then
    if [ "$rc" = 0 ] && [ -z "${LAB_KEEP:-}" ]; then rm -rf "$LAB_RUN"; else say "logs kept in $LAB_RUN"; fi
  fi
  exit "$rc"
}

run_dir_init() {
  mkdir -p "$LAB_CACHE/runs"
  LAB_RUN=$(mktemp -d "$LAB_CACHE/runs/$(date -u +%Y%m%d-%H%M%S).XXXX")
  trap lab_cleanup EXIT
  trap 'exit 130' INT TERM
}

# ---------------------------------------------------------------------------------------------------------
# machines

# vm_start NAME NET DISK: NET is "static:ADDR/PREFIX" or "dhcp"; hostname and domain from VM_HOSTNAME and
# VM_DOMAIN (empty domain: no FQDN). Waits for SSH.
vm_start() { vm_launch "$@" && wait_ssh "$1"; }

# vm_launch NAME NET DISK: vm_start without the wait; `wait_ssh NAME` later. Two machines launched before
# either is waited for boot side by side: a TCG boot leaves part of the host idle (93 s for two instead of 129).
# vm_slot: the next machine's number and its tap on the bridge (VM_IDX, VM_TAP), and qemu's accelerator and
# CPU (VM_ACCEL, VM_CPU). A counter file, not a variable: scenarios run in subshells and taps must stay unique
# in the namespace.
vm_slot() {
  VM_IDX=$(($(cat "$LAB_RUN/vm-count" 2>/dev/null || echo 0) + 1)); echo "$VM_IDX" >"$LAB_RUN/vm-count"
  VM_TAP="tap$VM_IDX"
  ip -n "$LAB_NS" tuntap add "$VM_TAP" mode tap
  ip -n "$LAB_NS" link set "$VM_TAP" master br0 up
  if [ "$(lab_accel)" = kvm ]; then VM_CPU=host; VM_ACCEL=kvm; else VM_CPU=max; VM_ACCEL=tcg,thread=multi; fi
}

vm_launch() {
  local name=$1 net=$2 disk=$3 idx mac tap
  vm_slot; idx=$VM_IDX; tap=$VM_TAP
  mac=$(printf '52:54:00:4c:ab:%02x' "$idx")
  local cmdline="console=ttyS0 root=/dev/vda rw net.ifnames=0 quiet modprobe.blacklist=floppy cslab.net=$net cslab.host=${VM_HOSTNAME:-$name} cslab.domain=${VM_DOMAIN-lab.example} cslab.hostip=$LAB_HOST_IP"
  ip netns exec "$LAB_NS" qemu-system-x86_64 -name "$name" -accel "$VM_ACCEL" -cpu "$VM_CPU" -smp "${VM_SMP:-2}" \
    -m "${VM_MEM:-2048}" -kernel "$BASE_DIR/vmlinuz" -initrd "$BASE_DIR/initrd.img" -append "$cmdline" \
    -drive "file=$disk,if=virtio,format=qcow2,cache=unsafe,discard=unmap" \
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" -device "virtio-net-pci,netdev=n0,mac=$mac" \
    -serial "file:$LAB_RUN/$name.serial" -display none -monitor "unix:$LAB_RUN/$name.mon,server=on,wait=off" -daemonize \
    -pidfile "$LAB_RUN/$name.qemu.pid" || die "qemu did not start $name"
  VM_PID[$name]=$(cat "$LAB_RUN/$name.qemu.pid")
  if [[ $net == static:* ]]; then
    VM_IP[$name]=${net#static:}; VM_IP[$name]=${VM_IP[$name]%/*}
  else
    VM_IP[$name]=""
  fi
  VM_MAC[$name]=$mac
}

wait_ssh() {   # NAME
  local name=$1 mac=${VM_MAC[$1]} deadline=$((SECONDS + ${LAB_BOOT_TIMEOUT:-600}))
  while ((SECONDS < deadline)); do
    kill -0 "${VM_PID[$name]}" 2>/dev/null || { tail -30 "$LAB_RUN/$name.serial" >&2; die "$name: qemu exited"; }
    if [ -z "${VM_IP[$name]}" ] && [ -f "$LAB_RUN/dhcp.leases" ]; then
      VM_IP[$name]=$(awk -v m="$mac" '$2==m {print $3}' "$LAB_RUN/dhcp.leases" | tail -1)
    fi
    if [ -n "${VM_IP[$name]}" ] && vm_ssh_raw "$name" true 2>/dev/null; then vm_ssh_master "$name"; return 0; fi
    sleep 2
  done
  tail -30 "$LAB_RUN/$name.serial" >&2
  die "$name: no SSH after ${LAB_BOOT_TIMEOUT:-600}s"
}

# One SSH connection per machine, opened once it answers and shared by every later command and copy: under
# TCG each new handshake costs seconds of emulated crypto. The socket is named after qemu's pid, so a later
# machine at the same address never reaches an earlier one's connection. Without the socket (the connection
# was lost), ssh connects directly.
vm_ctl() { echo "$LAB_RUN/ssh-${VM_PID[$1]}.ctl"; }
# vm_tool TOOL NAME ARGS...: ssh or scp inside the namespace with the lab key, through NAME's shared connection
vm_tool() {
  local tool=$1 name=$2; shift 2
  ip netns exec "$LAB_NS" "$tool" -i "$BASE_DIR/id_ed25519" "${LAB_SSH_OPTS[@]}" -o ControlPath="$(vm_ctl "$name")" "$@"
}
vm_ssh_master() {
  vm_tool ssh "$1" -o ControlMaster=yes -N -f "root@${VM_IP[$1]}" </dev/null >/dev/null 2>&1 \
    || note "$1: no shared SSH connection; each command connects on its own"
}
ssh_masters_close() {   # every shared connection of the run (the machines are gone or about to be)
  local c
  for c in "$LAB_RUN"/ssh-*.ctl; do
    [ -S "$c" ] && ssh -o ControlPath="$c" -O exit lab >/dev/null 2>&1
    rm -f "$c"
  done
  return 0
}
vm_ssh_raw() { local name=$1; shift; vm_tool ssh "$name" "root@${VM_IP[$name]}" "$@"; }
# vm NAME CMD...: run a shell command line on the machine, logging it to the run dir
vm() {
  local name=$1 rc; shift
  printf '### %s $ %s\n' "$(date -u +%T)" "$*" >>"$LAB_RUN/$name.ssh.log"
  vm_ssh_raw "$name" "$@" 2>&1 | tee -a "$LAB_RUN/$name.ssh.log"
  rc=${PIPESTATUS[0]}
  vm_log_exit "$name" "$rc"
  return "$rc"
}
vm_quiet() {
  local name=$1 rc=0; shift
  printf '### %s $ %s\n' "$(date -u +%T)" "$*" >>"$LAB_RUN/$name.ssh.log"
  vm_ssh_raw "$name" "$@" >>"$LAB_RUN/$name.ssh.log" 2>&1 || rc=$?
  vm_log_exit "$name" "$rc"
  return "$rc"
}
# The exit status goes to the log too; 255 is ssh's own (connection refused or lost), not the command's.
vm_log_exit() {
  local name=$1 rc=$2
  ((rc == 0)) && return
  if ((rc == 255)); then
    printf '### %s exit 255: the SSH connection failed or was lost (machine unresponsive for %ss?)\n' "$(date -u +%T)" $((15 * 40)) >>"$LAB_RUN/$name.ssh.log"
  else
    printf '### %s exit %s\n' "$(date -u +%T)" "$rc" >>"$LAB_RUN/$name.ssh.log"
  fi
}
vm_put() {   # NAME SRC DST
  vm_tool scp "$1" -q "$2" "root@${VM_IP[$1]}:$3"
}

overlay() {   # overlay NAME: a fresh copy-on-write disk on the snapshot
  qemu-img create -q -f qcow2 -F qcow2 -b "$SNAPSHOT" "$LAB_RUN/$1.qcow2"
  echo "$LAB_RUN/$1.qcow2"
}

# ---------------------------------------------------------------------------------------------------------
# snapshot: the base plus the heavy packages, installed once

build_snapshot() {
  local key; key=$(lab_hash v3 "$(basename "$DEBIAN_REPO")" "${SNAPSHOT_PACKAGES[*]}" no-recommends chroot)
  SNAPSHOT="$BASE_DIR/snapshot-$key.qcow2"
  if [ -f "$SNAPSHOT" ]; then
    note "snapshot: reused $SNAPSHOT (heavy packages already installed: ${SNAPSHOT_PACKAGES[*]})"
    return
  fi
  phase_start build-snapshot
  # Installed in a chroot of a copy of the base, at native speed (under TCG in a booted machine this took
  # 15 minutes): services are enabled by their packages but not started (policy-rc.d), as on a fresh install.
  local tmp="$BASE_DIR/snapshot.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  cp -a "$BASE_DIR/rootfs" "$tmp/rootfs"
  if ! (
    set -e
    r="$tmp/rootfs"
    trap 'umount "$r/mnt/labrepo" "$r/proc" 2>/dev/null || true' EXIT
    mkdir -p "$r/mnt/labrepo"
    mount --bind "$DEBIAN_REPO" "$r/mnt/labrepo"
    mount -t proc proc "$r/proc"
    printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"; chmod 0755 "$r/usr/sbin/policy-rc.d"
    echo 'deb [trusted=yes] file:/mnt/labrepo ./' >"$r/tmp/lab.list"
    local apt=(apt-get -o Dir::Etc::SourceList=/tmp/lab.list -o Dir::Etc::SourceParts=/nonexistent)
    chroot "$r" "${apt[@]}" update -q
    DEBIAN_FRONTEND=noninteractive chroot "$r" "${apt[@]}" install -y -q --no-install-recommends "${SNAPSHOT_PACKAGES[@]}"
    chroot "$r" apt-get clean
    rm -f "$r/var/lib/man-db/auto-update"
    rm -rf "$r/usr/sbin/policy-rc.d" "$r/tmp/lab.list" "$r"/var/lib/apt/lists/*
  ) >"$tmp/install.log" 2>&1; then
    tail -20 "$tmp/install.log" >&2; die "installing the heavy packages failed (log: $tmp/install.log)"
  fi
  truncate -s 8G "$tmp/snapshot.raw"
  mkfs.ext4 -q -L root -d "$tmp/rootfs" "$tmp/snapshot.raw"
  qemu-img convert -q -f raw -O qcow2 "$tmp/snapshot.raw" "$SNAPSHOT.tmp"
  mv "$SNAPSHOT.tmp" "$SNAPSHOT"
  rm -rf "$tmp"
  phase_end build-snapshot "${SNAPSHOT_PACKAGES[*]}; $(du -h "$SNAPSHOT" | cut -f1) qcow2"
}

# ---------------------------------------------------------------------------------------------------------
# the product: the cloudstrap binary, the stand-in CloudStack repository, the system VM template

prepare_product() {
  # What operators get: the release artifacts (static binary, .deb, .rpm) from scripts/release, or the ones
  # already built in CLOUDSTRAP_DIST.
  phase_start release-build
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$LAB_SRC/target}"
  if [ -n "${CLOUDSTRAP_DIST:-}" ]; then
    LAB_DIST=$CLOUDSTRAP_DIST
    note "cloudstrap: release artifacts from CLOUDSTRAP_DIST=$LAB_DIST"
  else
    LAB_DIST="$LAB_RUN/dist"
    "$LAB_SRC/scripts/release" --out "$LAB_DIST" >"$LAB_RUN/release.log" 2>&1 \
      || { tail -20 "$LAB_RUN/release.log" >&2; die "scripts/release failed (log: $LAB_RUN/release.log)"; }
  fi
  local f
  for f in "$LAB_DIST"/cloudstrap-*-x86_64-linux-musl; do LAB_BIN=$f; done
  for f in "$LAB_DIST"/cloudstrap_*.deb; do LAB_DEB=$f; done
  for f in "$LAB_DIST"/cloudstrap-*.rpm; do LAB_RPM=$f; done
  [ -x "${LAB_BIN:-}" ] && [ -f "${LAB_DEB:-}" ] && [ -f "${LAB_RPM:-}" ] \
    || die "no static binary, .deb and .rpm in $LAB_DIST (scripts/release makes them)"
  export LAB_DEB LAB_RPM
  cp "$LAB_BIN" "$LAB_RUN/cloudstrap"
  phase_end release-build "$(grep -o 'built in [0-9]* s' "$LAB_RUN/release.log" 2>/dev/null || echo prebuilt); $(du -h "$LAB_BIN" | cut -f1) static binary"
  phase_start build-product
  # The API simulator (a separate crate) runs inside the stand-in management package.
  LAB_SIMULATOR_BIN=""
  if [ -f "$LAB_SRC/tests/simulator/Cargo.toml" ]; then
    (cd "$LAB_SRC" && cargo build --locked -p cloudstack-simulator --bin cloudstack-simulator >>"$LAB_RUN/cargo.log" 2>&1) \
      || { tail -20 "$LAB_RUN/cargo.log" >&2; die "cargo build of the API simulator failed"; }
    LAB_SIMULATOR_BIN="$CARGO_TARGET_DIR/debug/cloudstack-simulator"
  fi
  # The template first: the 4.20+ stand-in management package bundles it, as the real one does.
  make_template
  if LAB_SIMULATOR_BIN=$LAB_SIMULATOR_BIN LAB_TEMPLATE_FILE="$LAB_RUN/www/templates/systemvmtemplate-kvm.qcow2.bz2" \
    bash "$LAB_DIR/standin/build-repo.sh" "$LAB_RUN/www/cloudstack" "$LAB_RUN/gnupg" >"$LAB_RUN/standin-repo.log" 2>&1; then
    LAB_CS_REPO_OK=1
  else
    LAB_CS_REPO_OK=""
    note "stand-in CloudStack repository NOT built: $(tail -1 "$LAB_RUN/standin-repo.log"); scenarios that install CloudStack are skipped"
  fi
  # What the package bundles decides where the machines' template comes from (lab_profile).
  LAB_BUNDLED_TEMPLATE=$(sed -n 's/^bundled template: //p' "$LAB_RUN/standin-repo.log")
  export LAB_CS_REPO_OK LAB_BUNDLED_TEMPLATE
  phase_end build-product "simulator${LAB_CS_REPO_OK:+, stand-in repo}, template"
}

need_cloudstack_repo() {   # in a scenario: skip when the stand-in packages could not be built
  [ -n "${LAB_CS_REPO_OK:-}" ] || skip_scenario "the stand-in CloudStack packages could not be built: $(tail -1 "$LAB_RUN/standin-repo.log")"
}

make_template() {   # a small qcow2 standing in for the system VM template, bzip2-compressed, with its checksum
  local t="$LAB_RUN/www/templates"
  mkdir -p "$t"
  qemu-img create -q -f qcow2 "$t/systemvmtemplate-kvm.qcow2" 64M
  bzip2 -f "$t/systemvmtemplate-kvm.qcow2"
  (cd "$t" && sha512sum systemvmtemplate-kvm.qcow2.bz2 >systemvmtemplate-kvm.qcow2.bz2.sha512)
  LAB_TEMPLATE_URL="http://$LAB_HOST_IP:$LAB_PORT/templates/systemvmtemplate-kvm.qcow2.bz2"
  LAB_TEMPLATE_SHA512=$(cut -d' ' -f1 "$t/systemvmtemplate-kvm.qcow2.bz2.sha512")
  export LAB_TEMPLATE_URL LAB_TEMPLATE_SHA512
}

has_subcommand() {   # has_subcommand WORDS...: the binary knows this subcommand
  "$LAB_RUN/cloudstrap" "$@" --help >/dev/null 2>&1
}

vm_install_cloudstrap() {   # NAME: the binary under test and the lab's assertion helpers
  vm_put "$1" "$LAB_RUN/cloudstrap" /usr/local/bin/cloudstrap
  vm_install_cloudstrap_helpers "$1"
}
vm_install_cloudstrap_helpers() {   # NAME: only the assertion helpers (a machine installed from the medium has cloudstrap)
  vm_put "$1" "$LAB_DIR/guest/labcheck" /usr/local/bin/labcheck
  vm_put "$1" "$LAB_DIR/guest/labsql" /usr/local/bin/labsql
}

# ---------------------------------------------------------------------------------------------------------
# the installer medium (iso-* scenarios): machines with empty disks that boot cloudstrap's ISO

# lab_iso: the installer ISO, built once per run by `cloudstrap media build` (the static binary) from the Debian
# mirror and the stand-in CloudStack repository; its stages are cached in $LAB_CACHE/media.
lab_iso() {
  LAB_ISO=$LAB_RUN/cloudstrap.iso
  [ -f "$LAB_ISO" ] && return 0
  phase_start "media build"
  "$LAB_RUN/cloudstrap" --format json media build --out "$LAB_ISO" --cloudstack-repo "$LAB_RUN/www/cloudstack" \
    --cache "$LAB_CACHE/media" --binary "$LAB_RUN/cloudstrap" --mirror "$LAB_MIRROR" \
    >"$LAB_RUN/media-build.json" 2>"$LAB_RUN/media-build.log" \
    || { tail -20 "$LAB_RUN/media-build.log" >&2; die "cloudstrap media build failed (log: $LAB_RUN/media-build.log)"; }
  phase_end "media build" "$(python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); print("%d MiB ISO; built: %s; reused: %s" % (b["size"] >> 20, ",".join(b["built"]) or "none", ",".join(b["reused"]) or "none"))' "$LAB_RUN/media-build.json")"
}

# iso_profile OUT HOST IP MAC: the all-in-one profile for a machine installed from the medium: its address,
# host name, MAC address, the disk by serial, the lab key for root, and its secrets in files beside it (the
# installer has no environment). The zone host's password becomes root's password, as addHost needs.
iso_profile() {
  local out=$1 host=$2 ip=$3 mac=$4 dir
  dir=$(dirname "$out")
  mkdir -p "$dir/secrets"
  ( umask 077
    printf 'lab-db-root-1\n' >"$dir/secrets/db-root"
    printf 'lab-db-cloud-1\n' >"$dir/secrets/db-cloud"
    printf 'lab-admin-1\n' >"$dir/secrets/admin"
    printf '%s\n' "$LAB_ROOT_PASSWORD" >"$dir/secrets/host-root" )
  lab_profile "$LAB_SRC/profiles/all-in-one.toml" "$out" \
    --sub "192.168.10.10=>$ip" --sub "192.168.10.=>$LAB_NET." --sub "cloud.example.org=>$host.lab.example" \
    --sub "hostname = \"cloud\"=>hostname = \"$host\"" \
    --sub 'root-password-env = "CLOUDSTRAP_DB_ROOT_PASSWORD"=>root-password-file = "secrets/db-root"' \
    --sub 'cloud-password-env = "CLOUDSTRAP_DB_CLOUD_PASSWORD"=>cloud-password-file = "secrets/db-cloud"' \
    --sub 'admin-password-env = "CLOUDSTRAP_ADMIN_PASSWORD"=>admin-password-file = "secrets/admin"' \
    --sub 'password-env = "CLOUDSTRAP_HOST_ROOT_PASSWORD"=>password-file = "secrets/host-root"' \
    --set 'host.interface="ens3"' --set "host.mac=\"$mac\"" \
    --set 'disk.device="serial:target0"' --set "disk.ssh-keys=[\"$(cat "$BASE_DIR/id_ed25519.pub")\"]"
}

# vm_launch_iso NAME IP MAC DISK bios|uefi [ISO]: a machine whose virtio disk (serial target0, qcow2 or raw by
# its extension) comes first in the boot order and, with ISO, whose CD comes second: an empty disk falls
# through to the medium, an installed one boots itself. The NIC sits at PCI slot 3, so the installed system
# calls it ens3. UEFI variables persist per machine name.
vm_launch_iso() {
  local name=$1 ip=$2 mac=$3 disk=$4 fw=$5 iso=${6:-} fmt opts=()
  vm_slot
  if [ "$fw" = uefi ]; then
    [ -f "$LAB_RUN/$name.vars.fd" ] || cp /usr/share/OVMF/OVMF_VARS_4M.fd "$LAB_RUN/$name.vars.fd"
    opts+=(-drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" -drive "if=pflash,format=raw,file=$LAB_RUN/$name.vars.fd")
  fi
  [ -n "$iso" ] && opts+=(-drive "file=$iso,if=none,id=cd0,media=cdrom,readonly=on" -device "ide-cd,drive=cd0,bootindex=2")
  fmt=qcow2; [[ $disk == *.raw ]] && fmt=raw
  # VM_NETBOOT=1 (vm_launch_netboot): the NIC boots first, the disk second
  local diskboot=1 netboot=""
  if [ -n "${VM_NETBOOT:-}" ]; then
    diskboot=2; netboot=,bootindex=1
    # Only the NIC's iPXE boots from the network: after its `exit 1` OVMF would otherwise try its own PXEv4,
    # PXEv6 and HTTP boot first, each waiting out its DHCP (minutes) before the disk.
    [ "$fw" = uefi ] && opts+=(-fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n
      -fw_cfg name=opt/org.tianocore/IPv4Support,string=n -fw_cfg name=opt/org.tianocore/IPv6Support,string=n)
  fi
  ip netns exec "$LAB_NS" qemu-system-x86_64 -name "$name" -accel "$VM_ACCEL" -cpu "$VM_CPU" -smp "${VM_SMP:-2}" -m "${VM_MEM:-2048}" \
    "${opts[@]}" -drive "file=$disk,if=none,id=d0,format=$fmt,cache=unsafe" -device "virtio-blk-pci,drive=d0,serial=target0,addr=0x5,bootindex=$diskboot" \
    -netdev "tap,id=n0,ifname=$VM_TAP,script=no,downscript=no" -device "virtio-net-pci,netdev=n0,mac=$mac,addr=0x3$netboot" \
    -serial "file:$LAB_RUN/$name.serial" -display none -monitor "unix:$LAB_RUN/$name.mon,server=on,wait=off" -daemonize \
    -pidfile "$LAB_RUN/$name.qemu.pid" || die "qemu did not start $name"
  VM_PID[$name]=$(cat "$LAB_RUN/$name.qemu.pid"); VM_IP[$name]=$ip; VM_MAC[$name]=$mac
}

# vm_launch_netboot NAME IP MAC DISK bios|uefi: a machine that boots from the network first and from its disk
# second (NIC at PCI slot 3: ens3 once installed), with room for a live system that holds its ISO in RAM
vm_launch_netboot() {
  VM_NETBOOT=1 VM_MEM=${VM_MEM:-3072} vm_launch_iso "$@"
}

# wait_serial NAME TEXT [SECONDS]: until TEXT shows on NAME's serial console (fails when qemu exits first)
wait_serial() {
  local name=$1 text=$2 deadline=$((SECONDS + ${3:-1200}))
  while ((SECONDS < deadline)); do
    grep -aqF -- "$text" "$LAB_RUN/$name.serial" 2>/dev/null && return 0
    kill -0 "${VM_PID[$name]}" 2>/dev/null || { tail -30 "$LAB_RUN/$name.serial" >&2; say "$name: qemu exited before \"$text\""; return 1; }
    sleep 2
  done
  tail -30 "$LAB_RUN/$name.serial" >&2
  say "$name: no \"$text\" on the console after ${3:-1200}s"
  return 1
}

# wait_firstboot NAME: until the installed system's first-boot install has finished; fails when it failed
wait_firstboot() {
  local name=$1 state deadline=$((SECONDS + ${LAB_FIRSTBOOT_TIMEOUT:-1800}))
  while ((SECONDS < deadline)); do
    state=$(vm_ssh_raw "$name" systemctl is-active cloudstrap-firstboot.service 2>/dev/null || true)
    case $state in
      active) return 0 ;;
      failed) say "$name: the first-boot install failed"; return 1 ;;
    esac
    sleep 5
  done
  say "$name: the first-boot install did not finish in ${LAB_FIRSTBOOT_TIMEOUT:-1800}s"
  return 1
}

# lab_env FILE: the lab's secrets as an env file (0600), for the assertions' database and API checks
lab_env() {
  ( umask 077
    cat >"$1" <<E
CLOUDSTRAP_DB_ROOT_PASSWORD=lab-db-root-1
CLOUDSTRAP_DB_CLOUD_PASSWORD=lab-db-cloud-1
CLOUDSTRAP_ADMIN_PASSWORD=lab-admin-1
CLOUDSTRAP_HOST_ROOT_PASSWORD=$LAB_ROOT_PASSWORD
SQUIRREL_DB_ROOT_PASSWORD=lab-db-root-1
SQUIRREL_DB_CLOUD_PASSWORD=lab-db-cloud-1
SQUIRREL_ADMIN_PASSWORD=lab-admin-1
SQUIRREL_AGENT_ROOT_PASSWORD=$LAB_ROOT_PASSWORD
E
  )
}

# ---------------------------------------------------------------------------------------------------------
# scenarios

declare -a LAB_RESULTS=()
SCENARIO_FAILS=0

check() {   # check NAME DESCRIPTION CMD: assert on the machine
  local name=$1 desc=$2 rc=0; shift 2
  vm_quiet "$name" "$@" || rc=$?
  if ((rc == 0)); then
    say "  ok   [$name] $desc"
  else
    say "  FAIL [$name] $desc   (\$ $*; see $LAB_RUN/$name.ssh.log)"
    tail -8 "$LAB_RUN/$name.ssh.log" | sed 's/^/         | /' >&2   # the cause, also where the run dir is gone (CI)
    # SSH lost: what the machine's console said last (a kernel lockup or the OOM killer shows there)
    if ((rc == 255)); then
      say "  console of $name, last lines:"; tail -12 "$LAB_RUN/$name.serial" | sed 's/^/         | /' >&2
    fi
    SCENARIO_FAILS=$((SCENARIO_FAILS + 1))
  fi
}

require() {   # like check, and the scenario stops when it fails (later checks would only repeat the cause)
  local before=$SCENARIO_FAILS
  check "$@"
  ((SCENARIO_FAILS == before)) || { say "  stopping the scenario: a required step failed"; exit 1; }
}

# exit, not return: the scenario's subshell runs where errexit is ignored (run_scenario_once ... || rc=$?), so a
# returned 77 would let the scenario carry on without its feature.
skip_scenario() { echo "$*" >"$LAB_RUN/skip-reason"; exit 77; }

lab_scenarios() {
  local f
  for f in "$LAB_DIR"/scenarios/*.sh; do f=$(basename "$f" .sh); echo "${f#[0-9][0-9]-}"; done
}

# run_scenario NAME: run it; with LAB_RETRY=1 a failed scenario runs once more from fresh machines (TCG guests
# have stalled now and then), and the summary says so, keeping the first attempt's logs.
run_scenario() {
  local s=$1 rc file f
  file=""
  for f in "$LAB_DIR/scenarios/$s.sh" "$LAB_DIR"/scenarios/[0-9]*-"$s.sh"; do [ -f "$f" ] && { file=$f; break; }; done
  [ -n "$file" ] || die "no scenario $s (see: scripts/lab list)"
  s=$(basename "$file" .sh); s=${s#[0-9][0-9]-}
  rc=0; run_scenario_once "$s" "$file" || rc=$?
  local retried=""
  if ((rc != 0 && rc != 77)) && [ "${LAB_RETRY:-0}" = 1 ]; then
    retried="$LAB_RUN/first-attempt-$s"
    mkdir -p "$retried"
    mv "$LAB_RUN"/*.ssh.log "$LAB_RUN"/*.serial "$LAB_RUN"/*.diff "$retried"/ 2>/dev/null || true
    note "scenario $s FAILED on its first attempt (logs: $retried); running it once more (LAB_RETRY=1)"
    rc=0; run_scenario_once "$s" "$file" || rc=$?
  fi
  case $rc in
    0) LAB_RESULTS+=("PASS  $s${retried:+ (on the second attempt; the first FAILED: $retried)}"); phase_end "scenario $s" pass ;;
    77) LAB_RESULTS+=("SKIP  $s: $(cat "$LAB_RUN/skip-reason" 2>/dev/null)"); phase_end "scenario $s" skipped ;;
    *) LAB_RESULTS+=("FAIL  $s (logs: $LAB_RUN)"); phase_end "scenario $s" FAILED ;;
  esac
  return 0
}

run_scenario_once() {   # NAME FILE; returns the scenario's status (0 pass, 77 skipped, else failed)
  local s=$1 file=$2 rc f
  SCENARIO_FAILS=0
  rm -f "$LAB_RUN/skip-reason"
  phase_start "scenario $s"
  set +e
  (
    set -e
    # shellcheck disable=SC1090
    . "$file"
    scenario
    exit $((SCENARIO_FAILS > 0))
  )
  rc=$?
  set -e
  # Machines of the scenario are not needed any more.
  ssh_masters_close
  for f in "$LAB_RUN"/*.qemu.pid; do [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; }; done
  return "$rc"
}

# ---------------------------------------------------------------------------------------------------------

lab_prepare() {   # everything up to a ready snapshot, inside a run dir with the namespace up
  check_host
  say "accelerator: $(lab_accel) ($(grep -qwE 'vmx|svm' /proc/cpuinfo && echo 'vmx/svm present' || echo 'no vmx/svm in /proc/cpuinfo: software emulation'))"
  run_dir_init
  build_base
  build_debian_repo
  net_up
  build_snapshot
}

lab_main() {
  local cmd=${1:-help}; shift || true
  case $cmd in
    build)
      lab_prepare
      ;;
    run)
      local allow_skip="" list=()
      while (($#)); do
        case $1 in --allow-skip) allow_skip=1 ;; all) ;; *) list+=("$1") ;; esac
        shift
      done
      ((${#list[@]})) || mapfile -t list < <(lab_scenarios)
      lab_prepare
      prepare_product
      local s
      for s in "${list[@]}"; do run_scenario "$s"; done
      local r bad=0
      for r in "${LAB_RESULTS[@]}"; do
        case $r in FAIL*) bad=1 ;; SKIP*) [ -n "$allow_skip" ] || bad=1 ;; esac
      done
      return $bad
      ;;
    list) lab_scenarios ;;
    boot)
      local name=${1:-box}
      lab_prepare
      prepare_product
      VM_HOSTNAME=$name vm_start "$name" "static:$LAB_NET.20/24" "$(overlay "$name")"
      vm_install_cloudstrap "$name"
      LAB_KEEP=1
      say "$name is up at $LAB_NET.20 (cloudstrap in /usr/local/bin). From another shell:"
      say "  ip netns exec $LAB_NS ssh -i $BASE_DIR/id_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@$LAB_NET.20"
      say "Ctrl-C stops it."
      while kill -0 "${VM_PID[$name]}" 2>/dev/null; do sleep 5; done
      ;;
    clean) rm -rf "$LAB_CACHE"; say "removed $LAB_CACHE" ;;
    help | -h | --help) sed -n '2,14p' "$LAB_SRC/scripts/lab" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command $cmd (scripts/lab help)" ;;
  esac
}

# ---------------------------------------------------------------------------------------------------------
# install scenarios: lab profiles, secrets, running cloudstrap in a machine

LAB_ROOT_PASSWORD=cloudstrap-lab   # the machines' root password (tests/lab/image/customize.sh)

# lab_profile SRC OUT [--sub A=B | --set S.K=V]...: a shipped profile with the lab's repository, template, NTP.
# When the stand-in management package bundles the template (4.20+), the profile names none: cloudstrap seeds
# the bundled file, and the release's mirror (unreachable here) is never asked. Otherwise the lab's HTTP copy.
lab_profile() {
  local src=$1 out=$2; shift 2
  local base="http://$LAB_HOST_IP:$LAB_PORT" template
  if [ -n "${LAB_BUNDLED_TEMPLATE:-}" ]; then
    template=(--drop template)
  else
    template=(--set "template.url=\"$LAB_TEMPLATE_URL\"" --set "template.checksum=\"sha512:$LAB_TEMPLATE_SHA512\"")
  fi
  python3 "$LAB_DIR/make-profile" "$src" "$out" "$@" "${template[@]}" \
    --set "cloudstack.repository=\"$base/cloudstack\"" --set "cloudstack.allow-http=true" \
    --set "cloudstack.gpg-key=\"$base/cloudstack/release.asc\"" \
    --set "ntp.servers=[\"$LAB_HOST_IP\"]"
}

# assert_template_source NAME: with a bundled template, the install seeded it and downloaded no template
assert_template_source() {
  local m=$1
  [ -n "${LAB_BUNDLED_TEMPLATE:-}" ] || return 0
  check "$m" "the template was seeded from the package's bundled $LAB_BUNDLED_TEMPLATE (receipt)" \
    "grep -q 'bundled $LAB_BUNDLED_TEMPLATE' /var/lib/cloudstrap/receipt.json"
  local what="no machine downloaded a template from the lab's HTTP server"
  if grep -q 'GET /templates/' "$LAB_RUN/http.log"; then
    say "  FAIL [host] $what: $(grep 'GET /templates/' "$LAB_RUN/http.log" | head -3)"
    SCENARIO_FAILS=$((SCENARIO_FAILS + 1))
  else
    say "  ok   [host] $what"
  fi
}

# vm_prepare_install NAME PROFILE: copy cloudstrap, the profile (/root/lab.toml) and the secrets (0600 env file)
vm_prepare_install() {
  local name=$1 profile=$2 env="$LAB_RUN/lab.env"
  vm_install_cloudstrap "$name"
  vm_put "$name" "$profile" /root/lab.toml
  lab_env "$env"
  vm_put "$name" "$env" /root/lab.env
  vm_quiet "$name" 'chmod 600 /root/lab.env'
  # An installed Debian host has its package lists; the snapshot may not (older lab versions dropped them).
  vm_quiet "$name" 'apt-get update -q' || die "$name: apt-get update against the lab repository failed"
  # The snapshot has AppArmor's userspace, as a standard Debian 12 install does. LAB_NO_APPARMOR=1 removes it
  # (cloudstrap must then cope without apparmor_parser).
  if [ -n "${LAB_NO_APPARMOR:-}" ]; then
    vm_quiet "$name" 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q apparmor' || die "$name: removing apparmor failed"
  fi
}

# The unattended install as an operator runs it, secrets from the environment.
LAB_INSTALL='set -a; . /root/lab.env; set +a; cloudstrap install --profile /root/lab.toml --yes'

# vm_cloudstrap NAME ARGS...: run cloudstrap with the lab secrets in its environment; output in NAME.ssh.log
vm_cloudstrap() {
  local name=$1; shift
  vm_quiet "$name" "set -a; . /root/lab.env; set +a; cloudstrap $*"
}

# The cloud user's own view of the database, with the profile's password (MYSQL_PWD: not on argv).
LAB_SQL='set -a; . /root/lab.env; set +a; MYSQL_PWD=$CLOUDSTRAP_DB_CLOUD_PASSWORD mysql -u cloud -h localhost -N -e'

# assert_services NAME UNIT...
assert_services() {
  local m=$1 u; shift
  for u in "$@"; do check "$m" "$u is active" "systemctl is-active --quiet $u"; done
}

# assert_storage NAME NFS_SERVER_IP: exports visible and mountable, read-write, from machine NAME
assert_storage() {
  local m=$1 nfs=$2
  check "$m" "NFS server $nfs exports primary and secondary storage" \
    "showmount -e $nfs | grep -q '^/export/primary ' && showmount -e $nfs | grep -q '^/export/secondary '"
  check "$m" "$m mounts $nfs:/export/primary over NFS and writes to it" \
    "mkdir -p /mnt/lab-primary && mount -t nfs $nfs:/export/primary /mnt/lab-primary && touch /mnt/lab-primary/.lab-\$(hostname) && rm /mnt/lab-primary/.lab-\$(hostname); rc=\$?; umount /mnt/lab-primary; exit \$rc"
}

# assert_management NAME AGENT_IP...: databases, template, API, zone, agents registered
assert_management() {
  local m=$1 a; shift
  check "$m" "database cloud has the SYSTEM KVM template row (id 3), as the cloud user" \
    "$LAB_SQL 'select id from cloud.vm_template where id=3' | grep -qx 3"
  check "$m" "database cloud_usage exists" "$LAB_SQL 'show databases' | grep -qx cloud_usage"
  check "$m" "db.properties names the cloud database" "grep -q '^db.cloud.name=cloud' /etc/cloudstack/management/db.properties"
  check "$m" "API answers on :8080" "labcheck wait-port 127.0.0.1 8080 30"
  check "$m" "zone zone1 deployed and enabled (cloudstrap api listZones)" \
    "cloudstrap api listZones >/root/zones.json && labcheck find-object /root/zones.json name=zone1 allocationstate=Enabled"
  for a in "$@"; do
    check "$m" "agent $a registered with the management server (:8250)" \
      "labcheck json /var/lib/cloudstack/management/agents.json \"'$a' in j\""
    check "$m" "host $a listed by the API" "cloudstrap api listHosts type=Routing >/root/hosts.json && labcheck find-object /root/hosts.json ipaddress=$a"
  done
}

# assert_template NAME: the system VM template seeded into secondary storage (mounted from NFS_SERVER)
assert_template() {
  local m=$1 nfs=$2
  check "$m" "template in secondary storage with its template.properties, the only one the SSVM's search finds" \
    "mkdir -p /mnt/lab-secondary && mount -t nfs $nfs:/export/secondary /mnt/lab-secondary && ls /mnt/lab-secondary/template/tmpl/1/3/*.qcow2 && grep -q '^filename=' /mnt/lab-secondary/template/tmpl/1/3/template.properties && test \"\$(find /mnt/lab-secondary/template -name template.properties)\" = /mnt/lab-secondary/template/tmpl/1/3/template.properties; rc=\$?; umount /mnt/lab-secondary; exit \$rc"
  check "$m" "addImageStore mounted the secondary storage and found the system VM template there (stand-in log)" \
    "grep -q 'addImageStore: .* template 3 ' /var/log/cloudstack/management/management-server.log"
  assert_template_source "$m"
}

assert_agent() {   # NAME MANAGEMENT_IP
  local m=$1 mgmt=$2
  assert_services "$m" libvirtd cloudstack-agent
  check "$m" "agent.properties points at the management server" "labcheck props /etc/cloudstack/agent/agent.properties host $mgmt"
  check "$m" "libvirt answers on qemu:///system" "virsh -c qemu:///system version"
}

assert_all_in_one() {   # NAME IP
  local m=$1 ip=$2
  assert_services "$m" mariadb rpcbind nfs-server chrony libvirtd cloudstack-management cloudstack-agent
  assert_storage "$m" "$ip"
  assert_template "$m" "$ip"
  assert_management "$m" "$ip"
  assert_agent "$m" "$ip"
}
