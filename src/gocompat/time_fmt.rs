//! Go's `time` package: `time.Parse(time.RFC3339, …)` and the formats Go prints times in.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

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

/// Go `time.RFC3339` formatting (no fractional seconds).
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    format!("{}Z", date_time(t, 'T'))
}

/// `2006-01-02<sep>15:04:05` of `t` in its own offset.
fn date_time(t: OffsetDateTime, sep: char) -> String {
    format!(
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Go `time.Time.String()` for a time parsed from ASN.1 (UTC, or a nameless
/// fixed zone, which Go prints as its offset).
pub fn time_string(t: OffsetDateTime) -> String {
    let mut s = date_time(t, ' ');
    if t.nanosecond() != 0 {
        let frac = format!("{:09}", t.nanosecond());
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    let off = t.offset().whole_seconds();
    if off == 0 {
        s.push_str(" +0000 UTC");
    } else {
        let a = off.unsigned_abs();
        let z = format!(
            "{}{:02}{:02}",
            if off < 0 { '-' } else { '+' },
            a / 3600,
            (a % 3600) / 60
        );
        s.push_str(&format!(" {z} {z}"));
    }
    s
}

/// Go `time.RFC1123Z` ("Mon, 02 Jan 2006 15:04:05 -0700"), rendered in UTC.
pub fn format_rfc1123z(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] +0000"
    );
    t.format(&format).unwrap_or_else(|_| t.to_string())
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
}
