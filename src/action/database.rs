//! Database provisioning through the one database client (`crate::db`: credentials in 0600 option files,
//! SQL on stdin, so no password reaches argv).
//! - [`AdminLogin`]: make the administrator (root) log in with a password over TCP, as
//!   `cloudstack-setup-databases --deploy-as=root:PW` does, also where root authenticates by socket only
//!   (MySQL 8 on Ubuntu: auth_socket; MariaDB: unix_socket).
//! - [`CloudUser`]: the `cloud` user, its password, and the grants CloudStack needs, PROCESS included.

use std::path::PathBuf;

use crate::db::{Client, DbError, Login};
use crate::mysql_text::{sql_ident, sql_string};
use super::undo::Undo;
use super::{Action, ActionError, Ctx, Record, Secret};
use crate::run::Output;

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct DbConn {
    pub host: String,
    pub port: u16,
    /// Local socket for the administrator's socket login (default: the client's compiled-in socket).
    pub socket: Option<PathBuf>,
}

enum Via<'a> {
    /// TCP with a user and password: what CloudStack itself does.
    Password(&'a str, &'a Secret),
    /// The local socket as the OS user (root), without password.
    Socket(&'a str),
}

impl DbConn {
    /// The one database client (`crate::db`) for `via`, its commands run as this context runs them (in
    /// `chroot` for an image root), its secrets redacted with the context's.
    fn client(&self, ctx: &Ctx, via: &Via) -> Client {
        let login = match via {
            Via::Password(user, pw) => Login {
                user: user.to_string(),
                password: Some(pw.expose().to_string()),
                host: self.host.clone(),
                port: self.port,
                socket: None,
                tcp: true,
            },
            Via::Socket(user) => Login { user: user.to_string(), socket: self.socket.clone(), ..Login::local_root() },
        };
        let mut c = Client::new(login, ctx.secret_root());
        c.chroot = ctx.chroot.clone();
        c.env = ctx.env.clone();
        c.redactor.extend(&ctx.redactor);
        c
    }

    /// Run SQL (fed on stdin); Ok with the client's output whatever its status.
    fn sql(&self, ctx: &Ctx, via: &Via, sql: &str) -> Result<Output, ActionError> {
        self.client(ctx, via).run(sql).map_err(db_error)
    }

    /// The database server of this host, reached over its local socket.
    pub fn local() -> DbConn {
        DbConn { host: "localhost".into(), port: 3306, socket: None }
    }

    /// Run `sql` as root over the local socket (how a host's own root logs in without a password).
    pub fn root_socket_sql(&self, ctx: &Ctx, sql: &str) -> Result<(), ActionError> {
        self.sql_ok(ctx, &Via::Socket("root"), sql).map(|_| ())
    }

    /// Whether database `name` exists, asked as `user` over TCP.
    pub fn database_exists(&self, ctx: &Ctx, user: &str, password: &Secret, name: &str) -> Result<bool, ActionError> {
        let q = format!("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = {};", sql_string(name));
        Ok(self.sql_ok(ctx, &Via::Password(user, password), &q)?.stdout.trim() == "1")
    }

    fn sql_ok(&self, ctx: &Ctx, via: &Via, sql: &str) -> Result<Output, ActionError> {
        let out = self.sql(ctx, via, sql)?;
        if out.status != 0 {
            return Err(ActionError::Failed(format!("the database refused the change: {}", crate::mysql_text::client_error(&out.tail(5)))));
        }
        Ok(out)
    }
}

fn db_error(e: DbError) -> ActionError {
    match e {
        DbError::Run(r) => r.into(),
        e => ActionError::Failed(e.to_string()),
    }
}

pub struct AdminLogin {
    pub conn: DbConn,
    /// The administrator account ("root").
    pub user: String,
    pub password: Secret,
}

impl Action for AdminLogin {
    fn id(&self) -> String {
        format!("db-admin-login:{}", self.user)
    }

    fn describe(&self) -> String {
        format!("Let database user {} log in with its password over TCP ({}:{})", self.user, self.conn.host, self.conn.port)
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(self.conn.sql(ctx, &Via::Password(&self.user, &self.password), "SELECT 1;")?.status == 0)
    }

    fn prepare(&self, _ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.undo = vec![Undo::Kept { what: format!("the password login of database user {}", self.user) }];
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let sock = Via::Socket("root");
        let version = self.conn.sql(ctx, &sock, "SELECT VERSION();")?;
        if version.status != 0 {
            return Err(ActionError::Failed(format!(
                "cannot log in to the database as {}: its password is refused over TCP and root cannot log in over the local socket \
                 (give the current root password as database.root-password): {}",
                self.user,
                version.tail(3)
            )));
        }
        let account = format!("{}@'localhost'", sql_string(&self.user));
        let pw = sql_string(self.password.expose());
        // Keep socket login working where the server allows both (MariaDB); MySQL 8 takes one plugin.
        let sql = if version.stdout.contains("MariaDB") {
            format!("ALTER USER {account} IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD({pw});\n")
        } else {
            format!("ALTER USER {account} IDENTIFIED WITH caching_sha2_password BY {pw};\n")
        };
        self.conn.sql_ok(ctx, &sock, &sql)?;
        record.note = Some(format!("{} now also logs in with a password", self.user));
        Ok(())
    }

}

