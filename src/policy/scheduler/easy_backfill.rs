//! EASY backfilling (the Argonne/IBM SP2 "Extensible Argonne Scheduling
//! sYstem": Lifka, "The ANL/IBM SP scheduling system", JSSPP 1995; analysed
//! by Mu'alem & Feitelson, "Utilization, predictability, workloads, and user
//! runtime estimates in scheduling the IBM SP2 with backfilling", IEEE TPDS
//! 2001).
//!
//! Each pass walks the FIFO queue (submission time, then lower job id):
//! 1. Jobs start in order while they fit.
//! 2. The first job that does not fit, the *head*, gets a reservation at the
//!    *shadow time*: the earliest instant at which, by the running jobs'
//!    estimated ends, its whole gang would fit. schedlab finds it on a
//!    what-if copy of the node ledger, releasing running jobs in order of
//!    estimated end (ties: lower job id) until the head's gang fits, node by
//!    node, with the same per-node arithmetic as the engine (whole GPUs,
//!    milli-GPU shares, CPU, memory, allowed GPU models).
//! 3. Every later job that fits now may start ("backfill") only if it cannot
//!    delay the reservation:
//!    - (a) by its estimate it ends no later than the shadow time; or
//!    - (b) it only uses resources the head will not need at the shadow time
//!      (Lifka's "extra nodes"). Placement is the scenario's placement
//!      policy, which the scheduler cannot steer, so the check is
//!      conservative and node-aware: on every node where some of the job's
//!      workers could be placed now, the shadow-time ledger is charged as if
//!      as many of its workers as fit there (up to the gang size) were placed
//!      there (a fractional worker is charged a whole GPU), and the head must
//!      still fit. Once the job has started, the charge is replaced by its
//!      actual allocation. Count-based EASY (free GPUs at the shadow time
//!      minus the head's GPUs) would let a job land on the very node the
//!      head waits for; this rule does not.
//!
//!    Jobs behind the head get no reservation (that is EASY; conservative
//!    backfilling would reserve for every job). The reservation is
//!    recomputed at every pass; a job that does not satisfy (a) or (b) waits.
//!
//! Estimates: a job's estimated run time is its trace duration ×
//! `estimate_factor`, rounded up to a millisecond; a running job's estimated
//! end is now + (estimate − work done so far, at full speed), and never
//! before now (a job that overruns its estimate is assumed to end now).
//! With the default factor 1 the estimates are exact (an oracle, as in many
//! backfilling studies); a factor above 1 over-estimates as users do, which
//! makes the shadow time later and rule (a) stricter. Below 1 the head can be
//! delayed by jobs that overrun their estimates (real systems kill them at
//! their wall-time limit; schedlab does not).
//!
//! Parameters (`[policy.scheduler_params]`):
//! - `estimate_factor` (ratio, default 1.0, finite and > 0).
//!
//! Tie-breaks: queue order is (submission time, job id); running jobs are
//! released for the shadow time in (estimated end, job id) order. Not work
//! conserving: a job that fits may be held back to protect the head.

use serde::Deserialize;

use super::priority::room::{Shape, WhatIf};
use super::{Scheduler, SchedulingPass, StartOutcome, parse_params};
use crate::cluster::WorkerRequest;
use crate::ids::JobId;
use crate::time::{Millis, SimTime};

/// EASY backfilling; see the module docs.
#[derive(Debug, Clone)]
pub struct EasyBackfill {
    estimate_factor: f64,
}

impl Default for EasyBackfill {
    fn default() -> Self {
        EasyBackfill {
            estimate_factor: 1.0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "one")]
    estimate_factor: f64,
}

fn one() -> f64 {
    1.0
}

impl EasyBackfill {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(params: &toml::Table) -> Result<Self, String> {
        let p: Params = parse_params(params)?;
        if !(p.estimate_factor.is_finite() && p.estimate_factor > 0.0) {
            return Err(format!(
                "`estimate_factor`: got {}, expected a finite number > 0 (1 = exact estimates)",
                p.estimate_factor
            ));
        }
        Ok(EasyBackfill {
            estimate_factor: p.estimate_factor,
        })
    }

