//! Go's `encoding/json` as `json.NewDecoder(r).Decode(&v)` reads a document, for decoders that
//! must accept and reject exactly what notation-go does (its trust policy):
//! - only the first JSON value is read ([`parse_document`]); bytes after a top-level object or
//!   array are not looked at;
//! - object members are kept in document order with duplicates, so a caller can apply them the
//!   way Go does (later keys win, objects and maps merge);
//! - keys match struct fields case-insensitively with Go's folding ([`key_matches`]);
//! - strings are unquoted like Go (invalid UTF-8 and lone surrogates become U+FFFD);
//! - syntax errors carry Go's text (`invalid character 'x' after object key (offset 7)`),
//!   nesting is bounded by Go's `maxNestingDepth`.
//!
//! Not a crate: serde_json rejects duplicate-key merging, folds no keys, and words its errors
//! differently; notation's "malformed trust policy" detail is Go's.

/// Go's `maxNestingDepth`.
const MAX_DEPTH: usize = 10_000;
/// Containers deeper than this are syntax-checked but not kept (the schema needs 5 levels).
const KEEP_DEPTH: usize = 16;

#[derive(Debug)]
pub enum JVal {
    Null,
    Bool,
    Num,
    Str(String),
    Arr(Vec<JVal>),
    /// Members in document order, duplicates kept.
    Obj(Vec<(String, JVal)>),
    /// An array or object nested deeper than `KEEP_DEPTH`.
    DeepArr,
    DeepObj,
}

impl JVal {
    pub fn kind(&self) -> &'static str {
        match self {
            JVal::Null => "null",
            JVal::Bool => "bool",
            JVal::Num => "number",
            JVal::Str(_) => "string",
            JVal::Arr(_) | JVal::DeepArr => "array",
            JVal::Obj(_) | JVal::DeepObj => "object",
        }
    }
}

