//! The Kubernetes HorizontalPodAutoscaler, autoscaling/v2, with `behavior`
//! (kubernetes/kubernetes `pkg/controller/podautoscaler/horizontal.go` and
//! `replica_calculator.go`; defaults from `pkg/apis/autoscaling/v2/defaults.go`).
//!
//! The metric is the service's utilisation: the current request rate divided
//! by what the ready replicas can serve (`rps / (ready × capacity_rps)`),
//! compared with `target_utilization` (a fraction, 0.7 = 70%). The engine
//! calls [`Hpa::sync`] every `sync_period_s` (default 15 s) and applies the
//! returned replica count at once. One sync, as upstream:
//!
//! 1. `current = 0` → autoscaling is off, 0 is returned (upstream: a
//!    scaled-to-zero target with `minReplicas ≠ 0`). `current > max_replicas` →
//!    `max_replicas`; `current < min_replicas` → `min_replicas` (no
//!    recommendation is recorded, the scale event is).
//! 2. Otherwise the metric recommendation: `ratio = utilisation / target`; if
//!    `|1 − ratio| ≤ tolerance` (0.1) it is `current`, else
//!    `ceil(ratio × ready)` — ready replicas, not current (pods not yet ready
//!    are treated like upstream's Pending pods: ignored). Without a ready
//!    replica, or with a NaN or negative metric, there is no metric and the
//!    HPA does nothing (upstream: "failed to get metrics", no rescale, nothing
//!    recorded).
//! 3. Stabilisation: over the recommendations of the last
//!    `scale_up.stabilization_window_s` (default 0) take the minimum `up`, over
//!    the last `scale_down.stabilization_window_s` (default 300) the maximum
//!    `down` (both including this one; "last w seconds" is `t > now − w`);
//!    the result is `min(max(current, up), down)`. The raw recommendation is
//!    then recorded.
//! 4. Rate policies: for each policy, `start = current − added + removed`
//!    over the scale events of its `period_s`; up: `Pods` → `start + v`,
//!    `Percent` → `ceil(start · (1 + v/100))`; down: `Pods` → `start − v`,
//!    `Percent` → `floor(start · (1 − v/100))`. `select_policy = "Max"` takes
//!    the largest change, `"Min"` the smallest, `"Disabled"` no change in that
//!    direction. The limit never reverses direction (an up limit below
//!    `current` is `current`), and the result is clamped to
//!    `[min_replicas, max_replicas]`. Defaults: scale-up `Percent 100` and
//!    `Pods 4` per 15 s, `Max`; scale-down `Percent 100` per 15 s, `Max`.
//! 5. A change is recorded as a scale event (for the rate policies); event
//!    storage mirrors upstream (an event older than the direction's longest
//!    period is reused for the next event of that direction).
//!
//! Departures from upstream: the metric is a float, not an integer percentage;
//! percent policies use exact integer arithmetic (upstream multiplies floats);
//! `ceil(ratio × ready)` ignores float noise below 1e-9 (so `1.3 × 10` is 13,
//! not 14); the legacy path of a nil `behavior` is not modelled (the API server
//! always defaults `behavior` for autoscaling/v2 objects); per-direction
//! tolerances (alpha `HPAConfigurableTolerance`) are not modelled.

use serde::{Deserialize, Serialize};

use super::SpecError;
use crate::time::{MS_PER_SEC, Millis, SimTime};

/// The HPA controller's default sync period, seconds.
pub const DEFAULT_SYNC_PERIOD_S: u32 = 15;
/// Default tolerance around the target ratio.
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// Default scale-down stabilisation window, seconds.
pub const DEFAULT_SCALE_DOWN_WINDOW_S: u32 = 300;
/// Longest `period_s` a policy may have (upstream validation).
pub const MAX_POLICY_PERIOD_S: u32 = 1_800;
/// Longest stabilisation window (upstream validation), seconds.
pub const MAX_STABILIZATION_WINDOW_S: u32 = 3_600;

/// The kind of a rate policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalingPolicyType {
    /// At most `value` pods per period.
    Pods,
    /// At most `value` percent of the replicas at the period's start.
    Percent,
}

/// One rate policy: `type`, `value`, `period_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingPolicy {
    /// `"Pods"` or `"Percent"`.
    #[serde(rename = "type")]
    pub kind: ScalingPolicyType,
    /// Pods or percent, > 0.
    pub value: u32,
    /// Length of the look-back period, seconds, 1..=1800.
    pub period_s: u32,
}

