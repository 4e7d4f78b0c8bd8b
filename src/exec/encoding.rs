//! Which character encoding a command's output is read in. Windows programs (cmd
//! above all) write to pipes in the console's OEM code page, not UTF-8; Unix
//! programs write UTF-8.

use std::fmt;
use std::str::FromStr;

/// The encoding of a command's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputEncoding {
    /// The OEM code page (`GetOEMCP`), what cmd and console tools write. UTF-8 on Unix.
    Oem,
    /// The ANSI code page (`GetACP`), what many GUI-era programs write. UTF-8 on Unix.
    Ansi,
    Utf8,
    /// A Windows code page number (e.g. 850, 1252, 65001). Only UTF-8 (65001) on Unix.
    CodePage(u32),
}

impl Default for OutputEncoding {
    /// `oem` on Windows (it is UTF-8 on Unix anyway).
    fn default() -> Self {
        if cfg!(windows) {
            OutputEncoding::Oem
        } else {
            OutputEncoding::Utf8
        }
    }
}

impl FromStr for OutputEncoding {
    type Err = String;

    /// `oem`, `ansi`, `utf-8` (any case), or a code page number.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "oem" => Ok(OutputEncoding::Oem),
            "ansi" => Ok(OutputEncoding::Ansi),
            "utf-8" | "utf8" => Ok(OutputEncoding::Utf8),
            other => match other.parse::<u32>() {
                Ok(65001) => Ok(OutputEncoding::Utf8),
                Ok(page) if page > 0 && page < 65536 => Ok(OutputEncoding::CodePage(page)),
                _ => Err(format!(
                    "{text:?} is not an output encoding: use oem, ansi, utf-8 or a code page number"
                )),
            },
        }
    }
}

impl fmt::Display for OutputEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputEncoding::Oem => f.write_str("oem"),
            OutputEncoding::Ansi => f.write_str("ansi"),
            OutputEncoding::Utf8 => f.write_str("utf-8"),
            OutputEncoding::CodePage(page) => write!(f, "{page}"),
        }
    }
}

impl OutputEncoding {
    /// The text of `bytes`; what cannot be decoded becomes U+FFFD (or the code
    /// page's default character).
    pub(super) fn decode(self, bytes: &[u8]) -> String {
        match self.code_page() {
            None => String::from_utf8_lossy(bytes).into_owned(),
            Some(page) => decode_code_page(page, bytes),
        }
    }

    /// Whether a cut into the stream can split a character in UTF-8's way.
    pub(super) fn is_utf8(self) -> bool {
        self.code_page().is_none()
    }

    /// The Windows code page to decode with; None for UTF-8.
    #[cfg(windows)]
    fn code_page(self) -> Option<u32> {
        use windows_sys::Win32::Globalization::{GetACP, GetOEMCP, CP_UTF8};
        // SAFETY: no arguments, no failure.
        let page = match self {
            OutputEncoding::Oem => unsafe { GetOEMCP() },
            OutputEncoding::Ansi => unsafe { GetACP() },
            OutputEncoding::Utf8 => CP_UTF8,
            OutputEncoding::CodePage(page) => page,
        };
        (page != CP_UTF8).then_some(page)
    }

    /// Unix has no code pages: its programs write UTF-8.
    #[cfg(not(windows))]
    fn code_page(self) -> Option<u32> {
        None
    }
}

/// Decodes with Windows' own tables, so every installed code page works.
#[cfg(windows)]
fn decode_code_page(page: u32, bytes: &[u8]) -> String {
    use windows_sys::Win32::Globalization::MultiByteToWideChar;
    if bytes.is_empty() {
        return String::new();
    }
    let Ok(length) = i32::try_from(bytes.len()) else {
        return String::from_utf8_lossy(bytes).into_owned();
    };
    // SAFETY: sizing call: the input is valid for `length` bytes, no output buffer.
    let wide_length =
        unsafe { MultiByteToWideChar(page, 0, bytes.as_ptr(), length, std::ptr::null_mut(), 0) };
    if wide_length <= 0 {
        // An unknown code page: say something rather than nothing.
        tracing::warn!("code page {page} is not available here; output decoded as UTF-8");
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut wide = vec![0u16; wide_length as usize];
    // SAFETY: the output buffer holds exactly the length the sizing call asked for.
    let written = unsafe {
        MultiByteToWideChar(
            page,
            0,
            bytes.as_ptr(),
            length,
            wide.as_mut_ptr(),
            wide_length,
        )
    };
    wide.truncate(written.max(0) as usize);
    String::from_utf16_lossy(&wide)
}

#[cfg(not(windows))]
fn decode_code_page(_page: u32, bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::OutputEncoding;

    #[test]
    fn names_and_numbers_are_read() {
        assert_eq!("OEM".parse(), Ok(OutputEncoding::Oem));
        assert_eq!("ansi".parse(), Ok(OutputEncoding::Ansi));
        assert_eq!("utf-8".parse(), Ok(OutputEncoding::Utf8));
        assert_eq!("65001".parse(), Ok(OutputEncoding::Utf8));
        assert_eq!("850".parse(), Ok(OutputEncoding::CodePage(850)));
        let err = "latin-1".parse::<OutputEncoding>().unwrap_err();
        assert!(
            err.contains("oem, ansi, utf-8 or a code page number"),
            "{err}"
        );
        assert!("0".parse::<OutputEncoding>().is_err());
        assert!("70000".parse::<OutputEncoding>().is_err());
    }
}
