//! A Secrets Manager endpoint that can go down and come back with its data intact: a
//! loopback TCP proxy in front of moto that the chaos run cuts and restores.
//!
//! **What it models.** A regional Secrets Manager outage as its clients see it: for a
//! while every connection to the endpoint fails, then the service answers again with
//! every secret, version and staging label it had. Cut, the proxy closes its listening
//! socket (new connections are refused, as from an endpoint whose process is gone or
//! whose DNS name resolves nowhere: the SDK reports a dispatch failure at once) and
//! resets every open connection (a request in flight gets a connection reset, not a
//! reply). Secrets Manager's data is durable across such events; moto keeps its state in
//! memory, so killing moto itself would model a region that *loses* every secret, which
//! no outage report describes. Hence a proxy, not a kill.
//!
//! Evidence: AWS Health Dashboard, 20 Oct 2025, us-east-1 "increased error rates and
//! latencies" listing Secrets Manager among the affected services; AWS's summary of the
//! same event traces it to the regional DynamoDB endpoint's DNS record being empty, so
//! clients could not connect at all. ThousandEyes' analysis of the 13 Jun 2023 us-east-1
//! event saw timeouts and HTTP 5xx instead. This proxy reproduces the first two shapes:
//! [`OutageProxy::cut`] (connections fail fast) and [`OutageProxy::hang`] (connections
//! are accepted and requests sent, but no answer ever comes: the client's own timeouts
//! end each call). 5xx replies are not modelled.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Whether the link lets connections through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Connections are proxied to the upstream.
    Up,
    /// The port refuses connections; open ones were reset.
    Down,
    /// Connections are accepted and read, and never answered.
    Unresponsive,
}

/// The proxy. Dropping it stops it.
pub struct OutageProxy {
    addr: SocketAddr,
    state: watch::Sender<LinkState>,
    task: JoinHandle<()>,
}

impl OutageProxy {
    /// Listen on a free loopback port and proxy every connection to `upstream_url`
    /// (`http://127.0.0.1:PORT`, moto's address).
    pub async fn start(upstream_url: &str) -> std::io::Result<Self> {
        let upstream = upstream_addr(upstream_url)?;
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let (state, watcher) = watch::channel(LinkState::Up);
        let task = tokio::spawn(run(listener, addr, upstream, watcher));
        Ok(Self { addr, state, task })
    }

    /// The endpoint URL clients use instead of the upstream's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Take the endpoint down: refuse new connections, reset open ones.
    pub fn cut(&self) {
        self.state.send_replace(LinkState::Down);
    }

    /// Keep the endpoint reachable but silent: every request, open or new, waits for an
    /// answer that never comes.
    pub fn hang(&self) {
        self.state.send_replace(LinkState::Unresponsive);
    }

    /// Bring it back on the same port.
    pub fn restore(&self) {
        self.state.send_replace(LinkState::Up);
    }
}

impl Drop for OutageProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn upstream_addr(url: &str) -> std::io::Result<SocketAddr> {
    let authority = url
        .strip_prefix("http://")
        .unwrap_or(url)
        .trim_end_matches('/');
    authority.parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("expected http://IP:PORT, got {url}"),
        )
    })
}

/// A listener that can be rebound to the same port right after it was closed (the
/// reset connections may leave the port's old sockets in TIME_WAIT).
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn run(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut state: watch::Receiver<LinkState>,
) {
    let mut listener = Some(listener);
    loop {
        match listener.take() {
            Some(open) => {
                tokio::select! {
                    accepted = open.accept() => {
                        if let Ok((client, _)) = accepted {
                            tokio::spawn(pump(client, upstream, state.clone()));
                        }
                        listener = Some(open);
                    }
                    changed = state.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        // Down: dropping `open` closes the port. Otherwise keep it.
                        if *state.borrow_and_update() != LinkState::Down {
                            listener = Some(open);
                        }
                    }
                }
            }
            None => {
                if state.wait_for(|s| *s == LinkState::Up).await.is_err() {
                    return;
                }
                // Rebinding can fail for a moment while the kernel lets go of the port.
                for _ in 0..100 {
                    match bind(addr) {
                        Ok(open) => {
                            listener = Some(open);
                            break;
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "rebinding the Secrets Manager proxy");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                if listener.is_none() {
                    tracing::error!(%addr, "the Secrets Manager proxy could not listen again");
                    return;
                }
            }
        }
    }
}

/// Copy bytes both ways until either side closes or the link goes down; then reset the
/// client's connection (at once when Down; when Unresponsive, once the link is back, the
/// request having waited in silence meanwhile).
async fn pump(mut client: TcpStream, upstream: SocketAddr, mut state: watch::Receiver<LinkState>) {
    let _ = client.set_nodelay(true);
    if *state.borrow_and_update() == LinkState::Up
        && let Ok(mut server) = TcpStream::connect(upstream).await
    {
        let _ = server.set_nodelay(true);
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            _ = state.wait_for(|s| *s != LinkState::Up) => {
                // Closing with SO_LINGER 0 sends RST.
                let _ = server.set_zero_linger();
            }
        }
    }
    if *state.borrow() == LinkState::Unresponsive {
        // Read and drop what the client sends, answer nothing, until the link is back.
        let mut sink = tokio::io::sink();
        tokio::select! {
            _ = tokio::io::copy(&mut client, &mut sink) => {}
            _ = state.wait_for(|s| *s == LinkState::Up) => {}
        }
    }
    // The client sees "connection reset".
    let _ = client.set_zero_linger();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(buf.get(..n).unwrap_or_default()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        stream.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await?;
        Ok(buf.to_vec())
    }

    async fn proxy_with_a_working_connection() -> (OutageProxy, String, TcpStream) {
        let upstream = echo_server().await;
        let proxy = OutageProxy::start(&format!("http://{upstream}"))
            .await
            .unwrap();
        let addr = proxy.url().trim_start_matches("http://").to_owned();
        let mut open = TcpStream::connect(&addr).await.unwrap();
        assert_eq!(round_trip(&mut open).await.unwrap(), b"ping");
        (proxy, addr, open)
    }

    #[tokio::test]
    async fn a_cut_refuses_new_connections_resets_open_ones_and_a_restore_serves_again() {
        let (proxy, addr, mut open) = proxy_with_a_working_connection().await;

        proxy.cut();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = TcpStream::connect(&addr).await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        let reset = round_trip(&mut open).await.unwrap_err();
        assert!(
            matches!(
                reset.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            ),
            "{reset:?}"
        );

        proxy.restore();
        let mut again = None;
        for _ in 0..50 {
            if let Ok(s) = TcpStream::connect(&addr).await {
                again = Some(s);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut again = again.expect("the proxy listens again");
        assert_eq!(round_trip(&mut again).await.unwrap(), b"ping");
    }

    #[tokio::test]
    async fn a_hang_accepts_and_never_answers_until_restored() {
        let (proxy, addr, mut open) = proxy_with_a_working_connection().await;

        proxy.hang();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut new = TcpStream::connect(&addr).await.expect("still accepting");
        for stream in [&mut open, &mut new] {
            let silent = tokio::time::timeout(Duration::from_millis(300), round_trip(stream)).await;
            assert!(silent.is_err(), "no answer while hanging: {silent:?}");
        }

        proxy.restore();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut fresh = TcpStream::connect(&addr).await.unwrap();
        assert_eq!(round_trip(&mut fresh).await.unwrap(), b"ping");
    }
}
