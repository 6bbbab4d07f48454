//! Fault and timing knobs, merged from server defaults, `x-mock-*` headers and a model-name
//! suffix (`gpt-4o;latency_ms=50;chunks=3`).
//!
//! Why the model suffix: a gateway in between forwards the model name but not the client's
//! headers, so tests of the gateway steer the upstream through the model string.

use axum::http::HeaderMap;

use crate::MockConfig;

/// The knobs in force for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Knobs {
    /// Delay before the response headers.
    pub latency_ms: u64,
    /// Delay between stream chunks.
    pub chunk_delay_ms: u64,
    /// Number of content chunks.
    pub chunks: usize,
    /// Probability of failing.
    pub fail_rate: f64,
    /// Status when failing.
    pub fail_status: u16,
    /// `Retry-After` seconds on 429.
    pub retry_after: u64,
    /// Fail the first N requests with the same model string.
    pub fail_first: Option<u64>,
    /// Fail only requests whose bearer token is this key (to test key rotation).
    pub fail_key: Option<String>,
    /// Close the connection after N stream chunks.
    pub cut_after: Option<usize>,
    /// Go silent after N stream chunks (0: before the headers).
    pub stall_after: Option<usize>,
    /// Emit an unparsable event after N stream chunks.
    pub malformed_after: Option<usize>,
    /// Emit an in-band error event after N stream chunks and end.
    pub error_after: Option<usize>,
}

/// Default number of content chunks.
pub const DEFAULT_CHUNKS: usize = 8;

impl Knobs {
    /// Server defaults.
    pub fn from_config(c: &MockConfig) -> Self {
        Self {
            latency_ms: c.latency_ms,
            chunk_delay_ms: c.chunk_delay_ms,
            chunks: if c.chunks == 0 {
                DEFAULT_CHUNKS
            } else {
                c.chunks
            },
            fail_rate: c.fail_rate,
            fail_status: if c.fail_status == 0 {
                500
            } else {
                c.fail_status
            },
            retry_after: if c.retry_after == 0 { 1 } else { c.retry_after },
            ..Self::default()
        }
    }

    /// Apply one `name=value` knob.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
            v.trim()
                .parse()
                .map_err(|_| format!("mock knob {name}: '{v}' is not a valid number"))
        }
        match name.trim() {
            "latency_ms" => self.latency_ms = num(name, value)?,
            "chunk_delay_ms" => self.chunk_delay_ms = num(name, value)?,
            "chunks" => self.chunks = num::<usize>(name, value)?.max(1),
            "fail_rate" => {
                let r: f64 = num(name, value)?;
                if !(0.0..=1.0).contains(&r) {
                    return Err(format!("mock knob fail_rate must be in [0, 1], got {r}"));
                }
                self.fail_rate = r;
            }
            "fail_status" => self.fail_status = num(name, value)?,
            "retry_after" => self.retry_after = num(name, value)?,
            "fail_first" => self.fail_first = Some(num(name, value)?),
            "fail_key" => self.fail_key = Some(value.trim().to_owned()),
            "cut_after" => self.cut_after = Some(num(name, value)?),
            "stall_after" => self.stall_after = Some(num(name, value)?),
            "malformed_after" => self.malformed_after = Some(num(name, value)?),
            "error_after" => self.error_after = Some(num(name, value)?),
            other => return Err(format!("unknown mock knob '{other}'")),
        }
        Ok(())
    }

    /// Apply `x-mock-<knob>` headers.
    pub fn apply_headers(&mut self, headers: &HeaderMap) -> Result<(), String> {
        for (name, value) in headers {
            if let Some(knob) = name.as_str().strip_prefix("x-mock-") {
                let v = value
                    .to_str()
                    .map_err(|_| format!("header {name} is not text"))?;
                self.set(&knob.replace('-', "_"), v)?;
            }
        }
        Ok(())
    }

    /// Apply a model suffix; returns the bare model name.
    pub fn apply_model_suffix<'a>(&mut self, model: &'a str) -> Result<&'a str, String> {
        let mut parts = model.split(';');
        let base = parts.next().unwrap_or_default();
        for part in parts.filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("mock knob '{part}' must be name=value"))?;
            self.set(k, v)?;
        }
        Ok(base)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn model_suffix_overrides_defaults() {
        let mut k = Knobs::from_config(&MockConfig::default());
        let base = k
            .apply_model_suffix("gpt-4o;latency_ms=50;chunks=3;fail_first=2")
            .unwrap();
        assert_eq!(base, "gpt-4o");
        assert_eq!((k.latency_ms, k.chunks, k.fail_first), (50, 3, Some(2)));
        assert!(k.apply_model_suffix("m;bogus=1").is_err());
        assert!(k.apply_model_suffix("m;chunks=x").is_err());
    }
}
