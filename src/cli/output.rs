//! What the commands print for scripts (`--json`), in one place so that every command
//! prints JSON the same way: one pretty document, one compact line per item for a
//! stream (`logs --follow`), or an array written item by item when it may be large.

use anyhow::Result;
use serde::Serialize;
use std::io::Write;

/// One JSON document on standard output.
pub(crate) fn print_json(value: &impl Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// One JSON document on one line of its own, flushed (an item of a stream).
pub(crate) fn print_json_line(value: &impl Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// A JSON array written one item at a time, so millions of rows never sit in memory.
pub(crate) struct JsonArrayWriter<W: Write> {
    out: W,
    items: u64,
}

impl<W: Write> JsonArrayWriter<W> {
    pub fn new(mut out: W) -> Result<Self> {
        out.write_all(b"[")?;
        Ok(JsonArrayWriter { out, items: 0 })
    }

    pub fn write(&mut self, item: &impl Serialize) -> Result<()> {
        self.out
            .write_all(if self.items == 0 { b"\n  " } else { b",\n  " })?;
        serde_json::to_writer(&mut self.out, item)?;
        self.items += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<()> {
        self.out
            .write_all(if self.items == 0 { b"]\n" } else { b"\n]\n" })?;
        self.out.flush()?;
        Ok(())
    }
}
