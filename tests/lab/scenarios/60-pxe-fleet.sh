# shellcheck shell=bash
# A fleet installed over the network: the two-host scenario's management node (management, database, NFS)
# with the provisioning role and a [fleet] section naming kvm1 (BIOS) and kvm2 (UEFI). Its install sets up
# dnsmasq (DHCP for the listed MACs only, TFTP with Debian's iPXE loaders), nginx (boot scripts, the ISO,
# per-host profiles, one-shot secrets, install state). Then kvm1, kvm2 and a stranger (a MAC not listed)
# power on with empty disks, network boot first: each listed host boots the live installer from the node,
# installs onto its disk, reboots, is sent to its disk by its boot script, and its first boot registers it
# with the zone. The stranger gets no address and its disk stays empty.
# LAB_FLEET_HOSTS=1 boots kvm1 only (one host's time, to compare with two in parallel).

# What the lead's code prints and names, in one place: `cloudstrap fleet status --format json` keys and
# values (find-object compares Python's str() of the JSON value), the console line of a finished install,
# nginx's access logs on the node.
FLEET_STATUS_UP=(netboot=True installed=True registered=True state=Up)
FLEET_STATUS_REINSTALL=(installed=False)
FLEET_INSTALLED_TEXT="cloudstrap: installed"
FLEET_ACCESS_LOGS="/var/log/nginx/cloudstrap-fleet.log"
FLEET_TREE=/srv/cloudstrap/fleet
FLEET_PORT=8090
# The node was installed with the lab's profile (its secrets in lab.env and files beside it).
FLEET_CMD="set -a; . /root/lab.env; set +a; cloudstrap fleet"
FLEET_PROFILE="--profile /root/lab.toml"
FLEET_REINSTALL="$FLEET_CMD reinstall $FLEET_PROFILE"

# fleet_profile OUT HOST...: the node's profile (10.77.0.4): squirrel-server on the lab network, with the
# provisioning role and a [fleet] section; each HOST is NAME,MAC,ADDRESS
fleet_profile() {
  local out=$1 h name mac addr; shift
  lab_profile "$LAB_SRC/profiles/squirrel-server.toml" "$out" \
    --sub 'release = "3.0.2"=>release = "4.22"' --sub 'platform = "el6"=>platform = "debian-12"' \
    --sub 'server = "mysql"=>server = "mariadb"' --sub "192.168.1.=>$LAB_NET." --drop zone.hosts \
    --set 'host.roles=["management", "database", "nfs", "provisioning"]'
  cat >>"$out" <<E

[fleet]
interface = "eth0"
subnet = "$LAB_NET.0/24"
dhcp = "server"
media = "/var/lib/cloudstrap/cloudstrap.iso"
http-port = $FLEET_PORT
root-password-file = "secrets/fleet-root"

[fleet.defaults]
roles = ["kvm-agent"]
interface = "ens3"
disk = "serial:target0"
ssh-keys = ["$(cat "$BASE_DIR/id_ed25519.pub")"]
E
  for h in "$@"; do
    IFS=, read -r name mac addr <<<"$h"
    printf '\n[[fleet.hosts]]\nname = "%s"\nmac = "%s"\naddress = "%s"\n' "$name" "$mac" "$addr" >>"$out"
  done
}

# fleet_count NODE IP PATH: how many GETs of PATH from IP the node's nginx logged
fleet_count() {
  vm_ssh_raw "$1" "cat $FLEET_ACCESS_LOGS 2>/dev/null | grep -c '^$2 .*\"GET $3 '" 2>/dev/null || true
}

# fleet_host_up NODE IP: the host is Up in the node's zone
fleet_host_up() {
  vm_quiet "$1" "cloudstrap api listHosts type=Routing >/root/hosts.json && labcheck find-object /root/hosts.json ipaddress=$2 state=Up"
}

fail_host() {   # fail_host WHAT: a failed assertion made on the host side
  say "  FAIL [host] $*"; SCENARIO_FAILS=$((SCENARIO_FAILS + 1))
}

