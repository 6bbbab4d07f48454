//! `heimdall serve`: load config, build the engine, listen, and shut down gracefully.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use heimdall_config::LoadedConfig;
use heimdall_core::{Gateway, Pipeline};
use heimdall_server::{AppParts, AppState, IngressPolicy, router_with};
use tracing_subscriber::EnvFilter;

use crate::cli::{LogFormat, ServeArgs};

/// Run the gateway until SIGTERM/SIGINT.
pub fn run(args: &ServeArgs) -> ExitCode {
    // Read the file once: its `observability.logging` sets the log level and format (flags
    // win) before anything logs; a file that does not load is reported, with the defaults.
    let bootstrap = crate::control_start::bootstrap(args);
    let process = bootstrap
        .as_ref()
        .ok()
        .and_then(|(_, loaded)| loaded.as_ref())
        .map(|l| &l.config.process);
    // Held until `run` returns: the last lines are written before the process exits.
    let _log_output = init_logging(args, process);
    // More workers than usable CPUs only adds wake-ups and context switches.
    let workers = args.worker_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    // One usable CPU: a single-threaded scheduler. The work-stealing one pays for atomics,
    // a separate worker beside the accept loop, and wake-ups across them, for nothing.
    let mut builder = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(args, bootstrap))
}

fn init_logging(
    args: &ServeArgs,
    process: Option<&heimdall_config::ProcessObservability>,
) -> crate::log_sink::SinkGuard {
    let level = args
        .log_level
        .clone()
        .or_else(|| process.and_then(|p| p.log_level.clone()))
        .unwrap_or_else(|| "info".to_owned());
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (sink, guard) =
        crate::log_sink::LogSink::start(std::io::stdout(), crate::log_sink::QUEUE_LINES);
    // Colours only for a person at a terminal: a file or a pipe (containers, systemd) would
    // store the escape codes, and writing them costs every request's log line.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(sink);
    let format = args
        .log_format
        .unwrap_or(if process.is_some_and(|p| p.log_json) {
            LogFormat::Json
        } else {
            LogFormat::Text
        });
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        // Client-chosen values (model names, headers) cannot forge a line.
        LogFormat::Text => builder
            .fmt_fields(crate::log_fields::EscapedFields::new(ansi))
            .init(),
    }
    guard
}

