# shellcheck shell=bash
# The article's topology on Debian 12: cloud-server (management, database, NFS) and cloud-agent (KVM), from
# profiles/squirrel-server.toml and squirrel-agent.toml moved to release 4.22, Debian 12, MariaDB and the lab
# network. The agent is installed first; the server's install deploys the zone, whose addHost logs in to the
# agent over SSH, runs cloudstack-setup-agent there, and the agent connects back and registers.
scenario() {
  has_subcommand install || skip_scenario "cloudstrap has no 'install' subcommand on this branch yet"
  need_cloudstack_repo
  local server=cloud-server agent=cloud-agent sip=$LAB_NET.4 aip=$LAB_NET.5
  local adapt=(--sub 'release = "3.0.2"=>release = "4.22"' --sub 'platform = "el6"=>platform = "debian-12"'
    --sub 'server = "mysql"=>server = "mariadb"' --sub "192.168.1.=>$LAB_NET.")
  lab_profile "$LAB_SRC/profiles/squirrel-server.toml" "$LAB_RUN/squirrel-server.toml" "${adapt[@]}"
  lab_profile "$LAB_SRC/profiles/squirrel-agent.toml" "$LAB_RUN/squirrel-agent.toml" "${adapt[@]}"
  phase_start "boot (two-host)"
  VM_HOSTNAME=$server VM_DOMAIN=squirrel.org vm_start "$server" "static:$sip/24" "$(overlay "$server")"
  VM_HOSTNAME=$agent VM_DOMAIN=squirrel.org vm_start "$agent" "static:$aip/24" "$(overlay "$agent")"
  phase_end "boot (two-host)"
  # Each machine knows the other by name, as the article's /etc/hosts has it.
  vm_quiet "$server" "echo '$aip cloud-agent.squirrel.org cloud-agent' >>/etc/hosts"
  vm_quiet "$agent" "echo '$sip cloud-server.squirrel.org cloud-server' >>/etc/hosts"
  vm_prepare_install "$agent" "$LAB_RUN/squirrel-agent.toml"
  vm_prepare_install "$server" "$LAB_RUN/squirrel-server.toml"
  phase_start "install (two-host: agent)"
  require "$agent" "cloudstrap install succeeds on the agent" "$LAB_INSTALL"
  phase_end "install (two-host: agent)"
  phase_start "install (two-host: server, hand-off, zone)"
  require "$server" "cloudstrap install succeeds on the server" "$LAB_INSTALL"
  phase_end "install (two-host: server, hand-off, zone)"
  assert_services "$server" mariadb rpcbind nfs-server chrony cloudstack-management
  assert_storage "$server" "$sip"
  assert_storage "$agent" "$sip"
  assert_template "$server" "$sip"
  check "$server" "zone named squirrel" "cloudstrap api listZones >/root/zones.json && labcheck find-object /root/zones.json name=squirrel allocationstate=Enabled"
  check "$server" "addHost logged in to $aip over SSH and ran cloudstack-setup-agent there" \
    "grep -q 'addHost: $aip: cloudstack-setup-agent' /var/log/cloudstack/management/management-server.log"
  check "$server" "agent $aip registered with the management server (:8250)" \
    "labcheck json /var/lib/cloudstack/management/agents.json \"'$aip' in j\""
  check "$server" "host $aip listed by the API" "cloudstrap api listHosts type=Routing >/root/hosts.json && labcheck find-object /root/hosts.json ipaddress=$aip"
  assert_agent "$agent" "$sip"
  assert_services "$agent" chrony
}
