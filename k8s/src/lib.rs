//! Kubernetes types of Albatross.
//!
//! `gateway_api` holds the Gateway API types generated from the pinned CRDs; `aws` holds our
//! own `gateway.k8s.aws` CRDs. Everything else in the workspace speaks these types.

pub mod aws;
pub mod gateway_api;
pub mod route;