async fn serve(
    args: &ServeArgs,
    bootstrap: Result<crate::control_start::Bootstrap, String>,
) -> ExitCode {
    let started = match crate::control_start::start(args, bootstrap).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let loaded = started.loaded;
    report_config(args, &loaded);
    let config = loaded.config;
    let process = config.process.clone();
    let host = args
        .host
        .clone()
        .or_else(|| config.server.host.clone())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = args.port.or(config.server.port).unwrap_or(8080);
    let body_limit = usize::try_from(config.client.max_request_body_size_mb)
        .unwrap_or(10)
        .saturating_mul(1024 * 1024);
    let upload_limit = usize::try_from(config.client.max_upload_size_mb)
        .unwrap_or(25)
        .saturating_mul(1024 * 1024);

    let allowed_hosts = config.server.allowed_hosts.clone();
    let listener_limits = config.server.limits.clone();
    let (observability, log_task) = heimdall_observe::start(&config, &args.app_dir);
    if observability.writer.is_some() {
        tracing::info!(kind = ?config.logs_store.kind, app_dir = %args.app_dir.display(), "request logging on");
    }
    let logger: Arc<dyn heimdall_core::Plugin> =
        Arc::new(heimdall_observe::RequestLogger(Arc::clone(&observability)));
    let governance = match crate::governance_start::governance_for(&config).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    crate::governance_start::restore_budgets(
        &governance,
        &observability,
        &config.logs_store,
        &args.app_dir,
    );
    // Governance first: it refuses before anything is spent, and its `post` runs after the
    // logger's (post hooks unwind), when the request's cost is known.
    let governed: Arc<dyn heimdall_core::Plugin> = governance.clone();
    // The cache after the logger: a hit skips the later `pre` hooks, and the logger's `pre`
    // (trace ids, the recorded input) must have run for the hit's record.
    let cache = heimdall_cache::ResponseCache::start(
        &config,
        heimdall_cache::SetupEnv {
            app_dir: args.app_dir.clone(),
            logs_postgres_url: (config.logs_store.kind == heimdall_config::LogsStoreKind::Postgres)
                .then(|| heimdall_store::connection_url(&config.logs_store, &args.app_dir)),
        },
    )
    .await;
    let cached: Arc<dyn heimdall_core::Plugin> = cache.clone();
    // MCP tools are injected after governance (which names the calling key) and before the
    // cache (the tools offered are part of the cache key); the clients connect in the
    // background.
    let mcp = heimdall_mcp::McpManager::new();
    let injection: Arc<dyn heimdall_core::Plugin> = Arc::new(
        heimdall_server::mcp_inject::McpInjection::new(Arc::clone(&mcp), &config),
    );
    let gateway = Arc::new(Gateway::from_config(
        config,
        Pipeline::new(vec![governed, logger, injection, cached]),
    ));
    cache.attach(&gateway);

    let control = Arc::new(started.control);
    control.config.attach(Arc::clone(&gateway));
    let rt = gateway.runtime();
    for (name, reason) in &rt.unavailable {
        tracing::warn!(provider = %name, "provider not available: {reason}");
    }
    tracing::info!(providers = ?rt.providers.keys().collect::<Vec<_>>(), "providers ready");
    drop(rt);
    let _health_checks = heimdall_core::probe::spawn_checks(&gateway);

    let addr: SocketAddr = match format!("{host}:{port}").parse() {
        Ok(a) => a,
        Err(_) => match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(mut it) => match it.next() {
                Some(a) => a,
                None => {
                    tracing::error!(%host, "cannot resolve listen address");
                    return ExitCode::FAILURE;
                }
            },
            Err(e) => {
                tracing::error!(%host, error = %e, "cannot resolve listen address");
                return ExitCode::FAILURE;
            }
        },
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let mut limits = listener_limits;
    match raise_fd_limit() {
        Some(fds) => {
            // Keep room for upstream connections, the log store and files.
            let fit = usize::try_from(fds.saturating_sub(256) / 2)
                .unwrap_or(usize::MAX)
                .max(1);
            if limits.max_connections > fit {
                tracing::info!(
                    max_connections = limits.max_connections,
                    fit,
                    "max_connections fitted to the open-file limit"
                );
                limits.max_connections = fit;
            }
            tracing::info!(
                open_files = fds,
                max_connections = limits.max_connections,
                "open-file limit"
            );
        }
        None => tracing::info!(
            max_connections = limits.max_connections,
            "open-file limit: unlimited"
        ),
    }
    let stopping = tokio_util::sync::CancellationToken::new();
    heimdall_control::watch::spawn_file_reload(Arc::clone(&control.config), stopping.clone());
    heimdall_control::watch::spawn_store_follow(
        Arc::clone(&control.config),
        Arc::clone(&control.auth),
        started.postgres_url.clone(),
        stopping.clone(),
    );
    announce_auth(&control.auth, addr);
    let policy = IngressPolicy::for_bind(addr.ip(), &allowed_hosts, body_limit)
        .with_upload_limit(upload_limit)
        .with_body_read_timeout(limits.body_read_timeout)
        .with_shutdown(stopping.clone());
    match policy.allowed_hosts() {
        Some(hosts) => tracing::info!(?hosts, "answering to these Host names only"),
        None => tracing::info!("answering to any Host name (set server.allowed_hosts to pin them)"),
    }
    let state = AppState::new(AppParts {
        gateway,
        body_limit,
        observability: Arc::clone(&observability),
        client_limits: Arc::new(heimdall_server::client_policy::ClientRateLimiter::new()),
        control: Some(control),
        governance: Some(governance),
        cache: Some(cache),
        responses: Default::default(),
        mcp: Some(Arc::clone(&mcp)),
        tool_logs: Default::default(),
        lifecycle: Default::default(),
    });
    let lifecycle = Arc::clone(&state.lifecycle);
    let app = router_with(state.clone(), policy);
    if let Some(port) = process.metrics_port.filter(|_| process.metrics_enabled)
        && let Err(e) = spawn_metrics(
            state,
            addr.ip(),
            port,
            &process.metrics_path,
            stopping.clone(),
        )
        .await
    {
        tracing::error!("{e}");
        return ExitCode::FAILURE;
    }
    tracing::info!(
        "heimdall {} listening on http://{addr}",
        env!("CARGO_PKG_VERSION")
    );

    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let drain = Drain {
        grace,
        delay: Duration::from_secs(args.drain_delay_seconds),
        stopping,
        lifecycle,
    };
    let finished = crate::listener::serve(listener, app, limits, drain.started(), grace).await;
    // Export buffered spans and write what the log queue holds before leaving.
    if let Some(t) = &observability.tracing {
        t.flush();
    }
    if let (Some(w), Some(task)) = (&observability.writer, log_task) {
        w.shutdown();
        if tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .is_err()
        {
            tracing::warn!(
                pending = w.pending(),
                "log writer did not finish within 10 s"
            );
        }
    }
    // MCP servers started as child processes stop with the gateway.
    mcp.shutdown();
    if finished {
        tracing::info!("stopped");
    }
    ExitCode::SUCCESS
}

