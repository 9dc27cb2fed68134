//! The run's MongoDB: the user's (`MONGO_URI`) or a server promwasm starts
//! for the run; seeding it on a fresh run; counting rounds from it.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;

use crate::events::{Event, Events};
use crate::mongo::{self, server::ManagedServer};
use crate::plan::Plan;

use super::{RunError, RunOptions};

/// A connected database, and the server behind it when promwasm manages one.
pub struct RunDatabase {
    /// The configured database.
    pub database: mongodb::Database,
    /// Its connection string, handed to the workers as `MONGO_URI`.
    pub uri: String,
    /// Collections to seed at once on this server.
    collections_at_once: usize,
    /// Locked only to ask whether it still runs.
    managed: Option<Mutex<ManagedServer>>,
}

impl RunDatabase {
    /// Connect to the plan's database, starting a managed server when no
    /// `MONGO_URI` is given. `fresh`: the managed server's kept data is emptied.
    pub async fn open(
        plan: &Plan,
        fresh: bool,
        opts: &RunOptions,
        log_dir: &Path,
        events: &Events,
    ) -> Result<Option<Self>, RunError> {
        let Some(m) = &plan.mongo else {
            return Ok(None);
        };
        let mut managed = None;
        let uri = match &m.uri {
            Some(uri) => uri.clone(),
            None => {
                // Kept with the state, so a resumed run finds what the last one left.
                let storage = plan.data_dir.join("mongodb");
                if fresh && storage.exists() {
                    std::fs::remove_dir_all(&storage).with_context(|| {
                        format!(
                            "cannot empty the managed MongoDB folder {}",
                            storage.display()
                        )
                    })?;
                }
                let server = ManagedServer::start(
                    &opts.server_dirs,
                    &log_dir.join("mongodb.log"),
                    &mongo::Storage::Keep(storage),
                )
                .await
                .context("cannot start a local MongoDB-compatible server")?;
                events.emit(Event::MongoStarted {
                    kind: server.kind().to_string(),
                    uri: server.uri().to_string(),
                });
                let uri = server.uri().to_string();
                managed = Some(server);
                uri
            }
        };
        let client = match mongo::client::connect(&uri, Duration::from_secs(5)).await {
            Ok(client) => client,
            Err(e) => {
                if let Some(s) = managed {
                    s.stop().await;
                }
                return Err(RunError::Machine(e.into()));
            }
        };
        Ok(Some(RunDatabase {
            database: client.database(&m.database),
            uri,
            // The user's own server (MONGO_URI) is taken to be a real mongod.
            collections_at_once: managed
                .as_ref()
                .map_or(mongo::seed::PARALLEL_COLLECTIONS, |s| {
                    s.kind().collections_at_once()
                }),
            managed: managed.map(Mutex::new),
        }))
    }

    /// Whether promwasm started the server (and so watches it).
    pub fn is_managed(&self) -> bool {
        self.managed.is_some()
    }

    /// Why the server promwasm started is gone, if it is.
    pub fn died(&self) -> Option<String> {
        let managed = self.managed.as_ref()?;
        managed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .exited_mid_run()
    }

    /// prometheus-test's fresh start: empty the collections, import the data files.
    pub async fn seed(&self, plan: &Plan, events: &Events) -> anyhow::Result<()> {
        let Some(m) = &plan.mongo else { return Ok(()) };
        let seeded = mongo::seed::seed(
            &self.database,
            &plan.task_id,
            &m.collections,
            self.collections_at_once,
        )
        .await
        .context("seeding MongoDB failed")?;
        for s in seeded {
            events.emit(Event::Seeded {
                collection: s.name,
                imported: s.imported,
                with_task_id: s.count_with_task_id,
                task_id: plan.task_id.clone(),
            });
        }
        Ok(())
    }

    /// The documents with this task's id in `collection`: the number of rounds.
    pub async fn count_rounds(
        &self,
        plan: &Plan,
        collection: &str,
        events: &Events,
    ) -> anyhow::Result<u32> {
        // The seed data's docs say the rounds equal the number of documents;
        // prometheus-test's code adds one, which runs a round with no todo. We follow the docs.
        let n = mongo::seed::count_task_documents(&self.database, collection, &plan.task_id)
            .await
            .context("cannot count rounds")?;
        let rounds = u32::try_from(n).context("too many rounds")?;
        events.emit(Event::RoundsCounted {
            rounds,
            collection: collection.to_string(),
            task_id: plan.task_id.clone(),
        });
        Ok(rounds)
    }

    /// Stop the managed server, if any.
    pub async fn stop(self) {
        if let Some(s) = self.managed {
            s.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .stop()
                .await;
        }
    }
}
