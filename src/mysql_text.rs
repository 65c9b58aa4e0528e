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

/// The longest client error shown to the operator.
const ERROR_MAX: usize = 300;

/// A database client's error output made fit to show: the server repeats the failing statement in it
/// (`near '...'`) and quotes values (`Duplicate entry '...'`), which for a restore are rows of `cloud.user`
/// with API keys and password hashes. Keeps the `ERROR`/`Got error` lines (or else the last line), withholds
/// every quoted text and cuts each line, so what is left is the error number, the dump line and the
/// message.
pub fn client_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut keep: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("ERROR") || l.contains("error:") || l.contains("Got error")).collect();
    if keep.is_empty() {
        keep.extend(lines.last());
    }
    let shown: Vec<String> = keep.iter().take(3).map(|l| cut(&withhold_quoted(l), ERROR_MAX)).collect();
    let mut out = shown.join(" / ");
    if lines.len() > shown.len() {
        out.push_str(&format!(" ({} more lines of client output withheld)", lines.len() - shown.len()));
    }
    out
}

/// `text` with the content of every '...' and "..." quote replaced (a quote left open runs to the end). A
/// quote opens only after a non-word character, so "Can't connect" stays readable; backslash escapes
/// inside a quote are skipped, as the server writes them.
fn withhold_quoted(text: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let (mut escaped, mut prev) = (false, ' ');
    for c in text.chars() {
        match quote {
            None if (c == '\'' || c == '"') && !prev.is_alphanumeric() => {
                quote = Some(c);
                out.push(c);
                out.push('…');
            }
            None => out.push(c),
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => {}
        }
        prev = c;
    }
    out
}

/// At most `max` characters of `text`, saying how much was cut.
pub fn cut(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    format!("{}… ({} more characters)", text.chars().take(max).collect::<String>(), n - max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_lose_the_quoted_data_and_are_cut() {
        let row = format!("(2,'admin','SeCrEt-Key-9','{}')", "x".repeat(400_000));
        let stderr = format!(
            "ERROR 1064 (42000) at line 812: You have an error in your SQL syntax; check the manual near 'VALUESS\n{row}' at line 1\n{}\n",
            "more\n".repeat(3)
        );
        let e = client_error(&stderr);
        assert!(e.starts_with("ERROR 1064 (42000) at line 812: You have an error in your SQL syntax"), "{e}");
        assert!(!e.contains("SeCrEt") && !e.contains("VALUESS") && e.len() < 600, "{e}");
        assert!(e.contains("more lines of client output withheld"), "{e}");
        let e = client_error("ERROR 1062 (23000) at line 40: Duplicate entry 'AKey-77' for key 'PRIMARY'\n");
        assert_eq!(e, "ERROR 1062 (23000) at line 40: Duplicate entry '…' for key '…'");
        assert_eq!(client_error("ERROR 2002 (HY000): Can't connect to server on '10.0.0.1' (115)"), "ERROR 2002 (HY000): Can't connect to server on '…' (115)");
        assert_eq!(cut(&"é".repeat(10), 4), "éééé… (6 more characters)");
    }
}
