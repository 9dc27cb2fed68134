//! Database operations for the WebAssembly `db` interface: arguments arrive
//! as JSON text (Extended JSON accepted) and results leave as relaxed
//! Extended JSON, so guests never handle BSON.

use futures::TryStreamExt;
use mongodb::bson::Document;
use mongodb::Database;
use serde_json::Value;

use super::json::{kind_name, to_document, to_relaxed_json, JsonSyntax};

/// Why a guest's database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// An argument is not valid JSON.
    #[error("{argument} is not valid JSON: {message} at line {line} column {column}")]
    InvalidJson {
        /// Which argument (`filter`, `sort`, `update`, `documents`).
        argument: String,
        /// serde_json's complaint.
        message: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// An argument is JSON of the wrong shape.
    #[error("{argument} is not {expected}: found {found}")]
    WrongShape {
        /// Which argument, with an index for array elements (`documents[2]`).
        argument: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// An argument holds malformed Extended JSON (e.g. a bad `$oid`).
    #[error("{argument} has invalid Extended JSON: {message}")]
    InvalidExtendedJson {
        /// Which argument.
        argument: String,
        /// bson's complaint.
        message: String,
    },
    /// An update document lacks update operators.
    #[error("update must use update operators such as $set; found field `{field}`")]
    NotAnUpdate {
        /// The first top-level field.
        field: String,
    },
    /// A `find` matched more than the step may receive.
    #[error("find on collection `{collection}` returned more than {max_bytes} bytes of JSON; narrow the filter, pass a limit, or raise `max_response_bytes`")]
    TooLarge {
        /// The collection.
        collection: String,
        /// The cap (the step's `max_response_bytes`).
        max_bytes: usize,
    },
    /// The server or driver refused the operation.
    #[error("{op} on collection `{collection}` failed: {source}")]
    Mongo {
        /// The operation.
        op: &'static str,
        /// The collection.
        collection: String,
        /// The driver's error.
        source: mongodb::error::Error,
    },
}

fn mongo_err(op: &'static str, collection: &str) -> impl FnOnce(mongodb::error::Error) -> OpError {
    let collection = collection.to_owned();
    move |source| OpError::Mongo {
        op,
        collection,
        source,
    }
}

fn parse_value(argument: &str, text: &str) -> Result<Value, OpError> {
    serde_json::from_str(text).map_err(|e| {
        let syntax = JsonSyntax::new(&e);
        OpError::InvalidJson {
            argument: argument.to_owned(),
            message: syntax.message,
            line: syntax.line,
            column: syntax.column,
        }
    })
}

fn object_to_document(argument: &str, value: Value) -> Result<Document, OpError> {
    match value {
        Value::Object(map) => to_document(map).map_err(|e| OpError::InvalidExtendedJson {
            argument: argument.to_owned(),
            message: e.to_string(),
        }),
        other => Err(OpError::WrongShape {
            argument: argument.to_owned(),
            expected: "a JSON object",
            found: kind_name(&other),
        }),
    }
}

/// Parse `text` as a JSON object into a BSON document.
fn parse_document(argument: &str, text: &str) -> Result<Document, OpError> {
    object_to_document(argument, parse_value(argument, text)?)
}

/// Find documents matching `filter`, optionally sorted (`{"field": 1|-1}`) and limited;
/// returns a JSON array in relaxed Extended JSON (`{"$oid": ...}` for ids).
/// Documents are read one at a time and the answer stops at `max_bytes`
/// (the step's `max_response_bytes`): a guest cannot make the host hold a
/// whole collection.
pub async fn find(
    db: &Database,
    collection: &str,
    filter: &str,
    sort: Option<&str>,
    limit: Option<u32>,
    max_bytes: usize,
) -> Result<String, OpError> {
    let filter = parse_document("filter", filter)?;
    let sort = sort.map(|s| parse_document("sort", s)).transpose()?;
    let coll = db.collection::<Document>(collection);
    let mut action = coll.find(filter);
    if let Some(sort) = sort {
        action = action.sort(sort);
    }
    if let Some(limit) = limit {
        action = action.limit(i64::from(limit));
    }
    let mut cursor = action.await.map_err(mongo_err("find", collection))?;
    let mut out = String::from("[");
    while let Some(doc) = cursor
        .try_next()
        .await
        .map_err(mongo_err("find", collection))?
    {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&to_relaxed_json(doc).to_string());
        // `]` still to come.
        if out.len() + 1 > max_bytes {
            return Err(OpError::TooLarge {
                collection: collection.to_owned(),
                max_bytes,
            });
        }
    }
    out.push(']');
    Ok(out)
}

