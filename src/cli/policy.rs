//! `pullguard policy check`.

use super::*;

pub(super) fn policy_dir(flag: Option<PathBuf>, cfg: &Config) -> PathBuf {
    flag.or_else(|| cfg.policy_dir.clone())
        .unwrap_or_else(config::default_policy_dir)
}

pub(super) fn policy_check(flag: Option<PathBuf>, config_path: Option<PathBuf>) -> i32 {
    let cfg = match Config::load(config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_USAGE;
        }
    };
    let dir = policy_dir(flag, &cfg);
    match TrustConfig::load(&dir) {
        Err(problems) => {
            for p in &problems {
                println!("Error: {p}");
            }
            println!("{} problem(s) in {}", problems.len(), dir.display());
            EXIT_DENIED
        }
        Ok(tc) => {
            for w in &tc.warnings {
                println!("Warning: {w}");
            }
            let problems = tc.store_problems();
            for p in &problems {
                println!("Error: {p}");
            }
            if problems.is_empty() {
                println!(
                    "ok: {} ({} statement(s), {} trust store(s))",
                    tc.policy_path.display(),
                    tc.policy.statements.len(),
                    tc.stores.len()
                );
                EXIT_OK
            } else {
                println!("{} problem(s) in {}", problems.len(), dir.display());
                EXIT_DENIED
            }
        }
    }
}