/// How several policies of one direction combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SelectPolicy {
    /// The policy allowing the largest change (default).
    #[default]
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// One direction of `behavior`; every field optional, defaulted per
/// direction as upstream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingRulesSpec {
    /// Stabilisation window, seconds (default 0 up, 300 down; ≤ 3600).
    #[serde(default)]
    pub stabilization_window_s: Option<u32>,
    /// `"Max"` (default), `"Min"` or `"Disabled"`.
    #[serde(default)]
    pub select_policy: Option<SelectPolicy>,
    /// Rate policies (default: see the module docs); at least one unless
    /// `select_policy = "Disabled"`.
    #[serde(default)]
    pub policies: Option<Vec<ScalingPolicy>>,
}

/// `behavior`: scale-up and scale-down rules.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviorSpec {
    /// Scale-up rules (defaults when absent).
    #[serde(default)]
    pub scale_up: Option<ScalingRulesSpec>,
    /// Scale-down rules (defaults when absent).
    #[serde(default)]
    pub scale_down: Option<ScalingRulesSpec>,
}

/// The HPA of a service (scenario type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HpaSpec {
    /// Fewest replicas, ≥ 1 (default 1).
    #[serde(default = "one")]
    pub min_replicas: u32,
    /// Most replicas, ≥ `min_replicas`.
    pub max_replicas: u32,
    /// Target utilisation of the ready replicas, a fraction in (0, 1].
    pub target_utilization: f64,
    /// No change while `|1 − utilisation/target| ≤ tolerance` (default 0.1).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Seconds between syncs (default 15).
    #[serde(default = "default_sync")]
    pub sync_period_s: u32,
    /// Stabilisation windows and rate policies.
    #[serde(default)]
    pub behavior: BehaviorSpec,
}

fn one() -> u32 {
    1
}
fn default_tolerance() -> f64 {
    DEFAULT_TOLERANCE
}
fn default_sync() -> u32 {
    DEFAULT_SYNC_PERIOD_S
}

/// The resolved rules of one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalingRules {
    /// Stabilisation window, ms.
    pub stabilization_window_ms: Millis,
    /// How policies combine.
    pub select_policy: SelectPolicy,
    /// Rate policies.
    pub policies: Vec<ScalingPolicy>,
}

impl ScalingRules {
    /// Upstream's scale-up default: window 0, `Percent 100` and `Pods 4` per
    /// 15 s, `Max`.
    pub fn default_up() -> ScalingRules {
        ScalingRules {
            stabilization_window_ms: 0,
            select_policy: SelectPolicy::Max,
            policies: vec![
                ScalingPolicy {
                    kind: ScalingPolicyType::Pods,
                    value: 4,
                    period_s: 15,
                },
                ScalingPolicy {
                    kind: ScalingPolicyType::Percent,
                    value: 100,
                    period_s: 15,
                },
            ],
        }
    }

    /// Upstream's scale-down default: window 300 s, `Percent 100` per 15 s,
    /// `Max`.
    pub fn default_down() -> ScalingRules {
        ScalingRules {
            stabilization_window_ms: u64::from(DEFAULT_SCALE_DOWN_WINDOW_S) * MS_PER_SEC,
            select_policy: SelectPolicy::Max,
            policies: vec![ScalingPolicy {
                kind: ScalingPolicyType::Percent,
                value: 100,
                period_s: 15,
            }],
        }
    }

    fn resolve(spec: Option<&ScalingRulesSpec>, defaults: ScalingRules) -> Result<Self, SpecError> {
        let Some(spec) = spec else {
            return Ok(defaults);
        };
        let select_policy = spec.select_policy.unwrap_or(defaults.select_policy);
        let stabilization_window_ms = match spec.stabilization_window_s {
            Some(w) if w > MAX_STABILIZATION_WINDOW_S => {
                return Err(SpecError::new(
                    "stabilization_window_s",
                    format!("got {w}, expected at most {MAX_STABILIZATION_WINDOW_S} seconds"),
                ));
            }
            Some(w) => u64::from(w) * MS_PER_SEC,
            None => defaults.stabilization_window_ms,
        };
        let policies = match &spec.policies {
            None => defaults.policies,
            Some(p) if p.is_empty() && select_policy != SelectPolicy::Disabled => {
                return Err(SpecError::new(
                    "policies",
                    "expected at least one policy (or select_policy = \"Disabled\")",
                ));
            }
            Some(p) => {
                for (i, pol) in p.iter().enumerate() {
                    if pol.value == 0 {
                        return Err(SpecError::new(
                            format!("policies[{i}].value"),
                            "got 0, expected a value > 0",
                        ));
                    }
                    if !(1..=MAX_POLICY_PERIOD_S).contains(&pol.period_s) {
                        return Err(SpecError::new(
                            format!("policies[{i}].period_s"),
                            format!(
                                "got {}, expected 1..={MAX_POLICY_PERIOD_S} seconds",
                                pol.period_s
                            ),
                        ));
                    }
                }
                p.clone()
            }
        };
        Ok(ScalingRules {
            stabilization_window_ms,
            select_policy,
            policies,
        })
    }

