//! A Kubernetes node's view: containerd's CRI plugin (1.6 and 2.1, each its own instance with CRI
//! on and `config_path` naming a hosts dir whose only host is pullguard's mirror), driven over the
//! CRI ImageService as a kubelet drives it. A CRI pull of a signed image succeeds, an unsigned one
//! is refused with pullguard's reason; an unsigned image put into `k8s.io` around the mirror is
//! removed by the store watch, and CRI no longer lists it (so a kubelet with `IfNotPresent` cannot
//! run it).

mod common;

use std::time::{Duration, Instant};

use common::containerd::{Containerd, Version};
use common::daemon::*;
use common::*;

mod cri {
    tonic::include_proto!("runtime.v1");
}
use cri::image_service_client::ImageServiceClient;

/// A containerd with its CRI plugin on, whose hosts dir sends `registry` to `mirror` only.
fn cri_containerd(v: Version, registry: &str, mirror: &str) -> Containerd {
    let c = Containerd::new(v);
    let hosts = c.dir.join("certs.d").join(registry);
    std::fs::create_dir_all(&hosts).unwrap();
    std::fs::write(
        hosts.join("hosts.toml"),
        format!(
            "server = \"http://{mirror}\"\n[host.\"http://{mirror}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
        ),
    )
    .unwrap();
    let certs = c.dir.join("certs.d");
    let plugins = match v {
        Version::V16 => format!(
            "[plugins.\"io.containerd.grpc.v1.cri\"]\n  disable_apparmor = true\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"{}\"\n",
            certs.display()
        ),
        Version::V21 => format!(
            "  [plugins.'io.containerd.cri.v1.images'.registry]\n    config_path = \"{}\"\n",
            certs.display()
        ),
    };
    c.start(&plugins, true)
}

/// `ctr images pull` straight to the registry (no hosts dir: around the mirror).
fn pull_around_the_mirror(c: &Containerd, ns: &str, image: &str) {
    let mut cmd = c.ctr(ns);
    cmd.args(["images", "pull", "--plain-http"]);
    if matches!(c.version, Version::V21) {
        cmd.arg("--local");
    }
    run_ok(cmd.arg(image));
}

/// The CRI ImageService of `sock`, as a kubelet reaches it.
struct Cri {
    rt: tokio::runtime::Runtime,
    client: ImageServiceClient<tonic::transport::Channel>,
}

impl Cri {
    fn connect(c: &Containerd) -> Cri {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let start = Instant::now();
        let client = loop {
            let sock = c.sock.clone();
            let attempt = rt.block_on(async move {
                let ch = pullguard::http::unix_grpc_channel(&sock, "containerd").await?;
                let mut client = ImageServiceClient::new(ch);
                client
                    .list_images(cri::ListImagesRequest::default())
                    .await
                    .map_err(|s| s.to_string())?;
                Ok::<_, String>(client)
            });
            match attempt {
                Ok(client) => break client,
                Err(e) => {
                    assert!(
                        start.elapsed() < Duration::from_secs(15),
                        "CRI is not served: {e}\n{}",
                        c.log()
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        Cri { rt, client }
    }
    fn pull(&mut self, image: &str) -> Result<String, tonic::Status> {
        let req = cri::PullImageRequest {
            image: Some(cri::ImageSpec {
                image: image.to_string(),
                ..Default::default()
            }),
            auth: None,
        };
        let client = &mut self.client;
        self.rt
            .block_on(client.pull_image(req))
            .map(|r| r.into_inner().image_ref)
    }
    /// Every tag CRI lists.
    fn tags(&mut self) -> Vec<String> {
        let client = &mut self.client;
        self.rt
            .block_on(client.list_images(cri::ListImagesRequest::default()))
            .unwrap()
            .into_inner()
            .images
            .into_iter()
            .flat_map(|i| i.repo_tags)
            .collect()
    }
    /// What CRI's ImageStatus says of `image` (None: no such image, as a kubelet reads it).
    fn status(&mut self, image: &str) -> Option<cri::Image> {
        let req = cri::ImageStatusRequest {
            image: Some(cri::ImageSpec {
                image: image.to_string(),
                ..Default::default()
            }),
            verbose: false,
        };
        let client = &mut self.client;
        self.rt
            .block_on(client.image_status(req))
            .unwrap()
            .into_inner()
            .image
    }
}

fn wait_until(
    what: &str,
    within: Duration,
    mut ok: impl FnMut() -> bool,
    log: impl Fn() -> String,
) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < within, "{what}\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn node(v: Version) {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", &format!("cri signed {}", imgs.repo));
    imgs.sign(&signed);
    imgs.push("unsigned", &format!("cri unsigned {}", imgs.repo));
    imgs.push("preloaded", &format!("cri preloaded {}", imgs.repo));

    let addr = format!("127.0.0.1:{}", free_port());
    // The daemon's store watch needs the containerd socket, which needs the mirror's address:
    // start containerd first (its hosts dir names the mirror), then the daemon.
    let c = cri_containerd(v, &p.registry, &addr);
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &format!(
            "[mirror]\nlisten = {addr:?}\nupstreams = [{r:?}]\n[watch]\ncontainerd = {s:?}\nnamespaces = [\"k8s.io\"]\non_unverified = \"remove\"\n",
            r = p.registry,
            s = c.sock.display().to_string(),
        ),
    );
    wait_until(
        "mirror not up",
        Duration::from_secs(10),
        || std::net::TcpStream::connect(&addr).is_ok(),
        || d.log(),
    );
    let mut cri = Cri::connect(&c);

    // A kubelet's pull of a signed image: through the mirror, verified, listed.
    let signed_ref = format!("{}:signed", imgs.name());
    let r = cri.pull(&signed_ref);
    assert!(r.is_ok(), "{r:?}\n{}\n{}", d.log(), c.log());
    assert!(cri.tags().contains(&signed_ref), "{:?}", cri.tags());
    assert!(
        d.decisions(&signed).iter().any(|(v, _)| v == "allowed"),
        "{}",
        d.log()
    );

    // An unsigned one: refused with pullguard's reason, not in the store.
    let unsigned_ref = format!("{}:unsigned", imgs.name());
    let err = cri.pull(&unsigned_ref).unwrap_err();
    assert!(
        err.message().contains("pullguard: denied") && err.message().contains("no signature"),
        "{err:?}"
    );
    assert!(cri.status(&unsigned_ref).is_none());

    // Pre-loaded around the mirror into k8s.io: the watch removes it and CRI stops listing it.
    let pre = format!("{}:preloaded", imgs.name());
    pull_around_the_mirror(&c, "k8s.io", &pre);
    wait_until(
        "the store watch did not remove the pre-loaded image",
        Duration::from_secs(20),
        || cri.status(&pre).is_none() && !cri.tags().contains(&pre),
        || format!("{}\n{}", d.log(), c.log()),
    );
    let ctr_names = run_ok(c.ctr("k8s.io").args(["images", "ls", "-q"]));
    assert!(!ctr_names.contains(&pre), "{ctr_names}");
    assert!(d.log().contains("removed"), "{}", d.log());
    // The verified image stays.
    assert!(cri.status(&signed_ref).is_some());
}

#[test]
fn cri_on_containerd_16_pulls_through_the_mirror_and_loses_what_went_around_it() {
    node(Version::V16);
}

#[test]
fn cri_on_containerd_21_pulls_through_the_mirror_and_loses_what_went_around_it() {
    node(Version::V21);
}
