//! Go's `encoding/asn1` UTCTime and GeneralizedTime: `time.Parse` with asn1's layouts, then the
//! round-trip check (`ret.Format(layout) != s`), with Go's `time.ParseError` texts.

use time::{Date, Month, OffsetDateTime, UtcOffset};

use super::reader::Elem;
use crate::gocompat::quote::{quote, quote_bytes, time_quote};

/// Returns the time in the offset it was written with.
pub(crate) fn go_time(e: &Elem<'_>) -> Result<OffsetDateTime, String> {
    if e.class == 0 && e.tag == 23 {
        parse_utc_time(e.content)
    } else {
        parse_generalized_time(e.content)
    }
}

pub(crate) struct Cursor<'a> {
    pub(crate) s: &'a [u8],
    pub(crate) pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &[u8] {
        self.s.get(self.pos..).unwrap_or(&[])
    }

    fn digits(&mut self, n: usize) -> Option<u32> {
        let d = self.s.get(self.pos..self.pos + n)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += n;
        Some(d.iter().fold(0u32, |a, &x| a * 10 + u32::from(x - b'0')))
    }
}

pub(crate) struct ParseErr<'a> {
    pub(crate) value: &'a [u8],
    pub(crate) layout: &'static str,
}

impl ParseErr<'_> {
    fn bad(&self, rest: &[u8], elem: &str) -> String {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            time_quote(self.value),
            time_quote(self.layout.as_bytes()),
            time_quote(rest),
            time_quote(elem.as_bytes())
        )
    }

    fn msg(&self, m: &str) -> String {
        format!("parsing time {}{m}", time_quote(self.value))
    }
}

pub(crate) struct Fields {
    pub(crate) year: i32,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) nanos: u32,
    pub(crate) frac_text: String,
    pub(crate) offset_secs: i32,
}