    /// The longest policy period, ms.
    fn longest_period_ms(&self) -> Millis {
        self.policies
            .iter()
            .map(|p| u64::from(p.period_s) * MS_PER_SEC)
            .max()
            .unwrap_or(0)
    }
}

impl HpaSpec {
    /// Checks every field; errors name the field
    /// (`behavior.scale_up.policies[0].period_s`, …).
    pub fn validate(&self) -> Result<(), SpecError> {
        self.resolve().map(|_| ())
    }

    fn resolve(&self) -> Result<(ScalingRules, ScalingRules), SpecError> {
        if self.min_replicas == 0 {
            return Err(SpecError::new("min_replicas", "got 0, expected at least 1"));
        }
        if self.max_replicas < self.min_replicas {
            return Err(SpecError::new(
                "max_replicas",
                format!(
                    "got {}, expected at least min_replicas ({})",
                    self.max_replicas, self.min_replicas
                ),
            ));
        }
        let t = self.target_utilization;
        if !(t.is_finite() && t > 0.0 && t <= 1.0) {
            return Err(SpecError::new(
                "target_utilization",
                format!("got {t}, expected a fraction in (0, 1] such as 0.7"),
            ));
        }
        let tol = self.tolerance;
        if !(tol.is_finite() && (0.0..1.0).contains(&tol)) {
            return Err(SpecError::new(
                "tolerance",
                format!("got {tol}, expected a fraction in [0, 1) such as 0.1"),
            ));
        }
        if self.sync_period_s == 0 {
            return Err(SpecError::new(
                "sync_period_s",
                "got 0, expected at least 1 second",
            ));
        }
        let up = ScalingRules::resolve(self.behavior.scale_up.as_ref(), ScalingRules::default_up())
            .map_err(|e| e.within("behavior.scale_up"))?;
        let down = ScalingRules::resolve(
            self.behavior.scale_down.as_ref(),
            ScalingRules::default_down(),
        )
        .map_err(|e| e.within("behavior.scale_down"))?;
        Ok((up, down))
    }
}

/// Why a sync returned what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HpaReason {
    /// `current` is 0: autoscaling is off.
    ScaledToZero,
    /// `current` was above `max_replicas`.
    AboveMax,
    /// `current` was below `min_replicas`.
    BelowMin,
    /// No ready replica or no valid metric: no change.
    NoMetrics,
    /// The stabilised recommendation was within the rate limits.
    DesiredWithinRange,
    /// Limited by the scale-up policies.
    ScaleUpLimit,
    /// Limited by `max_replicas`.
    TooManyReplicas,
    /// Limited by the scale-down policies.
    ScaleDownLimit,
    /// Limited by `min_replicas`.
    TooFewReplicas,
}

/// One sync, explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HpaDecision {
    /// The replica count to apply.
    pub desired: u32,
    /// The metric's recommendation before stabilisation (none when the metric
    /// was not consulted).
    pub recommended: Option<u32>,
    /// After stabilisation, before the rate policies.
    pub stabilized: Option<u32>,
    /// What decided `desired`.
    pub reason: HpaReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScaleEvent {
    change: u32,
    at: SimTime,
    outdated: bool,
}

/// A running HPA: the spec plus the recommendation history and scale events
/// that the stabilisation windows and rate policies look back on.
#[derive(Debug, Clone)]
pub struct Hpa {
    min_replicas: u32,
    max_replicas: u32,
    target: f64,
    tolerance: f64,
    sync_period_ms: Millis,
    up: ScalingRules,
    down: ScalingRules,
    /// `(time, raw recommendation)`, in time order.
    recommendations: Vec<(SimTime, u32)>,
    up_events: Vec<ScaleEvent>,
    down_events: Vec<ScaleEvent>,
}

