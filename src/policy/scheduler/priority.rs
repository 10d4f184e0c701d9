//! Kubernetes pod priority and preemption: kube-scheduler's `PrioritySort`
//! queue with its `DefaultPreemption` post-filter (kubernetes/kubernetes
//! `pkg/scheduler/framework/plugins/{queuesort,defaultpreemption}`,
//! `framework/preemption/preemption.go`; docs: "Pod Priority and
//! Preemption"). A job's priority is [`crate::workload::Job::priority`] (a
//! canonical trace's `priority` column; openb's `qos` mapped by the
//! importer; 0 elsewhere).
//!
//! **Queue.** Pending jobs are tried by priority, higher first, then by the
//! time they (re-)entered the queue (arrival, or their last preemption, as
//! upstream's queue timestamp), then lower job id. Every job that fits starts,
//! whatever happened to the jobs before it (upstream schedules pods one by
//! one; a pod that does not fit does not block the queue).
//!
//! **Preemption.** A job that does not fit and whose priority class allows it
//! may preempt running jobs of *strictly lower* priority. Upstream works one
//! node at a time; a schedlab job is a gang whose workers may span nodes, and
//! a victim is a whole job (all its workers, on every node). The adaptation:
//! - *Candidate victim pools*: for every node of the job's allowed pools, the
//!   lower-priority jobs with a worker on that node (upstream's per-node
//!   candidates); for a gang of more than one worker, also all lower-priority
//!   jobs with a worker on any allowed node (a gang may need several nodes
//!   cleared). A pool counts only if removing all of it lets the whole gang
//!   fit (the other nodes' free room included).
//! - *Minimal victim set per pool*, as upstream: remove the whole pool, then
//!   give back ("reprieve") victims one at a time, most important first
//!   (higher priority, then earlier start of the current run, then lower id),
//!   keeping a victim only if the gang no longer fits with it given back.
//!   schedlab also runs a second reprieve order that gives back smaller jobs
//!   (fewer GPUs) first at equal priority, so one large victim can replace
//!   several small ones; both sets are candidates.
//! - *Choice among candidate sets* by upstream's node-choice rules (PDBs do
//!   not exist here): lowest highest-victim priority, then smallest sum of
//!   victim priorities (each offset by 2^31, so fewer victims weigh less),
//!   then fewest victims, then the latest earliest-start among the
//!   highest-priority victims, then the first generated (per-node sets in
//!   node order, the cluster-wide sets last).
//! - The chosen victims are preempted at once (no 30 s grace period) and the
//!   job starts in the same pass, placed by the scenario's placement policy,
//!   which may use other nodes than the ones cleared (upstream may also bind
//!   elsewhere than the nominated node). Victims keep their progress up to
//!   the last checkpoint and queue again.
//!
//! After the walk, if anything was preempted, every job still pending
//! (victims included) is tried once more in queue order, so no pending job
//! fits when the pass ends: the policy is work conserving.
//!
//! **Parameters** (`[policy.scheduler_params]`):
//! - `classes` (default none): PriorityClasses,
//!   `[{ name = "high", value = 1000, preemption = "PreemptLowerPriority" }]`.
//!   `value` is a job priority (32-bit signed); `preemption` is
//!   `"PreemptLowerPriority"` (default) or `"Never"` (the job is still
//!   ordered by priority but never preempts; it can still be preempted).
//!   Names and values must be unique. A job whose priority equals a class's
//!   value follows that class's preemption policy; a job of any other
//!   priority preempts (`PreemptLowerPriority`, upstream's default).
//!
//! Deviations from upstream: no PodDisruptionBudgets, no nominated-node
//! bookkeeping (the preemptor starts in the same pass), no 10%/100-node
//! candidate sampling (every node is considered, so runs are deterministic),
//! no scheduling back-off.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{Scheduler, SchedulingPass, StartOutcome, parse_params};
use crate::cluster::WorkerAlloc;
use crate::ids::JobId;
use crate::time::SimTime;

/// A PriorityClass's `preemptionPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreemptionPolicy {
    /// May preempt running jobs of strictly lower priority (the default).
    #[default]
    PreemptLowerPriority,
    /// Never preempts.
    Never,
}

/// A PriorityClass: a name for a priority value and its preemption policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityClass {
    pub name: String,
    pub value: i32,
    pub preemption: PreemptionPolicy,
}

/// Kubernetes priority and preemption; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct Priority {
    /// Classes by value.
    classes: BTreeMap<i32, PriorityClass>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    classes: Vec<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    name: String,
    value: i64,
    #[serde(default)]
    preemption: Option<String>,
}

