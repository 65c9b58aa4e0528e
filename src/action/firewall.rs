//! Apply the rendered firewall configuration to the running system.
//! - iptables (EL6 /etc/sysconfig/iptables, Debian rules.v4, Ubuntu ufw's before.rules): the rendered file
//!   holds our rules as a managed block at the top of a chain, ahead of any REJECT/DROP; it is loaded with
//!   `iptables-restore` (fed on stdin, so the file is read where the action's root is).
//! - firewalld (EL8/EL9): the rendered policy file, then `firewall-cmd --reload`.
//!
//! Done means: this exact file content was applied (a stamp), and for iptables every rule of our block is
//! live (`iptables -C`) and ahead of the chain's first REJECT/DROP.

use std::path::PathBuf;

use super::undo::Undo;
use super::{stamp, Action, ActionError, Ctx, Record};

/// Marker lines of a managed block (the same as the renderer's).
pub const BLOCK_BEGIN: &str = "# BEGIN cloudstrap managed block";
pub const BLOCK_END: &str = "# END cloudstrap managed block";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `iptables-restore` of `file`; our rules are the `-A <chain>` lines of its managed block.
    IptablesFile { file: PathBuf, chain: String },
    /// Run `argv` (e.g. `firewall-cmd --reload`) after `file` changed.
    Reload { file: PathBuf, argv: Vec<String> },
}

pub struct ApplyFirewall {
    pub backend: Backend,
}

/// The `-A CHAIN ...` lines inside the managed block of an iptables-restore file.
pub fn block_rules(text: &str, chain: &str) -> Vec<String> {
    let mut inside = false;
    let mut out = vec![];
    for l in text.lines() {
        let t = l.trim();
        if t == BLOCK_BEGIN {
            inside = true;
        } else if t == BLOCK_END {
            inside = false;
        } else if inside && t.starts_with(&format!("-A {chain} ")) {
            out.push(t.to_string());
        }
    }
    out
}

/// (source, protocol, port) of a rule line, the parts that identify it across iptables' rewriting.
fn key_of(rule: &str) -> (Option<String>, Option<String>, Option<String>) {
    let w: Vec<&str> = rule.split_whitespace().collect();
    let after = |flag: &str| w.iter().position(|x| *x == flag).and_then(|i| w.get(i + 1)).map(|s| s.to_string());
    let src = after("-s").map(|s| s.parse::<ipnet::IpNet>().map(|n| n.trunc().to_string()).unwrap_or(s));
    (src, after("-p"), after("--dport"))
}

impl ApplyFirewall {
    fn file(&self) -> &PathBuf {
        match &self.backend {
            Backend::IptablesFile { file, .. } | Backend::Reload { file, .. } => file,
        }
    }

    fn stamp_fresh(&self, ctx: &Ctx) -> bool {
        stamp::read(ctx, "firewall").as_deref() == Some(stamp::files_digest(ctx, std::slice::from_ref(self.file())).as_str())
    }

    /// Every rule of our block is live and ahead of the chain's first REJECT or DROP.
    fn rules_live(&self, ctx: &Ctx, chain: &str) -> Result<Result<(), String>, ActionError> {
        let text = std::fs::read_to_string(ctx.path(self.file())).map_err(|e| ActionError::io(ctx.path(self.file()), e))?;
        let rules = block_rules(&text, chain);
        for r in &rules {
            let args: Vec<String> = r.split_whitespace().skip(2).map(str::to_string).collect();
            if ctx.run(&ctx.cmd("iptables").args(["-w", "-C", chain]).args(args))?.status != 0 {
                return Ok(Err(format!("rule not live: {r}")));
            }
        }
        let live = ctx.run_ok(&ctx.cmd("iptables").args(["-w", "-S", chain]))?.stdout;
        let live: Vec<&str> = live.lines().filter(|l| l.starts_with("-A ")).collect();
        let first_block = live.iter().position(|l| l.contains("-j REJECT") || l.contains("-j DROP")).unwrap_or(live.len());
        for r in &rules {
            let k = key_of(r);
            if !live[..first_block].iter().any(|l| key_of(l) == k) {
                return Ok(Err(format!("rule comes after a REJECT/DROP in {chain}: {r}")));
            }
        }
        Ok(Ok(()))
    }
}

