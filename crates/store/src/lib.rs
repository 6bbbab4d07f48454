//! The request log store: one record per request, kept in SQLite (the default, a file in the
//! data directory) or PostgreSQL (production, shared by replicas) through the same code.
//!
//! Why the shape: listing and filtering must stay fast over millions of rows, so the metadata
//! a filter or sort touches lives in `logs` with indexes, and the bulky payload (input messages,
//! output) lives apart in `log_payloads`, read only for one record or a content search. Writes
//! never sit on the request path: [`LogWriter`] queues records in memory (bounded) and writes
//! them in batches from a background thread at a lower CPU priority; when the database is slow or down, records wait up
//! to the bound and past it are dropped and counted — serving is never slowed.
//!
//! The same crate keeps the versioned configuration and admin credentials ([`ConfigStore`]),
//! through the same connection and migration code, usually in a database of its own.

#![warn(missing_docs)]

mod config_notify;
mod config_store;
mod priority;
mod query;
mod record;
mod responses;
mod schema;
mod store;
mod timeseries;
mod tool_calls;
mod writer;

pub use config_notify::listen_config_changes;
pub use config_store::{
    AppendError, CONFIG_CHANNEL, ConfigStore, ConfigVersion, ConfigVersionMeta, NewVersion,
    TokenRow,
};
pub use query::{COUNT_CAP, LogPage, LogQuery, LogStats, QueryError, SortBy};
pub use record::{LogRecord, TrailEntry};
pub use responses::StoredResponse;
pub use store::{LogStore, StoreError, connection_url};
pub use timeseries::{
    GroupBy, SeriesBucket, SeriesGroup, SeriesQuery, SeriesRow, TimeSeries, aggregate,
    default_bucket_seconds,
};
pub use tool_calls::{ToolCallQuery, ToolCallRecord};
pub use writer::{LogWriter, WriterStats, spawn_retention};
