//! Profile v1: model, loading with full validation, secrets, JSON Schema.
//!
//! `load` reports every problem of a file at once, each as `FILE:LINE:COL: key.path: what is wrong and what
//! is expected`, and never echoes a secret: toml's own error text (which quotes the source line) is never shown.
mod model;
pub mod regular_file;
mod resolved;
pub mod rules;
mod secrets;
mod shape;
pub mod spans;
mod validate;


pub use model::*;
pub use resolved::{ResolveError, Resolved};
pub use secrets::{inline_secret_keys, Secret, SecretError, Secrets};
pub use validate::{is_secret_key, secret_refs, validate, SecretRef};

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spans::SpanIndex;

/// One problem, by key path; `span` when the position is already known (syntax and shape problems).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: String,
    pub span: Option<Range<usize>>,
    pub message: String,
    /// The key is absent: reported at the table that lacks it.
    pub missing: bool,
}

impl Problem {
    pub fn new(path: &str, message: String) -> Problem {
        Problem { path: path.to_string(), span: None, message, missing: false }
    }
    pub fn at(path: &str, span: Range<usize>, message: String) -> Problem {
        Problem { path: path.to_string(), span: Some(span), message, missing: false }
    }
}

/// A problem placed in its file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Located {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}: {}", self.file.display(), self.line, self.col, self.path, self.message)
    }
}

/// Where a loaded profile came from; lets later steps place their errors at the right line.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: PathBuf,
    pub spans: Arc<SpanIndex>,
}

impl PartialEq for Origin {
    /// Two profiles are equal by content, wherever they were read from.
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{}: cannot read the profile: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", lines(.problems))]
    Invalid { problems: Vec<Located> },
}

fn lines(problems: &[Located]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

impl ProfileError {
    pub fn problems(&self) -> &[Located] {
        match self {
            ProfileError::Invalid { problems } => problems,
            ProfileError::Read { .. } => &[],
        }
    }
}

/// Where the packages install the profile's JSON Schema (profiles the guided install saves name it in
/// taplo's `#:schema` line, so editors complete and validate them; scripts/release installs it there).
pub const INSTALLED_SCHEMA: &str = "/usr/share/doc/cloudstrap/profile.schema.json";

/// The JSON Schema of the profile (what `profile schema` prints and `check` enforces for shape).
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(Profile)
}

/// Read, parse and validate a profile file.
pub fn load(path: &Path) -> Result<Profile, ProfileError> {
    let bytes = regular_file::read(path, regular_file::PROFILE_MAX).map_err(|e| {
        let source = match e {
            regular_file::ReadError::Io(e) => e,
            other => std::io::Error::other(format!("it {other} (expected a TOML file)")),
        };
        ProfileError::Read { path: path.to_path_buf(), source }
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => load_str(&text, path),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let prefix = String::from_utf8_lossy(valid);
            let line = prefix.matches('\n').count() + 1;
            let col = prefix.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
            Err(ProfileError::Invalid {
                problems: vec![Located {
                    file: path.to_path_buf(),
                    line,
                    col,
                    path: "(file)".into(),
                    message: "invalid UTF-8 (expected a UTF-8 text file)".into(),
                }],
            })
        }
    }
}

/// Parse and validate profile text; `file` names it in messages.
pub fn load_str(text: &str, file: &Path) -> Result<Profile, ProfileError> {
    // A lone CR (old Mac line endings) ends a line for the reader, and TOML knows no such newline: read it
    // as LF. Same length, so every span and position stays right.
    let normalised;
    let text = if text.contains('\r') {
        normalised = lone_cr_as_lf(text);
        normalised.as_str()
    } else {
        text
    };
    let (doc, syntax) = toml::de::DeTable::parse_recoverable(text);
    let index = SpanIndex::new(text, &doc);
    let mut problems: Vec<Problem> = Vec::new();
    if !syntax.is_empty() {
        for e in &syntax {
            let span = e.span().unwrap_or(0..0);
            // Only the parser's message: its Display would quote the source line, which may hold a secret.
            let msg = e.message().replace('\n', "; ");
            problems.push(Problem::at(&index.path_at(span.start), span, format!("invalid TOML: {msg}")));
        }
        return Err(invalid(file, &index, problems));
    }
    let shape = shape::Shape::new();
    problems.extend(shape.check(&doc));
    let dropped: Vec<String> = problems.iter().map(|p| p.path.clone()).collect();
    let (value, placeholders) = shape.repaired(&doc, &dropped);
    let profile: Result<Profile, _> = value.try_into();
    match profile {
        Ok(mut profile) => {
            let covered = |path: &str| {
                dropped.iter().chain(&placeholders).any(|d| {
                    path == d
                        || path.starts_with(&format!("{d}."))
                        || path.starts_with(&format!("{d}["))
                        || d.starts_with(&format!("{path}["))
                })
            };
            problems.extend(validate::validate(&profile).into_iter().filter(|p| !covered(&p.path)));
            if problems.is_empty() {
                profile.origin = Some(Origin { file: file.to_path_buf(), spans: Arc::new(index) });
                return Ok(profile);
            }
        }
        Err(e) if problems.is_empty() => {
            // The schema let through something serde refused: report it without the value serde quotes.
            let (span, path) = match e.span() {
                Some(s) => (s.clone(), index.path_at(s.start)),
                None => (0..0, "(top level)".to_string()),
            };
            problems.push(Problem::at(&path, span, "has a value of the wrong type or form".to_string()));
        }
        Err(_) => {}
    }
    Err(invalid(file, &index, problems))
}

