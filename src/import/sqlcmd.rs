//! `--tsql-as-sqlcmd`: an Agent job's T-SQL steps as one `sqlcmd` run by the driver, in
//! program form (no shell between the driver and sqlcmd):
//!
//! ```text
//! sqlcmd -E -b -x [-S SERVER] -d FIRST_DATABASE -Q SCRIPT
//! ```
//!
//! SCRIPT runs every batch of every step, in order, each in its step's database through
//! `EXEC [db].sys.sp_executesql`, inside one TRY block: the first error stops it and is
//! raised again, so that `-b` makes sqlcmd exit with a failure (Agent's "quit with
//! failure"). Unlike Agent, a step stops at its first error rather than at its end.
//!
//! Quoting: each batch's text is one N'...' literal (quotes doubled), its line ends
//! written as NCHAR(13)/NCHAR(10), so SCRIPT is a single line. sqlcmd reads commands
//! (`GO`, `:r`, `!!`) only at the start of a line, so nothing in a step can become one,
//! and `-x` turns off `$(variable)` substitution. Database names are bracket-quoted
//! (`]` doubled).

/// One T-SQL step: its text and the database it runs in.
pub struct TsqlStep<'a> {
    pub command: &'a str,
    pub database: &'a str,
}

/// Why a step cannot run through sqlcmd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The step uses Agent tokens, `$(ESCAPE_SQUOTE(JOBID))` and the like, which only
    /// Agent replaces.
    AgentTokens,
    /// `GO n` repeats a batch n times.
    RepeatedBatch,
}

/// The sqlcmd arguments for `steps` (at least one) on `server` (None: the local default
/// instance), or the index of the first step that cannot run so, with the reason.
pub fn arguments(
    steps: &[TsqlStep],
    server: Option<&str>,
) -> Result<Vec<String>, (usize, Refusal)> {
    let mut script = String::from("DECLARE @batch nvarchar(max); BEGIN TRY ");
    for (index, step) in steps.iter().enumerate() {
        if step.command.contains("$(") {
            return Err((index, Refusal::AgentTokens));
        }
        for batch in batches(step.command).map_err(|refusal| (index, refusal))? {
            script += &format!(
                "SET @batch = {}; EXEC {}.sys.sp_executesql @batch; ",
                literal(batch),
                bracketed(step.database),
            );
        }
    }
    script += "END TRY BEGIN CATCH THROW; END CATCH;";
    let mut arguments: Vec<String> = ["-E", "-b", "-x"].map(String::from).to_vec();
    if let Some(server) = server {
        arguments.extend(["-S".to_string(), server.to_string()]);
    }
    let first = steps.first().map_or("master", |step| step.database);
    arguments.extend(["-d".to_string(), first.to_string()]);
    arguments.extend(["-Q".to_string(), script]);
    Ok(arguments)
}

/// The batches of a step's text: split at lines holding only `GO` (as Agent and sqlcmd
/// split them), empty ones left out.
fn batches(text: &str) -> Result<Vec<&str>, Refusal> {
    let mut found = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [go] if go.eq_ignore_ascii_case("go") => {
                found.push(&text[start..at]);
                start = at + line.len();
            }
            [go, count] if go.eq_ignore_ascii_case("go") && count.parse::<u32>().is_ok() => {
                return Err(Refusal::RepeatedBatch)
            }
            _ => {}
        }
        at += line.len();
    }
    found.push(&text[start..]);
    Ok(found
        .into_iter()
        .filter(|batch| !batch.trim().is_empty())
        .collect())
}

/// `text` as a T-SQL nvarchar(max) expression on one line: N'...' pieces with quotes
/// doubled, joined by NCHAR(13) and NCHAR(10) where the text has line ends. The CAST keeps
/// the concatenation from being cut at 4,000 characters.
fn literal(text: &str) -> String {
    let mut out = String::from("CAST(N'");
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\r' => out.push_str("' AS nvarchar(max)) + NCHAR(13) + CAST(N'"),
            '\n' => out.push_str("' AS nvarchar(max)) + NCHAR(10) + CAST(N'"),
            c => out.push(c),
        }
    }
    out.push_str("' AS nvarchar(max))");
    out
}

/// A database name as a bracket-quoted identifier.
fn bracketed(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_at_go_lines_only() {
        assert_eq!(
            batches("SELECT 1;\r\nGO\r\nSELECT 'GO';\n  go  \nGOTO x;\n").unwrap(),
            ["SELECT 1;\r\n", "SELECT 'GO';\n", "GOTO x;\n"][..]
        );
        assert_eq!(batches("GO\nSELECT 1").unwrap(), ["SELECT 1"][..]);
        assert_eq!(batches("SELECT 1\nGO 5\n"), Err(Refusal::RepeatedBatch));
    }
}