impl Priority {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(params: &toml::Table) -> Result<Self, String> {
        let p: Params = parse_params(params)?;
        let mut classes = BTreeMap::new();
        let mut names = BTreeSet::new();
        for (i, v) in p.classes.iter().enumerate() {
            let at = format!("classes[{i}]");
            let raw: RawClass = parse_at(v, &at)?;
            if raw.name.is_empty() {
                return Err(format!("`{at}.name`: must not be empty"));
            }
            if !names.insert(raw.name.clone()) {
                return Err(format!(
                    "`{at}.name`: duplicate class name \"{}\"",
                    raw.name
                ));
            }
            let value = i32::try_from(raw.value).map_err(|_| {
                format!(
                    "`{at}.value`: got {}, expected a 32-bit signed integer",
                    raw.value
                )
            })?;
            let preemption = match raw.preemption.as_deref() {
                None | Some("PreemptLowerPriority") => PreemptionPolicy::PreemptLowerPriority,
                Some("Never") => PreemptionPolicy::Never,
                Some(other) => {
                    return Err(format!(
                        "`{at}.preemption`: got \"{other}\", expected \"PreemptLowerPriority\" or \"Never\""
                    ));
                }
            };
            if let Some(prev) = classes.get(&value) {
                let prev: &PriorityClass = prev;
                return Err(format!(
                    "`{at}.value`: {value} is already the value of class \"{}\"",
                    prev.name
                ));
            }
            classes.insert(
                value,
                PriorityClass {
                    name: raw.name,
                    value,
                    preemption,
                },
            );
        }
        Ok(Priority { classes })
    }

    /// The classes, by value.
    pub fn classes(&self) -> impl Iterator<Item = &PriorityClass> {
        self.classes.values()
    }

    /// The preemption policy of jobs of this priority.
    pub fn policy_of(&self, priority: i32) -> PreemptionPolicy {
        self.classes
            .get(&priority)
            .map_or(PreemptionPolicy::PreemptLowerPriority, |c| c.preemption)
    }
}

/// Deserializes a nested table, prefixing errors with its path.
pub(super) fn parse_at<T: serde::de::DeserializeOwned>(
    v: &toml::Value,
    path: &str,
) -> Result<T, String> {
    v.clone()
        .try_into()
        .map_err(|e: toml::de::Error| format!("`{path}`: {}", e.message()))
}

impl Scheduler for Priority {
    fn name(&self) -> &'static str {
        "priority"
    }

    fn work_conserving(&self) -> bool {
        true
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        let key = |pass: &dyn SchedulingPass, j: JobId| {
            (Reverse(pass.job(j).priority), pass.progress(j).queued_at, j)
        };
        let mut order: Vec<(Reverse<i32>, SimTime, JobId)> =
            pass.pending().iter().map(|&j| key(pass, j)).collect();
        order.sort_unstable();
        // Jobs that could not preempt in this pass; a job of the same shape
        // and no higher priority cannot either, until something is preempted.
        let mut failed: Vec<JobId> = Vec::new();
        let mut victims_all: Vec<JobId> = Vec::new();
        for &(_, _, job) in &order {
            if pass.try_start(job) != StartOutcome::NoFit {
                continue;
            }
            let prio = pass.job(job).priority;
            if self.policy_of(prio) == PreemptionPolicy::Never
                || failed.iter().any(|&f| dominated(pass, job, f))
            {
                continue;
            }
            match find_victims(pass, job) {
                Some(victims) if pass.fits_if_preempted(job, &victims) => {
                    for &v in &victims {
                        pass.preempt(v);
                    }
                    victims_all.extend_from_slice(&victims);
                    failed.clear();
                    pass.try_start(job);
                }
                _ => failed.push(job),
            }
        }
        if !victims_all.is_empty() {
            let mut rest: Vec<(Reverse<i32>, SimTime, JobId)> = order
                .iter()
                .map(|&(_, _, j)| j)
                .chain(victims_all)
                .filter(|&j| pass.state(j) == crate::engine::JobState::Pending)
                .map(|j| key(pass, j))
                .collect();
            rest.sort_unstable();
            rest.dedup();
            for (_, _, j) in rest {
                pass.try_start(j);
            }
        }
    }
}

/// True when `job` asks for no less than `failed` did, with no higher
/// priority: if `failed` found no victims, neither can `job`.
fn dominated(pass: &dyn SchedulingPass, job: JobId, failed: JobId) -> bool {
    let (a, b) = (pass.job(job), pass.job(failed));
    a.priority <= b.priority
        && a.workers >= b.workers
        && a.gpu == b.gpu
        && a.cpu_milli >= b.cpu_milli
        && a.memory_mib >= b.memory_mib
        && a.gpu_models == b.gpu_models
}

