# shellcheck shell=bash
# All four roles on one machine from profiles/all-in-one.toml (addresses moved into the lab network), then the
# same install again, which must change nothing.
scenario() {
  has_subcommand install || skip_scenario "cloudstrap has no 'install' subcommand on this branch yet"
  need_cloudstack_repo
  local m=cloud ip=$LAB_NET.10
  lab_profile "$LAB_SRC/profiles/all-in-one.toml" "$LAB_RUN/all-in-one.toml" \
    --sub "192.168.10.=>$LAB_NET." --sub "cloud.example.org=>cloud.lab.example"
  phase_start "boot (all-in-one)"
  VM_HOSTNAME=cloud VM_DOMAIN=lab.example vm_start "$m" "static:$ip/24" "$(overlay "$m")"
  phase_end "boot (all-in-one)"
  vm_prepare_install "$m" "$LAB_RUN/all-in-one.toml"
  phase_start "install (all-in-one)"
  require "$m" "cloudstrap install succeeds" "$LAB_INSTALL"
  phase_end "install (all-in-one)"
  assert_all_in_one "$m" "$ip"
  vm_quiet "$m" 'labcheck state-digest >/root/state.1'
  phase_start "re-run (all-in-one)"
  require "$m" "a second cloudstrap install succeeds" "$LAB_INSTALL"
  phase_end "re-run (all-in-one)"
  vm_quiet "$m" 'labcheck state-digest >/root/state.2'
  check "$m" "the re-run changed no file and restarted no service" 'diff /root/state.1 /root/state.2'
  # For the resume scenario: the end state of this uninterrupted install.
  vm_ssh_raw "$m" labcheck state-digest --portable >"$LAB_RUN/all-in-one.portable" || true
}

