//! The HTTP/1.1 accept loop the proxy and the fake API server share.

use std::error::Error;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `handle` on every connection `listener` accepts (keep-alive, no Nagle), until
/// `stopped` turns true: then the loop and every open connection end. `name` goes into the log
/// line of a failed accept, which is retried.
pub(crate) async fn serve<H, F, B, E>(
    listener: TcpListener,
    name: &'static str,
    mut stopped: watch::Receiver<bool>,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Result<Response<B>, E>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    loop {
        let accepted = tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("{name} accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handle = handle.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let connection =
                http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service_fn(handle));
            tokio::select! {
                _ = connection => {}
                _ = stopped.wait_for(|s| *s) => {}
            }
        });
    }
}
