//! The template id, found the way upstream's `cloud-install-sys-tmplt` finds it (the newest SYSTEM KVM
//! row of `cloud.vm_template`), and the row's uuid/url update once the template is in place.
//! Through the one database client (`crate::db`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::db::{Client, Login};

/// How to reach the CloudStack database.
#[derive(Clone, Default)]
pub struct DbOptions {
    /// Host name or address; "localhost" uses the unix socket, as the mysql client does.
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    /// Unix socket, when not the client's default.
    pub socket: Option<PathBuf>,
    /// The CloudStack database; "cloud" unless tests need their own.
    pub database: String,
    /// The client program (default "mysql").
    pub client: String,
}

impl std::fmt::Debug for DbOptions {
    // The password never reaches a log or an error.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .field("socket", &self.socket)
            .field("database", &self.database)
            .finish()
    }
}

impl DbOptions {
    /// Upstream's defaults: root on localhost, database `cloud`.
    pub fn local_root() -> DbOptions {
        DbOptions {
            host: "localhost".into(),
            port: 3306,
            user: "root".into(),
            password: None,
            socket: None,
            database: "cloud".into(),
            client: "mysql".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database name {0:?} is not a plain identifier (letters, digits, _)")]
    Name(String),
    #[error("{0}")]
    Client(crate::db::DbError),
    #[error("{db}.vm_template has no SYSTEM KVM template row (is the CloudStack database set up?); give the id with --id")]
    NoRow { db: String },
    #[error("unexpected answer from the database: {0:?}")]
    Answer(String),
    #[error("{db}.vm_template has no row with id {id}")]
    NoSuchId { db: String, id: u32 },
}

use crate::mysql_text::sql_string as sql_quote;

impl DbOptions {
    fn check_name(&self) -> Result<(), DbError> {
        let ok = !self.database.is_empty() && self.database.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok { Ok(()) } else { Err(DbError::Name(self.database.clone())) }
    }

    /// Run `sql`; the answer's rows, tab-separated.
    fn query(&self, sql: &str) -> Result<String, DbError> {
        self.check_name()?;
        let login = Login { user: self.user.clone(), password: self.password.clone(), host: self.host.clone(), port: self.port, socket: self.socket.clone(), tcp: false };
        // The option file in the host's private secret directory (never a shared /tmp), removed when dropped.
        let mut client = Client::new(login, Path::new("/"));
        client.mysql = self.client.clone();
        client.timeout = Duration::from_secs(60);
        client.query(sql).map_err(DbError::Client)
    }

    /// The id upstream seeds: `select max(id) ... where type = "SYSTEM" and hypervisor_type = "KVM" and removed is null`.
    pub fn system_template_id(&self) -> Result<u32, DbError> {
        let out = self.query(&format!(
            "select max(id) from `{}`.vm_template where type = 'SYSTEM' and hypervisor_type = 'KVM' and removed is null",
            self.database
        ))?;
        let v = out.trim();
        if v.is_empty() || v == "NULL" {
            return Err(DbError::NoRow { db: self.database.clone() });
        }
        v.parse().map_err(|_| DbError::Answer(v.to_string()))
    }

    /// Whether row `id` exists (a given `--id` is checked before the download, not after it).
    pub fn require_row(&self, id: u32) -> Result<(), DbError> {
        let out = self.query(&format!("select count(*) from `{}`.vm_template where id = {id}", self.database))?;
        match out.trim() {
            "0" => Err(DbError::NoSuchId { db: self.database.clone(), id }),
            "1" => Ok(()),
            other => Err(DbError::Answer(other.to_string())),
        }
    }

    /// Point the row at the seeded file, as upstream does: its uuid and the URL it came from.
    pub fn record_template(&self, id: u32, uuid: &str, url: &str) -> Result<(), DbError> {
        let out = self.query(&format!(
            "update `{db}`.vm_template set uuid = {u}, url = {l} where id = {id}; select count(*) from `{db}`.vm_template where id = {id} and uuid = {u}",
            db = self.database,
            u = sql_quote(uuid),
            l = sql_quote(url),
        ))?;
        match out.trim() {
            "1" => Ok(()),
            "0" => Err(DbError::NoSuchId { db: self.database.clone(), id }),
            other => Err(DbError::Answer(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sql_quote("a'b\\c"), "'a''b\\\\c'");
        let mut o = DbOptions::local_root();
        o.database = "cloud; drop".into();
        assert!(matches!(o.check_name(), Err(DbError::Name(_))));
        o.password = Some("hunter2".into());
        assert!(!format!("{o:?}").contains("hunter2"));
    }
}
