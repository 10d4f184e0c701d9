//! Policies decide; the engine applies. A [`scheduler::Scheduler`] chooses
//! which pending jobs to try and in what order; a [`placement::Placement`]
//! chooses the node (and GPUs) of each worker over a read-only cluster view.
//! Scenarios name policies through closed enums, so a misspelt name fails when
//! the scenario is loaded.

pub mod autoscaler;
pub mod elastic;
pub mod placement;
pub mod scheduler;
