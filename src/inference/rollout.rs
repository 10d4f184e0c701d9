//! The Deployment rolling update (kubernetes/kubernetes
//! `pkg/controller/deployment/rolling.go` and `util/deployment_util.go`) for
//! one old and one new ReplicaSet: which pods of the new version to create
//! and which of the old version to delete, honouring `maxSurge` and
//! `maxUnavailable`.
//!
//! **Fenceposts** ([`resolve_fenceposts`]): `max_surge` and `max_unavailable`
//! are counts (`2`) or percentages of the replicas (`"25%"`, the defaults);
//! surge rounds up, unavailable rounds down; if both resolve to 0,
//! unavailable is 1; unavailable is at most the replicas. 10 replicas at
//! 25%/25% → surge 3, unavailable 2: at most 13 pods, at least 8 available.
//!
//! **One reconcile** ([`Rollout::reconcile`]) repeats the controller's sync
//! until nothing changes (each sync is instantaneous in simulated time):
//!
//! 1. New ReplicaSet: above `replicas` it is scaled down to `replicas`;
//!    below, if `total < replicas + surge` (total = old + new pods, pending
//!    ones included) it grows to `min(new + (replicas + surge − total), replicas)`.
//!    A sync that scaled up ends there (upstream returns; the next sync
//!    continues).
//! 2. Old ReplicaSet: `minAvailable = replicas − unavailable`;
//!    `maxScaledDown = total − minAvailable − (new − newAvailable)`; if > 0,
//!    first unhealthy (not available) old pods are removed, up to
//!    `maxScaledDown`; then, if `available > minAvailable` (old + new
//!    available pods), the old ReplicaSet shrinks by
//!    `available − minAvailable` (at most its size), deleting not-available
//!    pods before available ones (the ReplicaSet's deletion order).
//!
//! Pods count from the moment they are created: a new pod that cannot be
//! placed (no free GPU for the surge) still counts against `replicas + surge`
//! but not as available, so the rollout waits and availability never drops
//! below `minAvailable` through the rollout's own deletions.
//!
//! The engine reports pod readiness with the event methods and applies the
//! returned [`RolloutAction`]s. Not modelled: `minReadySeconds` (the engine
//! reports a pod available when it should count), `progressDeadlineSeconds`
//! (upstream only reports it; the rollout goes on), several old ReplicaSets,
//! and proportional scaling when `replicas` changes mid-rollout
//! ([`Rollout::set_replicas`] lets the next reconcile absorb the change).

use serde::{Deserialize, Serialize};

/// A count or a percentage of the replicas (`2` or `"25%"`), like
/// Kubernetes' `IntOrString`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    /// A number of pods.
    Int(u32),
    /// A percentage of the replicas.
    Percent(u32),
}

impl IntOrPercent {
    /// The Kubernetes default for both fields: 25%.
    pub const DEFAULT: IntOrPercent = IntOrPercent::Percent(25);

    /// The value against `total` replicas: a count as is, a percentage
    /// rounded up or down.
    pub fn scaled(self, total: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let x = u64::from(p) * u64::from(total);
                let v = if round_up { x.div_ceil(100) } else { x / 100 };
                u32::try_from(v).unwrap_or(u32::MAX)
            }
        }
    }
}

impl std::str::FromStr for IntOrPercent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad =
            || format!("expected a count such as 2 or a percentage such as \"25%\", got {s:?}");
        match t.strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse()
                .map(IntOrPercent::Percent)
                .map_err(|_| bad()),
            None => t.parse().map(IntOrPercent::Int).map_err(|_| bad()),
        }
    }
}

