//! The scheduler's view of the real cluster: a [`Cluster`] ledger mirrored
//! from what schedlab bound and what the watch reported finished, and the
//! [`SchedulingPass`] through which the scenario's own [`Scheduler`] and
//! [`Placement`] run, unchanged, against it. No I/O here: the driver
//! (`driver.rs`) turns a pass's decisions into API calls and feeds watch
//! events back in, which keeps this part deterministic and unit-tested.
//!
//! The semantics follow the engine's (`src/engine/mod.rs`): pending jobs in
//! arrival order, gangs placed worker by worker with the placement policy and
//! rolled back whole when one worker does not fit, preemption keeping
//! progress up to the last checkpoint, restarts paying the restore overhead.

use std::collections::BTreeSet;

use crate::cluster::{Cluster, ClusterView, NodeState, PoolSpec, WorkerAlloc, WorkerRequest};
use crate::engine::{EngineConfig, JobProgress, JobState};
use crate::ids::{JobId, NodeId, PoolId};
use crate::policy::autoscaler::PendingGang;
use crate::policy::placement::Placement;
use crate::policy::scheduler::{Scheduler, SchedulingPass, StartOutcome};
use crate::time::{Millis, SimTime};
use crate::workload::{Job, Workload};

/// One job's state as the mirror sees it.
#[derive(Debug, Clone)]
struct Track {
    state: JobState,
    /// Index into `Mirror::pool_masks`.
    mask: usize,
    allocs: Vec<WorkerAlloc>,
    /// Work kept from earlier runs (checkpointed), ms at full speed.
    done_work: Millis,
    /// When the current run started (decision time, then the instant the
    /// whole gang was observed Running).
    run_start: SimTime,
    run_overhead: Millis,
    /// Slowdown of the current run in thousandths (1000 = full speed).
    run_slowdown: u64,
    queued_at: SimTime,
    /// GPU time of earlier runs, milli-GPU·ms.
    attained_prev: u128,
    /// Wall time of earlier runs, scenario ms.
    ran_prev: Millis,
    starts: u32,
    preemptions: u32,
    first_start: Option<SimTime>,
    end: Option<SimTime>,
    /// Work lost to preemptions, ms at full speed.
    lost_work: Millis,
}

/// What one scheduling pass decided, for the driver to carry out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassDecisions {
    /// Running jobs that were preempted, in decision order (their pods must
    /// be deleted). A job may also appear in `started` if the same pass
    /// restarted it.
    pub preempted: Vec<JobId>,
    /// Jobs started, in decision order, with their workers' allocations
    /// ([`Mirror::allocations`]).
    pub started: Vec<JobId>,
}

/// The mirrored ledger and job states; implements [`SchedulingPass`].
pub struct Mirror<'w> {
    workload: &'w Workload,
    cluster: Cluster,
    /// The same cluster, always empty: "could this job ever fit?".
    empty: Cluster,
    placement: Box<dyn Placement>,
    pool_masks: Vec<Vec<bool>>,
    jobs: Vec<Track>,
    pending: Vec<JobId>,
    running: Vec<JobId>,
    now: SimTime,
    in_pass: bool,
    requeued: Vec<JobId>,
    wakeups: BTreeSet<SimTime>,
    decisions: PassDecisions,
    checkpoint_interval: Millis,
    restore_overhead: Millis,
    cross_rack_milli: u64,
    /// A placement policy bug (it chose a node where the worker does not
    /// fit); the run stops with it.
    fault: Option<String>,
    /// ∫ allocated milli-GPUs dt, milli-GPU·ms.
    alloc_integral: u128,
    /// ∫ ready milli-GPUs dt, milli-GPU·ms, from scenario time 0.
    capacity_integral: u128,
    /// Nodes paid for per pool (every node not `Removed`, as the engine's
    /// `paid_nodes`: from its request to its removal).
    paid: Vec<u32>,
    /// ∫ paid nodes dt per pool, node·ms, from scenario time 0.
    node_ms: Vec<u128>,
    last_change: SimTime,
}

