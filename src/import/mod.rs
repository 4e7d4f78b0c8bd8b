//! Bringing the schedules users already have: Windows Task Scheduler task XML
//! ([`schtasks`]) and SQL Server Agent jobs ([`agent`]) mapped to stagehand's task JSON,
//! and the way back for `external` tasks ([`agent_script`]: an Agent job script).
//!
//! The mappers are pure: they turn source text into task JSON values (validated
//! afterwards by [`crate::schedule::parse_tasks`], like any task file), and report what
//! cannot be mapped as [`Unsupported`], naming the source element and the task.

pub mod agent;
pub mod agent_script;
pub mod schtasks;
pub mod sqlcmd;

use std::fmt;

/// A source task that cannot be imported: which one, and the element that stops it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The task as the source names it (`\ERP\Nightly backup`, an Agent job's name).
    pub task: String,
    /// The element or column that cannot be mapped (`Triggers/LogonTrigger`).
    pub element: String,
    pub reason: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.task, self.element, self.reason)
    }
}

/// One source task: its JSON, or why it cannot be imported.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// The source's name for it.
    pub source: String,
    pub result: Result<serde_json::Value, Vec<Unsupported>>,
}

/// A stable, valid task id from a source path or name: lower-case letters and digits,
/// other runs of characters turned into one `-` (`\ERP\Nightly Backup` ->
/// `erp-nightly-backup`), at most 200 characters; `task` when nothing is left.
pub fn task_id(source: &str) -> String {
    let mut id = String::new();
    for c in source.chars() {
        if c.is_alphanumeric() {
            id.extend(c.to_lowercase());
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    let id: String = id.trim_end_matches('-').chars().take(200).collect();
    let id = id.trim_end_matches('-');
    if id.is_empty() {
        "task".to_string()
    } else {
        id.to_string()
    }
}

/// A description holding where the task came from, within the 1000 characters allowed.
pub(crate) fn description(origin: &str, text: Option<&str>) -> String {
    let full = match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => format!("{origin}: {text}"),
        None => origin.to_string(),
    };
    full.chars().take(1000).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_valid() {
        assert_eq!(task_id(r"\ERP\Nightly Backup"), "erp-nightly-backup");
        assert_eq!(task_id(r"\Relatórios\Fim do mês!"), "relatórios-fim-do-mês");
        assert_eq!(task_id(r"\\--"), "task");
        assert_eq!(task_id(&"x".repeat(300)).len(), 200);
    }
}
