//! The one database client: SQL, row counts, and streamed dumps and loads through the `mysql` and
//! `mysqldump` programs, run by [`crate::run`]. Credentials reach them only through a 0600 option file
//! (`--defaults-extra-file`, in the root's private secret directory) and SQL through stdin, so no password is
//! ever on a command line; errors come back cut and scrubbed of quoted text (`mysql_text::client_error`).
//! The install's actions, reset and restore, uninstall and the template's row update all talk through it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mysql_text::{option_value, sql_ident, sql_string};
use crate::run::{Cmd, Output, Redactor, RunError, SecretFile};

/// Rows per table.
pub type RowCounts = BTreeMap<String, u64>;

/// How to log in.
#[derive(Clone, Default)]
pub struct Login {
    pub user: String,
    /// None: no password (root over the local socket, as Debian's MariaDB and Ubuntu's MySQL set it up).
    pub password: Option<String>,
    /// "localhost" means the local socket, as the clients take it.
    pub host: String,
    pub port: u16,
    /// The local socket, when not the client's compiled-in one.
    pub socket: Option<PathBuf>,
    /// Force TCP (what CloudStack itself does; "localhost" then means 127.0.0.1).
    pub tcp: bool,
}

impl std::fmt::Debug for Login {
    // The password never reaches a log or an error.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("socket", &self.socket)
            .field("tcp", &self.tcp)
            .finish()
    }
}

impl Login {
    /// This host's root over the local socket, without password.
    pub fn local_root() -> Login {
        Login { user: "root".into(), password: None, host: "localhost".into(), port: 3306, socket: None, tcp: false }
    }

