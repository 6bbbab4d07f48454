//! The query API over the log store: filters from `GET /api/logs` parameters (validated, a bad
//! one is a typed error the server turns into a 400), one WHERE builder shared by listing and
//! statistics (and the time series of `timeseries`), pagination, sorting, and reading one
//! record with its payload.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::record::{LogRecord, TrailEntry};
use heimdall_config::LogsStoreKind;

use crate::store::{LOG_COLUMNS, LogStore, StoreError, placeholder};

/// `total` is counted exactly up to this many records; past it, `total` is this number and
/// `total_capped` is set (counting every match of a broad filter over millions of rows would
/// cost more than the page itself).
pub const COUNT_CAP: i64 = 10_000;

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 1_000;

/// Sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Arrival time.
    #[default]
    Timestamp,
    /// End-to-end latency.
    Latency,
    /// Total tokens.
    Tokens,
    /// Cost.
    Cost,
}

impl SortBy {
    fn column(self) -> &'static str {
        match self {
            Self::Timestamp => "timestamp_ms",
            Self::Latency => "latency_ms",
            Self::Tokens => "total_tokens",
            Self::Cost => "cost",
        }
    }
}

/// Which records, in which order, which page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogQuery {
    /// Provider names (any of).
    pub providers: Vec<String>,
    /// Models sent upstream or requested (any of).
    pub models: Vec<String>,
    /// `success`, `error`, or HTTP status codes (any of).
    pub status: Vec<String>,
    /// Streamed or not.
    pub stream: Option<bool>,
    /// Virtual key ids (any of).
    pub virtual_key_ids: Vec<String>,
    /// Team ids (any of).
    pub team_ids: Vec<String>,
    /// Customer ids (any of).
    pub customer_ids: Vec<String>,
    /// The clients' own `x-request-id` values (any of).
    pub client_request_ids: Vec<String>,
    /// What the response cache did (`hit-exact`, `hit-semantic`, `miss`; any of).
    pub cache: Vec<String>,
    /// Arrived at or after (Unix ms).
    pub start_time: Option<i64>,
    /// Arrived at or before (Unix ms).
    pub end_time: Option<i64>,
    /// Latency bounds (ms).
    pub min_latency: Option<f64>,
    /// Latency bounds (ms).
    pub max_latency: Option<f64>,
    /// Total-token bounds.
    pub min_tokens: Option<i64>,
    /// Total-token bounds.
    pub max_tokens: Option<i64>,
    /// Cost bounds (USD).
    pub min_cost: Option<f64>,
    /// Cost bounds (USD).
    pub max_cost: Option<f64>,
    /// Substring of the input or output.
    pub content_search: Option<String>,
    /// Page size (capped at [`MAX_LIMIT`]).
    pub limit: u32,
    /// Records skipped.
    pub offset: u64,
    /// Sort key.
    pub sort_by: SortBy,
    /// Descending (the default) or ascending.
    pub descending: bool,
}

/// A parameter that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid query parameter '{param}': {message}")]
pub struct QueryError {
    /// The parameter.
    pub param: String,
    /// What is wrong.
    pub message: String,
}

pub(crate) fn bad(param: &str, message: impl Into<String>) -> QueryError {
    QueryError {
        param: param.to_owned(),
        message: message.into(),
    }
}

