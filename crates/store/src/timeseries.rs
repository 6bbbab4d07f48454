//! Time series over the request log for the dashboard (`GET /api/logs/timeseries`): requests,
//! errors, latency percentiles, tokens and cost per time bucket, optionally split by provider,
//! model or virtual key.
//!
//! Why one SELECT aggregated in Rust instead of `GROUP BY` in SQL: percentiles. SQLite has no
//! percentile function and PostgreSQL's differs in form; reading the few columns a chart needs
//! through the same WHERE builder as `/api/logs` and bucketing here gives one behaviour on both
//! databases, and a pure function ([`aggregate`]) the tests pin down. The read is bounded: at
//! most [`MAX_ROWS`] records, newest first (the answer says `sampled` when older ones were left
//! out), into at most [`MAX_BUCKETS`] buckets, so one request cannot take the process's memory.
//! Rows are aggregated as they stream in; a group keeps only what its series and percentiles
//! need, so memory grows with the rows read, never with groups × buckets.

use std::collections::{BTreeMap, HashMap};

use futures::TryStreamExt;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::query::{Filter, LogQuery, QueryError, bad};
use crate::store::{LogStore, StoreError};

/// Records read at most, newest first; past it the answer is `sampled`.
pub const MAX_ROWS: usize = 200_000;
/// Buckets in one answer at most (a smaller `bucket_seconds` over the range is a 400).
pub const MAX_BUCKETS: i64 = 10_000;
/// The default bucket splits the range into at most this many parts.
pub const TARGET_BUCKETS: i64 = 60;
/// The range when `start_time` is not given: this long before the end (one hour).
pub const DEFAULT_RANGE_MS: i64 = 3_600_000;
/// The largest bucket (one day).
pub const MAX_BUCKET_SECONDS: i64 = 86_400;
/// Groups shown by name; the rest are merged into [`OTHER`].
pub const TOP_GROUPS: usize = 8;
/// The group of the records outside the top groups.
pub const OTHER: &str = "(other)";
/// The group of records with no provider, model or virtual key.
pub const NONE: &str = "(none)";

/// Bucket sizes a default is rounded up to, in seconds.
const NICE_STEPS: [i64; 16] = [
    1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
];

/// What the series are split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The provider that served (or last tried).
    Provider,
    /// The model sent upstream, else the model requested.
    Model,
    /// The virtual key.
    VirtualKey,
}

impl GroupBy {
    fn column(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Model => "COALESCE(model, model_requested)",
            Self::VirtualKey => "virtual_key_id",
        }
    }
}

/// A time-series request: the records (a log filter), the range, the bucket, the split.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesQuery {
    /// Which records; its `start_time` and `end_time` are always set (the range).
    pub filter: LogQuery,
    /// Range start, Unix ms.
    pub start_ms: i64,
    /// Range end (inclusive), Unix ms.
    pub end_ms: i64,
    /// Bucket size, seconds.
    pub bucket_seconds: i64,
    /// The split, if any.
    pub group_by: Option<GroupBy>,
}

/// Buckets of `step_ms` aligned to its multiples that cover `start..=end`.
fn bucket_count(start: i64, end: i64, step_ms: i64) -> i64 {
    end.div_euclid(step_ms)
        .saturating_sub(start.div_euclid(step_ms))
        .saturating_add(1)
}

/// The smallest nice bucket that splits `range_ms` into at most [`TARGET_BUCKETS`] parts.
pub fn default_bucket_seconds(range_ms: i64) -> i64 {
    let range = range_ms.max(0).unsigned_abs();
    NICE_STEPS
        .into_iter()
        .find(|s| range.div_ceil(s.unsigned_abs() * 1000) <= TARGET_BUCKETS.unsigned_abs())
        .unwrap_or(MAX_BUCKET_SECONDS)
}

