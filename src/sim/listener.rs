//! A hub's HTTPS listener: binding the port (with a hint when that fails) and the accept loop
//! that terminates TLS and hands each connection to the HTTP front end.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::error::SimError;
use super::http;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `address`; the answer carries the port actually bound (port 0 picks one).
pub async fn listen(address: SocketAddr) -> Result<(TcpListener, SocketAddr), SimError> {
    let listener = TcpListener::bind(address).await.map_err(|source| bind_error(address, source))?;
    let address = listener.local_addr().map_err(|source| SimError::Io {
        action: "cannot read the address of",
        path: PathBuf::from(address.to_string()),
        source,
    })?;
    Ok((listener, address))
}

fn bind_error(address: SocketAddr, source: std::io::Error) -> SimError {
    SimError::Bind {
        address: address.to_string(),
        hint: match source.kind() {
            std::io::ErrorKind::PermissionDenied => " (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
            std::io::ErrorKind::AddrInUse => " (another program uses this port; pick another with --port)",
            _ => "",
        },
        source,
    }
}

/// The `HostName` clients use for a listener: `localhost:PORT`, or `localhost` on 443 (the
/// Node SDKs cannot name a port).
pub fn host_name_for(address: SocketAddr) -> String {
    match address.port() {
        443 => "localhost".to_owned(),
        port => format!("localhost:{port}"),
    }
}

/// Accepts connections until `shutdown` turns true: TLS, then HTTP/1.1 (or 2) served by
/// [`http::router`]. A connection in progress is dropped on shutdown.
pub async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    endpoint: http::Endpoint,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = http::router(endpoint);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Ok((tcp, peer)) = accepted else {
            continue;
        };
        // Without this, Nagle's algorithm and delayed ACKs stall large answers by ~40 ms.
        tcp.set_nodelay(true).ok();
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        let mut connection_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // Upgrades (the device endpoint's WebSocket) need the connection kept after the
            // response head, so it is served with upgrade support.
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                }
                _ = connection_shutdown.changed() => {}
            }
        });
    }
}
