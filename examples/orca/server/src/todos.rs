//! What a round's work is, and what its correct result looks like.
//!
//! The example task is deliberately deterministic: every worker (and every
//! auditor) derives the same todo for a round and the same digest from it, so
//! an audit can recompute the expected answer instead of trusting the
//! submitter. With `MONGO_URI` set the todos come from MongoDB, which lets a
//! promwasm scenario seed them and exercise a real database; without it a
//! synthetic todo keeps the server usable with no services at all.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use mongodb::Client;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// Name of the collection holding the task's todos.
pub const COLLECTION: &str = "todos";
/// Database used when `MONGO_DB` is unset (the builder247 task's default).
pub const DEFAULT_DB: &str = "builder247";

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    pub title: String,
    /// Worker the todo is assigned to (by the seed data or the post-load hook); echoed in results.
    pub assigned_to: Option<String>,
}

/// Where todos come from.
#[derive(Debug)]
pub enum TodoSource {
    /// Round N's todo is `{"title": "todo N"}`.
    Synthetic,
    /// Round N's todo is the N-th todo of the task in MongoDB.
    Mongo {
        uri: String,
        db: String,
        /// Connected on first use, so a worker starts (and passes its
        /// readiness probe) even while the database is still coming up.
        client: OnceCell<Client>,
    },
}

impl TodoSource {
    /// MongoDB if `uri` is given, synthetic todos otherwise.
    pub fn new(uri: Option<String>, db: Option<String>) -> Self {
        match uri {
            Some(uri) => TodoSource::Mongo {
                uri,
                db: db.unwrap_or_else(|| DEFAULT_DB.to_string()),
                client: OnceCell::new(),
            },
            None => TodoSource::Synthetic,
        }
    }

    /// A short description for the startup log line.
    pub fn describe(&self) -> String {
        match self {
            TodoSource::Synthetic => "synthetic todos".to_string(),
            TodoSource::Mongo { db, .. } => format!("MongoDB {db}.{COLLECTION}"),
        }
    }

    /// The todo for `round` of task `task_id`.
    ///
    /// Todos are re-read on every call: a scenario may add or change todos
    /// between rounds and expects workers to see that.
    pub async fn todo_for_round(&self, task_id: &str, round: u64) -> Result<Todo> {
        match self {
            TodoSource::Synthetic => Ok(Todo {
                title: format!("todo {round}"),
                assigned_to: None,
            }),
            TodoSource::Mongo { uri, db, client } => {
                let client = client
                    .get_or_try_init(|| connect(uri))
                    .await
                    .context("cannot connect to MongoDB")?;
                let todos = fetch_todos(client, db, task_id).await?;
                if todos.is_empty() {
                    bail!("no todos with taskId {task_id:?} in {db}.{COLLECTION}");
                }
                Ok(todos[round_index(round, todos.len())].clone())
            }
        }
    }
}

/// Builds a client; the 5 s server-selection timeout makes an unreachable
/// database an error response rather than a request hanging for 30 s.
async fn connect(uri: &str) -> Result<Client> {
    let mut options = ClientOptions::parse(uri).await.context("bad MONGO_URI")?;
    options.server_selection_timeout = Some(Duration::from_secs(5));
    options.app_name.get_or_insert_with(|| "orca-server".into());
    Ok(Client::with_options(options)?)
}

/// The task's todos in round order: by `roundNumber` when the documents have
/// it, by `_id` (insertion order for ObjectIds) otherwise. MongoDB sorts
/// documents lacking `roundNumber` before those that have it.
async fn fetch_todos(client: &Client, db: &str, task_id: &str) -> Result<Vec<Todo>> {
    let collection = client.database(db).collection::<Document>(COLLECTION);
    let mut cursor = collection
        .find(doc! { "taskId": task_id })
        .sort(doc! { "roundNumber": 1, "_id": 1 })
        .await
        .with_context(|| format!("querying {db}.{COLLECTION}"))?;
    let mut todos = Vec::new();
    while cursor.advance().await.context("reading todos")? {
        let document = cursor.deserialize_current().context("reading a todo")?;
        todos.push(todo_from_document(&document)?);
    }
    Ok(todos)
}

