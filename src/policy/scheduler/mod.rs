//! Queue policies. Each file holds one policy; [`SchedulerKind`] is the closed
//! list a scenario may name.

mod drf;
mod easy_backfill;
mod fifo;
mod fifo_skip;
mod kueue;
mod las;
mod priority;
mod sjf;
mod srtf;
mod themis;
mod tiresias;

pub use drf::Drf;
pub use easy_backfill::EasyBackfill;
pub use fifo::Fifo;
pub use fifo_skip::FifoSkip;
pub use kueue::Kueue;
pub use las::Las;
pub use priority::Priority;
pub use sjf::Sjf;
pub use srtf::Srtf;
pub use themis::Themis;
pub use tiresias::Tiresias;

use serde::{Deserialize, Serialize};

use crate::cluster::{ClusterView, WorkerAlloc};
use crate::engine::JobProgress;
use crate::ids::JobId;
use crate::time::SimTime;
use crate::workload::{Job, Workload};

/// The outcome of asking the engine to start a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// Every worker was placed; the job is running.
    Started,
    /// The gang does not fit now; nothing changed.
    NoFit,
    /// The job is not pending (already started, or never arrived).
    NotPending,
}

/// What a scheduler sees and may do during one scheduling pass. The engine
/// implements it; a pass only ever allocates, so a job that did not fit earlier
/// in the pass will not fit later in it either.
pub trait SchedulingPass {
    /// The current simulated time.
    fn now(&self) -> SimTime;
    /// All jobs of the scenario.
    fn workload(&self) -> &Workload;
    /// Pending jobs in arrival order (submission time, then id). Stable for the
    /// whole pass: jobs started during the pass stay listed until it ends.
    fn pending(&self) -> &[JobId];
    /// The cluster as it is now, including jobs started earlier in this pass.
    fn cluster(&self) -> ClusterView<'_>;
    /// Places every worker of the job with the scenario's placement policy and
    /// starts it, or changes nothing.
    fn try_start(&mut self, job: JobId) -> StartOutcome;

    /// Tells the engine the scheduler holds a pending job for a quota this
    /// pass (for the why-pending report). Optional; the default ignores it.
    fn held_for_quota(&mut self, _job: JobId) {}

    /// Running jobs, in no particular order (it changes as jobs start and
    /// stop; copy it before starting or preempting).
    fn running(&self) -> &[JobId];
    /// A job's progress as of now.
    fn progress(&self, job: JobId) -> JobProgress;
    /// A job's lifecycle state (cheaper than `progress(job).state`).
    fn state(&self, job: JobId) -> crate::engine::JobState;
    /// Where a running job's workers are (empty when not running).
    fn allocations(&self, job: JobId) -> &[WorkerAlloc];
    /// Stops a running job; it keeps its progress up to the last checkpoint and
    /// waits again (it is not in [`SchedulingPass::pending`] until the pass
    /// ends, but [`SchedulingPass::try_start`] may restart it). Returns false
    /// if it was not running.
    fn preempt(&mut self, job: JobId) -> bool;
    /// Like [`SchedulingPass::try_start`], but only on the pools marked true
    /// in `pools` (indexed by pool id), e.g. a Kueue flavor's nodes. The job's
    /// own GPU-model constraint still applies.
    fn try_start_in(&mut self, job: JobId, pools: &[bool]) -> StartOutcome;
    /// Asks for another scheduling pass at `at` (e.g. when a running job will
    /// cross a priority threshold). Requests in the past or for an instant
    /// that already has one are merged.
    fn wake_at(&mut self, at: SimTime);
    /// Would the job's whole gang fit now?
    fn fits_now(&self, job: JobId) -> bool;
    /// Would the job's whole gang fit if these running jobs were preempted?
    /// Changes nothing.
    fn fits_if_preempted(&mut self, job: JobId, victims: &[JobId]) -> bool;

    /// Shorthand for `workload().job(id)`.
    fn job(&self, id: JobId) -> &Job {
        self.workload().job(id)
    }
}

/// A queue policy.
pub trait Scheduler {
    /// The name used in scenarios and reports.
    fn name(&self) -> &'static str;
    /// Runs one scheduling pass: try pending jobs in the policy's order.
    fn schedule(&mut self, pass: &mut dyn SchedulingPass);

