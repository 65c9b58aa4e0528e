//! Talking to the database with the `mysql` and `mysqldump` clients; credentials go through a 0600 option
//! file (`--defaults-extra-file`), never argv.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use tempfile::NamedTempFile;

use crate::run::{Cmd, Redactor, RunError};

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
}

impl Conn {
    /// The 0600 option file holding this connection.
    pub fn option_file(&self) -> std::io::Result<NamedTempFile> {
        let mut f = tempfile::Builder::new().prefix("cloudstrap-my-").suffix(".cnf").tempfile()?;
        f.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
        let mut text = format!("[client]\nuser={}\nhost={}\nport={}\n", option_value(&self.user), self.host, self.port);
        if let Some(pw) = &self.password {
            text.push_str(&format!("password={}\n", option_value(pw)));
        }
        if let Some(s) = &self.socket {
            text.push_str(&format!("socket={s}\n"));
        }
        f.write_all(text.as_bytes())?;
        f.as_file().sync_all()?;
        Ok(f)
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
            .arg(format!("--defaults-extra-file={}", cnf.path().display()))
            .args(["--batch", "--skip-column-names"])
            .stdin_bytes(sql.as_bytes().to_vec())
            .run_ok(&self.redactor())?;
        Ok(out.stdout)
    }
}

pub use crate::mysql_text::{sql_ident, sql_string};
use crate::mysql_text::option_value;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_file_is_private_and_quotes_awkward_passwords() {
        let c = Conn { user: "root".into(), password: Some("a\"b\\c#d e'f".into()), host: "localhost".into(), port: 3306, socket: None };
        let f = c.option_file().unwrap();
        assert_eq!(f.as_file().metadata().unwrap().permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert!(text.contains(r#"password="a\"b\\c#d e'f""#), "{text}");
    }
}
