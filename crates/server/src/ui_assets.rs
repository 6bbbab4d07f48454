//! The web console's files (`ui/` at the repository root), compiled into the binary and served
//! at `/` (the page) and `/ui/…` (its scripts, styles and icon).
//!
//! Why embedded and hand-written (no bundler): `cargo run` must give a working console with no
//! Node toolchain and no files beside the binary, and what the browser runs is exactly what is
//! in the repository — there is no build output to drift from the source. The page is a
//! handful of ES modules that talk to the management API like any other client; they hold no
//! secret (the session is an HttpOnly cookie). The Content-Security-Policy allows scripts and
//! styles from this origin only, so a string from a log record can never run as code.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

/// One embedded file: its path under `ui/`, its content type, its bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($path:literal, $ty:expr) => {
        Asset {
            path: $path,
            content_type: $ty,
            body: include_str!(concat!("../../../ui/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `ui/` (a test checks the directory holds no other).
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("lib/api.js", JS),
    asset!("lib/chart.js", JS),
    asset!("lib/dom.js", JS),
    asset!("pages/cache.js", JS),
    asset!("pages/config.js", JS),
    asset!("pages/dashboard.js", JS),
    asset!("pages/governance.js", JS),
    asset!("pages/login.js", JS),
    asset!("pages/logs.js", JS),
    asset!("pages/mcp.js", JS),
    asset!("pages/providers.js", JS),
];

/// Scripts, styles, images and API calls from this origin only; no framing, no plugins.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Add the console's routes: `/` and `/ui/{path}`.
pub fn mount(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/", get(index))
        .route("/ui/{*path}", get(file))
}

/// The paths the console is served from: public (the login page must load before a login).
pub fn is_console_path(path: &str) -> bool {
    path == "/" || path.starts_with("/ui/")
}

fn serve(asset: &Asset) -> Response {
    let mut r = (StatusCode::OK, asset.body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // Revalidated on every load: a new binary's files are never mixed with an old page's.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

async fn index() -> Response {
    match find("index.html") {
        Some(a) => serve(a),
        None => not_found("index.html"),
    }
}

async fn file(Path(path): Path<String>) -> Response {
    match find(&path) {
        Some(a) => serve(a),
        None => not_found(&path),
    }
}

fn not_found(path: &str) -> Response {
    crate::api_error::ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("the console has no file '{path}'"),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("ui dir") {
            let entry = entry.expect("entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if entry.file_type().expect("type").is_dir() {
                files_under(&entry.path(), &rel, out);
            } else {
                out.push(rel);
            }
        }
    }

    #[test]
    fn every_file_of_the_ui_directory_is_embedded_and_nothing_else() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui");
        let mut on_disk = Vec::new();
        files_under(&dir, "", &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "ui/ and ASSETS differ");
    }

    #[test]
    fn every_module_import_names_an_embedded_file() {
        for a in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let base = a.path.rsplit_once('/').map_or("", |(d, _)| d);
            for part in a
                .body
                .split("from '")
                .skip(1)
                .chain(a.body.split("import('").skip(1))
            {
                let Some((target, _)) = part.split_once('\'') else {
                    continue;
                };
                let mut segments: Vec<&str> = if base.is_empty() {
                    Vec::new()
                } else {
                    base.split('/').collect()
                };
                for s in target.split('/') {
                    match s {
                        "." => {}
                        ".." => {
                            segments.pop();
                        }
                        s => segments.push(s),
                    }
                }
                let resolved = segments.join("/");
                assert!(
                    find(&resolved).is_some(),
                    "{} imports {target} ({resolved}), which is not embedded",
                    a.path
                );
            }
        }
    }
}
