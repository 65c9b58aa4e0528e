//! Quoting for the MySQL/MariaDB client: values in option files (`--defaults-extra-file`, where passwords go
//! instead of argv) and SQL literals and identifiers fed on stdin. One place, so every caller escapes alike.

/// An option-file value: double-quoted, with the escapes the client's option parser undoes.
pub fn option_value(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A single-quoted SQL string literal.
pub fn sql_string(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('\'');
    for c in v.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A backquoted SQL identifier.
pub fn sql_ident(v: &str) -> String {
    format!("`{}`", v.replace('`', "``"))
}
