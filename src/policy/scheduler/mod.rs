//! Queue policies. Each file holds one policy; [`SchedulerKind`] is the closed
//! list a scenario may name.

mod fifo;
mod fifo_skip;
mod sjf;

pub use fifo::Fifo;
pub use fifo_skip::FifoSkip;
pub use sjf::Sjf;

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

    /// Running jobs, in no particular order (it changes as jobs start and
    /// stop; copy it before starting or preempting).
    fn running(&self) -> &[JobId];
    /// A job's progress as of now.
    fn progress(&self, job: JobId) -> JobProgress;
    /// Where a running job's workers are (empty when not running).
    fn allocations(&self, job: JobId) -> &[WorkerAlloc];
    /// Stops a running job; it keeps its progress up to the last checkpoint and
    /// waits again (it is not in [`SchedulingPass::pending`] until the pass
    /// ends, but [`SchedulingPass::try_start`] may restart it). Returns false
    /// if it was not running.
    fn preempt(&mut self, job: JobId) -> bool;
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
}

impl SchedulerKind {
    /// Every scheduler, in name order.
    pub const ALL: [SchedulerKind; 3] = [
        SchedulerKind::Fifo,
        SchedulerKind::FifoSkip,
        SchedulerKind::Sjf,
    ];

    /// A fresh instance of the policy.
    pub fn build(self) -> Box<dyn Scheduler> {
        match self {
            SchedulerKind::Fifo => Box::new(Fifo),
            SchedulerKind::FifoSkip => Box::new(FifoSkip),
            SchedulerKind::Sjf => Box::new(Sjf::default()),
        }
    }

    /// The scenario name of the policy.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Fifo => "fifo",
            SchedulerKind::FifoSkip => "fifo-skip",
            SchedulerKind::Sjf => "sjf",
        }
    }
}
