//! The Docker guard: everything that stands between a Docker client and an image that does not
//! verify.
//!
//! - [`route`]: what a request does, read the way dockerd reads it.
//! - [`guard`]: the decisions (pull, create, start), shared by both front ends.
//! - [`proxy`]: the Engine API proxy on its own socket in front of `docker.sock`.
//! - [`authz`]: the authorization plugin dockerd asks about every request on every socket.
//! - [`dockerd`]: the small client of the real daemon the guard asks questions of.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;

mod accept;
pub mod authz;
pub mod dockerd;
pub mod guard;
pub mod proxy;
pub mod route;

pub use authz::AuthzPlugin;
pub use dockerd::Dockerd;
pub use guard::Guard;
pub use proxy::DockerProxy;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;
