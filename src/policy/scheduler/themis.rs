//! Themis finish-time fairness across tenants (Mahajan et al., "Themis: Fair
//! and Efficient GPU Cluster Scheduling", NSDI'20). Each tenant (team, queue,
//! virtual cluster) plays the role of a Themis app; its finish-time fairness
//! is ρ = T_sh / T_id, the estimated finish time of its current work in the
//! shared cluster over the finish time it would have alone on a 1/N share of
//! the cluster, N being the number of active tenants. Larger ρ is more
//! wronged.
//!
//! Estimator, exactly (per pass, at time `now`; a tenant is active when it has
//! a pending or running job; m(j) is job j's milli-GPUs, all workers):
//! - `since` = earliest submission among the tenant's active jobs;
//! - `W_rem` = Σ remaining work (ms at full speed, oracle) × m(j) over its
//!   active jobs; `W_tot` = the same with whole durations;
//! - `alloc` = Σ m(j) over its running jobs; `C` = the cluster's milli-GPUs;
//! - `T_id` = max(`W_tot` · N / C, longest duration among its active jobs,
//!   1 ms): the tenant's work spread over its 1/N share, but no faster than
//!   its longest job (with C = 0, the longest duration alone);
//! - `T_sh` = (now − since) + `W_rem` / `alloc`: time so far plus the rest of
//!   its work at its current allocation; infinite when `alloc` = 0;
//! - ρ = `T_sh` / `T_id`. Tenants with nothing running (ρ = ∞) rank above
//!   every other and, among themselves, by (now − since) / `T_id`.
//!
//! Floating point is used for ρ; every operation is IEEE-exact given its
//! inputs, so runs are reproducible across platforms.
//!
//! Each pass allocates greedily to the most wronged: repeatedly pick the
//! tenant with the highest ρ (tie: lower tenant id) that still has a pending
//! job that fits, start its earliest-arrived such job (submission, then job
//! id), recompute its ρ with the new allocation, and repeat until nothing
//! fits. Every pending job is tried: the policy is work conserving.
//!
//! With `preempt = true`, leases: a running job holds its GPUs for at least
//! `lease_s` of its current run; after that they may be reclaimed for a more
//! wronged tenant. When nothing more fits, the pending jobs of the most
//! wronged tenants (highest ρ first, then arrival) may preempt running jobs of
//! a tenant B ≠ A whose ρ is lower than A's by more than `rho_gap`, and only
//! while, after the move, B's ρ would not exceed A's by more than `rho_gap`
//! (so B cannot take the GPUs back at once). Victims are taken from the
//! least wronged tenant first, then the most recently started, then the
//! higher job id; the fewest that make the job fit are preempted (as in
//! [`super::Srtf`]); then allocation runs again. Each job tries to preempt at
//! most once per pass, and no job is preempted in the instant it started.
//! Preempted jobs keep progress to the last checkpoint and pay the engine's
//! `restore_overhead`. While jobs wait, the policy asks for a pass
//! (`wake_at`) when each running job's lease ends.
//!
//! Parameters (`[policy.scheduler_params]`):
//! - `preempt` (bool, default false): the lease-free, non-preemptive variant
//!   when false;
//! - `lease_s` (seconds, > 0, default 600): minimum run before reclaiming;
//! - `rho_gap` (ratio ≥ 0, default 0.1): ρ difference needed to preempt.
//!   This is not the paper's fairness knob f (the fraction of apps left out
//!   of each auction).
//!
//! Deviations from the paper: no auction or bids (jobs do not report
//! placement preferences or valuation tables); the estimator uses the
//! trace's durations (an oracle) instead of app-reported progress; there is
//! no knob f: the greedy order already favours the most wronged, and leftover
//! GPUs go to the others (as Themis's leftover allocation does).

use std::collections::BTreeSet;

use serde::Deserialize;

use super::srtf::{asks_at_least, preempt_for, preemptible, seconds};
use super::{Scheduler, SchedulingPass, StartOutcome, parse_params};
use crate::engine::JobState;
use crate::ids::JobId;
use crate::time::{Millis, SimTime};