scenario() {
  has_subcommand fleet status || skip_scenario "cloudstrap has no 'fleet' subcommand on this branch yet"
  has_subcommand media build || skip_scenario "cloudstrap has no 'media build' subcommand on this branch yet"
  need_cloudstack_repo
  lab_iso
  # The node's dnsmasq must be the only DHCP server on the bridge.
  dhcp_down
  local node=cloud-server nip=$LAB_NET.4 hosts=(kvm1 kvm2) h ip dash t0 stranger=stranger
  local smac=52:54:00:4c:ad:99
  declare -A hip=([kvm1]=$LAB_NET.21 [kvm2]=$LAB_NET.22) hmac=([kvm1]=52:54:00:4c:ad:21 [kvm2]=52:54:00:4c:ad:22)
  declare -A hfw=([kvm1]=bios [kvm2]=uefi)
  [ "${LAB_FLEET_HOSTS:-2}" = 1 ] && hosts=(kvm1)
  local spec=()
  for h in "${hosts[@]}"; do spec+=("$h,${hmac[$h]},${hip[$h]}"); done
  fleet_profile "$LAB_RUN/fleet-node.toml" "${spec[@]}"
  local base="http://$nip:$FLEET_PORT"

  phase_start "boot (pxe-fleet node)"
  VM_HOSTNAME=$node VM_DOMAIN=squirrel.org vm_start "$node" "static:$nip/24" "$(overlay "$node")"
  phase_end "boot (pxe-fleet node)"
  vm_prepare_install "$node" "$LAB_RUN/fleet-node.toml"
  vm_quiet "$node" "install -d -m 0700 /root/secrets && umask 077 && echo lab-fleet-root-1 >/root/secrets/fleet-root"
  phase_start "pxe-fleet: the ISO to the node"
  vm_quiet "$node" 'mkdir -p /var/lib/cloudstrap' || die "$node: mkdir /var/lib/cloudstrap failed"
  vm_put "$node" "$LAB_ISO" /var/lib/cloudstrap/cloudstrap.iso || die "$node: copying the ISO failed"
  phase_end "pxe-fleet: the ISO to the node" "$(du -m "$LAB_ISO" | cut -f1) MiB"
  phase_start "install (pxe-fleet node: server, zone, provisioning)"
  require "$node" "cloudstrap install succeeds on the node (management, database, nfs, provisioning)" "$LAB_INSTALL"
  phase_end "install (pxe-fleet node: server, zone, provisioning)"

  assert_services "$node" mariadb nfs-server cloudstack-management dnsmasq nginx
  check "$node" "the generic boot script and the media are served" \
    "labcheck http-status $base/boot.ipxe GET 200 && labcheck http-status $base/media/vmlinuz HEAD 200 && labcheck http-status $base/media/initrd.img HEAD 200 && labcheck http-status $base/media/cloudstrap.iso HEAD 200"
  for h in "${hosts[@]}"; do
    dash=${hmac[$h]//:/-}
    check "$node" "$h: boot script and profile served, not installed yet" \
      "labcheck http-status $base/hosts/$dash/boot.ipxe GET 200 && labcheck http-status $base/hosts/$dash/profile.toml GET 200 && labcheck http-status $base/state/$dash/installed GET 404"
    check "$node" "$h: its secrets are refused to the node's own address (403)" \
      "labcheck http-status $base/secrets/$dash/root-password GET 403 && labcheck http-status $base/secrets/$dash/api-secret-key GET 403"
    if lab_http_status "$base/secrets/$dash/root-password" | grep -qx 403; then say "  ok   [host] $h: its secrets are refused to $LAB_HOST_IP (403)"
    else fail_host "$h: GET of its secret from $LAB_HOST_IP answered $(lab_http_status "$base/secrets/$dash/root-password"), not 403"; fi
  done
  # Every secret value the node holds (the hosts' one-shot files, its own passwords), for the grep below.
  # (Secret files end without a newline; the node's own are the passwords its profile names.)
  vm_quiet "$node" "umask 077; { for f in $FLEET_TREE/secrets/*/* /root/secrets/fleet-root; do cat \"\$f\"; echo; done; sed -n 's/^SQUIRREL_\\(DB_ROOT\\|DB_CLOUD\\|ADMIN\\)_PASSWORD=//p' /root/lab.env; } | grep -v '^\$' | sort -u >/root/secret-values"
  check "$node" "the node holds the hosts' secrets to hand out, and the fleet's root password among them" \
    "grep -qx lab-fleet-root-1 /root/secret-values && test \$(wc -l </root/secret-values) -ge 5"

  # Power on: network boot first, empty disks; the stranger's MAC is in no list.
  qemu-img create -q -f qcow2 "$LAB_RUN/empty.qcow2" 20G
  for h in "${hosts[@]}" "$stranger"; do qemu-img create -q -f qcow2 "$LAB_RUN/$h.qcow2" 20G; done
  t0=$SECONDS
  for h in "${hosts[@]}"; do
    phase_start "pxe-fleet: $h power-on to installed"
    phase_start "pxe-fleet: $h power-on to Up"
    vm_launch_netboot "$h" "${hip[$h]}" "${hmac[$h]}" "$LAB_RUN/$h.qcow2" "${hfw[$h]}"
  done
  VM_SMP=1 VM_MEM=512 vm_launch_netboot "$stranger" "" "$smac" "$LAB_RUN/$stranger.qcow2" bios

  # Each host: installed (its console), then Up in the zone (the node's API); both move on side by side.
  declare -A stage=() at_inst=() at_up=()
  local pending=${#hosts[@]} deadline=$((SECONDS + ${LAB_FLEET_TIMEOUT:-2700}))
  while ((pending > 0 && SECONDS < deadline)); do
    for h in "${hosts[@]}"; do
      case ${stage[$h]:-0} in
        0)
          kill -0 "${VM_PID[$h]}" 2>/dev/null || { tail -30 "$LAB_RUN/$h.serial" >&2; die "$h: qemu exited"; }
          if grep -aqF -- "$FLEET_INSTALLED_TEXT" "$LAB_RUN/$h.serial"; then
            stage[$h]=1; at_inst[$h]=$((SECONDS - t0)); phase_end "pxe-fleet: $h power-on to installed" "${at_inst[$h]} s"
          fi ;;
        1)
          if fleet_host_up "$node" "${hip[$h]}"; then
            stage[$h]=2; at_up[$h]=$((SECONDS - t0)); pending=$((pending - 1))
            phase_end "pxe-fleet: $h power-on to Up" "${at_up[$h]} s (installed at ${at_inst[$h]} s, ${hfw[$h]})"
          fi ;;
      esac
    done
    sleep 5
  done
  for h in "${hosts[@]}"; do
    case ${stage[$h]:-0} in
      0) tail -30 "$LAB_RUN/$h.serial" >&2; die "$h: not installed $((SECONDS - t0)) s after power-on" ;;
      1) tail -30 "$LAB_RUN/$h.serial" >&2
         vm_ssh_raw "$h" 'tail -40 /var/log/cloudstrap/firstboot.log' >&2 2>/dev/null || true
         die "$h: installed but not Up $((SECONDS - t0)) s after power-on" ;;
    esac
  done
  local slowest=0
  for h in "${hosts[@]}"; do ((at_up[$h] > slowest)) && slowest=${at_up[$h]}; done
  note "pxe-fleet: ${#hosts[@]} host(s) network-installed and Up ${slowest} s after power-on ($(for h in "${hosts[@]}"; do printf '%s %s s; ' "$h" "${at_up[$h]}"; done))"

  # The stranger: no address, no request, nothing written.
  kill "${VM_PID[$stranger]}" 2>/dev/null; sleep 2
  local what="the stranger ($smac) was given nothing: its disk is still empty (qemu-img compare)"
  if qemu-img compare -q "$LAB_RUN/empty.qcow2" "$LAB_RUN/$stranger.qcow2"; then say "  ok   [$stranger] $what"; else fail_host "$what"; fi
  check "$node" "the stranger asked nginx for nothing" "! cat $FLEET_ACCESS_LOGS | grep -qi '${smac//:/-}'"
  check "$node" "dnsmasq answered the stranger nothing (only 'ignored' lines, no lease)" \
    "! journalctl -q -u dnsmasq | grep -i '$smac' | grep -qv ignored && ! grep -qis '$smac' /var/lib/misc/dnsmasq.leases"

  for h in "${hosts[@]}"; do
    ip=${hip[$h]} dash=${hmac[$h]//:/-}
    wait_ssh "$h"
    vm_install_cloudstrap_helpers "$h"
    local n_iso n_boot
    n_iso=$(fleet_count "$node" "$ip" /media/cloudstrap.iso); n_boot=$(fleet_count "$node" "$ip" "/hosts/$dash/boot.ipxe")
    what="$h fetched the ISO once (${n_iso:-?}) and its boot script at least twice (${n_boot:-?}): the second boot went to its disk"
    if [ "${n_iso:-0}" = 1 ] && [ "${n_boot:-0}" -ge 2 ]; then say "  ok   [$node] $what"; else fail_host "$what"; fi
    check "$h" "it runs from its disk, under ${hfw[$h]}" \
      "findmnt -n -o SOURCE / | grep -q '^/dev/vda' && $( [ "${hfw[$h]}" = uefi ] && echo 'test -d /sys/firmware/efi' || echo '! test -d /sys/firmware/efi')"
    check "$h" "its address and name are the fleet's" "ip -4 addr show ens3 | grep -q ' $ip/24' && test \"\$(hostname -f)\" = $h.squirrel.org"
    what="$h: the lab key logs in (fleet.defaults.ssh-keys) and the first boot finished"
    if wait_firstboot "$h"; then say "  ok   [$h] $what"; else fail_host "$what"; fi
    assert_agent "$h" "$nip"
    check "$h" "its one-shot secrets are gone from the node (404 to its own address)" \
      "labcheck http-status $base/secrets/$dash/root-password GET 404 && labcheck http-status $base/secrets/$dash/api-secret-key GET 404"
    check "$node" "$h is Up in squirrel-cluster" \
      "cloudstrap api listHosts type=Routing >/root/hosts.json && labcheck find-object /root/hosts.json ipaddress=$ip state=Up clustername=squirrel-cluster"
    check "$node" "$h: installed (GET /state/$dash/installed answers 200)" "labcheck http-status $base/state/$dash/installed GET 200"
  done
  check "$node" "no secret value in any served boot script, profile or state file" \
    "! grep -rqF -f /root/secret-values --exclude-dir=secrets --exclude-dir=media $FLEET_TREE"
  check "$node" "the node's primary storage was added once a host was Up" \
    "cloudstrap api listStoragePools >/root/pools.json && labcheck find-object /root/pools.json ipaddress=$nip path=/export/primary"

  vm_quiet "$node" "$FLEET_CMD status $FLEET_PROFILE --format json >/root/fleet.json"
  for h in "${hosts[@]}"; do
    check "$node" "fleet status: $h ${FLEET_STATUS_UP[*]}" "labcheck find-object /root/fleet.json name=$h ${FLEET_STATUS_UP[*]}"
  done

  # Reinstall: the next network boot of kvm1 would install it again (it is not rebooted here).
  dash=${hmac[kvm1]//:/-}
  require "$node" "cloudstrap fleet reinstall kvm1 succeeds" "$FLEET_REINSTALL kvm1"
  check "$node" "kvm1's install state is gone (GET /state/$dash/installed: 404)" "labcheck http-status $base/state/$dash/installed GET 404"
  if lab_http_status "$base/state/$dash/installed" | grep -qx 404; then say "  ok   [host] kvm1's install state answers 404 to $LAB_HOST_IP too"
  else fail_host "GET /state/$dash/installed from $LAB_HOST_IP did not answer 404"; fi
  check "$node" "fleet status: kvm1 ${FLEET_STATUS_REINSTALL[*]}" \
    "$FLEET_CMD status $FLEET_PROFILE --format json >/root/fleet.2.json && labcheck find-object /root/fleet.2.json name=kvm1 ${FLEET_STATUS_REINSTALL[*]}"
  check "$node" "no secret value in the tree after the reinstall either" \
    "! grep -rqF -f /root/secret-values --exclude-dir=secrets --exclude-dir=media $FLEET_TREE"
}
