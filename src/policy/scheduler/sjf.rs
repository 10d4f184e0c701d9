//! Shortest job first (non-preemptive), using the trace's duration as an
//! oracle, as in the SJF baselines of Tiresias (NSDI'19) and Gandiva. Jobs are
//! tried from the shortest; any job that fits starts (no head-of-line blocking),
//! so long jobs can wait indefinitely under a stream of short ones.
//!
//! Order: duration at full speed, then submission time, then lower job id.
//! Parameters: none.

use super::{Scheduler, SchedulingPass};
use crate::ids::JobId;

/// Shortest job first; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct Sjf {
    /// Scratch buffer reused across passes.
    order: Vec<JobId>,
}

impl Scheduler for Sjf {
    fn name(&self) -> &'static str {
        "sjf"
    }

    fn work_conserving(&self) -> bool {
        true
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        self.order.clear();
        self.order.extend_from_slice(pass.pending());
        let w = pass.workload();
        // `pending` is in (submit, id) order, so a stable sort by duration keeps
        // that as the tie-break.
        self.order.sort_by_key(|&j| w.job(j).duration);
        for &job in &self.order {
            pass.try_start(job);
        }
    }
}
