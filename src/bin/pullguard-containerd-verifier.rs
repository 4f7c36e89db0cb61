//! The containerd 2.x image verifier (`io.containerd.image-verifier.v1.bindir`): containerd runs
//! it once per pull as `-name REF -digest DIGEST -stdin-media-type TYPE` with the resolved root
//! descriptor on stdin. It asks the pullguard daemon over the control socket
//! (`$PULLGUARD_CONTROL_SOCKET`, else /run/pullguard/control.sock) and exits 0 to allow or 1 to
//! deny with the reason on stdout (containerd keeps at most 32 KiB of it). Anything unexpected,
//! including an unreachable daemon, is a denial.

use std::io::Read;
use std::time::Duration;

use pullguard::control::{self, pb};
use pullguard::oci::{Descriptor, ImageRef, validate_digest};

const MAX_REASON: usize = 32 * 1024 - 1;
const MAX_STDIN: u64 = 1 << 20;

fn deny(reason: &str) -> i32 {
    let mut r = format!("pullguard: {reason}");
    if r.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !r.is_char_boundary(cut) {
            cut -= 1;
        }
        r.truncate(cut);
    }
    print!("{r}");
    1
}

struct Args {
    name: String,
    digest: String,
    media_type: String,
}

fn parse_args() -> Result<Args, String> {
    let mut name = None;
    let mut digest = None;
    let mut media_type = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let flag = a.trim_start_matches('-');
        let (key, inline) = match flag.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or(format!("flag -{key} needs a value"))
        };
        match key.as_str() {
            "name" => name = Some(value()?),
            "digest" => digest = Some(value()?),
            "stdin-media-type" => media_type = Some(value()?),
            // Newer containerd passes -operation pull|run; all are verified the same way.
            "operation" => {
                value()?;
            }
            other => return Err(format!("unknown flag -{other}")),
        }
    }
    Ok(Args {
        name: name.ok_or("missing -name")?,
        digest: digest.ok_or("missing -digest")?,
        media_type: media_type.unwrap_or_default(),
    })
}

fn run() -> i32 {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => return deny(&e),
    };
    if let Err(e) = validate_digest(&args.digest) {
        return deny(&e);
    }
    let mut stdin = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_STDIN).read_to_end(&mut stdin) {
        return deny(&format!("cannot read the descriptor on stdin: {e}"));
    }
    if args.media_type == "application/vnd.oci.descriptor.v1+json" && !stdin.is_empty() {
        match serde_json::from_slice::<Descriptor>(&stdin) {
            Ok(d) if d.digest == args.digest => {}
            Ok(d) => {
                return deny(&format!(
                    "descriptor digest {} does not match -digest {}",
                    d.digest, args.digest
                ));
            }
            Err(e) => return deny(&format!("malformed descriptor on stdin: {e}")),
        }
    }
    // Verify exactly what containerd resolved: the name without its tag, at the digest, on the
    // registry containerd reads in the name.
    let image = match ImageRef::parse_containerd(&args.name) {
        Ok(i) => ImageRef {
            tag: None,
            ..i.with_digest(&args.digest)
        },
        Err(e) => return deny(&e),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return deny(&format!("cannot start: {e}")),
    };
    let socket = control::socket_path(None);
    let result = rt.block_on(async {
        let mut client = control::connect(&socket).await?;
        let req = pb::VerifyRequest {
            reference: image.to_string(),
            origin: "containerd-verifier".into(),
        };
        tokio::time::timeout(Duration::from_secs(60), client.verify(req))
            .await
            .map_err(|_| "the daemon did not answer within 60 s".to_string())?
            .map(|r| r.into_inner())
            .map_err(|s| format!("the daemon refused the request: {}", s.message()))
    });
    match result {
        Ok(r) if r.allowed => {
            print!("{}", r.summary);
            0
        }
        Ok(r) => deny(&r.summary),
        Err(e) => deny(&format!("{} (image {} denied: fail closed)", e, args.name)),
    }
}

const USAGE: &str = "\
pullguard-containerd-verifier: the containerd 2.x image verifier (bindir plugin) of pullguard

containerd runs it once per pull; it asks the pullguard daemon to verify exactly NAME@DIGEST and
exits 0 (allowed) or 1 (denied, the reason on stdout). Anything unexpected is a denial.

Usage: pullguard-containerd-verifier -name REF -digest DIGEST [-stdin-media-type TYPE] [-operation OP]
       pullguard-containerd-verifier --help | --version

  -name REF                the image reference containerd resolved
  -digest DIGEST           the resolved root manifest's digest: what is verified
  -stdin-media-type TYPE   the media type of stdin (the root descriptor; checked against -digest)
  -operation OP            pull or run (newer containerd); verified the same way

Environment: PULLGUARD_CONTROL_SOCKET, the daemon's control socket (default
/run/pullguard/control.sock).
";

fn main() {
    // Alone on the command line only: containerd always passes -name and -digest.
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["--version" | "-version" | "-V"] => {
            println!(
                "pullguard-containerd-verifier {}",
                env!("CARGO_PKG_VERSION")
            );
            std::process::exit(0);
        }
        ["--help" | "-help" | "-h"] => {
            print!("{USAGE}");
            std::process::exit(0);
        }
        _ => {}
    }
    std::process::exit(run());
}