fn todo_from_document(document: &Document) -> Result<Todo> {
    let title = document
        .get_str("title")
        .with_context(|| format!("todo {:?} has no string title", document.get("_id")))?;
    Ok(Todo {
        title: title.to_string(),
        assigned_to: document.get_str("assignedTo").ok().map(str::to_string),
    })
}

/// Index of round `round`'s todo among `len` todos: round 1 is the first,
/// wrapping around when there are fewer todos than rounds. Round 0 (Koii
/// rounds start there) is congruent to round `len`, so it gets the last todo.
pub fn round_index(round: u64, len: usize) -> usize {
    assert!(len > 0, "round_index needs at least one todo");
    let len = len as u64;
    ((round % len + len - 1) % len) as usize
}

/// Hex SHA-256 of `"<taskId>:<round>:<title>"`: the part of a result an
/// auditor can recompute independently.
pub fn digest(task_id: &str, round: u64, title: &str) -> String {
    let hash = Sha256::digest(format!("{task_id}:{round}:{title}").as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The result a worker submits for `round`.
pub fn result_for(task_id: &str, round: u64, todo: &Todo, worker: &str) -> Value {
    let mut result = json!({
        "roundNumber": round,
        "todo": todo.title,
        "digest": digest(task_id, round, &todo.title),
        "worker": worker,
    });
    if let Some(assigned) = &todo.assigned_to {
        result["assignedTo"] = json!(assigned);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_index_is_one_based_and_wraps() {
        assert_eq!(round_index(1, 3), 0);
        assert_eq!(round_index(2, 3), 1);
        assert_eq!(round_index(3, 3), 2);
        assert_eq!(round_index(4, 3), 0);
        assert_eq!(round_index(0, 3), 2);
        assert_eq!(round_index(7, 1), 0);
        assert_eq!(round_index(u64::MAX, 5), ((u64::MAX - 1) % 5) as usize);
    }

    #[test]
    fn digest_is_sha256_hex_of_the_triple() {
        // sha256("abc") is the classic FIPS 180-2 test vector.
        let abc = Sha256::digest(b"abc");
        assert_eq!(
            abc.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let expected: String = Sha256::digest(b"task-1:2:todo 2")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest("task-1", 2, "todo 2"), expected);
        assert_eq!(digest("task-1", 2, "todo 2").len(), 64);
        assert_ne!(digest("task-1", 2, "todo 2"), digest("task-1", 3, "todo 2"));
    }

    #[tokio::test]
    async fn synthetic_todos_and_results() {
        let source = TodoSource::new(None, None);
        let todo = source.todo_for_round("t", 5).await.unwrap();
        assert_eq!(todo.title, "todo 5");
        let result = result_for("t", 5, &todo, "w1");
        assert_eq!(result["roundNumber"], 5);
        assert_eq!(result["todo"], "todo 5");
        assert_eq!(result["digest"], digest("t", 5, "todo 5"));
        assert_eq!(result["worker"], "w1");
    }

    #[test]
    fn todo_documents() {
        let t =
            todo_from_document(&doc! {"title": "x", "assignedTo": "w2", "roundNumber": 1}).unwrap();
        assert_eq!(t.title, "x");
        assert_eq!(t.assigned_to.as_deref(), Some("w2"));
        assert!(todo_from_document(&doc! {"name": "x"}).is_err());
    }

    #[test]
    fn mongo_database_defaults_to_builder247() {
        match TodoSource::new(Some("mongodb://localhost".into()), None) {
            TodoSource::Mongo { db, .. } => assert_eq!(db, DEFAULT_DB),
            other => panic!("expected Mongo, got {other:?}"),
        }
    }
}