/// The number of documents matching `filter`.
pub async fn count(db: &Database, collection: &str, filter: &str) -> Result<u64, OpError> {
    let filter = parse_document("filter", filter)?;
    db.collection::<Document>(collection)
        .count_documents(filter)
        .await
        .map_err(mongo_err("count", collection))
}

/// Apply `update` (an operator document such as `{"$set": {...}}`, or an aggregation
/// pipeline array) to every document matching `filter`; returns the modified count.
pub async fn update_many(
    db: &Database,
    collection: &str,
    filter: &str,
    update: &str,
) -> Result<u64, OpError> {
    let filter = parse_document("filter", filter)?;
    let coll = db.collection::<Document>(collection);
    let result = match parse_value("update", update)? {
        Value::Array(stages) => {
            let pipeline = stages
                .into_iter()
                .enumerate()
                .map(|(i, stage)| object_to_document(&format!("update[{i}]"), stage))
                .collect::<Result<Vec<_>, _>>()?;
            coll.update_many(filter, pipeline).await
        }
        value => {
            let update = object_to_document("update", value)?;
            // The driver checks this too, but its message doesn't say which argument.
            if let Some(field) = update.keys().find(|k| !k.starts_with('$')) {
                return Err(OpError::NotAnUpdate {
                    field: field.clone(),
                });
            }
            coll.update_many(filter, update).await
        }
    };
    Ok(result
        .map_err(mongo_err("update_many", collection))?
        .modified_count)
}

/// Insert a JSON array of documents; returns how many were inserted.
pub async fn insert_many(db: &Database, collection: &str, documents: &str) -> Result<u64, OpError> {
    let docs = match parse_value("documents", documents)? {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| object_to_document(&format!("documents[{i}]"), item))
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(OpError::WrongShape {
                argument: "documents".to_owned(),
                expected: "a JSON array of objects",
                found: kind_name(&other),
            })
        }
    };
    // The driver rejects an empty insert; inserting nothing is a fine no-op here.
    if docs.is_empty() {
        return Ok(0);
    }
    let result = db
        .collection::<Document>(collection)
        .insert_many(docs)
        .await
        .map_err(mongo_err("insert_many", collection))?;
    Ok(result.inserted_ids.len() as u64)
}

