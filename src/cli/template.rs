//! `cloudstrap template fetch`: the command line over `template::fetch`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{exit, Format, Global};
use crate::template::{ChecksumSpec, Console, DbOptions, FetchOptions, RetryPolicy, TemplateError};

#[derive(Debug, Subcommand)]
pub enum TemplateCmd {
    /// Download, verify and decompress the system VM template into secondary storage in one pass.
    Fetch(Box<FetchArgs>),
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The compressed template (.qcow2.bz2): https://, http:// (with --allow-http), file:// or an absolute path.
    /// Default: the --release's template.
    #[arg(long, required_unless_present = "release")]
    pub url: Option<String>,
    /// Use this CloudStack release's template and checksum list (e.g. 4.19, 4.22).
    #[arg(long)]
    pub release: Option<String>,
    /// A management package's template directory (4.20+: /usr/share/cloudstack-management/templates/systemvm):
    /// when its metadata.ini lists a KVM x86_64 template that is there, copy that file, verified against the
    /// listed checksum, and download nothing; otherwise --url / --release as usual.
    #[arg(long, value_name = "DIR")]
    pub bundled: Option<PathBuf>,
    /// Secondary storage mount point (or a local directory); the template goes to template/tmpl/1/<id>/.
    /// Below --root when one is given.
    #[arg(long)]
    pub dest: PathBuf,
    /// Expected checksum of the compressed file: md5:HEX, sha256:HEX or sha512:HEX.
    /// Default: looked up in the release's checksum list, else in sha512sum.txt / md5sum.txt beside the URL.
    #[arg(long, value_name = "ALGO:HEX", conflicts_with_all = ["checksum_url", "skip_checksum"])]
    pub checksum: Option<String>,
    /// A checksum list (`<hash>  <filename>` lines) to find the template's checksum in.
    #[arg(long, value_name = "URL", conflicts_with = "skip_checksum")]
    pub checksum_url: Option<String>,
    /// Verify no checksum (what upstream's script does); not recommended.
    #[arg(long)]
    pub skip_checksum: bool,
    /// Template id. Default: the newest SYSTEM KVM row of the database's vm_template, as upstream finds it;
    /// with --id the database is only touched when a --db-* option is given.
    #[arg(long)]
    pub id: Option<u32>,
    /// Replace an existing template (the old one is moved to DEST/.cloudstrap-backup/).
    #[arg(long)]
    pub force: bool,
    /// Allow plain http:// for the template and its checksum list.
    #[arg(long)]
    pub allow_http: bool,
    /// Decoder threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Attempts per failure (connection drop, timeout, 5xx) before giving up.
    #[arg(long, default_value_t = 6)]
    pub retries: u32,
    /// Seconds to wait for a connection, for response headers, or for any read.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Database host ("localhost": the unix socket).
    #[arg(long)]
    pub db_host: Option<String>,
    /// Database port (default 3306).
    #[arg(long)]
    pub db_port: Option<u16>,
    /// Database user (default root, as upstream).
    #[arg(long)]
    pub db_user: Option<String>,
    /// File holding the database password (or set CLOUDSTRAP_DB_PASSWORD); never given on the command line.
    #[arg(long, value_name = "FILE")]
    pub db_password_file: Option<PathBuf>,
    /// Database name (default cloud).
    #[arg(long)]
    pub db_name: Option<String>,
    /// Database unix socket.
    #[arg(long, value_name = "PATH")]
    pub db_socket: Option<PathBuf>,
}

/// Input problems: exit 2, nothing changed.
#[derive(Debug, thiserror::Error)]
enum InputError {
    #[error("--checksum: {0}")]
    Checksum(crate::template::checksum::ChecksumParseError),
    #[error("--release {0}: no known system VM template for this release (give --url)")]
    Release(String),
    #[error("--db-password-file {0}: {1}")]
    PasswordFile(PathBuf, std::io::Error),
}

