//! The human report: one row per check, the remedy under each warning and failure.

use super::{Report, Status};

/// Width the remedy text is wrapped to.
const WIDTH: usize = 100;

pub fn render_human(r: &Report, os_name: Option<&str>) -> String {
    let mut out = String::new();
    let platform = r.platform.as_deref().unwrap_or("unsupported platform");
    let os = os_name.map(|n| format!(" ({n})")).unwrap_or_default();
    out.push_str(&format!("preflight for {} on {platform}{os}\n\n", r.roles.join(", ")));
    let idw = r.checks.iter().map(|c| c.id.len()).max().unwrap_or(10);
    out.push_str(&format!("  {:<6} {:<idw$}  {}\n", "STATUS", "CHECK", "SUMMARY"));
    for c in &r.checks {
        let status = match c.status {
            Status::Fail => "FAIL",
            Status::Warn => "WARN",
            s => s.as_str(),
        };
        out.push_str(&format!("  {:<6} {:<idw$}  {}\n", status, c.id, c.summary));
        if let Some(remedy) = &c.remedy {
            let indent = " ".repeat(9);
            for (i, line) in wrap(remedy, WIDTH - indent.len() - 2).into_iter().enumerate() {
                out.push_str(&format!("{indent}{} {line}\n", if i == 0 { "->" } else { "  " }));
            }
        }
    }
    let s = &r.summary;
    out.push_str(&format!("\n{} pass, {} warn, {} fail, {} skip\n", s.pass, s.warn, s.fail, s.skip));
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![];
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}
