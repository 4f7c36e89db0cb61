//! Decoders that accept exactly what the Go libraries under notation accept, so that an envelope
//! gets the same verdict here as from `notation verify`:
//! - [`parse_rfc3339`]: Go's `time.Parse(time.RFC3339, s)` (`src/time/format.go`,
//!   `format_rfc3339.go`): the fast path, then the generic layout parser, which also takes a
//!   one-digit hour, a `,` before the fraction, and zone offsets up to `+24:60`.
//! - [`b64_std`] / [`b64_raw_url`]: Go's `base64.StdEncoding` (as `encoding/json` decodes a
//!   `[]byte`) and `base64.RawURLEncoding` (golang-jwt's segments, notation-core-go's protected
//!   header): `\r` and `\n` are skipped anywhere, unused trailing bits may be non-zero
//!   (the encodings are not `Strict()`).
//! - [`cbor_scan`]: the well-formedness rules of fxamacker/cbor as go-cose configures it
//!   (`IndefLengthForbidden`, `TagsForbidden` outside the protected header, 32 nested levels,
//!   no extraneous data), checked before the bytes are decoded.

pub mod json;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

const STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

fn strip_newlines(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['\r', '\n']) {
        s.replace(['\r', '\n'], "").into()
    } else {
        s.into()
    }
}

/// Go's `base64.StdEncoding.DecodeString`.
pub fn b64_std(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STD.decode(strip_newlines(s).as_bytes())
}

/// Go's `base64.RawURLEncoding.DecodeString`.
pub fn b64_raw_url(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    RAW_URL.decode(strip_newlines(s).as_bytes())
}

/// Go's `time.Parse(time.RFC3339, s)`; `None` where Go returns an error.
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    fast_rfc3339(s.as_bytes()).or_else(|| generic_rfc3339(s.as_bytes()))
}

fn days_in(month: u8, year: i32) -> u8 {
    Month::try_from(month).map_or(0, |m| m.length(year))
}

fn build(
    (year, month, day): (i32, u8, u8),
    (hour, min, sec, nsec): (u8, u8, u8, u32),
    offset_secs: i32,
) -> Option<OffsetDateTime> {
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let time = Time::from_hms_nano(hour, min, sec, nsec).ok()?;
    // Go keeps offsets up to ±24:60 (beyond the `time` crate's range): apply it as a shift.
    let utc = PrimitiveDateTime::new(date, time).assume_utc();
    let shifted = utc.checked_sub(time::Duration::seconds(offset_secs as i64))?;
    match UtcOffset::from_whole_seconds(offset_secs) {
        Ok(off) => Some(shifted.to_offset(off)),
        Err(_) => Some(shifted),
    }
}

/// `parseRFC3339` (format_rfc3339.go).
fn fast_rfc3339(s: &[u8]) -> Option<OffsetDateTime> {
    if s.len() < "2006-01-02T15:04:05".len() {
        return None;
    }
    let num = |b: &[u8], min: u32, max: u32| -> Option<u32> {
        let mut x = 0u32;
        for &c in b {
            if !c.is_ascii_digit() {
                return None;
            }
            x = x * 10 + u32::from(c - b'0');
        }
        (min..=max).contains(&x).then_some(x)
    };
    let year = num(&s[0..4], 0, 9999)? as i32;
    let month = num(&s[5..7], 1, 12)? as u8;
    let day = num(&s[8..10], 1, u32::from(days_in(month, year)))? as u8;
    let hour = num(&s[11..13], 0, 23)? as u8;
    let min = num(&s[14..16], 0, 59)? as u8;
    let sec = num(&s[17..19], 0, 59)? as u8;
    if !(s[4] == b'-' && s[7] == b'-' && s[10] == b'T' && s[13] == b':' && s[16] == b':') {
        return None;
    }
    let mut s = &s[19..];
    let mut nsec = 0;
    if s.len() >= 2 && s[0] == b'.' && s[1].is_ascii_digit() {
        let n = 1 + s[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        nsec = nanoseconds(&s[..n])?;
        s = &s[n..];
    }
    let offset = if s == b"Z" {
        0
    } else {
        if s.len() != "-07:00".len() {
            return None;
        }
        let hr = num(&s[1..3], 0, 23)? as i32;
        let mm = num(&s[4..6], 0, 59)? as i32;
        if !((s[0] == b'-' || s[0] == b'+') && s[3] == b':') {
            return None;
        }
        let off = (hr * 60 + mm) * 60;
        if s[0] == b'-' { -off } else { off }
    };
    build((year, month, day), (hour, min, sec, nsec), offset)
}

/// `parseNanoseconds`: `frac` is the separator and its digits; digits past the ninth are
/// dropped.
fn nanoseconds(frac: &[u8]) -> Option<u32> {
    let digits = &frac[1..frac.len().min(10)];
    let mut ns: u32 = 0;
    for &c in digits {
        ns = ns * 10 + u32::from(c - b'0');
    }
    for _ in digits.len()..9 {
        ns *= 10;
    }
    Some(ns)
}

/// Go's `getnum(s, fixed)`: one or two digits (two when `fixed`).
fn getnum(s: &[u8], fixed: bool) -> Option<(u32, &[u8])> {
    let d = |i: usize| {
        s.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u32::from(c - b'0'))
    };
    let a = d(0)?;
    match d(1) {
        Some(b) => Some((a * 10 + b, &s[2..])),
        None if fixed => None,
        None => Some((a, &s[1..])),
    }
}

