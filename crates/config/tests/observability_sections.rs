//! The `logs_store`, `pricing` and `otel` sections: Bifrost's shapes, env references, and
//! errors named by path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use heimdall_config::{ConfigFormat, LogsStoreKind, OtlpProtocol, parse_str};

fn load(json: &str, env: &[(&str, &str)]) -> Result<heimdall_config::GatewayConfig, String> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    parse_str(json, ConfigFormat::Json, &env)
        .map(|l| l.config)
        .map_err(|e| e.to_string())
}

#[test]
fn postgres_logs_store_reads_bifrosts_shape_with_env_secrets() {
    let c = load(
        r#"{"logs_store": {"enabled": true, "type": "postgres", "retention_days": 7,
            "config": {"host": "db", "port": "5433", "user": "hd", "password": "env.PG_PW",
                       "db_name": "logs", "ssl_mode": "require"}}}"#,
        &[("PG_PW", "s3cret")],
    )
    .unwrap();
    let s = &c.logs_store;
    assert_eq!(s.kind, LogsStoreKind::Postgres);
    assert_eq!(
        (s.host.as_str(), s.port, s.user.as_str()),
        ("db", 5433, "hd")
    );
    assert_eq!(s.password.as_ref().unwrap().expose(), "s3cret");
    assert_eq!(
        (s.db_name.as_str(), s.ssl_mode.as_str()),
        ("logs", "require")
    );
    assert_eq!(s.retention_days, 7);
    assert!(c.not_yet_active().is_empty(), "{:?}", c.not_yet_active());
    // The secret never prints.
    assert!(!format!("{s:?}").contains("s3cret"));
}

#[test]
fn defaults_are_sqlite_logging_on_and_no_tracing() {
    let c = load("{}", &[]).unwrap();
    assert_eq!(c.logs_store.kind, LogsStoreKind::Sqlite);
    assert!(c.logs_store.enabled && c.client.enable_logging);
    assert!(!c.otel.enabled);
    assert_eq!(c.client.metrics_prefix, "heimdall");
}

#[test]
fn otel_and_pricing_sections() {
    let c = load(
        r#"{"otel": {"enabled": true, "collector_url": "http://otel:4317", "protocol": "grpc",
                     "sample_rate": 0.25, "headers": {"authorization": "env.TOKEN"}},
            "pricing": {"overrides": {"openai/gpt-4o": {"input": 2.0, "output": 8.0}},
                        "default_price": {"input": 1.0, "output": 1.0}}}"#,
        &[("TOKEN", "Bearer t")],
    )
    .unwrap();
    assert_eq!(c.otel.endpoint.as_deref(), Some("http://otel:4317"));
    assert_eq!(c.otel.protocol, OtlpProtocol::Grpc);
    assert_eq!(c.otel.headers["authorization"], "Bearer t");
    assert_eq!(c.pricing.overrides["openai/gpt-4o"].output, 8.0);
    assert!(c.pricing.default_price.is_some());
}

#[test]
fn mistakes_are_named_by_path() {
    for (json, path) in [
        (r#"{"logs_store": {"type": "mysql"}}"#, "logs_store"),
        (
            r#"{"logs_store": {"config": {"port": "x"}}}"#,
            "logs_store.config.port",
        ),
        (r#"{"otel": {"enabled": true}}"#, "otel.endpoint"),
        (r#"{"otel": {"sample_rate": 2.0}}"#, "otel.sample_rate"),
        (r#"{"pricing": {"overides": {}}}"#, "pricing"),
    ] {
        let e = load(json, &[]).unwrap_err();
        assert!(e.contains(path), "{json}: {e}");
    }
}
