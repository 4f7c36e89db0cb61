//! Go's two quoting functions: `strconv.Quote` (what `%q` prints) and the `time` package's own
//! private `quote` (what `time.ParseError.Error` prints; it does not import strconv).

/// Go `%q` (`strconv.Quote`) of a string.
pub fn quote(s: &str) -> String {
    quote_bytes(s.as_bytes())
}

/// Go `strconv.Quote` of a byte string (invalid UTF-8 bytes print as `\xNN`).
pub fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    let mut i = 0usize;
    while i < bytes.len() {
        let Some((c, width)) = decode_char(bytes, i) else {
            out.push_str(&format!("\\x{:02x}", bytes[i]));
            i += 1;
            continue;
        };
        i += width;
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ if is_print(c) => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            _ if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            _ if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            _ => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Decode one UTF-8 character at `i` the way Go's `utf8.DecodeRune` accepts it.
pub fn decode_char(bytes: &[u8], i: usize) -> Option<(char, usize)> {
    let lead = *bytes.get(i)?;
    let width = match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let chunk = bytes.get(i..i + width)?;
    std::str::from_utf8(chunk)
        .ok()?
        .chars()
        .next()
        .map(|c| (c, width))
}

/// Approximation of Go `strconv.IsPrint` (Unicode categories L, M, N, P, S and U+0020).
/// Exact for ASCII, Latin-1, spaces, controls, format characters and private use; unassigned
/// code points are treated as printable.
pub fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x20 {
        return false;
    }
    if u <= 0x7e {
        return true;
    }
    if u < 0xa1 {
        return false;
    }
    if c.is_whitespace() || c.is_control() {
        return false;
    }
    let format_chars: &[(u32, u32)] = &[
        (0x00ad, 0x00ad),
        (0x0600, 0x0605),
        (0x061c, 0x061c),
        (0x06dd, 0x06dd),
        (0x070f, 0x070f),
        (0x0890, 0x0891),
        (0x08e2, 0x08e2),
        (0x180e, 0x180e),
        (0x200b, 0x200f),
        (0x202a, 0x202e),
        (0x2060, 0x2064),
        (0x2066, 0x206f),
        (0xfeff, 0xfeff),
        (0xfff9, 0xfffb),
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0xe0001, 0xe0001),
        (0xe0020, 0xe007f),
        // private use
        (0xe000, 0xf8ff),
        (0xf0000, 0xffffd),
        (0x100000, 0x10fffd),
        // noncharacters
        (0xfdd0, 0xfdef),
    ];
    if format_chars.iter().any(|&(a, b)| (a..=b).contains(&u)) {
        return false;
    }
    (u & 0xfffe) != 0xfffe
}

/// The `time` package's private `quote` (`src/time/format.go`), used by `ParseError.Error`:
/// every byte of a non-ASCII character, of an invalid UTF-8 sequence, and of a C0 control is
/// printed as `\xNN`; `"` and `\` are escaped; everything else (DEL included) is kept.
pub fn time_quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        if !(b' '..0x80).contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(char::from(b));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Go prints: `strconv.Quote` (`%q`) and the `time` package's `quote`
    /// (`time.ParseError`), which differ on controls, DEL, non-ASCII and invalid UTF-8.
    #[test]
    fn quote_and_time_quote_like_go() {
        let rows: &[(&[u8], &str, &str)] = &[
            (b"abc", r#""abc""#, r#""abc""#),
            (br#"a"b\c"#, r#""a\"b\\c""#, r#""a\"b\\c""#),
            (b"a\nb\tc", r#""a\nb\tc""#, r#""a\x0ab\x09c""#),
            (b"\x01\x7f", r#""\x01\x7f""#, "\"\\x01\x7f\""),
            ("Ünï".as_bytes(), "\"Ünï\"", r#""\xc3\x9cn\xc3\xaf""#),
            (
                "\u{a0}\u{200b}".as_bytes(),
                r#""\u00a0\u200b""#,
                r#""\xc2\xa0\xe2\x80\x8b""#,
            ),
            ("\u{fffd}".as_bytes(), "\"\u{fffd}\"", r#""\xef\xbf\xbd""#),
            (b"a\xff\xe2\x82", r#""a\xff\xe2\x82""#, r#""a\xff\xe2\x82""#),
            (
                "\u{1f600}".as_bytes(),
                "\"\u{1f600}\"",
                r#""\xf0\x9f\x98\x80""#,
            ),
            ("\u{e000}".as_bytes(), r#""\ue000""#, r#""\xee\x80\x80""#),
            (
                "\u{f0000}".as_bytes(),
                r#""\U000f0000""#,
                r#""\xf3\xb0\x80\x80""#,
            ),
        ];
        for (input, strconv, time) in rows {
            assert_eq!(quote_bytes(input), *strconv, "{input:?}");
            assert_eq!(time_quote(input), *time, "{input:?}");
        }
        assert_eq!(quote("Ünï 日本"), "\"Ünï 日本\"");
    }
}