pub struct CloudUser {
    pub conn: DbConn,
    pub admin_user: String,
    pub admin_password: Secret,
    pub user: String,
    pub password: Secret,
    /// Host parts of the account ("localhost", "%").
    pub hosts: Vec<String>,
    /// Databases it owns ("cloud", "cloud_usage").
    pub databases: Vec<String>,
}

impl CloudUser {
    fn admin(&self) -> Via<'_> {
        Via::Password(&self.admin_user, &self.admin_password)
    }

    fn account(&self, host: &str) -> String {
        format!("{}@{}", sql_string(&self.user), sql_string(host))
    }

    fn existing_hosts(&self, ctx: &Ctx) -> Result<Vec<String>, ActionError> {
        let out = self.conn.sql_ok(ctx, &self.admin(), &format!("SELECT host FROM mysql.user WHERE user = {};", sql_string(&self.user)))?;
        Ok(out.stdout.lines().map(|l| l.trim().to_string()).collect())
    }

    fn grants_ok(&self, grants: &str) -> bool {
        let lines: Vec<&str> = grants.lines().collect();
        let global = lines.iter().any(|l| {
            l.contains(" ON *.* TO ") && (l.contains("ALL PRIVILEGES") || l.split(" ON ").next().unwrap_or("").contains("PROCESS"))
        });
        let dbs = self.databases.iter().all(|d| lines.iter().any(|l| l.contains(&format!("GRANT ALL PRIVILEGES ON {}.*", sql_ident(d)))));
        global && dbs
    }
}

impl Action for CloudUser {
    fn id(&self) -> String {
        format!("db-user:{}", self.user)
    }

    fn describe(&self) -> String {
        format!(
            "Database user {} at {} with all privileges on {} and PROCESS",
            self.user,
            self.hosts.join(", "),
            self.databases.join(", ")
        )
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        let existing = self.existing_hosts(ctx)?;
        for h in &self.hosts {
            if !existing.contains(h) {
                return Ok(false);
            }
            let g = self.conn.sql(ctx, &self.admin(), &format!("SHOW GRANTS FOR {};", self.account(h)))?;
            if g.status != 0 || !self.grants_ok(&g.stdout) {
                return Ok(false);
            }
        }
        // The password is the profile's: the user itself can log in.
        Ok(self.conn.sql(ctx, &Via::Password(&self.user, &self.password), "SELECT 1;")?.status == 0)
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let existing = self.existing_hosts(ctx)?;
        record.added = self.hosts.iter().filter(|h| !existing.contains(h)).cloned().collect();
        if !record.added.is_empty() {
            record.undo = vec![Undo::DropDbUsers { accounts: record.added.iter().map(|h| self.account(h)).collect() }];
        }
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        let pw = sql_string(self.password.expose());
        let mut sql = String::new();
        for h in &self.hosts {
            let acc = self.account(h);
            sql.push_str(&format!("CREATE USER IF NOT EXISTS {acc} IDENTIFIED BY {pw};\nALTER USER {acc} IDENTIFIED BY {pw};\n"));
            for d in &self.databases {
                sql.push_str(&format!("GRANT ALL PRIVILEGES ON {}.* TO {acc};\n", sql_ident(d)));
            }
            // CloudStack reads the process list (apache/cloudstack#8240).
            sql.push_str(&format!("GRANT PROCESS ON *.* TO {acc};\n"));
        }
        self.conn.sql_ok(ctx, &self.admin(), &sql)?;
        Ok(())
    }

}

/// The cloud user's grants checked again after setup-databases, which recreates the user with its own
/// grants, without PROCESS (a distinct step id from the first).
pub struct CloudUserAgain(pub CloudUser);

impl Action for CloudUserAgain {
    fn id(&self) -> String {
        format!("{}:after-setup", self.0.id())
    }
    fn describe(&self) -> String {
        format!("{} (again after setup-databases)", self.0.describe())
    }
    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        self.0.is_done(ctx)
    }
    fn prepare(&self, ctx: &Ctx, r: &mut Record) -> Result<(), ActionError> {
        self.0.prepare(ctx, r)
    }
    fn execute(&self, ctx: &Ctx, r: &mut Record) -> Result<(), ActionError> {
        self.0.execute(ctx, r)
    }
}
