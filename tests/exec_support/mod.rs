//! Runs commands as `stagehand run` does: on Linux under the `stagehand exec-shim`
//! supervisor, the real binary of this build.

use stagehand::exec::{CommandSpec, RunOutcome};
use tokio_util::sync::CancellationToken;

pub async fn run(spec: &CommandSpec, cancel: CancellationToken) -> RunOutcome {
    #[cfg(target_os = "linux")]
    stagehand::exec::set_supervisor(env!("CARGO_BIN_EXE_stagehand"));
    stagehand::exec::run(spec, cancel).await
}
