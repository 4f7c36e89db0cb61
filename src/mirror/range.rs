//! Byte ranges: a client's `Range:` against a blob's size, an upstream's `Content-Range`.

/// What a blob request's `Range:` asks for, against the blob's size.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Want {
    /// No range, or one that is ignored (RFC 9110: not one well-formed byte range).
    Whole,
    /// Bytes `start..=end`, within the blob.
    Part(u64, u64),
    /// A byte range that starts past the end: 416.
    Unsatisfiable,
}

/// One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); several ranges, another unit or a
/// malformed one are ignored, and the whole blob is served.
pub(super) fn parse_range(header: &str, size: u64) -> Want {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Want::Whole;
    };
    let Some((a, b)) = spec.split_once('-') else {
        return Want::Whole;
    };
    if spec.contains(',') || size == 0 {
        return Want::Whole;
    }
    let num = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (a_empty, b_empty) = (a.trim().is_empty(), b.trim().is_empty());
    match (num(a), num(b)) {
        (None, Some(0)) if a_empty => Want::Unsatisfiable,
        (None, Some(n)) if a_empty => Want::Part(size - n.min(size), size - 1),
        (Some(s), None) if b_empty => {
            if s >= size {
                Want::Unsatisfiable
            } else {
                Want::Part(s, size - 1)
            }
        }
        (Some(s), Some(e)) if s <= e => {
            if s >= size {
                Want::Unsatisfiable
            } else {
                Want::Part(s, e.min(size - 1))
            }
        }
        _ => Want::Whole,
    }
}

/// `bytes a-b/total` (exactly that form): (a, b, total).
pub(super) fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let (range, total) = v.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (a, b, total) = (num(a)?, num(b)?, num(total)?);
    (a <= b && b < total).then_some((a, b, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_against_the_size() {
        use Want::*;
        for (h, want) in [
            ("bytes=0-", Part(0, 99)),
            ("bytes=10-", Part(10, 99)),
            ("bytes=10-19", Part(10, 19)),
            (" bytes=10 - 19 ", Part(10, 19)),
            ("bytes=10-1000", Part(10, 99)),
            ("bytes=99-99", Part(99, 99)),
            ("bytes=-5", Part(95, 99)),
            ("bytes=-500", Part(0, 99)),
            ("bytes=100-", Unsatisfiable),
            ("bytes=100-200", Unsatisfiable),
            ("bytes=-0", Unsatisfiable),
            ("bytes=5-4", Whole),
            ("bytes=0-1,5-6", Whole),
            ("bytes=-", Whole),
            ("bytes=a-", Whole),
            ("bytes=+1-", Whole),
            ("bytes=99999999999999999999-", Whole),
            ("items=0-1", Whole),
            ("bytes 0-1", Whole),
        ] {
            assert_eq!(parse_range(h, 100), want, "{h:?}");
        }
        assert_eq!(
            parse_range("bytes=0-", 0),
            Whole,
            "an empty blob has no ranges"
        );
    }

    #[test]
    fn content_ranges_parse_exactly() {
        assert_eq!(parse_content_range("bytes 10-99/100"), Some((10, 99, 100)));
        for bad in [
            "bytes 10-100/100",
            "bytes 20-10/100",
            "bytes */100",
            "bytes 10-99/*",
            "bytes 1-2",
            "items 1-2/3",
            "bytes +1-2/3",
            "",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
    }
}
