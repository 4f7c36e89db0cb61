//! Go's `encoding/pem.Decode`, as notation-core-go's `parseCertificates` calls it.

fn get_line(data: &[u8]) -> (&[u8], &[u8]) {
    let (line, rest) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b' ' | b'\t' | b'\r') {
        end -= 1;
    }
    (&line[..end], rest)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Port of Go `encoding/pem.Decode`: returns the decoded bytes of the next
/// block and the rest, or `None` when no further block exists.
pub fn decode(data: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    const PEM_START: &[u8] = b"\n-----BEGIN ";
    const PEM_END: &[u8] = b"\n-----END ";
    const PEM_EOL: &[u8] = b"-----";
    let mut rest = data;
    loop {
        if rest.starts_with(&PEM_START[1..]) {
            rest = &rest[PEM_START.len() - 1..];
        } else if let Some(i) = find(rest, PEM_START) {
            rest = &rest[i + PEM_START.len()..];
        } else {
            return None;
        }
        let (type_line, after_type) = get_line(rest);
        rest = after_type;
        if !type_line.ends_with(PEM_EOL) {
            continue;
        }
        let type_line = &type_line[..type_line.len() - PEM_EOL.len()];

        let mut has_headers = false;
        loop {
            if rest.is_empty() {
                return None;
            }
            let (line, next) = get_line(rest);
            if !line.contains(&b':') {
                break;
            }
            has_headers = true;
            rest = next;
        }

        let (end_index, end_trailer_index) = if !has_headers && rest.starts_with(&PEM_END[1..]) {
            (0usize, PEM_END.len() - 1)
        } else {
            match find(rest, PEM_END) {
                Some(i) => (i, i + PEM_END.len()),
                None => continue,
            }
        };
        let end_trailer = &rest[end_trailer_index..];
        let end_trailer_len = type_line.len() + PEM_EOL.len();
        if end_trailer.len() < end_trailer_len {
            continue;
        }
        let rest_of_end_line = &end_trailer[end_trailer_len..];
        let end_trailer = &end_trailer[..end_trailer_len];
        if !end_trailer.starts_with(type_line) || !end_trailer.ends_with(PEM_EOL) {
            continue;
        }
        if !get_line(rest_of_end_line).0.is_empty() {
            continue;
        }
        let b64: Vec<u8> = rest[..end_index]
            .iter()
            .copied()
            .filter(|b| *b != b' ' && *b != b'\t')
            .collect();
        let Some(decoded) = base64_std_decode(&b64) else {
            continue;
        };
        // `end_index + PEM_END.len() - 1` is within `rest`: the end marker was found.
        let after = &rest[end_index + PEM_END.len() - 1..];
        let (_, remaining) = get_line(after);
        return Some((decoded, remaining));
    }
}

/// Go `base64.StdEncoding.Decode` of a PEM body (padding required, CR/LF ignored).
pub(crate) fn base64_std_decode(input: &[u8]) -> Option<Vec<u8>> {
    super::base64::b64_std(std::str::from_utf8(input).ok()?).ok()
}
