//! Client-chosen names never become unbounded metric series: made-up model names are labelled
//! `other`, whatever their number; configured and catalog models keep their names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_config::{ConfigFormat, parse_str};
use heimdall_core::{Operation, Pipeline, RequestContext, Runtime};
use heimdall_observe::labels::KnownModels;
use heimdall_observe::metrics::Metrics;
use heimdall_store::LogRecord;
use serde_json::json;

#[test]
fn seventy_thousand_made_up_models_leave_metrics_under_100_kb() {
    let loaded = parse_str(
        r#"{"providers": {"openai": {"type": "openai", "keys": [{"value": "sk-xxxxxxxxxxxx", "weight": 1}]}},
            "client": {}}"#,
        ConfigFormat::Json,
        &std::collections::BTreeMap::<String, String>::new(),
    )
    .unwrap();
    let prices = heimdall_observe::pricing::PriceBook::new(&loaded.config.pricing);
    let m = Metrics::new(
        "heimdall",
        Vec::new(),
        KnownModels::from_config(&loaded.config, &prices),
    );
    for i in 0..70_000 {
        let model = format!("made-up-model-{i}");
        let mut ctx =
            RequestContext::new(format!("r{i}"), Operation::Chat, format!("openai/{model}"));
        ctx.headers
            .insert("x-bf-prom-team".into(), format!("team-{i}"));
        let rec = LogRecord {
            provider: Some(if i % 2 == 0 {
                "openai".into()
            } else {
                format!("prov-{i}")
            }),
            model: Some(model),
            success: i % 3 != 0,
            status: 200,
            latency_ms: 5.0,
            prompt_tokens: 3,
            ..LogRecord::default()
        };
        m.record(&ctx, &rec, None);
    }
    let rt = Runtime::build(loaded.config, Pipeline::default());
    let text = m.render(&rt, 0, 0);
    assert!(text.len() < 100 * 1024, "/metrics is {} bytes", text.len());
    assert!(
        !text.contains("made-up-model-"),
        "a made-up name became a label"
    );
    assert!(text.contains("model=\"other\""));
}

#[test]
fn an_extra_label_keeps_its_first_values_only() {
    let loaded = parse_str(
        r#"{"providers": {"openai": {"type": "openai", "keys": [{"value": "sk-xxxxxxxxxxxx", "weight": 1}]}}}"#,
        ConfigFormat::Json,
        &std::collections::BTreeMap::<String, String>::new(),
    )
    .unwrap();
    let prices = heimdall_observe::pricing::PriceBook::new(&loaded.config.pricing);
    let m = Metrics::new(
        "heimdall",
        vec!["team".to_owned()],
        KnownModels::from_config(&loaded.config, &prices),
    );
    let mut sizes = Vec::new();
    for round in 0..2 {
        for i in 0..5_000 {
            let mut ctx =
                RequestContext::new(format!("r{i}"), Operation::Chat, "openai/gpt-4o".into());
            ctx.headers
                .insert("x-bf-prom-team".into(), format!("team-{round}-{i}"));
            let rec = LogRecord {
                provider: Some("openai".into()),
                model: Some("gpt-4o".into()),
                success: true,
                status: 200,
                ..LogRecord::default()
            };
            m.record(&ctx, &rec, None);
        }
        let rt = Runtime::build(loaded.config.clone(), Pipeline::default());
        sizes.push(m.render(&rt, 0, 0).lines().count());
    }
    assert_eq!(
        sizes[0], sizes[1],
        "the second 5,000 values added no series (lines)"
    );
}

#[tokio::test]
async fn made_up_model_names_over_http_are_labelled_other() {
    let h = start().await;
    for i in 0..300 {
        let r = h
            .chat(json!({"model": format!("mock/made-up-{i}"),
                "messages": [{"role": "user", "content": "hi"}]}))
            .await;
        assert_eq!(r.status().as_u16(), 200);
    }
    let r = h
        .chat(json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let text = h.get_text("/metrics").await;
    assert!(text.len() < 100 * 1024, "{} bytes", text.len());
    assert!(!text.contains("made-up-"), "a made-up name became a label");
    assert!(text.contains("model=\"other\""));
    assert!(
        text.contains("model=\"gpt-4o\""),
        "a catalog model keeps its name"
    );
}
