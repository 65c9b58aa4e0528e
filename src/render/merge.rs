//! Combining a rendered file with what is already on the host, so the user's own lines survive.
//!
//! - `Whole`: the file is ours; the rendered content replaces it.
//! - `ManagedBlock`: our lines sit between `# BEGIN cloudstrap managed block` and
//!   `# END cloudstrap managed block`. An existing block is replaced where it stands; otherwise the block
//!   is inserted at its placement (top of file after leading comments, end of file, or at the top of an
//!   iptables chain: before the first rule of the `*filter` table, after the chain policy lines, so it
//!   precedes any REJECT/DROP). Nothing outside the block changes.
//! - `Keys`: the rendered content lists `key=value` lines, optionally under `[section]` headers (INI files
//!   such as idmapd.conf or nfs.conf). Each key is set in place: every active line for that key in its
//!   section is rewritten; a missing key goes right after its commented-out default (`#KEY=...`) when there
//!   is one, else at the end of its section (the section is appended when missing). A line we add or
//!   change gets a `# set by cloudstrap` comment above it (one comment for a run of such lines); a key that already has our value is left
//!   untouched, so re-running changes nothing. All other lines stay as they are.

use super::{FileKind, Placement, RenderedFile};

pub const BEGIN: &str = "# BEGIN cloudstrap managed block";
pub const END: &str = "# END cloudstrap managed block";
pub const KEY_MARK: &str = "# set by cloudstrap";

/// The file's final content: `existing` (None when the file does not exist) combined with `file`.
pub fn merge(existing: Option<&str>, file: &RenderedFile) -> String {
    match &file.kind {
        FileKind::Whole => file.content.clone(),
        FileKind::ManagedBlock(placement) => merge_block(existing, &file.content, placement),
        FileKind::Keys => merge_keys(existing.unwrap_or(""), &file.content),
    }
}

