//! Where a step's HTTP may go. A URL must name an allowed `host[:port]`,
//! and every address its host resolves to is checked before any connection:
//! loopback, private, link-local (cloud metadata) and other special
//! addresses are reachable only through entries that name a port (the
//! workers' URLs, `localhost:8080` in `allowed_hosts`). An allowed public
//! name that resolves, or rebinds, to such an address is refused. The
//! addresses checked are the ones connected to: reqwest resolves through
//! [`CheckedResolver`], so there is no second lookup to race.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use crate::plan::Plan;

/// Hosts a step may reach: `(host, port)`; a `None` port allows any port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<(String, Option<u16>)>);

impl AllowList {
    /// The plan's allow-list.
    pub fn from_plan(plan: &Plan) -> Self {
        let mut list = AllowList::default();
        for w in &plan.workers {
            list.add_url(&w.url);
        }
        if let Some(url) = &plan.middle_server_url {
            list.add_url(url);
        }
        for host in &plan.allowed_hosts {
            list.add_host(host);
        }
        list
    }

    fn add_url(&mut self, url: &str) {
        if let Ok(url) = Url::parse(url) {
            if let Some(host) = url.host_str() {
                self.0.push((normalise(host), url.port_or_known_default()));
            }
        }
    }

    /// Allow `host` or `host:port`.
    pub fn add_host(&mut self, entry: &str) {
        let entry = entry
            .trim()
            .trim_start_matches("http://")
            .trim_start_matches("https://");
        let entry = entry.trim_end_matches('/');
        match entry
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        {
            Some((host, port)) => self.0.push((normalise(host), Some(port))),
            None => self.0.push((normalise(entry), None)),
        }
    }

    /// Whether `url` may be requested (what redirects are checked with).
    pub fn permits(&self, url: &Url) -> bool {
        self.check(url).is_ok()
    }

    /// Why `url` may not be requested, if it may not.
    pub fn check(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "only http and https URLs are allowed, not `{}`",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "URLs with a user name or password are not allowed; send credentials in a header"
                    .into(),
            );
        }
        let Some(host) = url.host_str() else {
            return Err(format!("`{url}` has no host"));
        };
        let name = normalise(host);
        let port = url.port_or_known_default();
        let listed = |explicit_port: bool| {
            self.0.iter().any(|(h, p)| {
                *h == name
                    && match p {
                        Some(p) => Some(*p) == port,
                        None => !explicit_port,
                    }
            })
        };
        // An address literal is connected to as it is (no resolver runs):
        // a special one needs an entry with its port.
        let literal: Option<IpAddr> = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok();
        let needs_port = literal.is_some_and(is_special) || name == "localhost";
        if listed(needs_port) {
            Ok(())
        } else if listed(false) {
            Err(format!(
                "{host} is a loopback, private or link-local address; list it with its port in `allowed_hosts` to reach it"
            ))
        } else {
            Err(format!(
                "{host}{} is not on the allow-list (the workers, middle_server_url and allowed_hosts in config.yaml)",
                port.map(|p| format!(":{p}")).unwrap_or_default()
            ))
        }
    }

    /// Whether `name` may resolve to special addresses: only when every
    /// entry for it names a port (so the URL check pinned the port too).
    fn special_addresses_allowed(&self, name: &str) -> bool {
        let name = normalise(name);
        let mut entries = self.0.iter().filter(|(h, _)| *h == name).peekable();
        entries.peek().is_some() && entries.all(|(_, p)| p.is_some())
    }

    /// The addresses `name` resolved to, if it may use them all.
    fn check_addresses(&self, name: &str, addrs: &[IpAddr]) -> Result<(), AddressDenied> {
        if addrs.is_empty() {
            return Err(AddressDenied(format!("{name} resolves to no address")));
        }
        match addrs.iter().find(|ip| is_special(**ip)) {
            Some(ip) if !self.special_addresses_allowed(name) => Err(AddressDenied(format!(
                "{name} resolves to {ip}, a loopback, private or link-local address; list `{name}:PORT` in `allowed_hosts` to reach it there"
            ))),
            _ => Ok(()),
        }
    }
}

/// Loopback names are one host: a worker at `localhost:5000` is also `127.0.0.1:5000`.
fn normalise(host: &str) -> String {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    match host.as_str() {
        "localhost" | "127.0.0.1" | "::1" => "localhost".into(),
        _ => host,
    }
}

/// Addresses that are not the public internet: this machine, private and
/// carrier networks, link-local (cloud metadata at 169.254.169.254), and the
/// reserved ranges.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_special(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

/// A name resolved to an address the step may not reach.
#[derive(Debug)]
pub struct AddressDenied(String);

impl std::fmt::Display for AddressDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressDenied {}

type Lookup = dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
    + Send
    + Sync;

/// reqwest's resolver: looks a name up, checks every address against the
/// allow-list, and hands exactly those addresses to the connector.
pub struct CheckedResolver {
    allow: Arc<AllowList>,
    lookup: Arc<Lookup>,
}

impl CheckedResolver {
    /// Resolve with the system's resolver.
    pub fn new(allow: Arc<AllowList>) -> Self {
        Self::with_lookup(allow, |name| {
            Box::pin(async move {
                Ok(tokio::net::lookup_host((name.as_str(), 0))
                    .await?
                    .map(|a| a.ip())
                    .collect())
            })
        })
    }

