//! Prompts. Every answer is judged by `profile::validate` on the profile being built, keeping only the
//! problems at the key the question fills, so the guided install and `profile check` agree on every rule.

use dialoguer::{Confirm, Input, Password, Select};

use crate::profile::{validate, Profile};

/// Why the questions stopped.
#[derive(Debug)]
pub enum Stop {
    /// Ctrl-C at a prompt.
    Interrupted,
    /// The terminal failed.
    Io(String),
}

pub type Asked<T> = Result<T, Stop>;

fn stop(e: dialoguer::Error) -> Stop {
    let dialoguer::Error::IO(io) = e;
    if io.kind() == std::io::ErrorKind::Interrupted {
        Stop::Interrupted
    } else {
        Stop::Io(io.to_string())
    }
}

/// The problems `profile check` would report at `path` (or below it) in `p`, one per line.
pub fn problems_at(p: &Profile, path: &str) -> Result<(), String> {
    let below = |q: &str| q == path || q.starts_with(&format!("{path}.")) || q.starts_with(&format!("{path}["));
    let msgs: Vec<String> = validate(p).into_iter().filter(|q| below(&q.path)).map(|q| format!("{}: {}", q.path, q.message)).collect();
    if msgs.is_empty() {
        Ok(())
    } else {
        Err(msgs.join("; "))
    }
}

/// Ask for a value of the key `path`, re-asking with the reason while `profile check` would reject it.
/// `apply` stores the answer in the profile; it is applied to `draft` once accepted.
pub fn field(
    draft: &mut Profile,
    prompt: &str,
    default: Option<String>,
    path: &str,
    apply: impl Fn(&mut Profile, &str) + Clone + 'static,
) -> Asked<String> {
    let base = draft.clone();
    let key = path.to_string();
    let check = apply.clone();
    let mut input = Input::<String>::new().with_prompt(prompt).validate_with(move |s: &String| {
        let mut p = base.clone();
        check(&mut p, s.trim());
        problems_at(&p, &key)
    });
    if let Some(d) = default {
        input = input.default(d);
    }
    let answer = input.interact_text().map_err(stop)?.trim().to_string();
    apply(draft, &answer);
    Ok(answer)
}

/// Like `field`, for an answer that may be left empty (then nothing is stored).
pub fn optional_field(
    draft: &mut Profile,
    prompt: &str,
    path: &str,
    apply: impl Fn(&mut Profile, &str) + Clone + 'static,
) -> Asked<Option<String>> {
    let base = draft.clone();
    let key = path.to_string();
    let check = apply.clone();
    let answer = Input::<String>::new()
        .with_prompt(prompt)
        .allow_empty(true)
        .validate_with(move |s: &String| {
            if s.trim().is_empty() {
                return Ok(());
            }
            let mut p = base.clone();
            check(&mut p, s.trim());
            problems_at(&p, &key)
        })
        .interact_text()
        .map_err(stop)?
        .trim()
        .to_string();
    if answer.is_empty() {
        return Ok(None);
    }
    apply(draft, &answer);
    Ok(Some(answer))
}

/// A hidden value typed twice, judged like the inline secret at `path` (its value is never shown).
pub fn secret(draft: &mut Profile, prompt: &str, path: &str, apply: impl Fn(&mut Profile, &str) + Clone + 'static) -> Asked<String> {
    let base = draft.clone();
    let key = path.to_string();
    let check = apply.clone();
    let value = Password::new()
        .with_prompt(prompt)
        .with_confirmation("Type it again", "The two entries differ; type it again.")
        .validate_with(move |s: &String| {
            let mut p = base.clone();
            check(&mut p, s);
            problems_at(&p, &key)
        })
        .interact()
        .map_err(stop)?;
    apply(draft, &value);
    Ok(value)
}

pub fn select(prompt: &str, items: &[String], default: usize) -> Asked<usize> {
    Select::new().with_prompt(prompt).items(items).default(default).interact().map_err(stop)
}

pub fn confirm(prompt: &str, default: bool) -> Asked<bool> {
    Confirm::new().with_prompt(prompt).default(default).interact().map_err(stop)
}

/// A free-form answer with a default, checked by `check`.
pub fn text(prompt: &str, default: &str, check: impl Fn(&str) -> Result<(), String> + 'static) -> Asked<String> {
    Input::<String>::new()
        .with_prompt(prompt)
        .default(default.to_string())
        .validate_with(move |s: &String| check(s.trim()))
        .interact_text()
        .map(|s| s.trim().to_string())
        .map_err(stop)
}
