# shellcheck shell=bash
# All four roles on one machine from profiles/all-in-one.toml (addresses moved into the lab network), then the
# same install again, which must change nothing; then `cloudstrap uninstall --yes`, which must put every file
# under /etc back as it was before the install, leave the package set and the running services as they were,
# keep the storage contents (data), and leave a second uninstall nothing to do.
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
  vm_quiet "$m" "labcheck tree-digest /etc /root/.cmk >/root/pre.files && $LAB_PKGS >/root/pre.pkgs && $LAB_UNITS >/root/pre.units"
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

  check "$m" "every path the receipt's undo records name is under /etc, /root/.cmk, /export or cloudstrap's own state" \
    'labcheck receipt-paths /var/lib/cloudstrap/receipt.json /etc /root/.cmk /export /var/lib/cloudstrap'
  phase_start "uninstall (all-in-one)"
  require "$m" "cloudstrap uninstall --yes succeeds" 'cloudstrap uninstall --yes'
  phase_end "uninstall (all-in-one)"
  check "$m" "every file under /etc and cmk's config is as before the install" 'labcheck tree-digest /etc /root/.cmk >/root/post.files && diff /root/pre.files /root/post.files'
  check "$m" "the package set is the one before the install" "$LAB_PKGS >/root/post.pkgs && diff /root/pre.pkgs /root/post.pkgs"
  check "$m" "no service runs that did not run before the install" "$LAB_UNITS >/root/post.units && diff /root/pre.units /root/post.units"
  check "$m" "the storage contents are kept (the seeded template)" 'ls /export/secondary/template/tmpl/1/3/*.qcow2'
  check "$m" "a second uninstall has nothing to do" 'cloudstrap uninstall --yes | grep -q "Nothing to undo"'
}

# The installed packages, and which of the units an install starts are running, one a line.
LAB_PKGS="dpkg-query -W -f='\${Package} \${db:Status-Status}\n' | grep ' installed\$' | sort"
LAB_UNITS='{ for u in mariadb rpcbind nfs-server chrony netfilter-persistent libvirtd cloudstack-management cloudstack-agent cloudstack-usage; do systemctl is-active --quiet $u && echo $u; done; true; }'

