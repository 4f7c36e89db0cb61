//! Go's `pkix.Name.String()` of a certificate name, with crypto/x509's `parseASN1String` for
//! the attribute values (the text every notation message shows for a subject or issuer).

use super::asn1::der_len;
use super::hex;

/// Go crypto/x509 `isPrintable` (parser side: `*` and `&` allowed).
fn x509_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || (b'\''..=b')').contains(&b)
        || (b'+'..=b'/').contains(&b)
        || matches!(b, b' ' | b':' | b'=' | b'?' | b'*' | b'&')
}

/// Go encoding/asn1 `isPrintable` with asterisk and ampersand rejected.
fn asn1_printable(b: u8) -> bool {
    x509_printable(b) && b != b'*' && b != b'&'
}

/// Go crypto/x509 `parseASN1String` for a Name attribute value.
fn parse_asn1_string(value: &asn1_any::Any<'_>) -> Result<String, String> {
    let prefix = "x509: invalid RDNSequence: invalid attribute value: ";
    let data = value.data;
    if !value.header.is_universal() || value.header.is_constructed() {
        return Err(format!("{prefix}unsupported string type"));
    }
    match value.header.tag().0 {
        20 => Ok(String::from_utf8(data.to_vec())
            .unwrap_or_else(|_| data.iter().map(|b| char::from(*b)).collect())),
        19 => {
            if data.iter().all(|b| x509_printable(*b)) {
                Ok(data.iter().map(|b| char::from(*b)).collect())
            } else {
                Err(format!("{prefix}invalid PrintableString"))
            }
        }
        12 => String::from_utf8(data.to_vec()).map_err(|_| format!("{prefix}invalid UTF-8 string")),
        30 => {
            if !data.len().is_multiple_of(2) {
                return Err(format!("{prefix}pkcs12: odd-length BMP string"));
            }
            let mut d = data;
            if d.len() >= 2 && d[d.len() - 1] == 0 && d[d.len() - 2] == 0 {
                d = &d[..d.len() - 2];
            }
            let units: Vec<u16> = d
                .chunks_exact(2)
                .map(|c| (u16::from(c[0]) << 8) | u16::from(c[1]))
                .collect();
            Ok(char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect())
        }
        22 => {
            if data.is_ascii() {
                Ok(data.iter().map(|b| char::from(*b)).collect())
            } else {
                Err(format!("{prefix}invalid IA5String"))
            }
        }
        18 => {
            if data.iter().all(|b| b.is_ascii_digit() || *b == b' ') {
                Ok(data.iter().map(|b| char::from(*b)).collect())
            } else {
                Err(format!("{prefix}invalid NumericString"))
            }
        }
        t => Err(format!("{prefix}unsupported string type: {t}")),
    }
}

mod asn1_any {
    pub use x509_parser::asn1_rs::Any;
}

/// Go `pkix.Name.String()` of a parsed certificate name.
pub fn name_string(name: &x509_parser::x509::X509Name<'_>) -> Result<String, String> {
    let mut atvs: Vec<(String, String)> = Vec::new();
    for rdn in name.iter_rdn() {
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let value = parse_asn1_string(atv.attr_value())?;
            atvs.push((oid, value));
        }
    }
    Ok(name_from_attributes(&atvs))
}

const STANDARD_ATTRS: [&str; 9] = [
    "2.5.4.3", "2.5.4.5", "2.5.4.6", "2.5.4.7", "2.5.4.8", "2.5.4.9", "2.5.4.10", "2.5.4.11",
    "2.5.4.17",
];

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.6" => "C",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.17" => "POSTALCODE",
        _ => return None,
    })
}

/// Go `Name.String()` from the attributes in certificate order
/// (`FillFromRDNSequence` + `ToRDNSequence` + `RDNSequence.String`).
pub fn name_from_attributes(atvs: &[(String, String)]) -> String {
    let mut rdns: Vec<Vec<(&str, &str)>> = Vec::new();
    for (oid, value) in atvs {
        if !STANDARD_ATTRS.contains(&oid.as_str()) {
            rdns.push(vec![(oid.as_str(), value.as_str())]);
        }
    }
    for oid in [
        "2.5.4.6", "2.5.4.8", "2.5.4.7", "2.5.4.9", "2.5.4.17", "2.5.4.10", "2.5.4.11",
    ] {
        let values: Vec<(&str, &str)> = atvs
            .iter()
            .filter(|(o, _)| o == oid)
            .map(|(o, v)| (o.as_str(), v.as_str()))
            .collect();
        if !values.is_empty() {
            rdns.push(values);
        }
    }
    for oid in ["2.5.4.3", "2.5.4.5"] {
        if let Some((o, v)) = atvs.iter().rev().find(|(o, _)| o == oid)
            && !v.is_empty()
        {
            rdns.push(vec![(o.as_str(), v.as_str())]);
        }
    }

    let mut s = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            s.push(',');
        }
        for (j, (oid, value)) in rdn.iter().enumerate() {
            if j > 0 {
                s.push('+');
            }
            match short_name(oid) {
                None => {
                    s.push_str(oid);
                    s.push_str("=#");
                    s.push_str(&hex::encode(&marshal_go_string(value)));
                }
                Some(type_name) => {
                    s.push_str(type_name);
                    s.push('=');
                    escape_rdn_value(value, &mut s);
                }
            }
        }
    }
    s
}

/// Go `asn1.Marshal(string)`: PrintableString when possible, else UTF8String.
fn marshal_go_string(value: &str) -> Vec<u8> {
    let tag = if value.bytes().all(asn1_printable) {
        0x13
    } else {
        0x0c
    };
    let mut out = vec![tag];
    der_len(value.len(), &mut out);
    out.extend_from_slice(value.as_bytes());
    out
}

fn escape_rdn_value(value: &str, out: &mut String) {
    let last = value.len().saturating_sub(1);
    for (k, c) in value.char_indices() {
        let escape = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k == last,
            '#' => k == 0,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
}
