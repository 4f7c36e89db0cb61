//! The Docker servers' (the Engine API proxy, the authorization plugin) way into the one accept
//! loop, [`crate::server`]: a `shutdown` flag turned true ends the accept loop and starts the
//! drain of open connections; the work still in flight is drained by its tickets.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::{Body, Incoming};
use hyper::{Request, Response};
use tokio::net::UnixListener;
use tokio::sync::watch;

use crate::server::Server;

/// Serve `listener` with `handle` until `shutdown` turns true. `what` names the server in logs.
pub async fn serve<S, F, Fut, B>(
    server: Arc<S>,
    listener: UnixListener,
    shutdown: watch::Receiver<bool>,
    what: &'static str,
    handle: F,
) where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Server::new(what)
        .serve(
            listener,
            move |req: Request<Incoming>| {
                let who = crate::who::Who::from_peer(req.extensions().get());
                crate::who::scope(who, handle(server.clone(), req))
            },
            crate::server::turned_true(shutdown),
        )
        .await
}