/// `observability.metrics.prometheus.port`: metrics on a listener of their own (scrapers then
/// need no route to the API port).
async fn spawn_metrics(
    state: AppState,
    ip: std::net::IpAddr,
    port: u16,
    path: &str,
    stop: tokio_util::sync::CancellationToken,
) -> Result<(), String> {
    let addr = SocketAddr::new(ip, port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen for metrics on {addr}: {e}"))?;
    let app = axum::Router::new()
        .route(path, axum::routing::get(heimdall_server::logs_api::metrics))
        .with_state(state);
    tracing::info!("metrics on http://{addr}{path}");
    heimdall_core::task::spawn("metrics-listener", async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    Ok(())
}

/// Say how management is protected; before any credential exists, print the one-time setup
/// token (to standard error, not the log pipeline: it is a credential).
fn announce_auth(auth: &heimdall_control::AuthService, addr: SocketAddr) {
    if auth.enabled() {
        tracing::info!("admin auth on: management and log routes need credentials");
        return;
    }
    tracing::warn!(
        "no admin user or API token exists yet: management and log routes answer loopback clients only"
    );
    if let Some(token) = auth.setup_token() {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "\n  One-time setup token (remote setup until the first admin or API token is created):\n    curl -H 'Authorization: Bearer {token}' -H 'content-type: application/json' -X POST http://{addr}/api/users -d '{{\"username\":\"admin\",\"password\":\"…\"}}'\n"
            );
        }
    }
}

/// SIGTERM or SIGINT, logged.
/// The shutdown sequence: on a signal, `/ready` turns 503; after SIGTERM the listener keeps
/// accepting for `delay` (load balancers notice the 503 and stop sending), then closes; the
/// in-flight requests and streams then have `grace` to finish.
struct Drain {
    grace: Duration,
    delay: Duration,
    stopping: tokio_util::sync::CancellationToken,
    lifecycle: Arc<heimdall_server::state::Lifecycle>,
}

impl Drain {
    /// Resolves when the listener must stop accepting.
    async fn started(self) {
        let signal = shutdown_signal().await;
        self.lifecycle.start_draining();
        if signal == StopSignal::Terminate && !self.delay.is_zero() {
            tracing::info!(
                delay_seconds = self.delay.as_secs(),
                "draining: /ready answers 503; still accepting while load balancers take this instance out"
            );
            tokio::select! {
                () = tokio::time::sleep(self.delay) => {}
                _ = shutdown_signal() => tracing::info!("second signal: stopping now"),
            }
        }
        self.stopping.cancel();
        tracing::info!(
            grace_seconds = self.grace.as_secs(),
            "shutting down: closing idle connections, finishing in-flight requests"
        );
    }
}

/// Raise the soft limit of open files to the hard limit: each client connection is a file
/// descriptor, and the usual soft limit of 1,024 stops accepting long before memory or CPU do.
/// Returns the limit in force.
fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum
        && limit.current.is_some_and(|soft| soft < hard)
    {
        limit.current = Some(hard);
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

fn report_config(args: &ServeArgs, loaded: &LoadedConfig) {
    match &args.config {
        Some(p) => {
            tracing::info!(file = %p.display(), layout = ?loaded.layout, "configuration loaded")
        }
        None => tracing::info!(
            "no config file: an empty store is seeded with the providers of well-known environment variables"
        ),
    }
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let inactive = loaded.config.not_yet_active();
    if !inactive.is_empty() {
        tracing::warn!(
            sections = %inactive.join(", "),
            "configuration sections parsed and kept but not yet active in this version"
        );
    }
    if loaded.config.providers.is_empty() {
        tracing::warn!(
            "no providers configured: set OPENAI_API_KEY (or another provider's key variable) or pass --config; requests will answer 404 until then"
        );
    }
}

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopSignal {
    /// SIGINT (Ctrl-C): someone at a terminal; stop without the drain delay.
    Interrupt,
    /// SIGTERM: an orchestrator; drain first.
    Terminate,
}

async fn shutdown_signal() -> StopSignal {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => StopSignal::Interrupt,
        () = term => StopSignal::Terminate,
    }
}
