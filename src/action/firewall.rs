//! Open the ports a role needs, ahead of any REJECT the host's firewall already has.
//! iptables: our rules live in their own chain, CLOUDSTRAP, jumped to from the first rule of INPUT and
//! loaded with `iptables-restore --noflush` (foreign rules are left alone); firewalld: rich rules;
//! ufw: `ufw allow`. Persistence across reboots is the rendered rules file (a `WriteFile`).

use super::{Action, ActionError, Ctx, Record};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Iptables,
    Firewalld,
    Ufw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// Accept `proto` on `port` ("2049" or a range "5900:6100") from `source` (a CIDR; None = anywhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub proto: Proto,
    pub port: String,
    pub source: Option<String>,
}

pub const CHAIN: &str = "CLOUDSTRAP";

pub struct ApplyFirewall {
    pub backend: Backend,
    pub rules: Vec<Rule>,
}

/// A CIDR as iptables prints it (host bits cleared: 192.168.1.4/24 -> 192.168.1.0/24).
fn canonical_source(s: &str) -> String {
    match s.parse::<ipnet::IpNet>() {
        Ok(n) => n.trunc().to_string(),
        Err(_) => match s.parse::<std::net::IpAddr>() {
            Ok(ip) if ip.is_ipv4() => format!("{ip}/32"),
            Ok(ip) => format!("{ip}/128"),
            Err(_) => s.to_string(),
        },
    }
}

impl ApplyFirewall {
    /// The chain exactly as `iptables -S CLOUDSTRAP` prints it once applied.
    pub fn iptables_chain(&self) -> String {
        let mut s = format!("-N {CHAIN}\n");
        for r in &self.rules {
            let src = r.source.as_deref().map(|c| format!("-s {} ", canonical_source(c))).unwrap_or_default();
            let p = r.proto.as_str();
            s.push_str(&format!("-A {CHAIN} {src}-p {p} -m {p} --dport {} -j ACCEPT\n", r.port));
        }
        s
    }

    /// Input for `iptables-restore --noflush`: declaring the chain empties it, then our rules and the jump.
    pub fn iptables_restore_input(&self) -> String {
        let mut s = format!("*filter\n:{CHAIN} - [0:0]\n");
        for l in self.iptables_chain().lines().skip(1) {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str(&format!("-I INPUT 1 -j {CHAIN}\nCOMMIT\n"));
        s
    }

    fn rich_rule(r: &Rule) -> String {
        let src = r.source.as_deref().map(|c| format!(" source address=\"{}\"", canonical_source(c))).unwrap_or_default();
        format!("rule family=\"ipv4\"{src} port port=\"{}\" protocol=\"{}\" accept", r.port.replace(':', "-"), r.proto.as_str())
    }

    fn ufw_args(r: &Rule) -> Vec<String> {
        let from = r.source.as_deref().map(canonical_source).unwrap_or_else(|| "any".into());
        ["allow", "from", &from, "to", "any", "port", &r.port, "proto", r.proto.as_str()].iter().map(|s| s.to_string()).collect()
    }

    fn firewall_cmd(&self, ctx: &Ctx) -> &'static str {
        if ctx.live {
            "firewall-cmd"
        } else {
            "firewall-offline-cmd"
        }
    }
}

impl Action for ApplyFirewall {
    fn id(&self) -> String {
        match self.backend {
            Backend::Iptables => "firewall:iptables".into(),
            Backend::Firewalld => "firewall:firewalld".into(),
            Backend::Ufw => "firewall:ufw".into(),
        }
    }

    fn describe(&self) -> String {
        let ports: Vec<String> = self.rules.iter().map(|r| format!("{}/{}", r.port, r.proto.as_str())).collect();
        let how = match self.backend {
            Backend::Iptables => "iptables, ahead of existing rules",
            Backend::Firewalld => "firewalld",
            Backend::Ufw => "ufw",
        };
        format!("Open ports {} ({how})", ports.join(" "))
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        match self.backend {
            Backend::Iptables => {
                let chain = ctx.run(&ctx.cmd("iptables").args(["-w", "-S", CHAIN]))?;
                let input = ctx.run_ok(&ctx.cmd("iptables").args(["-w", "-S", "INPUT"]))?;
                let jumps: Vec<&str> = input.stdout.lines().filter(|l| l.starts_with("-A INPUT")).collect();
                let first_is_ours = jumps.first() == Some(&format!("-A INPUT -j {CHAIN}").as_str());
                let once = jumps.iter().filter(|l| l.ends_with(&format!("-j {CHAIN}"))).count() == 1;
                Ok(chain.status == 0 && chain.stdout == self.iptables_chain() && first_is_ours && once)
            }
            Backend::Firewalld => {
                let out = ctx.run_ok(&ctx.cmd(self.firewall_cmd(ctx)).args(["--permanent", "--list-rich-rules"]))?;
                let have: Vec<&str> = out.stdout.lines().map(str::trim).collect();
                Ok(self.rules.iter().all(|r| have.contains(&Self::rich_rule(r).as_str())))
            }
            Backend::Ufw => {
                let out = ctx.run_ok(&ctx.cmd("ufw").args(["show", "added"]))?;
                Ok(self.rules.iter().all(|r| out.stdout.lines().any(|l| l.trim() == format!("ufw {}", Self::ufw_args(r).join(" ")))))
            }
        }
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        match self.backend {
            Backend::Iptables => {
                // Drop earlier jumps so exactly one, at the top, remains.
                for _ in 0..16 {
                    if ctx.run(&ctx.cmd("iptables").args(["-w", "-D", "INPUT", "-j", CHAIN]))?.status != 0 {
                        break;
                    }
                }
                ctx.run_ok(&ctx.cmd("iptables-restore").args(["-w", "--noflush"]).stdin_bytes(self.iptables_restore_input()))?;
            }
            Backend::Firewalld => {
                let fw = self.firewall_cmd(ctx);
                for r in &self.rules {
                    ctx.run_ok(&ctx.cmd(fw).arg("--permanent").arg(format!("--add-rich-rule={}", Self::rich_rule(r))))?;
                }
                if ctx.live {
                    ctx.run_ok(&ctx.cmd("firewall-cmd").arg("--reload"))?;
                }
            }
            Backend::Ufw => {
                for r in &self.rules {
                    ctx.run_ok(&ctx.cmd("ufw").args(Self::ufw_args(r)))?;
                }
            }
        }
        Ok(())
    }

    fn revert(&self, ctx: &Ctx, _record: &Record) -> Result<(), ActionError> {
        match self.backend {
            Backend::Iptables => {
                for _ in 0..16 {
                    if ctx.run(&ctx.cmd("iptables").args(["-w", "-D", "INPUT", "-j", CHAIN]))?.status != 0 {
                        break;
                    }
                }
                ctx.run(&ctx.cmd("iptables").args(["-w", "-F", CHAIN]))?;
                ctx.run(&ctx.cmd("iptables").args(["-w", "-X", CHAIN]))?;
            }
            Backend::Firewalld => {
                let fw = self.firewall_cmd(ctx);
                for r in &self.rules {
                    ctx.run(&ctx.cmd(fw).arg("--permanent").arg(format!("--remove-rich-rule={}", Self::rich_rule(r))))?;
                }
                if ctx.live {
                    ctx.run(&ctx.cmd("firewall-cmd").arg("--reload"))?;
                }
            }
            Backend::Ufw => {
                for r in &self.rules {
                    ctx.run(&ctx.cmd("ufw").arg("delete").args(Self::ufw_args(r)))?;
                }
            }
        }
        Ok(())
    }
}
