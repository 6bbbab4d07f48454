//! Versioned migrations written once for both databases (types both accept: TEXT, BIGINT,
//! DOUBLE PRECISION), applied in order. The log store's are recorded in `heimdall_migrations`;
//! the config store's apart in `heimdall_config_migrations`, because the config store usually
//! has its own database (`config.db`) yet may share a PostgreSQL database with the logs — so
//! its tables are all prefixed `config_` and never collide with the log tables.

/// (version, statements). Append only: a released migration never changes.
pub(crate) const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE IF NOT EXISTS logs (
            id TEXT PRIMARY KEY,
            timestamp_ms BIGINT NOT NULL,
            route TEXT NOT NULL,
            operation TEXT NOT NULL,
            provider TEXT,
            model_requested TEXT NOT NULL,
            model TEXT,
            key_name TEXT,
            virtual_key_id TEXT,
            team_id TEXT,
            customer_id TEXT,
            status BIGINT NOT NULL,
            success BIGINT NOT NULL,
            error_type TEXT,
            error TEXT,
            stream BIGINT NOT NULL,
            ttft_ms DOUBLE PRECISION,
            latency_ms DOUBLE PRECISION NOT NULL,
            overhead_ms DOUBLE PRECISION NOT NULL,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            cached_tokens BIGINT NOT NULL,
            reasoning_tokens BIGINT NOT NULL,
            total_tokens BIGINT NOT NULL,
            cost DOUBLE PRECISION,
            unpriced BIGINT NOT NULL,
            attempts BIGINT NOT NULL,
            retries BIGINT NOT NULL,
            fallback_index BIGINT NOT NULL,
            trail TEXT NOT NULL,
            finish_reason TEXT,
            client_disconnected BIGINT NOT NULL
        )",
            "CREATE TABLE IF NOT EXISTS log_payloads (
            id TEXT PRIMARY KEY,
            input TEXT,
            output TEXT
        )",
            "CREATE INDEX IF NOT EXISTS logs_ts ON logs (timestamp_ms)",
            "CREATE INDEX IF NOT EXISTS logs_provider_ts ON logs (provider, timestamp_ms)",
            "CREATE INDEX IF NOT EXISTS logs_model_ts ON logs (model, timestamp_ms)",
            "CREATE INDEX IF NOT EXISTS logs_status_ts ON logs (status, timestamp_ms)",
            "CREATE INDEX IF NOT EXISTS logs_vk_ts ON logs (virtual_key_id, timestamp_ms)",
            "CREATE INDEX IF NOT EXISTS logs_latency ON logs (latency_ms)",
            "CREATE INDEX IF NOT EXISTS logs_tokens ON logs (total_tokens)",
            "CREATE INDEX IF NOT EXISTS logs_cost ON logs (cost)",
        ],
    ),
    (
        2,
        &[
            // Filters on success/failure, and statistics per provider without touching the table
            // (covering index): measured over 1M rows with crates/store/examples/scale.rs.
            "CREATE INDEX IF NOT EXISTS logs_success_ts ON logs (success, timestamp_ms)",
            "CREATE INDEX IF NOT EXISTS logs_provider_stats ON logs \
         (provider, timestamp_ms, success, latency_ms, total_tokens, cost)",
        ],
    ),
    (
        3,
        &[
            // Indexes on latency, tokens and cost are keyed by values that arrive in random
            // order: every insert dirtied a random leaf page of each, so writing a record cost
            // ~4× more (67 → 17 µs of CPU per record, examples/insert_cost.rs). Sorting by
            // them scans the filtered rows instead (figures in docs/observability.md).
            "DROP INDEX IF EXISTS logs_latency",
            "DROP INDEX IF EXISTS logs_tokens",
            "DROP INDEX IF EXISTS logs_cost",
        ],
    ),
    (
        4,
        &[
            // The client's own request id: the record's id is always the gateway's, so a
            // reused client id cannot make two requests collide on one row.
            "ALTER TABLE logs ADD COLUMN client_request_id TEXT",
            "CREATE INDEX IF NOT EXISTS logs_client_request_id ON logs (client_request_id) \
             WHERE client_request_id IS NOT NULL",
        ],
    ),
    (
        5,
        &[
            // What the response cache did (`hit-exact`, `hit-semantic`, `miss`; NULL: not
            // looked up) and, for a hit, the USD the provider call would have cost.
            "ALTER TABLE logs ADD COLUMN cache TEXT",
            "ALTER TABLE logs ADD COLUMN cost_saved DOUBLE PRECISION",
        ],
    ),
    (
        6,
        &[
            // Stored Responses API answers (`previous_response_id`, `GET /v1/responses/{id}`):
            // each row holds its whole conversation, readable only by its owner.
            "CREATE TABLE IF NOT EXISTS responses (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            input TEXT NOT NULL,
            context TEXT NOT NULL,
            response TEXT NOT NULL
        )",
            "CREATE INDEX IF NOT EXISTS responses_created ON responses (created_at_ms)",
        ],
    ),
    (
        7,
        &[
            // MCP tool calls the gateway made (execute endpoint, agent mode, its `/mcp`).
            "CREATE TABLE IF NOT EXISTS mcp_tool_calls (
            id TEXT PRIMARY KEY,
            request_id TEXT,
            timestamp_ms BIGINT NOT NULL,
            client TEXT NOT NULL,
            tool TEXT NOT NULL,
            source TEXT NOT NULL,
            arguments TEXT NOT NULL,
            result TEXT,
            error TEXT,
            status TEXT NOT NULL,
            latency_ms DOUBLE PRECISION NOT NULL,
            virtual_key_id TEXT
        )",
            "CREATE INDEX IF NOT EXISTS mcp_tool_calls_time ON mcp_tool_calls (timestamp_ms)",
            "CREATE INDEX IF NOT EXISTS mcp_tool_calls_request ON mcp_tool_calls (request_id)",
        ],
    ),
];

/// The config store's migrations, (version, statements), recorded in
/// `heimdall_config_migrations`. Append only, like [`MIGRATIONS`].
pub(crate) const CONFIG_MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        // One row per version of the whole configuration document; the primary key on
        // `version` is what makes appends race-free across processes.
        "CREATE TABLE IF NOT EXISTS config_versions (
            version BIGINT PRIMARY KEY,
            created_at_ms BIGINT NOT NULL,
            actor TEXT NOT NULL,
            source TEXT NOT NULL,
            summary TEXT NOT NULL,
            diff TEXT NOT NULL,
            document TEXT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS config_admins (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS config_tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            last4 TEXT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            expires_at_ms BIGINT
        )",
        "CREATE UNIQUE INDEX IF NOT EXISTS config_tokens_hash ON config_tokens (token_hash)",
        "CREATE TABLE IF NOT EXISTS config_sessions (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            expires_at_ms BIGINT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS config_sessions_expires ON config_sessions (expires_at_ms)",
    ],
)];
