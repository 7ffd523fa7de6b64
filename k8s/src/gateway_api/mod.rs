//! Gateway API v1.6.1 types, generated from the vendored CRDs.
