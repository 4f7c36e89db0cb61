//! Go's `syscall.Errno.Error()` texts for the errors a file open or `lstat` reports (Rust's
//! `io::Error` text has a capital letter and "(os error N)"; notation prints Go's).

/// Go's text for `e`'s errno where Go's differs from Rust's; Rust's text otherwise.
pub fn text(e: &std::io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(1) => "operation not permitted",
        Some(2) => "no such file or directory",
        Some(5) => "input/output error",
        Some(13) => "permission denied",
        Some(20) => "not a directory",
        Some(21) => "is a directory",
        Some(36) => "file name too long",
        Some(40) => "too many levels of symbolic links",
        _ => return e.to_string(),
    };
    text.to_string()
}