/// A timestamp parameter: RFC 3339, or Unix milliseconds.
fn parse_time(param: &str, v: &str) -> Result<i64, QueryError> {
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    OffsetDateTime::parse(v, &Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| {
            bad(
                param,
                format!("'{v}' is neither RFC 3339 nor Unix milliseconds"),
            )
        })
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn number<T: std::str::FromStr>(param: &str, v: &str) -> Result<T, QueryError> {
    v.trim()
        .parse()
        .map_err(|_| bad(param, format!("'{v}' is not a number")))
}

/// A number that is finite: `NaN` and infinities parse as `f64` but filter nothing sensibly.
fn finite(param: &str, v: &str) -> Result<f64, QueryError> {
    let n: f64 = number(param, v)?;
    if n.is_finite() {
        Ok(n)
    } else {
        Err(bad(param, format!("'{v}' is not a finite number")))
    }
}

impl LogQuery {
    /// Read the query string of `GET /api/logs` (and `/api/logs/stats`).
    pub fn from_params(params: &BTreeMap<String, String>) -> Result<Self, QueryError> {
        let mut q = Self {
            limit: DEFAULT_LIMIT,
            descending: true,
            ..Self::default()
        };
        for (k, v) in params {
            match k.as_str() {
                "providers" | "provider" => q.providers = list(v),
                "models" | "model" => q.models = list(v),
                "status" => {
                    q.status = list(v);
                    for s in &q.status {
                        if s != "success" && s != "error" && s.parse::<u16>().is_err() {
                            return Err(bad(
                                "status",
                                format!("'{s}' is not success, error or an HTTP status"),
                            ));
                        }
                    }
                }
                "stream" => {
                    q.stream = Some(match v.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(bad("stream", "must be true or false")),
                    });
                }
                "virtual_key_ids" | "virtual_key_id" => q.virtual_key_ids = list(v),
                "team_ids" | "team_id" => q.team_ids = list(v),
                "customer_ids" | "customer_id" => q.customer_ids = list(v),
                "client_request_ids" | "client_request_id" => q.client_request_ids = list(v),
                "cache" => q.cache = list(v),
                "start_time" => q.start_time = Some(parse_time(k, v)?),
                "end_time" => q.end_time = Some(parse_time(k, v)?),
                "min_latency" => q.min_latency = Some(finite(k, v)?),
                "max_latency" => q.max_latency = Some(finite(k, v)?),
                "min_tokens" => q.min_tokens = Some(number(k, v)?),
                "max_tokens" => q.max_tokens = Some(number(k, v)?),
                "min_cost" => q.min_cost = Some(finite(k, v)?),
                "max_cost" => q.max_cost = Some(finite(k, v)?),
                "content_search" => {
                    q.content_search = Some(v.clone()).filter(|s| !s.trim().is_empty());
                }
                "limit" => {
                    let n: u32 = number(k, v)?;
                    if n == 0 {
                        return Err(bad("limit", "must be at least 1"));
                    }
                    q.limit = n.min(MAX_LIMIT);
                }
                // Past what any table holds (and past i64, which the databases take): the
                // last page is empty, not an error.
                "offset" => q.offset = number::<u64>(k, v)?.min(i64::MAX as u64),
                "sort_by" => {
                    q.sort_by = match v.as_str() {
                        "timestamp" => SortBy::Timestamp,
                        "latency" => SortBy::Latency,
                        "tokens" => SortBy::Tokens,
                        "cost" => SortBy::Cost,
                        _ => {
                            return Err(bad(
                                "sort_by",
                                "must be timestamp, latency, tokens or cost",
                            ));
                        }
                    };
                }
                "order" => {
                    q.descending = match v.as_str() {
                        "desc" => true,
                        "asc" => false,
                        _ => return Err(bad("order", "must be asc or desc")),
                    };
                }
                other => return Err(bad(other, "unknown parameter")),
            }
        }
        if let (Some(a), Some(b)) = (q.start_time, q.end_time)
            && a > b
        {
            return Err(bad("start_time", "is after end_time"));
        }
        Ok(q)
    }
}

/// A bound value.
enum Arg {
    I(i64),
    F(f64),
    S(String),
}

/// WHERE clause and its arguments, numbered `$1…` in order.
pub(crate) struct Filter {
    pub(crate) sql: String,
    args: Vec<Arg>,
    kind: LogsStoreKind,
}

