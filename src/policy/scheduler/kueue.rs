//! Kueue-style quotas.
//!
//! (Being written: this placeholder keeps the crate compiling.)

use super::{Scheduler, SchedulingPass};

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Kueue;

impl Kueue {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(_params: &toml::Table) -> Result<Self, String> {
        Err("`kueue` is not implemented yet".into())
    }
}

impl Scheduler for Kueue {
    fn name(&self) -> &'static str {
        "kueue"
    }

    fn schedule(&mut self, _pass: &mut dyn SchedulingPass) {}
}
