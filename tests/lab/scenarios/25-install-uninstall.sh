# shellcheck shell=bash
# The receipt as undo log: all four roles installed on one machine from profiles/all-in-one.toml, then
# `cloudstrap uninstall --yes`, which must put every file under /etc (and cmk's config) back as it was before
# the install, leave the package set and the running services as they were, keep the storage contents (data),
# and leave a second uninstall nothing to do.
scenario() {
  has_subcommand uninstall || skip_scenario "cloudstrap has no 'uninstall' subcommand on this branch yet"
  need_cloudstack_repo
  local m=cloud ip=$LAB_NET.10
  lab_profile "$LAB_SRC/profiles/all-in-one.toml" "$LAB_RUN/install-uninstall.toml" \
    --sub "192.168.10.=>$LAB_NET." --sub "cloud.example.org=>cloud.lab.example"
  phase_start "boot (install-uninstall)"
  VM_HOSTNAME=cloud VM_DOMAIN=lab.example vm_start "$m" "static:$ip/24" "$(overlay "$m")"
  phase_end "boot (install-uninstall)"
  vm_prepare_install "$m" "$LAB_RUN/install-uninstall.toml"
  vm_quiet "$m" "labcheck tree-digest /etc /root/.cmk >/root/pre.files && $LAB_PKGS >/root/pre.pkgs && $LAB_UNITS >/root/pre.units"
  phase_start "install (install-uninstall)"
  require "$m" "cloudstrap install succeeds" "$LAB_INSTALL"
  phase_end "install (install-uninstall)"
  check "$m" "the zone is deployed before the uninstall" \
    "cloudstrap api listZones >/root/zones.json && labcheck find-object /root/zones.json name=zone1 allocationstate=Enabled"

  check "$m" "every path the receipt's undo records name is under /etc, /root/.cmk, /export or cloudstrap's own state" \
    'labcheck receipt-paths /var/lib/cloudstrap/receipt.json /etc /root/.cmk /export /var/lib/cloudstrap'
  phase_start "uninstall (install-uninstall)"
  require "$m" "cloudstrap uninstall --yes succeeds" 'cloudstrap uninstall --yes'
  phase_end "uninstall (install-uninstall)"
  check "$m" "every file under /etc and cmk's config is as before the install" 'labcheck tree-digest /etc /root/.cmk >/root/post.files && diff /root/pre.files /root/post.files'
  check "$m" "the package set is the one before the install" "$LAB_PKGS >/root/post.pkgs && diff /root/pre.pkgs /root/post.pkgs"
  check "$m" "no service runs that did not run before the install" "$LAB_UNITS >/root/post.units && diff /root/pre.units /root/post.units"
  check "$m" "the storage contents are kept (the seeded template)" 'ls /export/secondary/template/tmpl/1/3/*.qcow2'
  check "$m" "a second uninstall has nothing to do" 'cloudstrap uninstall --yes | grep -q "Nothing to undo"'
}

# The installed packages, and which of the units an install starts are running, one a line.
LAB_PKGS="dpkg-query -W -f='\${Package} \${db:Status-Status}\n' | grep ' installed\$' | sort"
LAB_UNITS='{ for u in mariadb rpcbind nfs-server chrony netfilter-persistent libvirtd libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket cloudstack-management cloudstack-agent cloudstack-usage; do systemctl is-active --quiet $u && echo $u; done; true; }'

