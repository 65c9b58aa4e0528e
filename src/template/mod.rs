//! System VM template seeding: one streaming pass from the management package's bundled file (4.20+) or
//! the mirror to secondary storage.
//!
//! ```text
//! bundled file (4.20+, metadata.ini) or HTTP(S) GET ──(Range resume)──> hash (md5|sha256|sha512)
//!   ──> bzip2, block-parallel, CRC-checked ──> .cloudstrap-staging/<id>-<uuid>/<uuid>.qcow2.partial
//!   ──fsync──> <uuid>.qcow2 + template.properties ──> rename to template/tmpl/1/<id> ──> cloud.vm_template row
//! ```
//! The layout and `template.properties` are upstream's (`cloud-install-sys-tmplt`); unlike upstream the
//! checksum is verified before anything is renamed into place, nothing is written twice, and a failure
//! leaves neither a partial file nor a template directory behind.

pub mod actions;
pub mod bundled;
pub mod checksum;
pub mod db;
pub mod http;
pub mod layout;
pub mod pipeline;
pub mod progress;
pub mod qcow2;
pub mod release;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use checksum::{Algo, Checksum};
pub use db::DbOptions;
pub use http::RetryPolicy;
pub use progress::Console;
pub use crate::action::progress::{Progress, Silent};

use layout::Layout;
use url::Url;

/// Where the expected checksum comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumSpec {
    /// Given (`--checksum ALGO:HEX`, profile `template.checksum`).
    Given(Checksum),
    /// A checksum list (`<hash>  <filename>` lines) at this URL; the template's file name is looked up.
    File(String),
    /// Look beside the template for `sha512sum.txt`, then `md5sum.txt`.
    Probe,
    /// Verify nothing (upstream's behaviour); only on explicit request.
    Skip,
}

/// Everything `fetch` needs.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The compressed template (`.qcow2.bz2`).
    pub url: String,
    /// The management package's template directory (release table, 4.20+): when its `metadata.ini`
    /// lists a KVM x86_64 template that is there, that file is used, verified against the listed
    /// checksum, and nothing is downloaded; `url` and `checksum` apply otherwise.
    pub bundled: Option<PathBuf>,
    /// The secondary storage mount (or local directory): the root of `template/tmpl/...`.
    pub dest: PathBuf,
    pub checksum: ChecksumSpec,
    /// Template id; `None`: looked up in the database as upstream does.
    pub id: Option<u32>,
    /// The CloudStack database: for the id lookup and, once the template is in place, the row's
    /// uuid/url update. `None` with `id` given: the database is not touched.
    pub db: Option<DbOptions>,
    /// Replace an existing template (the old one is moved to `<dest>/.cloudstrap-backup/`).
    pub force: bool,
    /// Allow plain http for the template and its checksum list (profile `cloudstack.allow-http`).
    pub allow_http: bool,
    /// Decoder threads; default: every core.
    pub threads: Option<usize>,
    pub retry: RetryPolicy,
}

impl FetchOptions {
    /// From a profile's `[template]` section and release: URL and checksum default to the release's,
    /// `allow-http` from `[cloudstack]`. `db` is the caller's (the engine resolves the secrets).
    pub fn from_profile(profile: &crate::profile::Profile, dest: impl Into<PathBuf>, db: Option<DbOptions>) -> Result<FetchOptions, String> {
        let release = &profile.cloudstack.release;
        let t = profile.template.clone().unwrap_or(crate::profile::Template { url: None, checksum: None, id: None });
        let defaults = release::defaults(release);
        let url = match (&t.url, defaults) {
            (Some(u), _) => u.clone(),
            (None, Some(d)) => d.url.to_string(),
            (None, None) => return Err(format!("template.url: no default system VM template for release {release:?}; set template.url")),
        };
        let checksum = match (&t.checksum, defaults.and_then(|d| d.checksum_url)) {
            (Some(c), _) => ChecksumSpec::Given(c.parse().map_err(|e| format!("template.checksum: {e}"))?),
            (None, Some(list)) if t.url.is_none() => ChecksumSpec::File(list.to_string()),
            _ => ChecksumSpec::Probe,
        };
        if t.id.is_none() && db.is_none() {
            return Err("template.id: not set, and no database access to look it up".into());
        }
        // An explicit template.url is the operator's choice; otherwise the package's bundled file first.
        let bundled = if t.url.is_none() { defaults.and_then(|d| d.bundled_dir).map(PathBuf::from) } else { None };
        Ok(FetchOptions {
            url,
            bundled,
            dest: dest.into(),
            checksum,
            id: t.id,
            db,
            force: false,
            allow_http: profile.cloudstack.allow_http,
            threads: None,
            retry: RetryPolicy::default(),
        })
    }
}

