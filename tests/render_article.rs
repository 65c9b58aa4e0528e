//! The seed article's two CentOS 6.2 hosts (CloudStack 3.0.2): every line the article prescribes for
//! iptables, /etc/sysconfig/nfs, /etc/exports, idmapd.conf, ntp.conf and my.cnf is in the rendered files
//! (merged with stock EL6 files), with the exports scoped to the storage network and `insecure` added (its Q6),
//! and the NFS rules at the top of INPUT (its Q5).

mod render_common;

use std::collections::BTreeMap;

use cloudstrap::platform::PlatformId;
use render_common::*;

/// The management host, from this suite's fixture and from the shipped profiles/squirrel-server.toml.
fn servers() -> Vec<BTreeMap<String, String>> {
    vec![
        tree(&load_fixture("squirrel-server.toml"), PlatformId::El6),
        tree(&load_shipped("squirrel-server.toml"), PlatformId::El6),
    ]
}

fn agents() -> Vec<BTreeMap<String, String>> {
    vec![
        tree(&load_fixture("squirrel-agent.toml"), PlatformId::El6),
        tree(&load_shipped("squirrel-agent.toml"), PlatformId::El6),
    ]
}

fn active_lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

#[test]
fn iptables_has_every_nfs_rule_of_the_article_at_the_top_of_input() {
    for t in servers() {
        let rules = active_lines(&t["etc/sysconfig/iptables"]);
        let article = [
            "-A INPUT -m state --state NEW -p udp --dport 111 -j ACCEPT",
            "-A INPUT -m state --state NEW -p tcp --dport 111 -j ACCEPT",
            "-A INPUT -m state --state NEW -p tcp --dport 2049 -j ACCEPT",
            "-A INPUT -m state --state NEW -p tcp --dport 32803 -j ACCEPT",
            "-A INPUT -m state --state NEW -p udp --dport 32769 -j ACCEPT",
            "-A INPUT -m state --state NEW -p tcp --dport 892 -j ACCEPT",
            "-A INPUT -m state --state NEW -p udp --dport 892 -j ACCEPT",
            "-A INPUT -m state --state NEW -p tcp --dport 875 -j ACCEPT",
            "-A INPUT -m state --state NEW -p udp --dport 875 -j ACCEPT",
            "-A INPUT -m state --state NEW -p tcp --dport 662 -j ACCEPT",
            "-A INPUT -m state --state NEW -p udp --dport 662 -j ACCEPT",
        ];
        let first_input = rules.iter().position(|l| l.starts_with("-A INPUT")).unwrap();
        let reject = rules.iter().position(|l| l.starts_with("-A INPUT") && l.contains("REJECT")).unwrap();
        let stock_first = rules.iter().position(|l| l.contains("ESTABLISHED,RELATED")).unwrap();
        for line in article {
            // Scoped to the storage network: the source goes right after the chain.
            let scoped = line.replacen("-A INPUT", "-A INPUT -s 192.168.1.0/24", 1);
            let at = rules.iter().position(|l| *l == scoped).unwrap_or_else(|| panic!("missing: {scoped}"));
            assert!(at >= first_input && at < stock_first && at < reject, "{scoped} is not at the top of INPUT");
        }
        // The management ports too, and nothing opened to the world.
        for port in ["8080", "8250", "8443", "9090"] {
            assert!(rules.contains(
                &format!("-A INPUT -s 192.168.1.0/24 -m state --state NEW -p tcp --dport {port} -j ACCEPT").as_str()
            ));
        }
        assert!(rules
            .iter()
            .filter(|l| l.starts_with("-A INPUT")
                && l.ends_with("-j ACCEPT")
                && l.contains("--dport")
                && !l.contains("--dport 22 "))
            .all(|l| l.contains(" -s ")));
        // The database is local to the management server: 3306 stays closed.
        assert!(!rules.iter().any(|l| l.contains("--dport 3306")));
    }
}

#[test]
fn sysconfig_nfs_sets_every_fixed_port() {
    for t in servers() {
        let lines = active_lines(&t["etc/sysconfig/nfs"]);
        for l in [
            "LOCKD_TCPPORT=32803",
            "LOCKD_UDPPORT=32769",
            "MOUNTD_PORT=892",
            "RQUOTAD_PORT=875",
            "STATD_PORT=662",
            "STATD_OUTGOING_PORT=2020",
        ] {
            assert_eq!(lines.iter().filter(|x| **x == l).count(), 1, "{l}");
        }
    }
}

