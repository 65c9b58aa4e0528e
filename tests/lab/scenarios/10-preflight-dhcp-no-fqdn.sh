# shellcheck shell=bash
# Preflight on a machine configured by DHCP with a bare host name (no domain): it must report both
# net.static-ip and net.fqdn. A second machine, static with an FQDN, is the control: the same checks pass.
scenario() {
  has_subcommand preflight || skip_scenario "cloudstrap has no 'preflight' subcommand on this branch yet"
  dhcp_up
  phase_start "boot (preflight)"
  VM_HOSTNAME=bare VM_DOMAIN='' vm_start bare dhcp "$(overlay bare)"
  VM_HOSTNAME=good VM_DOMAIN=lab.example vm_start good "static:$LAB_NET.31/24" "$(overlay good)"
  phase_end "boot (preflight)"
  local m
  for m in bare good; do
    vm_install_cloudstrap "$m"
    # Exit 1 is expected on both (a test machine fails other checks, e.g. memory): keep the report.
    vm_quiet "$m" 'cloudstrap preflight --role management --format json >/root/preflight.json; echo "exit $?" >/root/preflight.rc' || true
    vm "$m" 'cat /root/preflight.json; cat /root/preflight.rc' >/dev/null || true
  done
  check bare "preflight exits 1 (checks failed)" 'grep -qx "exit 1" /root/preflight.rc'
  check bare "address really comes from DHCP" 'grep -q "inet dhcp" /etc/network/interfaces && ! hostname --fqdn | grep -q "\."'
  check bare "net.static-ip fails or warns on DHCP" 'labcheck check-status /root/preflight.json net.static-ip fail,warn'
  check bare "net.static-ip names DHCP" 'labcheck check-mentions /root/preflight.json net.static-ip dhcp'
  check bare "net.fqdn fails without a domain" 'labcheck check-status /root/preflight.json net.fqdn fail'
  check good "net.static-ip passes on a static address" 'labcheck check-status /root/preflight.json net.static-ip pass'
  check good "net.fqdn passes with good.lab.example" 'labcheck check-status /root/preflight.json net.fqdn pass'
}
