//! `albatross serve` as a child process wired to a [`FakeApiServer`] and an AWS endpoint.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::kube_api::FakeApiServer;
use crate::loopback::free_port;

/// A running `albatross serve`; killed when dropped.
pub struct ServeProcess {
    pub child: Child,
    /// Port of the TLS admission endpoints.
    pub tls: u16,
    /// Port of `/healthz`, `/readyz` and `/metrics`.
    pub admin: u16,
}

impl ServeProcess {
    /// Starts `binary serve` with a kubeconfig for `api` and its temporary files in `dir`, AWS at
    /// `aws_endpoint` without client-side rate limits, on free loopback ports, plus `env`.
    ///
    /// # Panics
    /// When the kubeconfig cannot be written or the binary not started.
    pub fn start(
        binary: &str,
        api: &FakeApiServer,
        aws_endpoint: &str,
        dir: &Path,
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> ServeProcess {
        let kubeconfig = dir.join("kubeconfig");
        api.write_kubeconfig(&kubeconfig).expect("writing the kubeconfig");
        let (tls, admin) = (free_port(), free_port());
        let child = Command::new(binary)
            .arg("serve")
            .env("KUBECONFIG", &kubeconfig)
            .env("TMPDIR", dir)
            .env("ALBATROSS_LISTEN", format!("127.0.0.1:{tls}"))
            .env("ALBATROSS_ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
            .env("ALBATROSS_AWS_ENDPOINT", aws_endpoint)
            .env("ALBATROSS_AWS_UNLIMITED", "true")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("starting albatross serve");
        ServeProcess { child, tls, admin }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