/// Parses a Go layout made of: 2-or-4 digit year, month, day, hour, minute,
/// optional seconds, optional fraction, then `Z0700`.
pub(crate) fn parse_layout(
    b: &[u8],
    layout: &'static str,
    year_digits: usize,
    seconds: bool,
    fraction: bool,
) -> Result<Fields, String> {
    let pe = ParseErr { value: b, layout };
    let mut c = Cursor { s: b, pos: 0 };
    let ylayout = if year_digits == 4 { "2006" } else { "06" };
    let year = c
        .digits(year_digits)
        .ok_or_else(|| pe.bad(c.rest(), ylayout))?;
    let year = if year_digits == 2 {
        if year >= 69 { 1900 + year } else { 2000 + year }
    } else {
        year
    };
    let month = c.digits(2).ok_or_else(|| pe.bad(c.rest(), "01"))?;
    if !(1..=12).contains(&month) {
        return Err(pe.msg(": month out of range"));
    }
    let day = c.digits(2).ok_or_else(|| pe.bad(c.rest(), "02"))?;
    let hour = c.digits(2).ok_or_else(|| pe.bad(c.rest(), "15"))?;
    if hour >= 24 {
        return Err(pe.msg(": hour out of range"));
    }
    let minute = c.digits(2).ok_or_else(|| pe.bad(c.rest(), "04"))?;
    if minute >= 60 {
        return Err(pe.msg(": minute out of range"));
    }
    let mut second = 0;
    if seconds {
        second = c.digits(2).ok_or_else(|| pe.bad(c.rest(), "05"))?;
        if second >= 60 {
            return Err(pe.msg(": second out of range"));
        }
    }
    let mut nanos = 0u32;
    let mut frac_text = String::new();
    if fraction
        && matches!(c.s.get(c.pos), Some(b'.' | b','))
        && c.s.get(c.pos + 1).is_some_and(u8::is_ascii_digit)
    {
        frac_text.push(char::from(c.s.get(c.pos).copied().unwrap_or(b'.')));
        c.pos += 1;
        let mut n = 0;
        while let Some(&d) = c.s.get(c.pos) {
            if !d.is_ascii_digit() {
                break;
            }
            frac_text.push(char::from(d));
            if n < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            n += 1;
            c.pos += 1;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match c.s.get(c.pos) {
        Some(b'Z') => {
            c.pos += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let hh = c.digits(2);
            let mm = c.digits(2);
            let (Some(hh), Some(mm)) = (hh, mm) else {
                return Err(pe.bad(c.rest(), "Z0700"));
            };
            if hh > 24 {
                return Err(pe.msg(": time zone offset hour out of range"));
            }
            if mm > 60 {
                return Err(pe.msg(": time zone offset minute out of range"));
            }
            let secs = (hh * 3600 + mm * 60) as i32;
            if sign == b'-' { -secs } else { secs }
        }
        _ => return Err(pe.bad(c.rest(), "Z0700")),
    };
    if c.pos < c.s.len() {
        return Err(pe.msg(&format!(": extra text: {}", time_quote(c.rest()))));
    }
    let year = year as i32;
    let days = Month::try_from(month as u8)
        .map(|m| m.length(year))
        .unwrap_or(0);
    if day < 1 || day > u32::from(days) {
        return Err(pe.msg(": day out of range"));
    }
    Ok(Fields {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        frac_text,
        offset_secs,
    })
}

pub(crate) fn serialize(f: &Fields, year_digits: usize, seconds: bool, fraction: bool) -> String {
    let mut s = if year_digits == 4 {
        format!("{:04}", f.year)
    } else {
        format!("{:02}", f.year.rem_euclid(100))
    };
    s.push_str(&format!(
        "{:02}{:02}{:02}{:02}",
        f.month, f.day, f.hour, f.minute
    ));
    if seconds {
        s.push_str(&format!("{:02}", f.second));
    }
    if fraction && f.nanos != 0 {
        let frac = format!("{:09}", f.nanos);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    if f.offset_secs == 0 {
        s.push('Z');
    } else {
        let a = f.offset_secs.unsigned_abs();
        s.push(if f.offset_secs < 0 { '-' } else { '+' });
        s.push_str(&format!("{:02}{:02}", a / 3600, (a % 3600) / 60));
    }
    s
}

pub(crate) fn build_time(f: &Fields, year: i32) -> Result<OffsetDateTime, String> {
    let month = Month::try_from(f.month as u8).map_err(|e| e.to_string())?;
    let date = Date::from_calendar_date(year, month, f.day as u8).map_err(|e| e.to_string())?;
    let dt = date
        .with_hms_nano(f.hour as u8, f.minute as u8, f.second as u8, f.nanos)
        .map_err(|e| e.to_string())?;
    let a = f.offset_secs.unsigned_abs();
    let (h, m) = ((a / 3600) as i8, ((a % 3600) / 60) as i8);
    let off = if f.offset_secs < 0 {
        UtcOffset::from_hms(-h, -m, 0)
    } else {
        UtcOffset::from_hms(h, m, 0)
    }
    .map_err(|e| e.to_string())?;
    Ok(dt.assume_offset(off))
}

pub(crate) fn round_trip_error(given: &[u8], serialized: &str) -> String {
    format!(
        "asn1: time did not serialize back to the original value and may be invalid: given {}, but serialized as {}",
        quote_bytes(given),
        quote(serialized)
    )
}

pub(crate) fn parse_generalized_time(b: &[u8]) -> Result<OffsetDateTime, String> {
    let f = parse_layout(b, "20060102150405.999999999Z0700", 4, true, true)?;
    let ser = serialize(&f, 4, true, true);
    if ser.as_bytes() != b || f.frac_text.starts_with(',') {
        return Err(round_trip_error(b, &ser));
    }
    build_time(&f, f.year)
}

pub(crate) fn parse_utc_time(b: &[u8]) -> Result<OffsetDateTime, String> {
    let (f, seconds) = match parse_layout(b, "0601021504Z0700", 2, false, false) {
        Ok(f) => (f, false),
        Err(_) => (parse_layout(b, "060102150405Z0700", 2, true, false)?, true),
    };
    let ser = serialize(&f, 2, seconds, false);
    if ser.as_bytes() != b {
        return Err(round_trip_error(b, &ser));
    }
    let year = if f.year >= 2050 { f.year - 100 } else { f.year };
    build_time(&f, year)
}
