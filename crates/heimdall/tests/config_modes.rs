//! The configuration's source of truth as a user meets it through the binary: store mode keeps
//! what the API changed across a restart (the seed is not read again), `export-config` gives
//! it back as a file that loads, file mode says it is file mode, and the reference
//! `bifrost.yaml` starts with its security and observability sections active.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::{Gateway, free_port};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_heimdall"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

/// Start `heimdall serve` in `app_dir` with `args` and `envs`; stderr goes to `log`.
fn start(app_dir: &Path, args: &[&str], envs: &[(&str, &str)], log: &str) -> (Gateway, u16) {
    let port = free_port();
    let mut cmd = bin();
    cmd.args(["serve", "--port", &port.to_string()])
        .arg("--app-dir")
        .arg(app_dir)
        .args(args)
        .stdout(std::fs::File::create(app_dir.join(format!("{log}.out"))).unwrap())
        .stderr(std::fs::File::create(app_dir.join(format!("{log}.err"))).unwrap());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = Gateway(cmd.spawn().unwrap(), None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, port)
}

/// `GET url` as JSON.
async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

fn logged(app_dir: &Path, log: &str) -> String {
    let mut s = std::fs::read_to_string(app_dir.join(format!("{log}.out"))).unwrap_or_default();
    s.push_str(&std::fs::read_to_string(app_dir.join(format!("{log}.err"))).unwrap_or_default());
    s
}

#[tokio::test]
async fn store_mode_keeps_api_changes_across_a_restart_and_exports_them() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let env = [("OPENAI_API_KEY", "sk-from-env-0000000001")];
    let (gw, port) = start(dir.path(), &[], &env, "first");
    let base = format!("http://127.0.0.1:{port}");
    let cfg = get_json(&client, &format!("{base}/api/config")).await;
    assert_eq!(cfg["mode"], "store");
    // Seeded from the environment, as a reference.
    assert_eq!(
        cfg["config"]["providers"]["openai"]["keys"][0]["value"],
        "env.OPENAI_API_KEY"
    );
    let r = client
        .post(format!("{base}/api/providers"))
        .json(&json!({"provider": "groq", "keys": [{"name": "main", "value": "gsk-literal-secret-0002"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(gw);
    assert!(logged(dir.path(), "first").contains("STORE mode"));

    // Restarted with another environment: the store is the truth, and says so.
    let (gw, port) = start(
        dir.path(),
        &[],
        &[("MISTRAL_API_KEY", "m-0000000003")],
        "second",
    );
    let base = format!("http://127.0.0.1:{port}");
    let cfg = get_json(&client, &format!("{base}/api/config")).await;
    assert_eq!(cfg["version"], 2);
    let providers = cfg["config"]["providers"].as_object().unwrap();
    assert!(providers.contains_key("groq") && providers.contains_key("openai"));
    assert!(
        !providers.contains_key("mistral"),
        "the environment is not read again"
    );
    assert_eq!(providers["groq"]["keys"][0]["value"], "****0002");
    let log = logged(dir.path(), "second");
    assert!(log.contains("NOT used"), "{log}");
    drop(gw);

    // export-config: the current version as a file that loads again.
    let out = dir.path().join("exported.json");
    let status = bin()
        .arg("export-config")
        .arg("--app-dir")
        .arg(dir.path())
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("gsk-literal-secret-0002"),
        "the secret is exported for reuse"
    );
    assert!(
        text.contains("env.OPENAI_API_KEY"),
        "references stay references"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let check = bin().arg("check-config").arg(&out).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let redacted = bin()
        .args(["export-config", "--redact", "--app-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&redacted.stdout);
    assert!(
        text.contains("****0002") && !text.contains("gsk-literal"),
        "{text}"
    );
}

#[tokio::test]
async fn the_reference_yaml_starts_in_file_mode_with_its_sections_active() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bifrost.yaml"),
    )
    .unwrap();
    // Its own metrics port and host would collide between test runs: a free port, loopback.
    let metrics_port = free_port();
    let yaml = yaml
        .replace("port: 9090", &format!("port: {metrics_port}"))
        .replace("host: 0.0.0.0", "host: 127.0.0.1");
    let file = dir.path().join("bifrost.yaml");
    std::fs::write(&file, yaml).unwrap();
    let (_gw, port) = start(
        dir.path(),
        &["--config", file.to_str().unwrap()],
        &[],
        "yaml",
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let cfg = get_json(&client, &format!("{base}/api/config")).await;
    assert_eq!(cfg["mode"], "file");
    // The yaml's provider list, shown as the API shows providers (keys redacted).
    let providers = get_json(&client, &format!("{base}/api/providers")).await;
    assert_eq!(providers["total"], 3, "{providers}");
    let log = logged(dir.path(), "yaml");
    assert!(log.contains("FILE mode"), "{log}");
    // observability.logging.format: json
    let first = log.lines().next().unwrap_or_default();
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "{first}"
    );
    // observability.metrics.prometheus.port: a listener of its own.
    let metrics = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    // security.cors: a preflight from an allowed wildcard origin.
    let pre = client
        .request(
            reqwest::Method::OPTIONS,
            format!("{base}/v1/chat/completions"),
        )
        .header("origin", "https://my-app.replit.dev")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "https://my-app.replit.dev"
    );
    // security.rateLimit: 100 per minute — the API calls above count too.
    let mut last = 0;
    for _ in 0..101 {
        last = client
            .get(format!("{base}/api/version"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "the 101st request in the minute is refused");
    // In file mode the API does not write.
    let r = client
        .post(format!("{base}/api/providers"))
        .json(&json!({"provider": "x"}))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 409 || r.status() == 429);
}
