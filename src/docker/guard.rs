//! The Docker guard's decisions, shared by the Engine API proxy and the authorization plugin:
//! may this pull, this create, this start happen? Each answer that admits something carries
//! what was verified (the digest to pull, the container ID to start), so a caller forwards
//! exactly what the guard checked and nothing it re-resolved.
//!
//! The answers are proof types with private fields, built only here: a [`PinnedPull`] holds
//! the gate's [`Verified`]; a create is forwarded on a [`CreateCheck`] and answered to the
//! client, and a start forwarded, only on an [`Admitted`], which holds the gate's [`Verified`]
//! for the image (a `skip` policy's included: the gate's `Evidence::PolicySkip`) or the one
//! exemption the config makes, no image at all (`docker.allow_scratch`, [`Basis::Scratch`]).

use std::sync::Arc;

use super::dockerd::Dockerd;
use super::route::{PullTarget, create_image, create_image_mounts, pull_target, query_get};
use crate::auth::Credential;
use crate::config::DockerSection;
use crate::gate::Gate;
use crate::gate::{Platform, Request, Verified};
use crate::oci::ImageRef;

pub struct Guard {
    pub engine: Arc<Gate>,
    pub dockerd: Dockerd,
    /// The `[docker]` config: which other ways of bringing images in are allowed.
    pub switches: DockerSection,
}

/// A pull the guard admitted: pull `name@digest` (the verified digest), then tag it `tag` if
/// the client asked for one. Only made from a [`Verified`].
#[derive(Debug, Clone)]
pub struct PinnedPull {
    pub name: String,
    pub tag: Option<String>,
    verified: Box<Verified>,
}

impl PinnedPull {
    pub fn new(name: String, tag: Option<String>, verified: Verified) -> PinnedPull {
        PinnedPull {
            name,
            tag,
            verified: Box::new(verified),
        }
    }

    /// The digest that verified: pull exactly this.
    pub fn digest(&self) -> &str {
        self.verified.digest()
    }

    pub fn verified(&self) -> &Verified {
        &self.verified
    }
}

#[derive(Debug)]
pub enum PullDecision {
    Deny(String),
    /// The registry could not be asked (down, timing out, 5xx): no verdict on the image;
    /// a client is told so (502), not that the signature is bad.
    Unavailable(String),
    /// `fromSrc` import, allowed by `docker.allow_import`: forwarded as it is.
    Import,
    /// All tags of a repository whose scope the policy skips: forwarded without a body.
    AllTags,
    /// Verified: pull exactly this.
    Pinned(PinnedPull),
}

/// A local image's standing.
#[derive(Debug)]
pub enum LocalImage {
    Missing,
    /// The image ID (`id`) whose RepoDigest verified, and the gate's proof for that digest.
    Verified {
        id: String,
        verified: Box<Verified>,
    },
    Denied(String),
    /// No RepoDigest could be judged: the registry could not be asked (down, timing out).
    Unavailable(String),
}

/// What a create or a start goes ahead on. Only the guard builds one (the field is private):
/// the proxy forwards a start, answers a create, and the plugin allows either, only with one.
#[derive(Debug, Clone)]
pub struct Admitted {
    basis: Basis,
}

/// Why a create or a start was admitted.
#[derive(Debug, Clone)]
pub enum Basis {
    /// The image has a RepoDigest the gate verified now (under a `skip` statement too: its
    /// evidence says so).
    Verified(Box<Verified>),
    /// No image (an empty root filesystem), allowed by `docker.allow_scratch`: an exemption
    /// by config, nothing verified.
    Scratch,
}

impl Admitted {
    fn verified(verified: Box<Verified>) -> Admitted {
        Admitted {
            basis: Basis::Verified(verified),
        }
    }

    fn scratch() -> Admitted {
        Admitted {
            basis: Basis::Scratch,
        }
    }

    pub fn basis(&self) -> &Basis {
        &self.basis
    }

    /// The gate's proof, unless this is the scratch exemption.
    pub fn proof(&self) -> Option<&Verified> {
        match &self.basis {
            Basis::Verified(v) => Some(v),
            Basis::Scratch => None,
        }
    }

