//! Strict first-in-first-out, as a batch queue without backfilling (and as
//! Kueue's `StrictFIFO` queueing strategy): jobs start in arrival order and the
//! first job that does not fit blocks every job behind it.
//!
//! Order: submission time, then lower job id. Parameters: none.

use super::{Scheduler, SchedulingPass, StartOutcome};

/// Strict FIFO; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fifo;

impl Scheduler for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        for i in 0..pass.pending().len() {
            let job = pass.pending()[i];
            if pass.try_start(job) == StartOutcome::NoFit {
                break;
            }
        }
    }
}
