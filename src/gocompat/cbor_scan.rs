//! fxamacker/cbor's well-formedness rules as go-cose configures its decoder.

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
