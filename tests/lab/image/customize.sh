#!/bin/sh
# Runs inside the debootstrapped root (chroot) once, when the base image is built.
set -eu
echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' >/etc/fstab
# The kernel and initramfs come from outside the disk: rebuilding the initramfs inside is wasted minutes.
sed -i 's/^update_initramfs=.*/update_initramfs=no/' /etc/initramfs-tools/update-initramfs.conf
# Faster package installs under emulation: no docs, no fsync (throwaway disks), no man-db rebuilds.
cat >/etc/dpkg/dpkg.cfg.d/01-lab <<'E'
force-unsafe-io
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
E
rm -f /var/lib/man-db/auto-update
# The only package source: the lab repository on the host side of the namespace.
echo "deb [trusted=yes] http://$LAB_HOST_IP:$LAB_PORT/debian ./" >/etc/apt/sources.list
printf 'Acquire::Languages "none";\nAcquire::http::Timeout "30";\n' >/etc/apt/apt.conf.d/90-lab
# Root logs in with the lab key, and with a password as CloudStack's addHost does (it SSHes as root).
echo 'root:cloudstrap-lab' | chpasswd
mkdir -p /etc/ssh/sshd_config.d
printf 'PermitRootLogin yes\nPasswordAuthentication yes\nUseDNS no\n' >/etc/ssh/sshd_config.d/50-lab.conf
# Network, hostname and host keys are set per machine at first boot (cslab-firstboot).
rm -f /etc/ssh/ssh_host_*
printf 'auto lo\niface lo inet loopback\n' >/etc/network/interfaces
: >/etc/resolv.conf
systemctl enable cslab-firstboot.service ssh.service networking.service
# No background apt runs competing with the install for the dpkg lock.
systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer 2>/dev/null || true
# No serial console login prompt spam needed, but keep one for debugging.
systemctl enable serial-getty@ttyS0.service
apt-get clean
rm -rf /var/lib/apt/lists/*
