//! The CloudStack packages of one release line, copied from a repository laid out like
//! download.cloudstack.org (`deb URL CODENAME LINE`): a directory or an http(s) URL, so a site's own mirror
//! works. The copy keeps the signed Release files and the index unchanged (apt verifies them against the
//! repository's key) and holds the newest version of each package; each file is checked against the index.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::MediaError;
use crate::run::{Cmd, Redactor};

/// Where the repository is.
pub enum Source {
    Dir(PathBuf),
    Url(String),
}

impl Source {
    pub fn parse(s: &str) -> Source {
        if s.starts_with("http://") || s.starts_with("https://") {
            Source::Url(s.trim_end_matches('/').to_string())
        } else {
            Source::Dir(PathBuf::from(s.strip_prefix("file://").unwrap_or(s)))
        }
    }

    fn describe(&self, rel: &str) -> String {
        match self {
            Source::Dir(d) => d.join(rel).display().to_string(),
            Source::Url(u) => format!("{u}/{rel}"),
        }
    }

    /// The bytes of `rel`; `Ok(None)` when the repository has no such file.
    fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, MediaError> {
        match self {
            Source::Dir(d) => match std::fs::read(d.join(rel)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(MediaError::Input(format!("{}: {e}", self.describe(rel)))),
            },
            Source::Url(_) => {
                let url = self.describe(rel);
                let resp = reqwest::blocking::Client::builder()
                    .timeout(std::time::Duration::from_secs(600))
                    .build()
                    .and_then(|c| c.get(&url).send())
                    .map_err(|e| MediaError::Input(format!("{url}: {e}")))?;
                if resp.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                let resp = resp.error_for_status().map_err(|e| MediaError::Input(format!("{url}: {e}")))?;
                let mut buf = vec![];
                resp.take(u64::MAX).read_to_end(&mut buf).map_err(|e| MediaError::Input(format!("{url}: {e}")))?;
                Ok(Some(buf))
            }
        }
    }
}

/// One package of the index.
#[derive(Debug, Clone)]
struct Entry {
    package: String,
    version: String,
    filename: String,
    sha256: Option<String>,
}

fn entries(index: &str) -> Vec<Entry> {
    index
        .split("\n\n")
        .filter_map(|stanza| {
            let field = |name: &str| stanza.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(|v| v.trim().to_string()));
            Some(Entry { package: field("Package")?, version: field("Version")?, filename: field("Filename")?, sha256: field("SHA256") })
        })
        .collect()
}

fn newer(a: &str, b: &str) -> bool {
    Cmd::new("dpkg").args(["--compare-versions", a, "gt", b]).run(&Redactor::default()).is_ok_and(|o| o.status == 0)
}

/// What was copied (the signing key always: as `release.asc` at the copy's root).
pub struct Copied {
    /// Every package name in the line's index (the CloudStack packages).
    pub packages: Vec<String>,
}

