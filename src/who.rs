//! Who asked for a decision and what for: the fields a decision record carries besides its
//! verdict, in one struct. The front ends put the client in scope around a request (a task-local
//! value, so the verification code in between does not carry it); the engine reads it when it
//! records the decision, and adds the signer and the signature from the outcome.
//!
//! - the Docker proxy: the socket peer's uid and pid (SO_PEERCRED) and the API call;
//! - the authorization plugin: the API call dockerd asks about (dockerd is the peer);
//! - the control API (`ctl verify`, the containerd verifier): the caller's uid and pid;
//! - the registry mirror: the client's remote address.

use std::future::Future;

use serde::Serialize;

/// The new fields of a decision record (flattened into it: `client_uid`, `client_pid`,
/// `client_addr`, `call`, `signer`, `signature_digest`; each absent when not known).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Who {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_pid: Option<i32>,
    /// A TCP client's `IP:PORT` (the mirror's clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    /// The API call, e.g. `POST /images/create` (the Docker front ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// The subject of the certificate that signed the signature that verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The digest of the signature manifest that verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_digest: Option<String>,
}

tokio::task_local! {
    static CLIENT: Who;
}

impl Who {
    /// The peer [`crate::server`] found for a connection (put in each request's extensions).
    pub fn from_peer(peer: Option<&crate::server::Peer>) -> Who {
        match peer {
            Some(crate::server::Peer::Unix { uid, pid, .. }) => Who {
                client_uid: *uid,
                client_pid: *pid,
                ..Who::default()
            },
            Some(crate::server::Peer::Tcp(addr)) => Who::remote(*addr),
            None => Who::default(),
        }
    }

    /// A TCP peer, by its address.
    pub fn remote(addr: std::net::SocketAddr) -> Who {
        Who {
            client_addr: Some(addr.to_string()),
            ..Who::default()
        }
    }

    /// The control API's caller (tonic's Unix connect info).
    pub fn uds(info: Option<&tonic::transport::server::UdsConnectInfo>) -> Who {
        match info.and_then(|i| i.peer_cred) {
            Some(c) => Who {
                client_uid: Some(c.uid()),
                client_pid: c.pid(),
                ..Who::default()
            },
            None => Who::default(),
        }
    }
}

/// Run `f` with `who` as the client of the decisions it makes.
pub async fn scope<F: Future>(who: Who, f: F) -> F::Output {
    CLIENT.scope(who, f).await
}

/// Run `f` with the client in scope (if any) and `call` as its API call.
pub async fn with_call<F: Future>(call: String, f: F) -> F::Output {
    let mut who = current();
    who.call = Some(call);
    CLIENT.scope(who, f).await
}

/// The client in scope, or nobody known.
pub fn current() -> Who {
    CLIENT.try_with(Who::clone).unwrap_or_default()
}

/// The record's fields for a decision on `o`, made now.
pub fn for_decision(o: &crate::verify::Outcome) -> Who {
    let mut who = current();
    if o.allowed
        && let Some(s) = &o.signature
    {
        who.signer = s.signer.clone();
        who.signature_digest = Some(s.digest.clone()).filter(|d| !d.is_empty());
    }
    who
}