impl<'w> Mirror<'w> {
    /// An empty cluster of `pools`, every job not yet arrived. `start` is the
    /// scenario instant the run's clock starts at.
    pub fn new(
        workload: &'w Workload,
        pools: &[PoolSpec],
        placement: Box<dyn Placement>,
        config: &EngineConfig,
        start: SimTime,
    ) -> Mirror<'w> {
        let mut cluster = Cluster::new(pools);
        if let Some(t) = &config.topology {
            cluster.set_racks(t.nodes_per_rack);
        }
        let mut pool_masks: Vec<Vec<bool>> = Vec::new();
        let jobs = workload
            .jobs
            .iter()
            .map(|j| {
                let m: Vec<bool> = pools
                    .iter()
                    .map(|p| j.gpu_models.is_empty() || j.gpu_models.contains(&p.gpu_model))
                    .collect();
                let mask = match pool_masks.iter().position(|x| *x == m) {
                    Some(i) => i,
                    None => {
                        pool_masks.push(m);
                        pool_masks.len() - 1
                    }
                };
                Track {
                    state: JobState::NotArrived,
                    mask,
                    allocs: Vec::new(),
                    done_work: 0,
                    run_start: SimTime::ZERO,
                    run_overhead: 0,
                    run_slowdown: 1000,
                    queued_at: SimTime::ZERO,
                    attained_prev: 0,
                    ran_prev: 0,
                    starts: 0,
                    preemptions: 0,
                    first_start: None,
                    end: None,
                    lost_work: 0,
                }
            })
            .collect();
        // "Could this job ever fit?" counts node groups at their largest
        // size, as the engine does.
        let grown = crate::policy::autoscaler::pools_at_max_size(
            pools,
            config.autoscaler.as_ref().map(|(spec, _)| spec),
        );
        // The scenario's nodes exist (and are paid for) from scenario time 0,
        // before the run's clock starts at the first arrival.
        let capacity_integral = u128::from(cluster.gpu_milli_capacity()) * u128::from(start.0);
        let paid: Vec<u32> = pools.iter().map(|p| p.nodes).collect();
        let node_ms = paid
            .iter()
            .map(|&n| u128::from(n) * u128::from(start.0))
            .collect();
        Mirror {
            workload,
            empty: Cluster::new(&grown),
            cluster,
            placement,
            pool_masks,
            jobs,
            pending: Vec::new(),
            running: Vec::new(),
            now: start,
            in_pass: false,
            requeued: Vec::new(),
            wakeups: BTreeSet::new(),
            decisions: PassDecisions::default(),
            checkpoint_interval: config.checkpoint_interval,
            restore_overhead: config.restore_overhead,
            cross_rack_milli: config.topology.map_or(1000, |t| {
                (t.cross_rack_slowdown.max(1.0) * 1000.0).round() as u64
            }),
            fault: None,
            alloc_integral: 0,
            capacity_integral,
            paid,
            node_ms,
            last_change: start,
        }
    }

    /// The ledger.
    pub fn ledger(&self) -> &Cluster {
        &self.cluster
    }

    /// Moves the clock to `now` (never backwards), integrating the GPU
    /// allocation.
    pub fn advance(&mut self, now: SimTime) {
        let now = now.max(self.now);
        let dt = now.since(self.last_change);
        self.alloc_integral += u128::from(self.cluster.gpu_milli_used()) * u128::from(dt);
        self.capacity_integral += u128::from(self.cluster.gpu_milli_capacity()) * u128::from(dt);
        for (acc, &n) in self.node_ms.iter_mut().zip(&self.paid) {
            *acc += u128::from(n) * u128::from(dt);
        }
        self.last_change = now;
        self.now = now;
    }

    /// (∫ ready milli-GPUs dt, ∫ paid nodes dt per pool) from scenario time 0
    /// to `end`. The clock may have moved past `end` (a scan or sample after
    /// the last completion): that span is taken back, as the engine does.
    pub fn paid_until(&self, end: SimTime) -> (u128, Vec<u128>) {
        let extra = u128::from(self.now.0.saturating_sub(end.0));
        let capacity = self
            .capacity_integral
            .saturating_sub(u128::from(self.cluster.gpu_milli_capacity()) * extra);
        let nodes = self
            .node_ms
            .iter()
            .zip(&self.paid)
            .map(|(&acc, &n)| acc.saturating_sub(u128::from(n) * extra))
            .collect();
        (capacity, nodes)
    }

    /// A scale-up at `now`: a new node of `pool`, `Provisioning` (paid for
    /// from now, schedulable once [`Mirror::node_ready`]).
    pub fn add_node(&mut self, pool: PoolId, now: SimTime) -> NodeId {
        self.advance(now);
        self.paid[pool.index()] += 1;
        self.cluster.add_node(pool, NodeState::Provisioning)
    }

    /// A provisioning node became ready at `now`; false (nothing changes) if
    /// it is not provisioning (given up meanwhile).
    pub fn node_ready(&mut self, node: NodeId, now: SimTime) -> bool {
        if self.cluster.nodes().get(node.index()).map(|n| n.state())
            != Some(NodeState::Provisioning)
        {
            return false;
        }
        self.advance(now);
        self.cluster.set_state(node, NodeState::Ready);
        true
    }

    /// A scale-down or give-up at `now`: an empty node that is not removed
    /// yet is `Removed` (true); a busy or removed one is left alone (false),
    /// as in the engine.
    pub fn remove_node(&mut self, node: NodeId, now: SimTime) -> bool {
        let Some(n) = self.cluster.nodes().get(node.index()) else {
            return false;
        };
        if n.workers() > 0 || n.state() == NodeState::Removed {
            return false;
        }
        let pool = n.pool.index();
        self.advance(now);
        self.cluster.set_state(node, NodeState::Removed);
        self.paid[pool] -= 1;
        true
    }

    /// Ready nodes of each pool, indexed by pool id.
    pub fn ready_per_pool(&self) -> Vec<u32> {
        let mut out = vec![0; self.paid.len()];
        for n in self.cluster.nodes() {
            if n.is_ready() {
                out[n.pool.index()] += 1;
            }
        }
        out
    }

    /// The pending gangs that do not fit the ledger now, in queue order: what
    /// a cluster-autoscaler scan may scale up for (the engine's `scan`).
    pub fn unplaceable_gangs(&self) -> Vec<PendingGang> {
        self.pending
            .iter()
            .filter_map(|&j| {
                let job = self.workload.job(j);
                let mask = &self.pool_masks[self.jobs[j.index()].mask];
                let req = WorkerRequest {
                    gpu: job.gpu,
                    cpu_milli: job.cpu_milli,
                    memory_mib: job.memory_mib,
                    allowed_pools: mask,
                };
                (!self.cluster.view().gang_fits(&req, job.workers)).then(|| PendingGang {
                    workers: job.workers,
                    gpu: job.gpu,
                    cpu_milli: job.cpu_milli,
                    memory_mib: job.memory_mib,
                    allowed_pools: mask.clone(),
                    priority: job.priority,
                })
            })
            .collect()
    }

    /// ∫ allocated milli-GPUs dt so far, milli-GPU·ms.
    pub fn alloc_integral(&self) -> u128 {
        self.alloc_integral
    }

    /// A job arrives at `now`: it waits (true), or can never fit on this
    /// cluster and is unschedulable (false), as in the engine.
    pub fn arrive(&mut self, id: JobId, now: SimTime) -> bool {
        self.advance(now);
        let job = self.workload.job(id);
        let req = self.request(job, self.jobs[id.index()].mask);
        let ever = job.workers > 0 && self.empty.view().gang_fits(&req, job.workers);
        let t = &mut self.jobs[id.index()];
        if ever {
            t.state = JobState::Pending;
            t.queued_at = now;
            let at = self.pending.partition_point(|&j| j < id);
            self.pending.insert(at, id);
        } else {
            t.state = JobState::Unschedulable;
        }
        ever
    }

    /// Runs one scheduling pass of `scheduler` at `now`; returns what it
    /// decided, or the placement policy's fault.
    pub fn pass(
        &mut self,
        scheduler: &mut dyn Scheduler,
        now: SimTime,
    ) -> Result<PassDecisions, String> {
        self.advance(now);
        self.wakeups.retain(|&w| w > now);
        self.decisions = PassDecisions::default();
        if !self.pending.is_empty() {
            self.in_pass = true;
            scheduler.schedule(self);
            self.in_pass = false;
        }
        let jobs = &self.jobs;
        self.pending
            .retain(|j| jobs[j.index()].state == JobState::Pending);
        for j in std::mem::take(&mut self.requeued) {
            if self.jobs[j.index()].state == JobState::Pending
                && self.pending.binary_search(&j).is_err()
            {
                let at = self.pending.partition_point(|&p| p < j);
                self.pending.insert(at, j);
            }
        }
        if let Some(f) = self.fault.take() {
            return Err(f);
        }
        Ok(std::mem::take(&mut self.decisions))
    }

    /// The whole gang of a running job was observed Running at `at`: its
    /// progress counts from then (what KWOK's run-for timer does).
    pub fn mark_running(&mut self, id: JobId, at: SimTime) {
        let t = &mut self.jobs[id.index()];
        if t.state == JobState::Running && at > t.run_start {
            t.run_start = at;
        }
    }

    /// Every worker of a running job succeeded at `now`: release it.
    /// Returns false (and changes nothing) if it was not running.
    pub fn complete(&mut self, id: JobId, now: SimTime) -> bool {
        if self.jobs[id.index()].state != JobState::Running {
            return false;
        }
        self.advance(now);
        let milli = u128::from(self.workload.job(id).total_gpu_milli());
        let duration = self.workload.job(id).duration;
        let t = &mut self.jobs[id.index()];
        for a in t.allocs.drain(..) {
            self.cluster.release(&a);
        }
        let ran = now.since(t.run_start);
        t.attained_prev += milli * u128::from(ran);
        t.ran_prev += ran;
        t.done_work = duration;
        t.state = JobState::Finished;
        t.end = Some(now);
        self.running.retain(|&j| j != id);
        true
    }

    /// A started job's pods could not all be bound (or were lost): release
    /// its resources and queue it again with the progress it had. Not a
    /// preemption, and the start is undone: the retry is not a restart (no
    /// restore overhead) and a first start that failed is no first start.
    pub fn abort_start(&mut self, id: JobId, now: SimTime) -> bool {
        if self.jobs[id.index()].state != JobState::Running {
            return false;
        }
        self.advance(now);
        let t = &mut self.jobs[id.index()];
        for a in t.allocs.drain(..) {
            self.cluster.release(&a);
        }
        t.state = JobState::Pending;
        t.queued_at = now;
        t.starts -= 1;
        if t.starts == 0 {
            t.first_start = None;
        }
        self.running.retain(|&j| j != id);
        let at = self.pending.partition_point(|&j| j < id);
        if self.pending.get(at) != Some(&id) {
            self.pending.insert(at, id);
        }
        true
    }

    /// How long the current (or next) run of a job lasts, in scenario ms:
    /// its remaining work at the run's speed, plus the restore overhead of a
    /// restart.
    pub fn run_length(&self, id: JobId) -> Millis {
        let t = &self.jobs[id.index()];
        let job = self.workload.job(id);
        let remaining = job.duration.saturating_sub(t.done_work);
        let overhead = if t.state == JobState::Running {
            t.run_overhead
        } else if t.starts > 0 {
            self.restore_overhead
        } else {
            0
        };
        overhead + (remaining * t.run_slowdown).div_ceil(1000)
    }

    /// Scenario instants at which a policy asked for another pass.
    pub fn next_wakeup(&self) -> Option<SimTime> {
        self.wakeups.first().copied()
    }

    /// True when every job is final (finished or unschedulable).
    pub fn all_final(&self) -> bool {
        self.jobs
            .iter()
            .all(|t| matches!(t.state, JobState::Finished | JobState::Unschedulable))
    }

    /// Jobs waiting, in arrival order.
    pub fn pending_jobs(&self) -> &[JobId] {
        &self.pending
    }

    /// Jobs running (bound), unordered.
    pub fn running_jobs(&self) -> &[JobId] {
        &self.running
    }

    /// (preemptions, first start decision, end, lost work ms) of a job.
    pub fn outcome(&self, id: JobId) -> (JobState, u32, Option<SimTime>, Option<SimTime>, Millis) {
        let t = &self.jobs[id.index()];
        (t.state, t.preemptions, t.first_start, t.end, t.lost_work)
    }

    /// Scenario ms a job ran over all its runs, the current one up to now.
    pub fn ran_ms(&self, id: JobId) -> Millis {
        let t = &self.jobs[id.index()];
        let current = if t.state == JobState::Running {
            self.now.since(t.run_start)
        } else {
            0
        };
        t.ran_prev + current
    }

    /// Times a job started (first start included).
    pub fn starts(&self, id: JobId) -> u32 {
        self.jobs[id.index()].starts
    }

    fn request(&self, job: &Job, mask: usize) -> WorkerRequest<'_> {
        WorkerRequest {
            gpu: job.gpu,
            cpu_milli: job.cpu_milli,
            memory_mib: job.memory_mib,
            allowed_pools: &self.pool_masks[mask],
        }
    }

    /// Places every worker or none, as the engine does; `Ok(None)` when the
    /// gang does not fit.
    fn place_gang(&mut self, id: JobId, mask: usize) -> Result<Option<Vec<WorkerAlloc>>, String> {
        let workload = self.workload;
        let job = workload.job(id);
        if job.total_whole_gpus() > self.cluster.free_whole_gpus() {
            return Ok(None);
        }
        let req = WorkerRequest {
            gpu: job.gpu,
            cpu_milli: job.cpu_milli,
            memory_mib: job.memory_mib,
            allowed_pools: &self.pool_masks[mask],
        };
        if job.workers > 1 && !self.cluster.view().gang_fits(&req, job.workers) {
            return Ok(None);
        }
        let mut allocs: Vec<WorkerAlloc> = Vec::with_capacity(job.workers as usize);
        let mut fault = None;
        for _ in 0..job.workers {
            match crate::engine::place_one(&mut self.cluster, self.placement.as_mut(), job, &req) {
                Ok(Some(alloc)) => allocs.push(alloc),
                Ok(None) => break,
                Err(e) => {
                    fault = Some(e.to_string());
                    break;
                }
            }
        }
        if allocs.len() < job.workers as usize {
            for a in &allocs {
                self.cluster.release(a);
            }
            return match fault {
                Some(f) => Err(f),
                None => Ok(None),
            };
        }
        Ok(Some(allocs))
    }

    fn start(&mut self, id: JobId, allocs: Vec<WorkerAlloc>) {
        let mut nodes: Vec<NodeId> = allocs.iter().map(|a| a.node).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let view = self.cluster.view();
        let rack = view.node(nodes[0]).rack();
        let slowdown = if nodes.iter().any(|&n| view.node(n).rack() != rack) {
            self.cross_rack_milli
        } else {
            1000
        };
        let now = self.now;
        let t = &mut self.jobs[id.index()];
        t.state = JobState::Running;
        t.starts += 1;
        t.first_start.get_or_insert(now);
        t.allocs = allocs;
        t.run_overhead = if t.starts > 1 {
            self.restore_overhead
        } else {
            0
        };
        t.run_start = now;
        t.run_slowdown = slowdown;
        self.running.push(id);
        self.decisions.started.push(id);
    }

    fn stop(&mut self, id: JobId) -> bool {
        if self.jobs.get(id.index()).map(|t| t.state) != Some(JobState::Running) {
            return false;
        }
        let job = self.workload.job(id);
        let (duration, milli) = (job.duration, u128::from(job.total_gpu_milli()));
        let now = self.now;
        let t = &mut self.jobs[id.index()];
        for a in t.allocs.drain(..) {
            self.cluster.release(&a);
        }
        let ran = now.since(t.run_start);
        let progress = (t.done_work + ran.saturating_sub(t.run_overhead) * 1000 / t.run_slowdown)
            .min(duration);
        let kept = match self.checkpoint_interval {
            0 => 0,
            c => progress / c * c,
        };
        t.lost_work += progress - kept;
        t.done_work = kept;
        t.attained_prev += milli * u128::from(ran);
        t.ran_prev += ran;
        t.preemptions += 1;
        t.state = JobState::Pending;
        t.queued_at = now;
        self.running.retain(|&j| j != id);
        self.decisions.preempted.push(id);
        if self.in_pass {
            self.requeued.push(id);
        } else {
            let at = self.pending.partition_point(|&j| j < id);
            self.pending.insert(at, id);
        }
        true
    }
}

