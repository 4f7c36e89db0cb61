//! Go's `encoding/asn1` reader (`parseTagAndLength`, `parseBase128Int`, `parseField` for the
//! field kinds tspclient-go's structures use), with Go's error texts, including the `%+v` dump of
//! the field parameters in "tags don't match".

use std::fmt;

use time::OffsetDateTime;

use super::der_len;
use super::time::go_time;

pub(crate) const P_DEFAULT: &str = "{optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:0 set:false omitEmpty:false}";
pub(crate) const P_GENTIME: &str = "{optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:24 set:false omitEmpty:false}";
pub(crate) const P_SET: &str = "{optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:0 set:true omitEmpty:false}";

pub(crate) fn structural(m: impl fmt::Display) -> String {
    format!("asn1: structure error: {m}")
}

pub(crate) fn syntax(m: impl fmt::Display) -> String {
    format!("asn1: syntax error: {m}")
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct TagLen {
    pub(crate) class: u8,
    pub(crate) tag: u32,
    pub(crate) length: usize,
    pub(crate) compound: bool,
}

/// Go `parseTagAndLength`.
pub(crate) fn tag_and_length(b: &[u8], mut off: usize) -> Result<(TagLen, usize), String> {
    let Some(&first) = b.get(off) else {
        return Err("asn1: internal error in parseTagAndLength".to_string());
    };
    off += 1;
    let class = first >> 6;
    let compound = first & 0x20 == 0x20;
    let mut tag = u32::from(first & 0x1f);
    if tag == 0x1f {
        let (t, o) = base128(b, off)?;
        off = o;
        if t < 0x1f {
            return Err(syntax("non-minimal tag"));
        }
        tag = t;
    }
    let Some(&lb) = b.get(off) else {
        return Err(syntax("truncated tag or length"));
    };
    off += 1;
    let length = if lb & 0x80 == 0 {
        usize::from(lb & 0x7f)
    } else {
        let n = lb & 0x7f;
        if n == 0 {
            return Err(syntax("indefinite length found (not DER)"));
        }
        let mut len: usize = 0;
        for _ in 0..n {
            let Some(&x) = b.get(off) else {
                return Err(syntax("truncated tag or length"));
            };
            off += 1;
            if len >= 1 << 23 {
                return Err(structural("length too large"));
            }
            len = (len << 8) | usize::from(x);
            if len == 0 {
                return Err(structural("superfluous leading zeros in length"));
            }
        }
        if len < 0x80 {
            return Err(structural("non-minimal length"));
        }
        len
    };
    Ok((
        TagLen {
            class,
            tag,
            length,
            compound,
        },
        off,
    ))
}

/// Go `parseBase128Int`.
pub(crate) fn base128(b: &[u8], mut off: usize) -> Result<(u32, usize), String> {
    let mut ret: i64 = 0;
    let mut shifted = 0;
    while let Some(&x) = b.get(off) {
        if shifted == 5 {
            return Err(structural("base 128 integer too large"));
        }
        ret <<= 7;
        if shifted == 0 && x == 0x80 {
            return Err(syntax("integer is not minimally encoded"));
        }
        ret |= i64::from(x & 0x7f);
        off += 1;
        if x & 0x80 == 0 {
            return match u32::try_from(ret) {
                Ok(v) if ret <= i64::from(i32::MAX) => Ok((v, off)),
                _ => Err(structural("base 128 integer too large")),
            };
        }
        shifted += 1;
    }
    Err(syntax("truncated base 128 integer"))
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// Universal tag with the Go type's compound flag.
    Univ(u32, bool),
    /// `time.Time`: UTCTime, or GeneralizedTime.
    Time,
    /// IMPLICIT context tag; compound flag checked unless `None` (RawValue).
    Ctx(u32, Option<bool>),
    /// Untagged `asn1.RawValue`: anything.
    Any,
}

pub(crate) const SEQ: Kind = Kind::Univ(16, true);
pub(crate) const SET: Kind = Kind::Univ(17, true);
pub(crate) const INT: Kind = Kind::Univ(2, false);
pub(crate) const OID: Kind = Kind::Univ(6, false);
pub(crate) const OCTETS: Kind = Kind::Univ(4, false);
pub(crate) const BOOL: Kind = Kind::Univ(1, false);

pub(crate) struct Spec {
    pub(crate) kind: Kind,
    pub(crate) optional: bool,
    /// Go `%+v` of the field parameters (only shown for required fields).
    pub(crate) params: &'static str,
    /// Go `reflect.Type.Name()` of the field.
    pub(crate) name: &'static str,
}

pub(crate) fn spec(kind: Kind, name: &'static str) -> Spec {
    Spec {
        kind,
        optional: false,
        params: P_DEFAULT,
        name,
    }
}

pub(crate) fn opt(kind: Kind) -> Spec {
    Spec {
        kind,
        optional: true,
        params: "",
        name: "",
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Elem<'a> {
    pub(crate) class: u8,
    pub(crate) tag: u32,
    pub(crate) content: &'a [u8],
    pub(crate) full: &'a [u8],
}

pub(crate) struct Rd<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) off: usize,
}