/// A possible victim.
struct Cand {
    job: JobId,
    priority: i32,
    start: SimTime,
    gpu_milli: u64,
    allocs: Vec<WorkerAlloc>,
}

/// The victim set chosen for `job` by the rules in the module docs, or
/// `None` when no set of strictly-lower-priority jobs makes it fit.
fn find_victims(pass: &dyn SchedulingPass, job: JobId) -> Option<Vec<JobId>> {
    let j = pass.job(job);
    let prio = j.priority;
    let view = pass.cluster();
    let shape = room::Shape::of(j, view.pools(), None);
    let mut running: Vec<JobId> = pass
        .running()
        .iter()
        .copied()
        .filter(|&r| pass.job(r).priority < prio)
        .collect();
    if running.is_empty() {
        return None;
    }
    running.sort_unstable();
    let cands: Vec<Cand> = running
        .into_iter()
        .map(|r| Cand {
            job: r,
            priority: pass.job(r).priority,
            start: pass.progress(r).run_start.unwrap_or(SimTime::ZERO),
            gpu_milli: pass.job(r).total_gpu_milli(),
            allocs: pass.allocations(r).to_vec(),
        })
        .collect();
    let what_if = room::WhatIf::new(view, &shape);
    // Victim workers on each allowed node: (candidate, allocation).
    let mut by_node: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    for (c, cand) in cands.iter().enumerate() {
        for (a, alloc) in cand.allocs.iter().enumerate() {
            if what_if.allowed(alloc.node.index()) {
                by_node.entry(alloc.node.index()).or_default().push((c, a));
            }
        }
    }
    let fits = |set: &[bool]| -> bool {
        what_if.fits_without(
            set.iter()
                .enumerate()
                .filter(|&(_, &s)| s)
                .flat_map(|(c, _)| cands[c].allocs.iter()),
        )
    };
    let useful: Vec<usize> = {
        let mut u: Vec<usize> = by_node.values().flatten().map(|&(c, _)| c).collect();
        u.sort_unstable();
        u.dedup();
        u
    };
    let mut all = vec![false; cands.len()];
    for &c in &useful {
        all[c] = true;
    }
    if !fits(&all) {
        return None;
    }
    let mut pools: Vec<Vec<usize>> = by_node
        .values()
        .map(|v| {
            let mut p: Vec<usize> = v.iter().map(|&(c, _)| c).collect();
            p.sort_unstable();
            p.dedup();
            p
        })
        .collect();
    if shape.workers > 1 {
        pools.push(useful);
    }
    type Order = fn(&Cand) -> (Reverse<i32>, u64, SimTime, JobId);
    let orders: [Order; 2] = [
        |c| (Reverse(c.priority), 0, c.start, c.job),
        |c| (Reverse(c.priority), c.gpu_milli, c.start, c.job),
    ];
    let mut best: Option<(Score, Vec<usize>)> = None;
    for pool in &pools {
        let mut set = vec![false; cands.len()];
        for &c in pool {
            set[c] = true;
        }
        if !fits(&set) {
            continue;
        }
        for order in orders {
            let mut s = set.clone();
            let mut ord = pool.clone();
            ord.sort_by_key(|&c| order(&cands[c]));
            for c in ord {
                s[c] = false;
                if !fits(&s) {
                    s[c] = true;
                }
            }
            let victims: Vec<usize> = (0..cands.len()).filter(|&c| s[c]).collect();
            let score = Score::of(&cands, &victims);
            if best.as_ref().is_none_or(|(b, _)| score < *b) {
                best = Some((score, victims));
            }
        }
    }
    best.map(|(_, v)| v.into_iter().map(|c| cands[c].job).collect())
}

/// Upstream's node-choice key for a victim set (smaller is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    top_priority: i32,
    priority_sum: i64,
    count: usize,
    /// Earliest start among the highest-priority victims, latest preferred.
    top_earliest_start: Reverse<SimTime>,
}

impl Score {
    fn of(cands: &[Cand], victims: &[usize]) -> Score {
        let top = victims
            .iter()
            .map(|&c| cands[c].priority)
            .max()
            .unwrap_or(i32::MIN);
        Score {
            top_priority: top,
            priority_sum: victims
                .iter()
                .map(|&c| i64::from(cands[c].priority) + (1_i64 << 31))
                .sum(),
            count: victims.len(),
            top_earliest_start: Reverse(
                victims
                    .iter()
                    .filter(|&&c| cands[c].priority == top)
                    .map(|&c| cands[c].start)
                    .min()
                    .unwrap_or(SimTime::ZERO),
            ),
        }
    }
}