#[test]
fn exports_are_scoped_and_insecure() {
    for t in servers() {
        let lines = active_lines(&t["etc/exports"]);
        assert_eq!(lines.len(), 2, "{lines:?}");
        for (line, path) in lines.iter().zip(["/export/primary", "/export/secondary"]) {
            let (p, rest) = line.split_once(' ').unwrap();
            assert_eq!(p, path);
            let (client, opts) = rest.trim().split_once('(').unwrap();
            assert_eq!(client, "192.168.1.0/24", "not scoped to the storage network: {line}");
            let opts: Vec<&str> = opts.trim_end_matches(')').split(',').collect();
            // The article's rw,async,no_root_squash plus insecure (Q6) and no_subtree_check.
            for o in ["rw", "async", "no_root_squash", "insecure", "no_subtree_check"] {
                assert!(opts.contains(&o), "{o} missing: {line}");
            }
        }
    }
}

#[test]
fn idmapd_and_ntp_on_both_hosts() {
    for t in servers().into_iter().chain(agents()) {
        let idmapd = &t["etc/idmapd.conf"];
        let general = idmapd.split("[Mapping]").next().unwrap();
        assert!(active_lines(general).contains(&"Domain = squirrel.org"), "{idmapd}");
        let ntp = active_lines(&t["etc/ntp.conf"]);
        for i in 0..4 {
            let want = format!("server {i}.xenserver.pool.ntp.org");
            assert!(ntp.contains(&want.as_str()), "{want}");
        }
        assert!(active_lines(&t["etc/selinux/config"]).contains(&"SELINUX=permissive"));
    }
}

/// The value of a key in the last `[mysqld]` group setting it (dashes and underscores are the same).
fn mysqld_value(cnf: &str, key: &str) -> Option<String> {
    let norm = |k: &str| k.trim().replace('-', "_");
    let mut in_mysqld = false;
    let mut found = None;
    for l in active_lines(cnf) {
        if l.starts_with('[') {
            in_mysqld = l == "[mysqld]";
        } else if in_mysqld {
            if let Some((k, v)) = l.split_once('=') {
                if norm(k) == norm(key) {
                    found = Some(v.trim().trim_matches('\'').to_string());
                }
            }
        }
    }
    found
}

#[test]
fn my_cnf_has_every_setting_of_the_article() {
    for t in servers() {
        let cnf = &t["etc/my.cnf"];
        // The article's lines, `binlog-format = 'ROW'` included, compared as MySQL reads them.
        for (k, v) in [
            ("innodb_rollback_on_timeout", "1"),
            ("innodb_lock_wait_timeout", "600"),
            ("max_connections", "350"),
            ("log-bin", "mysql-bin"),
            ("binlog-format", "ROW"),
        ] {
            assert_eq!(mysqld_value(cnf, k).as_deref(), Some(v), "{k} in {cnf}");
        }
        let id = mysqld_value(cnf, "server_id").expect("server_id");
        assert!(id.parse::<u32>().is_ok(), "server_id must be an integer: {id}");
        assert_eq!(mysqld_value(cnf, "bind-address"), None, "local database: no bind-address");
        // The user's own settings stay.
        assert_eq!(mysqld_value(cnf, "datadir").as_deref(), Some("/var/lib/mysql"));
    }
}

#[test]
fn hosts_resolve_the_fqdn_first() {
    for t in servers() {
        let lines = active_lines(&t["etc/hosts"]);
        assert_eq!(lines[0], "192.168.1.4 cloud-server.squirrel.org cloud-server");
        assert!(active_lines(&t["etc/sysconfig/network"]).contains(&"HOSTNAME=cloud-server.squirrel.org"));
    }
    for t in agents() {
        assert_eq!(active_lines(&t["etc/hosts"])[0], "192.168.1.5 cloud-agent.squirrel.org cloud-agent");
        assert!(active_lines(&t["etc/sysconfig/network"]).contains(&"HOSTNAME=cloud-agent.squirrel.org"));
    }
}

#[test]
fn agent_uses_3_0_2_paths_and_talks_to_the_server() {
    for t in agents() {
        let props = active_lines(&t["etc/cloud/agent/agent.properties"]);
        assert!(props.contains(&"host=192.168.1.4") && props.contains(&"port=8250"), "{props:?}");
        assert!(!t.contains_key("etc/sudoers.d/cloudstrap"), "separate hosts: no sudoers change");
    }
    // Article Q3: the host address on a bridge built from ifcfg files (the fixture sets configure-bridges;
    // the shipped profile leaves the network alone).
    let [fixture, shipped] = <[_; 2]>::try_from(agents()).unwrap();
    assert!(fixture["etc/sysconfig/network-scripts/ifcfg-cloudbr0"].contains("IPADDR=192.168.1.5\n"));
    assert!(fixture["etc/sysconfig/network-scripts/ifcfg-eth0"].contains("BRIDGE=cloudbr0\n"));
    assert!(!shipped.keys().any(|k| k.contains("ifcfg-")));
}
