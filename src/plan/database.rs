//! Database lane: server packages, drop-in, service and, on a running system, its port, the
//! administrator login and the cloud user.

use std::path::PathBuf;
use std::time::Duration;

use super::builder::{Builder, Lane, StepId};
use super::{strs, Lanes, PlanError};
use crate::action::database::{AdminLogin, CloudUser, DbConn};
use crate::action::packages::InstallPackages;
use crate::action::service::Service;
use crate::action::wait::{Target, WaitFor};
use crate::action::Secret;
use crate::profile::Role;

pub(super) fn lane(b: &mut Builder, l: &Lanes) -> Result<(), PlanError> {
    let p = l.input.platform;
    let db_row = l.input.profile.database.as_ref();
    let server = p
        .database(db_row.and_then(|d| d.server.as_deref()))
        .ok_or_else(|| PlanError::Profile(format!("database.server: not packaged on {}", p.name)))?;
    let pk = InstallPackages { manager: l.pm(), packages: strs(server.packages), purpose: "database server".into() };
    b.add(Lane::Database, Some(StepId::DatabasePackages), pk, &[]);
    b.files(Lane::Database, &l.files_for(Some(Role::Database)), l.input.merge, &[StepId::DatabasePackages], StepId::DatabaseFiles);
    let svc = Service::run(l.init(), server.service(), vec![PathBuf::from(server.config)], l.input.live);
    b.add(Lane::Database, Some(StepId::DatabaseService), svc, &[StepId::DatabaseFiles]);
    if l.input.live {
        let port = WaitFor { target: Target::Port { host: "127.0.0.1".into(), port: l.conn.port }, timeout: Duration::from_secs(120) };
        b.add(Lane::Database, Some(StepId::DatabasePort), port, &[StepId::DatabaseService]);
        let root_pw = l.input.secrets.db_root.clone().ok_or_else(|| PlanError::Profile("database.root-password: required for the database role".into()))?;
        let login = AdminLogin { conn: l.conn.clone(), user: "root".into(), password: root_pw.clone() };
        b.add(Lane::Database, Some(StepId::DatabaseAdminLogin), login, &[StepId::DatabasePort]);
        if let Some(cloud_pw) = &l.input.secrets.db_cloud {
            b.add(Lane::Database, Some(StepId::DatabaseReady), cloud_user(l, &root_pw, cloud_pw), &[StepId::DatabaseAdminLogin]);
        }
    }
    b.alias(StepId::DatabaseReady, &[StepId::DatabaseService, StepId::DatabaseAdminLogin]);
    Ok(())
}

/// The cloud user with its grants on both CloudStack databases, from localhost and elsewhere.
pub(super) fn cloud_user(l: &Lanes, root: &Secret, cloud: &Secret) -> CloudUser {
    let conn: &DbConn = &l.conn;
    CloudUser {
        conn: conn.clone(),
        admin_user: "root".into(),
        admin_password: root.clone(),
        user: l.input.profile.database.as_ref().map(|d| d.cloud_user.clone()).unwrap_or_else(|| "cloud".into()),
        password: cloud.clone(),
        hosts: vec!["localhost".into(), "%".into()],
        databases: vec!["cloud".into(), "cloud_usage".into()],
    }
}