impl<'a> Rd<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Rd { b, off: 0 }
    }

    pub(crate) fn done(&self) -> bool {
        self.off >= self.b.len()
    }

    fn expected(kind: Kind, t: &TagLen) -> (Option<(u8, u32)>, Option<bool>) {
        match kind {
            Kind::Univ(tag, c) => (Some((0, tag)), Some(c)),
            Kind::Time => {
                let tag = if t.class == 0 && t.tag == 24 { 24 } else { 23 };
                (Some((0, tag)), Some(false))
            }
            Kind::Ctx(tag, c) => (Some((2, tag)), c),
            Kind::Any => (None, None),
        }
    }

    pub(crate) fn mismatch(kind: Kind, t: &TagLen) -> Option<u32> {
        let (exp, comp) = Self::expected(kind, t);
        let tag_bad = exp.is_some_and(|(c, g)| t.class != c || t.tag != g);
        let comp_bad = comp.is_some_and(|c| t.compound != c);
        if tag_bad || comp_bad {
            Some(exp.map_or(0, |(_, g)| g))
        } else {
            None
        }
    }

    fn take(&mut self, init: usize, t: &TagLen, off: usize) -> Result<Elem<'a>, String> {
        let end = off
            .checked_add(t.length)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| syntax("data truncated"))?;
        self.off = end;
        Ok(Elem {
            class: t.class,
            tag: t.tag,
            content: self.b.get(off..end).unwrap_or(&[]),
            full: self.b.get(init..end).unwrap_or(&[]),
        })
    }

    /// Go `parseField` for one (non-explicit) field.
    pub(crate) fn field(&mut self, s: &Spec) -> Result<Option<Elem<'a>>, String> {
        let init = self.off;
        if init >= self.b.len() {
            return if s.optional {
                Ok(None)
            } else {
                Err(syntax("sequence truncated"))
            };
        }
        let (t, off) = tag_and_length(self.b, init)?;
        if let Some(expected_tag) = Self::mismatch(s.kind, &t) {
            if s.optional {
                return Ok(None);
            }
            return Err(structural(format!(
                "tags don't match ({} vs {{class:{} tag:{} length:{} isCompound:{}}}) {} {} @{}",
                expected_tag, t.class, t.tag, t.length, t.compound, s.params, s.name, off
            )));
        }
        self.take(init, &t, off).map(Some)
    }

    pub(crate) fn req(&mut self, s: &Spec) -> Result<Elem<'a>, String> {
        self.field(s)?.ok_or_else(|| syntax("sequence truncated"))
    }

    /// Go `parseField` for an EXPLICIT context tag. `inner == None` is an
    /// `asn1.RawValue` (the outer element is returned).
    pub(crate) fn explicit(
        &mut self,
        tag: u32,
        optional: bool,
        inner: Option<&Spec>,
    ) -> Result<Option<Elem<'a>>, String> {
        let init = self.off;
        if init >= self.b.len() {
            return if optional {
                Ok(None)
            } else {
                Err(syntax("sequence truncated"))
            };
        }
        let (t, off) = tag_and_length(self.b, init)?;
        if off == self.b.len() {
            return Err(structural("explicit tag has no child"));
        }
        if !(t.class == 2 && t.tag == tag && (t.length == 0 || t.compound)) {
            return if optional {
                Ok(None)
            } else {
                Err(structural("explicitly tagged member didn't match"))
            };
        }
        let Some(inner) = inner else {
            return self.take(init, &t, off).map(Some);
        };
        if t.length == 0 {
            return Err(structural("zero length explicit tag was not an asn1.Flag"));
        }
        let (t2, off2) = tag_and_length(self.b, off)?;
        if Self::mismatch(inner.kind, &t2).is_some() {
            if optional {
                self.off = init;
                return Ok(None);
            }
            return Err(structural("explicitly tagged member didn't match"));
        }
        self.take(off, &t2, off2).map(Some)
    }
}

/// Go `parseSequenceOf` for elements of the given kind.
pub(crate) fn seq_of<'a>(
    b: &'a [u8],
    kind: Kind,
    name: &'static str,
) -> Result<Vec<Elem<'a>>, String> {
    let mut off = 0;
    while off < b.len() {
        let (t, o) = tag_and_length(b, off)?;
        if Rd::mismatch(kind, &t).is_some() || t.class != 0 {
            return Err(structural("sequence tag mismatch"));
        }
        off = o
            .checked_add(t.length)
            .filter(|&e| e <= b.len())
            .ok_or_else(|| syntax("truncated sequence"))?;
    }
    let mut r = Rd::new(b);
    let mut out = Vec::new();
    while !r.done() {
        out.push(r.req(&spec(kind, name))?);
    }
    Ok(out)
}