    /// The `[client]` section of the option file.
    fn option_text(&self) -> String {
        let host = if self.tcp && self.host == "localhost" { "127.0.0.1" } else { self.host.as_str() };
        let mut s = format!("[client]\nuser={}\nhost={}\nport={}\n", option_value(&self.user), option_value(host), self.port);
        if let Some(pw) = &self.password {
            s.push_str(&format!("password={}\n", option_value(pw)));
        }
        if self.tcp {
            s.push_str("protocol=TCP\n");
        } else if let Some(sock) = &self.socket {
            s.push_str(&format!("socket={}\n", option_value(&sock.to_string_lossy())));
        }
        s
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not write the client's option file: {0}")]
    OptionFile(std::io::Error),
    #[error("{0}")]
    Run(#[from] RunError),
    /// The client or the server refused (the message cut and scrubbed).
    #[error("{program} failed: {message}")]
    Refused { program: &'static str, message: String },
    #[error("reading the input: {0}")]
    Input(std::io::Error),
    #[error("writing the output: {0}")]
    Output(std::io::Error),
    #[error("unexpected answer from the database: {0}")]
    Answer(String),
}

/// A login, and where and how its clients run.
#[derive(Debug, Clone)]
pub struct Client {
    pub login: Login,
    /// The root below which the option file goes (`<root>/run/cloudstrap`).
    pub secret_root: PathBuf,
    /// Run the clients in `chroot DIR` (the option file is then given by its path inside).
    pub chroot: Option<PathBuf>,
    /// Extra environment for the clients.
    pub env: Vec<(String, String)>,
    /// The `mysql` program (tests give their own).
    pub mysql: String,
    pub timeout: Duration,
    pub redactor: Redactor,
}

impl Client {
    /// Clients of this host (not in a chroot), their option files below `root`.
    pub fn new(login: Login, root: &Path) -> Client {
        let mut redactor = Redactor::default();
        if let Some(pw) = &login.password {
            redactor.add(pw.clone());
        }
        Client { login, secret_root: root.to_path_buf(), chroot: None, env: vec![], mysql: "mysql".into(), timeout: Duration::from_secs(600), redactor }
    }

    /// The command for `program` with the option file first (the clients require it first).
    fn cmd(&self, program: &str, cnf: &SecretFile) -> Cmd {
        let path = if self.chroot.is_some() { cnf.inner_path() } else { cnf.host_path() };
        let mut c = Cmd::new(program).arg(format!("--defaults-extra-file={}", path.display())).timeout(self.timeout);
        c.chroot = self.chroot.clone();
        c.env = self.env.clone();
        c
    }

    fn option_file(&self, hint: &str) -> Result<SecretFile, DbError> {
        SecretFile::create(&self.secret_root, hint, self.login.option_text().as_bytes()).map_err(DbError::OptionFile)
    }

    /// Run `sql` (fed on stdin) whatever its outcome: the client's output and status.
    pub fn run(&self, sql: &str) -> Result<Output, DbError> {
        let cnf = self.option_file("mysql-client")?;
        let cmd = self.cmd(&self.mysql, &cnf).args(["--batch", "--skip-column-names", "--connect-timeout=10"]).stdin_bytes(sql.as_bytes().to_vec());
        Ok(cmd.run(&self.redactor)?)
    }

    /// Run `sql`; its rows, tab-separated, or the refusal, cut and scrubbed.
    pub fn query(&self, sql: &str) -> Result<String, DbError> {
        let out = self.run(sql)?;
        if out.status != 0 {
            return Err(DbError::Refused { program: "mysql", message: crate::mysql_text::client_error(&format!("{}{}", out.stdout, out.stderr)) });
        }
        Ok(out.stdout)
    }

    /// Rows per base table of `db`, all counted in one consistent snapshot (InnoDB's, as mysqldump
    /// `--single-transaction` reads).
    pub fn table_rows(&self, db: &str) -> Result<RowCounts, DbError> {
        let tables = self.query(&format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = {} AND table_type = 'BASE TABLE' ORDER BY table_name;",
            sql_string(db)
        ))?;
        let names: Vec<&str> = tables.lines().filter(|l| !l.is_empty()).collect();
        let mut sql = String::from("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ;\nSTART TRANSACTION WITH CONSISTENT SNAPSHOT;\n");
        for t in &names {
            sql.push_str(&format!("SELECT COUNT(*) FROM {}.{};\n", sql_ident(db), sql_ident(t)));
        }
        sql.push_str("COMMIT;\n");
        let counts = self.query(&sql)?;
        let counts: Vec<&str> = counts.lines().collect();
        if counts.len() != names.len() {
            return Err(DbError::Answer(format!("{} row counts for {} tables", counts.len(), names.len())));
        }
        let mut out = RowCounts::new();
        for (t, n) in names.iter().zip(counts) {
            out.insert(t.to_string(), n.trim().parse().map_err(|_| DbError::Answer(format!("not a count: {n:?}")))?);
        }
        Ok(out)
    }

    /// `mysqldump` of database `db` (one transaction, routines, triggers, events), streamed into `out`.
    pub fn dump(&self, db: &str, out: &mut dyn Write) -> Result<(), DbError> {
        let cnf = self.option_file("mysqldump")?;
        let cmd = self.cmd("mysqldump", &cnf).args(["--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--databases", db]);
        let s = cmd.stream(&self.redactor, None, out)?;
        if let Some(e) = s.output_error {
            return Err(DbError::Output(e));
        }
        if s.status != 0 {
            return Err(DbError::Refused { program: "mysqldump", message: crate::mysql_text::client_error(&s.stderr) });
        }
        Ok(())
    }

    /// Feed SQL (a dump) from `input` to the server, streamed.
    pub fn load(&self, input: &mut (dyn Read + Send)) -> Result<(), DbError> {
        let cnf = self.option_file("mysql-load")?;
        let cmd = self.cmd(&self.mysql, &cnf).arg("--batch");
        let s = cmd.stream(&self.redactor, Some(input), &mut std::io::sink())?;
        if s.status != 0 {
            // The server repeats the failing statement, i.e. row data: only the cut, scrubbed error.
            return Err(DbError::Refused { program: "mysql", message: crate::mysql_text::client_error(&s.stderr) });
        }
        if let Some(e) = s.input_error {
            return Err(DbError::Input(e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_file_is_private_and_quotes_awkward_passwords() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let c = Client::new(Login { password: Some("a\"b\\c#d e'f".into()), ..Login::local_root() }, root.path());
        let f = c.option_file("t").unwrap();
        assert_eq!(std::fs::metadata(f.host_path()).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(f.host_path().starts_with(root.path().join("run/cloudstrap")));
        let text = std::fs::read_to_string(f.host_path()).unwrap();
        assert!(text.contains(r#"password="a\"b\\c#d e'f""#), "{text}");
        assert!(!text.contains("protocol"), "{text}");
    }

    #[test]
    fn tcp_logins_go_to_the_loopback_address_not_the_socket() {
        let l = Login { tcp: true, socket: Some("/run/x.sock".into()), ..Login::local_root() };
        let t = l.option_text();
        assert!(t.contains("host=\"127.0.0.1\"") && t.contains("protocol=TCP") && !t.contains("socket="), "{t}");
        assert_eq!(format!("{:?}", Login { password: Some("pw-9".into()), ..l }).contains("pw-9"), false);
    }
}