impl std::fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntOrPercent::Int(n) => write!(f, "{n}"),
            IntOrPercent::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for IntOrPercent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrPercent::Int(n) => s.serialize_u32(*n),
            IntOrPercent::Percent(_) => s.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = IntOrPercent;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a count such as 2 or a percentage such as \"25%\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrPercent, E> {
                u32::try_from(v)
                    .map(IntOrPercent::Int)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrPercent, E> {
                u32::try_from(v).map(IntOrPercent::Int).map_err(|_| {
                    E::custom(format!("expected a count ≥ 0 or a percentage, got {v}"))
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrPercent, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `(max_surge, max_unavailable)` in pods for `replicas` (see the module
/// docs).
pub fn resolve_fenceposts(
    max_surge: IntOrPercent,
    max_unavailable: IntOrPercent,
    replicas: u32,
) -> (u32, u32) {
    let surge = max_surge.scaled(replicas, true);
    let mut unavailable = max_unavailable.scaled(replicas, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable.min(replicas))
}

/// Pod counts of a rollout. `*_replicas` are the ReplicaSets' sizes (pods
/// created, whether pending, starting or ready); `*_available` the ready ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RolloutCounts {
    /// Pods of the old version.
    pub old_replicas: u32,
    /// Available pods of the old version (≤ `old_replicas`).
    pub old_available: u32,
    /// Pods of the new version.
    pub new_replicas: u32,
    /// Available pods of the new version (≤ `new_replicas`).
    pub new_available: u32,
}

impl RolloutCounts {
    /// All pods.
    pub fn total(&self) -> u32 {
        self.old_replicas.saturating_add(self.new_replicas)
    }

    /// All available pods.
    pub fn available(&self) -> u32 {
        self.old_available.saturating_add(self.new_available)
    }
}

/// What the engine must do after a reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RolloutAction {
    /// New-version pods to create.
    pub create_new: u32,
    /// New-version pods to delete (not-available ones first); only when the
    /// replicas were lowered mid-rollout.
    pub delete_new: u32,
    /// Old-version pods that are not available to delete.
    pub delete_old_unavailable: u32,
    /// Available old-version pods to delete.
    pub delete_old_available: u32,
}

impl RolloutAction {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == RolloutAction::default()
    }
}

/// One rolling update from an old to a new version (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    replicas: u32,
    max_surge: IntOrPercent,
    max_unavailable: IntOrPercent,
    counts: RolloutCounts,
}

impl Rollout {
    /// Starts a rollout of a Deployment of `replicas` whose old version has
    /// `old_replicas` pods, `old_available` of them available. Call
    /// [`Rollout::reconcile`] next.
    pub fn start(
        replicas: u32,
        max_surge: IntOrPercent,
        max_unavailable: IntOrPercent,
        old_replicas: u32,
        old_available: u32,
    ) -> Rollout {
        Rollout {
            replicas,
            max_surge,
            max_unavailable,
            counts: RolloutCounts {
                old_replicas,
                old_available: old_available.min(old_replicas),
                new_replicas: 0,
                new_available: 0,
            },
        }
    }

    /// The current counts.
    pub fn counts(&self) -> RolloutCounts {
        self.counts
    }

    /// The Deployment's replicas.
    pub fn replicas(&self) -> u32 {
        self.replicas
    }

    /// `(max_surge, max_unavailable)` in pods.
    pub fn fenceposts(&self) -> (u32, u32) {
        resolve_fenceposts(self.max_surge, self.max_unavailable, self.replicas)
    }

    /// Most pods during the rollout: `replicas + max_surge`.
    pub fn max_total(&self) -> u32 {
        self.replicas.saturating_add(self.fenceposts().0)
    }

    /// Fewest available pods the rollout's own deletions allow:
    /// `replicas − max_unavailable`.
    pub fn min_available(&self) -> u32 {
        self.replicas - self.fenceposts().1
    }

    /// Done: every pod is of the new version and available.
    pub fn is_complete(&self) -> bool {
        let c = self.counts;
        c.old_replicas == 0 && c.new_replicas == self.replicas && c.new_available == self.replicas
    }

    /// A new pod became available.
    pub fn new_pod_ready(&mut self) {
        let c = &mut self.counts;
        c.new_available = (c.new_available + 1).min(c.new_replicas);
    }

