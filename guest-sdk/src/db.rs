//! MongoDB, scoped to the configured database. Steps may read when their
//! config says `db: read`; the post-load hook may also write. Filters,
//! updates and documents are JSON (MongoDB Extended JSON is accepted, e.g.
//! `{"_id": {"$oid": "..."}}`).
//!
//! ```no_run
//! use promwasm_guest::prelude::*;
//!
//! # fn demo() -> Result<()> {
//! let open = db::count("todos", json!({ "status": "open" }))?;
//! let newest: Vec<Value> = db::find_with("todos", json!({}), Some(json!({ "_id": -1 })), Some(1))?;
//! db::update_many("todos", json!({ "status": "open" }), json!({ "$set": { "status": "done" } }))?;
//! # Ok(()) }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::bindings::promwasm::step::db as imp;
use crate::json::{from_json, to_json};
use crate::{Context, Result};

/// Every document of `collection` matching `filter`.
pub fn find<T: DeserializeOwned>(collection: impl AsRef<str>, filter: Value) -> Result<Vec<T>> {
    find_with(collection, filter, None, None)
}

/// Documents of `collection` matching `filter`, ordered by `sort`, at most `limit`.
pub fn find_with<T: DeserializeOwned>(
    collection: impl AsRef<str>,
    filter: Value,
    sort: Option<Value>,
    limit: Option<u32>,
) -> Result<Vec<T>> {
    let collection = collection.as_ref();
    let what = format!("db find in `{collection}`");
    let sort = sort.map(|s| s.to_string());
    let found = imp::find(collection, &filter.to_string(), sort.as_deref(), limit)
        .with_context(|| what.clone())?;
    from_json(&found, &what)
}

/// How many documents of `collection` match `filter`.
pub fn count(collection: impl AsRef<str>, filter: Value) -> Result<u64> {
    let collection = collection.as_ref();
    imp::count(collection, &filter.to_string())
        .with_context(|| format!("db count in `{collection}`"))
}

/// Apply `update` (e.g. `{"$set": {...}}`) to every match; how many changed.
pub fn update_many(collection: impl AsRef<str>, filter: Value, update: Value) -> Result<u64> {
    let collection = collection.as_ref();
    imp::update_many(collection, &filter.to_string(), &update.to_string())
        .with_context(|| format!("db update in `{collection}`"))
}

/// Insert `documents`; how many were inserted.
pub fn insert_many<T: Serialize>(collection: impl AsRef<str>, documents: &[T]) -> Result<u64> {
    let collection = collection.as_ref();
    let what = format!("db insert into `{collection}`");
    imp::insert_many(collection, &to_json(documents, &what)?).with_context(|| what)
}

/// Delete every match; how many were deleted.
pub fn delete_many(collection: impl AsRef<str>, filter: Value) -> Result<u64> {
    let collection = collection.as_ref();
    imp::delete_many(collection, &filter.to_string())
        .with_context(|| format!("db delete in `{collection}`"))
}
