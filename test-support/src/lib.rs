//! Dev-only support for Albatross integration tests that talk to AWS.
//!
//! - [`moto`]: installs (once, into `<target>/moto-venv`) and launches a real
//!   [moto](https://github.com/getmoto/moto) server per test: [`Moto::start`].
//! - [`proxy`]: an HTTP proxy in front of moto that refuses what real AWS refuses but moto
//!   accepts (ELBv2 quotas and validation, idempotent creates), injects faults (throttling,
//!   server errors, dropped connections, a hold switch for crash tests) and records every call:
//!   [`Proxy::start`].
//! - [`kube_api`]: a fake Kubernetes API server (discovery, watches, the four patch types,
//!   finalizers, the status subresource) that a kube-rs client talks to over plain HTTP, with
//!   request recording and fault injection: [`FakeApiServer::start`].
//!
//! ```no_run
//! # async fn demo() {
//! use albatross_test_support::{Moto, Proxy, ProxyOptions};
//! let moto = Moto::start();
//! let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
//! // point the AWS SDK clients at `proxy.endpoint()` (any credentials, region us-east-1)
//! assert_eq!(proxy.count("CreateRule"), 0);
//! # }
//! ```

pub mod acm;
mod http1;
pub mod kube_api;
pub mod loopback;
pub mod moto;
pub mod network;
pub mod proxy;
pub mod rbac;
pub mod serve;

pub use kube_api::{FakeApiServer, Recorded, ResourceDef};
pub use moto::{Moto, moto_server_path};
pub use proxy::{ApiClass, AwsLimits, BucketLimit, Call, Fault, Faults, Proxy, ProxyOptions, Quotas};