impl Filter {
    pub(crate) fn build(q: &LogQuery, kind: LogsStoreKind) -> Self {
        let mut f = Self {
            sql: String::new(),
            args: Vec::new(),
            kind,
        };
        let any_of = |f: &mut Self, column: &str, values: &[String]| {
            if values.is_empty() {
                return;
            }
            let mut marks = Vec::new();
            for v in values {
                marks.push(f.arg(Arg::S(v.clone())));
            }
            f.and(&format!("{column} IN ({})", marks.join(", ")));
        };
        any_of(&mut f, "provider", &q.providers);
        if !q.models.is_empty() {
            let mut marks = Vec::new();
            for m in &q.models {
                marks.push(f.arg(Arg::S(m.clone())));
            }
            let mut marks2 = Vec::new();
            for m in &q.models {
                marks2.push(f.arg(Arg::S(m.clone())));
            }
            f.and(&format!(
                "(model IN ({}) OR model_requested IN ({}))",
                marks.join(", "),
                marks2.join(", ")
            ));
        }
        if !q.status.is_empty() {
            let mut parts = Vec::new();
            for s in &q.status {
                match s.as_str() {
                    "success" => parts.push("success = 1".to_owned()),
                    "error" => parts.push("success = 0".to_owned()),
                    code => {
                        let n = code.parse::<i64>().unwrap_or(0);
                        let m = f.arg(Arg::I(n));
                        parts.push(format!("status = {m}"));
                    }
                }
            }
            f.and(&format!("({})", parts.join(" OR ")));
        }
        if let Some(s) = q.stream {
            let m = f.arg(Arg::I(i64::from(s)));
            f.and(&format!("stream = {m}"));
        }
        any_of(&mut f, "virtual_key_id", &q.virtual_key_ids);
        any_of(&mut f, "team_id", &q.team_ids);
        any_of(&mut f, "customer_id", &q.customer_ids);
        any_of(&mut f, "client_request_id", &q.client_request_ids);
        any_of(&mut f, "cache", &q.cache);
        let cmp = |f: &mut Self, column: &str, op: &str, a: Option<Arg>| {
            if let Some(a) = a {
                let m = f.arg(a);
                f.and(&format!("{column} {op} {m}"));
            }
        };
        cmp(&mut f, "timestamp_ms", ">=", q.start_time.map(Arg::I));
        cmp(&mut f, "timestamp_ms", "<=", q.end_time.map(Arg::I));
        cmp(&mut f, "latency_ms", ">=", q.min_latency.map(Arg::F));
        cmp(&mut f, "latency_ms", "<=", q.max_latency.map(Arg::F));
        cmp(&mut f, "total_tokens", ">=", q.min_tokens.map(Arg::I));
        cmp(&mut f, "total_tokens", "<=", q.max_tokens.map(Arg::I));
        cmp(&mut f, "cost", ">=", q.min_cost.map(Arg::F));
        cmp(&mut f, "cost", "<=", q.max_cost.map(Arg::F));
        if let Some(text) = &q.content_search {
            let pattern = format!("%{}%", text.replace('%', "\\%").replace('_', "\\_"));
            let a = f.arg(Arg::S(pattern.clone()));
            let b = f.arg(Arg::S(pattern));
            f.and(&format!(
                "id IN (SELECT id FROM log_payloads WHERE input LIKE {a} ESCAPE '\\' \
                 OR output LIKE {b} ESCAPE '\\')"
            ));
        }
        f
    }

    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        placeholder(self.kind, self.args.len())
    }

    fn and(&mut self, clause: &str) {
        self.sql.push_str(if self.sql.is_empty() {
            " WHERE "
        } else {
            " AND "
        });
        self.sql.push_str(clause);
    }

    pub(crate) fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for a in &self.args {
            q = match a {
                Arg::I(v) => q.bind(*v),
                Arg::F(v) => q.bind(*v),
                Arg::S(v) => q.bind(v.as_str()),
            };
        }
        q
    }
}

/// One page of records (without payloads).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LogPage {
    /// The records.
    pub logs: Vec<LogRecord>,
    /// Records matching the filter (at most [`COUNT_CAP`]).
    pub total: i64,
    /// More than [`COUNT_CAP`] records match.
    pub total_capped: bool,
    /// The page size used.
    pub limit: u32,
    /// Records skipped.
    pub offset: u64,
    /// More records follow this page.
    pub has_more: bool,
}

/// Aggregates over the records matching a filter.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct LogStats {
    /// Records.
    pub total_requests: i64,
    /// Successful records / records (0 when there are none).
    pub success_rate: f64,
    /// Mean latency (ms).
    pub average_latency_ms: f64,
    /// Sum of total tokens.
    pub total_tokens: i64,
    /// Sum of cost (USD).
    pub total_cost: f64,
}

