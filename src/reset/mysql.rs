//! Talking to the database with the `mysql` and `mysqldump` clients; credentials go through a 0600 option
//! file (`--defaults-extra-file`) in the root's private secret directory, never argv or a shared /tmp.

use std::path::PathBuf;

use crate::run::{Cmd, Redactor, RunError, SecretFile};

/// Who connects where. A `None` password with host `localhost` is root by unix socket, as Debian's
/// MariaDB and Ubuntu's MySQL set root up.
#[derive(Debug, Clone)]
pub struct Conn {
    pub user: String,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    /// Unix socket for host `localhost` (default: the client's own).
    pub socket: Option<String>,
    /// The root whose private directory holds the option files (see `run::SecretFile`).
    pub root: PathBuf,
}

impl Conn {
    /// The 0600 option file holding this connection.
    pub fn option_file(&self) -> std::io::Result<SecretFile> {
        let mut text = format!("[client]\nuser={}\nhost={}\nport={}\n", option_value(&self.user), self.host, self.port);
        if let Some(pw) = &self.password {
            text.push_str(&format!("password={}\n", option_value(pw)));
        }
        if let Some(s) = &self.socket {
            text.push_str(&format!("socket={s}\n"));
        }
        SecretFile::create(&self.root, "mysql-client", text.as_bytes())
    }

    pub fn redactor(&self) -> Redactor {
        let mut r = Redactor::default();
        if let Some(pw) = &self.password {
            r.add(pw.clone());
        }
        r
    }

    /// Run SQL (fed on stdin) and return its tab-separated output without column names.
    pub fn query(&self, sql: &str) -> Result<String, RunError> {
        let cnf = self.option_file().map_err(|source| RunError::Spawn { program: "mysql".into(), source })?;
        let out = Cmd::new("mysql")
            .arg(format!("--defaults-extra-file={}", cnf.host_path().display()))
            .args(["--batch", "--skip-column-names"])
            .stdin_bytes(sql.as_bytes().to_vec())
            .run_ok(&self.redactor())?;
        Ok(out.stdout)
    }

    /// Rows per base table of `db`, all counted in one consistent snapshot (InnoDB's, as mysqldump
    /// `--single-transaction` reads).
    pub fn table_rows(&self, db: &str) -> Result<super::dump::RowCounts, RunError> {
        let tables = self.query(&format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = {} AND table_type = 'BASE TABLE' ORDER BY table_name;",
            sql_string(db)
        ))?;
        let mut sql = String::from("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ;\nSTART TRANSACTION WITH CONSISTENT SNAPSHOT;\n");
        let names: Vec<&str> = tables.lines().filter(|l| !l.is_empty()).collect();
        for t in &names {
            sql.push_str(&format!("SELECT COUNT(*) FROM {}.{};\n", sql_ident(db), sql_ident(t)));
        }
        sql.push_str("COMMIT;\n");
        let counts = self.query(&sql)?;
        let counts: Vec<&str> = counts.lines().collect();
        if counts.len() != names.len() {
            return Err(RunError::Failed { command: "mysql (row counts)".into(), status: 0, tail: format!("{} counts for {} tables", counts.len(), names.len()) });
        }
        let mut out = super::dump::RowCounts::new();
        for (t, n) in names.iter().zip(counts) {
            let n = n.trim().parse::<u64>().map_err(|_| RunError::Failed { command: "mysql (row counts)".into(), status: 0, tail: format!("not a count: {n:?}") })?;
            out.insert(t.to_string(), n);
        }
        Ok(out)
    }
}

pub use crate::mysql_text::{sql_ident, sql_string};
use crate::mysql_text::option_value;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_file_is_private_and_quotes_awkward_passwords() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let c = Conn { user: "root".into(), password: Some("a\"b\\c#d e'f".into()), host: "localhost".into(), port: 3306, socket: None, root: root.path().into() };
        let f = c.option_file().unwrap();
        assert_eq!(std::fs::metadata(f.host_path()).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(f.host_path().starts_with(root.path().join("run/cloudstrap")));
        let text = std::fs::read_to_string(f.host_path()).unwrap();
        assert!(text.contains(r#"password="a\"b\\c#d e'f""#), "{text}");
    }
}