    /// For logs: `digest under "policy"`, or the exemption.
    pub fn describe(&self) -> String {
        match &self.basis {
            Basis::Verified(v) => format!("{} under trust policy {:?}", v.digest(), v.policy()),
            Basis::Scratch => "no image (docker.allow_scratch)".into(),
        }
    }
}

/// What a `containers/create` may be forwarded on. Only [`Guard::create`] builds one.
#[derive(Debug)]
pub struct CreateCheck {
    /// The image the body names (none for scratch).
    image: Option<String>,
    on: CreateOn,
}

#[derive(Debug)]
enum CreateOn {
    /// Verified now (the image ID that verified), or scratch.
    Admitted {
        id: Option<String>,
        admitted: Admitted,
    },
    /// The image is not on the host: dockerd answers 404 and the CLI pulls (through the
    /// guard). A container dockerd creates anyway (the image came in between) is admitted
    /// only by [`Guard::after_create`] verifying its image; through the plugin, the start
    /// check is what keeps it from running.
    Missing,
}

impl CreateCheck {
    /// The image the create names (`None`: no image, allowed as scratch).
    pub fn image(&self) -> Option<&str> {
        self.image.as_deref()
    }

    /// What the create was admitted on, when the image was on the host (or scratch).
    pub fn admitted(&self) -> Option<&Admitted> {
        match &self.on {
            CreateOn::Admitted { admitted, .. } => Some(admitted),
            CreateOn::Missing => None,
        }
    }
}

/// A start the guard admitted: start this container ID (not the name, which can move), on
/// this [`Admitted`]. Only [`Guard::start`] builds one.
#[derive(Debug)]
pub struct StartAdmitted {
    container_id: String,
    admitted: Admitted,
}

impl StartAdmitted {
    /// The full ID of the container that was checked: start exactly this.
    pub fn container_id(&self) -> &str {
        &self.container_id
    }

    pub fn admitted(&self) -> &Admitted {
        &self.admitted
    }
}

/// A start's answer.
#[derive(Debug)]
pub enum StartCheck {
    Missing,
    Allowed(StartAdmitted),
}

impl Guard {
    /// Decide a `POST /images/create`. `form`: the request has a form-encoded body.
    pub async fn pull(
        &self,
        query: &[(String, String)],
        form: bool,
        creds: Option<Credential>,
        origin: &str,
    ) -> PullDecision {
        // dockerd reads these parameters from a form-encoded body before the query (Go's
        // r.Form): a body could swap the image after verification. No Docker client sends one.
        if form {
            return PullDecision::Deny(
                "a form-encoded body on /images/create is not accepted".into(),
            );
        }
        // dockerd pulls whenever fromImage is set and imports only otherwise.
        let from_image = query_get(query, "fromImage").filter(|s| !s.is_empty());
        let Some(from_image) = from_image else {
            if query_get(query, "fromSrc").is_some() {
                return if self.switches.allow_import {
                    PullDecision::Import
                } else {
                    PullDecision::Deny(
                        "image import (fromSrc) is disabled: imported images carry no verifiable signature (set docker.allow_import = true to allow)".into(),
                    )
                };
            }
            return PullDecision::Deny("pull request without fromImage".into());
        };
        let target = pull_target(from_image, query_get(query, "tag"));
        if target.tag.is_none() && target.digest.is_none() {
            return self.all_tags(&target);
        }
        let reference = match (&target.digest, &target.tag) {
            (Some(d), _) => format!("{}@{d}", target.name),
            (None, Some(t)) => format!("{}:{t}", target.name),
            (None, None) => target.name.clone(),
        };
        let image = match ImageRef::parse(&reference) {
            Ok(i) => i,
            Err(e) => return PullDecision::Deny(e),
        };
        let req = Request::new(image, origin)
            .platform(Platform::Pick(
                query_get(query, "platform").map(str::to_owned),
            ))
            .credentials(creds);
        match self.engine.check(&req).await {
            Ok(verified) => PullDecision::Pinned(PinnedPull::new(
                target.name.clone(),
                target.tag.filter(|_| target.digest.is_none()),
                verified,
            )),
            Err(d) if d.is_transient() => PullDecision::Unavailable(d.to_string()),
            Err(d) => PullDecision::Deny(d.to_string()),
        }
    }

