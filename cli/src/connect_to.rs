//! `doctor --connect-to HOST=SCHEME://ADDR:PORT`: send the requests for HOST to ADDR:PORT
//! instead of where DNS points, as curl's `--connect-to` does, keeping what the request
//! says about HOST: the `Host` header, the signature's `@authority` and, over https, the
//! TLS server name and the certificate check. For a stack not in DNS yet, or the loopback
//! stand-ins of `bash scripts/demo --serve` (which serve plain http, hence the scheme).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};

use crate::error::CliError;

/// One `--connect-to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    /// The host name requests name (lower case, no port).
    pub host: String,
    /// Whether to speak TLS to `addr`.
    pub https: bool,
    /// Where to connect.
    pub addr: SocketAddr,
}

impl ConnectTo {
    /// Parse `HOST=http(s)://ADDR:PORT` (ADDR an IP address; IPv6 in brackets).
    pub fn parse(arg: &str) -> Result<Self, CliError> {
        let bad = |why: &str| {
            CliError::Usage(format!(
                "--connect-to {arg:?}: {why} (expected HOST=http://ADDR:PORT or HOST=https://ADDR:PORT)"
            ))
        };
        let (host, url) = arg.split_once('=').ok_or_else(|| bad("no ="))?;
        let host = host.trim().to_ascii_lowercase();
        if host.is_empty() || host.contains([':', '/']) {
            return Err(bad("HOST is a host name without port"));
        }
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad("the address needs http:// or https://"));
        };
        let addr = rest
            .trim_end_matches('/')
            .parse::<SocketAddr>()
            .map_err(|_| bad("ADDR:PORT must be an IP address and a port"))?;
        Ok(Self { host, https, addr })
    }

    /// The pin for `authority` (`host[:port]`), if any.
    pub fn find<'a>(pins: &'a [Self], authority: &str) -> Option<&'a Self> {
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        pins.iter().find(|p| p.host.eq_ignore_ascii_case(host))
    }
}

/// A resolver answering the pinned address for pinned names, the system's otherwise.
/// (The connector takes the port from the URI, which names the pinned port.)
#[derive(Clone)]
pub struct PinnedResolver {
    pins: Arc<Vec<(String, IpAddr)>>,
    system: GaiResolver,
}

impl PinnedResolver {
    pub fn new(pins: &[ConnectTo]) -> Self {
        Self {
            pins: Arc::new(pins.iter().map(|p| (p.host.clone(), p.addr.ip())).collect()),
            system: GaiResolver::new(),
        }
    }
}

type Resolved =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, std::io::Error>> + Send>>;

impl tower_service::Service<Name> for PinnedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Resolved;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.system.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some((_, ip)) = self
            .pins
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(name.as_str()))
        {
            let addrs = vec![SocketAddr::new(*ip, 0)];
            return Box::pin(async move { Ok(addrs.into_iter()) });
        }
        let lookup = self.system.call(name);
        Box::pin(async move { Ok(lookup.await?.collect::<Vec<_>>().into_iter()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let p = ConnectTo::parse("D1.cloudfront.net=http://127.0.0.1:4567")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.host, "d1.cloudfront.net");
        assert!(!p.https);
        assert_eq!(
            p.addr,
            "127.0.0.1:4567".parse().unwrap_or_else(|e| panic!("{e}"))
        );
        assert!(ConnectTo::find(std::slice::from_ref(&p), "d1.cloudfront.net:443").is_some());
        assert!(ConnectTo::find(std::slice::from_ref(&p), "other.net").is_none());
        for bad in [
            "d1=127.0.0.1:1",
            "d1=http://localhost:1",
            "=http://127.0.0.1:1",
            "d1:443=http://127.0.0.1:1",
            "d1",
        ] {
            assert!(ConnectTo::parse(bad).is_err(), "{bad}");
        }
    }
}