/// The most problems listed for one file; the rest are counted in one closing line.
const MAX_PROBLEMS: usize = 50;
/// The longest key path or quoted value shown in a problem.
const MAX_SHOWN: usize = 200;

fn invalid(file: &Path, index: &SpanIndex, problems: Vec<Problem>) -> ProfileError {
    let mut located: Vec<Located> = problems.into_iter().map(|p| locate(file, index, p)).collect();
    located.sort();
    located.dedup();
    if located.len() > MAX_PROBLEMS {
        let rest = located.split_off(MAX_PROBLEMS);
        let unknown = rest.iter().filter(|l| l.message.starts_with("unknown key")).count();
        let first = &rest[0];
        located.push(Located {
            file: file.to_path_buf(),
            line: first.line,
            col: first.col,
            path: "(more)".into(),
            message: format!(
                "{} more problems not shown{} (fix the ones above and check again)",
                rest.len(),
                if unknown > 0 { format!(", {unknown} of them unknown keys") } else { String::new() }
            ),
        });
    }
    ProfileError::Invalid { problems: located }
}

fn locate(file: &Path, index: &SpanIndex, p: Problem) -> Located {
    let span = p.span.clone().unwrap_or_else(|| index.value_span(&p.path));
    let pos = index.position(span.start);
    Located { file: file.to_path_buf(), line: pos.line, col: pos.col, path: cut_text(&p.path), message: cut_quoted(&p.message) }
}

/// `s` with at most MAX_SHOWN characters, saying how much was cut.
fn cut_text(s: &str) -> String {
    crate::mysql_text::cut(s, MAX_SHOWN)
}

/// A message with every "quoted" value longer than MAX_SHOWN cut (a 5 MB value is not echoed back whole).
fn cut_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(4096));
    let mut rest = msg;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..=start]);
        let after = &rest[start + 1..];
        // The closing quote: the first one not escaped by a backslash ({:?} escapes inner quotes).
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            out.push_str(&cut_text(after));
            return out;
        };
        out.push_str(&cut_text(&after[..end]));
        out.push('"');
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `text` with each CR that is not followed by LF replaced by LF.
fn lone_cr_as_lf(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() != Some(&'\n') {
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

impl Profile {
    /// Parse a profile from TOML text without validating cross-field rules (prefer `profile::load`).
    #[cfg(test)]
    pub fn from_toml_str(text: &str) -> Result<Profile, toml::de::Error> {
        toml::from_str(text)
    }

    /// The concrete roles of this host, with all-in-one expanded, in install order.
    pub fn roles(&self) -> Vec<Role> {
        Role::expand(&self.host.roles)
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles().contains(&role)
    }

    /// The DNS domain of the FQDN ("squirrel.org" for "cloud-server.squirrel.org").
    pub fn domain(&self) -> Option<&str> {
        self.host.fqdn.split_once('.').map(|(_, d)| d)
    }

    /// A message placed at `key_path` in the file this profile came from (`FILE:LINE:COL: key: message`),
    /// or `key: message` for a profile that was not read from a file.
    pub fn locate(&self, key_path: &str, message: impl Into<String>) -> String {
        let message = message.into();
        match &self.origin {
            Some(o) => locate(&o.file, &o.spans, Problem::new(key_path, message)).to_string(),
            None => format!("{key_path}: {message}"),
        }
    }

    /// The profile as TOML text (what the guided install saves).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a profile serializes to TOML")
    }
}
