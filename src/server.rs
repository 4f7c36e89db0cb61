//! The one accept loop of the HTTP/1 servers (the Docker Engine API proxy and the authorization
//! plugin on Unix sockets, the registry mirror on TCP). It owns what every server needs and no
//! handler should have to remember:
//!
//! - a connection limit (a semaphore: a client that opens connections and sends nothing costs
//!   at most [`Limits::max_connections`] tasks);
//! - a header timeout (a connection that sends no request head in time is closed);
//! - backoff on accept errors (fd exhaustion, say): logged, retried after a pause that doubles
//!   up to a second and resets on the next good accept;
//! - a tracing span per connection carrying the peer: SO_PEERCRED uid, gid and pid on a Unix
//!   socket, the remote address on TCP. The handler finds the same [`Peer`] in the request's
//!   extensions (`req.extensions().get::<Peer>()`);
//! - the drain: once `shutdown` resolves no connection is accepted, every open connection is
//!   told to finish the request it is serving and close (hyper's graceful shutdown: idle
//!   keep-alive connections close at once), and `serve` returns when the last one has closed:
//!   a streaming response (a pull's progress, a blob) is written to its end, an upgraded
//!   connection is handed over. The caller bounds the wait. The work that must finish
//!   (a pull's progress stream and its re-tag, a blob stream, a verification) is counted by the
//!   handlers' own [`crate::drain::Ticket`]s, which outlive the request future.
//!
//! hyper-util's `GracefulShutdown` does the same watching but is sealed to the connection types
//! it knows, and those do not include the upgradeable HTTP/1 connection the Docker proxy needs
//! for `Upgrade: tcp` hijacks; the few lines below do it for both.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, watch};
use tracing::Instrument;

use crate::drain::InFlight;

/// Client connections served at once, per server.
pub const MAX_CONNECTIONS: usize = 1024;
/// A client gets this long to send a request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// The first pause after a failed accept; it doubles on each failure in a row up to
/// [`MAX_ACCEPT_BACKOFF`].
const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// What a server allows its clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: MAX_CONNECTIONS,
            header_timeout: HEADER_TIMEOUT,
        }
    }
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A Unix socket peer, by SO_PEERCRED (`None` where the kernel did not say).
    Unix {
        uid: Option<u32>,
        gid: Option<u32>,
        pid: Option<i32>,
    },
    /// A TCP peer's address.
    Tcp(SocketAddr),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn opt<T: fmt::Display>(v: &Option<T>) -> String {
            v.as_ref().map_or("?".to_string(), |v| v.to_string())
        }
        match self {
            Peer::Unix { uid, gid, pid } => {
                write!(f, "uid={} gid={} pid={}", opt(uid), opt(gid), opt(pid))
            }
            Peer::Tcp(a) => write!(f, "{a}"),
        }
    }
}

/// The sockets a server accepts on.
#[derive(Debug)]
pub enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl From<UnixListener> for Listener {
    fn from(l: UnixListener) -> Listener {
        Listener::Unix(l)
    }
}

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Listener {
        Listener::Tcp(l)
    }
}

/// Open client connections (of one server, or of several counted together).
#[derive(Debug, Clone, Default)]
pub struct Connections(InFlight);

impl Connections {
    pub fn count(&self) -> usize {
        self.0.count()
    }
}

/// One server: its name in logs, its limits, and the connection count it adds to.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: &'static str,
    pub limits: Limits,
    pub connections: Connections,
}

impl Server {
    pub fn new(name: &'static str) -> Server {
        Server {
            name,
            limits: Limits::default(),
            connections: Connections::default(),
        }
    }

    /// Count this server's connections in `connections` (one count for the whole daemon).
    pub fn counted_in(mut self, connections: &Connections) -> Server {
        self.connections = connections.clone();
        self
    }

    /// Serve `listener` with `handle` until `shutdown` resolves, then stop accepting, tell the
    /// open connections to close after their current request (see the module doc) and return
    /// once they all have. The caller bounds that wait (the daemon's grace period).
    pub async fn serve<F, Fut, B>(
        &self,
        listener: impl Into<Listener>,
        handle: F,
        shutdown: impl Future<Output = ()>,
    ) where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<B>> + Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let listener = listener.into();
        let limit = Arc::new(Semaphore::new(self.limits.max_connections.max(1)));
        // Dropped when this function returns: every connection's receiver then sees the drain.
        let (drain_tx, drain_rx) = watch::channel(());
        // Every connection task holds a sender; `recv` ends when the last one is gone.
        let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
        let mut backoff = MIN_ACCEPT_BACKOFF;
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                p = limit.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                _ = &mut shutdown => break,
            };
            let accepted = tokio::select! {
                r = accept(&listener) => r,
                _ = &mut shutdown => break,
            };
            let (io, peer) = match accepted {
                Ok(a) => {
                    backoff = MIN_ACCEPT_BACKOFF;
                    a
                }
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        server = self.name,
                        retry_in_ms = backoff.as_millis() as u64,
                        "accept failed"
                    );
                    drop(permit);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut shutdown => break,
                    }
                    backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                    continue;
                }
            };
            let span = tracing::info_span!("conn", server = self.name, peer = %peer);
            let ticket = self.connections.0.ticket();
            let conn = Conn {
                name: self.name,
                header_timeout: self.limits.header_timeout,
                peer,
                drain: drain_rx.clone(),
            };
            let handle = handle.clone();
            let done = done_tx.clone();
            tokio::spawn(
                async move {
                    let _permit = permit;
                    let _ticket = ticket;
                    let _done = done;
                    match io {
                        Io::Unix(s) => conn.run(s, handle).await,
                        Io::Tcp(s) => conn.run(s, handle).await,
                    }
                }
                .instrument(span),
            );
        }
        drop(listener);
        drop(drain_tx);
        drop(done_tx);
        let _ = done_rx.recv().await;
    }
}

