//! EASY backfilling.
//!
//! (Being written: this placeholder keeps the crate compiling.)

use super::{Scheduler, SchedulingPass};

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct EasyBackfill;

impl EasyBackfill {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(_params: &toml::Table) -> Result<Self, String> {
        Err("`easy-backfill` is not implemented yet".into())
    }
}

impl Scheduler for EasyBackfill {
    fn name(&self) -> &'static str {
        "easy-backfill"
    }

    fn schedule(&mut self, _pass: &mut dyn SchedulingPass) {}
}
