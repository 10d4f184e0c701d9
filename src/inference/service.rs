//! The scenario type of an inference service ([`ServiceSpec`]) and the SLO
//! accounting of a run ([`SloReport`]).
//!
//! A service is a Deployment of identical replicas (pods of one shape) that
//! each serve `capacity_rps` requests per second; its request rate comes from
//! a [`RateSpec`], its latency from a [`LatencyModel`], its replica count from
//! `initial_replicas` and, optionally, an [`HpaSpec`]; `rollouts` replace the
//! model version at given times by a rolling update.
//!
//! ```toml
//! [[services]]
//! name = "ranker"
//! priority = 1000
//! replica = { gpus = 1, cpu_milli = 8000, memory_mib = 32768 }
//! capacity_rps = 50.0
//! slo_ms = 200.0
//! initial_replicas = 4
//! latency = { kind = "mmc" }
//! rate = { kind = "diurnal", base_rps = 150.0, amplitude = 0.5, duration_s = 86400 }
//! hpa = { min_replicas = 2, max_replicas = 16, target_utilization = 0.7 }
//! rollouts = [{ at_s = 43200, version = "v2", max_surge = 1, max_unavailable = 0 }]
//! ```
//!
//! **SLO accounting**: the engine records a [`SloSample`] whenever the
//! service's state changes (rate, ready replicas, latency); each sample holds
//! until the next one, the last until the end of the run. A sample violates
//! the SLO when its p95 latency is above `slo_ms` (strictly).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::hpa::HpaSpec;
use super::latency::LatencyModel;
use super::rate::RateSpec;
use super::rollout::IntOrPercent;
use super::{SpecError, positive};
use crate::time::{MS_PER_SEC, SimTime, secs_to_millis};
use crate::workload::GpuDemand;

/// An inference service (scenario type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Unique name; pods are named after it.
    pub name: String,
    /// Pod priority (higher preempts lower where preemption applies; default 0).
    #[serde(default)]
    pub priority: i32,
    /// The resources of one replica.
    pub replica: ReplicaShape,
    /// Requests per second one ready replica serves (the M/M/c service rate).
    pub capacity_rps: f64,
    /// How latency follows from load.
    pub latency: LatencyModel,
    /// The SLO: target p95 latency, ms.
    pub slo_ms: f64,
    /// The request rate.
    pub rate: RateSpec,
    /// The autoscaler; without it the replica count stays `initial_replicas`.
    #[serde(default)]
    pub hpa: Option<HpaSpec>,
    /// Replicas at the start, ≥ 1 (the HPA clamps it into its range at its
    /// first sync).
    pub initial_replicas: u32,
    /// Rolling updates to new versions, in time order.
    #[serde(default)]
    pub rollouts: Vec<RolloutSpec>,
}

/// The resources of one replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaShape {
    /// Whole GPUs (default 0).
    #[serde(default)]
    pub gpus: u32,
    /// A share of one GPU in milli-GPUs, 1..=999, instead of `gpus`.
    #[serde(default)]
    pub gpu_milli: Option<u32>,
    /// CPU request, millicores.
    pub cpu_milli: u32,
    /// Memory request, MiB.
    pub memory_mib: u64,
}

impl ReplicaShape {
    /// The GPU demand of one replica.
    pub fn gpu(&self) -> Result<GpuDemand, SpecError> {
        GpuDemand::from_columns(self.gpus, self.gpu_milli.unwrap_or(0)).map_err(|m| {
            SpecError::new(
                if self.gpu_milli.is_some() {
                    "gpu_milli"
                } else {
                    "gpus"
                },
                m,
            )
        })
    }
}

/// A rolling update to a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    /// When the update starts, seconds since the scenario start.
    pub at_s: f64,
    /// The new version's label.
    pub version: String,
    /// Extra pods allowed during the update: a count or `"N%"` of the
    /// replicas, rounded up (default `"25%"`).
    #[serde(default = "default_fencepost")]
    pub max_surge: IntOrPercent,
    /// Pods that may be unavailable: a count or `"N%"`, rounded down (default
    /// `"25%"`; if both resolve to 0, 1).
    #[serde(default = "default_fencepost")]
    pub max_unavailable: IntOrPercent,
}

fn default_fencepost() -> IntOrPercent {
    IntOrPercent::DEFAULT
}

impl RolloutSpec {
    /// The start time.
    pub fn at(&self) -> Result<SimTime, SpecError> {
        secs_to_millis(self.at_s).map(SimTime).ok_or_else(|| {
            SpecError::new(
                "at_s",
                format!("got {}, expected a number of seconds ≥ 0", self.at_s),
            )
        })
    }
}

