//! How a worker is asked whether it answers: a TCP connect to its address, or
//! `GET` of its readiness path answering 2xx. The same probe tells when a
//! worker is ready and, for one promwasm did not start, that it still runs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::plan::{Readiness, WorkerPlan};

/// How long one TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one HTTP probe may take in all.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(2);

/// One worker's probe.
#[derive(Debug, Clone)]
pub struct Probe {
    /// `host:port` of its URL (or `127.0.0.1:port` when the URL has none).
    addr: String,
    /// Where to connect when that needs no name lookup (an IP address, or
    /// `localhost`, which is the loopback addresses by definition): hundreds
    /// of workers probed many times a second would each ask the resolver.
    known: Vec<SocketAddr>,
    /// `GET` this URL for an HTTP probe; `None` for a TCP connect.
    http: Option<String>,
}

impl Probe {
    /// The probe `w.ready` asks for.
    pub fn of(w: &WorkerPlan) -> Probe {
        let url = reqwest::Url::parse(&w.url).ok();
        let host_port = url
            .as_ref()
            .and_then(|u| Some((u.host_str()?.to_owned(), u.port_or_known_default()?)));
        let addr = match &host_port {
            Some((host, port)) => format!("{host}:{port}"),
            None => format!("127.0.0.1:{}", w.port),
        };
        let known = match &host_port {
            Some((host, port)) => {
                let ips: Vec<IpAddr> = match host.trim_start_matches('[').trim_end_matches(']') {
                    h if h.eq_ignore_ascii_case("localhost") => {
                        vec![
                            IpAddr::V4(Ipv4Addr::LOCALHOST),
                            IpAddr::V6(Ipv6Addr::LOCALHOST),
                        ]
                    }
                    h => h.parse().into_iter().collect(),
                };
                ips.into_iter()
                    .map(|ip| SocketAddr::new(ip, *port))
                    .collect()
            }
            None => vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), w.port)],
        };
        let http = match &w.ready {
            Readiness::Tcp { .. } => None,
            Readiness::Http { path, .. } => Some(format!("{}{path}", w.url.trim_end_matches('/'))),
        };
        Probe { addr, known, http }
    }

    /// Whether it needs an HTTP client.
    pub fn is_http(&self) -> bool {
        self.http.is_some()
    }

    /// The `host:port` probed (for an HTTP probe, the server's).
    pub fn address(&self) -> String {
        self.addr.clone()
    }

    /// What is probed, for messages: `TCP connect to …` or `GET … answering 2xx`.
    pub fn describe(&self) -> String {
        match &self.http {
            None => format!("TCP connect to {}", self.addr),
            Some(url) => format!("GET {url} answering 2xx"),
        }
    }

    /// Whether a TCP connection to its address opens, within
    /// [`CONNECT_TIMEOUT`]. (Before an HTTP probe: the server does not see it.)
    pub async fn connect(&self) -> Result<(), String> {
        let connect = async {
            if self.known.is_empty() {
                tokio::net::TcpStream::connect(&self.addr).await
            } else {
                tokio::net::TcpStream::connect(&self.known[..]).await
            }
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no connection within {CONNECT_TIMEOUT:?}")),
        }
    }

    /// Probe once, within [`CONNECT_TIMEOUT`] or [`HTTP_TIMEOUT`]: `Ok` when
    /// it answered as asked, else why not. `client` is needed for an HTTP
    /// probe only.
    pub async fn once(&self, client: Option<&reqwest::Client>) -> Result<(), String> {
        let http_timeout = HTTP_TIMEOUT;
        match (&self.http, client) {
            (None, _) => self.connect().await,
            (Some(url), Some(client)) => match client.get(url).timeout(http_timeout).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("answered {}", r.status())),
                Err(e) if e.is_timeout() => Err(format!("no answer within {http_timeout:?}")),
                Err(e) => Err(crate::error_chain::error_chain(&e)),
            },
            (Some(_), None) => Err("no HTTP client to probe with".into()),
        }
    }
}
