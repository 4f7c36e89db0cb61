//! The daemon's signals: SIGTERM and SIGINT start the drain, SIGHUP reloads the trust policy.

use tokio::signal::unix::{Signal, SignalKind, signal};

use super::DaemonError;

fn install(kind: SignalKind) -> Result<Signal, DaemonError> {
    signal(kind).map_err(|_| DaemonError::Setup("cannot install signal handlers".into()))
}

/// SIGTERM or SIGINT, as the `shutdown` future [`super::run`] takes. Installed when called,
/// so a signal that arrives while the daemon starts up is kept and seen once it serves.
pub fn shutdown() -> Result<impl Future<Output = ()> + Send + 'static, DaemonError> {
    let mut term = install(SignalKind::terminate())?;
    let mut int = install(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::debug!("SIGTERM"),
            _ = int.recv() => tracing::debug!("SIGINT"),
        }
    })
}

/// SIGHUP: each one asks for a reload.
pub struct Hangups(Signal);

impl Hangups {
    pub fn install() -> Result<Hangups, DaemonError> {
        install(SignalKind::hangup()).map(Hangups)
    }

    pub async fn recv(&mut self) {
        // `None` only once the signal driver is gone, with the runtime: then wait forever.
        if self.0.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}
