# shellcheck shell=bash
# The same ISO under OVMF. First a machine no profile is for: the guided install is offered on the console.
# Then a disk that holds a partition table and a profile without `wipe`: the
# installer refuses, says why on the console, and the disk is unchanged. Then an empty disk: it installs,
# and the installed disk boots under OVMF (fresh variables, so through the removable path).
scenario() {
  has_subcommand media build || skip_scenario "cloudstrap has no 'media build' subcommand on this branch yet"
  need_cloudstack_repo
  lab_iso
  local m=cloud2 ip=$LAB_NET.11 mac=52:54:00:4c:ac:11 dir=$LAB_RUN/iso-profiles t0
  iso_profile "$dir/cloud2.toml" cloud2 "$ip" "$mac"
  # A second profile on the medium: this machine must pick its own by MAC address.
  [ -f "$dir/cloud.toml" ] || iso_profile "$dir/cloud.toml" cloud "$LAB_NET.10" 52:54:00:4c:ac:10
  "$LAB_RUN/cloudstrap" media customize "$LAB_ISO" --profile "$dir/cloud.toml" --profile "$dir/cloud2.toml" \
    --out "$LAB_RUN/site2.iso" >"$LAB_RUN/customize2.log" 2>&1 || { cat "$LAB_RUN/customize2.log" >&2; die "media customize failed"; }

  # A MAC address no profile names: the installer says so and the console offers the guided install.
  qemu-img create -q -f qcow2 "$LAB_RUN/stranger.qcow2" 20G
  phase_start "iso-uefi: a machine without a profile"
  vm_launch_iso stranger "$LAB_NET.12" 52:54:00:4c:ac:99 "$LAB_RUN/stranger.qcow2" uefi "$LAB_RUN/site2.iso"
  wait_serial stranger "Press Enter to start the guided install on this console" || die "stranger: no guided install offered"
  kill "${VM_PID[stranger]}"
  phase_end "iso-uefi: a machine without a profile"
  local what="no profile for 52:54:00:4c:ac:99: said on the console, with the profiles on the medium"
  if grep -aq "no profile on this medium is for this machine (its MAC addresses: 52:54:00:4c:ac:99; profiles: cloud, cloud2)" "$LAB_RUN/stranger.serial"; then say "  ok   [stranger] $what"
  else say "  FAIL [stranger] $what: $(grep -a 'cloudstrap:' "$LAB_RUN/stranger.serial" | tail -3)"; SCENARIO_FAILS=$((SCENARIO_FAILS + 1)); fi

  # A disk with a partition table (nothing else) and no `wipe` in the profile; the machine writes to an
  # overlay of it, so "unchanged" is qemu-img's comparison of the two.
  qemu-img create -q -f raw "$LAB_RUN/used.raw" 20G
  printf 'label: gpt\n' | sfdisk -q "$LAB_RUN/used.raw"
  qemu-img create -q -f qcow2 -F raw -b "$LAB_RUN/used.raw" "$LAB_RUN/$m-used.qcow2"
  phase_start "iso-uefi: refusal"
  vm_launch_iso "$m-used" "$ip" "$mac" "$LAB_RUN/$m-used.qcow2" uefi "$LAB_RUN/site2.iso"
  wait_serial "$m-used" "a root shell follows on this console" || die "$m: the installer did not stop"
  kill "${VM_PID[$m-used]}"; sleep 2
  phase_end "iso-uefi: refusal"
  local what="a disk holding a partition table and no wipe: refused on the console with the reason"
  if grep -aq "holds data (GPT partition table): set disk.wipe = true" "$LAB_RUN/$m-used.serial"; then say "  ok   [$m] $what"
  else say "  FAIL [$m] $what: $(grep -a 'cloudstrap:' "$LAB_RUN/$m-used.serial" | tail -5)"; SCENARIO_FAILS=$((SCENARIO_FAILS + 1)); fi
  what="the refused disk is byte for byte as it was (qemu-img compare)"
  if qemu-img compare -q "$LAB_RUN/used.raw" "$LAB_RUN/$m-used.qcow2"; then say "  ok   [$m] $what"; else say "  FAIL [$m] $what"; SCENARIO_FAILS=$((SCENARIO_FAILS + 1)); fi

  # An empty disk: installed, then booted from under OVMF.
  qemu-img create -q -f qcow2 "$LAB_RUN/$m.qcow2" 20G
  t0=$SECONDS
  phase_start "iso-uefi: power-on to disk installed"
  vm_launch_iso "$m" "$ip" "$mac" "$LAB_RUN/$m.qcow2" uefi "$LAB_RUN/site2.iso"
  wait_serial "$m" "cloudstrap: installed; ejecting the medium" || die "$m: the install onto the disk did not finish"
  phase_end "iso-uefi: power-on to disk installed" "$((SECONDS - t0)) s from power-on"
  phase_start "iso-uefi: the installed disk boots"
  wait_ssh "$m"
  phase_end "iso-uefi: the installed disk boots" "$((SECONDS - t0)) s from power-on"
  check "$m" "it runs from its disk, booted by UEFI" "test -d /sys/firmware/efi && findmnt -n -o SOURCE / | grep -q '^/dev/vda'"
  check "$m" "it took its own profile (by MAC address) among two" "grep -q 'profile cloud2 (host.mac $mac' /var/log/cloudstrap/disk-install.log && grep -q '^hostname = \"cloud2\"' /etc/cloudstrap/profile.toml"
  check "$m" "its address and name are the profile's" "ip -4 addr show ens3 | grep -q ' $ip/24' && test \"\$(hostname -f)\" = cloud2.lab.example"
}