fn record_from_row(row: &AnyRow) -> Result<LogRecord, sqlx::Error> {
    let flag = |c: &str| row.try_get::<i64, _>(c).map(|v| v != 0);
    let trail: String = row.try_get("trail")?;
    Ok(LogRecord {
        id: row.try_get("id")?,
        timestamp_ms: row.try_get("timestamp_ms")?,
        route: row.try_get("route")?,
        operation: row.try_get("operation")?,
        provider: row.try_get("provider")?,
        model_requested: row.try_get("model_requested")?,
        model: row.try_get("model")?,
        key_name: row.try_get("key_name")?,
        virtual_key_id: row.try_get("virtual_key_id")?,
        team_id: row.try_get("team_id")?,
        customer_id: row.try_get("customer_id")?,
        status: row.try_get("status")?,
        success: flag("success")?,
        error_type: row.try_get("error_type")?,
        error: row.try_get("error")?,
        stream: flag("stream")?,
        ttft_ms: row.try_get("ttft_ms")?,
        latency_ms: row.try_get("latency_ms")?,
        overhead_ms: row.try_get("overhead_ms")?,
        prompt_tokens: row.try_get("prompt_tokens")?,
        completion_tokens: row.try_get("completion_tokens")?,
        cached_tokens: row.try_get("cached_tokens")?,
        reasoning_tokens: row.try_get("reasoning_tokens")?,
        total_tokens: row.try_get("total_tokens")?,
        cost: row.try_get("cost")?,
        unpriced: flag("unpriced")?,
        attempts: row.try_get("attempts")?,
        retries: row.try_get("retries")?,
        fallback_index: row.try_get("fallback_index")?,
        trail: serde_json::from_str::<Vec<TrailEntry>>(&trail).unwrap_or_default(),
        finish_reason: row.try_get("finish_reason")?,
        client_disconnected: flag("client_disconnected")?,
        client_request_id: row.try_get("client_request_id")?,
        cache: row.try_get("cache")?,
        cost_saved: row.try_get("cost_saved")?,
        input: None,
        output: None,
    })
}

impl LogStore {
    /// One page of records matching `q`, newest first unless asked otherwise.
    pub async fn query(&self, q: &LogQuery) -> Result<LogPage, StoreError> {
        let f = Filter::build(q, self.kind());
        let order = if q.descending { "DESC" } else { "ASC" };
        // Unpriced (NULL cost) records sort last either way.
        let nulls = if q.sort_by == SortBy::Cost {
            " NULLS LAST"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {} FROM logs{} ORDER BY {} {order}{nulls}, id {order} LIMIT {} OFFSET {}",
            LOG_COLUMNS.join(", "),
            f.sql,
            q.sort_by.column(),
            q.limit,
            q.offset
        );
        let rows = f
            .bind(sqlx::query(AssertSqlSafe(sql.clone())))
            .fetch_all(self.pool())
            .await?;
        let logs = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let count_sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM logs{} LIMIT {}) matched",
            f.sql,
            COUNT_CAP + 1
        );
        let counted: i64 = f
            .bind(sqlx::query(AssertSqlSafe(count_sql)))
            .fetch_one(self.pool())
            .await?
            .try_get(0)?;
        let total = counted.min(COUNT_CAP);
        let total_capped = counted > COUNT_CAP;
        let has_more =
            total_capped || q.offset.saturating_add(logs.len() as u64) < (total.max(0) as u64);
        Ok(LogPage {
            logs,
            total,
            total_capped,
            limit: q.limit,
            offset: q.offset,
            has_more,
        })
    }

    /// One record with its payload.
    pub async fn get(&self, id: &str) -> Result<Option<LogRecord>, StoreError> {
        let sql = format!("SELECT {} FROM logs WHERE id = $1", LOG_COLUMNS.join(", "));
        let Some(row) = sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let mut record = record_from_row(&row)?;
        if let Some(p) = sqlx::query("SELECT input, output FROM log_payloads WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
        {
            record.input = p.try_get("input")?;
            record.output = p.try_get("output")?;
        }
        Ok(Some(record))
    }

    /// Aggregates over the records matching `q` (pagination and sort ignored).
    pub async fn stats(&self, q: &LogQuery) -> Result<LogStats, StoreError> {
        let f = Filter::build(q, self.kind());
        let sql = format!(
            "SELECT COUNT(*) AS n, \
             CAST(COALESCE(SUM(success), 0) AS BIGINT) AS ok, \
             CAST(COALESCE(AVG(latency_ms), 0) AS DOUBLE PRECISION) AS latency, \
             CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT) AS tokens, \
             CAST(COALESCE(SUM(cost), 0) AS DOUBLE PRECISION) AS cost \
             FROM logs{}",
            f.sql
        );
        let row = f
            .bind(sqlx::query(AssertSqlSafe(sql.clone())))
            .fetch_one(self.pool())
            .await?;
        let n: i64 = row.try_get("n")?;
        let ok: i64 = row.try_get("ok")?;
        Ok(LogStats {
            total_requests: n,
            success_rate: if n == 0 { 0.0 } else { ok as f64 / n as f64 },
            average_latency_ms: row.try_get("latency")?,
            total_tokens: row.try_get("tokens")?,
            total_cost: row.try_get("cost")?,
        })
    }

    /// Records in the store.
    pub async fn count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM logs")
            .fetch_one(self.pool())
            .await?
            .try_get(0)?)
    }
}
