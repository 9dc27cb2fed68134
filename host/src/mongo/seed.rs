//! prometheus-test's `clear_data` + `load_data` for MongoDB, faster: every
//! configured collection is emptied, each data file is imported with the
//! run's `taskId` added to every document, and each collection is checked to
//! hold at least its `required_count` documents for that task.
//!
//! Differences from prometheus-test, all in the direction of failing earlier
//! and clearer: data files are parsed and validated before anything starts
//! ([`check_data_file`], which `promwasm check` and `run` call while loading
//! the config) and again before anything is cleared, collections are
//! processed in parallel (where the server gains from it), inserts are
//! batched and unordered, an empty array imports nothing (pymongo would
//! raise), and `required_count` is checked after import rather than only
//! for missing files.
//!
//! Speed: the server is the bottleneck, and it sits idle while the files are
//! parsed, so parsing uses every core (files in parallel, each file's
//! documents in chunks) and hands the driver documents already encoded as
//! BSON, leaving the cores to the server while it inserts.
//!
//! (Longer than most modules: parsing, the data-file check and seeding share
//! one reader so the check and the import can never disagree.)

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use futures::stream::{self, StreamExt, TryStreamExt};
use mongodb::bson::{doc, Document, RawDocumentBuf};
use mongodb::{Collection, Database};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::json::{to_document, JsonSyntax};
use crate::json_kind::json_kind;

/// Documents per `insert_many` call: large enough to amortise round trips,
/// small enough that several batches can be in flight.
const BATCH: usize = 10_000;
/// `insert_many` calls in flight per collection. Two lets the next batch travel
/// while the server stores the current one; more gained nothing on SecantusDB,
/// which stores one batch per collection at a time.
const IN_FLIGHT: usize = 2;
/// Collections seeded at once where the server gains from it (see
/// [`super::server::ServerKind::collections_at_once`]).
pub const PARALLEL_COLLECTIONS: usize = 8;

/// One configured collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionSeed {
    /// Collection name.
    pub name: String,
    /// JSON file to import (an array of objects, or one object); `None` only clears.
    pub data_file: Option<PathBuf>,
    /// Documents with the run's `taskId` the collection must hold after seeding.
    pub required_count: u64,
}

/// What seeding did, per collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededCollection {
    /// Collection name.
    pub name: String,
    /// Documents imported from its data file.
    pub imported: u64,
    /// Documents with the run's `taskId` after seeding.
    pub count_with_task_id: u64,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A collection that needs documents has no data file on disk.
    #[error("required data file {path} for collection `{collection}` not found")]
    MissingDataFile {
        /// The collection.
        collection: String,
        /// The file that should exist.
        path: PathBuf,
    },
    /// A data file could not be read.
    #[error("cannot read data file {path} for collection `{collection}`: {source}")]
    Read {
        /// The collection.
        collection: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A data file is not valid JSON.
    #[error("data file {path}:{line}:{column} is not valid JSON: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// serde_json's complaint.
        message: String,
    },
    /// A data file's top level is neither an array nor an object.
    #[error(
        "data file {path} must hold a JSON array of objects or a single object, found {found}"
    )]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// What it holds.
        found: &'static str,
    },
    /// An element of a data file's array is not an object.
    #[error("data file {path}: element {index} is not a JSON object (found {found})")]
    NotAnObject {
        /// The file.
        path: PathBuf,
        /// 0-based index in the array.
        index: usize,
        /// What it is.
        found: &'static str,
    },
    /// A document holds malformed Extended JSON (e.g. a bad `$oid`).
    #[error("data file {path}: element {index} has invalid Extended JSON: {message}")]
    InvalidExtendedJson {
        /// The file.
        path: PathBuf,
        /// 0-based index in the array (0 for a single-object file).
        index: usize,
        /// bson's complaint.
        message: String,
    },
    /// The collection to count in does not exist.
    #[error("collection `{collection}` does not exist")]
    CollectionMissing {
        /// The collection.
        collection: String,
    },
    /// After seeding, a collection has too few documents for the task.
    #[error(
        "collection `{collection}`: found {found} documents with taskId {task_id:?}, needed {needed}"
    )]
    TooFew {
        /// The collection.
        collection: String,
        /// Documents found with the task id.
        found: u64,
        /// The task id.
        task_id: String,
        /// The configured `required_count`.
        needed: u64,
    },
    /// A data file holds fewer documents than the collection's `required_count`
    /// (found before seeding; see [`check_data_file`]).
    #[error(
        "data file {path} holds {found} document{}, but collection `{collection}` needs {needed} (required_count)",
        plural(.found)
    )]
    TooFewInFile {
        /// The collection.
        collection: String,
        /// The file.
        path: PathBuf,
        /// Documents in the file.
        found: u64,
        /// The configured `required_count`.
        needed: u64,
    },
    /// A collection needs documents but has no data file, and seeding empties it.
    #[error(
        "collection `{collection}` needs {needed} document{} (required_count) but has no data file; seeding empties it",
        plural(.needed)
    )]
    NoDataFile {
        /// The collection.
        collection: String,
        /// The configured `required_count`.
        needed: u64,
    },
    /// The server or driver refused an operation.
    #[error("{op} collection `{collection}` failed: {source}")]
    Mongo {
        /// What was being done.
        op: &'static str,
        /// The collection.
        collection: String,
        /// The driver's error.
        source: mongodb::error::Error,
    },
    /// A parsing task panicked or was cancelled (a bug, not bad input).
    #[error("parsing data file {path} did not finish: {reason}")]
    Internal {
        /// The file.
        path: PathBuf,
        /// What happened to the task.
        reason: String,
    },
}