    /// The estimated run time of `job` at full speed, ms.
    fn estimate(&self, pass: &dyn SchedulingPass, job: JobId) -> Millis {
        let d = pass.job(job).duration;
        if self.estimate_factor == 1.0 {
            d
        } else {
            // `as` saturates: a huge estimate becomes u64::MAX.
            (d as f64 * self.estimate_factor).ceil() as u64
        }
    }

    /// When `job` ends by its estimate if it runs (or keeps running) from now.
    fn estimated_end(&self, pass: &dyn SchedulingPass, job: JobId) -> SimTime {
        let left = self
            .estimate(pass, job)
            .saturating_sub(pass.progress(job).done_work);
        pass.now() + left
    }
}

/// The head's reservation: the shadow time and the ledger at that time.
struct Reservation {
    shadow: SimTime,
    at_shadow: WhatIf,
}

impl Scheduler for EasyBackfill {
    fn name(&self) -> &'static str {
        "easy-backfill"
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        let pending: Vec<JobId> = pass.pending().to_vec();
        let mut head = None;
        for (k, &job) in pending.iter().enumerate() {
            if pass.try_start(job) == StartOutcome::NoFit {
                head = Some(k);
                break;
            }
        }
        let Some(h) = head else {
            return;
        };
        let Some(mut res) = self.reserve(pass, pending[h]) else {
            return;
        };
        for &job in &pending[h + 1..] {
            if !pass.fits_now(job) {
                continue;
            }
            if self.estimated_end(pass, job) <= res.shadow {
                pass.try_start(job);
                continue;
            }
            if uses_only_extra(pass, &res.at_shadow, job)
                && pass.try_start(job) == StartOutcome::Started
            {
                for a in pass.allocations(job) {
                    res.at_shadow.update(a.node.index(), |r| r.hold(a));
                }
            }
        }
    }
}

impl EasyBackfill {
    /// The reservation of `head`: release running jobs by estimated end until
    /// its gang fits. `None` if it never does (it then blocks the queue, as
    /// under strict FIFO).
    fn reserve(&self, pass: &dyn SchedulingPass, head: JobId) -> Option<Reservation> {
        let view = pass.cluster();
        let shape = Shape::of(pass.job(head), view.pools(), None);
        let mut at_shadow = WhatIf::new(view, &shape);
        let mut ends: Vec<(SimTime, JobId)> = pass
            .running()
            .iter()
            .map(|&r| (self.estimated_end(pass, r), r))
            .collect();
        ends.sort_unstable();
        let mut i = 0;
        while i < ends.len() {
            let t = ends[i].0;
            while i < ends.len() && ends[i].0 == t {
                for a in pass.allocations(ends[i].1) {
                    at_shadow.update(a.node.index(), |r| r.release(a));
                }
                i += 1;
            }
            if at_shadow.fits() {
                return Some(Reservation {
                    shadow: t,
                    at_shadow,
                });
            }
        }
        None
    }
}

/// Rule (b): would the head still fit at the shadow time wherever `job`'s
/// workers land now? See the module docs.
fn uses_only_extra(pass: &dyn SchedulingPass, at_shadow: &WhatIf, job: JobId) -> bool {
    let view = pass.cluster();
    let shape = Shape::of(pass.job(job), view.pools(), None);
    let req = WorkerRequest {
        gpu: shape.gpu,
        cpu_milli: shape.cpu_milli,
        memory_mib: shape.memory_mib,
        allowed_pools: &shape.allowed,
    };
    let mut total = at_shadow.total();
    for node in view.nodes() {
        if !view.fits(node, &req) {
            continue;
        }
        let n = node.id.index();
        let k = node.fit_count(&req).min(shape.workers);
        let mut r = at_shadow.rooms[n].clone();
        r.charge_worst(&shape, k);
        total = total - u64::from(at_shadow.count(n)) + u64::from(r.fit_count(&at_shadow.shape));
    }
    total >= u64::from(at_shadow.shape.workers)
}
