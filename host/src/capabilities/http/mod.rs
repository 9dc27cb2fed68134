//! `promwasm:step/http`: outbound HTTP limited to an allow-list settled from
//! the plan (the workers' URLs, `middle_server_url`, `allowed_hosts`),
//! checked against the URL and against every address a name resolves to
//! ([`allow`]). A denial is a WIT error the guest can handle, never a trap.

mod allow;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::redirect;
use reqwest::Url;

use super::StepCtx;
use crate::bindings::http::{Host, HttpError, Request, Response};
use crate::results::HttpCalls;
pub use allow::AllowList;
use allow::{AddressDenied, CheckedResolver};

/// A redirect to a host that is not allowed.
#[derive(Debug)]
struct RedirectDenied(String);

impl std::fmt::Display for RedirectDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redirect to {} is not on the allow-list", self.0)
    }
}

impl std::error::Error for RedirectDenied {}

/// The run's HTTP client: one connection pool for every step, whose redirect
/// policy re-checks each hop against the allow-list.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    allow: Arc<AllowList>,
}

impl HttpClient {
    /// A client for `allow`.
    pub fn new(allow: AllowList) -> reqwest::Result<Self> {
        let allow = Arc::new(allow);
        let policy_allow = allow.clone();
        let client = reqwest::Client::builder()
            // Names resolve through the allow-list's checks, and those
            // addresses are the ones connected to.
            .dns_resolver(Arc::new(CheckedResolver::new(allow.clone())))
            // A proxy would resolve names itself, past our checks.
            .no_proxy()
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
            .build()?;
        Ok(HttpClient { client, allow })
    }

    /// A client that may reach nothing (calls outside any step).
    pub fn deny_all() -> Self {
        HttpClient {
            client: reqwest::Client::new(),
            allow: Arc::default(),
        }
    }
}

/// One step's HTTP capability: the run's client, the step's limits.
pub struct HttpCtx {
    http: HttpClient,
    max_response_bytes: usize,
    deadline: Instant,
    meter: HttpMeter,
}

/// Latencies kept over all steps of a run (16 MiB of them): each step keeps
/// at most [`HttpCalls::MAX_SAMPLES`], and a step that calls in a loop round
/// after round must not grow the reports without end.
pub const MAX_RUN_SAMPLES: usize = 1 << 20;

/// Latencies kept by every step of a run so far; clones share the count.
#[derive(Debug, Clone, Default)]
pub struct RunSamples(Arc<AtomicUsize>);

impl RunSamples {
    /// Take one sample from the run's budget, if any is left.
    fn take(&self) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed) < MAX_RUN_SAMPLES
    }
}

/// Counts a step's HTTP calls and their latencies, over all its tries.
#[derive(Debug, Clone, Default)]
pub struct HttpMeter {
    calls: Arc<Mutex<HttpCalls>>,
    run: RunSamples,
}

impl HttpMeter {
    /// A meter whose kept latencies count against `run`.
    pub fn new(run: &RunSamples) -> Self {
        HttpMeter {
            calls: Arc::default(),
            run: run.clone(),
        }
    }

    /// What was counted so far.
    pub fn calls(&self) -> HttpCalls {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn record(&self, latency: Duration, answered: bool) {
        if let Ok(mut calls) = self.calls.lock() {
            let kept = calls.has_room() && self.run.take();
            calls.record(kept.then_some(latency), answered);
        }
    }
}

impl HttpCtx {
    /// Requests through `http`, answers up to `max_response_bytes`, all
    /// before `deadline`, each counted by `meter`.
    pub fn new(
        http: HttpClient,
        max_response_bytes: usize,
        deadline: Instant,
        meter: HttpMeter,
    ) -> Self {
        HttpCtx {
            http,
            max_response_bytes,
            deadline,
            meter,
        }
    }

    /// Send `req`, counting it with its latency (to the whole body read).
    async fn send_counted(&self, req: Request) -> Result<Response, HttpError> {
        let started = Instant::now();
        let answer = self.send(req).await;
        self.meter.record(started.elapsed(), answer.is_ok());
        answer
    }

    async fn send(&self, req: Request) -> Result<Response, HttpError> {
        let url = Url::parse(&req.url)
            .map_err(|e| HttpError::Transport(format!("bad URL `{}`: {e}", req.url)))?;
        self.http.allow.check(&url).map_err(HttpError::NotAllowed)?;
        let method = reqwest::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| HttpError::Transport(format!("bad method `{}`", req.method)))?;
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let timeout = req
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.into()).min(remaining))
            .unwrap_or(remaining);
        let mut builder = self
            .http
            .client
            .request(method, url.clone())
            .timeout(timeout);
        for (name, value) in &req.headers {
            // The host decides where the request goes and how it is framed.
            if !allow::guest_may_set(name) {
                continue;
            }
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
        if let Some(denied) = err.downcast_ref::<AddressDenied>() {
            return HttpError::NotAllowed(denied.to_string());
        }
        source = err.source();
    }
    if e.is_timeout() {
        HttpError::Timeout(format!("{url} did not answer in time"))
    } else {
        HttpError::Transport(crate::error_chain::error_chain(&e))
    }
}

impl Host for StepCtx {
    async fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        self.http.send_counted(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_counts_but_the_run_keeps_a_bounded_number_of_latencies() {
        let run = RunSamples::default();
        run.0.store(MAX_RUN_SAMPLES - 2, Ordering::Relaxed);
        let first = HttpMeter::new(&run);
        for _ in 0..3 {
            first.record(Duration::from_millis(1), true);
        }
        let later = HttpMeter::new(&run);
        later.record(Duration::from_millis(1), false);
        let (first, later) = (first.calls(), later.calls());
        assert_eq!((first.count, first.latencies.len()), (3, 2));
        assert_eq!(
            (later.count, later.failed, later.latencies.len()),
            (1, 1, 0)
        );
    }
}
