//! `heimdall-mock-provider`: the mock OpenAI upstream as a process, for benchmarks and demos.
// The mock is a test double and benchmark upstream, not the gateway.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::serve::ListenerExt;
use clap::Parser;
use heimdall_mock_provider::{MockConfig, router};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A mock OpenAI-compatible upstream with latency and fault knobs (also settable per request
/// with `x-mock-<knob>` headers or a model suffix such as `gpt-4o;chunks=3;latency_ms=20`).
#[derive(Debug, Parser)]
#[command(name = "heimdall-mock-provider", version, about)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind.
    #[arg(long, default_value_t = 9000)]
    port: u16,
    /// Delay before answering, ms.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Delay between stream chunks, ms.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,
    /// Content chunks per answer.
    #[arg(long, default_value_t = 8)]
    chunks: usize,
    /// Probability of failing a request (0–1).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Status of failures.
    #[arg(long, default_value_t = 500)]
    fail_status: u16,
    /// Keep the last requests (GET /_mock/requests).
    #[arg(long)]
    record: bool,
    /// PEM public key the Google token endpoint verifies JWT assertions against.
    #[arg(long)]
    google_public_key: Option<std::path::PathBuf>,
    /// AWS credentials the Bedrock face verifies SigV4 signatures with, as `AKID:SECRET`.
    #[arg(long)]
    aws_credentials: Vec<String>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    worker_threads: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = args.worker_threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let addr: SocketAddr = match format!("{}:{}", args.host, args.port).parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("invalid address: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let google_public_key_pem = match &args.google_public_key {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(pem) => Some(pem),
            Err(e) => {
                eprintln!("cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let app = router(MockConfig {
        latency_ms: args.latency_ms,
        chunk_delay_ms: args.chunk_delay_ms,
        chunks: args.chunks,
        fail_rate: args.fail_rate,
        fail_status: args.fail_status,
        retry_after: 1,
        record_requests: args.record,
        models: vec![],
        google_public_key_pem,
        aws_credentials: args
            .aws_credentials
            .iter()
            .filter_map(|c| c.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    });
    eprintln!("heimdall-mock-provider listening on http://{addr}");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(t) => t,
                        Err(_) => {
                            let _ = ctrl_c.await;
                            return;
                        }
                    };
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            #[cfg(not(unix))]
            {
                let _ = ctrl_c.await;
            }
        })
        .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}
