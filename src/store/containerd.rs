//! A client of containerd's own API over its socket (gRPC): the namespaces, the image records
//! (name → target descriptor), their deletion, and the event stream. The protos are containerd's,
//! vendored under proto/containerd; the namespace goes in the `containerd-namespace` header.

use std::path::{Path, PathBuf};

use prost::Message;
use tonic::transport::Channel;

#[allow(clippy::all)]
pub mod pb {
    pub mod containerd {
        pub mod types {
            tonic::include_proto!("containerd.types");
        }
        pub mod services {
            pub mod events {
                pub mod v1 {
                    tonic::include_proto!("containerd.services.events.v1");
                }
            }
            pub mod images {
                pub mod v1 {
                    tonic::include_proto!("containerd.services.images.v1");
                }
            }
            pub mod namespaces {
                pub mod v1 {
                    tonic::include_proto!("containerd.services.namespaces.v1");
                }
            }
        }
    }
}

use pb::containerd::services::events::v1 as events;
use pb::containerd::services::images::v1 as images;
use pb::containerd::services::namespaces::v1 as namespaces;

pub use pb::containerd::types::Envelope;

/// The image topics the watch acts on.
pub const TOPIC_CREATE: &str = "/images/create";
pub const TOPIC_UPDATE: &str = "/images/update";

/// An image record: its name and the digest of its target (manifest or index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub digest: String,
}

/// What an image event says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEvent {
    pub namespace: String,
    pub topic: String,
    pub name: String,
}

#[derive(Clone)]
pub struct Containerd {
    pub socket: PathBuf,
    channel: Channel,
}

fn status(what: &str, s: &tonic::Status) -> String {
    format!("containerd {what}: {:?}: {}", s.code(), s.message())
}

fn in_namespace<T>(ns: &str, msg: T) -> Result<tonic::Request<T>, String> {
    let mut r = tonic::Request::new(msg);
    let v = ns
        .parse()
        .map_err(|_| format!("containerd namespace {ns:?} is not a valid header value"))?;
    r.metadata_mut().insert("containerd-namespace", v);
    Ok(r)
}

impl Containerd {
    /// Connect to containerd's gRPC socket.
    pub async fn connect(socket: &Path) -> Result<Containerd, String> {
        let channel = crate::http::unix_grpc_channel(socket, "containerd").await?;
        Ok(Containerd {
            socket: socket.to_path_buf(),
            channel,
        })
    }

    /// Every namespace, sorted.
    pub async fn namespaces(&self) -> Result<Vec<String>, String> {
        let mut c = namespaces::namespaces_client::NamespacesClient::new(self.channel.clone());
        let r = c
            .list(namespaces::ListNamespacesRequest::default())
            .await
            .map_err(|s| status("namespace list", &s))?;
        let mut v: Vec<String> = r
            .into_inner()
            .namespaces
            .into_iter()
            .map(|n| n.name)
            .collect();
        v.sort();
        Ok(v)
    }

