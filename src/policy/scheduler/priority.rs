//! Kubernetes priority classes with preemption.
//!
//! (Being written: this placeholder keeps the crate compiling.)

use super::{Scheduler, SchedulingPass};

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Priority;

impl Priority {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(_params: &toml::Table) -> Result<Self, String> {
        Err("`priority` is not implemented yet".into())
    }
}

impl Scheduler for Priority {
    fn name(&self) -> &'static str {
        "priority"
    }

    fn schedule(&mut self, _pass: &mut dyn SchedulingPass) {}
}
