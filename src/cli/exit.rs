//! The exit codes `stagehand` documents (README, "Exit codes"). Scripts and monitoring
//! (Nagios-style checks) branch on them, so each has one meaning and no command invents
//! another.

/// Success.
pub const SUCCESS: u8 = 0;
/// An error: the database, the input, the environment.
pub const ERROR: u8 = 1;
/// The command line itself is wrong (clap's own code for usage errors).
pub const USAGE: u8 = 2;
/// Refused by the queue's rules: a duplicate registration, a stale owner.
pub const REFUSED: u8 = 3;
/// `status --check` found alerts: overdue or failed work, no live driver, a table too big.
pub const ALERTS: u8 = 4;
