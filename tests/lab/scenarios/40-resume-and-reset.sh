# shellcheck shell=bash
# An all-in-one install killed mid-way (SIGKILL to cloudstrap and everything it started, once the cloud
# database exists) and run again: it must reach the same end state as the uninterrupted all-in-one scenario.
# Then `cloudstrap reset` (backup, fresh databases, management server restarted on them), and an install
# that must do the hand-off again on the fresh server (new API keys, zone deployed again).
scenario() {
  has_subcommand install || skip_scenario "cloudstrap has no 'install' subcommand on this branch yet"
  need_cloudstack_repo
  local m=cloud ip=$LAB_NET.10
  lab_profile "$LAB_SRC/profiles/all-in-one.toml" "$LAB_RUN/all-in-one.toml" \
    --sub "192.168.10.=>$LAB_NET." --sub "cloud.example.org=>cloud.lab.example"
  phase_start "boot (resume)"
  VM_HOSTNAME=cloud VM_DOMAIN=lab.example vm_start "$m" "static:$ip/24" "$(overlay "$m")"
  phase_end "boot (resume)"
  vm_prepare_install "$m" "$LAB_RUN/all-in-one.toml"

  phase_start "install killed mid-way"
  vm_quiet "$m" "setsid sh -c '$LAB_INSTALL' >/root/install-killed.log 2>&1 </dev/null & echo \$! >/root/install.pid"
  # Wait for the cloud database (the install is past packages and configuration, before hand-off), then kill.
  require "$m" "the first install reached the database setup" \
    'for i in $(seq 1 1200); do labsql -e "show databases" | grep -qx cloud && exit 0; kill -0 $(cat /root/install.pid) 2>/dev/null || exit 1; sleep 1; done; exit 1'
  check "$m" "the first install was still running when killed" 'kill -0 $(cat /root/install.pid)'
  vm_quiet "$m" 'kill -9 -- -$(cat /root/install.pid); sleep 1; pgrep -a cloudstrap; true'
  phase_end "install killed mid-way"

  phase_start "install resumed"
  require "$m" "the resumed install succeeds" "$LAB_INSTALL"
  phase_end "install resumed"
  assert_all_in_one "$m" "$ip"
  if [ -f "$LAB_RUN/all-in-one.portable" ]; then
    vm_ssh_raw "$m" labcheck state-digest --portable >"$LAB_RUN/resumed.portable" || true
    if diff "$LAB_RUN/all-in-one.portable" "$LAB_RUN/resumed.portable" >"$LAB_RUN/resume.diff"; then
      say "  ok   [$m] same end state as the uninterrupted install"
    else
      say "  FAIL [$m] end state differs from the uninterrupted install (see $LAB_RUN/resume.diff)"
      SCENARIO_FAILS=$((SCENARIO_FAILS + 1))
    fi
  else
    note "resume: no end state of an uninterrupted all-in-one install in this run to compare with (run all-in-one first)"
  fi

  has_subcommand reset || skip_scenario "cloudstrap has no 'reset' subcommand on this branch yet (the resume part passed its checks above)"
  vm_quiet "$m" 'cp /etc/cloudstrap/api.toml /root/api-before-reset.toml' || true
  phase_start "reset"
  require "$m" "cloudstrap reset succeeds" 'cloudstrap reset --yes'
  phase_end "reset"
  # reset = back up, drop and recreate both databases, set up and start the management server again.
  check "$m" "reset left a backup" 'test -n "$(ls -A /var/lib/cloudstrap/backups/*/)"'
  check "$m" "the recreated cloud database has the template row again" "$LAB_SQL 'select id from cloud.vm_template where id=3' | grep -qx 3"
  check "$m" "the management service runs on the fresh database" 'systemctl is-active --quiet cloudstack-management && labcheck wait-port 127.0.0.1 8080 120'
  check "$m" "the old API keys no longer work (fresh management server)" '! cloudstrap api listZones'
  phase_start "install after reset (fresh hand-off)"
  require "$m" "the install after reset succeeds" "$LAB_INSTALL"
  phase_end "install after reset (fresh hand-off)"
  assert_all_in_one "$m" "$ip"
  check "$m" "the hand-off made new API keys" '! cmp -s /root/api-before-reset.toml /etc/cloudstrap/api.toml'
  check "$m" "the API started from a fresh state for the new database" \
    'test $(grep -c "is new: the API starts from a fresh state" /var/log/cloudstack/management/management-server.log) -ge 2'
}
