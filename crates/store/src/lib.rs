//! The request log store: one record per request, kept in SQLite (the default, a file in the
//! data directory) or PostgreSQL (production, shared by replicas) through the same code.
//!
//! Why the shape: listing and filtering must stay fast over millions of rows, so the metadata
//! a filter or sort touches lives in `logs` with indexes, and the bulky payload (input messages,
//! output) lives apart in `log_payloads`, read only for one record or a content search. Writes
//! never sit on the request path: [`LogWriter`] queues records in memory (bounded) and writes
//! them in batches from a background thread at a lower CPU priority; when the database is slow or down, records wait up
//! to the bound and past it are dropped and counted — serving is never slowed.

#![warn(missing_docs)]

mod priority;
mod query;
mod record;
mod schema;
mod store;
mod writer;

pub use query::{COUNT_CAP, LogPage, LogQuery, LogStats, QueryError, SortBy};
pub use record::{LogRecord, TrailEntry};
pub use store::{LogStore, StoreError};
pub use writer::{LogWriter, WriterStats, spawn_retention};