    /// Resolve with `lookup` (tests map names to addresses of their choosing).
    pub fn with_lookup(
        allow: Arc<AllowList>,
        lookup: impl Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        CheckedResolver {
            allow,
            lookup: Arc::new(lookup),
        }
    }

    async fn resolve_checked(&self, name: String) -> Result<Vec<IpAddr>, AddressDenied> {
        let addrs = (self.lookup)(name.clone())
            .await
            .map_err(|e| AddressDenied(format!("cannot resolve {name}: {e}")))?;
        self.allow.check_addresses(&name, &addrs)?;
        Ok(addrs)
    }
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = CheckedResolver {
            allow: self.allow.clone(),
            lookup: self.lookup.clone(),
        };
        let name = name.as_str().to_string();
        Box::pin(async move {
            let addrs = this.resolve_checked(name).await?;
            let addrs: Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Whether a guest may set this request header. `Host` would send the
/// request to another virtual host than the one checked; hop-by-hop and
/// framing headers belong to the connection the host makes.
pub fn guest_may_set(name: &str) -> bool {
    const HOST_OWNED: &[&str] = &[
        "host",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    ];
    !HOST_OWNED
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn list(entries: &[&str]) -> AllowList {
        let mut list = AllowList::default();
        list.add_url("http://localhost:5000");
        for e in entries {
            list.add_host(e);
        }
        list
    }

    #[test]
    fn loopback_names_match_and_ports_matter() {
        let list = list(&["api.example.com", "other.example:8443"]);
        let ok = |u: &str| list.permits(&Url::parse(u).unwrap());
        assert!(ok("http://127.0.0.1:5000/task"));
        assert!(ok("http://localhost:5000/"));
        assert!(ok("http://[::1]:5000/"));
        assert!(!ok("http://localhost:5001/"));
        assert!(ok("https://api.example.com/x"));
        assert!(ok("http://api.example.com:9999/x"));
        assert!(ok("https://other.example:8443/"));
        assert!(!ok("https://other.example/"));
        assert!(!ok("http://evil.example/"));
    }

    #[test]
    fn url_tricks_are_refused() {
        let list = list(&["api.example.com"]);
        let why = |u: &str| list.check(&Url::parse(u).unwrap()).unwrap_err();
        // The allowed name is only the user name here; the host is evil.example.
        assert!(why("http://api.example.com@evil.example/").contains("user name or password"));
        assert!(why("http://evil.example/#api.example.com").contains("evil.example"));
        assert!(why("http://user:pw@api.example.com/").contains("user name or password"));
        assert!(why("file:///etc/passwd").contains("only http"));
        // Address literals of special ranges need an entry with their port.
        assert!(why("http://169.254.169.254/latest/meta-data").contains("not on the allow-list"));
        assert!(why("http://[::ffff:127.0.0.1]:5001/").contains("not on the allow-list"));
        let any_port_loopback = list_without_worker(&["localhost", "10.0.0.5"]);
        let why = |u: &str| {
            any_port_loopback
                .check(&Url::parse(u).unwrap())
                .unwrap_err()
        };
        assert!(why("http://localhost:22/").contains("list it with its port"));
        assert!(why("http://10.0.0.5/").contains("list it with its port"));
    }

    fn list_without_worker(entries: &[&str]) -> AllowList {
        let mut list = AllowList::default();
        for e in entries {
            list.add_host(e);
        }
        list
    }

    #[test]
    fn special_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_special(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_special(ip.parse().unwrap()), "{ip}");
        }
    }

    /// A resolver answering from a table, never the network; counts lookups.
    fn resolver(list: AllowList, table: &[(&str, &str)]) -> CheckedResolver {
        let table: HashMap<String, IpAddr> = table
            .iter()
            .map(|(n, ip)| (n.to_string(), ip.parse().unwrap()))
            .collect();
        CheckedResolver::with_lookup(Arc::new(list), move |name| {
            let found = table.get(&name).copied();
            Box::pin(async move {
                found
                    .map(|ip| vec![ip])
                    .ok_or_else(|| std::io::Error::other("no such name"))
            })
        })
    }

    #[tokio::test]
    async fn a_public_name_that_resolves_to_a_special_address_is_refused() {
        let r = resolver(
            list(&[
                "api.example.com",
                "metadata.example",
                "public.example",
                "box.internal:8080",
            ]),
            &[
                ("api.example.com", "127.0.0.1"),
                ("metadata.example", "169.254.169.254"),
                ("public.example", "93.184.216.34"),
                ("box.internal", "10.0.0.7"),
            ],
        );
        let err = r
            .resolve_checked("api.example.com".into())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("resolves to 127.0.0.1"), "{err}");
        let err = r
            .resolve_checked("metadata.example".into())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("169.254.169.254"), "{err}");
        assert_eq!(
            r.resolve_checked("public.example".into()).await.unwrap(),
            vec!["93.184.216.34".parse::<IpAddr>().unwrap()]
        );
        // Listed with a port: a private address is what the user asked for.
        assert!(r.resolve_checked("box.internal".into()).await.is_ok());
    }

    #[test]
    fn guests_cannot_set_host_or_framing_headers() {
        for h in [
            "Host",
            "connection",
            "Transfer-Encoding",
            "content-length",
            "Upgrade",
        ] {
            assert!(!guest_may_set(h), "{h}");
        }
        for h in ["content-type", "authorization", "x-signature"] {
            assert!(guest_may_set(h), "{h}");
        }
    }
}
