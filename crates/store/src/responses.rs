//! Stored Responses API answers: what `previous_response_id` continues and
//! `GET`/`DELETE /v1/responses/{id}` read, in the request-log database.
//!
//! Why the log database: it is the gateway's own database (SQLite by default, PostgreSQL
//! shared by replicas), so a conversation continues on any instance, and stored answers
//! expire with the logs' retention. Each row keeps the whole conversation up to and including
//! its answer (`context`), so continuing a chain of any length is one read; and its owner
//! (a hash of the caller's credential), so one tenant can never read or continue another's.

use sqlx::Row;

use crate::store::{LogStore, StoreError, storable};

/// One stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// `resp_…`.
    pub id: String,
    /// Who may read it: a hash of the caller's credential (`anonymous` without one).
    pub owner: String,
    /// When it was created (Unix ms).
    pub created_at_ms: i64,
    /// The request's own input items (JSON array), for `GET …/input_items`.
    pub input: String,
    /// Every item of the conversation up to and including the answer (JSON array).
    pub context: String,
    /// The response object (JSON).
    pub response: String,
}

impl LogStore {
    /// Store (or replace) a response.
    pub async fn put_response(&self, r: &StoredResponse) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM responses WHERE id = $1")
            .bind(storable(&r.id))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO responses (id, owner, created_at_ms, input, context, response) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(storable(&r.id))
        .bind(storable(&r.owner))
        .bind(r.created_at_ms)
        .bind(storable(&r.input))
        .bind(storable(&r.context))
        .bind(storable(&r.response))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The response `id` if `owner` stored it.
    pub async fn get_response(
        &self,
        id: &str,
        owner: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let row = sqlx::query(
            "SELECT id, owner, created_at_ms, input, context, response FROM responses \
             WHERE id = $1 AND owner = $2",
        )
        .bind(id)
        .bind(owner)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(StoredResponse {
            id: row.try_get("id")?,
            owner: row.try_get("owner")?,
            created_at_ms: row.try_get("created_at_ms")?,
            input: row.try_get("input")?,
            context: row.try_get("context")?,
            response: row.try_get("response")?,
        }))
    }

    /// Delete the response `id` if `owner` stored it; whether it existed.
    pub async fn delete_response(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM responses WHERE id = $1 AND owner = $2")
            .bind(id)
            .bind(owner)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