pub(crate) fn check_integer(b: &[u8]) -> Result<(), String> {
    match b {
        [] => Err(structural("empty integer")),
        [_] => Ok(()),
        [0, x, ..] if x & 0x80 == 0 => Err(structural("integer not minimally-encoded")),
        [0xff, x, ..] if x & 0x80 == 0x80 => Err(structural("integer not minimally-encoded")),
        _ => Ok(()),
    }
}

pub(crate) fn go_i64(b: &[u8]) -> Result<i64, String> {
    check_integer(b)?;
    if b.len() > 8 {
        return Err(structural("integer too large"));
    }
    let neg = b.first().is_some_and(|x| x & 0x80 != 0);
    let mut buf = if neg { [0xffu8; 8] } else { [0u8; 8] };
    let start = 8 - b.len();
    if let Some(dst) = buf.get_mut(start..) {
        dst.copy_from_slice(b);
    }
    Ok(i64::from_be_bytes(buf))
}

pub(crate) fn go_bigint(b: &[u8]) -> Result<Vec<u8>, String> {
    check_integer(b)?;
    Ok(b.to_vec())
}

pub(crate) fn go_bool(b: &[u8]) -> Result<bool, String> {
    match b {
        [0] => Ok(false),
        [0xff] => Ok(true),
        _ => Err(syntax("invalid boolean")),
    }
}

/// Go `parseObjectIdentifier`, as a dotted string.
pub(crate) fn go_oid(b: &[u8]) -> Result<String, String> {
    if b.is_empty() {
        return Err(syntax("zero length OBJECT IDENTIFIER"));
    }
    let (v, mut off) = base128(b, 0)?;
    let mut s = if v < 80 {
        format!("{}.{}", v / 40, v % 40)
    } else {
        format!("2.{}", v - 80)
    };
    while off < b.len() {
        let (v, o) = base128(b, off)?;
        off = o;
        s.push('.');
        s.push_str(&v.to_string());
    }
    Ok(s)
}

/// Minimal two's complement form of an INTEGER's content octets.
pub(crate) fn canonical_int(b: &[u8]) -> &[u8] {
    let mut b = b;
    while let [first, second, ..] = b {
        if (*first == 0 && second & 0x80 == 0) || (*first == 0xff && second & 0x80 != 0) {
            b = b.get(1..).unwrap_or(&[]);
        } else {
            break;
        }
    }
    b
}

/// Longest integer (in octets) written out in decimal as Go's `big.Int.String` does. The
/// conversion is quadratic in the length, and a certificate's serial comes from whoever made the
/// certificate (RFC 5280 allows 20 octets): a longer one is written as the first octets in hex
/// and its length, where Go would print every digit. Only error texts show it.
const MAX_DECIMAL_OCTETS: usize = 64;

pub(crate) fn int_to_decimal(b: &[u8]) -> String {
    let b = canonical_int(b);
    if b.len() > MAX_DECIMAL_OCTETS {
        let head: String = b[..16].iter().map(|x| format!("{x:02x}")).collect();
        return format!("0x{head}... ({} octets)", b.len());
    }
    let neg = b.first().is_some_and(|x| x & 0x80 != 0);
    let mut mag: Vec<u8> = b.to_vec();
    if neg {
        // two's complement negate
        for x in &mut mag {
            *x = !*x;
        }
        for x in mag.iter_mut().rev() {
            let (v, carry) = x.overflowing_add(1);
            *x = v;
            if !carry {
                break;
            }
        }
    }
    let mut digits = Vec::new();
    while mag.iter().any(|&x| x != 0) {
        let mut rem: u32 = 0;
        for x in &mut mag {
            let cur = (rem << 8) | u32::from(*x);
            *x = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    if neg {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8_lossy(&digits).into_owned()
}

/// `asn1.Unmarshal(b, &rawValue)`: the first element's full encoding.
pub(crate) fn unmarshal_raw(b: &[u8]) -> Result<&[u8], String> {
    let mut r = Rd::new(b);
    Ok(r.req(&spec(Kind::Any, "RawValue"))?.full)
}

pub(crate) fn unmarshal_oid(b: &[u8]) -> Result<String, String> {
    let mut r = Rd::new(b);
    go_oid(r.req(&spec(OID, "ObjectIdentifier"))?.content)
}

pub(crate) fn unmarshal_octets(b: &[u8]) -> Result<Vec<u8>, String> {
    let mut r = Rd::new(b);
    Ok(r.req(&spec(OCTETS, ""))?.content.to_vec())
}

pub(crate) fn unmarshal_time(b: &[u8]) -> Result<OffsetDateTime, String> {
    let mut r = Rd::new(b);
    let e = r.req(&Spec {
        kind: Kind::Time,
        optional: false,
        params: P_DEFAULT,
        name: "Time",
    })?;
    go_time(&e)
}

/// DER SET OF with Go's ordering (bytes.Compare of the encodings).
pub(crate) fn encode_set<'a>(items: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut items: Vec<&[u8]> = items.collect();
    items.sort();
    let len: usize = items.iter().map(|i| i.len()).sum();
    let mut out = vec![0x31];
    der_len(len, &mut out);
    for i in items {
        out.extend_from_slice(i);
    }
    out
}