/// "s" unless there is one.
fn plural(n: &u64) -> &'static str {
    if *n == 1 {
        ""
    } else {
        "s"
    }
}

fn mongo_err(
    op: &'static str,
    collection: &str,
) -> impl FnOnce(mongodb::error::Error) -> SeedError {
    let collection = collection.to_owned();
    move |source| SeedError::Mongo {
        op,
        collection,
        source,
    }
}

/// Empty every configured collection (delete_many {}), import each existing data file (a JSON array of objects, or a single object)
/// adding `taskId: task_id` to every document, then check each collection has >= required_count docs with that taskId.
///
/// Data files are read and validated before anything is deleted, so a bad file
/// leaves the database as it was. Up to `at_once` collections are written at
/// the same time.
pub async fn seed(
    db: &Database,
    task_id: &str,
    collections: &[CollectionSeed],
    at_once: usize,
) -> Result<Vec<SeededCollection>, SeedError> {
    // Parse all files in parallel on the blocking pool: JSON parsing is CPU work.
    let loads = collections.iter().map(|c| load_for(c, task_id));
    let docs: Vec<Option<Vec<RawDocumentBuf>>> =
        first_error(futures::future::join_all(loads).await)?;

    let clears = collections.iter().map(|c| async move {
        db.collection::<Document>(&c.name)
            .delete_many(doc! {})
            .await
            .map_err(mongo_err("clearing", &c.name))
    });
    first_error(at_most(at_once, clears).await)?;

    let imports = collections.iter().zip(docs).map(|(c, docs)| async move {
        let coll = db.collection::<RawDocumentBuf>(&c.name);
        let imported = match docs {
            Some(docs) => insert_batched(&coll, docs).await?,
            None => 0,
        };
        let count_with_task_id = coll
            .count_documents(doc! { "taskId": task_id })
            .await
            .map_err(mongo_err("counting documents in", &c.name))?;
        if count_with_task_id < c.required_count {
            return Err(SeedError::TooFew {
                collection: c.name.clone(),
                found: count_with_task_id,
                task_id: task_id.to_owned(),
                needed: c.required_count,
            });
        }
        Ok(SeededCollection {
            name: c.name.clone(),
            imported,
            count_with_task_id,
        })
    });
    first_error(at_most(at_once, imports).await)
}

