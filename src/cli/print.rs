//! The JSON results' common frame: every `--format json` result is one object whose `outcome` says what
//! happened, beside the command's own fields (see the README's command reference). Printing itself is
//! `crate::console`'s.

use serde::Serialize;
use serde_json::{json, Value};

/// `report`'s fields with `"outcome": outcome` first.
pub fn outcome<T: Serialize>(outcome: &str, report: &T) -> Value {
    let mut v = json!({ "outcome": outcome });
    if let Value::Object(fields) = serde_json::to_value(report).expect("reports serialise") {
        v.as_object_mut().expect("an object").extend(fields);
    }
    v
}

/// The work ran and failed (exit 1): what went wrong, in the sentence the operator sees.
pub fn failed(error: &str) -> Value {
    json!({ "outcome": "failed", "error": error })
}