fn lines_of(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn join(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

fn block_lines(body: &str) -> Vec<String> {
    let mut v = vec![BEGIN.to_string()];
    v.extend(lines_of(body));
    v.push(END.to_string());
    v
}

fn merge_block(existing: Option<&str>, body: &str, placement: &Placement) -> String {
    let block = block_lines(body);
    let Some(text) = existing else {
        return fresh_block_file(block, placement);
    };
    let mut lines = lines_of(text);
    let begin = lines.iter().position(|l| l.trim_end() == BEGIN);
    let end = begin.and_then(|b| lines[b..].iter().position(|l| l.trim_end() == END).map(|e| b + e));
    match (begin, end) {
        (Some(b), Some(e)) => {
            lines.splice(b..=e, block);
            return join(&lines);
        }
        // A BEGIN without its END (hand-edited): drop the stray marker, keep every other line.
        (Some(b), None) => {
            lines.remove(b);
        }
        _ => {}
    }
    let at = match placement {
        Placement::Top => lines.iter().position(|l| !is_comment_or_blank(l)).unwrap_or(lines.len()),
        Placement::End => lines.len(),
        Placement::IptablesChain(chain) => match iptables_insert_at(&lines) {
            // Keep a comment that introduces the first rule with that rule.
            Some(mut i) => {
                while i > 0 && lines[i - 1].trim_start().starts_with('#') && lines[i - 1].trim() != "*filter" {
                    i -= 1;
                }
                i
            }
            None => {
                // No *filter table yet: append one holding the block.
                lines.extend(filter_table(chain, block));
                return join(&lines);
            }
        },
    };
    lines.splice(at..at, block);
    join(&lines)
}

fn is_comment_or_blank(l: &str) -> bool {
    let t = l.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// Index of the first rule of the `*filter` table (or its COMMIT when it has none).
fn iptables_insert_at(lines: &[String]) -> Option<usize> {
    let start = lines.iter().position(|l| l.trim() == "*filter")?;
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        let t = l.trim_start();
        if t.starts_with("-A ") || t.starts_with("-I ") || t == "COMMIT" || t.starts_with('*') {
            return Some(i);
        }
    }
    Some(lines.len())
}

fn filter_table(chain: &str, block: Vec<String>) -> Vec<String> {
    let mut v = vec!["*filter".to_string()];
    for c in ["INPUT", "FORWARD", "OUTPUT"] {
        v.push(format!(":{c} ACCEPT [0:0]"));
    }
    if !["INPUT", "FORWARD", "OUTPUT"].contains(&chain) {
        v.push(format!(":{chain} - [0:0]"));
    }
    v.extend(block);
    v.push("COMMIT".to_string());
    v
}

fn fresh_block_file(block: Vec<String>, placement: &Placement) -> String {
    match placement {
        Placement::IptablesChain(chain) => {
            let mut v =
                vec!["# managed by cloudstrap: rules between the markers are replaced on every run".to_string()];
            v.extend(filter_table(chain, block));
            join(&v)
        }
        _ => join(&block),
    }
}

/// One `key=value` line the rendered content asks for.
struct Wanted {
    section: Option<String>,
    key: String,
    line: String,
}

fn section_header(l: &str) -> Option<String> {
    let t = l.trim();
    (t.starts_with('[') && t.ends_with(']') && t.len() > 2).then(|| t[1..t.len() - 1].trim().to_ascii_lowercase())
}

/// The key of an active `key = value` line.
fn active_key(l: &str) -> Option<String> {
    let t = l.trim_start();
    if t.is_empty() || t.starts_with('#') || t.starts_with(';') || t.starts_with('[') {
        return None;
    }
    t.split_once('=').map(|(k, _)| k.trim().to_string())
}

/// The key of a commented-out default such as `#LOCKD_TCPPORT=32803` or `# Domain = localdomain`.
fn commented_key(l: &str) -> Option<String> {
    let t = l.trim_start();
    let rest = t.strip_prefix('#').or_else(|| t.strip_prefix(';'))?.trim_start();
    let (k, _) = rest.split_once('=')?;
    let k = k.trim();
    (!k.is_empty() && !k.contains(char::is_whitespace)).then(|| k.to_string())
}

fn wanted(content: &str) -> Vec<Wanted> {
    let mut section = None;
    let mut v = vec![];
    for l in content.lines() {
        if let Some(s) = section_header(l) {
            section = Some(s);
        } else if let Some(key) = active_key(l) {
            v.push(Wanted { section: section.clone(), key, line: l.trim().to_string() });
        }
    }
    v
}

/// Section of every line (None before the first header).
fn sections(lines: &[String]) -> Vec<Option<String>> {
    let mut cur = None;
    lines
        .iter()
        .map(|l| {
            if let Some(s) = section_header(l) {
                cur = Some(s);
            }
            cur.clone()
        })
        .collect()
}

fn merge_keys(existing: &str, content: &str) -> String {
    let mut lines = lines_of(existing);
    for w in wanted(content) {
        let secs = sections(&lines);
        let in_section = |i: usize| secs[i] == w.section && section_header(&lines[i]).is_none();
        let active: Vec<usize> =
            (0..lines.len()).filter(|&i| in_section(i) && active_key(&lines[i]).as_deref() == Some(&w.key)).collect();
        if !active.is_empty() {
            // Rewrite from the last so indices stay valid while marks are inserted.
            for &i in active.iter().rev() {
                if lines[i].trim() == w.line {
                    continue;
                }
                lines[i] = w.line.clone();
                if i == 0 || lines[i - 1].trim() != KEY_MARK {
                    lines.insert(i, KEY_MARK.to_string());
                }
            }
            continue;
        }
        let new = [KEY_MARK.to_string(), w.line.clone()];
        let commented =
            (0..lines.len()).rev().find(|&i| in_section(i) && commented_key(&lines[i]).as_deref() == Some(&w.key));
        if let Some(i) = commented {
            lines.splice(i + 1..i + 1, new);
            continue;
        }
        let members: Vec<usize> = (0..lines.len()).filter(|&i| secs[i] == w.section).collect();
        match (&w.section, members.is_empty()) {
            (Some(name), true) => {
                if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                    lines.push(String::new());
                }
                lines.push(format!("[{}]", original_case(content, name)));
                lines.extend(new);
            }
            (None, true) => {
                // No top-level lines: the file is empty or starts with a section; keys go first.
                lines.splice(0..0, new);
            }
            (_, false) => {
                // After the section's last non-blank line.
                let last = members.iter().rev().find(|&&i| !lines[i].trim().is_empty()).copied().unwrap_or(members[0]);
                lines.splice(last + 1..last + 1, new);
            }
        }
    }
    join(&collapse_marks(lines))
}

/// One mark covers a run of key lines: a mark directly after a marked run of keys is dropped.
fn collapse_marks(lines: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut in_run = false;
    for l in lines {
        if l.trim() == KEY_MARK {
            if in_run {
                continue;
            }
            in_run = true;
        } else if active_key(&l).is_none() {
            in_run = false;
        }
        out.push(l);
    }
    out
}

/// The section name as the rendered content spells it (headers are matched case-insensitively).
fn original_case(content: &str, lower: &str) -> String {
    content
        .lines()
        .filter_map(|l| {
            let t = l.trim();
            (t.starts_with('[') && t.ends_with(']')).then(|| t[1..t.len() - 1].trim().to_string())
        })
        .find(|s| s.to_ascii_lowercase() == lower)
        .unwrap_or_else(|| lower.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn file(kind: FileKind, content: &str) -> RenderedFile {
        RenderedFile {
            path: PathBuf::from("/etc/x"),
            content: content.into(),
            mode: 0o644,
            kind,
            role: None,
            what: "test".into(),
        }
    }

    const EL6_IPTABLES: &str = "# Firewall configuration\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n";

    #[test]
    fn iptables_block_goes_before_the_first_rule_and_is_replaced_in_place() {
        let f = file(
            FileKind::ManagedBlock(Placement::IptablesChain("INPUT")),
            "-A INPUT -s 10.0.0.0/8 -p tcp --dport 1 -j ACCEPT\n",
        );
        let once = merge(Some(EL6_IPTABLES), &f);
        let lines: Vec<&str> = once.lines().collect();
        assert_eq!(lines[5], BEGIN);
        assert_eq!(lines[6], "-A INPUT -s 10.0.0.0/8 -p tcp --dport 1 -j ACCEPT");
        assert_eq!(lines[7], END);
        assert!(lines[8].contains("ESTABLISHED"));
        assert_eq!(merge(Some(&once), &f), once);
        let f2 = file(f.kind.clone(), "-A INPUT -s 10.0.0.0/8 -p tcp --dport 2 -j ACCEPT\n");
        let twice = merge(Some(&once), &f2);
        assert_eq!(twice, once.replace("--dport 1 ", "--dport 2 "));
    }

    #[test]
    fn block_without_existing_file_or_filter_table() {
        let f = file(
            FileKind::ManagedBlock(Placement::IptablesChain("ufw-before-input")),
            "-A ufw-before-input -j ACCEPT\n",
        );
        let fresh = merge(None, &f);
        assert!(fresh.contains(":ufw-before-input - [0:0]\n# BEGIN"));
        assert!(fresh.ends_with("# END cloudstrap managed block\nCOMMIT\n"));
        let nat = "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n";
        let out = merge(Some(nat), &f);
        assert!(out.starts_with(nat) && out.contains("*filter\n"));
    }

    #[test]
    fn top_placement_keeps_leading_comments_and_stray_begin_is_dropped() {
        let f = file(FileKind::ManagedBlock(Placement::Top), "10.0.0.4 a.example.org a\n");
        let hosts = "# hosts\n127.0.0.1 localhost\n";
        let out = merge(Some(hosts), &f);
        assert_eq!(out, format!("# hosts\n{BEGIN}\n10.0.0.4 a.example.org a\n{END}\n127.0.0.1 localhost\n"));
        let broken = format!("{BEGIN}\n127.0.0.1 localhost\n");
        let out = merge(Some(&broken), &file(FileKind::ManagedBlock(Placement::End), "x\n"));
        assert_eq!(out, format!("127.0.0.1 localhost\n{BEGIN}\nx\n{END}\n"));
    }

    #[test]
    fn keys_are_set_in_place_after_commented_defaults_and_in_sections() {
        let idmapd = "[General]\n\nVerbosity = 0\n# Domain = localdomain\n\n[Mapping]\nNobody-User = nobody\n";
        let f = file(FileKind::Keys, "[General]\nDomain = squirrel.org\n");
        let out = merge(Some(idmapd), &f);
        assert_eq!(
            out,
            "[General]\n\nVerbosity = 0\n# Domain = localdomain\n# set by cloudstrap\nDomain = squirrel.org\n\n[Mapping]\nNobody-User = nobody\n"
        );
        assert_eq!(merge(Some(&out), &f), out);
        // Already right: untouched, no mark added.
        let done = "[general]\nDomain = squirrel.org\n";
        assert_eq!(merge(Some(done), &f), done);
        // Wrong value: rewritten where it stands.
        let wrong = "[General]\nDomain = old.org\n[Mapping]\n";
        assert_eq!(merge(Some(wrong), &f), "[General]\n# set by cloudstrap\nDomain = squirrel.org\n[Mapping]\n");
        // Missing section: appended.
        assert_eq!(
            merge(Some("[Mapping]\nx = y\n"), &f),
            "[Mapping]\nx = y\n\n[General]\n# set by cloudstrap\nDomain = squirrel.org\n"
        );
    }

    #[test]
    fn top_level_keys() {
        let selinux = "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n";
        let f = file(FileKind::Keys, "SELINUX=permissive\n");
        assert_eq!(
            merge(Some(selinux), &f),
            "# comment\n# set by cloudstrap\nSELINUX=permissive\nSELINUXTYPE=targeted\n"
        );
        assert_eq!(merge(None, &f), "# set by cloudstrap\nSELINUX=permissive\n");
        let f = file(FileKind::Keys, "A=1\n");
        assert_eq!(merge(Some("B=2\n"), &f), "B=2\n# set by cloudstrap\nA=1\n");
        assert_eq!(merge(Some("[s]\nB=2\n"), &f), "# set by cloudstrap\nA=1\n[s]\nB=2\n");
    }
}