impl SchedulingPass for Mirror<'_> {
    fn now(&self) -> SimTime {
        self.now
    }

    fn workload(&self) -> &Workload {
        self.workload
    }

    fn pending(&self) -> &[JobId] {
        &self.pending
    }

    fn cluster(&self) -> ClusterView<'_> {
        self.cluster.view()
    }

    fn try_start(&mut self, job: JobId) -> StartOutcome {
        if self.fault.is_some() {
            return StartOutcome::NoFit;
        }
        if self.jobs.get(job.index()).map(|t| t.state) != Some(JobState::Pending) {
            return StartOutcome::NotPending;
        }
        let mask = self.jobs[job.index()].mask;
        match self.place_gang(job, mask) {
            Ok(Some(allocs)) => {
                self.start(job, allocs);
                StartOutcome::Started
            }
            Ok(None) => StartOutcome::NoFit,
            Err(f) => {
                self.fault = Some(f);
                StartOutcome::NoFit
            }
        }
    }

    fn running(&self) -> &[JobId] {
        &self.running
    }

    fn progress(&self, id: JobId) -> JobProgress {
        let t = &self.jobs[id.index()];
        let job = self.workload.job(id);
        let (cur_ms, cur_work) = if t.state == JobState::Running {
            let ran = self.now.since(t.run_start);
            (
                ran,
                ran.saturating_sub(t.run_overhead) * 1000 / t.run_slowdown,
            )
        } else {
            (0, 0)
        };
        let done = (t.done_work + cur_work).min(job.duration);
        JobProgress {
            state: t.state,
            attained_gpu_milli_ms: t.attained_prev
                + u128::from(job.total_gpu_milli()) * u128::from(cur_ms),
            attained_ms: t.ran_prev + cur_ms,
            done_work: done,
            remaining: job.duration - done,
            run_start: (t.state == JobState::Running).then_some(t.run_start),
            queued_at: t.queued_at,
            first_start: t.first_start,
            preemptions: t.preemptions,
        }
    }

    fn state(&self, job: JobId) -> JobState {
        self.jobs[job.index()].state
    }

    fn allocations(&self, job: JobId) -> &[WorkerAlloc] {
        &self.jobs[job.index()].allocs
    }

    fn preempt(&mut self, job: JobId) -> bool {
        self.stop(job)
    }

    fn try_start_in(&mut self, job: JobId, pools: &[bool]) -> StartOutcome {
        if pools.len() != self.cluster.pools().len() {
            return StartOutcome::NoFit;
        }
        if self.jobs.get(job.index()).map(|t| t.state) != Some(JobState::Pending) {
            return StartOutcome::NotPending;
        }
        let own = self.jobs[job.index()].mask;
        let combined: Vec<bool> = self.pool_masks[own]
            .iter()
            .zip(pools)
            .map(|(&a, &b)| a && b)
            .collect();
        let mask = match self.pool_masks.iter().position(|m| *m == combined) {
            Some(i) => i,
            None => {
                self.pool_masks.push(combined);
                self.pool_masks.len() - 1
            }
        };
        match self.place_gang(job, mask) {
            Ok(Some(allocs)) => {
                self.start(job, allocs);
                StartOutcome::Started
            }
            Ok(None) => StartOutcome::NoFit,
            Err(f) => {
                self.fault = Some(f);
                StartOutcome::NoFit
            }
        }
    }

    fn wake_at(&mut self, at: SimTime) {
        if at > self.now {
            self.wakeups.insert(at);
        }
    }

    fn fits_now(&self, job: JobId) -> bool {
        let j = self.workload.job(job);
        let req = self.request(j, self.jobs[job.index()].mask);
        self.cluster.view().gang_fits(&req, j.workers)
    }

    fn fits_if_preempted(&mut self, job: JobId, victims: &[JobId]) -> bool {
        // The ledger answers the what-if and ends as it began.
        let mut seen: Vec<JobId> = Vec::new();
        let mut released: Vec<WorkerAlloc> = Vec::new();
        for &v in victims {
            if self.jobs.get(v.index()).map(|t| t.state) == Some(JobState::Running)
                && !seen.contains(&v)
            {
                released.extend_from_slice(&self.jobs[v.index()].allocs);
                seen.push(v);
            }
        }
        let j = self.workload.job(job);
        let req = WorkerRequest {
            gpu: j.gpu,
            cpu_milli: j.cpu_milli,
            memory_mib: j.memory_mib,
            allowed_pools: &self.pool_masks[self.jobs[job.index()].mask],
        };
        self.cluster
            .with_released(&released, |c| c.view().gang_fits(&req, j.workers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::placement::PlacementKind;
    use crate::policy::scheduler::SchedulerKind;
    use crate::workload::JobDraft;
    use std::collections::BTreeMap;

    fn pools() -> Vec<PoolSpec> {
        // Through the scenario format, so fields added with defaults need no
        // edit here.
        vec![
            toml::from_str(
                r#"name = "v100"
                   nodes = 2
                   gpus_per_node = 8
                   gpu_model = "V100"
                   cpu_milli = 64000
                   memory_mib = 262144"#,
            )
            .unwrap(),
        ]
    }

    #[test]
    fn fifo_skip_best_fit_through_the_mirror_packs_like_the_engine() {
        let w = Workload::from_drafts(vec![
            JobDraft::new("a").gpus(6).duration_s(100),
            JobDraft::new("b").gpus(4).duration_s(100),
            JobDraft::new("c").gpus(2).duration_s(100),
            JobDraft::new("big").gpus(8).workers(2).duration_s(100),
            JobDraft::new("huge").gpus(8).workers(4).duration_s(100),
        ]);
        let mut m = Mirror::new(
            &w,
            &pools(),
            PlacementKind::BestFit.build(),
            &EngineConfig::default(),
            SimTime::ZERO,
        );
        let mut s = SchedulerKind::FifoSkip.build();
        for j in &w.jobs {
            m.arrive(j.id, SimTime::ZERO);
        }
        // 4 workers of 8 GPUs can never fit on 2 × 8: unschedulable.
        assert_eq!(m.state(JobId(4)), JobState::Unschedulable);
        let d = m.pass(s.as_mut(), SimTime::ZERO).unwrap();
        // a (6) → node 0; b (4) → node 1; c (2) best-fit fills node 0; big waits.
        assert_eq!(d.started, vec![JobId(0), JobId(1), JobId(2)]);
        assert_eq!(m.allocations(JobId(0))[0].node, NodeId(0));
        assert_eq!(m.allocations(JobId(1))[0].node, NodeId(1));
        assert_eq!(m.allocations(JobId(2))[0].node, NodeId(0));
        assert_eq!(m.pending_jobs(), &[JobId(3)]);
        assert_eq!(m.run_length(JobId(0)), 100_000);
        // Completions release; the gang starts only when both nodes are free.
        assert!(m.complete(JobId(0), SimTime(100_000)));
        assert!(m.complete(JobId(2), SimTime(100_000)));
        assert!(
            m.pass(s.as_mut(), SimTime(100_000))
                .unwrap()
                .started
                .is_empty()
        );
        assert!(m.complete(JobId(1), SimTime(100_500)));
        let d = m.pass(s.as_mut(), SimTime(100_500)).unwrap();
        assert_eq!(d.started, vec![JobId(3)]);
        let nodes: Vec<NodeId> = m.allocations(JobId(3)).iter().map(|a| a.node).collect();
        assert_eq!(nodes, vec![NodeId(0), NodeId(1)]);
        assert!(!m.all_final());
        assert!(m.complete(JobId(3), SimTime(200_500)));
        assert!(m.all_final());
        // 6 GPUs × 100 s + 4 × 100.5 s + 2 × 100 s + 16 × 100 s, in milli-GPU·ms.
        assert_eq!(
            m.alloc_integral(),
            (6 * 100_000 + 4 * 100_500 + 2 * 100_000 + 16 * 100_000) * 1000
        );
    }

    #[test]
    fn preemption_keeps_the_checkpoint_and_the_restart_pays_the_overhead() {
        let w = Workload::from_drafts(vec![
            JobDraft::new("low").gpus(8).workers(2).duration_s(1000),
            JobDraft::new("high")
                .submit_s(250)
                .gpus(8)
                .priority(2)
                .duration_s(10),
        ]);
        let config = EngineConfig {
            checkpoint_interval: 100_000,
            restore_overhead: 30_000,
            ..EngineConfig::default()
        };
        let mut m = Mirror::new(
            &w,
            &pools(),
            PlacementKind::BestFit.build(),
            &config,
            SimTime::ZERO,
        );
        let mut s = SchedulerKind::Priority
            .build_with(
                &toml::from_str(
                    r#"classes = [{ name = "hi", value = 2, preemption = "PreemptLowerPriority" },
                                 { name = "lo", value = 0, preemption = "Never" }]"#,
                )
                .unwrap(),
            )
            .unwrap();
        m.arrive(JobId(0), SimTime::ZERO);
        assert_eq!(
            m.pass(s.as_mut(), SimTime::ZERO).unwrap().started,
            vec![JobId(0)]
        );
        // The gang was observed Running 1 s after the decision.
        m.mark_running(JobId(0), SimTime(1_000));
        m.arrive(JobId(1), SimTime(250_000));
        let d = m.pass(s.as_mut(), SimTime(250_000)).unwrap();
        assert_eq!(d.preempted, vec![JobId(0)]);
        assert_eq!(d.started, vec![JobId(1)]);
        let (state, preemptions, first, _, lost) = m.outcome(JobId(0));
        assert_eq!(
            (state, preemptions, first),
            (JobState::Pending, 1, Some(SimTime::ZERO))
        );
        // 249 s of work done, 200 s kept at the checkpoint.
        assert_eq!(lost, 49_000);
        assert_eq!(m.run_length(JobId(0)), 30_000 + 800_000);
    }

    #[test]
    fn scaled_up_nodes_take_work_once_ready_and_are_paid_until_removed() {
        use crate::policy::autoscaler::{AutoscalerSpec, ClusterAutoscaler, Decision, ScanInput};
        let mut pools = pools();
        let mut burst = pools[0].clone();
        burst.name = "burst".into();
        burst.nodes = 0;
        pools.push(burst);
        let spec: AutoscalerSpec = toml::from_str(
            r#"[node_groups.burst]
               min_size = 0
               max_size = 2
               provisioning = { kind = "fixed", seconds = 60.0 }"#,
        )
        .unwrap();
        let config = EngineConfig {
            autoscaler: Some((spec.clone(), 1)),
            ..EngineConfig::default()
        };
        // 3 × 8 GPUs: more than the 2 fixed nodes, within the group's max.
        let w = Workload::from_drafts(vec![JobDraft::new("g").gpus(8).workers(3).duration_s(100)]);
        let mut m = Mirror::new(
            &w,
            &pools,
            PlacementKind::BestFit.build(),
            &config,
            SimTime::ZERO,
        );
        let mut s = SchedulerKind::FifoSkip.build();
        assert!(
            m.arrive(JobId(0), SimTime::ZERO),
            "fits with the group grown"
        );
        assert!(
            m.pass(s.as_mut(), SimTime::ZERO)
                .unwrap()
                .started
                .is_empty()
        );
        let gangs = m.unplaceable_gangs();
        assert_eq!(gangs.len(), 1);
        assert_eq!(gangs[0].workers, 3);

        let mut ca = ClusterAutoscaler::new(spec, &pools, 1).unwrap();
        let requested = BTreeMap::new();
        let d = ca.scan(&ScanInput {
            now: SimTime(10_000),
            cluster: m.ledger(),
            requested_at: &requested,
            pending: &gangs,
        });
        let Some(Decision::ScaleUp {
            pool,
            provisioning_ms,
            ..
        }) = d.first().cloned()
        else {
            panic!("expected a scale-up, got {d:?}");
        };
        assert_eq!(pool, PoolId(1));
        assert_eq!(provisioning_ms, vec![60_000]);
        let node = m.add_node(pool, SimTime(10_000));
        assert_eq!(node, NodeId(2));
        // Provisioning: paid for, not schedulable.
        assert!(
            m.pass(s.as_mut(), SimTime(20_000))
                .unwrap()
                .started
                .is_empty()
        );
        assert_eq!(m.ready_per_pool(), vec![2, 0]);
        assert!(m.node_ready(node, SimTime(70_000)));
        assert!(!m.node_ready(node, SimTime(70_000)), "only once");
        assert_eq!(m.ready_per_pool(), vec![2, 1]);
        let d = m.pass(s.as_mut(), SimTime(70_000)).unwrap();
        assert_eq!(d.started, vec![JobId(0)]);
        assert!(!m.remove_node(node, SimTime(80_000)), "busy nodes stay");
        assert!(m.complete(JobId(0), SimTime(170_000)));
        assert!(m.remove_node(node, SimTime(300_000)));
        assert!(!m.remove_node(node, SimTime(300_000)), "only once");
        assert_eq!(m.ready_per_pool(), vec![2, 0]);
        // A sample after the end is taken back: paid to 300 s, not 400 s.
        m.advance(SimTime(400_000));
        let (capacity, node_ms) = m.paid_until(SimTime(300_000));
        assert_eq!(node_ms, vec![2 * 300_000, 290_000]);
        // 16 GPUs throughout, 8 more from 70 s to 300 s.
        assert_eq!(capacity, (16 * 300_000 + 8 * 230_000) * 1000);
        assert!(m.unplaceable_gangs().is_empty());
    }

    #[test]
    fn a_failed_bind_releases_the_gang_and_queues_it_again() {
        let w = Workload::from_drafts(vec![JobDraft::new("g").gpus(8).workers(2).duration_s(60)]);
        let mut m = Mirror::new(
            &w,
            &pools(),
            PlacementKind::BestFit.build(),
            &EngineConfig::default(),
            SimTime::ZERO,
        );
        let mut s = SchedulerKind::FifoSkip.build();
        m.arrive(JobId(0), SimTime::ZERO);
        assert_eq!(
            m.pass(s.as_mut(), SimTime::ZERO).unwrap().started,
            vec![JobId(0)]
        );
        assert_eq!(m.ledger().gpu_milli_used(), 16_000);
        assert!(m.abort_start(JobId(0), SimTime(2_000)));
        assert_eq!(m.ledger().gpu_milli_used(), 0);
        assert_eq!(m.pending_jobs(), &[JobId(0)]);
        // Not a preemption, and the start is undone.
        let (state, preemptions, first, _, _) = m.outcome(JobId(0));
        assert_eq!((state, preemptions, first), (JobState::Pending, 0, None));
        assert_eq!(m.starts(JobId(0)), 0);
        assert_eq!(
            m.pass(s.as_mut(), SimTime(3_000)).unwrap().started,
            vec![JobId(0)]
        );
        assert_eq!(m.outcome(JobId(0)).2, Some(SimTime(3_000)));
        assert_eq!(m.run_length(JobId(0)), 60_000);
    }
}