/// Every future's output in order, running at most `n` at a time.
async fn at_most<F: std::future::Future>(
    n: usize,
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    stream::iter(futures).buffered(n.max(1)).collect().await
}

/// Documents with this taskId in `collection`; error if the collection does not exist (like prometheus-test).
pub async fn count_task_documents(
    db: &Database,
    collection: &str,
    task_id: &str,
) -> Result<u64, SeedError> {
    let names = db
        .list_collection_names()
        .await
        .map_err(mongo_err("listing collections to find", collection))?;
    if !names.iter().any(|n| n == collection) {
        return Err(SeedError::CollectionMissing {
            collection: collection.to_owned(),
        });
    }
    db.collection::<Document>(collection)
        .count_documents(doc! { "taskId": task_id })
        .await
        .map_err(mongo_err("counting documents in", collection))
}

/// All results in order, or the first error in configuration order (deterministic, unlike racing).
fn first_error<T>(results: Vec<Result<T, SeedError>>) -> Result<Vec<T>, SeedError> {
    results.into_iter().collect()
}

/// Check `c`'s data file before anything starts, reading it exactly as
/// seeding will (one [`read_data`] for both, so the two cannot disagree) but
/// without building documents: it exists when the collection needs documents,
/// parses as a JSON array of objects or a single object, and holds at least
/// `required_count` documents. Returns how many documents it holds (0 when
/// there is nothing to import).
///
/// Seeding checks `required_count` against the documents with the run's
/// `taskId` after importing. It empties the collection first and gives every
/// imported document that `taskId`, so that count is the number of documents
/// in the file (an import that fails, e.g. on a duplicate `_id`, fails
/// seeding anyway): counting the file here checks the same thing, early.
/// Extended JSON values (`{"$oid": ...}`) are only converted, and so only
/// checked, while seeding.
pub fn check_data_file(c: &CollectionSeed) -> Result<u64, SeedError> {
    let found = match (&c.data_file, read_data_file(c)?) {
        (Some(path), Some(data)) => read_data::<Counted>(path, &data)?.len() as u64,
        _ => 0,
    };
    if found < c.required_count {
        return Err(match &c.data_file {
            Some(path) => SeedError::TooFewInFile {
                collection: c.name.clone(),
                path: path.clone(),
                found,
                needed: c.required_count,
            },
            None => SeedError::NoDataFile {
                collection: c.name.clone(),
                needed: c.required_count,
            },
        });
    }
    Ok(found)
}

/// The documents to import for `c`, or `None` when there is nothing to import.
async fn load_for(
    c: &CollectionSeed,
    task_id: &str,
) -> Result<Option<Vec<RawDocumentBuf>>, SeedError> {
    let Some(path) = c.data_file.clone() else {
        return Ok(None);
    };
    let c = c.clone();
    let task_id = task_id.to_owned();
    // Reading and parsing are blocking work: keep them off the async threads.
    let task_path = path.clone();
    tokio::task::spawn_blocking(move || match read_data_file(&c)? {
        Some(data) => parse_documents(&task_path, &data, &task_id).map(Some),
        None => Ok(None),
    })
    .await
    .map_err(|e| SeedError::Internal {
        path,
        reason: e.to_string(),
    })?
}

/// The bytes of `c`'s data file, or `None` when there is nothing to import:
/// no `data_file`, or a missing file the collection does not require (as
/// prometheus-test, which only complains when `required_count` is above 0).
fn read_data_file(c: &CollectionSeed) -> Result<Option<Vec<u8>>, SeedError> {
    let Some(path) = &c.data_file else {
        return Ok(None);
    };
    match std::fs::read(path) {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if c.required_count > 0 {
                Err(SeedError::MissingDataFile {
                    collection: c.name.clone(),
                    path: path.clone(),
                })
            } else {
                Ok(None)
            }
        }
        Err(source) => Err(SeedError::Read {
            collection: c.name.clone(),
            path: path.clone(),
            source,
        }),
    }
}

