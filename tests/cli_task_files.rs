//! Task files as Windows tools write them: UTF-16 with a BOM (PowerShell 5.1's `>`),
//! UTF-8 with a BOM (Notepad), Windows time zone names.

#[macro_use]
mod common;

use common::TestDb;
use std::process::{Command, Output};

/// A task in the Windows zone of São Paulo (UTC-3, no DST since 2019).
const TASK: &str = r#"{
  "id": "windows-made",
  "command": "echo São Paulo",
  "timeZone": "E. South America Standard Time",
  "triggers": [{ "recurrence": "daily", "start": "2024-12-06T15:00:00" }]
}"#;

fn stagehand(db: Option<&TestDb>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stagehand"));
    command.args(args).env_remove("STAGEHAND_DATABASE_URL");
    if let Some(db) = db {
        command.env("STAGEHAND_DATABASE_URL", db.url());
    }
    command.output().expect("run stagehand")
}

fn file_with(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("stagehand-files-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("write the task file");
    path
}

fn utf16(big_endian: bool) -> Vec<u8> {
    std::iter::once(0xFEFF)
        .chain(TASK.encode_utf16())
        .flat_map(|unit| {
            if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            }
        })
        .collect()
}

fn next_two(file: &std::path::Path) -> Output {
    let args = ["task", "next", "--file", file.to_str().unwrap()];
    let extra = ["--after", "2024-12-06T14:00", "--count", "2", "--json"];
    stagehand(None, &[&args[..], &extra[..]].concat())
}

#[test]
fn utf8_and_utf16_files_with_a_windows_zone_are_read() {
    let with_bom = [&[0xEF, 0xBB, 0xBF][..], TASK.as_bytes()].concat();
    for (name, bytes) in [
        ("utf8.json", TASK.as_bytes().to_vec()),
        ("utf8-bom.json", with_bom),
        ("utf16le.json", utf16(false)),
        ("utf16be.json", utf16(true)),
    ] {
        let out = next_two(&file_with(name, &bytes));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        let times: Vec<String> = serde_json::from_slice(&out.stdout).expect("JSON array");
        assert_eq!(
            times,
            ["2024-12-06T15:00:00-03:00", "2024-12-07T15:00:00-03:00"],
            "{name}"
        );
    }
}

#[test]
fn other_encodings_are_refused_by_name() {
    let without_bom: Vec<u8> = TASK.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let out = next_two(&file_with("utf16-no-bom.json", &without_bom));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("UTF-16 LE without a byte order mark"),
        "{stderr}"
    );

    // Latin-1: every character of TASK is below U+0100, ã among them.
    let bytes: Vec<u8> = TASK.chars().map(|c| u8::try_from(c).unwrap()).collect();
    let out = next_two(&file_with("latin1.json", &bytes));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a legacy 8-bit code page such as Windows-1252"),
        "{stderr}"
    );
    assert!(!stderr.contains("not valid JSON"), "{stderr}");
}

conformance!(a_windows_zone_is_stored_as_its_iana_name);
async fn a_windows_zone_is_stored_as_its_iana_name(db: &TestDb) {
    let file = file_with(&format!("{}-import.json", db.kind()), &utf16(false));
    let added = stagehand(Some(db), &["task", "add", file.to_str().unwrap()]);
    assert!(
        added.status.success(),
        "{db}: {}",
        String::from_utf8_lossy(&added.stderr)
    );
    let shown = stagehand(Some(db), &["task", "show", "windows-made"]);
    let task: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("show prints JSON");
    assert_eq!(task["timeZone"], "America/Sao_Paulo", "{db}");
    assert_eq!(task["command"], "echo São Paulo", "{db}");
}
