//! Kubernetes audit policies.
