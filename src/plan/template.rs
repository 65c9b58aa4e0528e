//! The system VM template steps: the seeding of secondary storage (`template::fetch`, with the template
//! id from the profile or the id a fresh database gives it, so it needs no database), then the database
//! row, once setup-databases created it. From 4.20 the management package bundles the template: the seed
//! then waits for that package and copies its file, downloading nothing; before 4.20, or with an explicit
//! `template.url`, it downloads, overlapping with the package installs.

use std::path::PathBuf;

use crate::action::mount::OnNfsMount;
use crate::action::Action;
use crate::platform::Release;
use crate::profile::Profile;
use crate::template::actions::{RecordTemplate, SeedTemplate};
use crate::template::ChecksumSpec;

use super::builder::{Builder, Lane, StepId};
use super::Lanes;

/// The SYSTEM KVM template's id in a freshly created 4.x database (upstream's lookup gives it too).
pub const FRESH_DATABASE_ID: u32 = 3;

/// The template lane: on a running management server, seeded into the local export once its directory
/// exists (and, when the management package bundles the template, once that package is in), else, with
/// secondary storage on another host, through a mount of that export once the NFS client (which comes
/// with the management packages) is in.
pub(super) fn lane(b: &mut Builder, l: &Lanes) {
    let (profile, release) = (l.input.profile, l.input.release);
    let Some(nfs) = &profile.nfs else { return };
    if !b.has(StepId::ManagementPackages) {
        return;
    }
    if b.has(StepId::StorageDirs) {
        let mut after = vec![StepId::StorageDirs];
        if bundled_dir(profile, release).is_some() {
            after.push(StepId::ManagementPackages);
        }
        steps(b, l, PathBuf::from(&nfs.secondary), None, &after);
    } else {
        let source = format!("{}:{}", nfs.server, nfs.secondary);
        steps(b, l, PathBuf::from(&nfs.secondary_mount), Some(source), &[StepId::ManagementPackages]);
    }
}

/// The package's template directory to seed from: the release's (4.20+), unless the profile names a URL.
fn bundled_dir(profile: &Profile, release: &Release) -> Option<PathBuf> {
    let explicit = profile.template.as_ref().is_some_and(|t| t.url.is_some());
    release.template.bundled_dir.filter(|_| !explicit).map(PathBuf::from)
}

/// The seed and, once setup-databases ran (with root's password), the row; each inside a mount of
/// `mount` at `dest` when given.
fn steps(b: &mut Builder, l: &Lanes, dest: PathBuf, mount: Option<String>, seed_after: &[StepId]) {
    let (profile, release) = (l.input.profile, l.input.release);
    let wrap = |a: Box<dyn Action>| -> Box<dyn Action> {
        match &mount {
            Some(source) => Box::new(OnNfsMount { source: source.clone(), target: dest.clone(), inner: a }),
            None => a,
        }
    };
    let t = profile.template.clone().unwrap_or(crate::profile::Template { url: None, checksum: None, id: None });
    let url = t.url.unwrap_or_else(|| release.template.url.to_string());
    let checksum = match (&t.checksum, release.template.checksum_url) {
        (Some(c), _) => c.parse().map(ChecksumSpec::Given).unwrap_or(ChecksumSpec::Probe),
        (None, Some(list)) => ChecksumSpec::File(list.to_string()),
        (None, None) => ChecksumSpec::Probe,
    };
    let id = t.id.unwrap_or(FRESH_DATABASE_ID);
    let bundled = bundled_dir(profile, release);
    let seed = SeedTemplate { url: url.clone(), bundled, dest: dest.clone(), id, checksum, allow_http: profile.cloudstack.allow_http };
    b.add_boxed(Lane::Template, Some(StepId::TemplateSeed), wrap(Box::new(seed)), seed_after);
    if let (true, Some(root)) = (b.has(StepId::SetupDatabases), &l.input.secrets.db_root) {
        let record = RecordTemplate { dest: dest.clone(), id, url, root_password: root.clone(), host: l.conn.host.clone(), port: l.conn.port };
        b.add_boxed(Lane::Template, Some(StepId::TemplateRow), wrap(Box::new(record)), &[StepId::TemplateSeed, StepId::SetupDatabases]);
    }
}