/// Parse the first JSON value of `b` like `json.Decoder.Decode`: leading whitespace is
/// skipped, bytes after a top-level object or array are not looked at, a top-level scalar
/// must be followed by whitespace or the end.
pub fn parse_document(b: &[u8]) -> Result<JVal, String> {
    let mut p = Parser { b, pos: 0 };
    p.ws();
    if p.peek().is_none() {
        return Err("EOF".to_string());
    }
    let v = p.value(0)?;
    if !matches!(
        v,
        JVal::Arr(_) | JVal::Obj(_) | JVal::DeepArr | JVal::DeepObj
    ) && let Some(c) = p.peek()
        && !is_ws(c)
    {
        return Err(p.unexpected("after top-level value"));
    }
    Ok(v)
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Skip {
    Value,
    ValueOrEnd,
    Key,
    KeyOrEnd,
    After,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, context: &str) -> String {
        match self.peek() {
            None => "unexpected end of JSON input".to_string(),
            Some(c) if (0x20..0x7f).contains(&c) => format!(
                "invalid character '{}' {context} (offset {})",
                c as char, self.pos
            ),
            Some(c) => format!(
                "invalid character '\\x{c:02x}' {context} (offset {})",
                self.pos
            ),
        }
    }

    fn value(&mut self, depth: usize) -> Result<JVal, String> {
        self.ws();
        match self.peek() {
            Some(c @ (b'{' | b'[')) => {
                if depth + 1 > MAX_DEPTH {
                    return Err("exceeded max depth".to_string());
                }
                if depth + 1 > KEEP_DEPTH {
                    self.skip_container(depth)?;
                    return Ok(if c == b'{' {
                        JVal::DeepObj
                    } else {
                        JVal::DeepArr
                    });
                }
                if c == b'{' {
                    self.object(depth + 1)
                } else {
                    self.array(depth + 1)
                }
            }
            _ => self.scalar(),
        }
    }

    fn object(&mut self, depth: usize) -> Result<JVal, String> {
        self.pos += 1;
        let mut members = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(JVal::Obj(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("looking for beginning of object key string"));
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected("after object key"));
            }
            self.pos += 1;
            let v = self.value(depth)?;
            members.push((key, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(JVal::Obj(members));
                }
                _ => return Err(self.unexpected("after object key:value pair")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<JVal, String> {
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(JVal::Arr(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(JVal::Arr(items));
                }
                _ => return Err(self.unexpected("after array element")),
            }
        }
    }

    /// Syntax-check a container without recursion. `depth` is the depth of its parent.
    fn skip_container(&mut self, depth: usize) -> Result<(), String> {
        let mut stack: Vec<u8> = Vec::new();
        let mut state = Skip::Value;
        loop {
            self.ws();
            let c = self
                .peek()
                .ok_or_else(|| "unexpected end of JSON input".to_string())?;
            match state {
                Skip::Value | Skip::ValueOrEnd => {
                    if state == Skip::ValueOrEnd && c == b']' {
                        self.pos += 1;
                        stack.pop();
                        if stack.is_empty() {
                            return Ok(());
                        }
                        state = Skip::After;
                    } else if c == b'[' || c == b'{' {
                        self.pos += 1;
                        stack.push(c);
                        if depth + stack.len() > MAX_DEPTH {
                            return Err("exceeded max depth".to_string());
                        }
                        state = if c == b'[' {
                            Skip::ValueOrEnd
                        } else {
                            Skip::KeyOrEnd
                        };
                    } else {
                        self.scalar()?;
                        state = Skip::After;
                    }
                }
                Skip::Key | Skip::KeyOrEnd => {
                    if state == Skip::KeyOrEnd && c == b'}' {
                        self.pos += 1;
                        stack.pop();
                        if stack.is_empty() {
                            return Ok(());
                        }
                        state = Skip::After;
                    } else if c == b'"' {
                        self.string()?;
                        self.ws();
                        if self.peek() != Some(b':') {
                            return Err(self.unexpected("after object key"));
                        }
                        self.pos += 1;
                        state = Skip::Value;
                    } else {
                        return Err(self.unexpected("looking for beginning of object key string"));
                    }
                }
                Skip::After => {
                    let Some(&top) = stack.last() else {
                        return Ok(());
                    };
                    if c == b',' {
                        self.pos += 1;
                        state = if top == b'[' { Skip::Value } else { Skip::Key };
                    } else if (top == b'[' && c == b']') || (top == b'{' && c == b'}') {
                        self.pos += 1;
                        stack.pop();
                        if stack.is_empty() {
                            return Ok(());
                        }
                    } else {
                        return Err(self.unexpected("after container element"));
                    }
                }
            }
        }
    }

    fn scalar(&mut self) -> Result<JVal, String> {
        match self.peek() {
            Some(b'"') => Ok(JVal::Str(self.string()?)),
            Some(b't') => self.literal(b"true", JVal::Bool),
            Some(b'f') => self.literal(b"false", JVal::Bool),
            Some(b'n') => self.literal(b"null", JVal::Null),
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Ok(JVal::Num)
            }
            _ => Err(self.unexpected("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &[u8], v: JVal) -> Result<JVal, String> {
        for &w in word {
            if self.peek() != Some(w) {
                return Err(self.unexpected("in literal"));
            }
            self.pos += 1;
        }
        Ok(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected("in numeric literal")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.unexpected("after decimal point in numeric literal"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("in exponent of numeric literal"));
            }
        }
        Ok(())
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let chunk = self.b.get(at..at + 4)?;
        let s = std::str::from_utf8(chunk).ok()?;
        if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(s, 16).ok()
    }

    /// A string, unquoted like Go: invalid UTF-8 bytes and unpaired surrogate escapes become
    /// U+FFFD, control characters are errors.
    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err("unexpected end of JSON input".to_string());
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.pos += 1;
                    let e = self
                        .peek()
                        .ok_or_else(|| "unexpected end of JSON input".to_string())?;
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let Some(r) = self.hex4(self.pos) else {
                                return Err(self.unexpected("in \\u hexadecimal character escape"));
                            };
                            self.pos += 4;
                            if (0xd800..0xe000).contains(&r) {
                                let low = if self.b.get(self.pos..self.pos + 2) == Some(b"\\u") {
                                    self.hex4(self.pos + 2)
                                } else {
                                    None
                                };
                                match low {
                                    Some(lo)
                                        if (0xd800..0xdc00).contains(&r)
                                            && (0xdc00..0xe000).contains(&lo) =>
                                    {
                                        let cp = 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00);
                                        out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                                        self.pos += 6;
                                    }
                                    _ => out.push('\u{fffd}'),
                                }
                            } else {
                                out.push(char::from_u32(r).unwrap_or('\u{fffd}'));
                            }
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.unexpected("in string escape code"));
                        }
                    }
                }
                c if c < 0x20 => return Err(self.unexpected("in string literal")),
                c if c < 0x80 => {
                    out.push(c as char);
                    self.pos += 1;
                }
                _ => match crate::gocompat::quote::decode_char(self.b, self.pos) {
                    Some((ch, width)) => {
                        out.push(ch);
                        self.pos += width;
                    }
                    None => {
                        out.push('\u{fffd}');
                        self.pos += 1;
                    }
                },
            }
        }
    }
}

/// Go `encoding/json` key matching against an ASCII field name: exact, else case-folded
/// (ASCII letters, plus U+212A KELVIN SIGN ~ 'k' and U+017F LONG S ~ 's').
pub fn key_matches(key: &str, field: &str) -> bool {
    let mut fb = field.bytes();
    for c in key.chars() {
        let folded = match c {
            '\u{212a}' => b'K',
            '\u{17f}' => b'S',
            c if c.is_ascii() => (c as u8).to_ascii_uppercase(),
            _ => return false,
        };
        match fb.next() {
            Some(f) if f.to_ascii_uppercase() == folded => {}
            _ => return false,
        }
    }
    fb.next().is_none()
}

/// Go's `*json.UnmarshalTypeError` text for a struct field.
pub fn unmarshal_type_error(v: &JVal, strct: &str, field: &str, ty: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {strct}.{field} of type {ty}",
        v.kind()
    )
}
