//! schedlab: a deterministic discrete-event simulator of ML workloads on
//! Kubernetes GPU clusters.
//!
//! Data flows one way: [`trace`] importers and the synthetic generator produce
//! a [`workload`]; the [`engine`] owns the [`cluster`] ledger and replays the
//! workload, asking the [`policy`] implementations what to do and applying
//! their decisions; [`metrics`] record what happened and [`report`] turns the
//! records into files. [`scenario`] ties a run together and [`cli`] is the
//! command line.

pub mod cli;
pub mod cluster;
pub mod engine;
pub mod ids;
pub mod metrics;
pub mod policy;
pub mod report;
pub mod scenario;
pub mod time;
pub mod trace;
pub mod workload;
