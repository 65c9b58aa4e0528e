//! Management lane: packages, files, the generated keys, and on a running system setup-databases
//! (after the database lane), the cloud user's grants again, setup-management and the API answering.
//! Both setup commands talk to the database server (and setup-management to the service manager): in
//! an image root they are left for the booted host, or a chroot would reach the build host's own server
//! through the shared network.

use std::path::PathBuf;
use std::time::Duration;

use super::builder::{Builder, Lane, StepId};
use super::{strs, Lanes, PlanError, DATABASE_KEY_FILE, MANAGEMENT_KEY_FILE};
use crate::action::database::CloudUserAgain;
use crate::action::file::{FileKind, FileSpec, WriteFile};
use crate::action::packages::InstallPackages;
use crate::action::setup::{Arg, Recreate, SetupCommand};
use crate::action::wait::{Target, WaitFor};
use crate::action::Secret;
use crate::profile::Role;

pub(super) fn lane(b: &mut Builder, l: &Lanes) -> Result<(), PlanError> {
    let input = l.input;
    let profile = input.profile;
    let mut pkgs = strs(input.platform.management.packages);
    pkgs.extend(strs(input.release.management.packages));
    let pk = InstallPackages { manager: l.pm(), packages: pkgs, purpose: "management server".into() };
    b.add(Lane::Management, Some(StepId::ManagementPackages), pk, &[StepId::Repository]);
    b.files(Lane::Management, &l.files_for(Some(Role::Management)), input.merge, &[StepId::ManagementPackages], StepId::ManagementFiles);
    let cloud_pw = input.secrets.db_cloud.clone().ok_or_else(|| PlanError::Profile("database.cloud-password: required for the management role".into()))?;
    let mgmt_key = match &input.secrets.management_key {
        Some(k) => k.clone(),
        None => {
            b.add(Lane::Management, Some(StepId::ManagementKey), secret_file(MANAGEMENT_KEY_FILE, &input.generated_keys.management), &[]);
            input.generated_keys.management.clone()
        }
    };
    let db_key = match &input.secrets.database_key {
        Some(k) => k.clone(),
        None => {
            b.add(Lane::Management, Some(StepId::DatabaseKey), secret_file(DATABASE_KEY_FILE, &input.generated_keys.database), &[]);
            input.generated_keys.database.clone()
        }
    };
    if !input.live {
        return Ok(());
    }
    let conn = &l.conn;
    let conf_dir = PathBuf::from(input.release.paths.management_conf_dir);
    let host_ip = profile.host.ip().to_string();
    let mut args = vec![Arg::Secret(Secret::new(format!(
        "{}:{}@{}{}",
        profile.database.as_ref().map(|d| d.cloud_user.as_str()).unwrap_or("cloud"),
        cloud_pw.expose(),
        conn.host,
        if conn.port == 3306 { String::new() } else { format!(":{}", conn.port) }
    )))];
    match &input.secrets.db_root {
        Some(root) => args.push(Arg::Secret(Secret::new(format!("--deploy-as=root:{}", root.expose())))),
        None => args.push(Arg::Plain("--schema-only".into())),
    }
    args.extend([Arg::Plain("-e".into()), Arg::Plain("file".into()), Arg::Plain("-m".into()), Arg::Secret(mgmt_key)]);
    args.extend([Arg::Plain("-k".into()), Arg::Secret(db_key), Arg::Plain("-i".into()), Arg::Plain(host_ip)]);
    let recreate = match (&input.secrets.db_root, input.release.force_recreate) {
        (Some(root), true) => Some(Recreate {
            conn: conn.clone(),
            user: "root".into(),
            password: root.clone(),
            database: "cloud".into(),
            flag: "--force-recreate".into(),
        }),
        _ => None,
    };
    let setup_databases = SetupCommand {
        program: input.release.commands.setup_databases.into(),
        args,
        creates: vec![conf_dir.join("db.properties"), conf_dir.join("key")],
        success_text: Some("successfully initialized database".into()),
        timeout: Duration::from_secs(1800),
        recreate,
    };
    let waits = [StepId::ManagementFiles, StepId::DatabaseReady, StepId::ManagementKey, StepId::DatabaseKey];
    b.add(Lane::Management, Some(StepId::SetupDatabases), setup_databases, &waits);
    if let (true, Some(root)) = (l.has(Role::Database), &input.secrets.db_root) {
        // setup-databases recreates the cloud user with its own grants, without PROCESS.
        let again = CloudUserAgain(super::database::cloud_user(l, root, &cloud_pw));
        b.add(Lane::Management, Some(StepId::CloudUserRegranted), again, &[StepId::SetupDatabases]);
    }
    b.alias(StepId::DatabaseSetUp, &[StepId::CloudUserRegranted, StepId::SetupDatabases]);
    let mut margs = vec![];
    if profile.management.as_ref().is_some_and(|m| m.https) {
        margs.push(Arg::Plain("--https".into()));
    }
    let setup_management = SetupCommand {
        program: input.release.commands.setup_management.into(),
        args: margs,
        creates: vec![],
        success_text: Some("Management Server setup is Done".into()),
        timeout: Duration::from_secs(1800),
        recreate: None,
    };
    b.add(Lane::Management, Some(StepId::SetupManagement), setup_management, &[StepId::DatabaseSetUp, StepId::Firewall]);
    let api = WaitFor { target: Target::Url("http://127.0.0.1:8080/client/api".into()), timeout: Duration::from_secs(900) };
    b.add(Lane::Management, Some(StepId::ManagementApi), api, &[StepId::SetupManagement]);
    Ok(())
}

fn secret_file(path: &str, value: &Secret) -> WriteFile {
    fn whole(_: Option<&str>, spec: &FileSpec) -> String {
        spec.content.clone()
    }
    let spec = FileSpec {
        path: path.into(),
        content: format!("{}\n", value.expose()),
        mode: 0o600,
        kind: FileKind::Whole,
        role: None,
        what: "generated key".into(),
    };
    WriteFile::new(spec, whole)
}