impl ServiceSpec {
    /// Checks every field, the nested rate, latency and HPA specs included;
    /// errors name the field relative to the service (`rate.window_s`,
    /// `rollouts[1].at_s`, …). Does not read trace files.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.name.trim().is_empty() {
            return Err(SpecError::new("name", "expected a non-empty name"));
        }
        self.replica.gpu().map_err(|e| e.within("replica"))?;
        positive("capacity_rps", self.capacity_rps)?;
        positive("slo_ms", self.slo_ms)?;
        self.latency.validate().map_err(|e| e.within("latency"))?;
        self.rate.validate().map_err(|e| e.within("rate"))?;
        if let Some(hpa) = &self.hpa {
            hpa.validate().map_err(|e| e.within("hpa"))?;
        }
        if self.initial_replicas == 0 {
            return Err(SpecError::new(
                "initial_replicas",
                "got 0, expected at least 1",
            ));
        }
        let mut prev: Option<SimTime> = None;
        for (i, r) in self.rollouts.iter().enumerate() {
            let at = r.at().map_err(|e| e.within(&format!("rollouts[{i}]")))?;
            if let Some(p) = prev
                && at <= p
            {
                return Err(SpecError::new(
                    format!("rollouts[{i}].at_s"),
                    format!(
                        "got {}, expected a time after the previous rollout's {p} s",
                        r.at_s
                    ),
                ));
            }
            if r.version.trim().is_empty() {
                return Err(SpecError::new(
                    format!("rollouts[{i}].version"),
                    "expected a non-empty version label",
                ));
            }
            if let IntOrPercent::Percent(p) = r.max_unavailable
                && p > 100
            {
                return Err(SpecError::new(
                    format!("rollouts[{i}].max_unavailable"),
                    format!("got {p}%, expected at most 100%"),
                ));
            }
            prev = Some(at);
        }
        Ok(())
    }

    /// Paths of the trace files the service reads (relative as written).
    pub fn trace_paths(&self) -> Vec<PathBuf> {
        match &self.rate {
            RateSpec::GenaiQps(s) => vec![s.path.clone()],
            RateSpec::Csv(s) => vec![s.path.clone()],
            RateSpec::Diurnal(_) => Vec::new(),
        }
    }
}

/// The state of a service from `t` until the next sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SloSample {
    /// When this state began.
    pub t: SimTime,
    /// p95 latency, ms.
    pub p95_ms: f64,
    /// Replicas running (they cost, ready or not).
    pub replicas: u32,
    /// Request rate, requests per second.
    pub rate_rps: f64,
}

/// What a service's run amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SloReport {
    /// Time covered, seconds (first sample to the end).
    pub duration_s: f64,
    /// Minutes during which p95 latency was above the SLO.
    pub slo_violation_minutes: f64,
    /// Time-weighted mean of the p95 latency, ms.
    pub mean_p95_ms: f64,
    /// Time-weighted 95th percentile of the p95 latency, ms: the smallest
    /// sampled value at or below which the p95 stayed for ≥ 95% of the time.
    pub p95_of_p95_ms: f64,
    /// Largest p95 latency, ms.
    pub max_p95_ms: f64,
    /// Replicas × hours.
    pub replica_hours: f64,
    /// Requests that arrived (rate integrated over time).
    pub requests: f64,
    /// Requests that arrived while the SLO was violated.
    pub requests_in_violation: f64,
}

impl SloReport {
    /// Accounts `samples` (in time order; a sample earlier than its
    /// predecessor lasts 0) up to `end`, against an SLO of `slo_ms`. Samples
    /// at or after `end` last 0. NaN latencies count as violations.
    pub fn compute(samples: &[SloSample], end: SimTime, slo_ms: f64) -> SloReport {
        let mut r = SloReport {
            duration_s: 0.0,
            slo_violation_minutes: 0.0,
            mean_p95_ms: 0.0,
            p95_of_p95_ms: 0.0,
            max_p95_ms: 0.0,
            replica_hours: 0.0,
            requests: 0.0,
            requests_in_violation: 0.0,
        };
        let mut weighted: Vec<(f64, u64)> = Vec::with_capacity(samples.len());
        let mut total_ms = 0u64;
        let mut latency_ms_ms = 0.0;
        let mut violation_ms = 0u64;
        let mut replica_ms = 0u128;
        for (i, s) in samples.iter().enumerate() {
            let until = samples.get(i + 1).map_or(end, |n| n.t).min(end);
            let d = until.since(s.t);
            if d == 0 {
                continue;
            }
            let secs = d as f64 / MS_PER_SEC as f64;
            let violating = s.p95_ms.is_nan() || s.p95_ms > slo_ms;
            total_ms += d;
            latency_ms_ms += s.p95_ms * d as f64;
            replica_ms += u128::from(s.replicas) * u128::from(d);
            let requests = s.rate_rps.max(0.0) * secs;
            r.requests += requests;
            if violating {
                violation_ms += d;
                r.requests_in_violation += requests;
            }
            r.max_p95_ms = r.max_p95_ms.max(s.p95_ms);
            weighted.push((s.p95_ms, d));
        }
        if total_ms == 0 {
            return r;
        }
        r.duration_s = total_ms as f64 / MS_PER_SEC as f64;
        r.slo_violation_minutes = violation_ms as f64 / 60_000.0;
        r.mean_p95_ms = latency_ms_ms / total_ms as f64;
        r.replica_hours = replica_ms as f64 / 3_600_000.0;
        weighted.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Smallest value whose cumulative time reaches 95% (integer ms).
        let need = (u128::from(total_ms) * 95).div_ceil(100);
        let mut acc = 0u128;
        for &(v, d) in &weighted {
            acc += u128::from(d);
            if acc >= need {
                r.p95_of_p95_ms = v;
                break;
            }
        }
        r
    }
}
