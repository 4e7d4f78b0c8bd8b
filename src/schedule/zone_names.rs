//! Time zone names as users type them: IANA names (`America/Sao_Paulo`) and, since
//! stagehand replaces Windows Task Scheduler, Windows names (`E. South America
//! Standard Time`). A Windows name is mapped to its IANA zone with CLDR's
//! windowsZones table (the world-wide default, territory 001), as packaged by the
//! `windows-timezones` crate; the stored zone is always the IANA name.

use chrono_tz::{Tz, TZ_VARIANTS};
use strum::IntoEnumIterator;
use windows_timezones::WindowsTimezone;

/// The machine's zone from Windows itself (its zone key name, mapped to IANA):
/// what to fall back on where the WinRT calendar API that `iana-time-zone` asks is
/// missing (Server Core, Wine).
#[cfg(windows)]
pub fn windows_machine_zone() -> Option<Tz> {
    use windows_sys::Win32::System::Time::{
        GetDynamicTimeZoneInformation, DYNAMIC_TIME_ZONE_INFORMATION, TIME_ZONE_ID_INVALID,
    };
    // SAFETY: plain data for which all-zero is valid; the call fills it.
    let mut info: DYNAMIC_TIME_ZONE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable DYNAMIC_TIME_ZONE_INFORMATION.
    if unsafe { GetDynamicTimeZoneInformation(&mut info) } == TIME_ZONE_ID_INVALID {
        return None;
    }
    let key = &info.TimeZoneKeyName;
    let end = key.iter().position(|unit| *unit == 0).unwrap_or(key.len());
    parse_zone(&String::from_utf16_lossy(&key[..end])).ok()
}

/// How many close names an error suggests.
const SUGGESTIONS: usize = 3;

/// The zone named `name` (IANA or Windows); otherwise an error suggesting the
/// closest valid names.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    if let Ok(zone) = name.parse::<Tz>() {
        return Ok(zone);
    }
    let trimmed = name.trim();
    if let Some(windows) =
        WindowsTimezone::iter().find(|zone| zone.name().eq_ignore_ascii_case(trimmed))
    {
        return Ok(Tz::from(windows));
    }
    let suggestions = closest(trimmed)
        .iter()
        .map(|candidate| format!("{candidate:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(format!(
        "{name:?} is not an IANA or Windows time zone name; closest: {suggestions}"
    ))
}

/// The valid names most like `name`, best first. A name is compared whole and by
/// its last part (`Sao_Paulo` of `America/Sao_Paulo`), ignoring case, `_` and spaces.
fn closest(name: &str) -> Vec<&'static str> {
    let wanted = simplify(name);
    let iana = TZ_VARIANTS.iter().map(|zone| zone.name());
    let windows = WindowsTimezone::iter().map(WindowsTimezone::name);
    let mut scored: Vec<(f64, &'static str)> = iana
        .chain(windows)
        .map(|candidate| {
            let whole = strsim::jaro_winkler(&wanted, &simplify(candidate));
            let last = candidate.rsplit('/').next().unwrap_or(candidate);
            let part = strsim::jaro_winkler(&wanted, &simplify(last));
            (whole.max(part), candidate)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, n)| n)
        .collect()
}

fn simplify(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | ' ' | '.' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_zone;
    use chrono_tz::Tz;

    #[test]
    fn iana_names_are_read_as_they_are() {
        assert_eq!(parse_zone("America/Sao_Paulo"), Ok(Tz::America__Sao_Paulo));
        assert_eq!(parse_zone("UTC"), Ok(Tz::UTC));
    }

    #[test]
    fn windows_names_map_to_their_iana_zone() {
        for (windows, iana) in [
            ("E. South America Standard Time", Tz::America__Sao_Paulo),
            ("W. Europe Standard Time", Tz::Europe__Berlin),
            ("Pacific Standard Time", Tz::America__Los_Angeles),
            ("GMT Standard Time", Tz::Europe__London),
            ("Tokyo Standard Time", Tz::Asia__Tokyo),
            ("e. south america standard time", Tz::America__Sao_Paulo),
        ] {
            assert_eq!(parse_zone(windows), Ok(iana), "{windows}");
        }
    }

    #[test]
    fn an_unknown_name_suggests_the_closest() {
        let err = parse_zone("Sao Paulo").unwrap_err();
        assert!(
            err.starts_with("\"Sao Paulo\" is not an IANA or Windows time zone name; closest: "),
            "{err}"
        );
        assert!(err.contains("\"America/Sao_Paulo\""), "{err}");
        let err = parse_zone("E. South America Standrd Time").unwrap_err();
        assert!(err.contains("\"E. South America Standard Time\""), "{err}");
        let err = parse_zone("Europe/Berlni").unwrap_err();
        assert!(err.contains("\"Europe/Berlin\""), "{err}");
    }
}
