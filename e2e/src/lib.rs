//! End-to-end suites for Albatross. There is no library code: the suites live in `tests/`
//! (see `e2e/README.md`). `tests/kind.rs` runs the `albatross serve` binary against a real
//! Kubernetes cluster when `KUBECONFIG` is set, with moto standing in for AWS.
