//! `cloudstrap profile check FILE` and `cloudstrap profile schema`.

use std::path::Path;

use super::exit;
use crate::profile::regular_file;

/// Print every problem of the profile (stderr, exit 2) or one OK line (stdout, exit 0). Secrets given by
/// reference are read as an install would read them: one that cannot work (a missing, empty, oversized or
/// special file, a variable set to an unusable value) is a problem; a variable that is not set here is a
/// warning with exit 4, for profiles whose secrets are supplied where they are installed.
pub fn check(file: &Path) -> u8 {
    let code = match crate::profile::load(file) {
        Ok(p) => {
            let dir = file.parent().unwrap_or(Path::new("."));
            let report = crate::profile::Secrets::check(&p, dir);
            for w in &report.exposed {
                eprintln!("warning: {w}");
            }
            for u in &report.unset {
                eprintln!("warning: {u}");
            }
            if !report.errors.is_empty() {
                for e in &report.errors {
                    eprintln!("{e}");
                }
                exit::INPUT
            } else {
                let roles: Vec<&str> = p.host.roles.iter().map(|r| r.as_str()).collect();
                println!("{}: ok (CloudStack {}, roles {})", file.display(), p.cloudstack.release, roles.join(", "));
                if report.unset.is_empty() {
                    exit::OK
                } else {
                    eprintln!("warning: {} secret(s) must be supplied through the environment before this profile installs (exit {})", report.unset.len(), exit::SECRETS_UNSET);
                    exit::SECRETS_UNSET
                }
            }
        }
        Err(e) => {
            eprintln!("{e}");
            exit::INPUT
        }
    };
    if let Some(w) = exposure_warning(file) {
        eprintln!("{w}");
    }
    code
}

/// Print the JSON Schema of profiles.
pub fn schema() -> u8 {
    let s = serde_json::to_value(crate::profile::schema()).expect("schema serializes");
    println!("{}", serde_json::to_string_pretty(&s).expect("schema prints"));
    exit::OK
}

/// A warning when the file holds a secret inline and group or others may read it.
pub fn exposure_warning(file: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).ok()?.permissions().mode() & 0o777;
    if mode & 0o044 == 0 {
        return None;
    }
    let bytes = regular_file::read(file, regular_file::PROFILE_MAX).ok()?;
    let keys = crate::profile::inline_secret_keys(&String::from_utf8_lossy(&bytes));
    let first = keys.first()?;
    Some(format!(
        "warning: {}: holds secrets inline ({first}{}) and is readable by group or others (mode {mode:04o}); \
         run `chmod 600 {}` or move them to *-file / *-env references",
        file.display(),
        if keys.len() > 1 { format!(" and {} more", keys.len() - 1) } else { String::new() },
        file.display()
    ))
}
