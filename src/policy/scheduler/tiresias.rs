//! Tiresias 2D-LAS.
//!
//! (Being written: this placeholder keeps the crate compiling.)

use super::{Scheduler, SchedulingPass};

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Tiresias;

impl Tiresias {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(_params: &toml::Table) -> Result<Self, String> {
        Err("`tiresias` is not implemented yet".into())
    }
}

impl Scheduler for Tiresias {
    fn name(&self) -> &'static str {
        "tiresias"
    }

    fn schedule(&mut self, _pass: &mut dyn SchedulingPass) {}
}