impl SeriesQuery {
    /// Read the query string: every `/api/logs` filter (pagination and sort ignored),
    /// `bucket_seconds` and `group_by`. The range defaults to the hour before `now_ms`.
    pub fn from_params(params: &BTreeMap<String, String>, now_ms: i64) -> Result<Self, QueryError> {
        let mut rest = params.clone();
        for page_only in ["limit", "offset", "sort_by", "order"] {
            rest.remove(page_only);
        }
        let bucket = rest.remove("bucket_seconds");
        let group = rest.remove("group_by");
        let mut filter = LogQuery::from_params(&rest)?;
        let end_ms = filter.end_time.unwrap_or(now_ms);
        let start_ms = filter
            .start_time
            .unwrap_or_else(|| end_ms.saturating_sub(DEFAULT_RANGE_MS));
        if start_ms > end_ms {
            return Err(bad("start_time", "is after end_time"));
        }
        filter.start_time = Some(start_ms);
        filter.end_time = Some(end_ms);
        let bucket_seconds = match bucket {
            None => default_bucket_seconds(end_ms.saturating_sub(start_ms)),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if (1..=MAX_BUCKET_SECONDS).contains(&n) => n,
                _ => {
                    return Err(bad(
                        "bucket_seconds",
                        format!("'{v}' is not a whole number from 1 to {MAX_BUCKET_SECONDS}"),
                    ));
                }
            },
        };
        let n = bucket_count(start_ms, end_ms, bucket_seconds * 1000);
        if n > MAX_BUCKETS {
            return Err(bad(
                "bucket_seconds",
                format!(
                    "{bucket_seconds} s over this range makes {n} buckets; at most {MAX_BUCKETS}"
                ),
            ));
        }
        let group_by = match group.as_deref() {
            None => None,
            Some("provider") => Some(GroupBy::Provider),
            Some("model") => Some(GroupBy::Model),
            Some("virtual_key") => Some(GroupBy::VirtualKey),
            Some(other) => {
                return Err(bad(
                    "group_by",
                    format!("'{other}' is not provider, model or virtual_key"),
                ));
            }
        };
        Ok(Self {
            filter,
            start_ms,
            end_ms,
            bucket_seconds,
            group_by,
        })
    }
}

/// The series over one range.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct TimeSeries {
    /// Range start, Unix ms.
    pub start_time: i64,
    /// Range end (inclusive), Unix ms.
    pub end_time: i64,
    /// Bucket size, seconds.
    pub bucket_seconds: i64,
    /// Records aggregated.
    pub records: u64,
    /// More records matched than were read ([`MAX_ROWS`], newest first): the oldest are left out.
    pub sampled: bool,
    /// Every bucket of the range, oldest first, empty ones included.
    pub buckets: Vec<SeriesBucket>,
    /// The split, when `group_by` was given: the groups with most requests, then `(other)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<SeriesGroup>>,
}

/// One bucket.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct SeriesBucket {
    /// Bucket start, Unix ms (a multiple of the bucket size).
    pub t: i64,
    /// Records.
    pub requests: u64,
    /// Failed records.
    pub errors: u64,
    /// Median latency, ms (nearest rank; 0 when empty).
    pub p50_latency_ms: f64,
    /// 99th percentile latency, ms (nearest rank; 0 when empty).
    pub p99_latency_ms: f64,
    /// Sum of total tokens.
    pub tokens: i64,
    /// Sum of cost, USD.
    pub cost: f64,
}

/// One group over the whole range, and its series.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct SeriesGroup {
    /// Provider, model or virtual key id; `(none)` or `(other)`.
    pub key: String,
    /// Records.
    pub requests: u64,
    /// Failed records.
    pub errors: u64,
    /// Sum of total tokens.
    pub tokens: i64,
    /// Sum of cost, USD.
    pub cost: f64,
    /// Median latency, ms.
    pub p50_latency_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_latency_ms: f64,
    /// Records per bucket (as `buckets`).
    pub requests_series: Vec<u64>,
    /// Tokens per bucket.
    pub tokens_series: Vec<i64>,
    /// Cost per bucket.
    pub cost_series: Vec<f64>,
}