    /// An old pod became available again.
    pub fn old_pod_ready(&mut self) {
        let c = &mut self.counts;
        c.old_available = (c.old_available + 1).min(c.old_replicas);
    }

    /// An available new pod stopped being available (failed, evicted); its
    /// ReplicaSet keeps its size, the engine recreates the pod.
    pub fn new_pod_unready(&mut self) {
        self.counts.new_available = self.counts.new_available.saturating_sub(1);
    }

    /// An available old pod stopped being available.
    pub fn old_pod_unready(&mut self) {
        self.counts.old_available = self.counts.old_available.saturating_sub(1);
    }

    /// The Deployment's replicas changed (e.g. by the HPA); the next
    /// reconcile applies it.
    pub fn set_replicas(&mut self, replicas: u32) {
        self.replicas = replicas;
    }

    /// Runs the controller to a fixed point and returns what to do; the
    /// counts already include the action.
    pub fn reconcile(&mut self) -> RolloutAction {
        let (surge, unavailable) = self.fenceposts();
        let replicas = self.replicas;
        let min_available = replicas - unavailable;
        let mut act = RolloutAction::default();
        let c = &mut self.counts;
        loop {
            // 1. The new ReplicaSet.
            if c.new_replicas > replicas {
                let d = c.new_replicas - replicas;
                act.delete_new += d;
                c.new_replicas = replicas;
                c.new_available = c.new_available.min(replicas);
                continue;
            }
            let max_total = replicas.saturating_add(surge);
            if c.new_replicas < replicas && c.total() < max_total {
                let up = (max_total - c.total()).min(replicas - c.new_replicas);
                c.new_replicas += up;
                act.create_new += up;
                continue;
            }
            // 2. The old ReplicaSet.
            if c.old_replicas == 0 {
                break;
            }
            let new_unavailable = c.new_replicas - c.new_available;
            let max_scaled_down =
                i64::from(c.total()) - i64::from(min_available) - i64::from(new_unavailable);
            if max_scaled_down <= 0 {
                break;
            }
            let unhealthy = c.old_replicas - c.old_available;
            let cleanup = (unhealthy as i64).min(max_scaled_down) as u32;
            c.old_replicas -= cleanup;
            act.delete_old_unavailable += cleanup;
            let mut scaled = 0;
            if c.available() > min_available {
                let d = (c.available() - min_available).min(c.old_replicas);
                let unhealthy = c.old_replicas - c.old_available;
                let from_unhealthy = d.min(unhealthy);
                let from_available = d - from_unhealthy;
                c.old_replicas -= d;
                c.old_available -= from_available;
                act.delete_old_unavailable += from_unhealthy;
                act.delete_old_available += from_available;
                scaled = d;
            }
            if cleanup == 0 && scaled == 0 {
                break;
            }
        }
        act
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_scales() {
        assert_eq!("25%".parse(), Ok(IntOrPercent::Percent(25)));
        assert_eq!(" 3 ".parse(), Ok(IntOrPercent::Int(3)));
        assert!("x%".parse::<IntOrPercent>().is_err());
        assert!("-1".parse::<IntOrPercent>().is_err());
        assert_eq!(IntOrPercent::Percent(25).scaled(10, true), 3);
        assert_eq!(IntOrPercent::Percent(25).scaled(10, false), 2);
        assert_eq!(
            resolve_fenceposts(IntOrPercent::Int(0), IntOrPercent::Int(0), 4),
            (0, 1)
        );
        // 25% of 3 replicas: surge ceil(0.75) = 1, unavailable floor(0.75) = 0.
        assert_eq!(
            resolve_fenceposts(IntOrPercent::DEFAULT, IntOrPercent::DEFAULT, 3),
            (1, 0)
        );
        assert_eq!(
            resolve_fenceposts(IntOrPercent::Int(1), IntOrPercent::Int(9), 4),
            (1, 4)
        );
    }
}