    /// "All tags": allowed only where the policy skips verification.
    fn all_tags(&self, target: &PullTarget) -> PullDecision {
        let image = match ImageRef::parse(&target.name) {
            Ok(i) => i,
            Err(e) => return PullDecision::Deny(e),
        };
        let snap = self.engine.snapshot();
        let skip = snap
            .trust
            .policy
            .statement_for_scope(&image.scope())
            .map(|s| s.level.is_skip())
            .unwrap_or(false);
        if skip {
            PullDecision::AllTags
        } else {
            PullDecision::Deny(format!(
                "pulling all tags of {} is denied: each tag must be verified; pull one tag or digest",
                image.scope()
            ))
        }
    }

    /// An image mount's source: a local image that verifies now (dockerd mounts only local
    /// images; one that is not on the host is refused too).
    async fn image_mount(&self, version: &str, source: &str, origin: &str) -> Result<(), String> {
        match self.local_image(version, source, origin).await {
            LocalImage::Verified { .. } => Ok(()),
            LocalImage::Missing => Err(format!("its image mount {source:?} is not on the host")),
            LocalImage::Denied(why) | LocalImage::Unavailable(why) => {
                Err(format!("its image mount {source:?} does not verify: {why}"))
            }
        }
    }

    /// Does a local image have a RepoDigest that verifies now?
    pub async fn local_image(&self, version: &str, image: &str, origin: &str) -> LocalImage {
        let info = match self.dockerd.image(version, image).await {
            Ok(Some(i)) => i,
            Ok(None) => return LocalImage::Missing,
            Err(e) => return LocalImage::Denied(e),
        };
        if info.repo_digests.is_empty() {
            return LocalImage::Denied(
                "it has no registry digest (built, committed, loaded or imported locally), so no signature can be verified".into(),
            );
        }
        let mut reasons = Vec::new();
        // One RepoDigest that could not be judged (the registry down) and the image may verify.
        let mut any_transient = false;
        for d in &info.repo_digests {
            let Ok(r) = ImageRef::parse(d) else {
                reasons.push(format!("{d}: not a reference pullguard can read"));
                continue;
            };
            match self
                .engine
                .check(&Request::new(r, origin).platform(crate::gate::Platform::Every))
                .await
            {
                Ok(verified) => {
                    return LocalImage::Verified {
                        id: info.id,
                        verified: Box::new(verified),
                    };
                }
                Err(d) => {
                    any_transient |= d.is_transient();
                    reasons.push(d.to_string());
                }
            }
        }
        let why = format!("no RepoDigest verifies: {}", reasons.join("; "));
        if any_transient {
            LocalImage::Unavailable(why)
        } else {
            LocalImage::Denied(why)
        }
    }

    /// Decide a `containers/create` from its body, before it is forwarded.
    pub async fn create(
        &self,
        version: &str,
        body: &[u8],
        origin: &str,
    ) -> Result<CreateCheck, String> {
        let image = create_image(body).map_err(|why| format!("container create refused: {why}"))?;
        // Image mounts (API 1.48+): each mounted image must verify as the image itself does.
        let mounts =
            create_image_mounts(body).map_err(|why| format!("container create refused: {why}"))?;
        if !mounts.is_empty() && !self.switches.allow_image_mounts {
            return Err(format!(
                "container create refused: it mounts the image {:?} (type=image; set docker.allow_image_mounts = true to allow verified ones)",
                mounts[0]
            ));
        }
        for source in &mounts {
            Box::pin(self.image_mount(version, source, origin))
                .await
                .map_err(|why| format!("container create refused: {why}"))?;
        }
        let Some(image) = image else {
            return if self.switches.allow_scratch {
                Ok(CreateCheck {
                    image: None,
                    on: CreateOn::Admitted {
                        id: None,
                        admitted: Admitted::scratch(),
                    },
                })
            } else {
                Err("container create refused: it names no image (an empty root filesystem runs whatever is copied in; set docker.allow_scratch = true to allow)".into())
            };
        };
        match self.local_image(version, &image, origin).await {
            LocalImage::Missing => Ok(CreateCheck {
                image: Some(image),
                on: CreateOn::Missing,
            }),
            LocalImage::Verified { id, verified } => Ok(CreateCheck {
                image: Some(image),
                on: CreateOn::Admitted {
                    id: Some(id),
                    admitted: Admitted::verified(verified),
                },
            }),
            LocalImage::Denied(why) | LocalImage::Unavailable(why) => {
                Err(format!("container from image {image:?} denied: {why}"))
            }
        }
    }

