//! Cluster mode: a scenario run on a real Kubernetes control plane, with
//! schedlab as the scheduler, and a fidelity report against the simulation
//! of the same scenario.
//!
//! - [`objects`]: the objects a run creates (namespace, KWOK fake nodes,
//!   one pod per job worker, Bindings), as pure functions.
//! - [`mirror`]: the ledger mirrored from what was bound and observed
//!   finished, and the [`crate::policy::scheduler::SchedulingPass`] through
//!   which the scenario's own scheduler and placement policy decide.
//! - [`api`]: connecting (with a check before anything is created), retries
//!   with backoff, and `cluster clean`.
//! - [`driver`]: the run itself: arrivals at `submit / speedup`, the pod and
//!   node watches, binds, preemptions, completions, and the scenario's
//!   cluster-autoscaler creating and deleting KWOK nodes.
//! - [`fidelity`]: the comparison with the simulation.
//!
//! Time: the run's clock is the wall clock since the first arrival, times the
//! speedup, in scenario milliseconds. Pod transitions are timed when their
//! watch event arrives; the API's own timestamps (1 s resolution) are kept as
//! a check.

pub mod api;
pub mod driver;
pub mod fidelity;
pub mod mirror;
pub mod objects;

use std::path::PathBuf;

/// Everything that can stop a cluster-mode command.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot read kubeconfig {}", path.display())]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("cannot build a Kubernetes client from {}", path.display())]
    Client {
        path: PathBuf,
        #[source]
        source: kube::Error,
    },
    #[error(
        "the API server {server} is unreachable (is the control plane up? `scripts/control-plane.sh up`, or `kind create cluster`)"
    )]
    Unreachable {
        server: String,
        #[source]
        source: kube::Error,
    },
    #[error("the API server {server} did not answer within {timeout_s} s")]
    Timeout { server: String, timeout_s: u64 },
    #[error("the API server {server} rejected the kubeconfig's credentials (HTTP 401): {message}")]
    Unauthorized { server: String, message: String },
    #[error(
        "the kubeconfig's user may not {what} (HTTP 403; see deploy/rbac.yaml for the permissions cluster mode needs): {message}"
    )]
    Forbidden { what: String, message: String },
    #[error("{what} failed")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "KWOK did not make the fake nodes Ready within {timeout_s} s ({ready} of {total} ready): is kwok running with --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake?"
    )]
    NodesNotReady {
        ready: usize,
        total: usize,
        timeout_s: u64,
    },
    #[error("cluster mode does not support {0} yet")]
    Unsupported(String),
    #[error("--speedup must be a finite number ≥ 1, got {0}")]
    BadSpeedup(f64),
    #[error("node {0} was deleted during the run")]
    NodeLost(String),
    #[error("the placement policy misbehaved: {0}")]
    Policy(String),
    #[error("namespaces {0:?} are still Terminating 30 s after their deletion")]
    NamespacesStuck(Vec<String>),
    #[error("the {0} watch ended")]
    WatchEnded(&'static str),
    #[error("interrupted (Ctrl-C); the run's namespace and nodes were deleted")]
    Interrupted,
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error("simulating the scenario for the fidelity report failed: {0}")]
    Simulation(String),
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests;