/// The columns of one record a series needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRow {
    /// Arrival, Unix ms.
    pub timestamp_ms: i64,
    /// Latency, ms.
    pub latency_ms: f64,
    /// Succeeded.
    pub success: bool,
    /// Total tokens.
    pub total_tokens: i64,
    /// Cost, USD (unpriced: none).
    pub cost: Option<f64>,
    /// The group column's value, when grouping.
    pub group: Option<String>,
}

/// The value at percentile `pct` (nearest rank) of sorted values; 0 for none.
fn percentile(sorted: &[f64], pct: usize) -> f64 {
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or(0.0)
}

#[derive(Default)]
struct BucketAcc {
    requests: u64,
    errors: u64,
    tokens: i64,
    cost: f64,
    latencies: Vec<f64>,
}

/// One record as its group keeps it.
#[derive(Clone, Copy)]
struct Point {
    bucket: usize,
    latency_ms: f64,
    success: bool,
    tokens: i64,
    cost: f64,
}

/// Rows in, series out.
struct Aggregator {
    first: i64,
    step_ms: i64,
    buckets: Vec<BucketAcc>,
    groups: Option<HashMap<String, Vec<Point>>>,
    records: u64,
}

impl Aggregator {
    fn new(q: &SeriesQuery) -> Self {
        let step_ms = q.bucket_seconds.max(1) * 1000;
        let n = bucket_count(q.start_ms, q.end_ms, step_ms).clamp(0, MAX_BUCKETS);
        Self {
            first: q.start_ms.div_euclid(step_ms),
            step_ms,
            buckets: (0..n).map(|_| BucketAcc::default()).collect(),
            groups: q.group_by.map(|_| HashMap::new()),
            records: 0,
        }
    }

    fn push(&mut self, row: SeriesRow) {
        let index = row.timestamp_ms.div_euclid(self.step_ms) - self.first;
        let Some((i, b)) = usize::try_from(index)
            .ok()
            .and_then(|i| Some((i, self.buckets.get_mut(i)?)))
        else {
            return;
        };
        let cost = row.cost.unwrap_or(0.0);
        self.records += 1;
        b.requests += 1;
        b.errors += u64::from(!row.success);
        b.tokens = b.tokens.saturating_add(row.total_tokens);
        b.cost += cost;
        b.latencies.push(row.latency_ms);
        if let Some(groups) = &mut self.groups {
            let point = Point {
                bucket: i,
                latency_ms: row.latency_ms,
                success: row.success,
                tokens: row.total_tokens,
                cost,
            };
            let key = row.group.unwrap_or_else(|| NONE.to_owned());
            groups.entry(key).or_default().push(point);
        }
    }

    fn finish(self, sampled: bool, q: &SeriesQuery) -> TimeSeries {
        let n = self.buckets.len();
        let buckets = self
            .buckets
            .into_iter()
            .zip(0_i64..)
            .map(|(mut b, i)| {
                b.latencies.sort_unstable_by(f64::total_cmp);
                SeriesBucket {
                    t: (self.first + i) * self.step_ms,
                    requests: b.requests,
                    errors: b.errors,
                    p50_latency_ms: percentile(&b.latencies, 50),
                    p99_latency_ms: percentile(&b.latencies, 99),
                    tokens: b.tokens,
                    cost: b.cost,
                }
            })
            .collect();
        let groups = self.groups.map(|g| top_groups(g, n));
        TimeSeries {
            start_time: q.start_ms,
            end_time: q.end_ms,
            bucket_seconds: q.bucket_seconds,
            records: self.records,
            sampled,
            buckets,
            groups,
        }
    }
}