    /// The image records of `ns` (optionally filtered, containerd's filter syntax), by name.
    pub async fn images(&self, ns: &str, filters: Vec<String>) -> Result<Vec<Record>, String> {
        let mut c = images::images_client::ImagesClient::new(self.channel.clone());
        let r = c
            .list(in_namespace(ns, images::ListImagesRequest { filters })?)
            .await
            .map_err(|s| status("image list", &s))?;
        let mut v: Vec<Record> = r.into_inner().images.into_iter().map(record).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    /// One image record; `None` when there is none by that name (any more).
    pub async fn image(&self, ns: &str, name: &str) -> Result<Option<Record>, String> {
        let mut c = images::images_client::ImagesClient::new(self.channel.clone());
        match c
            .get(in_namespace(
                ns,
                images::GetImageRequest {
                    name: name.to_string(),
                },
            )?)
            .await
        {
            Ok(r) => Ok(r.into_inner().image.map(record)),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(status("image get", &s)),
        }
    }

    /// Delete an image record (content goes with containerd's garbage collection), only while
    /// it still has `digest` as its target (containerd 2.x checks; 1.6 ignores the target).
    /// Gone already is not an error.
    pub async fn delete(&self, ns: &str, name: &str, digest: &str) -> Result<(), String> {
        let mut c = images::images_client::ImagesClient::new(self.channel.clone());
        match c
            .delete(in_namespace(
                ns,
                images::DeleteImageRequest {
                    name: name.to_string(),
                    sync: false,
                    target: Some(pb::containerd::types::Descriptor {
                        digest: digest.to_string(),
                        ..Default::default()
                    }),
                },
            )?)
            .await
        {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
            Err(s) => Err(status("image delete", &s)),
        }
    }

    /// Subscribe to image create/update events in `namespaces` (empty: all).
    pub async fn subscribe(
        &self,
        namespaces: &[String],
    ) -> Result<tonic::Streaming<Envelope>, String> {
        let mut c = events::events_client::EventsClient::new(self.channel.clone());
        let r = c
            .subscribe(events::SubscribeRequest {
                filters: event_filters(namespaces),
            })
            .await
            .map_err(|s| status("event subscribe", &s))?;
        Ok(r.into_inner())
    }
}

fn record(i: images::Image) -> Record {
    Record {
        name: i.name,
        digest: i.target.map(|t| t.digest).unwrap_or_default(),
    }
}

/// containerd's event filters: alternatives OR'd, the parts of one AND'd with commas.
pub fn event_filters(namespaces: &[String]) -> Vec<String> {
    let mut v = Vec::new();
    for topic in [TOPIC_CREATE, TOPIC_UPDATE] {
        if namespaces.is_empty() {
            v.push(format!("topic=={topic:?}"));
        }
        for ns in namespaces {
            v.push(format!("topic=={topic:?},namespace=={ns:?}"));
        }
    }
    v
}

/// Read an event envelope: `None` for anything that is not an image create/update.
pub fn image_event(e: &Envelope) -> Result<Option<ImageEvent>, String> {
    if e.topic != TOPIC_CREATE && e.topic != TOPIC_UPDATE {
        return Ok(None);
    }
    let Some(any) = &e.event else {
        return Err(format!("{} event without a payload", e.topic));
    };
    let name = if e.topic == TOPIC_CREATE {
        images::ImageCreate::decode(any.value.as_slice())
            .map_err(|err| format!("malformed {} event: {err}", e.topic))?
            .name
    } else {
        images::ImageUpdate::decode(any.value.as_slice())
            .map_err(|err| format!("malformed {} event: {err}", e.topic))?
            .name
    };
    if name.is_empty() {
        return Err(format!("{} event names no image", e.topic));
    }
    Ok(Some(ImageEvent {
        namespace: e.namespace.clone(),
        topic: e.topic.clone(),
        name,
    }))
}

/// For the `store_answers` fuzz target only: one event envelope from containerd's events
/// stream (protobuf bytes), as the store watch reads it.
#[doc(hidden)]
pub fn fuzz_event(bytes: &[u8]) -> Result<Option<ImageEvent>, String> {
    let e = Envelope::decode(bytes).map_err(|e| e.to_string())?;
    image_event(&e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_per_namespace_and_topic() {
        assert_eq!(
            event_filters(&[]),
            vec![
                "topic==\"/images/create\"".to_string(),
                "topic==\"/images/update\"".to_string()
            ]
        );
        let f = event_filters(&["k8s.io".into(), "default".into()]);
        assert_eq!(f.len(), 4);
        assert!(f.contains(&"topic==\"/images/update\",namespace==\"k8s.io\"".to_string()));
    }

    #[test]
    fn events_decode_and_bad_ones_are_errors() {
        let payload = images::ImageCreate {
            name: "r.example/a:1".into(),
            labels: Default::default(),
        };
        let env = Envelope {
            timestamp: None,
            namespace: "k8s.io".into(),
            topic: TOPIC_CREATE.into(),
            event: Some(prost_types::Any {
                type_url: "containerd.services.images.v1.ImageCreate".into(),
                value: payload.encode_to_vec(),
            }),
        };
        let ev = image_event(&env).unwrap().unwrap();
        assert_eq!(ev.name, "r.example/a:1");
        assert_eq!(ev.namespace, "k8s.io");
        let other = Envelope {
            topic: "/images/delete".into(),
            ..env.clone()
        };
        assert_eq!(image_event(&other).unwrap(), None);
        let garbage = Envelope {
            event: Some(prost_types::Any {
                type_url: String::new(),
                value: vec![0xff, 0xff, 0xff],
            }),
            ..env.clone()
        };
        assert!(image_event(&garbage).is_err());
        let empty = Envelope { event: None, ..env };
        assert!(image_event(&empty).is_err());
    }
}
