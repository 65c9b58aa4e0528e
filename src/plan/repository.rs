//! Repository lane (management and kvm-agent): the CloudStack repository file and, on apt, its key.

use std::path::Path;

use super::builder::{Builder, Lane, StepId};
use super::Lanes;
use crate::action::file::FileSpec;
use crate::action::repo::{ConfigureRepo, RepoKey};
use crate::platform::RepoForm;

pub(super) fn lane(b: &mut Builder, l: &Lanes) {
    let key = match l.input.platform.repo {
        RepoForm::Yum { .. } => None,
        RepoForm::Apt { keyring, .. } => Some(RepoKey {
            source: l.input.profile.cloudstack.gpg_key.clone().unwrap_or_else(|| "https://download.cloudstack.org/release.asc".into()),
            dest: keyring.into(),
        }),
    };
    let files: Vec<FileSpec> = l.input.files.iter().filter(|f| f.path == Path::new(l.repo_path)).cloned().collect();
    b.files(Lane::Repository, &files, l.input.merge, &[StepId::BasePackages], StepId::RepositoryFile);
    let repo = ConfigureRepo { name: "cloudstack".into(), manager: l.pm(), repo_file: l.repo_path.into(), key };
    b.add(Lane::Repository, Some(StepId::Repository), repo, &[StepId::RepositoryFile]);
}
