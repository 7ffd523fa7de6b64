//! `albatross webhook` as a process: self-signed bootstrap, admin endpoints, graceful stop.

use albatross_test_support::loopback::{free_port, http_get};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn webhook_bootstraps_its_certificate_turns_ready_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, admin) = (free_port(), free_port());
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_albatross"))
            .args(["webhook", "--listen", &format!("127.0.0.1:{tls}"), "--admin-listen", &format!("127.0.0.1:{admin}")])
            .arg("--self-signed")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, _)) = http_get(admin, "/readyz") {
            break;
        }
        assert!(Instant::now() < deadline, "webhook never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(http_get(admin, "/healthz").unwrap().0, 200);
    let (status, metrics) = http_get(admin, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("application/openmetrics-text") && metrics.contains("# EOF"), "{metrics}");
    for file in ["ca.crt", "tls.crt", "tls.key"] {
        assert!(dir.path().join(file).exists(), "{file} not written");
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", tls)).is_ok(), "TLS port not listening");

    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "webhook did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn webhook_without_certificates_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_albatross")).args(["webhook"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
