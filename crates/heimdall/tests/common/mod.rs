//! What the binary's tests share: a gateway process killed when dropped, a free port.
#![allow(dead_code, clippy::unwrap_used)]

use std::process::Child;

/// A gateway process, killed when dropped (with the app dir it may own, removed after it).
pub struct Gateway(pub Child, pub Option<tempfile::TempDir>);

impl Gateway {
    /// Send the process SIGTERM (what an orchestrator does to stop it).
    pub fn terminate(&self) {
        let pid = self.0.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on (now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
