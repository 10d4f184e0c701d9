//! Dominant resource fairness across tenants (Ghodsi et al., "Dominant
//! Resource Fairness: Fair Allocation of Multiple Resource Types", NSDI'11),
//! over three resources of the whole cluster: GPUs (milli-GPUs), CPU
//! (millicores) and memory (MiB). A tenant's dominant share is the largest,
//! over those resources, of its running jobs' total request divided by the
//! capacity of the cluster's ready nodes (resources the cluster has none of
//! are skipped). Shares are compared exactly (integer cross-multiplication,
//! no floating point).
//!
//! Each pass is progressive filling: repeatedly pick the tenant with the
//! lowest dominant share (tie: lower tenant id) that still has a pending job
//! that fits, start its earliest-arrived job that fits (submission, then job
//! id), and update its share; stop when no tenant can start anything. Every
//! pending job is tried, so the policy is work conserving. Within a pass the
//! cluster only fills up, so a job that did not fit is not tried again.
//!
//! With `preempt = true` (after Volcano's `drf` plugin, used by its `preempt`
//! and `reclaim` actions): when nothing more fits, pending jobs are taken
//! tenant by tenant from the lowest share (earliest arrival first within a
//! tenant). A job J of tenant A may preempt a running job V of another tenant
//! B only if A's share after starting J is at most B's share after losing V
//! and the victims already chosen from B (Volcano's test, exact here, with no
//! ε). Candidate victims are taken from the highest-share tenant first, then
//! the most recently started job, then the higher job id; the fewest of them
//! that make J fit are preempted (as in [`super::Srtf`]) and J starts; then
//! the progressive filling runs again. Each job tries to preempt at most once
//! per pass. A job is never preempted in the instant its current run
//! started. Since A's share after the preemption is at most B's, B cannot
//! take the resources back at once.
//!
//! Parameters (`[policy.scheduler_params]`):
//! - `preempt` (bool, default false).
//!
//! Deviations: DRF in Mesos allocates resource offers, and Volcano orders
//! jobs, not tenants, by share; here the unit of fairness is the tenant, and
//! tenants have equal weights.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::Deserialize;

use super::srtf::{asks_at_least, preempt_for, preemptible};
use super::{Scheduler, SchedulingPass, StartOutcome, parse_params};
use crate::engine::JobState;
use crate::ids::JobId;
use crate::time::SimTime;
use crate::workload::Job;

/// Dominant resource fairness; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct Drf {
    preempt: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    preempt: bool,
}

impl Drf {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(params: &toml::Table) -> Result<Self, String> {
        let p: Params = parse_params(params)?;
        Ok(Drf { preempt: p.preempt })
    }
}

/// Requests of the three resources: milli-GPUs, millicores, MiB.
pub(super) type Usage = [u128; 3];

/// What a job's whole gang holds while running.
pub(super) fn usage_of(job: &Job) -> Usage {
    let w = u128::from(job.workers);
    [
        u128::from(job.total_gpu_milli()),
        w * u128::from(job.cpu_milli),
        w * u128::from(job.memory_mib),
    ]
}

/// A dominant share, exact: the fraction `num / den` that is largest over
/// the resources.
#[derive(Debug, Clone, Copy)]
struct Share {
    num: u128,
    den: u128,
}

impl Share {
    fn of(usage: &Usage, capacity: &Usage) -> Share {
        let mut best = Share { num: 0, den: 1 };
        for r in 0..3 {
            if capacity[r] > 0 {
                let s = Share {
                    num: usage[r],
                    den: capacity[r],
                };
                if s > best {
                    best = s;
                }
            }
        }
        best
    }
}

