//! The plan as `cloudstrap plan --format json`, `install --dry-run --format json` and the golden plan
//! fixtures show it: one entry per action, secrets redacted.

use serde::Serialize;

use super::{Lane, Plan};
use crate::action::executor::Status;
use crate::run::Redactor;

/// One action of a plan.
#[derive(Debug, Serialize)]
pub struct ActionView {
    /// Position in the plan, from 1 (what `after` refers to).
    pub number: usize,
    /// The action's id (the receipt's key).
    pub id: String,
    pub lane: Lane,
    pub description: String,
    /// "done" or "pending" on the host it was checked against; absent when not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    /// The numbers of the actions it waits for.
    pub after: Vec<usize>,
    /// The ids of the actions it waits for.
    pub waits_for: Vec<String>,
}

/// Every action of `plan`, with its status when `statuses` (one per step) is given.
pub fn actions(plan: &Plan, redactor: &Redactor, statuses: Option<&[Status]>) -> Vec<ActionView> {
    let ids: Vec<String> = plan.steps.iter().map(|s| s.action.id()).collect();
    plan.steps
        .iter()
        .zip(&plan.info)
        .enumerate()
        .map(|(i, (s, info))| ActionView {
            number: i + 1,
            id: redactor.redact(&ids[i]),
            lane: info.lane,
            description: redactor.redact(&s.action.describe()),
            status: statuses.map(|st| if st[i] == Status::Done { "done" } else { "pending" }),
            after: s.after.iter().map(|a| a + 1).collect(),
            waits_for: s.after.iter().map(|a| redactor.redact(&ids[*a])).collect(),
        })
        .collect()
}