fn options(a: &FetchArgs, global: &Global) -> Result<FetchOptions, InputError> {
    let defaults = match &a.release {
        Some(r) => Some(crate::template::release::defaults(r).ok_or_else(|| InputError::Release(r.clone()))?),
        None => None,
    };
    let url = a.url.clone().or_else(|| defaults.map(|d| d.url.to_string())).unwrap_or_default();
    let checksum = if a.skip_checksum {
        ChecksumSpec::Skip
    } else if let Some(c) = &a.checksum {
        ChecksumSpec::Given(c.parse().map_err(InputError::Checksum)?)
    } else if let Some(u) = &a.checksum_url {
        ChecksumSpec::File(u.clone())
    } else {
        match defaults.and_then(|d| d.checksum_url) {
            Some(u) if a.url.is_none() => ChecksumSpec::File(u.to_string()),
            _ => ChecksumSpec::Probe,
        }
    };
    let db_flags = a.db_host.is_some()
        || a.db_port.is_some()
        || a.db_user.is_some()
        || a.db_password_file.is_some()
        || a.db_name.is_some()
        || a.db_socket.is_some();
    let db = if a.id.is_none() || db_flags {
        let mut db = DbOptions::local_root();
        if let Some(h) = &a.db_host {
            db.host = h.clone();
        }
        if let Some(p) = a.db_port {
            db.port = p;
        }
        if let Some(u) = &a.db_user {
            db.user = u.clone();
        }
        if let Some(n) = &a.db_name {
            db.database = n.clone();
        }
        db.socket = a.db_socket.clone();
        db.password = match &a.db_password_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| InputError::PasswordFile(f.clone(), e))?
                    .trim_end_matches(['\n', '\r'])
                    .to_string(),
            ),
            None => std::env::var("CLOUDSTRAP_DB_PASSWORD").ok(),
        };
        Some(db)
    } else {
        None
    };
    Ok(FetchOptions {
        url,
        // --bundled, else the release's bundled directory unless a --url was given.
        bundled: a
            .bundled
            .clone()
            .or_else(|| defaults.filter(|_| a.url.is_none()).and_then(|d| d.bundled_dir).map(PathBuf::from))
            .map(|d| under_root(global, &d)),
        dest: under_root(global, &a.dest),
        checksum,
        id: a.id,
        db,
        force: a.force,
        allow_http: a.allow_http,
        threads: a.threads,
        retry: RetryPolicy { attempts: a.retries.max(1), timeout: Duration::from_secs(a.timeout.max(1)), ..RetryPolicy::default() },
    })
}

/// A path on the host as seen from --root.
fn under_root(global: &Global, p: &Path) -> PathBuf {
    if global.root == Path::new("/") { p.to_path_buf() } else { global.root.join(p.strip_prefix("/").unwrap_or(p)) }
}

/// Errors that mean "the input was refused, nothing changed" (exit 2).
fn is_input_error(e: &TemplateError) -> bool {
    use crate::template::http::HttpError;
    matches!(
        e,
        TemplateError::Url(..)
            | TemplateError::Dest(_)
            | TemplateError::Exists(_)
            | TemplateError::NoId
            | TemplateError::NoSpace { .. }
            | TemplateError::Db(crate::template::db::DbError::NoSuchId { .. })
            | TemplateError::Http(HttpError::HttpNotAllowed { .. } | HttpError::Scheme { .. })
    )
}