/// Delete every document matching `filter`; returns the deleted count.
pub async fn delete_many(db: &Database, collection: &str, filter: &str) -> Result<u64, OpError> {
    let filter = parse_document("filter", filter)?;
    let result = db
        .collection::<Document>(collection)
        .delete_many(filter)
        .await
        .map_err(mongo_err("delete_many", collection))?;
    Ok(result.deleted_count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mongo::client::connect;
    use crate::mongo::server::tests::test_server;
    use std::time::Duration;

    async fn with_db<F, Fut>(name: &str, body: F)
    where
        F: FnOnce(Database) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        let server = test_server(dir.path()).await;
        let client = connect(server.uri(), Duration::from_secs(5)).await.unwrap();
        body(client.database(name)).await;
        server.stop().await;
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn ops_round_trip() {
        with_db("ops", |db| async move {
            let docs = r#"[
                {"_id": {"$oid": "650000000000000000000001"}, "title": "a", "n": 1},
                {"_id": {"$oid": "650000000000000000000002"}, "title": "b", "n": 2},
                {"_id": {"$oid": "650000000000000000000003"}, "title": "c", "n": 3,
                 "due": {"$date": "2024-01-02T03:04:05Z"}, "big": {"$numberLong": "9007199254740993"}}
            ]"#;
            assert_eq!(insert_many(&db, "todos", docs).await.unwrap(), 3);
            assert_eq!(insert_many(&db, "todos", "[]").await.unwrap(), 0);

            assert_eq!(count(&db, "todos", "{}").await.unwrap(), 3);
            assert_eq!(count(&db, "todos", r#"{"n": {"$gte": 2}}"#).await.unwrap(), 2);
            assert_eq!(
                count(&db, "todos", r#"{"_id": {"$oid": "650000000000000000000002"}}"#)
                    .await
                    .unwrap(),
                1
            );

            let found = parse(
                &find(&db, "todos", r#"{"n": {"$gt": 1}}"#, Some(r#"{"n": -1}"#), Some(1), 1 << 20)
                    .await
                    .unwrap(),
            );
            let expected = parse(
                r#"[{"_id": {"$oid": "650000000000000000000003"}, "title": "c", "n": 3,
                     "due": {"$date": "2024-01-02T03:04:05Z"}, "big": 9007199254740993}]"#,
            );
            assert_eq!(found, expected);

            let all_text = find(&db, "todos", "{}", Some(r#"{"n": 1}"#), None, 1 << 20)
                .await
                .unwrap();
            // The cap counts the whole answer: exactly its size passes, a byte less does not.
            let exact = find(&db, "todos", "{}", Some(r#"{"n": 1}"#), None, all_text.len());
            assert_eq!(exact.await.unwrap(), all_text);
            let over = find(&db, "todos", "{}", None, None, all_text.len() - 1).await;
            assert!(
                matches!(&over, Err(OpError::TooLarge { collection, .. }) if collection == "todos"),
                "{over:?}"
            );
            let all = parse(&all_text);
            let titles: Vec<&str> = all
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["title"].as_str().unwrap())
                .collect();
            assert_eq!(titles, ["a", "b", "c"]);

            let modified = update_many(
                &db,
                "todos",
                r#"{"n": {"$lte": 2}}"#,
                r#"{"$set": {"done": true}}"#,
            )
            .await
            .unwrap();
            assert_eq!(modified, 2);
            assert_eq!(count(&db, "todos", r#"{"done": true}"#).await.unwrap(), 2);
            // Setting the same value again modifies nothing.
            let again = update_many(&db, "todos", r#"{"n": 1}"#, r#"{"$set": {"done": true}}"#)
                .await
                .unwrap();
            assert_eq!(again, 0);

            assert_eq!(delete_many(&db, "todos", r#"{"done": true}"#).await.unwrap(), 2);
            assert_eq!(count(&db, "todos", "{}").await.unwrap(), 1);
            assert_eq!(find(&db, "missing", "{}", None, None, 1 << 20).await.unwrap(), "[]");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn malformed_arguments_are_named() {
        with_db("ops_bad", |db| async move {
            let err = find(&db, "todos", "{\"n\": ", None, None, 1 << 20)
                .await
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "filter is not valid JSON: EOF while parsing a value at line 1 column 6"
            );
            let err = count(&db, "todos", "[1]").await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "filter is not a JSON object: found an array"
            );
            let err = find(&db, "todos", "{}", Some("\"n\""), None, 1 << 20)
                .await
                .unwrap_err();
            assert_eq!(err.to_string(), "sort is not a JSON object: found a string");
            let err = delete_many(&db, "todos", r#"{"_id": {"$oid": "xyz"}}"#)
                .await
                .unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("filter has invalid Extended JSON:"),
                "{err}"
            );
            let err = update_many(&db, "todos", "{}", r#"{"done": true}"#)
                .await
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "update must use update operators such as $set; found field `done`"
            );
            let err = update_many(&db, "todos", "{}", "nope").await.unwrap_err();
            assert!(
                err.to_string().starts_with("update is not valid JSON:"),
                "{err}"
            );
            let err = insert_many(&db, "todos", r#"{"a": 1}"#).await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "documents is not a JSON array of objects: found an object"
            );
            let err = insert_many(&db, "todos", r#"[{"a": 1}, 2]"#)
                .await
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "documents[1] is not a JSON object: found a number"
            );
            // Nothing was inserted by the failed calls.
            assert_eq!(count(&db, "todos", "{}").await.unwrap(), 0);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn pipeline_updates_work() {
        with_db("ops_pipeline", |db| async move {
            insert_many(&db, "t", r#"[{"a": 1}, {"a": 2}]"#)
                .await
                .unwrap();
            let modified =
                update_many(&db, "t", "{}", r#"[{"$set": {"b": {"$add": ["$a", 10]}}}]"#)
                    .await
                    .unwrap();
            assert_eq!(modified, 2);
            assert_eq!(count(&db, "t", r#"{"b": 12}"#).await.unwrap(), 1);
        })
        .await;
    }
}
