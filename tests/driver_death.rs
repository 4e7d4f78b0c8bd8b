//! A driver killed outright (SIGKILL) takes every process of its commands with it,
//! whatever session or parent they moved to, before another driver runs the process
//! again: a compound shell command, a child that calls setsid, one that double-forks.
//! Each holds a lock file with flock(1), as a job guarding its work would.
#![cfg(target_os = "linux")]

#[macro_use]
mod common;
mod driver_support;

use common::TestDb;
use driver_support::{alive, lines, scratch, task, wait_final, wait_lines, Driver};
use nix::sys::signal::Signal;
use stagehand::store::ProcessStatus;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_secs(30);

/// How long the tree may take to die with the driver (a bound on failure).
const DIES_WITHIN: Duration = Duration::from_secs(2);

/// A holder of the lock: flock(1) runs a shell that records "FLOCK_PID SHELL_PID" once
/// the lock is held, then becomes a long sleep.
const HOLD: &str = "flock -s lock sh -c 'echo $PPID $$ >> pids; exec sleep 600'";

conformance!(a_compound_command_dies_with_its_driver);
async fn a_compound_command_dies_with_its_driver(db: &TestDb) {
    // A background and a foreground child of the shell, both holding the lock.
    let script = format!("{HOLD} & {HOLD}");
    killed_driver_leaves_nothing(db, "compound", &script, 2, |_, _| {}).await;
}

conformance!(a_child_in_its_own_session_dies_with_the_driver);
async fn a_child_in_its_own_session_dies_with_the_driver(db: &TestDb) {
    let script = format!("setsid {HOLD} & wait");
    killed_driver_leaves_nothing(db, "setsid", &script, 1, |shell, holder| {
        assert_ne!(
            stat_field(holder, 3),
            stat_field(shell, 3),
            "the holder {holder} runs in a session of its own"
        );
    })
    .await;
}

conformance!(a_double_forked_child_dies_with_the_driver);
async fn a_double_forked_child_dies_with_the_driver(db: &TestDb) {
    // The subshell exits at once: the holder is orphaned.
    let script = format!("( {HOLD} & ); exec sleep 600");
    killed_driver_leaves_nothing(db, "double-fork", &script, 1, |shell, holder| {
        // Orphaned, it was reparented to the shell's own parent, the supervisor.
        let deadline = std::time::Instant::now() + LIMIT;
        while stat_field(holder, 1) != stat_field(shell, 1) {
            assert!(
                std::time::Instant::now() < deadline,
                "the orphaned holder {holder} has parent {:?}, the shell {shell} has {:?}",
                stat_field(holder, 1),
                stat_field(shell, 1)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await;
}

/// Runs `script` as attempt 1 of a process under a driver, kills the driver with SIGKILL
/// once `holders` holders hold the lock, and checks that the lock is free and the whole
/// tree gone within [`DIES_WITHIN`]; then a second driver runs the process exactly once
/// more, and that run finds the lock free. `check(shell, holder)` looks at the tree
/// before the kill, to show it is the shape the test is about.
async fn killed_driver_leaves_nothing(
    db: &TestDb,
    name: &str,
    script: &str,
    holders: usize,
    check: impl Fn(i32, i32),
) {
    let dir = scratch(&format!("death-{name}"));
    let command = format!(
        "cd '{}'; echo \"$STAGEHAND_ATTEMPT $$\" >> runs; \
         if [ \"$STAGEHAND_ATTEMPT\" != 1 ]; then exec flock -n -x lock true; fi; \
         echo $$ >> pids; {script}",
        dir.display()
    );
    task(&**db, name, &command, |t| t.max_attempts = 2).await;
    let mut first = Driver::start(db.url(), &format!("{name}-doomed"), 1, &[]);
    // Every process of the tree inherits the parameters: a marker to find them all by.
    let marker = format!("{{\"tree\":\"{}\"}}", dir.display());
    let id = db
        .register(name, Some(&marker), None)
        .await
        .expect("register")
        .process_id;

    let recorded = wait_lines(&dir.join("pids"), 1 + holders, LIMIT).await;
    let shell: i32 = recorded[0].trim().parse().expect("shell pid");
    let pids: Vec<i32> = recorded
        .iter()
        .flat_map(|line| line.split_whitespace())
        .map(|pid| pid.parse().expect("pid"))
        .collect();
    assert!(!lock_free(&dir).await, "{db}: the first run holds the lock");
    // Polled: a process that is just exec'ing shows no environment for an instant.
    let deadline = Instant::now() + LIMIT;
    loop {
        let members = tree_members(&marker);
        if pids.iter().all(|pid| members.contains(pid)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{db}: every recorded process {pids:?} runs and is found by its environment: {members:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first_holder: i32 = recorded[1]
        .split_whitespace()
        .next()
        .and_then(|pid| pid.parse().ok())
        .expect("holder pid");
    check(shell, first_holder);

    first.signal(Signal::SIGKILL);
    let killed = Instant::now();
    first.exit_within(Duration::from_secs(5)).await;
    loop {
        let living: Vec<i32> = pids.iter().copied().filter(|pid| alive(*pid)).collect();
        let members = tree_members(&marker);
        let free = lock_free(&dir).await;
        if free && living.is_empty() && members.is_empty() {
            break;
        }
        assert!(
            killed.elapsed() < DIES_WITHIN,
            "{db}: {DIES_WITHIN:?} after the driver was killed: lock free: {free}, \
             recorded processes alive: {living:?}, processes of the tree: {members:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut second = Driver::start(db.url(), &format!("{name}-rescuer"), 1, &[]);
    let row = wait_final(&**db, id, LIMIT).await;
    assert_eq!(
        (row.status, row.attempt),
        (ProcessStatus::Completed, 2),
        "{db}: run again once the lease expired, and the lock was free: {row:?}"
    );
    let runs: Vec<String> = lines(&dir.join("runs"))
        .iter()
        .map(|line| line.split_whitespace().next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(runs, ["1", "2"], "{db}: exactly one run after the kill");
    second.signal(Signal::SIGTERM);
    assert!(second.exit_within(Duration::from_secs(20)).await.success());
}

/// True when nothing holds the lock: an exclusive flock succeeds at once.
async fn lock_free(dir: &Path) -> bool {
    tokio::process::Command::new("flock")
        .args(["-n", "-x", "lock", "true"])
        .current_dir(dir)
        .status()
        .await
        .expect("run flock")
        .success()
}

/// Living processes whose environment holds the marker parameters.
fn tree_members(marker: &str) -> Vec<i32> {
    let needle = format!("STAGEHAND_PARAMETERS={marker}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        panic!("/proc is not readable");
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                environ
                    .split(|&b| b == 0)
                    .any(|var| var == needle.as_bytes())
            })
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// A field of /proc/PID/stat after the command name: 0 state, 1 ppid, 2 pgrp, 3 session.
fn stat_field(pid: i32, field: usize) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(field)?.parse().ok()
}
