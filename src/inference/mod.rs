//! Inference serving beside training: the pure models the engine calls for
//! long-running services. Nothing here owns simulated time or the cluster; every
//! model is a value or a small state machine advanced by the caller.
//!
//! | module | what |
//! |---|---|
//! | [`rate`] | request-rate inputs as step functions of time: the Alibaba GenAI QPS trace, a `time_s,rate_rps` CSV, a seeded diurnal pattern |
//! | [`latency`] | latency of a service from its load: an M/M/c queue or a utilisation→latency curve |
//! | [`hpa`] | the Kubernetes HorizontalPodAutoscaler (autoscaling/v2) with behaviour: stabilisation windows and rate policies |
//! | [`rollout`] | the Deployment rolling-update planner (maxSurge / maxUnavailable) |
//! | [`service`] | the scenario type of a service and the SLO accounting of a run |
//! | [`dlrm`] | importer of the Alibaba DLRM inference instances as a static service load |
//!
//! Units: times are [`SimTime`](crate::time::SimTime) milliseconds inside the
//! models and seconds (`*_s`) in scenario files; rates are requests per second;
//! latencies are milliseconds (`*_ms`); utilisation is a fraction (0.7 = 70%).

pub mod dlrm;
pub mod hpa;
pub mod latency;
pub mod rate;
pub mod rollout;
pub mod service;

pub use dlrm::{DlrmImport, DlrmInstance, DlrmRole};
pub use hpa::{Hpa, HpaDecision, HpaSpec, ScalingPolicy, ScalingPolicyType, SelectPolicy};
pub use latency::{LatencyEstimate, LatencyModel};
pub use rate::{RateError, RateSeries, RateSpec};
pub use rollout::{IntOrPercent, Rollout, RolloutAction, RolloutCounts};
pub use service::{ReplicaShape, RolloutSpec, ServiceSpec, SloReport, SloSample};

/// A scenario value that failed validation: the dotted path of the field
/// (`hpa.behavior.scale_up.policies[0].period_s`) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct SpecError {
    /// Dotted path of the offending field, relative to the value validated.
    pub field: String,
    /// What was wrong and what is expected.
    pub message: String,
}

impl SpecError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error seen from an enclosing value: `prefix.field`.
    pub fn within(self, prefix: &str) -> Self {
        SpecError {
            field: if prefix.is_empty() {
                self.field
            } else {
                format!("{prefix}.{}", self.field)
            },
            message: self.message,
        }
    }
}

/// `Ok(())` when `v` is finite and `> 0`, else an error naming `field`.
pub(crate) fn positive(field: &str, v: f64) -> Result<(), SpecError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(SpecError::new(
            field,
            format!("got {v}, expected a finite number > 0"),
        ))
    }
}

/// `Ok(())` when `v` is finite and `>= 0`, else an error naming `field`.
pub(crate) fn non_negative(field: &str, v: f64) -> Result<(), SpecError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(SpecError::new(
            field,
            format!("got {v}, expected a finite number ≥ 0"),
        ))
    }
}
