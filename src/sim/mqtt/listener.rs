//! A hub's MQTT/TLS listener (8883 by default): the TLS handshake (TLS 1.2 and 1.3, as the
//! Python SDK insists on 1.2), then one [`session`](super::session) per connection.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::session::{self, Endpoint};
use super::websocket::log_end;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts device connections until `shutdown` turns true.
pub async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    endpoint: Endpoint,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Ok((tcp, peer)) = accepted else {
            continue;
        };
        tcp.set_nodelay(true).ok();
        let (acceptor, endpoint, connection_shutdown) = (acceptor.clone(), endpoint.clone(), shutdown.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "MQTT TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            log_end(&session::serve(tls, endpoint, connection_shutdown).await);
        });
    }
}