impl PartialEq for Share {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Share {}
impl PartialOrd for Share {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Share {
    fn cmp(&self, other: &Self) -> Ordering {
        // Usages are at most the capacity (< 2⁶⁴ each), so the products fit.
        (self.num * other.den).cmp(&(other.num * self.den))
    }
}

fn add(a: &Usage, b: &Usage) -> Usage {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn sub(a: &Usage, b: &Usage) -> Usage {
    [
        a[0].saturating_sub(b[0]),
        a[1].saturating_sub(b[1]),
        a[2].saturating_sub(b[2]),
    ]
}

/// The total capacity of each resource over the ready nodes.
pub(super) fn capacity(pass: &dyn SchedulingPass) -> Usage {
    let view = pass.cluster();
    let mut cap = [0u128; 3];
    for n in view.nodes().iter().filter(|n| n.is_ready()) {
        cap[0] += u128::from(n.gpu_milli_capacity());
        cap[1] += u128::from(n.cpu_capacity());
        cap[2] += u128::from(n.memory_capacity());
    }
    cap
}

/// Per-pass state: each tenant's usage and its pending jobs in arrival order.
struct Tenants {
    capacity: Usage,
    usage: Vec<Usage>,
    queues: Vec<Vec<JobId>>,
    /// Next job of each queue to try; earlier ones started or did not fit.
    cursor: Vec<usize>,
}

impl Tenants {
    fn new(pass: &dyn SchedulingPass) -> Tenants {
        let n = pass.workload().tenants.len();
        let mut t = Tenants {
            capacity: capacity(pass),
            usage: vec![[0; 3]; n],
            queues: vec![Vec::new(); n],
            cursor: vec![0; n],
        };
        for &j in pass.running() {
            let job = pass.job(j);
            let u = &mut t.usage[job.tenant.index()];
            *u = add(u, &usage_of(job));
        }
        for &j in pass.pending() {
            t.queues[pass.job(j).tenant.index()].push(j);
        }
        t
    }

    fn share(&self, tenant: usize) -> Share {
        Share::of(&self.usage[tenant], &self.capacity)
    }

    fn started(&mut self, job: &Job) {
        let u = &mut self.usage[job.tenant.index()];
        *u = add(u, &usage_of(job));
    }

    fn stopped(&mut self, job: &Job) {
        let u = &mut self.usage[job.tenant.index()];
        *u = sub(u, &usage_of(job));
    }

    /// Progressive filling: the lowest-share tenant with something that fits
    /// starts its earliest such job, until nothing fits.
    fn fill(&mut self, pass: &mut dyn SchedulingPass) {
        let mut order: BTreeSet<(Share, usize)> = (0..self.queues.len())
            .filter(|&t| self.cursor[t] < self.queues[t].len())
            .map(|t| (self.share(t), t))
            .collect();
        while let Some((_, t)) = order.pop_first() {
            while let Some(&j) = self.queues[t].get(self.cursor[t]) {
                self.cursor[t] += 1;
                if pass.try_start(j) == StartOutcome::Started {
                    self.started(pass.job(j));
                    if self.cursor[t] < self.queues[t].len() {
                        order.insert((self.share(t), t));
                    }
                    break;
                }
            }
        }
    }
}

impl Scheduler for Drf {
    fn name(&self) -> &'static str {
        "drf"
    }

    fn work_conserving(&self) -> bool {
        true
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        let mut t = Tenants::new(&*pass);
        t.fill(pass);
        if !self.preempt {
            return;
        }
        let now = pass.now();
        let mut tried: BTreeSet<JobId> = BTreeSet::new();
        let mut failed: Vec<JobId> = Vec::new();
        'again: loop {
            // Waiting jobs, lowest tenant share first, then arrival order.
            let mut by_share: Vec<(Share, usize)> = (0..t.queues.len())
                .filter(|&k| !t.queues[k].is_empty())
                .map(|k| (t.share(k), k))
                .collect();
            by_share.sort();
            for (_, a) in by_share {
                for i in 0..t.queues[a].len() {
                    let j = t.queues[a][i];
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
                    let victims = drf_victims(pass, &t, j, now);
                    if preempt_for(pass, j, &victims) {
                        failed.clear();
                        for &v in &victims {
                            if pass.state(v) == JobState::Pending {
                                t.stopped(pass.job(v));
                                // The victim waits again; it may restart below.
                                let vt = pass.job(v).tenant.index();
                                let at = t.queues[vt].partition_point(|&x| x < v);
                                if t.queues[vt].get(at) != Some(&v) {
                                    t.queues[vt].insert(at, v);
                                }
                            }
                        }
                        if pass.state(j) == JobState::Running {
                            t.started(pass.job(j));
                        }
                        // Resources changed: fill again from the start.
                        t.cursor.iter_mut().for_each(|c| *c = 0);
                        t.fill(pass);
                        continue 'again;
                    }
                    if failed.len() < 16 {
                        failed.push(j);
                    }
                }
            }
            break;
        }
    }
}

/// Running jobs of other tenants that job `j` may preempt under Volcano's
/// share test, least important first: highest tenant share, then latest
/// start, then higher id.
fn drf_victims(pass: &dyn SchedulingPass, t: &Tenants, j: JobId, now: SimTime) -> Vec<JobId> {
    let job = pass.job(j);
    let me = job.tenant.index();
    let mine_after = Share::of(&add(&t.usage[me], &usage_of(job)), &t.capacity);
    let mut cands: Vec<(Share, SimTime, JobId)> = pass
        .running()
        .iter()
        .filter(|&&r| pass.job(r).tenant.index() != me && preemptible(pass, r, now, &|_, _| 0))
        .map(|&r| {
            let p = pass.progress(r);
            (
                t.share(pass.job(r).tenant.index()),
                p.run_start.unwrap_or_default(),
                r,
            )
        })
        .collect();
    cands.sort_by(|a, b| b.cmp(a));
    let mut left: Vec<Option<Usage>> = vec![None; t.usage.len()];
    let mut victims = Vec::new();
    for (_, _, r) in cands {
        let rj = pass.job(r);
        let k = rj.tenant.index();
        let cur = left[k].unwrap_or(t.usage[k]);
        let after = sub(&cur, &usage_of(rj));
        if mine_after <= Share::of(&after, &t.capacity) {
            left[k] = Some(after);
            victims.push(r);
        }
    }
    victims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_validates() {
        assert!(!Drf::from_params(&table("")).unwrap().preempt);
        assert!(Drf::from_params(&table("preempt = true")).unwrap().preempt);
        let e = Drf::from_params(&table("preempt = 1")).unwrap_err();
        assert!(e.contains("bool") || e.contains("integer"), "{e}");
        let e = Drf::from_params(&table("weights = 1")).unwrap_err();
        assert!(e.contains("weights"), "{e}");
    }

    #[test]
    fn shares_compare_exactly() {
        let cap = [8_000, 64_000, 1_000];
        let a = Share::of(&[2_000, 0, 0], &cap); // 1/4
        let b = Share::of(&[0, 16_000, 0], &cap); // 1/4
        let c = Share::of(&[0, 0, 300], &cap); // 3/10
        assert_eq!(a, b);
        assert!(a < c);
        assert_eq!(Share::of(&[5, 5, 5], &[0, 0, 0]), Share { num: 0, den: 1 });
    }
}
