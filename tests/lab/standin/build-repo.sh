#!/usr/bin/env bash
# Builds the stand-in CloudStack packages (cloudstack-common, cloudstack-management, cloudstack-agent) with
# dpkg-deb and lays them out as a signed apt repository the way download.cloudstack.org does for Debian:
#   deb URL bookworm 4.22      (dists/bookworm/4.22/binary-amd64/Packages, InRelease signed by release.asc)
# Usage: build-repo.sh OUT_DIR GNUPG_HOME
set -euo pipefail
out=$1 gnupg=$2
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../../.." && pwd)"
version="${LAB_CS_VERSION:-4.22.0.0~lab1}"
component="${LAB_CS_COMPONENT:-4.22}"
suite=bookworm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

need() { [ -e "$1" ] || { echo "stand-in input missing: $1 ($2)" >&2; exit 1; }; }

control() {   # control DIR PACKAGE DEPENDS DESCRIPTION [ARCH]
  mkdir -p "$1/DEBIAN"
  cat >"$1/DEBIAN/control" <<C
Package: $2
Version: $version
Architecture: ${5:-all}
Maintainer: cloudstrap lab <lab@lab.example>
Section: admin
Priority: optional
Depends: $3
Description: $4
 Lab stand-in built by cloudstrap's tests/lab; not Apache CloudStack.
C
}

# cloudstack-common: shared scripts directory, the cloud user
d=$work/cloudstack-common
control "$d" cloudstack-common "python3, bzip2, gzip, openssh-client, uuid-runtime, iproute2, sudo" \
  "CloudStack common files (lab stand-in)"
mkdir -p "$d/usr/share/cloudstack-common/scripts" "$d/etc/cloudstack"
cat >"$d/DEBIAN/postinst" <<'P'
#!/bin/sh
set -e
if [ "$1" = configure ] && ! getent passwd cloud >/dev/null; then
  adduser --system --group --home /var/lib/cloudstack --no-create-home --shell /usr/sbin/nologin cloud >/dev/null
fi
P
chmod 0755 "$d/DEBIAN/postinst"

# cloudstack-management: setup commands (tests/standins) and the API simulator as the management service
d=$work/cloudstack-management
control "$d" cloudstack-management "cloudstack-common (= $version), python3, python3-paramiko, \
mariadb-client | default-mysql-client, nfs-common, sudo, genisoimage, ipmitool, iptables, openssh-client, qemu-utils" \
  "CloudStack management server (lab stand-in: the cloudstrap API simulator)" amd64
need "$src/tests/standins/install" "engineer reset's setup-command stand-ins (tests/standins)"
need "${LAB_SIMULATOR_BIN:-}" "engineer api's API simulator binary (tests/simulator), built by scripts/lab"
mkdir -p "$d/usr/bin" "$d/usr/share/cloudstack-management" "$d/lib/systemd/system" \
  "$d/var/log/cloudstack/management" "$d/var/lib/cloudstack/management"
# The setup-command stand-ins as their own installer lays them down, then service control made real.
sh "$src/tests/standins/install" "$d" "$component" >/dev/null
rm -rf "$d/usr/share/cloudstack-standin/bin"
ln -sfn /usr/share/cloudstack-management/cloudstack-setup-management "$d/usr/bin/cloudstack-setup-management"
install -m 0755 "$here/management/cloudstack-setup-management" "$d/usr/share/cloudstack-management/"
install -m 0755 "$LAB_SIMULATOR_BIN" "$d/usr/share/cloudstack-management/cloudstack-simulator"
install -m 0755 "$here/management/cloudstack-management-run" "$d/usr/share/cloudstack-management/run"
install -m 0644 "$here/management/cloudstack-management.service" "$d/lib/systemd/system/"
# From 4.20 the real package bundles the system VM templates with a metadata.ini naming each file and its
# checksum (md5 up to 4.21, sha512 from 4.22); the stand-in bundles the lab's small template under 4.x's name.
if [ -n "${LAB_TEMPLATE_FILE:-}" ] && [ "$(printf '%s\n' 4.20 "$component" | sort -V | head -1)" = 4.20 ]; then
  need "$LAB_TEMPLATE_FILE" "the lab's template (make_template in lib.sh)"
  if [ "$(printf '%s\n' 4.22 "$component" | sort -V | head -1)" = 4.22 ]; then
    tv=4.22.0 section=kvm-x86_64 sum=$(sha512sum "$LAB_TEMPLATE_FILE" | cut -d' ' -f1)
  else
    tv=4.20.2 section=kvm sum=$(md5sum "$LAB_TEMPLATE_FILE" | cut -d' ' -f1)
  fi
  tfile=systemvmtemplate-$tv-x86_64-kvm.qcow2.bz2 tdir=$d/usr/share/cloudstack-management/templates/systemvm
  mkdir -p "$tdir"
  install -m 0644 "$LAB_TEMPLATE_FILE" "$tdir/$tfile"
  cat >"$tdir/metadata.ini" <<M
