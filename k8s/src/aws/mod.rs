//! Our CRDs in group `gateway.k8s.aws`.
