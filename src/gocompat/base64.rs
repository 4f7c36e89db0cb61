//! Go's `encoding/base64` decoders as notation's Go code calls them.

use ::base64::Engine as _;
use ::base64::alphabet;
use ::base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

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

/// Go's `illegal base64 data at input byte N` for a decode error of `input`.
pub fn go_error_text(input: &str, e: &::base64::DecodeError) -> String {
    let offset = match e {
        ::base64::DecodeError::InvalidByte(i, _)
        | ::base64::DecodeError::InvalidLastSymbol(i, _) => *i,
        ::base64::DecodeError::InvalidPadding => input.find('=').unwrap_or(input.len()),
        _ => input.len(),
    };
    format!("illegal base64 data at input byte {offset}")
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