    /// True when, after every pass, no pending job could start (the policy
    /// tries every pending job). The invariant checker then verifies it.
    fn work_conserving(&self) -> bool {
        false
    }
}

/// The schedulers a scenario may name (`policy.scheduler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    /// Strict FIFO: the head of the queue blocks everything behind it.
    Fifo,
    /// FIFO order, but any job that fits starts (greedy backfill).
    FifoSkip,
    /// Shortest job first by trace duration (an oracle), skipping jobs that do
    /// not fit.
    Sjf,
    /// Preemptive shortest remaining time first.
    Srtf,
    /// Least attained service (preemptive).
    Las,
    /// Tiresias 2D-LAS with discretised queues (NSDI'19).
    Tiresias,
    /// Themis finish-time fairness across tenants (NSDI'20).
    Themis,
    /// Dominant resource fairness across tenants.
    Drf,
    /// Kubernetes priority classes with preemption.
    Priority,
    /// EASY backfilling with a reservation for the head job.
    EasyBackfill,
    /// Kueue-style ClusterQueues, cohorts, borrowing and fair sharing.
    Kueue,
}

impl SchedulerKind {
    /// Every scheduler.
    pub const ALL: [SchedulerKind; 11] = [
        SchedulerKind::Fifo,
        SchedulerKind::FifoSkip,
        SchedulerKind::Sjf,
        SchedulerKind::Srtf,
        SchedulerKind::Las,
        SchedulerKind::Tiresias,
        SchedulerKind::Themis,
        SchedulerKind::Drf,
        SchedulerKind::Priority,
        SchedulerKind::EasyBackfill,
        SchedulerKind::Kueue,
    ];

    /// A fresh instance of the policy with its default parameters.
    ///
    /// # Panics
    /// If the policy has no usable defaults (Kueue needs its queues): use
    /// [`SchedulerKind::build_with`].
    pub fn build(self) -> Box<dyn Scheduler> {
        self.build_with(&toml::Table::new())
            .unwrap_or_else(|e| panic!("{} needs parameters: {e}", self.name()))
    }

    /// A fresh instance configured from the scenario's
    /// `[policy.scheduler_params]` table; the error names the bad field.
    pub fn build_with(self, params: &toml::Table) -> Result<Box<dyn Scheduler>, String> {
        let none = || {
            if params.is_empty() {
                Ok(())
            } else {
                Err(format!("`{}` takes no parameters", self.name()))
            }
        };
        Ok(match self {
            SchedulerKind::Fifo => none().map(|()| Box::new(Fifo) as Box<dyn Scheduler>)?,
            SchedulerKind::FifoSkip => none().map(|()| Box::new(FifoSkip) as Box<dyn Scheduler>)?,
            SchedulerKind::Sjf => {
                none().map(|()| Box::new(Sjf::default()) as Box<dyn Scheduler>)?
            }
            SchedulerKind::Srtf => Box::new(Srtf::from_params(params)?),
            SchedulerKind::Las => Box::new(Las::from_params(params)?),
            SchedulerKind::Tiresias => Box::new(Tiresias::from_params(params)?),
            SchedulerKind::Themis => Box::new(Themis::from_params(params)?),
            SchedulerKind::Drf => Box::new(Drf::from_params(params)?),
            SchedulerKind::Priority => Box::new(Priority::from_params(params)?),
            SchedulerKind::EasyBackfill => Box::new(EasyBackfill::from_params(params)?),
            SchedulerKind::Kueue => Box::new(Kueue::from_params(params)?),
        })
    }

    /// The scenario name of the policy.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Fifo => "fifo",
            SchedulerKind::FifoSkip => "fifo-skip",
            SchedulerKind::Sjf => "sjf",
            SchedulerKind::Srtf => "srtf",
            SchedulerKind::Las => "las",
            SchedulerKind::Tiresias => "tiresias",
            SchedulerKind::Themis => "themis",
            SchedulerKind::Drf => "drf",
            SchedulerKind::Priority => "priority",
            SchedulerKind::EasyBackfill => "easy-backfill",
            SchedulerKind::Kueue => "kueue",
        }
    }
}

/// Deserializes a policy's parameter struct from the scenario's params table;
/// unknown fields are errors that name the field.
pub fn parse_params<T: serde::de::DeserializeOwned>(params: &toml::Table) -> Result<T, String> {
    toml::Value::Table(params.clone())
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())
}