/// A what-if copy of the node ledger for answering "would this gang fit if
/// these workers were gone (or those added)?" without touching the engine.
/// It mirrors `Node::fit_count` (whole GPUs, per-GPU milli shares, CPU,
/// memory); the policies still confirm with the engine
/// ([`SchedulingPass::fits_if_preempted`]) before acting where they can.
/// Shared by `priority`, `easy-backfill` and `kueue`.
pub(super) mod room {
    use crate::cluster::{ClusterView, Node, PoolSpec, WorkerAlloc};
    use crate::workload::{GpuDemand, Job, MILLI_PER_GPU};

    /// A job's worker shape and the pools it may use.
    #[derive(Debug, Clone)]
    pub(in crate::policy::scheduler) struct Shape {
        pub gpu: GpuDemand,
        pub cpu_milli: u32,
        pub memory_mib: u64,
        pub workers: u32,
        /// Indexed by pool id.
        pub allowed: Vec<bool>,
    }

    impl Shape {
        /// The shape of `job`, on the pools whose GPU model it accepts (as
        /// the engine decides), further restricted to `only` if given.
        pub fn of(job: &Job, pools: &[PoolSpec], only: Option<&[bool]>) -> Shape {
            Shape {
                gpu: job.gpu,
                cpu_milli: job.cpu_milli,
                memory_mib: job.memory_mib,
                workers: job.workers,
                allowed: pools
                    .iter()
                    .enumerate()
                    .map(|(p, spec)| {
                        (job.gpu_models.is_empty() || job.gpu_models.contains(&spec.gpu_model))
                            && only.is_none_or(|o| o.get(p).copied().unwrap_or(false))
                    })
                    .collect(),
            }
        }
    }

    /// One node's free room.
    #[derive(Debug, Clone)]
    pub(in crate::policy::scheduler) struct Room {
        pub pool: usize,
        gpu_used: Vec<u32>,
        cpu_free: u32,
        mem_free: u64,
    }

    impl Room {
        pub fn of(n: &Node) -> Room {
            Room {
                pool: n.pool.index(),
                gpu_used: n.gpu_used().to_vec(),
                cpu_free: n.cpu_capacity().saturating_sub(n.cpu_used()),
                mem_free: n.memory_capacity().saturating_sub(n.memory_used()),
            }
        }

        /// The node with nothing allocated.
        pub fn empty(n: &Node) -> Room {
            Room {
                pool: n.pool.index(),
                gpu_used: vec![0; n.gpu_count() as usize],
                cpu_free: n.cpu_capacity(),
                mem_free: n.memory_capacity(),
            }
        }

        /// Frees a worker's allocation.
        pub fn release(&mut self, a: &WorkerAlloc) {
            for s in &a.gpus {
                if let Some(u) = self.gpu_used.get_mut(s.index as usize) {
                    *u = u.saturating_sub(s.milli);
                }
            }
            self.cpu_free = self.cpu_free.saturating_add(a.cpu_milli);
            self.mem_free = self.mem_free.saturating_add(a.memory_mib);
        }

        /// Takes a worker's allocation.
        pub fn hold(&mut self, a: &WorkerAlloc) {
            for s in &a.gpus {
                if let Some(u) = self.gpu_used.get_mut(s.index as usize) {
                    *u = (*u + s.milli).min(MILLI_PER_GPU);
                }
            }
            self.cpu_free = self.cpu_free.saturating_sub(a.cpu_milli);
            self.mem_free = self.mem_free.saturating_sub(a.memory_mib);
        }

        /// Takes `k` workers of `shape` wherever hurts most: whole GPUs take
        /// free GPUs; a fractional worker takes a whole GPU (a free one if
        /// any, else the emptiest where its share fits).
        pub fn charge_worst(&mut self, shape: &Shape, k: u32) {
            for _ in 0..k {
                match shape.gpu {
                    GpuDemand::Whole(g) => {
                        let mut left = g;
                        for u in self.gpu_used.iter_mut() {
                            if left == 0 {
                                break;
                            }
                            if *u == 0 {
                                *u = MILLI_PER_GPU;
                                left -= 1;
                            }
                        }
                    }
                    GpuDemand::Fraction(m) => {
                        if let Some(u) = self
                            .gpu_used
                            .iter_mut()
                            .filter(|u| **u + m <= MILLI_PER_GPU)
                            .min_by_key(|u| **u)
                        {
                            *u = MILLI_PER_GPU;
                        }
                    }
                }
                self.cpu_free = self.cpu_free.saturating_sub(shape.cpu_milli);
                self.mem_free = self.mem_free.saturating_sub(shape.memory_mib);
            }
        }

