//! Every option and argument of every command says what it is for in `--help`.

use clap::CommandFactory;
use stagehand::cli::Cli;

fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
    let path = if path.is_empty() {
        command.get_name().to_string()
    } else {
        format!("{path} {}", command.get_name())
    };
    if command.get_about().is_none() && command.get_long_about().is_none() {
        missing.push(format!("{path}: the command has no description"));
    }
    for arg in command.get_arguments() {
        if arg.get_help().is_none() && arg.get_long_help().is_none() {
            missing.push(format!("{path}: {}", arg.get_id()));
        }
    }
    for sub in command.get_subcommands() {
        undocumented(sub, &path, missing);
    }
}

#[test]
fn every_option_has_a_description() {
    let mut command = Cli::command();
    // Builds the tree as `--help` sees it: global options propagated, help added.
    command.build();
    let mut missing = Vec::new();
    undocumented(&command, "", &mut missing);
    // Sanity: the walk reaches the options of nested commands.
    assert!(
        command
            .find_subcommand("logs")
            .is_some_and(|logs| logs.get_arguments().any(|a| a.get_id() == "tail")),
        "the walk sees `logs --tail`"
    );
    assert!(
        missing.is_empty(),
        "options without help text:\n{}",
        missing.join("\n")
    );
}
