//! Shared golden-fixture plumbing: reading a provider's fixture directory, finding its cases,
//! and checking a translated stream against an expected chunk sequence.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use heimdall_schema::chat::ChatChunk;
use heimdall_schema::error::{ErrorKind, GatewayError};
use serde_json::Value;

/// The fixtures of one provider (`tests/fixtures/<provider>/`).
pub struct Fixtures(PathBuf);

impl Fixtures {
    pub fn of(provider: &str) -> Self {
        Self(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(provider),
        )
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn json(&self, name: &str) -> Value {
        serde_json::from_str(&self.read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Case names of files `<prefix>_<case><suffix>`, sorted; at least one.
    pub fn cases(&self, prefix: &str, suffix: &str) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| {
                n.strip_prefix(&format!("{prefix}_"))?
                    .strip_suffix(suffix)
                    .map(str::to_owned)
            })
            .collect();
        out.sort();
        assert!(!out.is_empty(), "no {prefix}_*{suffix} fixtures");
        out
    }

    /// Compare translated chunks and the way the stream ended with `<name>` (JSON lines:
    /// chunks, optionally ending with an `{"error": {"message", "type"}}` line).
    pub fn check_stream(&self, name: &str, chunks: &[ChatChunk], end: Result<bool, GatewayError>) {
        let mut want_chunks = Vec::new();
        let mut want_error: Option<Value> = None;
        for line in self.read(name).lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            if v.get("error").is_some() {
                want_error = Some(v);
            } else {
                let c: ChatChunk = serde_json::from_value(v).unwrap();
                want_chunks.push(serde_json::to_value(c).unwrap());
            }
        }
        let got: Vec<Value> = chunks
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect();
        assert_eq!(
            got.len(),
            want_chunks.len(),
            "{name}: chunk count\n{got:#?}"
        );
        for (i, (g, w)) in got.iter().zip(&want_chunks).enumerate() {
            assert_eq!(g, w, "{name}: chunk {i}");
        }
        match (end, want_error) {
            (Ok(true), None) => {}
            (Err(e), Some(w)) => {
                assert_eq!(e.kind, ErrorKind::UpstreamStreamError, "{name}");
                assert_eq!(e.code.as_deref(), w["error"]["type"].as_str(), "{name}");
                let msg = w["error"]["message"].as_str().unwrap();
                assert!(e.message.contains(msg), "{name}: {}", e.message);
            }
            (end, want) => panic!("{name}: ended {end:?}, expected error {want:?}"),
        }
    }
}
