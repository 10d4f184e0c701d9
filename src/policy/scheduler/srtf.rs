//! Preemptive shortest remaining time first.
//!
//! (Being written: this placeholder keeps the crate compiling.)

use super::{Scheduler, SchedulingPass};

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Srtf;

impl Srtf {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(_params: &toml::Table) -> Result<Self, String> {
        Err("`srtf` is not implemented yet".into())
    }
}

impl Scheduler for Srtf {
    fn name(&self) -> &'static str {
        "srtf"
    }

    fn schedule(&mut self, _pass: &mut dyn SchedulingPass) {}
}