/// Resolves when `flag` turns true (or its sender is gone): a `watch` shutdown flag as the
/// future [`Server::serve`] takes.
pub async fn turned_true(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|v| *v).await;
}

enum Io {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

async fn accept(listener: &Listener) -> std::io::Result<(Io, Peer)> {
    match listener {
        Listener::Unix(l) => {
            let (s, _) = l.accept().await?;
            let cred = s.peer_cred().ok();
            let peer = Peer::Unix {
                uid: cred.map(|c| c.uid()),
                gid: cred.map(|c| c.gid()),
                pid: cred.and_then(|c| c.pid()),
            };
            Ok((Io::Unix(s), peer))
        }
        Listener::Tcp(l) => {
            let (s, addr) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Ok((Io::Tcp(s), Peer::Tcp(addr)))
        }
    }
}

/// One accepted connection.
struct Conn {
    name: &'static str,
    header_timeout: Duration,
    peer: Peer,
    drain: watch::Receiver<()>,
}

impl Conn {
    async fn run<S, F, Fut, B>(mut self, stream: S, handle: F)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<B>> + Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let peer = self.peer.clone();
        let svc = service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(peer.clone());
            let fut = handle(req);
            async move { Ok::<_, Infallible>(fut.await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .serve_connection(TokioIo::new(stream), svc)
            .with_upgrades();
        tokio::pin!(conn);
        let ended = tokio::select! {
            r = conn.as_mut() => r,
            _ = self.drain.changed() => {
                // The drain: finish the request in progress (an idle connection closes now).
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = ended {
            tracing::debug!(error = %e, server = self.name, "client connection ended");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use http_body_util::{BodyExt, Full};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn hello(req: Request<Incoming>) -> Response<Full<Bytes>> {
        let peer = req
            .extensions()
            .get::<Peer>()
            .map_or("none".to_string(), |p| p.to_string());
        let _ = req.into_body().collect().await;
        Response::new(Full::new(Bytes::from(peer)))
    }

    async fn get(stream: &mut (impl AsyncRead + AsyncWrite + Unpin)) -> String {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_handler_sees_the_unix_peer_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = Server::new("test");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(listener, hello, async {
                    let _ = rx.await;
                })
                .await
        });
        let mut s = tokio::net::UnixStream::connect(&path).await.unwrap();
        let reply = get(&mut s).await;
        let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap());
        assert!(reply.contains(&format!("uid={uid} gid=")), "{reply}");
        assert!(
            reply.contains(&format!("pid={}", std::process::id())),
            "{reply}"
        );
        let _ = tx.send(());
        task.await.unwrap();
    }

    #[tokio::test]
    async fn tcp_peers_by_address_and_the_limit_holds_extra_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut server = Server::new("test");
        server.limits.max_connections = 1;
        let conns = server.connections.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(listener, hello, async {
                    let _ = rx.await;
                })
                .await
        });
        // The first connection takes the only permit and sends nothing.
        let idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        while conns.count() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The second waits in the backlog until the first goes away.
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        let local = second.local_addr().unwrap();
        second
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        let early = tokio::time::timeout(
            Duration::from_millis(200),
            second.read_to_string(&mut reply),
        )
        .await;
        assert!(early.is_err(), "served past the connection limit: {reply}");
        drop(idle);
        second.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with(&local.to_string()), "{reply}");
        let _ = tx.send(());
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_silent_client_is_closed_after_the_header_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut server = Server::new("test");
        server.limits.header_timeout = Duration::from_millis(100);
        let conns = server.connections.clone();
        let task = tokio::spawn(async move {
            server
                .serve(listener, hello, std::future::pending::<()>())
                .await
        });
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HT").await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(
            read.is_ok(),
            "connection not closed after the header timeout"
        );
        for _ in 0..100 {
            if conns.count() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(conns.count(), 0);
        task.abort();
    }

    #[tokio::test]
    async fn the_drain_closes_idle_connections_and_lets_a_request_in_progress_finish() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::new("test");
        let conns = server.connections.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (go_tx, go_rx) = tokio::sync::watch::channel(false);
        let slow = move |_req: Request<Incoming>| {
            let mut go = go_rx.clone();
            async move {
                let _ = go.wait_for(|g| *g).await;
                Response::new(Full::new(Bytes::from_static(b"done")))
            }
        };
        let task = tokio::spawn(async move {
            server
                .serve(listener, slow, async {
                    let _ = rx.await;
                })
                .await
        });
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut busy = tokio::net::TcpStream::connect(addr).await.unwrap();
        busy.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        while conns.count() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = tx.send(());
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut buf))
            .await
            .expect("idle connection not closed by the drain")
            .unwrap();
        // No new connections once the accept loop has stopped (the listener is closed).
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
        // serve waits for the request in progress.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !task.is_finished(),
            "serve returned with a request in progress"
        );
        assert_eq!(conns.count(), 1, "the busy connection was cut");
        go_tx.send(true).unwrap();
        let mut out = String::new();
        busy.read_to_string(&mut out).await.unwrap();
        assert!(
            out.starts_with("HTTP/1.1 200") && out.ends_with("done"),
            "{out}"
        );
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("serve did not return after the drain")
            .unwrap();
        assert_eq!(conns.count(), 0);
    }
}