/// Copy the line's index and newest packages from `src` into `dest` (a new directory); `key` is the
/// repository's signing key (default: release.asc at its root, else one folder above).
pub fn copy(src: &Source, codename: &str, component: &str, key: Option<&str>, dest: &Path) -> Result<Copied, MediaError> {
    let put = |rel: &str, bytes: &[u8]| -> Result<(), MediaError> {
        let p = dest.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| MediaError::Failed(format!("{}: {e}", d.display())))?;
        }
        std::fs::write(&p, bytes).map_err(|e| MediaError::Failed(format!("{}: {e}", p.display())))
    };
    let dists = format!("dists/{codename}");
    let release = src
        .get(&format!("{dists}/Release"))?
        .ok_or_else(|| MediaError::Input(format!("{}: no such file: not a repository laid out like download.cloudstack.org (deb URL {codename} {component})", src.describe(&format!("{dists}/Release")))))?;
    put(&format!("{dists}/Release"), &release)?;
    for f in ["InRelease", "Release.gpg"] {
        if let Some(b) = src.get(&format!("{dists}/{f}"))? {
            put(&format!("{dists}/{f}"), &b)?;
        }
    }
    let base = format!("{dists}/{component}/binary-amd64");
    let mut index = None;
    for f in ["Packages", "Packages.gz", "Packages.xz"] {
        if let Some(b) = src.get(&format!("{base}/{f}"))? {
            put(&format!("{base}/{f}"), &b)?;
            if index.is_none() {
                index = Some(decompress(f, &b, &dest.join(&base).join(f))?);
            }
        }
    }
    let index = index.ok_or_else(|| MediaError::Input(format!("{}: no package index for release line {component}", src.describe(&base))))?;
    let mut newest: BTreeMap<String, Entry> = BTreeMap::new();
    for e in entries(&index) {
        match newest.get(&e.package) {
            Some(old) if !newer(&e.version, &old.version) => {}
            _ => {
                newest.insert(e.package.clone(), e);
            }
        }
    }
    if newest.is_empty() {
        return Err(MediaError::Input(format!("{}: the index lists no packages", src.describe(&base))));
    }
    for e in newest.values() {
        let bytes = src.get(&e.filename)?.ok_or_else(|| MediaError::Input(format!("{}: listed in the index but missing", src.describe(&e.filename))))?;
        if let Some(want) = &e.sha256 {
            let got = hex::encode(sha2::Sha256::digest(&bytes));
            if &got != want {
                return Err(MediaError::Input(format!("{}: sha256 {got} differs from the index's {want}", src.describe(&e.filename))));
            }
        }
        put(&e.filename, &bytes)?;
    }
    // The medium must carry the key: an offline host cannot fetch it. download.cloudstack.org keeps it
    // above the distribution folders (/release.asc for /debian), a mirror often beside them.
    let key_bytes = match key {
        Some(k) => Source::parse(k).get_whole(k)?,
        None => match src.get("release.asc")? {
            Some(b) => b,
            None => src.parent().map(|p| p.get("release.asc")).transpose()?.flatten().ok_or_else(|| {
                MediaError::Input(format!(
                    "no signing key at {} or one folder above: pass --cloudstack-key FILE|URL (the offline hosts cannot fetch it)",
                    src.describe("release.asc")
                ))
            })?,
        },
    };
    put("release.asc", &key_bytes)?;
    Ok(Copied { packages: newest.keys().cloned().collect() })
}

impl Source {
    /// The folder above (download.cloudstack.org's root for its /debian).
    fn parent(&self) -> Option<Source> {
        match self {
            Source::Dir(d) => d.parent().map(|p| Source::Dir(p.to_path_buf())),
            Source::Url(u) => {
                let (base, _) = u.rsplit_once('/')?;
                (base.matches('/').count() >= 2 && !base.ends_with('/')).then(|| Source::Url(base.to_string()))
            }
        }
    }

    /// A file named by its own path or URL.
    fn get_whole(&self, what: &str) -> Result<Vec<u8>, MediaError> {
        match self {
            Source::Dir(p) => std::fs::read(p).map_err(|e| MediaError::Input(format!("{}: {e}", p.display()))),
            Source::Url(u) => {
                let (base, file) = u.rsplit_once('/').unwrap_or((u, ""));
                Source::Url(base.to_string()).get(file)?.ok_or_else(|| MediaError::Input(format!("{what}: not found")))
            }
        }
    }
}

fn decompress(name: &str, bytes: &[u8], path: &Path) -> Result<String, MediaError> {
    let tool = match name {
        "Packages.gz" => "gzip",
        "Packages.xz" => "xz",
        _ => return String::from_utf8(bytes.to_vec()).map_err(|e| MediaError::Input(format!("{}: {e}", path.display()))),
    };
    Cmd::new(tool)
        .arg("-dc")
        .arg(path.display().to_string())
        .run_ok(&Redactor::default())
        .map(|o| o.stdout)
        .map_err(|e| MediaError::Input(format!("{}: {tool} cannot read it: {e}", path.display())))
}