/// The [`TOP_GROUPS`] groups with most records, most first (ties by name), then the rest
/// merged into [`OTHER`].
fn top_groups(groups: HashMap<String, Vec<Point>>, buckets: usize) -> Vec<SeriesGroup> {
    let mut all: Vec<(String, Vec<Point>)> = groups.into_iter().collect();
    all.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    let rest: Vec<Point> = all
        .split_off(TOP_GROUPS.min(all.len()))
        .into_iter()
        .flat_map(|(_, points)| points)
        .collect();
    let mut out: Vec<SeriesGroup> = all
        .into_iter()
        .map(|(key, points)| group(key, &points, buckets))
        .collect();
    if !rest.is_empty() {
        out.push(group(OTHER.to_owned(), &rest, buckets));
    }
    out
}

fn group(key: String, points: &[Point], buckets: usize) -> SeriesGroup {
    let mut g = SeriesGroup {
        key,
        requests: 0,
        errors: 0,
        tokens: 0,
        cost: 0.0,
        p50_latency_ms: 0.0,
        p99_latency_ms: 0.0,
        requests_series: vec![0; buckets],
        tokens_series: vec![0; buckets],
        cost_series: vec![0.0; buckets],
    };
    let mut latencies = Vec::with_capacity(points.len());
    for p in points {
        g.requests += 1;
        g.errors += u64::from(!p.success);
        g.tokens = g.tokens.saturating_add(p.tokens);
        g.cost += p.cost;
        latencies.push(p.latency_ms);
        if let Some(r) = g.requests_series.get_mut(p.bucket) {
            *r += 1;
        }
        if let Some(t) = g.tokens_series.get_mut(p.bucket) {
            *t = t.saturating_add(p.tokens);
        }
        if let Some(c) = g.cost_series.get_mut(p.bucket) {
            *c += p.cost;
        }
    }
    latencies.sort_unstable_by(f64::total_cmp);
    g.p50_latency_ms = percentile(&latencies, 50);
    g.p99_latency_ms = percentile(&latencies, 99);
    g
}

/// The series of `rows` (records of `q`'s range; others are ignored). `sampled`: the rows are
/// the newest of more.
pub fn aggregate(
    q: &SeriesQuery,
    rows: impl IntoIterator<Item = SeriesRow>,
    sampled: bool,
) -> TimeSeries {
    let mut agg = Aggregator::new(q);
    for row in rows {
        agg.push(row);
    }
    agg.finish(sampled, q)
}

impl LogStore {
    /// The series of the records matching `q` (see [`SeriesQuery`]).
    pub async fn timeseries(&self, q: &SeriesQuery) -> Result<TimeSeries, StoreError> {
        let f = Filter::build(&q.filter, self.kind());
        let group = q
            .group_by
            .map_or_else(String::new, |g| format!(", {} AS grp", g.column()));
        let sql = format!(
            "SELECT timestamp_ms, latency_ms, success, total_tokens, cost{group} FROM logs{} \
             ORDER BY timestamp_ms DESC LIMIT {}",
            f.sql,
            MAX_ROWS + 1
        );
        let mut agg = Aggregator::new(q);
        let mut read = 0;
        let mut sampled = false;
        let mut rows = f.bind(sqlx::query(AssertSqlSafe(sql))).fetch(self.pool());
        while let Some(row) = rows.try_next().await? {
            if read == MAX_ROWS {
                sampled = true;
                break;
            }
            read += 1;
            agg.push(SeriesRow {
                timestamp_ms: row.try_get("timestamp_ms")?,
                latency_ms: row.try_get("latency_ms")?,
                success: row.try_get::<i64, _>("success")? != 0,
                total_tokens: row.try_get("total_tokens")?,
                cost: row.try_get("cost")?,
                group: match q.group_by {
                    Some(_) => row.try_get("grp")?,
                    None => None,
                },
            });
        }
        Ok(agg.finish(sampled, q))
    }
}

#[cfg(test)]
#[path = "timeseries_tests.rs"]
mod tests;
