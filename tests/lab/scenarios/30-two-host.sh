# shellcheck shell=bash
# The article's topology on Debian 12: cloud-server (management, database, NFS) and cloud-agent (KVM), from
# profiles/squirrel-server.toml and squirrel-agent.toml moved to release 4.22, Debian 12, MariaDB and the lab
# network. The server is installed first and deploys the zone without hosts (its primary storage deferred:
# CloudStack refuses it until a host is Up). Then the agent registers itself (agent.register = true): its
# install calls addHost for its own address, the management server logs in to it over SSH and runs
# cloudstack-setup-agent there, the agent connects back on :8250, and the agent's install adds the primary
# storage. (The server adding its hosts itself, [[zone.hosts]], is what all-in-one exercises.)
scenario() {
  has_subcommand install || skip_scenario "cloudstrap has no 'install' subcommand on this branch yet"
  need_cloudstack_repo
  local server=cloud-server agent=cloud-agent sip=$LAB_NET.4 aip=$LAB_NET.5
  local adapt=(--sub 'release = "3.0.2"=>release = "4.22"' --sub 'platform = "el6"=>platform = "debian-12"'
    --sub 'server = "mysql"=>server = "mariadb"' --sub "192.168.1.=>$LAB_NET.")
  lab_profile "$LAB_SRC/profiles/squirrel-server.toml" "$LAB_RUN/squirrel-server.toml" "${adapt[@]}" --drop zone.hosts
  lab_profile "$LAB_SRC/profiles/squirrel-agent.toml" "$LAB_RUN/squirrel-agent.toml" "${adapt[@]}" \
    --set agent.register=true --set 'agent.zone="squirrel"' \
    --set 'agent.root-password-env="SQUIRREL_AGENT_ROOT_PASSWORD"' \
    --set 'management.admin-password-env="SQUIRREL_ADMIN_PASSWORD"'
  phase_start "boot (two-host)"
  VM_HOSTNAME=$server VM_DOMAIN=squirrel.org vm_launch "$server" "static:$sip/24" "$(overlay "$server")"
  VM_HOSTNAME=$agent VM_DOMAIN=squirrel.org vm_launch "$agent" "static:$aip/24" "$(overlay "$agent")"
  wait_ssh "$server"
  wait_ssh "$agent"
  phase_end "boot (two-host)"
  # Each machine knows the other by name, as the article's /etc/hosts has it.
  vm_quiet "$server" "echo '$aip cloud-agent.squirrel.org cloud-agent' >>/etc/hosts"
  vm_quiet "$agent" "echo '$sip cloud-server.squirrel.org cloud-server' >>/etc/hosts"
  vm_prepare_install "$server" "$LAB_RUN/squirrel-server.toml"
  vm_prepare_install "$agent" "$LAB_RUN/squirrel-agent.toml"
  phase_start "install (two-host: server, hand-off, zone)"
  require "$server" "cloudstrap install succeeds on the server" "$LAB_INSTALL"
  phase_end "install (two-host: server, hand-off, zone)"
  check "$server" "zone squirrel enabled with no host and no primary storage yet" \
    "cloudstrap api listZones >/root/zones.json && labcheck find-object /root/zones.json name=squirrel allocationstate=Enabled && cloudstrap api listStoragePools >/root/pools.0.json && labcheck no-object /root/pools.0.json path=/export/primary && cloudstrap api listHosts >/root/hosts.0.json && labcheck no-object /root/hosts.0.json ipaddress=$aip"
  phase_start "install (two-host: agent, registers itself)"
  require "$agent" "cloudstrap install succeeds on the agent" "$LAB_INSTALL"
  phase_end "install (two-host: agent, registers itself)"
  assert_services "$server" mariadb rpcbind nfs-server chrony cloudstack-management
  assert_storage "$server" "$sip"
  assert_storage "$agent" "$sip"
  assert_template "$server" "$sip"
  check "$server" "the agent's addHost: the server logged in to $aip over SSH and ran cloudstack-setup-agent there" \
    "grep -q 'addHost: $aip: cloudstack-setup-agent' /var/log/cloudstack/management/management-server.log"
  check "$server" "agent $aip registered with the management server (:8250)" \
    "labcheck json /var/lib/cloudstack/management/agents.json \"'$aip' in j\""
  check "$server" "host $aip Up in cluster squirrel-cluster" \
    "cloudstrap api listHosts type=Routing >/root/hosts.json && labcheck find-object /root/hosts.json ipaddress=$aip state=Up clustername=squirrel-cluster"
  check "$server" "primary storage added by the agent's registration" \
    "cloudstrap api listStoragePools >/root/pools.json && labcheck find-object /root/pools.json ipaddress=$sip path=/export/primary"
  assert_agent "$agent" "$sip"
  assert_services "$agent" chrony
  check "$agent" "a second install on the agent has nothing to do" "$LAB_INSTALL >/root/rerun.log 2>&1 && grep -q 'Nothing to do' /root/rerun.log"
}