/// Whether `<dest>/template/tmpl/1/<id>` holds a complete template: its `template.properties` names a
/// qcow2 file that is there with the recorded size (what an install step checks before fetching).
pub fn is_installed(dest: &Path, id: u32) -> bool {
    let dir = Layout { dest: dest.to_path_buf(), id }.dir();
    let Ok(props) = std::fs::read_to_string(dir.join("template.properties")) else { return false };
    let get = |k: &str| props.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix('=').map(str::to_string));
    match (get("qcow2.filename"), get("qcow2.size").and_then(|s| s.parse::<u64>().ok())) {
        (Some(name), Some(size)) => std::fs::metadata(dir.join(name)).map(|m| m.len() == size).unwrap_or(false),
        _ => false,
    }
}

/// Where the seeded template came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The management package's bundled file; nothing was downloaded.
    Bundled(PathBuf),
    /// Downloaded (or read from a file:// mirror) from this URL.
    Mirror(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Bundled(p) => write!(f, "the management package's bundled {}", p.display()),
            Origin::Mirror(u) => write!(f, "{u}"),
        }
    }
}

/// What was installed.
#[derive(Debug, Clone)]
pub struct Installed {
    pub origin: Origin,
    pub id: u32,
    pub uuid: String,
    /// `<dest>/template/tmpl/1/<id>`.
    pub dir: PathBuf,
    /// `<dir>/<uuid>.qcow2`.
    pub file: PathBuf,
    /// Bytes of the qcow2 file.
    pub size: u64,
    /// Guest disk size from the qcow2 header.
    pub virtual_size: u64,
    /// The verified checksum (`None` when verification was skipped).
    pub checksum: Option<Checksum>,
    pub compressed_bytes: u64,
    /// Times the download continued with a Range request.
    pub resumes: u32,
    /// Where a replaced template went (`--force`).
    pub replaced: Option<PathBuf>,
    /// The database row was updated (uuid, url).
    pub recorded: bool,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{0:?} is not a URL: {1}")]
    Url(String, url::ParseError),
    #[error("{0}")]
    Http(#[from] http::HttpError),
    #[error("the destination {0} is not a directory (mount the secondary storage first)")]
    Dest(PathBuf),
    #[error("a template already exists in {0} (use --force to replace it; the old one is kept as a backup)")]
    Exists(PathBuf),
    #[error("{0} is being written by another cloudstrap run")]
    Busy(PathBuf),
    #[error("no template id: give --id, or database access to look it up")]
    NoId,
    #[error("template id lookup: {0}")]
    Db(#[from] db::DbError),
    #[error("no checksum for {file} in {list}")]
    NotListed { file: String, list: String },
    #[error("no checksum found for {file} (tried {tried}): give --checksum ALGO:HEX (or --skip-checksum to verify nothing)")]
    NoChecksum { file: String, tried: String },
    #[error("checksum mismatch for {url}: expected {expected}, got {actual}; nothing was installed")]
    Mismatch { url: String, expected: Checksum, actual: Checksum },
    #[error("{0}")]
    Stream(#[from] pipeline::StreamError),
    #[error("no space left on the device of {path}: {written} bytes of the template were written; nothing was installed")]
    DiskFull { path: PathBuf, written: u64 },
    #[error("not enough free space on the device of {path}: the template needs up to {need} bytes (its qcow2 virtual size), {free} are free; free some space or use a larger store; nothing was installed")]
    NoSpace { path: PathBuf, need: u64, free: u64 },
    #[error("bundled template: {0}")]
    Bundle(#[from] bundled::BundleError),
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TemplateError {
    let path = path.to_path_buf();
    move |source| TemplateError::Io { what, path, source }
}

/// A URL, or an absolute path taken as a `file://` URL.
fn parse_url(s: &str) -> Result<Url, TemplateError> {
    if s.starts_with('/') {
        return Url::from_file_path(s).map_err(|_| TemplateError::Url(s.to_string(), url::ParseError::RelativeUrlWithoutBase));
    }
    Url::parse(s).map_err(|e| TemplateError::Url(s.to_string(), e))
}

/// The file name at the end of a URL's path.
fn url_filename(url: &Url) -> String {
    url.path_segments().and_then(|mut s| s.next_back()).unwrap_or("").to_string()
}

/// The expected checksum, fetched if it comes from a list.
fn resolve_checksum(opts: &FetchOptions, url: &Url, client: &reqwest::blocking::Client) -> Result<Option<Checksum>, TemplateError> {
    let file = url_filename(url);
    let from_list = |list: &Url| -> Result<Option<Checksum>, TemplateError> {
        http::check_url(list, opts.allow_http)?;
        let text = http::get_text(client, list, &opts.retry)?;
        Ok(checksum::find_in_checksum_file(&text, &file))
    };
    match &opts.checksum {
        ChecksumSpec::Given(c) => Ok(Some(c.clone())),
        ChecksumSpec::Skip => Ok(None),
        ChecksumSpec::File(list) => {
            let list_url = parse_url(list)?;
            from_list(&list_url)?.map(Some).ok_or(TemplateError::NotListed { file, list: list.clone() })
        }
        ChecksumSpec::Probe => {
            let mut tried = vec![];
            for name in ["sha512sum.txt", "md5sum.txt"] {
                let list = url.join(name).map_err(|e| TemplateError::Url(name.into(), e))?;
                tried.push(list.to_string());
                match from_list(&list) {
                    Ok(Some(c)) => return Ok(Some(c)),
                    Ok(None) | Err(TemplateError::Http(http::HttpError::NotFound { .. })) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(TemplateError::NoChecksum { file, tried: tried.join(", ") })
        }
    }
}

/// Seed the template: download, verify, decompress, install, record. See the module doc.
pub fn fetch(opts: &FetchOptions, progress: &dyn Progress) -> Result<Installed, TemplateError> {
    let started = Instant::now();
    let bundle = match &opts.bundled {
        Some(dir) => bundled::find(dir)?,
        None => None,
    };
    // A bundled file is read as a file:// source with the checksum its metadata gives.
    let (source_opts, origin);
    let opts = match &bundle {
        Some(b) => {
            source_opts = FetchOptions {
                url: b.file.to_string_lossy().into_owned(),
                checksum: ChecksumSpec::Given(b.checksum.clone()),
                ..opts.clone()
            };
            origin = Origin::Bundled(b.file.clone());
            &source_opts
        }
        None => {
            origin = Origin::Mirror(opts.url.clone());
            opts
        }
    };
    let url = parse_url(&opts.url)?;
    http::check_url(&url, opts.allow_http)?;
    if !opts.dest.is_dir() {
        return Err(TemplateError::Dest(opts.dest.clone()));
    }
    let id = match (opts.id, &opts.db) {
        // Given with database access: the row must exist, found before anything is downloaded.
        (Some(id), Some(db)) => db.require_row(id).map(|()| id)?,
        (Some(id), None) => id,
        (None, Some(db)) => db.system_template_id()?,
        (None, None) => return Err(TemplateError::NoId),
    };
    let layout = Layout { dest: opts.dest.clone(), id };
    if layout.existing() && !opts.force {
        return Err(TemplateError::Exists(layout.dir()));
    }
    progress.note(&format!("seeding from {origin}"));
    let client = http::client(opts.allow_http, &opts.retry)?;
    let expected = resolve_checksum(opts, &url, &client)?;

    let mut created = layout::create_dirs(&layout.parent()).map_err(io_err("creating", &layout.parent()))?;
    created.extend(layout::create_dirs(&layout.staging_root()).map_err(io_err("creating", &layout.staging_root()))?);
    let result = (|| {
        // One run per template directory at a time; the lock goes with the process.
        let lock_dir = File::open(layout.parent()).map_err(io_err("opening", &layout.parent()))?;
        let _lock = nix::fcntl::Flock::lock(lock_dir, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map_err(|_| TemplateError::Busy(layout.parent()))?;
        for stale in layout.stale_staging() {
            crate::log::line(&format!("template: removing {} left by an interrupted run", stale.display()));
            std::fs::remove_dir_all(&stale).map_err(io_err("removing", &stale))?;
        }
        let uuid = uuid::Uuid::new_v4().to_string();
        let staging = layout.staging(&uuid);
        std::fs::create_dir(&staging).map_err(io_err("creating", &staging))?;
        let record_url = match &bundle {
            Some(b) => b.download_url.clone().unwrap_or_else(|| url.to_string()),
            None => url.to_string(),
        };
        // The console's download line says when nothing is downloaded.
        let label = match &bundle {
            Some(_) => format!("{} (bundled with the management package: copied, not downloaded)", url_filename(&url)),
            None => url_filename(&url),
        };
        let installed = stage_and_install(opts, &url, &label, &record_url, &layout, &uuid, &staging, expected, &client, progress);
        if installed.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        installed
    })();
    match result {
        Ok(mut inst) => {
            // The staging root goes when nothing else is staged in it.
            let _ = std::fs::remove_dir(layout.staging_root());
            inst.elapsed = started.elapsed();
            inst.origin = origin;
            Ok(inst)
        }
        Err(e) => {
            layout::remove_created(&created);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn stage_and_install(
    opts: &FetchOptions,
    url: &Url,
    label: &str,
    record_url: &str,
    layout: &Layout,
    uuid: &str,
    staging: &Path,
    expected: Option<Checksum>,
    client: &reqwest::blocking::Client,
    progress: &dyn Progress,
) -> Result<Installed, TemplateError> {
    let filename = format!("{uuid}.qcow2");
    let partial = staging.join(format!("{filename}.partial"));
    let mut out = OpenOptions::new().write(true).create_new(true).open(&partial).map_err(io_err("creating", &partial))?;

    let download = http::Source::open(client, url, &opts.retry)?;
    let bar = progress.download(label, download.total());
    let threads = opts.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let streamed = pipeline::run(download, expected.as_ref().map(|c| c.algo), threads, &mut out, &*bar);
    bar.finish();
    let streamed = match streamed {
        Ok(s) => s,
        Err(pipeline::StreamError::Write { written, source }) if source.raw_os_error() == Some(nix::libc::ENOSPC) => {
            return Err(TemplateError::DiskFull { path: opts.dest.clone(), written });
        }
        Err(pipeline::StreamError::NoSpace { need, free }) => return Err(TemplateError::NoSpace { path: opts.dest.clone(), need, free }),
        Err(e) => return Err(e.into()),
    };
    if let (Some(want), Some(got)) = (&expected, &streamed.digest) {
        if want != got {
            return Err(TemplateError::Mismatch { url: url.to_string(), expected: want.clone(), actual: got.clone() });
        }
    }
    out.sync_all().map_err(|e| match e.raw_os_error() {
        Some(nix::libc::ENOSPC) => TemplateError::DiskFull { path: opts.dest.clone(), written: streamed.written },
        _ => TemplateError::Io { what: "syncing", path: partial.clone(), source: e },
    })?;
    drop(out);
    let file_in_staging = staging.join(&filename);
    std::fs::rename(&partial, &file_in_staging).map_err(io_err("renaming", &partial))?;
    let props = layout::properties(layout.id, &filename, streamed.written, streamed.header.virtual_size);
    crate::atomic_file::replace(&staging.join("template.properties"), props.as_bytes(), 0o644).map_err(io_err("writing template.properties in", staging))?;
    layout::fsync_dir(staging).map_err(io_err("syncing", staging))?;
    progress.note(&format!("staged in {}; moving it to {}", staging.display(), layout.dir().display()));

    // Checked again now: another run may have installed one while this one downloaded.
    if layout.existing() && !opts.force {
        return Err(TemplateError::Exists(layout.dir()));
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    // The run's uuid keeps two --force runs in one second apart.
    let backup = layout.existing().then(|| layout.backup(&format!("{stamp}-{uuid}")));
    let dir = layout.dir();
    let replaced = layout::install(staging, &dir, backup.as_deref()).map_err(io_err("installing", &dir))?;

    let mut recorded = false;
    if let Some(db) = &opts.db {
        if let Err(e) = db.record_template(layout.id, uuid, record_url) {
            // Undo: the database does not know this file, so neither should secondary storage.
            let _ = std::fs::remove_dir_all(&dir);
            if let Some(old) = &replaced {
                let _ = std::fs::rename(old, &dir);
            }
            return Err(e.into());
        }
        recorded = true;
    }
    if let Some(kept) = &replaced {
        // One backup per template, the one just made; older ones only once the new template is final.
        for old in layout.other_backups(kept) {
            // The new template is in place either way: a backup that will not go is reported, not fatal.
            match std::fs::remove_dir_all(&old) {
                Ok(()) => crate::log::line(&format!("template: removed the older backup {}", old.display())),
                Err(e) => progress.note(&format!("could not remove the older backup {}: {e}", old.display())),
            }
        }
    }
    let summary = format!(
        "installed {} ({} bytes, virtual size {}){}{}",
        dir.join(&filename).display(),
        streamed.written,
        streamed.header.virtual_size,
        expected.as_ref().map(|c| format!(", {} verified", c.algo.as_str())).unwrap_or_else(|| ", checksum not verified".into()),
        replaced.as_ref().map(|b| format!("; the previous template is kept in {}", b.display())).unwrap_or_default()
    );
    progress.note(&summary);
    crate::log::line(&format!("template: {summary}"));
    Ok(Installed {
        origin: Origin::Mirror(url.to_string()),
        id: layout.id,
        uuid: uuid.to_string(),
        file: dir.join(&filename),
        dir,
        size: streamed.written,
        virtual_size: streamed.header.virtual_size,
        checksum: expected,
        compressed_bytes: streamed.compressed,
        resumes: streamed.resumes,
        replaced,
        recorded,
        elapsed: Duration::ZERO,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(extra: &str) -> crate::profile::Profile {
        toml::from_str(&format!(
            "[cloudstack]\nrelease = \"4.22\"\n{extra}\n[host]\nroles = [\"management\"]\nhostname = \"m\"\nfqdn = \"m.example.org\"\naddress = \"10.0.0.2/24\"\ngateway = \"10.0.0.1\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn options_from_a_profile() {
        let o = FetchOptions::from_profile(&profile(""), "/mnt/secondary", Some(DbOptions::local_root())).unwrap();
        assert_eq!(o.url, release::defaults("4.22").unwrap().url);
        assert_eq!(o.checksum, ChecksumSpec::File("https://download.cloudstack.org/systemvm/4.22/sha512sum.txt".into()));
        assert!(!o.allow_http && o.id.is_none());

        let p = profile("allow-http = true\n[template]\nurl = \"http://mirror.lan/t.qcow2.bz2\"\nid = 201\n");
        let o = FetchOptions::from_profile(&p, "/mnt/secondary", None).unwrap();
        assert_eq!((o.url.as_str(), o.id, o.allow_http), ("http://mirror.lan/t.qcow2.bz2", Some(201), true));
        assert_eq!(o.checksum, ChecksumSpec::Probe);

        let err = FetchOptions::from_profile(&profile(""), "/m", None).unwrap_err();
        assert!(err.contains("template.id"), "{err}");
    }
}
