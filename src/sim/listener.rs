//! A hub's HTTPS listener: binding the port (with a hint when that fails) and the accept loop
//! that terminates TLS and hands each connection to the HTTP front end.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
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

/// The `HostName` clients use for a listener: `localhost:PORT` (or the hub's own loopback
/// address), without the port on 443 (the Node SDKs cannot name a port).
pub fn host_name_for(address: SocketAddr) -> String {
    let host = device_host_name(address.ip());
    match address.port() {
        443 => host,
        port => format!("{host}:{port}"),
    }
}

/// The host devices use for a hub's address: never a port (the device SDKs cannot take one);
/// `localhost` for 127.0.0.1 and unspecified addresses, else the address itself.
pub fn device_host_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() && v4 != Ipv4Addr::LOCALHOST => v4.to_string(),
        _ => "localhost".to_owned(),
    }
}

/// The address the hub at `index` listens on: on loopback each hub has its own (127.0.0.1,
/// 127.0.0.2, …) so every hub can use the fixed device ports; otherwise all share `bind`.
pub fn hub_ip(bind: IpAddr, index: usize) -> IpAddr {
    match (bind, u8::try_from(index)) {
        (IpAddr::V4(v4), Ok(index)) if v4 == Ipv4Addr::LOCALHOST && index > 0 => IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + index)),
        _ => bind,
    }
}

/// Binds `address`, or when that port is taken (or the address cannot be used), a free port on
/// `fallback_ip`, saying so in the log.
pub async fn listen_or_fallback(address: SocketAddr, fallback_ip: IpAddr, what: &str) -> Result<(TcpListener, SocketAddr), SimError> {
    match listen(address).await {
        Ok(bound) => Ok(bound),
        Err(SimError::Bind { source, .. })
            if matches!(source.kind(), std::io::ErrorKind::AddrInUse | std::io::ErrorKind::AddrNotAvailable) =>
        {
            tracing::warn!(%address, %source, "{what} cannot use its address; using a free port instead");
            listen(SocketAddr::new(fallback_ip, 0)).await
        }
        Err(error) => Err(error),
    }
}

/// Accepts TCP connections until `shutdown` turns true and runs `serve` on each, on a task of its
/// own, once its TLS handshake is done (within [`HANDSHAKE_TIMEOUT`]); a failed handshake drops
/// that connection only. Both the HTTPS listener and the MQTT device listener use it.
pub async fn accept_tls<F, Fut>(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, mut shutdown: watch::Receiver<bool>, serve: F)
where
    F: Fn(tokio_rustls::server::TlsStream<tokio::net::TcpStream>, SocketAddr) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Ok((tcp, peer)) = accepted else {
            continue;
        };
        // Without this, Nagle's algorithm and delayed ACKs stall small answers by ~40 ms.
        tcp.set_nodelay(true).ok();
        let (acceptor, serve) = (acceptor.clone(), serve.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => serve(tls, peer).await,
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// Accepts connections until `shutdown` turns true: TLS, then HTTP/1.1 (or 2) served by
/// [`http::router`]. A connection in progress is dropped on shutdown.
pub async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    endpoint: http::Endpoint,
    shutdown: watch::Receiver<bool>,
) {
    let app = http::router(endpoint);
    let shutdown_for_connections = shutdown.clone();
    accept_tls(listener, acceptor, shutdown, move |tls, peer| {
        let service = TowerToHyperService::new(app.clone());
        let mut connection_shutdown = shutdown_for_connections.clone();
        async move {
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
        }
    })
    .await;
}
