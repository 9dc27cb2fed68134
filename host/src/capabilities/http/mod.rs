//! `promwasm:step/http`: outbound HTTP limited to an allow-list settled from
//! the plan (the workers' URLs, `middle_server_url`, `allowed_hosts`).
//! A denial is a WIT error the guest can handle, never a trap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::redirect;
use reqwest::Url;

use super::StepCtx;
use crate::bindings::http::{Host, HttpError, Request, Response};
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

    /// Whether `url` may be requested.
    pub fn permits(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = normalise(host);
        let port = url.port_or_known_default();
        self.0
            .iter()
            .any(|(h, p)| *h == host && (p.is_none() || *p == port))
    }
}

/// Loopback names are one host: a worker at `localhost:5000` is also `127.0.0.1:5000`.
fn normalise(host: &str) -> String {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    match host.as_str() {
        "localhost" | "127.0.0.1" | "::1" => "localhost".into(),
        _ => host,
    }
}

/// A redirect to a host that is not allowed.
#[derive(Debug)]
struct RedirectDenied(String);

impl std::fmt::Display for RedirectDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redirect to {} is not on the allow-list", self.0)
    }
}

impl std::error::Error for RedirectDenied {}

/// One step's HTTP capability.
pub struct HttpCtx {
    client: reqwest::Client,
    allow: Arc<AllowList>,
    max_response_bytes: usize,
    deadline: Instant,
}

impl HttpCtx {
    /// A client that re-checks every redirect against `allow`.
    pub fn new(allow: Arc<AllowList>, max_response_bytes: usize, deadline: Instant) -> Self {
        let policy_allow = allow.clone();
        let client = reqwest::Client::builder()
            .redirect(redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 10 {
                    attempt.error("too many redirects")
                } else if policy_allow.permits(attempt.url()) {
                    attempt.follow()
                } else {
                    let url = attempt.url().to_string();
                    attempt.error(RedirectDenied(url))
                }
            }))
            .build()
            // Building only fails when TLS cannot initialise; every request would fail alike.
            .unwrap_or_default();
        HttpCtx {
            client,
            allow,
            max_response_bytes,
            deadline,
        }
    }

    async fn send(&self, req: Request) -> Result<Response, HttpError> {
        let url = Url::parse(&req.url)
            .map_err(|e| HttpError::Transport(format!("bad URL `{}`: {e}", req.url)))?;
        if !self.allow.permits(&url) {
            return Err(HttpError::NotAllowed(format!(
                "{} is not on the allow-list (the workers, middle_server_url and allowed_hosts in config.yaml)",
                url.host_str().unwrap_or("?")
            )));
        }
        let method = reqwest::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| HttpError::Transport(format!("bad method `{}`", req.method)))?;
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let timeout = req
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.into()).min(remaining))
            .unwrap_or(remaining);
        let mut builder = self.client.request(method, url.clone()).timeout(timeout);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let mut resp = builder.send().await.map_err(|e| classify(&url, e))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&url, e))? {
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(HttpError::TooLarge(format!(
                    "response from {url} is larger than {} bytes (raise `max_response_bytes`)",
                    self.max_response_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

fn classify(url: &Url, e: reqwest::Error) -> HttpError {
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(err) = source {
        if let Some(denied) = err.downcast_ref::<RedirectDenied>() {
            return HttpError::NotAllowed(denied.to_string());
        }
        source = err.source();
    }
    if e.is_timeout() {
        HttpError::Timeout(format!("{url} did not answer in time"))
    } else {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message = format!("{message}: {s}");
            source = s.source();
        }
        HttpError::Transport(message)
    }
}

impl Host for StepCtx {
    async fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        self.http.send(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_match_and_ports_matter() {
        let mut list = AllowList::default();
        list.add_url("http://localhost:5000");
        list.add_host("api.example.com");
        list.add_host("other.example:8443");
        let ok = |u: &str| list.permits(&Url::parse(u).unwrap());
        assert!(ok("http://127.0.0.1:5000/task"));
        assert!(ok("http://localhost:5000/"));
        assert!(!ok("http://localhost:5001/"));
        assert!(ok("https://api.example.com/x"));
        assert!(ok("http://api.example.com:9999/x"));
        assert!(ok("https://other.example:8443/"));
        assert!(!ok("https://other.example/"));
        assert!(!ok("http://evil.example/"));
    }
}