impl Hpa {
    /// A fresh HPA (no history) from a validated spec.
    pub fn new(spec: &HpaSpec) -> Result<Hpa, SpecError> {
        let (up, down) = spec.resolve()?;
        Ok(Hpa {
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            target: spec.target_utilization,
            tolerance: spec.tolerance,
            sync_period_ms: u64::from(spec.sync_period_s) * MS_PER_SEC,
            up,
            down,
            recommendations: Vec::new(),
            up_events: Vec::new(),
            down_events: Vec::new(),
        })
    }

    /// Time between syncs, ms.
    pub fn sync_period_ms(&self) -> Millis {
        self.sync_period_ms
    }

    /// The resolved scale-up rules.
    pub fn scale_up_rules(&self) -> &ScalingRules {
        &self.up
    }

    /// The resolved scale-down rules.
    pub fn scale_down_rules(&self) -> &ScalingRules {
        &self.down
    }

    /// One sync at `now` (non-decreasing between calls): `current_replicas`
    /// is the Deployment's replica count, `ready_replicas` those serving, and
    /// `metric_utilization` the rate over what the ready replicas can serve.
    /// Returns the replica count to apply (see the module docs).
    pub fn sync(
        &mut self,
        now: SimTime,
        current_replicas: u32,
        ready_replicas: u32,
        metric_utilization: f64,
    ) -> u32 {
        self.sync_explained(now, current_replicas, ready_replicas, metric_utilization)
            .desired
    }

    /// [`Hpa::sync`] with the intermediate values and the reason.
    pub fn sync_explained(
        &mut self,
        now: SimTime,
        current: u32,
        ready: u32,
        metric_utilization: f64,
    ) -> HpaDecision {
        let decision = if current == 0 {
            HpaDecision {
                desired: 0,
                recommended: None,
                stabilized: None,
                reason: HpaReason::ScaledToZero,
            }
        } else if current > self.max_replicas {
            HpaDecision {
                desired: self.max_replicas,
                recommended: None,
                stabilized: None,
                reason: HpaReason::AboveMax,
            }
        } else if current < self.min_replicas {
            HpaDecision {
                desired: self.min_replicas,
                recommended: None,
                stabilized: None,
                reason: HpaReason::BelowMin,
            }
        } else {
            let Some(raw) = self.metric_replicas(current, ready, metric_utilization) else {
                return HpaDecision {
                    desired: current,
                    recommended: None,
                    stabilized: None,
                    reason: HpaReason::NoMetrics,
                };
            };
            let stabilized = self.stabilize(now, current, raw);
            let (desired, reason) = self.rate_limit(now, current, stabilized);
            HpaDecision {
                desired,
                recommended: Some(raw),
                stabilized: Some(stabilized),
                reason,
            }
        };
        if decision.desired != current {
            self.store_event(now, current, decision.desired);
        }
        decision
    }

    /// The metric's recommendation: `current` within tolerance, else
    /// `ceil(ratio × ready)`; `None` without a usable metric.
    fn metric_replicas(&self, current: u32, ready: u32, utilization: f64) -> Option<u32> {
        if ready == 0 || utilization.is_nan() || utilization < 0.0 {
            return None;
        }
        let ratio = utilization / self.target;
        if (1.0 - ratio).abs() <= self.tolerance {
            return Some(current);
        }
        let want = (ratio * f64::from(ready) - 1e-9).ceil();
        Some(want.clamp(0.0, f64::from(u32::MAX)) as u32)
    }

    fn stabilize(&mut self, now: SimTime, current: u32, raw: u32) -> u32 {
        let (wu, wd) = (
            self.up.stabilization_window_ms,
            self.down.stabilization_window_ms,
        );
        let mut up = raw;
        let mut down = raw;
        for &(at, rec) in &self.recommendations {
            if at + wu > now {
                up = up.min(rec);
            }
            if at + wd > now {
                down = down.max(rec);
            }
        }
        // Records before both cutoffs never count again (time only advances).
        self.recommendations
            .retain(|&(at, _)| !(at + wu < now && at + wd < now));
        self.recommendations.push((now, raw));
        current.max(up).min(down)
    }

