//! Helpers shared by the CLI tests that run `kguard serve` as a process.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `kguard pki init DIR` with SANs for localhost and 127.0.0.1.
pub fn pki_init(dir: &Path) {
    let init = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["pki", "init"])
        .arg(dir)
        .args(["--san", "localhost", "--san", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
}

/// Starts `kguard serve --config CONFIG`, output discarded.
pub fn serve(config: &Path) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Killed(child)
}