        /// Workers of `shape` that fit here (0 on a pool it may not use);
        /// the same arithmetic as `Node::fit_count`.
        pub fn fit_count(&self, shape: &Shape) -> u32 {
            if !shape.allowed.get(self.pool).copied().unwrap_or(false) {
                return 0;
            }
            let mut n = u32::MAX;
            if let Some(c) = self.cpu_free.checked_div(shape.cpu_milli) {
                n = n.min(c);
            }
            if let Some(m) = self.mem_free.checked_div(shape.memory_mib) {
                n = n.min(u32::try_from(m).unwrap_or(u32::MAX));
            }
            match shape.gpu {
                GpuDemand::Whole(0) => {}
                GpuDemand::Whole(g) => {
                    let free = self.gpu_used.iter().filter(|&&u| u == 0).count() as u32;
                    n = n.min(free / g);
                }
                GpuDemand::Fraction(m) => {
                    let per_gpu: u32 = self
                        .gpu_used
                        .iter()
                        .map(|&u| MILLI_PER_GPU.saturating_sub(u) / m.max(1))
                        .sum();
                    n = n.min(per_gpu);
                }
            }
            n
        }
    }

    /// Could the gang fit on an empty cluster (on its allowed pools)?
    pub(in crate::policy::scheduler) fn ever_fits(view: ClusterView<'_>, shape: &Shape) -> bool {
        let total: u64 = view
            .nodes()
            .iter()
            .map(|n| u64::from(Room::empty(n).fit_count(shape)))
            .sum();
        shape.workers > 0 && total >= u64::from(shape.workers)
    }

    /// The whole cluster's rooms for one gang shape, with the per-node fit
    /// counts and their sum kept in step.
    #[derive(Debug, Clone)]
    pub(in crate::policy::scheduler) struct WhatIf {
        pub shape: Shape,
        pub rooms: Vec<Room>,
        counts: Vec<u32>,
        total: u64,
    }

    impl WhatIf {
        pub fn new(view: ClusterView<'_>, shape: &Shape) -> WhatIf {
            let rooms: Vec<Room> = view.nodes().iter().map(Room::of).collect();
            let counts: Vec<u32> = rooms.iter().map(|r| r.fit_count(shape)).collect();
            let total = counts.iter().map(|&c| u64::from(c)).sum();
            WhatIf {
                shape: shape.clone(),
                rooms,
                counts,
                total,
            }
        }

        /// May the gang use node `n`?
        pub fn allowed(&self, n: usize) -> bool {
            self.rooms
                .get(n)
                .is_some_and(|r| self.shape.allowed.get(r.pool).copied().unwrap_or(false))
        }

        /// Does the whole gang fit?
        pub fn fits(&self) -> bool {
            self.total >= u64::from(self.shape.workers)
        }

        /// Would the gang fit with these workers gone? Changes nothing.
        pub fn fits_without<'a>(&self, allocs: impl Iterator<Item = &'a WorkerAlloc>) -> bool {
            let mut touched: Vec<(usize, Room)> = Vec::new();
            for a in allocs {
                let n = a.node.index();
                if !self.allowed(n) {
                    continue;
                }
                match touched.iter_mut().find(|(m, _)| *m == n) {
                    Some((_, r)) => r.release(a),
                    None => {
                        let mut r = self.rooms[n].clone();
                        r.release(a);
                        touched.push((n, r));
                    }
                }
            }
            let mut total = self.total;
            for (n, r) in &touched {
                total = total - u64::from(self.counts[*n]) + u64::from(r.fit_count(&self.shape));
            }
            total >= u64::from(self.shape.workers)
        }

        /// Applies `f` to node `n`'s room and updates the counts.
        pub fn update(&mut self, n: usize, f: impl FnOnce(&mut Room)) {
            let Some(r) = self.rooms.get_mut(n) else {
                return;
            };
            f(r);
            let c = r.fit_count(&self.shape);
            self.total = self.total - u64::from(self.counts[n]) + u64::from(c);
            self.counts[n] = c;
        }

        /// Fit count of node `n` as it stands.
        pub fn count(&self, n: usize) -> u32 {
            self.counts.get(n).copied().unwrap_or(0)
        }

        /// Sum of the fit counts.
        pub fn total(&self) -> u64 {
            self.total
        }
    }
}
