//! Themis finish-time fairness.
//!
//! (Being written: this placeholder keeps the crate compiling.)

use super::{Scheduler, SchedulingPass};

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Themis;

impl Themis {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(_params: &toml::Table) -> Result<Self, String> {
        Err("`themis` is not implemented yet".into())
    }
}

impl Scheduler for Themis {
    fn name(&self) -> &'static str {
        "themis"
    }

    fn schedule(&mut self, _pass: &mut dyn SchedulingPass) {}
}
