//! The listener's limits against the real binary: half-sent heads and bodies, idle keep-alive
//! connections, a full house, the fd limit line, and SIGTERM with 50 half-sent requests open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Gateway, free_port};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Start the binary with `server` settings and a log file; returns the process, port, log.
fn start(server: serde_json::Value, grace: u64) -> (Gateway, u16, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("config.json");
    let cfg = serde_json::json!({"server": server, "providers": {},
        "client": {"enable_logging": false}});
    std::fs::write(&config, cfg.to_string()).unwrap();
    let log = std::fs::File::create(dir.path().join("out.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_heimdall"))
        .args(["serve", "--port", &port.to_string(), "--log-level", "info"])
        .arg("--config")
        .arg(&config)
        .arg("--app-dir")
        .arg(dir.path())
        .args(["--shutdown-grace-seconds", &grace.to_string()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let gw = Gateway(child, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (gw, port, dir)
}

/// Read until the peer closes (or `limit` passes); returns what arrived and whether it closed.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&out).into_owned(), true);
            }
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

#[test]
fn slow_heads_bodies_and_idle_connections_are_closed_in_time() {
    let (_gw, port, dir) = start(
        serde_json::json!({"header_read_timeout_seconds": 1, "body_read_timeout_seconds": 1,
            "idle_timeout_seconds": 1}),
        5,
    );
    // A head that never ends.
    let mut head = TcpStream::connect(("127.0.0.1", port)).unwrap();
    head.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ")
        .unwrap();
    // A body that never ends.
    let mut body = TcpStream::connect(("127.0.0.1", port)).unwrap();
    body.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"model\":",
    )
    .unwrap();
    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // A keep-alive connection left idle after one request.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let (_, head_closed) = read_until_closed(&mut head, Duration::from_secs(4));
    assert!(head_closed, "a half-sent head was not closed");
    let (answer, body_closed) = read_until_closed(&mut body, Duration::from_secs(4));
    assert!(body_closed, "a half-sent body was not closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let (answer, idle_closed) = read_until_closed(&mut idle, Duration::from_secs(4));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(idle_closed, "an idle keep-alive connection was not closed");
    let (_, silent_closed) = read_until_closed(&mut silent, Duration::from_secs(2));
    assert!(silent_closed, "a silent connection was not closed");
    assert!(started.elapsed() < Duration::from_secs(5));
    let log = std::fs::read_to_string(dir.path().join("out.log")).unwrap();
    assert!(log.contains("open-file limit"), "{log}");
}

#[test]
fn a_full_house_answers_503_at_once() {
    let (_gw, port, _dir) = start(serde_json::json!({"max_connections": 3}), 5);
    // The start-up probe's connection gives its slot back.
    std::thread::sleep(Duration::from_millis(300));
    let held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    for mut s in held.iter() {
        let mut buf = [0u8; 12];
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
    }
    let mut extra = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    assert!(closed);
    drop(held);
    // Slots come back.
    std::thread::sleep(Duration::from_millis(300));
    let mut again = TcpStream::connect(("127.0.0.1", port)).unwrap();
    again
        .write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .unwrap();
    let (answer, _) = read_until_closed(&mut again, Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn sigterm_with_fifty_half_sent_requests_exits_at_once() {
    let (mut gw, port, _dir) = start(
        serde_json::json!({"header_read_timeout_seconds": 30, "body_read_timeout_seconds": 30}),
        20,
    );
    let mut open = Vec::new();
    for i in 0..50 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        if i % 2 == 0 {
            s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nx-half: ")
                .unwrap();
        } else {
            s.write_all(
                b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{",
            )
            .unwrap();
        }
        open.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    gw.terminate();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = gw.0.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running after the grace period"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();
    // Half-sent heads close at once; half-sent bodies are requests in flight that wait for
    // their bodies: bounded by the drain, far below the 30 s body timeout.
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    eprintln!("shutdown with 50 half-sent requests took {took:?}");
}