[default]
version = $tv.0

[$section]
templatename = systemvm-kvm-$tv-x86_64
checksum = $sum
downloadurl = https://download.cloudstack.org/systemvm/${tv%.*}/$tfile
filename = $tfile
arch = x86_64
M
  echo "bundled template: /usr/share/cloudstack-management/templates/systemvm/$tfile"
fi
(cd "$d" && find etc -type f | sed 's|^|/|') >"$d/DEBIAN/conffiles"
cat >"$d/DEBIAN/postinst" <<'P'
#!/bin/sh
set -e
# As the real package: installed, not started; cloudstack-setup-management starts it once the database exists.
[ "$1" = configure ] && systemctl daemon-reload 2>/dev/null || true
P
chmod 0755 "$d/DEBIAN/postinst"

# cloudstack-agent: the stand-in agent and cloudstack-setup-agent
d=$work/cloudstack-agent
control "$d" cloudstack-agent "cloudstack-common (= $version), python3, libvirt-daemon-system, libvirt-clients, \
qemu-system-x86 | qemu-kvm, qemu-utils, nfs-common, iptables, ebtables, ipset, uuid-runtime, iproute2, cpu-checker" \
  "CloudStack KVM agent (lab stand-in)"
mkdir -p "$d/usr/bin" "$d/usr/share/cloudstack-agent" "$d/lib/systemd/system" "$d/etc/cloudstack/agent"
install -m 0755 "$here/agent/cloudstack-agent" "$d/usr/share/cloudstack-agent/cloudstack-agent"
install -m 0755 "$here/agent/cloudstack-setup-agent" "$d/usr/bin/cloudstack-setup-agent"
install -m 0644 "$here/agent/cloudstack-agent.service" "$d/lib/systemd/system/"
printf '# lab stand-in agent configuration; cloudstack-setup-agent fills it in\n' >"$d/etc/cloudstack/agent/agent.properties"
echo /etc/cloudstack/agent/agent.properties >"$d/DEBIAN/conffiles"

# the repository
rm -rf "$out"
pool=$out/pool/main/c
mkdir -p "$pool" "$out/dists/$suite/$component/binary-amd64"
for p in cloudstack-common cloudstack-management cloudstack-agent; do
  arch=$(sed -n 's/^Architecture: //p' "$work/$p/DEBIAN/control")
  dpkg-deb --root-owner-group -Zgzip --build "$work/$p" "$pool/${p}_${version}_${arch}.deb" >/dev/null
done
(cd "$out" && apt-ftparchive packages pool >"dists/$suite/$component/binary-amd64/Packages" &&
  gzip -k "dists/$suite/$component/binary-amd64/Packages")
apt-ftparchive -o APT::FTPArchive::Release::Origin=cloudstrap-lab -o "APT::FTPArchive::Release::Suite=$suite" \
  -o "APT::FTPArchive::Release::Codename=$suite" -o "APT::FTPArchive::Release::Components=$component" \
  -o APT::FTPArchive::Release::Architectures=amd64 release "$out/dists/$suite" >"$work/Release"
mv "$work/Release" "$out/dists/$suite/Release"
# A signing key made for this run, so the machines verify the repository as they would the real one.
mkdir -p "$gnupg"; chmod 0700 "$gnupg"
export GNUPGHOME=$gnupg
gpg --batch --quiet --passphrase '' --quick-gen-key 'cloudstrap lab repository <lab@lab.example>' ed25519 sign never
gpg --batch --quiet --yes --clearsign -o "$out/dists/$suite/InRelease" "$out/dists/$suite/Release"
gpg --batch --quiet --yes -abs -o "$out/dists/$suite/Release.gpg" "$out/dists/$suite/Release"
gpg --batch --quiet --armor --export >"$out/release.asc"
gpg --batch --quiet --export >"$out/release.gpg"
echo "stand-in repository: $out (deb URL $suite $component), version $version"
# The key is only needed for signing: stop the agent gpg started for this home, or every run leaves one behind.
gpgconf --kill gpg-agent