/// Parse a data file's bytes into BSON documents, each with `taskId` set
/// (overwriting any existing one, as prometheus-test does).
fn parse_documents(
    path: &Path,
    data: &[u8],
    task_id: &str,
) -> Result<Vec<RawDocumentBuf>, SeedError> {
    let mut items = read_data::<Map<String, Value>>(path, data)?;
    // Converting is most of the work: split it over the cores, each chunk
    // numbering its elements from its offset so errors name the right one.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1_000);
    let mut chunks = Vec::new();
    while items.len() > chunk {
        let rest = items.split_off(chunk);
        chunks.push(std::mem::replace(&mut items, rest));
    }
    chunks.push(items);
    let converted: Vec<Result<Vec<RawDocumentBuf>, SeedError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = chunks
            .into_iter()
            .enumerate()
            .map(|(i, items)| scope.spawn(move || convert(path, i * chunk, items, task_id)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(SeedError::Internal {
                        path: path.to_path_buf(),
                        reason: "a conversion thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut docs = Vec::new();
    for part in converted {
        docs.extend(part?);
    }
    Ok(docs)
}

/// Visitor methods for the JSON values that are neither arrays nor objects,
/// each handing a value of that kind to the visitor's own `refuse`, so the
/// message names it as [`json_kind`] does everywhere else.
macro_rules! refuse_non_objects {
    () => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            self.refuse(&Value::Bool(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.refuse(&Value::from(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.refuse(&Value::from(v))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            self.refuse(&Value::from(0.5))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            self.refuse(&Value::String(String::new()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.refuse(&Value::Null)
        }
    };
}

/// The one reading of a data file, for seeding and for [`check_data_file`]:
/// prometheus-test `json.load`s it and inserts a list of documents or a
/// single document, so the top level is an array of JSON objects or one
/// object, and anything else is refused. Each object becomes a `T`: its
/// entries for seeding, nothing at all ([`Counted`]) for counting.
fn read_data<T: DeserializeOwned>(path: &Path, data: &[u8]) -> Result<Vec<T>, SeedError> {
    let mut shape = None;
    let mut de = serde_json::Deserializer::from_slice(data);
    let read = Documents {
        shape: &mut shape,
        element: PhantomData,
    }
    .deserialize(&mut de)
    .and_then(|docs| de.end().map(|()| docs));
    read.map_err(|e| match shape {
        Some(Shape::TopLevel(found)) => SeedError::WrongShape {
            path: path.to_path_buf(),
            found,
        },
        Some(Shape::Element { index, found }) => SeedError::NotAnObject {
            path: path.to_path_buf(),
            index,
            found,
        },
        None => {
            let syntax = JsonSyntax::new(&e);
            SeedError::Malformed {
                path: path.to_path_buf(),
                line: syntax.line,
                column: syntax.column,
                message: syntax.message,
            }
        }
    })
}

/// A document that is only counted: its object is skipped, nothing is kept,
/// and a `Vec` of them never allocates.
struct Counted;

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Counted)
    }
}

/// Why [`read_data`] refused a file that is valid JSON.
enum Shape {
    /// The top level is neither an array nor an object.
    TopLevel(&'static str),
    /// An element of the array is not an object.
    Element { index: usize, found: &'static str },
}

/// The top level of a data file: an array of documents, or one document.
struct Documents<'s, T> {
    shape: &'s mut Option<Shape>,
    element: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Documents<'_, T> {
    type Value = Vec<T>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: DeserializeOwned> de::Visitor<'de> for Documents<'_, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of objects or a single object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut docs = Vec::new();
        loop {
            let element = Element {
                shape: &mut *self.shape,
                index: docs.len(),
                element: PhantomData,
            };
            match seq.next_element_seed(element)? {
                Some(doc) => docs.push(doc),
                None => return Ok(docs),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|doc| vec![doc])
    }

    refuse_non_objects!();
}

impl<T> Documents<'_, T> {
    fn refuse<E: de::Error>(self, found: &Value) -> Result<Vec<T>, E> {
        let found = json_kind(found);
        *self.shape = Some(Shape::TopLevel(found));
        Err(E::custom(format_args!("the data file holds {found}")))
    }
}

/// One element of a data file's array, which must be an object.
struct Element<'s, T> {
    shape: &'s mut Option<Shape>,
    index: usize,
    element: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Element<'_, T> {
    type Value = T;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: DeserializeOwned> de::Visitor<'de> for Element<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<T, A::Error> {
        self.refuse(&Value::Array(Vec::new()))
    }

    refuse_non_objects!();
}

impl<T> Element<'_, T> {
    fn refuse<E: de::Error>(self, found: &Value) -> Result<T, E> {
        let found = json_kind(found);
        *self.shape = Some(Shape::Element {
            index: self.index,
            found,
        });
        Err(E::custom(format_args!("element {} is {found}", self.index)))
    }
}

/// JSON objects → BSON documents with `taskId`; `first` is the index of `items[0]` in the file.
fn convert(
    path: &Path,
    first: usize,
    items: Vec<Map<String, Value>>,
    task_id: &str,
) -> Result<Vec<RawDocumentBuf>, SeedError> {
    let mut docs = Vec::with_capacity(items.len());
    for (index, map) in (first..).zip(items) {
        let invalid = |message: String| SeedError::InvalidExtendedJson {
            path: path.to_path_buf(),
            index,
            message,
        };
        let mut doc = to_document(map).map_err(|e| invalid(e.to_string()))?;
        doc.insert("taskId", task_id);
        docs.push(RawDocumentBuf::from_document(&doc).map_err(|e| invalid(e.to_string()))?);
    }
    Ok(docs)
}

/// Insert `docs` in unordered batches, several in flight; returns how many were inserted.
async fn insert_batched(
    coll: &Collection<RawDocumentBuf>,
    mut docs: Vec<RawDocumentBuf>,
) -> Result<u64, SeedError> {
    let mut batches = Vec::with_capacity(docs.len().div_ceil(BATCH));
    while !docs.is_empty() {
        let rest = docs.split_off(docs.len().min(BATCH));
        batches.push(std::mem::replace(&mut docs, rest));
    }
    let name = coll.name();
    stream::iter(batches)
        .map(|batch| async move {
            coll.insert_many(batch)
                .ordered(false)
                .await
                .map(|r| r.inserted_ids.len() as u64)
                .map_err(mongo_err("importing into", name))
        })
        .buffer_unordered(IN_FLIGHT)
        .try_fold(0, |total, n| async move { Ok(total + n) })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mongo::client::connect;
    use crate::mongo::server::tests::test_server;
    use std::time::Duration;

    const TASK: &str = "test-task-123";

    fn seed_of(name: &str, file: Option<PathBuf>, required: u64) -> CollectionSeed {
        CollectionSeed {
            name: name.to_owned(),
            data_file: file,
            required_count: required,
        }
    }

    #[test]
    fn parses_arrays_and_single_objects() {
        let p = Path::new("x.json");
        let parse = |json: &[u8]| -> Vec<Document> {
            parse_documents(p, json, TASK)
                .unwrap()
                .iter()
                .map(|raw| raw.to_document().unwrap())
                .collect()
        };
        let docs = parse(br#"[{"a": 1, "taskId": "old"}, {"b": [1, 2]}]"#);
        assert_eq!(
            docs,
            [
                doc! { "a": 1, "taskId": TASK },
                doc! { "b": [1, 2], "taskId": TASK }
            ]
        );
        let one = parse(br#"{"title": "only"}"#);
        assert_eq!(one, vec![doc! { "title": "only", "taskId": TASK }]);
        let oid = parse(br#"{"_id": {"$oid": "650000000000000000000001"}}"#);
        assert!(matches!(
            oid[0].get("_id"),
            Some(mongodb::bson::Bson::ObjectId(_))
        ));
    }

    #[test]
    fn malformed_files_name_file_and_position() {
        let p = Path::new("/data/todos.json");
        let err = parse_documents(p, b"[\n  {\"a\": 1},\n  {\"b\": }\n]", TASK).unwrap_err();
        assert_eq!(
            err.to_string(),
            "data file /data/todos.json:3:9 is not valid JSON: expected value"
        );
        let err = parse_documents(p, b"[{\"a\": 1}, 7, {}]", TASK).unwrap_err();
        assert_eq!(
            err.to_string(),
            "data file /data/todos.json: element 1 is not a JSON object (found a number)"
        );
        let err = parse_documents(p, b"\"hi\"", TASK).unwrap_err();
        assert!(
            matches!(
                err,
                SeedError::WrongShape {
                    found: "a string",
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_documents(p, br#"[{}, {"_id": {"$oid": "nope"}}]"#, TASK).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("data file /data/todos.json: element 1 has invalid Extended JSON"),
            "{err}"
        );
        // Elements are converted in chunks; an error deep in a later chunk
        // still names its own index, and the earliest error wins.
        let mut many: Vec<Value> = (0..5_000).map(|i| serde_json::json!({ "n": i })).collect();
        many[4_321] = serde_json::json!("not an object");
        many[4_999] = serde_json::json!(7);
        let err = parse_documents(p, &serde_json::to_vec(&many).unwrap(), TASK).unwrap_err();
        assert_eq!(
            err.to_string(),
            "data file /data/todos.json: element 4321 is not a JSON object (found a string)"
        );
        let docs = parse_documents(p, &serde_json::to_vec(&many[..4_000]).unwrap(), TASK).unwrap();
        let numbers: Vec<i32> = docs.iter().map(|d| d.get_i32("n").unwrap()).collect();
        assert_eq!(numbers, (0..4_000).collect::<Vec<_>>(), "order is kept");
    }

    /// `check_data_file` for a collection whose file holds `text` (`None`: no file written).
    fn check(text: Option<&str>, required: u64) -> Result<u64, SeedError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("todos.json");
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        check_data_file(&seed_of("todos", Some(path), required))
    }

    #[test]
    fn checking_counts_documents_as_seeding_reads_them() {
        assert_eq!(
            check(Some(r#"[{"a": 1}, {"b": {"c": [1, {}]}}]"#), 2).unwrap(),
            2
        );
        assert_eq!(
            check(Some(r#"{"title": "one document"}"#), 1).unwrap(),
            1,
            "a single object is one document"
        );
        assert_eq!(check(Some("[]"), 0).unwrap(), 0);
        assert_eq!(check(Some(" [ ] \n"), 0).unwrap(), 0);
        assert_eq!(
            check(None, 0).unwrap(),
            0,
            "a missing file is skipped when nothing is required (as prometheus-test)"
        );
        assert_eq!(check_data_file(&seed_of("audits", None, 0)).unwrap(), 0);
    }

    #[test]
    fn checking_refuses_what_seeding_refuses() {
        let err = check(None, 1).unwrap_err();
        assert!(matches!(err, SeedError::MissingDataFile { .. }), "{err}");
        assert!(
            err.to_string()
                .ends_with("for collection `todos` not found"),
            "{err}"
        );

        let err = check(Some("[\n  {\"a\": 1},\n  {\"b\": }\n]"), 0).unwrap_err();
        assert!(
            matches!(
                err,
                SeedError::Malformed {
                    line: 3,
                    column: 9,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("todos.json:3:9 is not valid JSON: expected value"),
            "{err}"
        );

        let err = check(Some("[{}, {}] trailing"), 0).unwrap_err();
        assert!(
            matches!(
                err,
                SeedError::Malformed {
                    line: 1,
                    column: 10,
                    ..
                }
            ),
            "{err}"
        );

        let err = check(Some(r#"[{"a": 1}, 7, {}]"#), 0).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("todos.json: element 1 is not a JSON object (found a number)"),
            "{err}"
        );
        for (text, found) in [
            ("\"hi\"", "a string"),
            ("12", "a number"),
            ("null", "null"),
            ("true", "a boolean"),
        ] {
            let err = check(Some(text), 0).unwrap_err();
            assert!(
                matches!(err, SeedError::WrongShape { found: f, .. } if f == found),
                "{text}: {err}"
            );
        }
        for (text, found) in [
            ("[[]]", "an array"),
            ("[{}, null]", "null"),
            ("[\"x\"]", "a string"),
        ] {
            let err = check(Some(text), 0).unwrap_err();
            assert!(
                matches!(err, SeedError::NotAnObject { found: f, .. } if f == found),
                "{text}: {err}"
            );
        }

        let dir = tempfile::tempdir().unwrap();
        let err =
            check_data_file(&seed_of("todos", Some(dir.path().to_path_buf()), 0)).unwrap_err();
        assert!(
            matches!(err, SeedError::Read { .. }),
            "a folder is not a data file: {err}"
        );
    }

    #[test]
    fn checking_counts_against_required_count() {
        let err = check(Some(r#"[{"a": 1}, {"a": 2}]"#), 3).unwrap_err();
        assert!(
            matches!(
                err,
                SeedError::TooFewInFile {
                    found: 2,
                    needed: 3,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .ends_with("holds 2 documents, but collection `todos` needs 3 (required_count)"),
            "{err}"
        );
        let err = check(Some(r#"{"a": 1}"#), 2).unwrap_err();
        assert!(err.to_string().contains("holds 1 document, but"), "{err}");
        let err = check(Some("[]"), 1).unwrap_err();
        assert!(
            matches!(err, SeedError::TooFewInFile { found: 0, .. }),
            "{err}"
        );

        // Seeding empties the collection, so without a file nothing is there to count.
        let err = check_data_file(&seed_of("audits", None, 2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "collection `audits` needs 2 documents (required_count) but has no data file; seeding empties it"
        );
    }

    #[test]
    fn checking_and_seeding_read_the_same_files() {
        // Whatever the check accepts, seeding parses to as many documents; whatever it
        // refuses, seeding refuses with the same error.
        let p = Path::new("/data/todos.json");
        for text in [
            "[]",
            "{}",
            r#"[{"a": 1}, {"b": [1, 2]}]"#,
            r#"{"a": {"b": {"c": 1}}}"#,
            "[1]",
            "[{}, []]",
            "\"x\"",
            "[{\"a\": 1,}]",
            "[{}] x",
            "",
        ] {
            let counted = read_data::<Counted>(p, text.as_bytes()).map(|d| d.len());
            let parsed = parse_documents(p, text.as_bytes(), TASK).map(|d| d.len());
            match (counted, parsed) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
                (a, b) => panic!("{text}: check {a:?}, seeding {b:?}"),
            }
        }
    }

    #[test]
    fn checking_a_big_file_is_quick() {
        let docs: Vec<Value> = (0..100_000)
            .map(|i| serde_json::json!({"title": format!("todo {i}"), "n": i, "tags": ["a", "b"], "meta": {"round": i % 7}}))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        std::fs::write(&path, serde_json::to_vec(&docs).unwrap()).unwrap();
        let start = std::time::Instant::now();
        let n = check_data_file(&seed_of("todos", Some(path), 100_000)).unwrap();
        let took = start.elapsed();
        assert_eq!(n, 100_000);
        // Typically a few tens of milliseconds, even unoptimised.
        assert!(took < Duration::from_secs(1), "{took:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn seeds_like_prometheus_test() {
        let dir = tempfile::tempdir().unwrap();
        let server = test_server(dir.path()).await;
        let client = connect(server.uri(), Duration::from_secs(5)).await.unwrap();
        let db = client.database("builder247");

        let todos = dir.path().join("todos.json");
        let docs: Vec<Value> = (0..12_000)
            .map(|i| serde_json::json!({"title": format!("todo {i}"), "n": i}))
            .collect();
        std::fs::write(&todos, serde_json::to_vec(&docs).unwrap()).unwrap();
        let issue = dir.path().join("issue.json");
        std::fs::write(
            &issue,
            r#"{"title": "one issue", "taskId": "someone-else"}"#,
        )
        .unwrap();
        // Pre-existing data, some of it for this task, must be cleared.
        let leftover = db.collection::<Document>("todos");
        leftover
            .insert_many([
                doc! { "taskId": TASK, "old": true },
                doc! { "taskId": "other" },
            ])
            .await
            .unwrap();

        let config = [
            seed_of("todos", Some(todos.clone()), 12_000),
            seed_of("issues", Some(issue), 1),
            seed_of("prs", Some(dir.path().join("prs.json")), 0), // missing, not required
            seed_of("audits", None, 0),
        ];
        let seeded = seed(&db, TASK, &config, server.kind().collections_at_once())
            .await
            .unwrap();
        let summary: Vec<(&str, u64, u64)> = seeded
            .iter()
            .map(|s| (s.name.as_str(), s.imported, s.count_with_task_id))
            .collect();
        assert_eq!(
            summary,
            [
                ("todos", 12_000, 12_000),
                ("issues", 1, 1),
                ("prs", 0, 0),
                ("audits", 0, 0)
            ]
        );
        assert_eq!(leftover.count_documents(doc! {}).await.unwrap(), 12_000);
        assert_eq!(
            leftover
                .count_documents(doc! { "old": true })
                .await
                .unwrap(),
            0
        );
        let one = db
            .collection::<Document>("issues")
            .find_one(doc! {})
            .await
            .unwrap()
            .unwrap();
        assert_eq!(one.get_str("taskId").unwrap(), TASK);

        assert_eq!(
            count_task_documents(&db, "todos", TASK).await.unwrap(),
            12_000
        );
        assert_eq!(
            count_task_documents(&db, "todos", "other").await.unwrap(),
            0
        );
        let err = count_task_documents(&db, "nonexistent", TASK)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "collection `nonexistent` does not exist");

        // Re-seeding empties first instead of doubling.
        let again = seed(&db, TASK, &config[..1], 1).await.unwrap();
        assert_eq!(again[0].count_with_task_id, 12_000);
        assert_eq!(leftover.count_documents(doc! {}).await.unwrap(), 12_000);

        // Too few documents for the task.
        let err = seed(
            &db,
            "t2",
            &[seed_of("todos", Some(todos.clone()), 30_000)],
            1,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "collection `todos`: found 12000 documents with taskId \"t2\", needed 30000"
        );

        // A missing required file fails before anything is cleared.
        let missing = dir.path().join("nope.json");
        let err = seed(
            &db,
            TASK,
            &[
                seed_of("todos", None, 0),
                seed_of("users", Some(missing.clone()), 2),
            ],
            1,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "required data file {} for collection `users` not found",
                missing.display()
            )
        );
        assert_eq!(leftover.count_documents(doc! {}).await.unwrap(), 12_000);

        // So does a malformed one, naming file and line:column.
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "[{\"a\": 1},\n {\"a\": 2,}]").unwrap();
        let err = seed(&db, TASK, &[seed_of("todos", Some(bad.clone()), 0)], 1)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "data file {}:2:10 is not valid JSON: trailing comma",
                bad.display()
            )
        );
        let nonobj = dir.path().join("nonobj.json");
        std::fs::write(&nonobj, r#"[{"a": 1}, [2]]"#).unwrap();
        let err = seed(&db, TASK, &[seed_of("todos", Some(nonobj.clone()), 0)], 1)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "data file {}: element 1 is not a JSON object (found an array)",
                nonobj.display()
            )
        );
        assert_eq!(leftover.count_documents(doc! {}).await.unwrap(), 12_000);

        server.stop().await;
    }
}
