# shellcheck shell=bash
# The appliance: a machine with an empty virtio disk and cloudstrap's ISO (customised with the all-in-one
# profile) as its CD, under BIOS, with no way to the host side's package repository. It boots the live
# system, installs onto the disk, reboots from it, and the first boot installs every role from the
# repository on the disk; then everything the all-in-one scenario checks.
scenario() {
  has_subcommand media build || skip_scenario "cloudstrap has no 'media build' subcommand on this branch yet"
  need_cloudstack_repo
  lab_iso
  local m=cloud ip=$LAB_NET.10 mac=52:54:00:4c:ac:10 dir=$LAB_RUN/iso-profiles t0
  iso_profile "$dir/cloud.toml" cloud "$ip" "$mac"
  "$LAB_RUN/cloudstrap" media customize "$LAB_ISO" --profile "$dir/cloud.toml" --out "$LAB_RUN/site.iso" \
    >"$LAB_RUN/customize.log" 2>&1 || { cat "$LAB_RUN/customize.log" >&2; die "media customize failed"; }
  # The only package sources are on the medium: the host side's repository refuses this machine.
  ip netns exec "$LAB_NS" iptables -I INPUT -s "$ip" -p tcp --dport "$LAB_PORT" -j REJECT
  qemu-img create -q -f qcow2 "$LAB_RUN/$m.qcow2" 20G
  # Earlier scenarios' machines used this address too: only requests from now on count.
  local http_from; http_from=$(($(wc -l <"$LAB_RUN/http.log") + 1))
  t0=$SECONDS
  phase_start "iso: power-on to disk installed"
  vm_launch_iso "$m" "$ip" "$mac" "$LAB_RUN/$m.qcow2" bios "$LAB_RUN/site.iso"
  wait_serial "$m" "cloudstrap: installed; ejecting the medium" || die "$m: the install onto the disk did not finish"
  phase_end "iso: power-on to disk installed" "$((SECONDS - t0)) s from power-on"
  phase_start "iso: reboot to first boot done"
  wait_ssh "$m"
  wait_firstboot "$m" || { vm_ssh_raw "$m" 'tail -40 /var/log/cloudstrap/firstboot.log' >&2 || true; die "$m: the first-boot install failed"; }
  phase_end "iso: reboot to first boot done" "$((SECONDS - t0)) s from power-on"
  vm_install_cloudstrap_helpers "$m"
  lab_env "$LAB_RUN/lab.env"
  vm_put "$m" "$LAB_RUN/lab.env" /root/lab.env
  vm_quiet "$m" 'chmod 600 /root/lab.env'
  check "$m" "the live installer picked the profile by MAC address and logged to the disk" \
    "grep -q 'profile cloud (host.mac $mac' /var/log/cloudstrap/disk-install.log"
  check "$m" "the first boot's flag is gone and its log kept" "! test -e /var/lib/cloudstrap/firstboot && test -s /var/log/cloudstrap/firstboot.log"
  check "$m" "apt's only sources are the repositories on the disk" \
    "! grep -rhs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/ | grep -vE ' file:(//)?/var/lib/cloudstrap/repo/' && grep -q 'file:///var/lib/cloudstrap/repo/cloudstack' /etc/apt/sources.list.d/cloudstack.list"
  check "$m" "the installed profile points at the offline CloudStack repository" \
    "grep -q '^mirror = \"/var/lib/cloudstrap/repo/cloudstack\"' /etc/cloudstrap/profile.toml"
  check "$m" "the role packages came with the image, CloudStack's from the disk's repository" \
    "dpkg -s mariadb-server libvirt-daemon-system cloudstack-management cloudstack-agent >/dev/null"
  check "$m" "root's password is the zone host's (addHost logs in with it) and sshd accepts it" \
    "grep -q '^PermitRootLogin yes' /etc/ssh/sshd_config.d/50-cloudstrap.conf"
  assert_all_in_one "$m" "$ip"
  say "  the zone is Enabled with its host Up $((SECONDS - t0)) s after power-on"
  local what="the machine asked the host side's repository for nothing"
  if tail -n +"$http_from" "$LAB_RUN/http.log" | grep -q "^$ip "; then
    say "  FAIL [host] $what: $(tail -n +"$http_from" "$LAB_RUN/http.log" | grep "^$ip " | head -3)"; SCENARIO_FAILS=$((SCENARIO_FAILS + 1))
  else
    say "  ok   [host] $what"
  fi
}
