//! A claimed process as a command to run: the spec handed to [`crate::exec`], with the
//! STAGEHAND_* environment. Parameters travel only in the environment, never in the
//! command line, so whatever they hold stays an inert string.

use super::secrets::Secrets;
use crate::exec::CommandSpec;
use crate::store::ClaimedProcess;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Builds the spec, or says why this process cannot run at all.
pub fn spec_for(
    process: &ClaimedProcess,
    output_dir: Option<&Path>,
    secrets: &Secrets,
) -> Result<CommandSpec, String> {
    let command = process
        .command
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| {
            format!(
                "task {} has no command (was it deleted?)",
                process.process_name
            )
        })?;
    let mut spec = match &process.arguments {
        None => CommandSpec::shell(command),
        Some(json) => {
            let arguments: Vec<String> = serde_json::from_str(json).map_err(|e| {
                format!(
                    "arguments of task {} are not a JSON array of strings: {e}",
                    process.process_name
                )
            })?;
            CommandSpec::program(command, arguments)
        }
    };
    if let Some(encoding) = &process.output_encoding {
        // Checked when the task is saved through the CLI; a direct SaveTasks or an
        // UPDATE of Definition may still hold anything.
        spec.output_encoding = encoding
            .parse()
            .map_err(|e| format!("outputEncoding of task {}: {e}", process.process_name))?;
    }
    spec.working_directory = process
        .working_directory
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    spec.timeout = process
        .timeout_minutes
        .filter(|m| *m > 0)
        .map(|m| Duration::from_secs(m as u64 * 60));
    spec.output_file =
        output_dir.map(|dir| dir.join(format!("{}-{}.log", process.process_id, process.attempt)));
    spec.env_remove = secrets.env_remove().to_vec();
    spec.env = vec![
        (
            "STAGEHAND_PROCESS_ID".into(),
            process.process_id.to_string(),
        ),
        (
            "STAGEHAND_PROCESS_NAME".into(),
            process.process_name.clone(),
        ),
        ("STAGEHAND_ATTEMPT".into(), process.attempt.to_string()),
        (
            "STAGEHAND_SCHEDULED_FOR".into(),
            process
                .scheduled_for
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
        ),
        (
            "STAGEHAND_PARAMETERS".into(),
            process.parameters.clone().unwrap_or_default(),
        ),
    ];
    Ok(spec)
}
