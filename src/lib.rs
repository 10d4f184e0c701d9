//! schedlab: a deterministic discrete-event simulator of ML workloads on
//! Kubernetes GPU clusters.
//!
//! Data flows one way: [`trace`] importers and the synthetic generator produce
//! a [`workload`]; the [`engine`] owns the [`cluster`] ledger and replays the
//! workload, asking the [`policy`] implementations what to do and applying
//! their decisions; [`metrics`] record what happened and [`report`] turns the
//! records into files. [`scenario`] ties a run together and [`cli`] is the
//! command line.
//!
//! Running the engine from code:
//!
//! ```
//! use schedlab::cluster::PoolSpec;
//! use schedlab::engine::{EngineConfig, simulate};
//! use schedlab::metrics::Summary;
//! use schedlab::policy::{placement::PlacementKind, scheduler::SchedulerKind};
//! use schedlab::workload::{JobDraft, Workload};
//!
//! let pools = [PoolSpec {
//!     name: "v100".into(),
//!     nodes: 1,
//!     gpus_per_node: 4,
//!     gpu_model: "V100".into(),
//!     cpu_milli: 32_000,
//!     memory_mib: 131_072,
//!     price_per_node_hour: None,
//!     labels: Default::default(),
//!     kind: Default::default(),
//! }];
//! // Two 3-GPU jobs on one 4-GPU node: the second waits for the first.
//! let workload = Workload::from_drafts(vec![
//!     JobDraft::new("a").gpus(3).duration_s(60),
//!     JobDraft::new("b").submit_s(10).gpus(3).duration_s(60),
//! ]);
//! let run = simulate(&workload, &pools, SchedulerKind::Fifo, PlacementKind::BestFit,
//!                    EngineConfig::default())?;
//! let summary = Summary::compute(&workload, &run);
//! assert_eq!(summary.wait_s.max, 50.0);
//! assert_eq!(summary.makespan_s, 120.0);
//! # Ok::<(), schedlab::engine::EngineError>(())
//! ```

pub mod cli;
pub mod cluster;
pub mod engine;
pub mod experiment;
pub mod ids;
pub mod inference;
pub mod kube;
pub mod metrics;
pub mod policy;
pub mod report;
pub mod scenario;
pub mod time;
pub mod trace;
pub mod workload;
