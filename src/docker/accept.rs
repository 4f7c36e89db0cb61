//! One accept loop for the HTTP/1 servers on Unix sockets (the Engine API proxy, the
//! authorization plugin): a connection task per client, upgrades kept working, accept errors
//! (fd exhaustion, say) logged and retried after a pause, and no new connections once
//! `shutdown` turns true (the ones open run on; the daemon drains them by their tickets).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;
use tokio::sync::watch;

/// Serve `listener` with `handle` until `shutdown` turns true. `what` names the server in logs.
pub async fn serve<S, F, Fut, B>(
    server: Arc<S>,
    listener: UnixListener,
    mut shutdown: watch::Receiver<bool>,
    what: &'static str,
    handle: F,
) where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, server = what, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let server = server.clone();
        let who = crate::who::Who::unix_peer(&stream);
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let server = server.clone();
                let who = who.clone();
                async move { Ok::<_, Infallible>(crate::who::scope(who, handle(server, req)).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await
            {
                tracing::debug!(error = %e, server = what, "client connection ended");
            }
        });
    }
}
