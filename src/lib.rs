//! stagehand: a job engine in which the database is the queue.
//!
//! - [`store`]: the database layer, one backend per engine, calling the `stage` procedures.
//! - [`schedule`]: tasks, triggers and next-fire computation (pure, no I/O).
//! - [`exec`]: running one command: shell or program, output capture, timeouts, killing a tree.

pub mod catalog;
pub mod cli;
pub mod clock;
pub mod driver;
pub mod exec;
pub mod import;
pub mod schedule;
pub mod store;
pub mod web;
