//! Write a rendered file: the whole file is ours, or our managed block inside a file with foreign content.

use std::os::unix::fs::PermissionsExt;
use super::atomic::write_atomic;
use super::{Action, ActionError, Ctx, Record};

/// A rendered file: in-system path, content (whole, our block, or keys), mode, kind, role (see `render`).
pub use crate::render::{FileKind, Placement, RenderedFile as FileSpec};

/// The content a file ends with, given what is there now.
pub type MergeFn = fn(Option<&str>, &FileSpec) -> String;

pub struct WriteFile {
    pub spec: FileSpec,
    pub merge: MergeFn,
}

impl WriteFile {
    pub fn new(spec: FileSpec, merge: MergeFn) -> WriteFile {
        WriteFile { spec, merge }
    }

    /// A rendered file combined with what is on the host by `render::merge`.
    pub fn rendered(spec: FileSpec) -> WriteFile {
        WriteFile { spec, merge: crate::render::merge }
    }

    fn current(&self, ctx: &Ctx) -> Result<Option<(String, u32)>, ActionError> {
        let host = ctx.path(&self.spec.path);
        match std::fs::read_to_string(&host) {
            Ok(s) => {
                let mode = std::fs::metadata(&host).map_err(|e| ActionError::io(&host, e))?.permissions().mode() & 0o7777;
                Ok(Some((s, mode)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ActionError::io(host, e)),
        }
    }

    /// The mode the file should have: ours for a whole file; a file with foreign content keeps its own.
    fn wanted_mode(&self, current: Option<u32>) -> u32 {
        match (&self.spec.kind, current) {
            (FileKind::Whole, _) | (_, None) => self.spec.mode,
            (_, Some(m)) => m,
        }
    }
}

impl Action for WriteFile {
    fn id(&self) -> String {
        format!("file:{}", self.spec.path.display())
    }

    fn describe(&self) -> String {
        let what = if self.spec.what.is_empty() { String::new() } else { format!(" ({})", self.spec.what) };
        match self.spec.kind {
            FileKind::Whole => format!("Write {}{what}", self.spec.path.display()),
            FileKind::ManagedBlock(_) => format!("Write the managed block in {}{what}", self.spec.path.display()),
            FileKind::Keys => format!("Set keys in {}{what}", self.spec.path.display()),
        }
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(match self.current(ctx)? {
            Some((text, mode)) => (self.merge)(Some(&text), &self.spec) == text && mode == self.wanted_mode(Some(mode)),
            None => false,
        })
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.undo = super::undo::for_file(ctx, &self.spec.path)?;
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        let current = self.current(ctx)?;
        let text = (self.merge)(current.as_ref().map(|(t, _)| t.as_str()), &self.spec);
        let mode = self.wanted_mode(current.map(|(_, m)| m));
        write_atomic(&ctx.path(&self.spec.path), text.as_bytes(), mode)
    }

}
