//! JSON helpers shared by the capability modules.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Context, Result};

/// Serialise `value`, naming `what` on failure.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).with_context(|| format!("{what}: cannot serialise"))
}

/// Parse JSON text from the host as `T`, naming `what` on failure.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).context(what)
}

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
