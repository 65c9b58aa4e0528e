# shellcheck shell=bash
# Preflight on a machine configured by DHCP with a bare host name (no domain): it must report both
# net.static-ip and net.fqdn. A second machine, static with an FQDN, is the control: the same checks pass.
# The control gets cloudstrap as an operator does, `apt install ./cloudstrap_*.deb`, on a machine with
# Debian's standard man-db and bash-completion: its preflight, man page and bash completion must work, and
# the .rpm must hold the same files.
scenario() {
  has_subcommand preflight || skip_scenario "cloudstrap has no 'preflight' subcommand on this branch yet"
  dhcp_up
  phase_start "boot (preflight)"
  VM_HOSTNAME=bare VM_DOMAIN='' vm_launch bare dhcp "$(overlay bare)"
  VM_HOSTNAME=good VM_DOMAIN=lab.example vm_launch good "static:$LAB_NET.31/24" "$(overlay good)"
  wait_ssh bare
  wait_ssh good
  phase_end "boot (preflight)"
  vm_install_cloudstrap bare
  phase_start "apt install ./cloudstrap.deb"
  vm_put good "$LAB_DEB" /root/
  vm_put good "$LAB_DIR/guest/labcheck" /usr/local/bin/labcheck
  # The snapshot has man-db and bash-completion as a standard Debian 12 install does; for speed it leaves out
  # /usr/share/doc and /usr/share/man (dpkg path-exclude) and does not update man-db's index. Here both are
  # put back as on a standard install.
  require good "dpkg keeps documentation and man-db indexes new pages, as on a standard install" \
    "sed -i '/^path-\(ex\|in\)clude=/d' /etc/dpkg/dpkg.cfg.d/01-lab && touch /var/lib/man-db/auto-update && dpkg -s man-db bash-completion >/dev/null"
  require good "apt install ./$(basename "$LAB_DEB") puts cloudstrap on the PATH" \
    "cd /root && DEBIAN_FRONTEND=noninteractive apt install -y -q ./$(basename "$LAB_DEB") && [ \"\$(command -v cloudstrap)\" = /usr/bin/cloudstrap ]"
  phase_end "apt install ./cloudstrap.deb"
  local m
  for m in bare good; do
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

  # The package as installed: man pages, completion, the rpm's file list.
  # man writes to stdout without a pager when stdout is not a terminal.
  check good "man cloudstrap-install opens the page from the package" \
    'man -w cloudstrap-install | grep -qx /usr/share/man/man1/cloudstrap-install.1.gz && MANWIDTH=200 man cloudstrap-install | grep -q "^ *cloudstrap-install - Install this host" && MANWIDTH=200 man cloudstrap-install | grep -q -- "--dry-run"'
  check good "whatis finds cloudstrap-zone-deploy (man-db indexed the pages when the package was installed)" \
    'whatis cloudstrap-zone-deploy | grep -q "^cloudstrap-zone-deploy (1)"'
  check good "the profile schema is where saved profiles' #:schema line points" \
    'python3 -c "import json,sys; json.load(open(sys.argv[1]))" /usr/share/doc/cloudstrap/profile.schema.json'
  check good "bash completes 'cloudstrap ins<TAB>' to install (bash-completion loads the script on demand)" \
    'labcheck bash-complete "cloudstrap ins" install'
  check good "bash completes 'cloudstrap zone deploy --pro<TAB>' to --profile" \
    'labcheck bash-complete "cloudstrap zone deploy --pro" --profile'
  # rpm -qlp on the host (the machines have no rpm); regular files only, zsh's function directory mapped to
  # Debian's (EL's zsh reads site-functions, Debian's vendor-completions).
  rpm -qlvp --nosignature "$LAB_RPM" | awk '$1 ~ /^-/ {print $NF}' \
    | sed 's|^/usr/share/zsh/site-functions/|/usr/share/zsh/vendor-completions/|' | sort >"$LAB_RUN/rpm-files"
  vm_put good "$LAB_RUN/rpm-files" /root/rpm-files
  check good "rpm -qlp $(basename "$LAB_RPM") lists the files dpkg installed ($(wc -l <"$LAB_RUN/rpm-files") files)" \
    'dpkg -L cloudstrap | while read -r p; do [ -f "$p" ] && echo "$p"; done | sort >/root/deb-files; diff /root/rpm-files /root/deb-files && [ -s /root/deb-files ]'
}
