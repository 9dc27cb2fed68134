//! Outbound HTTP, limited by the host to the workers, `middle_server_url`
//! and `allowed_hosts`.
//!
//! ```no_run
//! use promwasm_guest::prelude::*;
//!
//! # fn demo() -> Result<()> {
//! let me = worker::current();
//! let answer: Value = http::post(me.endpoint("task"))
//!     .header("x-round", runner::current_round().to_string())
//!     .json(&json!({ "stakingKey": me.staking_key()? }))
//!     .timeout_ms(5_000)
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! # Ok(()) }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::promwasm::step::http as imp;
use crate::json::truncate;
use crate::{Context, Error, Result};

/// How many characters of a response body error messages quote.
const QUOTED_BODY: usize = 500;

/// A `GET` request to `url`.
pub fn get(url: impl AsRef<str>) -> RequestBuilder {
    request("GET", url)
}

/// A `POST` request to `url`.
pub fn post(url: impl AsRef<str>) -> RequestBuilder {
    request("POST", url)
}

/// A request with any method (`PUT`, `DELETE`, ...).
pub fn request(method: impl AsRef<str>, url: impl AsRef<str>) -> RequestBuilder {
    RequestBuilder {
        request: imp::Request {
            method: method.as_ref().to_ascii_uppercase(),
            url: url.as_ref().to_owned(),
            headers: Vec::new(),
            body: None,
            timeout_ms: None,
        },
        error: None,
    }
}

/// A request being built; [`send`](RequestBuilder::send) it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    request: imp::Request,
    /// A failure while building (e.g. a body that would not serialise), reported by `send`.
    error: Option<Error>,
}

impl RequestBuilder {
    /// Add a header.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let header = (name.as_ref().to_owned(), value.as_ref().to_owned());
        self.request.headers.push(header);
        self
    }

    /// Send `body` as JSON (sets `content-type: application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                let headers = &mut self.request.headers;
                headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
                headers.push(("content-type".into(), "application/json".into()));
                self.request.body = Some(bytes);
            }
            Err(e) => self.error = Some(Error::msg(format!("request body: {e}"))),
        }
        self
    }

    /// Send these bytes as the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.request.body = Some(body.into());
        self
    }

    /// Give up after `ms` milliseconds (default: the step's remaining time).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.request.timeout_ms = Some(ms);
        self
    }

    /// Send the request. Any status is a response; failing to get one is an
    /// error (`not allowed: ...`, `timed out: ...`, ...).
    pub fn send(self) -> Result<Response> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let response = imp::send(&self.request).map_err(|e| match e {
            imp::HttpError::NotAllowed(m) => Error::msg(format!("not allowed: {m}")),
            imp::HttpError::Timeout(m) => Error::msg(format!("timed out: {m}")),
            imp::HttpError::TooLarge(m) => Error::msg(format!("response too large: {m}")),
            imp::HttpError::Transport(m) => Error::msg(format!("request failed: {m}")),
        })?;
        Ok(Response {
            url: self.request.url,
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The URL requested.
    pub url: String,
    /// The status code.
    pub status: u16,
    /// Headers as received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: impl AsRef<str>) -> Option<&str> {
        let name = name.as_ref();
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).with_context(|| {
            let body = truncate(&self.text(), QUOTED_BODY);
            format!(
                "HTTP {} from {}: unexpected body {body:?}",
                self.status, self.url
            )
        })
    }

    /// `self` when the status is 2xx, else an error with the status and the
    /// start of the body.
    pub fn error_for_status(self) -> Result<Self> {
        if self.is_success() {
            return Ok(self);
        }
        let body = truncate(self.text().trim(), QUOTED_BODY);
        Err(Error::msg(format!(
            "HTTP {} from {}: {body}",
            self.status, self.url
        )))
    }
}
