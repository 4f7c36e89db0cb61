//! "Help that helps": every flag and argument of every command has a help line, and
//! `serve --help` points at the config keys that have no flag.

/// (command path, argument id) of every argument without help, subcommands included.
fn missing(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
        if help.trim().is_empty() {
            out.push(format!("{path} {id}"));
        }
    }
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let about = sub.get_about().map(|h| h.to_string()).unwrap_or_default();
        if about.trim().is_empty() {
            out.push(format!("{path} {} (the command)", sub.get_name()));
        }
        missing(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

#[test]
fn every_flag_of_every_command_has_a_help_line() {
    let mut out = Vec::new();
    let mut cmd = pullguard::cli::command();
    cmd.build();
    missing(&cmd, "pullguard", &mut out);
    assert!(out.is_empty(), "without help: {out:#?}");
}

/// (section, key) of every field of the config structs in src/config/raw.rs ("" for top level).
fn config_keys() -> Vec<(String, String)> {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/config/raw.rs"))
        .expect("src/config/raw.rs");
    let mut keys = Vec::new();
    let mut section = None;
    for line in src.lines() {
        if let Some(rest) = line.strip_prefix("pub struct ") {
            let name = rest.split_whitespace().next().unwrap_or("");
            section = match name {
                "RawConfig" => Some(String::new()),
                n => n.strip_suffix("Section").map(str::to_ascii_lowercase),
            };
        } else if line.starts_with('}') {
            section = None;
        } else if let (Some(s), Some(field)) = (&section, line.strip_prefix("    pub ")) {
            let key = field.split(':').next().unwrap_or("").to_string();
            keys.push((s.clone(), key));
        }
    }
    keys
}

#[test]
fn serve_help_names_every_config_key_without_a_flag() {
    let mut cmd = pullguard::cli::command();
    cmd.build();
    let mut serve = cmd.find_subcommand("serve").expect("serve").clone();
    let flags: Vec<String> = serve
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    let help = serve.render_long_help().to_string();
    let keys = config_keys();
    assert!(keys.len() > 20, "{keys:?}");
    let sections = ["docker", "control", "mirror", "authz"];
    let mut missing = Vec::new();
    for (section, key) in &keys {
        if section.is_empty() && sections.contains(&key.as_str()) {
            continue;
        }
        let flag = if section.is_empty() {
            key.replace('_', "-")
        } else {
            format!("{section}-{}", key.replace('_', "-"))
        };
        let flagged = flags.contains(&flag)
            || (key == "insecure_registries" && flags.iter().any(|f| f == "insecure-registry"));
        if !flagged && !help.contains(key.as_str()) {
            missing.push(format!("[{section}] {key}"));
        }
    }
    assert!(missing.is_empty(), "serve --help does not name {missing:?}");
}
