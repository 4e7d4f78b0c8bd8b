//! Reading text files the way Windows tools write them: UTF-8 with or without a
//! byte order mark (Notepad), UTF-16 LE or BE with one (PowerShell 5.1's `>`).
//! Anything else is refused with the encoding that was found, not a JSON error.

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::Path;

/// The text of a file, or of standard input for `-`: UTF-8 or UTF-16, see [`decode`].
pub fn read(file: &Path) -> Result<String> {
    if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        decode(&bytes, "standard input")
    } else {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        decode(&bytes, &file.display().to_string())
    }
}

/// The text of `bytes`; `source` names the file in errors.
pub fn decode(bytes: &[u8], source: &str) -> Result<String> {
    let utf16 = |bytes: &[u8], name: &str, unit: fn([u8; 2]) -> u16| -> Result<String> {
        if bytes.len() % 2 != 0 {
            bail!("{source}: {name} with an odd number of bytes (the file is cut short)");
        }
        let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
        char::decode_utf16(units)
            .enumerate()
            .map(|(index, c)| {
                c.map_err(|_| {
                    anyhow::anyhow!(
                        "{source}: not valid {name}: a broken surrogate pair at byte {}",
                        2 + 2 * index
                    )
                })
            })
            .collect()
    };
    match bytes {
        [0x00, 0x00, 0xFE, 0xFF, ..] => bail!("{source}: UTF-32 BE {}", RESAVE),
        [0xFF, 0xFE, 0x00, 0x00, ..] => bail!("{source}: UTF-32 LE {}", RESAVE),
        [0xEF, 0xBB, 0xBF, rest @ ..] => utf8(rest, source, 3),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, "UTF-16 LE", u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, "UTF-16 BE", u16::from_be_bytes),
        _ => utf8(bytes, source, 0),
    }
}

const RESAVE: &str = "is not read: save the file as UTF-8 (or UTF-16 with a byte order mark)";

fn utf8(bytes: &[u8], source: &str, offset: usize) -> Result<String> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(error) => {
            let at = error.valid_up_to();
            let found = guess(bytes);
            bail!(
                "{source}: {found} (byte 0x{:02X} at offset {} is not UTF-8) {RESAVE}",
                bytes[at],
                offset + at
            )
        }
    }
}

/// What a file that is not UTF-8 most likely is.
fn guess(bytes: &[u8]) -> &'static str {
    let sample = &bytes[..bytes.len().min(512)];
    let zeros_at = |parity: usize| {
        sample
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|b| **b == 0)
            .count()
    };
    let pairs = sample.len() / 2;
    if pairs > 0 && zeros_at(1) * 2 > pairs {
        "UTF-16 LE without a byte order mark"
    } else if pairs > 0 && zeros_at(0) * 2 > pairs {
        "UTF-16 BE without a byte order mark"
    } else {
        "a legacy 8-bit code page such as Windows-1252"
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    const TEXT: &str = r#"{"id":"São Paulo €"}"#;

    fn utf16(big_endian: bool, bom: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        let units = bom.then_some(0xFEFF).into_iter().chain(TEXT.encode_utf16());
        for unit in units {
            bytes.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        bytes
    }

    #[test]
    fn utf8_with_and_without_a_bom() {
        assert_eq!(decode(TEXT.as_bytes(), "t.json").unwrap(), TEXT);
        let with_bom = [&[0xEF, 0xBB, 0xBF][..], TEXT.as_bytes()].concat();
        assert_eq!(decode(&with_bom, "t.json").unwrap(), TEXT);
    }

    #[test]
    fn utf16_with_a_bom_in_both_byte_orders() {
        assert_eq!(decode(&utf16(false, true), "t.json").unwrap(), TEXT);
        assert_eq!(decode(&utf16(true, true), "t.json").unwrap(), TEXT);
    }

    #[test]
    fn other_encodings_are_named() {
        let err = decode(&utf16(false, false), "t.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.json: UTF-16 LE without a byte order mark"),
            "{err}"
        );
        let err = decode(&utf16(true, false), "t.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.json: UTF-16 BE without a byte order mark"),
            "{err}"
        );
        // "São" in Windows-1252.
        let err = decode(b"{\"id\":\"S\xE3o\"}", "t.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "t.json: a legacy 8-bit code page such as Windows-1252 (byte 0xE3 at offset 8 \
             is not UTF-8) is not read: save the file as UTF-8 (or UTF-16 with a byte order mark)"
        );
        let err = decode(&[0xFF, 0xFE, 0, 0, b'{', 0, 0, 0], "t.json").unwrap_err();
        assert!(err.to_string().starts_with("t.json: UTF-32 LE"), "{err}");
    }

    #[test]
    fn broken_utf16_is_refused() {
        let err = decode(&[0xFF, 0xFE, b'{', 0, b'}'], "t.json").unwrap_err();
        assert!(err.to_string().contains("odd number of bytes"), "{err}");
        let err = decode(&[0xFF, 0xFE, 0x00, 0xD8, b'}', 0], "t.json").unwrap_err();
        assert!(
            err.to_string().contains("broken surrogate pair at byte 2"),
            "{err}"
        );
    }
}
