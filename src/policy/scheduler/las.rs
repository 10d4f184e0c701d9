//! Least attained service.
//!
//! (Being written: this placeholder keeps the crate compiling.)

use super::{Scheduler, SchedulingPass};

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Las;

impl Las {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(_params: &toml::Table) -> Result<Self, String> {
        Err("`las` is not implemented yet".into())
    }
}

impl Scheduler for Las {
    fn name(&self) -> &'static str {
        "las"
    }

    fn schedule(&mut self, _pass: &mut dyn SchedulingPass) {}
}