/// The generic `parse` with layout `2006-01-02T15:04:05Z07:00`.
fn generic_rfc3339(s: &[u8]) -> Option<OffsetDateTime> {
    let lit = |s: &[u8], c: u8| -> Option<usize> { (s.first() == Some(&c)).then_some(1) };
    // 2006: four bytes, the first a digit, all of them an integer (atoi).
    if s.len() < 4 || !s[0].is_ascii_digit() || !s[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year: i32 = std::str::from_utf8(&s[..4]).ok()?.parse().ok()?;
    let s = &s[4..];
    let s = &s[lit(s, b'-')?..];
    let (month, s) = getnum(s, true)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let s = &s[lit(s, b'-')?..];
    let (day, s) = getnum(s, true)?;
    let s = &s[lit(s, b'T')?..];
    let (hour, s) = getnum(s, false)?;
    if hour >= 24 {
        return None;
    }
    let s = &s[lit(s, b':')?..];
    let (min, s) = getnum(s, true)?;
    if min >= 60 {
        return None;
    }
    let s = &s[lit(s, b':')?..];
    let (sec, mut s) = getnum(s, true)?;
    if sec >= 60 {
        return None;
    }
    let mut nsec = 0;
    if s.len() >= 2 && (s[0] == b'.' || s[0] == b',') && s[1].is_ascii_digit() {
        let n = 1 + s[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        nsec = nanoseconds(&s[..n])?;
        s = &s[n..];
    }
    // Z07:00
    let offset = if s.first() == Some(&b'Z') {
        s = &s[1..];
        0
    } else {
        if s.len() < 6 || s[3] != b':' {
            return None;
        }
        let (hr, _) = getnum(&s[1..3], true)?;
        let (mm, _) = getnum(&s[4..6], true)?;
        if hr > 24 || mm > 60 {
            return None;
        }
        let off = ((hr * 60 + mm) * 60) as i32;
        let off = match s[0] {
            b'+' => off,
            b'-' => -off,
            _ => return None,
        };
        s = &s[6..];
        off
    };
    if !s.is_empty() {
        return None;
    }
    let day = u8::try_from(day).ok()?;
    if day < 1 || day > days_in(month as u8, year) {
        return None;
    }
    build(
        (year, month as u8, day),
        (hour as u8, min as u8, sec as u8, nsec),
        offset,
    )
}

/// What [`cbor_scan`] allows.
#[derive(Clone, Copy)]
pub struct CborRules {
    pub tags: bool,
}

/// fxamacker/cbor's default nesting limit (`MaxNestedLevels`).
const MAX_NESTED: usize = 32;
/// fxamacker/cbor's default `MaxArrayElements` and `MaxMapPairs`.
const MAX_ELEMENTS: u64 = 131_072;

/// Check that `data` is exactly one well-formed CBOR data item under go-cose's decoding
/// options: definite lengths only, tags only when `rules.tags`, at most 32 nested levels, and
/// nothing after the item. Returns fxamacker-like error text.
pub fn cbor_scan(data: &[u8], rules: CborRules) -> Result<(), String> {
    let end = scan_item(data, 0, 0, rules)?;
    if end != data.len() {
        return Err(format!(
            "cbor: {} bytes of extraneous data starting at index {end}",
            data.len() - end
        ));
    }
    Ok(())
}

fn scan_item(d: &[u8], at: usize, depth: usize, rules: CborRules) -> Result<usize, String> {
    let eof = || "unexpected EOF".to_string();
    let first = *d.get(at).ok_or_else(eof)?;
    let major = first >> 5;
    let ai = first & 0x1f;
    let mut pos = at + 1;
    let arg: u64 = match ai {
        0..=23 => u64::from(ai),
        24..=27 => {
            let n = 1usize << (ai - 24);
            let bytes = d.get(pos..pos + n).ok_or_else(eof)?;
            pos += n;
            bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        }
        31 => {
            return Err(match major {
                2..=5 => {
                    "cbor: indefinite-length array, map, byte string or text string is not allowed"
                        .into()
                }
                7 => "cbor: unexpected \"break\" code".into(),
                _ => format!("cbor: invalid additional information {ai} for type {major}"),
            });
        }
        _ => {
            return Err(format!(
                "cbor: invalid additional information {ai} for type {major}"
            ));
        }
    };
    let nested = |depth: usize| -> Result<(), String> {
        if depth > MAX_NESTED {
            Err(format!("cbor: exceeded max nested level {MAX_NESTED}"))
        } else {
            Ok(())
        }
    };
    match major {
        0 | 1 => Ok(pos),
        2 | 3 => {
            let len = usize::try_from(arg).map_err(|_| eof())?;
            let end = pos.checked_add(len).ok_or_else(eof)?;
            let body = d.get(pos..end).ok_or_else(eof)?;
            if major == 3 && std::str::from_utf8(body).is_err() {
                return Err("cbor: invalid UTF-8 string".into());
            }
            Ok(end)
        }
        4 | 5 => {
            nested(depth + 1)?;
            if arg > MAX_ELEMENTS {
                return Err(format!(
                    "cbor: exceeded max number of elements {MAX_ELEMENTS} for CBOR {}",
                    if major == 5 { "map" } else { "array" }
                ));
            }
            let items = if major == 5 {
                arg.checked_mul(2)
            } else {
                Some(arg)
            }
            .ok_or_else(eof)?;
            // Every item takes at least one byte: a count beyond the input is an EOF.
            if items > (d.len() - pos) as u64 {
                return Err(eof());
            }
            for _ in 0..items {
                pos = scan_item(d, pos, depth + 1, rules)?;
            }
            Ok(pos)
        }
        6 => {
            if !rules.tags {
                return Err("cbor: CBOR tag isn't allowed".into());
            }
            nested(depth + 1)?;
            scan_item(d, pos, depth + 1, rules)
        }
        _ => match ai {
            // simple values, float16/32/64: already consumed
            24 if arg < 32 => Err(format!(
                "cbor: invalid simple value {arg} for type primitives"
            )),
            _ => Ok(pos),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row: input, whether Go's `time.Parse(time.RFC3339, …)` accepts it, derived from
    /// format.go / format_rfc3339.go (see the module docs), and the UTC instant when it does.
    #[test]
    fn rfc3339_like_go() {
        let table: &[(&str, Option<&str>)] = &[
            ("2024-01-02T03:04:05Z", Some("2024-01-02T03:04:05Z")),
            (
                "2024-01-02T03:04:05.123456789Z",
                Some("2024-01-02T03:04:05.123456789Z"),
            ),
            // more than nine fraction digits: the rest is dropped
            (
                "2024-01-02T03:04:05.1234567891234Z",
                Some("2024-01-02T03:04:05.123456789Z"),
            ),
            ("2024-01-02T03:04:05+01:00", Some("2024-01-02T02:04:05Z")),
            ("2024-01-02T03:04:05-00:30", Some("2024-01-02T03:34:05Z")),
            // generic parser only: comma fraction, one-digit hour, offsets of 24 h / 60 min
            ("2024-01-02T03:04:05,5Z", Some("2024-01-02T03:04:05.5Z")),
            ("2024-01-02T3:04:05Z", Some("2024-01-02T03:04:05Z")),
            ("2024-01-02T03:04:05+24:00", Some("2024-01-01T03:04:05Z")),
            ("2024-01-02T03:04:05+23:60", Some("2024-01-01T03:04:05Z")),
            ("2024-01-02T03:04:05-24:60", Some("2024-01-03T04:04:05Z")),
            // refused
            ("2024-01-02t03:04:05Z", None),
            ("2024-01-02T03:04:05z", None),
            ("2024-01-02 03:04:05Z", None),
            ("2024-01-02T03:04Z", None),
            ("2024-01-02T03:04:05", None),
            ("2024-01-02T03:04:05+25:00", None),
            ("2024-01-02T03:04:05+24:61", None),
            ("2024-01-02T03:04:05+0100", None),
            ("2024-01-02T03:04:05.Z", None),
            ("2024-01-02T03:04:60Z", None),
            ("2024-01-02T24:00:00Z", None),
            ("2024-02-30T00:00:00Z", None),
            ("2023-02-29T00:00:00Z", None),
            ("2024-1-02T03:04:05Z", None),
            ("+2024-01-02T03:04:05Z", None),
            ("2024-01-02T03:04:05Z ", None),
            ("2024-01-02T03:04:05ZZ", None),
            ("2024-01-02T003:04:05Z", None),
            ("", None),
        ];
        for (input, want) in table {
            let got = parse_rfc3339(input).map(|t| {
                t.to_offset(UtcOffset::UTC)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            });
            assert_eq!(got.as_deref(), *want, "{input:?}");
        }
    }

    #[test]
    fn base64_like_go() {
        // Go's decoders skip \r and \n and accept non-zero unused bits.
        assert_eq!(b64_std("aGk=").unwrap(), b"hi");
        assert_eq!(b64_std("aG\r\nk=").unwrap(), b"hi");
        assert_eq!(b64_std("aGl=").unwrap(), b"hi");
        assert!(b64_std("aGk").is_err(), "StdEncoding needs its padding");
        assert!(b64_std("aG k=").is_err());
        assert_eq!(b64_raw_url("aGk").unwrap(), b"hi");
        assert_eq!(b64_raw_url("aGl").unwrap(), b"hi");
        assert_eq!(b64_raw_url("a\nGk").unwrap(), b"hi");
        assert!(
            b64_raw_url("aGk=").is_err(),
            "RawURLEncoding has no padding"
        );
        assert!(b64_raw_url("a+k").is_err());
    }

    #[test]
    fn cbor_rules_like_go_cose() {
        let ok = CborRules { tags: true };
        let no_tags = CborRules { tags: false };
        assert!(cbor_scan(&[0xa1, 0x01, 0x26], ok).is_ok());
        // indefinite-length map, array, byte string
        assert!(cbor_scan(&[0xbf, 0x01, 0x26, 0xff], ok).is_err());
        assert!(cbor_scan(&[0x9f, 0x01, 0xff], ok).is_err());
        assert!(cbor_scan(&[0x5f, 0x41, 0x00, 0xff], ok).is_err());
        // tags
        assert!(cbor_scan(&[0xc1, 0x01], ok).is_ok());
        assert!(cbor_scan(&[0xc1, 0x01], no_tags).is_err());
        // trailing bytes, truncation
        assert!(cbor_scan(&[0x01, 0x02], ok).is_err());
        assert!(cbor_scan(&[0x82, 0x01], ok).is_err());
        assert!(cbor_scan(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ok).is_err());
        // nesting: 32 levels pass, 33 do not
        let mut deep = vec![0x81; 32];
        deep.push(0x01);
        assert!(cbor_scan(&deep, ok).is_ok());
        let mut deeper = vec![0x81; 33];
        deeper.push(0x01);
        assert!(cbor_scan(&deeper, ok).is_err());
        // invalid UTF-8 text
        assert!(cbor_scan(&[0x61, 0xff], ok).is_err());
    }
}