    fn rate_limit(&self, now: SimTime, current: u32, desired: u32) -> (u32, HpaReason) {
        if desired > current {
            let limit = self.scale_up_limit(now, current).max(i64::from(current));
            let (allowed, reason) = if i64::from(self.max_replicas) > limit {
                (limit as u32, HpaReason::ScaleUpLimit)
            } else {
                (self.max_replicas, HpaReason::TooManyReplicas)
            };
            if desired > allowed {
                return (allowed, reason);
            }
        } else if desired < current {
            let limit = self.scale_down_limit(now, current).min(i64::from(current));
            let (allowed, reason) = if i64::from(self.min_replicas) < limit {
                (limit as u32, HpaReason::ScaleDownLimit)
            } else {
                (self.min_replicas, HpaReason::TooFewReplicas)
            };
            if desired < allowed {
                return (allowed, reason);
            }
        }
        (desired, HpaReason::DesiredWithinRange)
    }

    /// Replicas at the start of a `period_s` look-back.
    fn period_start(&self, now: SimTime, current: u32, period_s: u32) -> i64 {
        let period = u64::from(period_s) * MS_PER_SEC;
        let sum = |events: &[ScaleEvent]| -> i64 {
            events
                .iter()
                .filter(|e| e.at + period > now)
                .map(|e| i64::from(e.change))
                .sum()
        };
        i64::from(current) - sum(&self.up_events) + sum(&self.down_events)
    }

    fn scale_up_limit(&self, now: SimTime, current: u32) -> i64 {
        let max_change = match self.up.select_policy {
            SelectPolicy::Disabled => return i64::from(current),
            SelectPolicy::Max => true,
            SelectPolicy::Min => false,
        };
        let mut result = if max_change { i64::MIN } else { i64::MAX };
        for p in &self.up.policies {
            let start = self.period_start(now, current, p.period_s);
            let v = i64::from(p.value);
            let proposed = match p.kind {
                ScalingPolicyType::Pods => start + v,
                ScalingPolicyType::Percent => ceil_div_100(start * (100 + v)),
            };
            result = if max_change {
                result.max(proposed)
            } else {
                result.min(proposed)
            };
        }
        result
    }

    fn scale_down_limit(&self, now: SimTime, current: u32) -> i64 {
        let max_change = match self.down.select_policy {
            SelectPolicy::Disabled => return i64::from(current),
            SelectPolicy::Max => true,
            SelectPolicy::Min => false,
        };
        let mut result = if max_change { i64::MAX } else { i64::MIN };
        for p in &self.down.policies {
            let start = self.period_start(now, current, p.period_s);
            let v = i64::from(p.value);
            let proposed = match p.kind {
                ScalingPolicyType::Pods => start - v,
                // Upstream converts the float to an integer: truncation.
                ScalingPolicyType::Percent => start * (100 - v) / 100,
            };
            result = if max_change {
                result.min(proposed)
            } else {
                result.max(proposed)
            };
        }
        result
    }

    fn store_event(&mut self, now: SimTime, prev: u32, new: u32) {
        let (events, longest, change) = if new > prev {
            (&mut self.up_events, self.up.longest_period_ms(), new - prev)
        } else {
            (
                &mut self.down_events,
                self.down.longest_period_ms(),
                prev - new,
            )
        };
        for e in events.iter_mut() {
            if e.at + longest < now {
                e.outdated = true;
            }
        }
        let event = ScaleEvent {
            change,
            at: now,
            outdated: false,
        };
        match events.iter_mut().find(|e| e.outdated) {
            Some(slot) => *slot = event,
            None => events.push(event),
        }
    }
}

/// `ceil(x / 100)` for any sign.
fn ceil_div_100(x: i64) -> i64 {
    if x >= 0 { (x + 99) / 100 } else { x / 100 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> HpaSpec {
        HpaSpec {
            min_replicas: 1,
            max_replicas: 100,
            target_utilization: 0.5,
            tolerance: 0.1,
            sync_period_s: 15,
            behavior: BehaviorSpec::default(),
        }
    }

    #[test]
    fn ceil_div() {
        assert_eq!(ceil_div_100(0), 0);
        assert_eq!(ceil_div_100(1), 1);
        assert_eq!(ceil_div_100(200), 2);
        assert_eq!(ceil_div_100(-150), -1);
    }

    #[test]
    fn event_slots_are_reused() {
        let mut h = Hpa::new(&spec()).unwrap();
        // Three scale-ups 100 s apart: the longest up period is 15 s, so each
        // new event reuses the outdated slot.
        for (i, t) in [0u64, 100, 200].into_iter().enumerate() {
            let cur = 1 + i as u32;
            let d = h.sync(
                SimTime::from_secs(t),
                cur,
                cur,
                0.5 * (cur + 1) as f64 / cur as f64 * 1.0,
            );
            assert_eq!(d, cur + 1);
        }
        assert_eq!(h.up_events.len(), 1);
    }
}
