//! The TLS listener of the admission endpoints: HTTP/1.1 only, a cap on open connections, and
//! every stage of a connection on a clock, so that a client that stalls (mid-handshake,
//! mid-header, idle between requests) loses its connection instead of holding it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;

/// Bounds on the connections of one listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at most; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Time from accept to the end of the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time to receive a request's whole header. hyper starts this clock as soon as the
    /// connection waits for a request, so it is also the idle keep-alive timeout.
    pub header_read_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Starting,
    Listening(SocketAddr),
    Stopped,
}

/// Tells when a listener is bound, and asks it to shut down.
#[derive(Clone, Debug)]
pub struct ServerHandle {
    state: watch::Sender<State>,
    shutdown: watch::Sender<Option<Duration>>,
}

impl Default for ServerHandle {
    fn default() -> Self {
        Self { state: watch::Sender::new(State::Starting), shutdown: watch::Sender::new(None) }
    }
}

impl ServerHandle {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bound address once listening; `None` if the listener stopped (or never bound).
    pub async fn listening(&self) -> Option<SocketAddr> {
        let mut state = self.state.subscribe();
        let state = state.wait_for(|s| *s != State::Starting).await.ok()?;
        match *state {
            State::Listening(addr) => Some(addr),
            _ => None,
        }
    }

    /// Stops accepting; open connections finish their request in flight and get `grace` to do so.
    pub fn graceful_shutdown(&self, grace: Duration) {
        self.shutdown.send_replace(Some(grace));
    }
}

/// Serves `app` over TLS on `addr` until `handle` shuts it down.
pub async fn serve_tls(
    app: Router,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    handle: ServerHandle,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let bound = TcpListener::bind(addr).await.and_then(|l| Ok((l.local_addr()?, l)));
    let (local, listener) = match bound {
        Ok(bound) => bound,
        Err(e) => {
            handle.state.send_replace(State::Stopped);
            return Err(e);
        }
    };
    handle.state.send_replace(State::Listening(local));
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = handle.shutdown.subscribe();
    let grace = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Over the cap the connection is closed at once, before any TLS work.
                let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
                let connection = Connection { acceptor: acceptor.clone(), app: app.clone(), limits, slot };
                tokio::spawn(connection.serve(tcp, handle.shutdown.subscribe()));
            }
            grace = asked_to_stop(&mut shutdown) => break grace,
        }
    };
    drop(listener);
    // Every connection gives its slot back when it ends; wait for all, up to the grace.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(grace, slots.acquire_many(all)).await;
    handle.state.send_replace(State::Stopped);
    Ok(())
}

/// Waits for a shutdown request; its grace. (A dropped handle never asks.)
async fn asked_to_stop(shutdown: &mut watch::Receiver<Option<Duration>>) -> Duration {
    let asked = shutdown.wait_for(Option::is_some).await.map(|grace| grace.unwrap_or_default());
    match asked {
        Ok(grace) => grace,
        Err(_) => std::future::pending().await,
    }
}

struct Connection {
    acceptor: TlsAcceptor,
    app: Router,
    limits: ConnectionLimits,
    /// Held while the connection is open.
    slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, tcp: TcpStream, mut shutdown: watch::Receiver<Option<Duration>>) {
        let Connection { acceptor, app, limits, slot: _slot } = self;
        let _ = tcp.set_nodelay(true);
        let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::debug!(%error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out");
                return;
            }
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        // One flat write per answer: small answers go out as one TLS record, not one per slice.
        http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true).writev(false);
        let connection = http.serve_connection(TokioIo::new(tls), TowerToHyperService::new(app));
        let mut connection = std::pin::pin!(connection);
        let grace = tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            grace = asked_to_stop(&mut shutdown) => grace,
        };
        connection.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(grace, connection).await;
    }
}