    /// After dockerd created `container`: it must carry the image that was verified (dockerd
    /// resolved the name a second time), else it is removed. The client is told of the
    /// container only with the [`Admitted`] this returns. Run this where a client hang-up
    /// cannot cancel it.
    pub async fn after_create(
        &self,
        version: &str,
        container: &str,
        check: CreateCheck,
        origin: &str,
    ) -> Result<Admitted, String> {
        let (image, verified) = match check.on {
            CreateOn::Admitted { id: None, admitted } => return Ok(admitted),
            CreateOn::Admitted {
                id: Some(id),
                admitted,
            } => (check.image.unwrap_or_default(), Some((id, admitted))),
            CreateOn::Missing => (check.image.unwrap_or_default(), None),
        };
        let got = self.dockerd.container(version, container).await;
        let admitted = match (&got, verified) {
            (Ok(Some(c)), Some((id, admitted))) => (c.image == id).then_some(admitted),
            (Ok(Some(c)), None) => match self.local_image(version, &c.image, origin).await {
                LocalImage::Verified { id, verified } if id == c.image => {
                    Some(Admitted::verified(verified))
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(admitted) = admitted {
            return Ok(admitted);
        }
        if let Err(e) = self.dockerd.remove_container(version, container).await {
            tracing::error!(container = %container, error = %e, "could not remove a container created from an unverified image");
        }
        Err(format!(
            "container from image {image:?} denied: the image changed between verification and create (the container was removed)"
        ))
    }

    /// Decide a `containers/{name}/start` (or restart) on the image ID the container records:
    /// that image must have a RepoDigest that verifies now.
    pub async fn start(
        &self,
        version: &str,
        name: &str,
        origin: &str,
    ) -> Result<StartCheck, String> {
        let c = match self.dockerd.container(version, name).await {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(StartCheck::Missing),
            Err(e) => return Err(format!("container {name} cannot start: {e}")),
        };
        let short = c.id.get(..12).unwrap_or(&c.id);
        // Image mounts: its own (HostConfig) and those it took over (`--volumes-from`), which
        // its mount points show.
        if c.image_mount_points > 0 && !self.switches.allow_image_mounts {
            return Err(format!(
                "container {name} ({short}) cannot start: it mounts an image (type=image, its own or through --volumes-from; set docker.allow_image_mounts = true to allow verified ones)"
            ));
        }
        if c.image_mount_points > c.image_mounts.len() {
            return Err(format!(
                "container {name} ({short}) cannot start: it mounts an image it took over from another container (--volumes-from), which cannot be checked by name"
            ));
        }
        for source in &c.image_mounts {
            Box::pin(self.image_mount(version, source, origin))
                .await
                .map_err(|why| format!("container {name} ({short}) cannot start: {why}"))?;
        }
        if c.image.is_empty() {
            return if self.switches.allow_scratch {
                Ok(StartCheck::Allowed(StartAdmitted {
                    container_id: c.id,
                    admitted: Admitted::scratch(),
                }))
            } else {
                Err(format!(
                    "container {name} ({short}) cannot start: it has no image (set docker.allow_scratch = true to allow)"
                ))
            };
        }
        match self.local_image(version, &c.image, origin).await {
            LocalImage::Verified { id, verified } if id == c.image => {
                Ok(StartCheck::Allowed(StartAdmitted {
                    container_id: c.id,
                    admitted: Admitted::verified(verified),
                }))
            }
            LocalImage::Verified { id, .. } => Err(format!(
                "container {name} ({short}) cannot start: its image {} resolved to {id}",
                c.image
            )),
            LocalImage::Missing => Err(format!(
                "container {name} ({short}) cannot start: its image {} is not on the host",
                c.image
            )),
            LocalImage::Denied(why) | LocalImage::Unavailable(why) => Err(format!(
                "container {name} ({short}) cannot start: its image {} does not verify: {why}",
                c.image
            )),
        }
    }
}
