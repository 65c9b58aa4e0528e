//! The confirmation: the operator types the host's name, as for other irreversible operations.

use std::io::{BufRead, IsTerminal, Write};

use super::ResetError;

/// Ok when `--yes` was given or the typed name matches; a refusal (exit 3) otherwise.
pub fn confirm(hostname: &str, yes: bool, what: &str) -> Result<(), ResetError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(ResetError::Refused(format!(
            "{what} needs confirmation and there is no terminal to ask on: run it in a terminal, or pass --yes; \
             nothing was changed"
        )));
    }
    eprint!("Type the host name ({hostname}) to {what}, anything else cancels: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| ResetError::Refused(format!("could not read the confirmation ({e}); nothing was changed")))?;
    if line.trim() == hostname {
        Ok(())
    } else {
        Err(ResetError::Refused(format!("the name typed was not {hostname}: cancelled, nothing was changed")))
    }
}