/// Themis finish-time fairness; see the module docs.
#[derive(Debug, Clone)]
pub struct Themis {
    preempt: bool,
    lease: Millis,
    rho_gap: f64,
}

impl Default for Themis {
    fn default() -> Self {
        Themis {
            preempt: false,
            lease: 600_000,
            rho_gap: 0.1,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    preempt: bool,
    #[serde(default = "default_lease")]
    lease_s: f64,
    #[serde(default = "default_gap")]
    rho_gap: f64,
}

fn default_lease() -> f64 {
    600.0
}

fn default_gap() -> f64 {
    0.1
}

impl Themis {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(params: &toml::Table) -> Result<Self, String> {
        let p: Params = parse_params(params)?;
        if !(p.rho_gap.is_finite() && p.rho_gap >= 0.0) {
            return Err(format!(
                "`rho_gap`: got {}, expected a finite ratio ≥ 0",
                p.rho_gap
            ));
        }
        Ok(Themis {
            preempt: p.preempt,
            lease: seconds("lease_s", p.lease_s, true)?,
            rho_gap: p.rho_gap,
        })
    }
}

/// A finish-time fairness value; larger is more wronged.
#[derive(Debug, Clone, Copy)]
struct Rho {
    /// Nothing running: ρ is infinite, and `value` ranks such tenants.
    infinite: bool,
    value: f64,
}

impl Rho {
    /// `self` more wronged than `other`?
    fn above(self, other: Rho) -> bool {
        (self.infinite, self.value)
            .partial_cmp(&(other.infinite, other.value))
            .is_some_and(|o| o.is_gt())
    }

    /// Is `self` more than `gap` above `other`?
    fn exceeds_by(self, other: Rho, gap: f64) -> bool {
        match (self.infinite, other.infinite) {
            (true, false) => true,
            (false, true) => false,
            (true, true) => false,
            (false, false) => self.value > other.value + gap,
        }
    }
}

/// One tenant's aggregates for the pass.
#[derive(Debug, Clone, Default)]
struct Tenant {
    since: Option<SimTime>,
    /// Remaining and total work, milli-GPU·ms.
    w_rem: u128,
    w_tot: u128,
    longest: Millis,
    /// Milli-GPUs of running jobs.
    alloc: u128,
    /// Pending jobs in arrival order, and the next one to try.
    queue: Vec<JobId>,
    cursor: usize,
}

struct Book {
    now: SimTime,
    capacity: u128,
    active: u128,
    tenants: Vec<Tenant>,
}

impl Book {
    fn new(pass: &dyn SchedulingPass) -> Book {
        let w = pass.workload();
        let mut tenants = vec![Tenant::default(); w.tenants.len()];
        let mut add = |j: JobId, running: bool| {
            let job = w.job(j);
            let p = pass.progress(j);
            let m = u128::from(job.total_gpu_milli());
            let t = &mut tenants[job.tenant.index()];
            t.since = Some(t.since.map_or(job.submit, |s| s.min(job.submit)));
            t.w_rem += u128::from(p.remaining) * m;
            t.w_tot += u128::from(job.duration) * m;
            t.longest = t.longest.max(job.duration);
            if running {
                t.alloc += m;
            } else {
                t.queue.push(j);
            }
        };
        for &j in pass.running() {
            add(j, true);
        }
        for &j in pass.pending() {
            add(j, false);
        }
        let active = tenants.iter().filter(|t| t.since.is_some()).count() as u128;
        Book {
            now: pass.now(),
            capacity: u128::from(pass.cluster().gpu_milli_capacity()),
            active,
            tenants,
        }
    }

    /// ρ of tenant `k` if its allocation were `alloc`.
    fn rho_with(&self, k: usize, alloc: u128) -> Rho {
        let t = &self.tenants[k];
        let elapsed = (self.now - t.since.unwrap_or(self.now)) as f64;
        let spread = if self.capacity > 0 {
            (t.w_tot * self.active) as f64 / self.capacity as f64
        } else {
            0.0
        };
        let t_id = spread.max(t.longest as f64).max(1.0);
        if alloc == 0 {
            Rho {
                infinite: true,
                value: elapsed / t_id,
            }
        } else {
            Rho {
                infinite: false,
                value: (elapsed + t.w_rem as f64 / alloc as f64) / t_id,
            }
        }
    }

    fn rho(&self, k: usize) -> Rho {
        self.rho_with(k, self.tenants[k].alloc)
    }

    /// Greedy allocation to the most wronged tenant first.
    fn fill(&mut self, pass: &mut dyn SchedulingPass) {
        loop {
            let mut best: Option<(usize, Rho)> = None;
            for k in 0..self.tenants.len() {
                let t = &self.tenants[k];
                if t.cursor >= t.queue.len() {
                    continue;
                }
                let r = self.rho(k);
                if best.is_none_or(|(_, b)| r.above(b)) {
                    best = Some((k, r));
                }
            }
            let Some((k, _)) = best else {
                return;
            };
            while let Some(&j) = self.tenants[k].queue.get(self.tenants[k].cursor) {
                self.tenants[k].cursor += 1;
                if pass.try_start(j) == StartOutcome::Started {
                    self.tenants[k].alloc += u128::from(pass.job(j).total_gpu_milli());
                    break;
                }
            }
        }
    }
}

impl Scheduler for Themis {
    fn name(&self) -> &'static str {
        "themis"
    }

    fn work_conserving(&self) -> bool {
        true
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        let mut book = Book::new(&*pass);
        book.fill(pass);
        if !self.preempt {
            return;
        }
        let mut tried: BTreeSet<JobId> = BTreeSet::new();
        let mut failed: Vec<JobId> = Vec::new();
        'again: loop {
            let mut order: Vec<(usize, Rho)> = (0..book.tenants.len())
                .filter(|&k| !book.tenants[k].queue.is_empty())
                .map(|k| (k, book.rho(k)))
                .collect();
            // Most wronged first; the sort is stable, so ties keep tenant order.
            order.sort_by(|a, b| {
                if a.1.above(b.1) {
                    std::cmp::Ordering::Less
                } else if b.1.above(a.1) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            for (a, _) in order {
                for i in 0..book.tenants[a].queue.len() {
                    let j = book.tenants[a].queue[i];
                    if pass.state(j) != JobState::Pending || !tried.insert(j) {
                        continue;
                    }
                    // A job of the same tenant asking at least as much as one that
                    // could not fit has no more victims (its tenant's share
                    // after would be higher), and nothing came free since.
                    if failed.iter().any(|&f| {
                        pass.job(f).tenant == pass.job(j).tenant
                            && asks_at_least(pass.job(j), pass.job(f))
                    }) {
                        continue;
                    }
                    let victims = self.victims(pass, &book, j);
                    if preempt_for(pass, j, &victims) {
                        failed.clear();
                        for &v in &victims {
                            if pass.state(v) == JobState::Pending {
                                let vj = pass.job(v);
                                let t = &mut book.tenants[vj.tenant.index()];
                                t.alloc -= u128::from(vj.total_gpu_milli());
                                let at = t.queue.partition_point(|&x| x < v);
                                if t.queue.get(at) != Some(&v) {
                                    t.queue.insert(at, v);
                                }
                            }
                        }
                        if pass.state(j) == JobState::Running {
                            book.tenants[a].alloc += u128::from(pass.job(j).total_gpu_milli());
                        }
                        for t in &mut book.tenants {
                            t.cursor = 0;
                        }
                        book.fill(pass);
                        continue 'again;
                    }
                    if failed.len() < 16 {
                        failed.push(j);
                    }
                }
            }
            break;
        }
        self.wake_at_lease_ends(pass);
    }
}

impl Themis {
    /// While jobs wait, asks for a pass when each running job's lease ends
    /// (Themis re-offers the GPUs of expired leases).
    fn wake_at_lease_ends(&self, pass: &mut dyn SchedulingPass) {
        let now = pass.now();
        let waiting = pass
            .pending()
            .iter()
            .any(|&j| pass.state(j) == JobState::Pending);
        if !waiting {
            return;
        }
        let ends: Vec<SimTime> = pass
            .running()
            .iter()
            .filter_map(|&r| pass.progress(r).run_start)
            .map(|start| start + self.lease)
            .filter(|&end| end > now)
            .collect();
        for at in ends {
            pass.wake_at(at);
        }
    }

    /// Running jobs that job `j` may take GPUs from, least important first.
    fn victims(&self, pass: &dyn SchedulingPass, book: &Book, j: JobId) -> Vec<JobId> {
        let now = pass.now();
        let job = pass.job(j);
        let a = job.tenant.index();
        let mine = book.rho(a);
        let mine_after =
            book.rho_with(a, book.tenants[a].alloc + u128::from(job.total_gpu_milli()));
        let mut cands: Vec<(usize, SimTime, JobId)> = pass
            .running()
            .iter()
            .filter(|&&r| {
                pass.job(r).tenant.index() != a && preemptible(pass, r, now, &|_, _| self.lease)
            })
            .map(|&r| {
                let start = pass.progress(r).run_start.unwrap_or_default();
                (pass.job(r).tenant.index(), start, r)
            })
            .filter(|&(b, _, _)| mine.exceeds_by(book.rho(b), self.rho_gap))
            .collect();
        // Least wronged tenant first (stable for ties: lower id first), then
        // latest start, then higher id.
        cands.sort_by_key(|c| std::cmp::Reverse((c.1, c.2)));
        cands.sort_by(|x, y| {
            let (rx, ry) = (book.rho(x.0), book.rho(y.0));
            if ry.above(rx) {
                std::cmp::Ordering::Less
            } else if rx.above(ry) {
                std::cmp::Ordering::Greater
            } else {
                x.0.cmp(&y.0)
            }
        });
        let mut left: Vec<Option<u128>> = vec![None; book.tenants.len()];
        let mut victims = Vec::new();
        for (b, _, r) in cands {
            let cur = left[b].unwrap_or(book.tenants[b].alloc);
            let after = cur.saturating_sub(u128::from(pass.job(r).total_gpu_milli()));
            if !book.rho_with(b, after).exceeds_by(mine_after, self.rho_gap) {
                left[b] = Some(after);
                victims.push(r);
            }
        }
        victims
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_validates() {
        let t = Themis::from_params(&table("")).unwrap();
        assert!(!t.preempt);
        assert_eq!((t.lease, t.rho_gap), (600_000, 0.1));
        let t = Themis::from_params(&table("preempt = true\nlease_s = 30\nrho_gap = 0")).unwrap();
        assert!(t.preempt);
        assert_eq!((t.lease, t.rho_gap), (30_000, 0.0));
        let e = Themis::from_params(&table("rho_gap = -0.5")).unwrap_err();
        assert!(e.contains("rho_gap") && e.contains("≥ 0"), "{e}");
        let e = Themis::from_params(&table("lease_s = 0")).unwrap_err();
        assert!(e.contains("lease_s"), "{e}");
        let e = Themis::from_params(&table("fairness_knob = 0.2")).unwrap_err();
        assert!(e.contains("fairness_knob"), "{e}");
    }

    #[test]
    fn rho_orders_unallocated_first() {
        let inf = Rho {
            infinite: true,
            value: 0.0,
        };
        let big = Rho {
            infinite: false,
            value: 1e9,
        };
        assert!(inf.above(big) && !big.above(inf));
        assert!(inf.exceeds_by(big, 0.1) && !big.exceeds_by(inf, 0.1));
        let one = Rho {
            infinite: false,
            value: 1.0,
        };
        let two = Rho {
            infinite: false,
            value: 1.2,
        };
        assert!(two.exceeds_by(one, 0.1) && !two.exceeds_by(one, 0.3));
    }
}