pub fn run(cmd: TemplateCmd, global: &Global) -> u8 {
    let TemplateCmd::Fetch(args) = cmd;
    let opts = match options(&args, global) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("template fetch: {e}");
            return exit::INPUT;
        }
    };
    let progress = Console::new();
    match crate::template::fetch(&opts, &progress) {
        Ok(inst) => {
            match global.format {
                Format::Json => {
                    let downloaded = matches!(inst.origin, crate::template::Origin::Mirror(_));
                    crate::console::result(&serde_json::json!({
                        "outcome": if inst.replaced.is_some() { "replaced" } else { "installed" },
                        "source": if downloaded { "mirror" } else { "bundled" },
                        "from": inst.origin.to_string(),
                        "downloaded": downloaded,
                        "id": inst.id,
                        "uuid": inst.uuid,
                        "dir": inst.dir,
                        "file": inst.file,
                        "size": inst.size,
                        "virtual_size": inst.virtual_size,
                        "checksum": inst.checksum.as_ref().map(|c| c.to_string()),
                        "compressed_bytes": inst.compressed_bytes,
                        "resumes": inst.resumes,
                        "replaced": inst.replaced,
                        "recorded": inst.recorded,
                        "elapsed_seconds": inst.elapsed.as_secs_f64(),
                    }));
                }
                Format::Human => {
                    println!("template {} installed in {}", inst.id, inst.dir.display());
                    println!("  from          {}", inst.origin);
                    println!("  file          {} ({} bytes, virtual size {})", inst.file.display(), inst.size, inst.virtual_size);
                    match &inst.checksum {
                        Some(c) => println!("  checksum      {c} (verified)"),
                        None => println!("  checksum      not verified (--skip-checksum)"),
                    }
                    println!(
                        "  download      {} bytes in {:.1}s{}",
                        inst.compressed_bytes,
                        inst.elapsed.as_secs_f64(),
                        if inst.resumes > 0 { format!(", resumed {} time(s)", inst.resumes) } else { String::new() }
                    );
                    if let Some(old) = &inst.replaced {
                        println!("  replaced      the previous template is kept in {}", old.display());
                    }
                    if inst.recorded {
                        println!("  database      vm_template row {} now has uuid {}", inst.id, inst.uuid);
                    }
                }
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("template fetch: {e}");
            if is_input_error(&e) {
                return exit::INPUT;
            }
            if global.format == Format::Json {
                crate::console::result(&super::print::failed(&e.to_string()));
            }
            exit::FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> (FetchArgs, Global) {
        let cli = crate::cli::Cli::try_parse_from([&["cloudstrap"], args].concat()).unwrap();
        match cli.command {
            crate::cli::Command::Template(TemplateCmd::Fetch(a)) => (*a, cli.global),
            _ => unreachable!(),
        }
    }

    #[test]
    fn release_defaults_and_database_choice() {
        let (a, g) = parse(&["template", "fetch", "--release", "4.22", "--dest", "/mnt/secondary"]);
        let o = options(&a, &g).unwrap();
        assert!(o.url.ends_with("systemvmtemplate-4.22.0-x86_64-kvm.qcow2.bz2"));
        assert_eq!(o.bundled.as_deref(), Some(Path::new("/usr/share/cloudstack-management/templates/systemvm")));
        assert_eq!(o.checksum, ChecksumSpec::File("https://download.cloudstack.org/systemvm/4.22/sha512sum.txt".into()));
        let db = o.db.unwrap();
        assert_eq!((db.host.as_str(), db.user.as_str(), db.database.as_str()), ("localhost", "root", "cloud"));

        // --id alone: the database is not touched; a --db-* flag brings it back (for the row update).
        let (a, g) = parse(&["template", "fetch", "--url", "https://m/t.bz2", "--dest", "/d", "--id", "9"]);
        let o = options(&a, &g).unwrap();
        assert!(o.db.is_none() && o.checksum == ChecksumSpec::Probe && o.bundled.is_none());
        let (a, g) = parse(&["template", "fetch", "--url", "https://m/t.bz2", "--dest", "/d", "--id", "9", "--db-name", "c2", "--root", "/sys"]);
        let o = options(&a, &g).unwrap();
        assert_eq!(o.db.unwrap().database, "c2");
        assert_eq!(o.dest, PathBuf::from("/sys/d"));

        let (a, g) = parse(&["template", "fetch", "--release", "9.9", "--dest", "/d"]);
        assert!(matches!(options(&a, &g), Err(InputError::Release(_))));
        assert!(crate::cli::Cli::try_parse_from(["cloudstrap", "template", "fetch", "--dest", "/d"]).is_err());
        assert!(crate::cli::Cli::try_parse_from(["cloudstrap", "template", "fetch", "--url", "u", "--dest", "/d", "--checksum", "md5:00", "--skip-checksum"]).is_err());
    }
}