impl Action for ApplyFirewall {
    fn id(&self) -> String {
        format!("firewall:{}", self.file().display())
    }

    fn describe(&self) -> String {
        match &self.backend {
            Backend::IptablesFile { file, chain } => format!("Load the firewall rules of {} (iptables-restore; ours first in {chain})", file.display()),
            Backend::Reload { file, argv } => format!("Apply the firewall policy {} ({})", file.display(), argv.join(" ")),
        }
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        if !self.stamp_fresh(ctx) {
            return Ok(false);
        }
        match &self.backend {
            Backend::IptablesFile { chain, .. } => Ok(self.rules_live(ctx, chain)?.is_ok()),
            Backend::Reload { .. } => Ok(true),
        }
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.undo = vec![Undo::Stamp { name: "firewall".into() }];
        match &self.backend {
            Backend::IptablesFile { file, chain } => {
                // Our block's rules as they are loaded now: the ones to delete from the running firewall.
                let text = std::fs::read_to_string(ctx.path(file)).map_err(|e| ActionError::io(ctx.path(file), e))?;
                record.undo.push(Undo::IptablesRules { chain: chain.clone(), rules: block_rules(&text, chain) });
            }
            // Run once the policy file is back (uninstall runs reloads last).
            Backend::Reload { argv, .. } => record.undo.push(Undo::Reload { argv: argv.clone() }),
        }
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        match &self.backend {
            Backend::IptablesFile { file, .. } => {
                let text = std::fs::read(ctx.path(file)).map_err(|e| ActionError::io(ctx.path(file), e))?;
                ctx.run_ok(&ctx.cmd("iptables-restore").arg("-w").stdin_bytes(text))?;
            }
            Backend::Reload { argv, .. } => {
                let (prog, args) = argv.split_first().ok_or_else(|| ActionError::Failed("empty firewall reload command".into()))?;
                ctx.run_ok(&ctx.cmd(prog.clone()).args(args.iter().cloned()))?;
            }
        }
        stamp::write(ctx, "firewall", &stamp::files_digest(ctx, std::slice::from_ref(self.file())))
    }

    fn verify(&self, ctx: &Ctx) -> Result<(), ActionError> {
        if let Backend::IptablesFile { chain, .. } = &self.backend {
            if let Err(why) = self.rules_live(ctx, chain)? {
                return Err(ActionError::Failed(why));
            }
        }
        Ok(())
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_rules_are_the_block_lines_of_the_chain() {
        let text = "*filter\n:INPUT ACCEPT [0:0]\n# BEGIN cloudstrap managed block\n# a comment\n-A INPUT -s 10.0.0.0/24 -p tcp --dport 2049 -j ACCEPT\n-A OTHER -j ACCEPT\n# END cloudstrap managed block\n-A INPUT -j REJECT\nCOMMIT\n";
        assert_eq!(block_rules(text, "INPUT"), vec!["-A INPUT -s 10.0.0.0/24 -p tcp --dport 2049 -j ACCEPT".to_string()]);
    }

    #[test]
    fn rules_match_across_iptables_rewriting() {
        // iptables -S adds "-m tcp", moves options and clears host bits; the identity stays.
        let file = "-A INPUT -s 192.168.1.4/24 -m state --state NEW -p tcp --dport 111 -j ACCEPT";
        let live = "-A INPUT -s 192.168.1.0/24 -p tcp -m state --state NEW -m tcp --dport 111 -j ACCEPT";
        assert_eq!(key_of(file), key_of(live));
        assert_ne!(key_of(file), key_of("-A INPUT -s 192.168.1.0/24 -p udp -m udp --dport 111 -j ACCEPT"));
    }
}
