//! JSON text ⇄ BSON, shared by seeding and the guest-facing ops. Extended JSON
//! (`{"$oid": ...}`, `{"$date": ...}`) is understood; key order is kept
//! (bson turns on serde_json's `preserve_order`), which matters for sort specs.

use mongodb::bson::{Bson, Document};
use serde_json::Value;

/// A serde_json error split into position and message (its Display appends the position).
pub(crate) struct JsonSyntax {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

impl JsonSyntax {
    pub(crate) fn new(e: &serde_json::Error) -> Self {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        JsonSyntax {
            line: e.line(),
            column: e.column(),
            message,
        }
    }
}

/// "a string", "an array", ... for error messages: the crate's one
/// [`json_kind`](crate::json_kind::json_kind), under the name `ops` uses.
pub(crate) use crate::json_kind::json_kind as kind_name;

/// A JSON object as a BSON document, reading Extended JSON values.
pub(crate) fn to_document(
    map: serde_json::Map<String, Value>,
) -> Result<Document, mongodb::bson::extjson::de::Error> {
    Document::try_from(map)
}

/// A document as relaxed Extended JSON (`{"$oid": ...}`, plain numbers).
pub(crate) fn to_relaxed_json(doc: Document) -> Value {
    Bson::Document(doc).into_relaxed_extjson()
}
