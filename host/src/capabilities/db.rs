//! `promwasm:step/db`: MongoDB scoped to the configured database, with the
//! access the plan granted (steps: none or read; the post-load hook: write).

use super::StepCtx;
use crate::bindings::db::Host;
use crate::mongo::ops;
use crate::plan::DbAccess;

/// One step's database grant.
pub struct DbCtx {
    /// The database, when the run has one.
    pub db: Option<mongodb::Database>,
    /// What the step may do.
    pub access: DbAccess,
    /// The most JSON one `find` may return (the step's `max_response_bytes`).
    pub max_result_bytes: usize,
}

impl DbCtx {
    fn read(&self) -> Result<&mongodb::Database, String> {
        match (&self.db, self.access) {
            (_, DbAccess::None) => Err(
                "this step has no database access; add `db: read` to the step in config.yaml"
                    .into(),
            ),
            (None, _) => {
                Err("this run has no MongoDB (add a `mongodb` section to config.yaml)".into())
            }
            (Some(db), _) => Ok(db),
        }
    }

    fn write(&self) -> Result<&mongodb::Database, String> {
        let db = self.read()?;
        match self.access {
            DbAccess::ReadWrite => Ok(db),
            _ => Err(
                "steps may only read the database; writes belong in the `post_load` hook".into(),
            ),
        }
    }
}

impl Host for StepCtx {
    async fn find(
        &mut self,
        collection: String,
        filter: String,
        sort: Option<String>,
        limit: Option<u32>,
    ) -> Result<String, String> {
        let db = self.db.read()?;
        ops::find(
            db,
            &collection,
            &filter,
            sort.as_deref(),
            limit,
            self.db.max_result_bytes,
        )
        .await
        .map_err(|e| e.to_string())
    }

    async fn count(&mut self, collection: String, filter: String) -> Result<u64, String> {
        let db = self.db.read()?;
        ops::count(db, &collection, &filter)
            .await
            .map_err(|e| e.to_string())
    }

    async fn update_many(
        &mut self,
        collection: String,
        filter: String,
        update: String,
    ) -> Result<u64, String> {
        let db = self.db.write()?;
        ops::update_many(db, &collection, &filter, &update)
            .await
            .map_err(|e| e.to_string())
    }

    async fn insert_many(&mut self, collection: String, documents: String) -> Result<u64, String> {
        let db = self.db.write()?;
        ops::insert_many(db, &collection, &documents)
            .await
            .map_err(|e| e.to_string())
    }

    async fn delete_many(&mut self, collection: String, filter: String) -> Result<u64, String> {
        let db = self.db.write()?;
        ops::delete_many(db, &collection, &filter)
            .await
            .map_err(|e| e.to_string())
    }
}
