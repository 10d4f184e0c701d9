//! FIFO with greedy backfill (kube-scheduler's behaviour with Kueue's
//! `BestEffortFIFO`): jobs are tried in arrival order and every job that fits
//! starts, so small jobs may overtake a large head that waits for capacity.
//! The head can starve; EASY backfilling (a later policy) bounds that.
//!
//! Order: submission time, then lower job id. Parameters: none.

use super::{Scheduler, SchedulingPass};

/// FIFO with greedy backfill; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct FifoSkip;

impl Scheduler for FifoSkip {
    fn name(&self) -> &'static str {
        "fifo-skip"
    }

    fn work_conserving(&self) -> bool {
        true
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        for i in 0..pass.pending().len() {
            let job = pass.pending()[i];
            pass.try_start(job);
        }
    }
}
