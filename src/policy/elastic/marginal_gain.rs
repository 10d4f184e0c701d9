//! `marginal-gain`: Pollux-like reallocation of GPUs among elastic jobs, by
//! each job's marginal speedup, without Pollux's statistical-efficiency model
//! (Qiao et al., "Pollux: Co-adaptive Cluster Scheduling for Goodput-Optimized
//! Deep Learning", OSDI 2021).
//!
//! After every scheduling pass:
//! 1. **Shrink under contention.** For the first waiting job (arrival order)
//!    that does not fit, take workers away from running elastic jobs, one at a
//!    time from the job that loses least by it (smallest 1 − S(w−1)/S(w)),
//!    until the waiting job would fit. Nothing changes unless it then fits.
//!    The scheduler then runs again and decides who gets the room (it may be
//!    another job, as its order says); this repeats while it helps.
//! 2. **Grow into idle GPUs.** When nobody waits, give one more worker to the
//!    job with the best relative gain per GPU (S(w+1)/S(w) − 1, divided by the
//!    GPUs of a worker), repeatedly, until no job gains or fits another worker.
//!    A job grows only if it then finishes sooner, the rescale overhead
//!    included (near its end a resize costs more than it brings).
//!
//! Tie-break everywhere: the lower job id. Every resize costs the job the
//! scenario's rescale overhead (no progress while it restarts with its new
//! size; its progress is kept, as elastic frameworks checkpoint on resize).

use std::collections::BTreeMap;

use super::{ElasticPass, ElasticPolicy};
use crate::ids::JobId;

/// The `marginal-gain` policy. Stateless.
#[derive(Debug, Default, Clone, Copy)]
pub struct MarginalGain;

impl ElasticPolicy for MarginalGain {
    fn name(&self) -> &'static str {
        "marginal-gain"
    }

    fn rebalance(&mut self, pass: &mut dyn ElasticPass) -> bool {
        if !pass.pending().is_empty() {
            return shrink_for_first_blocked(pass);
        }
        grow_into_idle(pass)
    }
}

/// Running elastic jobs, sorted by id (the running list has no order).
fn elastic_running(pass: &dyn ElasticPass) -> Vec<JobId> {
    let mut jobs: Vec<JobId> = pass
        .running()
        .iter()
        .copied()
        .filter(|&j| pass.workload().job(j).elastic.is_some())
        .collect();
    jobs.sort_unstable();
    jobs
}

fn shrink_for_first_blocked(pass: &mut dyn ElasticPass) -> bool {
    let elastic = elastic_running(pass);
    if elastic.is_empty() {
        return false;
    }
    let pending = pass.pending().to_vec();
    for waiting in pending {
        if pass.fits_now(waiting) {
            // It fits but the scheduler held it back (its order or a quota):
            // not a capacity problem, so no reason to shrink anybody.
            continue;
        }
        // Plan: workers to take from each job, cheapest loss first.
        let mut plan: BTreeMap<JobId, u32> = BTreeMap::new();
        loop {
            let victim = elastic
                .iter()
                .filter_map(|&j| {
                    let spec = pass.workload().job(j).elastic.as_ref()?;
                    let now = pass.workers(j) - plan.get(&j).copied().unwrap_or(0);
                    let loss = spec.marginal_loss(now);
                    loss.is_finite().then_some((loss, j))
                })
                // Smallest loss; ties to the lower id (the list is id-sorted
                // and `min_by` keeps the first of equals).
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let Some((_, victim)) = victim else {
                // Shrinking everybody to their minimum would not make room:
                // later waiting jobs are no easier to help than this one in
                // arrival order, so stop here.
                return false;
            };
            *plan.entry(victim).or_insert(0) += 1;
            let shrinks: Vec<(JobId, u32)> = plan.iter().map(|(&j, &n)| (j, n)).collect();
            if pass.fits_if_shrunk(waiting, &shrinks) {
                for (j, n) in shrinks {
                    let shrunk = pass.shrink(j, n);
                    debug_assert!(shrunk, "the plan stays within each job's minimum");
                }
                return true;
            }
        }
    }
    false
}

fn grow_into_idle(pass: &mut dyn ElasticPass) -> bool {
    let mut candidates = elastic_running(pass);
    let mut changed = false;
    loop {
        let best = candidates
            .iter()
            .enumerate()
            .filter_map(|(i, &j)| {
                let job = pass.workload().job(j);
                let spec = job.elastic.as_ref()?;
                let w = pass.workers(j);
                let per_gpu = spec.marginal_gain(w) / (job.gpu.milli().max(1) as f64 / 1000.0);
                // Only if the job then finishes sooner, overhead included.
                let left = pass.remaining_work(j) as f64 * spec.scaling.speedup(job.workers);
                let now = left / spec.scaling.speedup(w);
                let grown = pass.resize_cost(j) as f64 + left / spec.scaling.speedup(w + 1);
                (per_gpu > 0.0 && grown < now).then_some((per_gpu, i))
            })
            // Largest gain; ties to the lower id (first among equals).
            .fold(None::<(f64, usize)>, |best, c| match best {
                Some(b) if b.0 >= c.0 => Some(b),
                _ => Some(c),
            });
        let Some((_, i)) = best else {
            return changed;
        };
        let job = candidates[i];
        if pass.grow(job) {
            changed = true;
        } else {
            // No room for another worker of this shape; others may still fit.
            candidates.remove(i);
        }
    }
}
