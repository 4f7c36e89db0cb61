//! notation verify's output: text (stdout byte for byte) and JSON.

use super::*;

/// Go's `text/tabwriter` (minwidth 0, padding 3, spaces) over tab-terminated cells, as
/// notation's `PrintMetadataMap` uses it: every cell padded to its column's width + 3.
pub(super) fn tab_table(rows: &[[&str; 2]]) -> String {
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0) + 3;
    let (w0, w1) = (width(0), width(1));
    rows.iter()
        .map(|r| {
            let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w - s.chars().count()));
            format!("{}{}\n", pad(r[0], w0), pad(r[1], w1))
        })
        .collect()
}

pub(super) fn print_outcome(o: &Outcome, output: Output, resolved: &str, verbose: bool) {
    if output == Output::Json {
        match serde_json::to_string_pretty(o) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("Error: cannot render the outcome: {e}"),
        }
        return;
    }
    // What notation prints, on the same streams; the details on stderr under -v/-d.
    if o.allowed {
        if let Some(sig) = &o.signature {
            for w in sig.warnings() {
                eprintln!("Warning: {w}");
            }
            println!("Successfully verified signature for {resolved}");
            if let Some(meta) = sig.user_metadata.as_ref().filter(|m| !m.is_empty()) {
                println!("\nThe artifact was signed with the following user metadata.");
                let mut rows = vec![["KEY", "VALUE"]];
                rows.extend(meta.iter().map(|(k, v)| [k.as_str(), v.as_str()]));
                print!("\n{}", tab_table(&rows));
            }
            if verbose {
                eprintln!("{}", o.summary());
                eprintln!(
                    "  trust policy: {:?} (level {})",
                    o.policy.as_deref().unwrap_or("-"),
                    o.level.as_deref().unwrap_or("-")
                );
                eprintln!("  signer:       {}", sig.signer.as_deref().unwrap_or("-"));
                eprintln!(
                    "  signed at:    {}",
                    sig.signing_time.as_deref().unwrap_or("-")
                );
                eprintln!(
                    "  signature:    {} ({})",
                    sig.digest, sig.envelope_media_type
                );
            }
        } else {
            println!("Trust policy is configured to skip signature verification for {resolved}");
            if verbose {
                eprintln!("{}", o.summary());
            }
        }
    } else {
        eprintln!("Error: {}", o.notation_error(resolved));
        if verbose {
            eprintln!("{}", o.summary());
            for f in &o.failed {
                for w in f.warnings() {
                    eprintln!("  Warning: {w}");
                }
            }
        }
    }
}
