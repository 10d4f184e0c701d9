//! The discrete-event engine. It owns the cluster ledger and the job states,
//! pops events in their total order, asks the scheduler (and, through it, the
//! placement policy) what to do, validates every decision against the ledger
//! and applies it. Nothing here depends on wall-clock time or hash order, so
//! the same scenario and seed always produce the same run.

pub mod event;
pub mod faults;
mod invariants;
mod services;
mod why_pending;

use std::collections::BTreeMap;

pub use event::{DownCause, Event, EventClass, EventQueue};
pub use faults::FaultConfig;
pub use services::{ServiceConfig, ServiceResult};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::cluster::{Cluster, ClusterView, NodeState, PoolSpec, WorkerAlloc, WorkerRequest};
use crate::ids::{JobId, NodeId};
use crate::metrics::{JobOutcome, JobStatus, RunResult, Sample, WaitReason};
use crate::policy::placement::Placement;
use crate::policy::scheduler::{Scheduler, SchedulingPass, StartOutcome};
use crate::time::{Millis, SimTime};
use crate::workload::{GpuDemand, Job, Workload};

/// Engine settings, from the scenario's `[run]` and `[policy]` tables.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Timeline sampling interval, in ms (0: no timeline).
    pub sample_interval: Millis,
    /// Stop at this instant; `None` runs until every job has finished.
    pub horizon: Option<SimTime>,
    /// Also run a scheduling pass every this many ms (`None`: only after
    /// arrivals and completions).
    pub schedule_interval: Option<Millis>,
    /// Check every invariant after every event (slow; for tests and debugging).
    pub check_invariants: bool,
    /// Preempted jobs keep their progress up to the last multiple of this
    /// much work (ms at full speed); 0 means no checkpoints, so a preemption
    /// loses all progress.
    pub checkpoint_interval: Millis,
    /// Time a restarted job spends restoring before it makes progress again,
    /// in ms (it holds its resources meanwhile).
    pub restore_overhead: Millis,
    /// Racks, and the slowdown of gangs that span several.
    pub topology: Option<crate::cluster::Topology>,
    /// Node failures, spot reclaims and the retry limit of killed jobs.
    pub faults: FaultConfig,
    /// The cluster autoscaler, if any, and the seed of its draws.
    pub autoscaler: Option<(crate::policy::autoscaler::AutoscalerSpec, u64)>,
    /// Inference services sharing the cluster with the training jobs.
    pub services: Vec<ServiceConfig>,
    /// How elastic jobs are resized, if the workload has any.
    pub elastic: Option<ElasticConfig>,
    /// Time every run of a job spends starting its pods before it makes
    /// progress, in ms (it holds its resources meanwhile): e.g. the pod start
    /// latency cluster mode measures (`pod_start_latency_scenario_s`).
    pub startup_delay: Millis,
}

/// Elastic training settings (`[elastic]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticConfig {
    pub policy: crate::policy::elastic::ElasticKind,
    /// Time a resized job spends restarting with its new size before it makes
    /// progress again, in ms (it holds its new resources meanwhile).
    pub rescale_overhead: Millis,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            sample_interval: 60_000,
            horizon: None,
            schedule_interval: None,
            check_invariants: false,
            checkpoint_interval: 0,
            restore_overhead: 0,
            topology: None,
            faults: FaultConfig {
                backoff_limit: 6,
                ..FaultConfig::default()
            },
            autoscaler: None,
            services: Vec::new(),
            elastic: None,
            startup_delay: 0,
        }
    }
}

/// Errors that stop a run. Each is a policy or engine bug, never bad input:
/// bad input is rejected before the engine starts.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "placement policy `{policy}` chose node {node} for job {job}, where the worker does not fit"
    )]
    BadPlacement {
        policy: &'static str,
        job: JobId,
        node: NodeId,
    },
    #[error("placement policy `{policy}` gave an invalid GPU choice for job {job}: {reason}")]
    BadGpus {
        policy: &'static str,
        job: JobId,
        reason: String,
    },
    #[error("invariant violated at t={time} s after {event:?}: {what}")]
    Invariant {
        time: SimTime,
        event: Event,
        what: String,
    },
}

/// A job's lifecycle state inside the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    NotArrived,
    Pending,
    Running,
    Finished,
    Unschedulable,
    /// Killed by node failures more often than the retry limit allows.
    Failed,
}

/// Per-job bookkeeping.
#[derive(Debug, Clone)]
struct JobRun {
    state: JobState,
    /// Index into `Core::pool_masks`.
    mask: u32,
    /// Run attempt; completions of older attempts are stale.
    attempt: u32,
    start: Option<SimTime>,
    end: Option<SimTime>,
    allocs: Vec<WorkerAlloc>,
    nodes_used: u32,
    /// The `Core::release_epoch` at which the job last could not fit at all.
    /// Until something is released the cluster only fills up, so it still
    /// cannot: later passes skip it in O(1).
    infeasible_at: Option<u64>,
    /// Index in `Core::running` while running.
    running_slot: u32,
    /// Work kept so far (checkpointed), ms at full speed.
    done_work: Millis,
    /// Start of the current run and its restore overhead, ms.
    run_start: SimTime,
    run_overhead: Millis,
    /// Slowdown of the current run in thousandths (1000 = full speed).
    run_slowdown: u64,
    /// Speed of the current run relative to the requested size, millionths
    /// (1,000,000 except for elastic jobs off their requested size). Work
    /// advances at `run_rate / (run_slowdown × 1000)` per ms.
    run_rate: u64,
    /// When the job last became pending (arrival or preemption).
    queued_at: SimTime,
    /// GPU time of earlier runs, milli-GPU·ms.
    attained_prev: u128,
    /// Wall time of earlier runs, ms.
    ran_prev: Millis,
    starts: u32,
    preemptions: u32,
    /// Times a node failure or reclaim killed the job.
    failures: u32,
    /// Work lost to preemptions and kills, ms at full speed.
    lost_work: Millis,
    /// Instants at which an elastic job was resized, counted once per instant.
    resizes: u32,
    /// ∫ workers dt over all runs, worker·ms (for an elastic job's mean size).
    worker_ms: u128,
    /// Why the job waits now (None: not waiting, or not classified yet), since
    /// when, and the time waited so far per reason.
    wait_reason: Option<WaitReason>,
    wait_since: SimTime,
    wait_ms: [Millis; 8],
    /// Waiting again after a preemption.
    after_preemption: bool,
    /// The pass in which the scheduler last held the job for a quota.
    quota_pass: u64,
    /// Interned (pool mask, GPU demand, minimum workers, CPU, memory): jobs
    /// of one shape wait for the same cluster reason.
    shape: u32,
}

/// What a scheduler may know about a job's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobProgress {
    pub state: JobState,
    /// GPU time consumed so far, all runs including the current one, in
    /// milli-GPU·ms (divide by 1e6 for GPU·seconds).
    pub attained_gpu_milli_ms: u128,
    /// Wall time run so far over all runs, ms.
    pub attained_ms: Millis,
    /// Work done at full speed, including the current run's progress, ms.
    pub done_work: Millis,
    /// Work left at full speed, ms.
    pub remaining: Millis,
    /// Start of the current run, if running.
    pub run_start: Option<SimTime>,
    /// When the job last became pending (arrival or preemption).
    pub queued_at: SimTime,
    /// First start, if it ever started.
    pub first_start: Option<SimTime>,
    pub preemptions: u32,
}

/// Progress reported to an observer while the run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub now: SimTime,
    /// Jobs that reached a final state (finished or unschedulable).
    pub done: u64,
    pub total: u64,
    pub events: u64,
}

/// A gang shape that failed to fit earlier in the current pass. Within a pass
/// the cluster only fills up, so any job asking at least as much (on the same
/// or fewer pools) fails too: this skips repeated placement work on long
/// queues.
#[derive(Debug, Clone, Copy)]
struct FailedShape {
    mask: u32,
    workers: u32,
    gpu: GpuDemand,
    cpu_milli: u32,
    memory_mib: u64,
}

impl FailedShape {
    fn dominated_by(&self, job: &Job, mask: u32) -> bool {
        let gpu_ge = match (job.gpu, self.gpu) {
            (GpuDemand::Whole(a), GpuDemand::Whole(b)) => a >= b,
            (GpuDemand::Fraction(a), GpuDemand::Fraction(b)) => a >= b,
            _ => false,
        };
        mask == self.mask
            && gpu_ge
            && job.min_workers() >= self.workers
            && job.cpu_milli >= self.cpu_milli
            && job.memory_mib >= self.memory_mib
    }
}

/// The state the scheduling pass works on (everything but the scheduler).
struct Core<'w> {
    workload: &'w Workload,
    cluster: Cluster,
    /// The same cluster, always empty: answers "could this job ever fit?".
    empty: Cluster,
    placement: Box<dyn Placement>,
    /// Distinct allowed-pool masks; jobs refer to them by index.
    pool_masks: Vec<Vec<bool>>,
    jobs: Vec<JobRun>,
    /// Pending jobs in arrival order; compacted after each pass.
    pending: Vec<JobId>,
    /// Running jobs, unordered; `JobRun::running_slot` is each one's index.
    running: Vec<JobId>,
    /// Jobs that reached a final state (finished or unschedulable).
    done: u64,
    /// Jobs whose arrival was processed.
    arrived: u64,
    now: SimTime,
    queue: EventQueue,
    /// A scheduling pass is already queued for this instant.
    pass_queued_at: Option<SimTime>,
    failed: Vec<FailedShape>,
    /// Counts releases of resources; see `JobRun::infeasible_at`.
    release_epoch: u64,
    /// Instants for which a policy asked for a pass (see `wake_at`).
    wakeups: std::collections::BTreeSet<SimTime>,
    /// Jobs preempted during the current pass, merged into `pending` after it
    /// (so the list a scheduler iterates does not shift under it).
    requeued: Vec<JobId>,
    in_pass: bool,
    checkpoint_interval: Millis,
    /// Slowdown of gangs spanning racks, thousandths (1000 = none).
    cross_rack_milli: u64,
    faults: FaultConfig,
    /// Failure and reclaim draws, consumed in event order (deterministic).
    rng: ChaCha8Rng,
    /// Repairs of scripted outages: (node, down at, down for).
    scripted_repairs: Vec<(NodeId, SimTime, Millis)>,
    /// Node failures and reclaims that happened.
    node_outages: u64,
    /// Inference services.
    services: Vec<services::ServiceState>,
    /// Per pool: nodes being paid for now (all but removed ones), and
    /// ∫ paid nodes dt in node·ms.
    paid_nodes: Vec<u64>,
    node_ms: Vec<u128>,
    restore_overhead: Millis,
    /// Pod start time of every run, ms.
    startup_delay: Millis,
    /// Rescale overhead of elastic resizes, ms.
    rescale_overhead: Millis,
    fault: Option<EngineError>,
    /// ∫ allocated milli-GPUs dt, milli-GPU·ms.
    alloc_integral: u128,
    /// ∫ ready milli-GPU capacity dt, milli-GPU·ms.
    capacity_integral: u128,
    last_change: SimTime,
    last_completion: SimTime,
    /// Scheduling passes run so far (numbers start at 1).
    pass_seq: u64,
    /// Per job shape: the pass that last classified it, and its reason then.
    shape_pass: Vec<u64>,
    shape_reason: Vec<WaitReason>,
}

/// A configured simulation of one workload on one cluster.
pub struct Simulation<'w> {
    core: Core<'w>,
    autoscaler: Option<crate::policy::autoscaler::ClusterAutoscaler>,
    /// When each provisioning node was requested.
    requested_at: BTreeMap<NodeId, SimTime>,
    scheduler: Box<dyn Scheduler>,
    /// Resizes elastic jobs after each pass (`None`: never resized).
    elastic: Option<Box<dyn crate::policy::elastic::ElasticPolicy>>,
    config: EngineConfig,
    next_arrival: usize,
    timeline: Vec<Sample>,
    /// Ready nodes per pool at each sample.
    pool_nodes: Vec<Vec<u32>>,
    events: u64,
}

impl<'w> Simulation<'w> {
    /// Prepares a run; nothing happens until [`Simulation::run`].
    pub fn new(
        workload: &'w Workload,
        pools: &[PoolSpec],
        scheduler: Box<dyn Scheduler>,
        placement: Box<dyn Placement>,
        config: EngineConfig,
    ) -> Simulation<'w> {
        let mut cluster = Cluster::new(pools);
        if let Some(t) = &config.topology {
            cluster.set_racks(t.nodes_per_rack);
        }
        // Slowdown in thousandths, so run lengths stay integral.
        let cross_rack_milli = config.topology.map_or(1000, |t| {
            (t.cross_rack_slowdown.max(1.0) * 1000.0).round() as u64
        });
        // Intern allowed-model lists into pool masks; a BTreeMap keeps the
        // numbering independent of hashing.
        let mut masks: BTreeMap<&[String], u32> = BTreeMap::new();
        let mut shapes: BTreeMap<(u32, GpuDemand, u32, u32, u64), u32> = BTreeMap::new();
        let mut pool_masks = Vec::new();
        let jobs = workload
            .jobs
            .iter()
            .map(|j| {
                let mask = *masks.entry(j.gpu_models.as_slice()).or_insert_with(|| {
                    pool_masks.push(
                        pools
                            .iter()
                            .map(|p| j.gpu_models.is_empty() || j.gpu_models.contains(&p.gpu_model))
                            .collect(),
                    );
                    (pool_masks.len() - 1) as u32
                });
                JobRun {
                    state: JobState::NotArrived,
                    mask,
                    attempt: 0,
                    start: None,
                    end: None,
                    allocs: Vec::new(),
                    nodes_used: 0,
                    infeasible_at: None,
                    running_slot: 0,
                    done_work: 0,
                    run_start: SimTime::ZERO,
                    run_overhead: 0,
                    run_slowdown: 1000,
                    run_rate: 1_000_000,
                    queued_at: SimTime::ZERO,
                    attained_prev: 0,
                    ran_prev: 0,
                    starts: 0,
                    preemptions: 0,
                    failures: 0,
                    lost_work: 0,
                    resizes: 0,
                    worker_ms: 0,
                    wait_reason: None,
                    wait_since: SimTime::ZERO,
                    wait_ms: [0; 8],
                    after_preemption: false,
                    quota_pass: 0,
                    shape: {
                        let key = (mask, j.gpu, j.min_workers(), j.cpu_milli, j.memory_mib);
                        let next = shapes.len() as u32;
                        *shapes.entry(key).or_insert(next)
                    },
                }
            })
            .collect();
        Simulation {
            autoscaler: config.autoscaler.as_ref().map(|(spec, seed)| {
                crate::policy::autoscaler::ClusterAutoscaler::new(spec.clone(), pools, *seed)
                    .expect("the scenario validated the autoscaler")
            }),
            requested_at: BTreeMap::new(),
            core: Core {
                workload,
                empty: {
                    // "Could this job ever fit?" counts node groups at their
                    // largest size.
                    let grown = crate::policy::autoscaler::pools_at_max_size(
                        pools,
                        config.autoscaler.as_ref().map(|(spec, _)| spec),
                    );
                    Cluster::new(&grown)
                },
                cluster,
                placement,
                pool_masks,
                jobs,
                pending: Vec::new(),
                running: Vec::new(),
                done: 0,
                arrived: 0,
                now: SimTime::ZERO,
                queue: EventQueue::new(),
                pass_queued_at: None,
                failed: Vec::new(),
                release_epoch: 0,
                requeued: Vec::new(),
                wakeups: std::collections::BTreeSet::new(),
                in_pass: false,
                checkpoint_interval: config.checkpoint_interval,
                cross_rack_milli,
                rng: ChaCha8Rng::seed_from_u64(config.faults.seed ^ 0x4641_554c_5453_0001),
                faults: config.faults.clone(),
                scripted_repairs: Vec::new(),
                node_outages: 0,
                services: config
                    .services
                    .iter()
                    .cloned()
                    .map(services::ServiceState::new)
                    .collect(),
                paid_nodes: pools.iter().map(|p| u64::from(p.nodes)).collect(),
                node_ms: vec![0; pools.len()],
                restore_overhead: config.restore_overhead,
                startup_delay: config.startup_delay,
                rescale_overhead: config.elastic.as_ref().map_or(0, |e| e.rescale_overhead),
                fault: None,
                alloc_integral: 0,
                capacity_integral: 0,
                last_change: SimTime::ZERO,
                last_completion: SimTime::ZERO,
                pass_seq: 0,
                shape_pass: vec![0; shapes.len()],
                shape_reason: vec![WaitReason::Order; shapes.len()],
            },
            scheduler,
            elastic: config.elastic.as_ref().and_then(|e| e.policy.build()),
            config,
            next_arrival: 0,
            timeline: Vec::new(),
            pool_nodes: Vec::new(),
            events: 0,
        }
    }

    /// Runs to the end (every job final, or the horizon), calling `progress`
    /// every few thousand events.
    pub fn run(mut self, mut progress: impl FnMut(Progress)) -> Result<RunResult, EngineError> {
        let start = SimTime::ZERO;
        self.core.now = start;
        self.core.last_change = start;
        self.push_next_arrival();
        if self.config.sample_interval > 0 {
            self.core.queue.push(start, Event::Sample);
        }
        if let Some(h) = self.config.horizon {
            self.core.queue.push(h, Event::Horizon);
        }
        self.core.schedule_initial_faults();
        for i in 0..self.core.services.len() {
            self.core
                .queue
                .push(start, Event::ServiceSync { service: i as u32 });
        }
        if let Some(a) = &self.autoscaler {
            self.core.queue.push(start, Event::Scan);
            let _ = a;
        }
        if let Some(iv) = self.config.schedule_interval {
            self.core
                .queue
                .push(start + iv, Event::Schedule { periodic: true });
        }
        let total = self.core.workload.jobs.len() as u64;
        let mut horizon_reached = false;
        while let Some((time, event)) = self.core.queue.pop() {
            self.core.advance(time);
            self.events += 1;
            let mut passed = false;
            match event {
                Event::Completion { job, attempt } => self.core.complete(job, attempt),
                Event::NodeDown { node, cause } => {
                    let remains = self.work_remains();
                    self.core.node_down(node, cause, remains);
                }
                Event::NodeUp { node } => {
                    let remains = self.work_remains();
                    self.requested_at.remove(&node);
                    self.core.node_up(node, remains);
                }
                Event::ServiceSync { service } => {
                    let i = service as usize;
                    self.core.service_sync(i);
                    // Services serve until the horizon, or until the training
                    // work is done when there is none.
                    if self.work_remains() || self.config.horizon.is_some() {
                        let period = self.core.services[i].sync_period.max(1);
                        self.core
                            .queue
                            .push(time + period, Event::ServiceSync { service });
                    }
                }
                Event::Scan => {
                    self.scan();
                    if self.work_remains()
                        && let Some(a) = &self.autoscaler
                    {
                        self.core
                            .queue
                            .push(time + a.scan_interval().max(1), Event::Scan);
                    }
                }
                Event::Arrival { job } => {
                    self.core.arrive(job);
                    self.push_next_arrival();
                }
                Event::Schedule { periodic } => {
                    self.core.wakeups.remove(&time);
                    // A periodic tick that meets a queued pass at the same
                    // instant leaves the work to it.
                    if !periodic || self.core.pass_queued_at != Some(time) {
                        self.pass();
                        passed = true;
                    }
                    if periodic && self.work_remains() {
                        let iv = self.config.schedule_interval.unwrap_or(0).max(1);
                        self.core
                            .queue
                            .push(time + iv, Event::Schedule { periodic: true });
                    }
                }
                Event::Sample => {
                    self.timeline.push(self.core.sample());
                    self.pool_nodes.push(self.core.ready_per_pool());
                    if self.work_remains() {
                        self.core
                            .queue
                            .push(time + self.config.sample_interval, Event::Sample);
                    }
                }
                Event::Horizon => {
                    horizon_reached = true;
                }
            }
            if let Some(fault) = self.core.fault.take() {
                return Err(fault);
            }
            if self.config.check_invariants {
                let conserving = passed && self.scheduler.work_conserving();
                self.core
                    .check_invariants(conserving)
                    .map_err(|what| EngineError::Invariant { time, event, what })?;
            }
            if self.events.is_multiple_of(4096) {
                progress(Progress {
                    now: time,
                    done: self.core.done,
                    total,
                    events: self.events,
                });
            }
            if horizon_reached {
                break;
            }
            // Every job is final: what remains queued (samples, scans, far
            // future failures) would only stretch the span.
            if self.core.done == total && self.core.services.is_empty() {
                break;
            }
        }
        if self.config.check_invariants {
            let (time, event) = (self.core.now, Event::Horizon);
            self.core
                .check_all_jobs()
                .map_err(|what| EngineError::Invariant { time, event, what })?;
        }
        let end_time_probe = if horizon_reached {
            self.core.now
        } else {
            self.core.last_completion
        };
        // Node time is paid up to the end of the measured span, not to the
        // last (sampling) event after it.
        let extra = self.core.last_change.since(end_time_probe);
        for (acc, &n) in self.core.node_ms.iter_mut().zip(&self.core.paid_nodes) {
            *acc = acc.saturating_sub(u128::from(n) * u128::from(extra));
        }
        self.core.capacity_integral = self
            .core
            .capacity_integral
            .saturating_sub(u128::from(self.core.cluster.gpu_milli_capacity()) * u128::from(extra));
        let end_time = if horizon_reached {
            self.core.now
        } else {
            self.core.last_completion.max(start)
        };
        Ok(self.finish(end_time))
    }

    /// True while something can still change: arrivals to come, jobs running,
    /// or a pass a policy asked for. Jobs that wait with none of these never
    /// start, so periodic events stop rather than run forever.
    fn work_remains(&self) -> bool {
        // Arrivals not processed yet (the next one may already be queued).
        (self.core.arrived as usize) < self.core.workload.jobs.len()
            || !self.core.running.is_empty()
            || !self.core.wakeups.is_empty()
    }

    /// Arrivals are pushed one at a time (the workload is sorted), which keeps
    /// the heap small; the sequence number still follows job order.
    fn push_next_arrival(&mut self) {
        if let Some(job) = self.core.workload.jobs.get(self.next_arrival) {
            self.core
                .queue
                .push(job.submit, Event::Arrival { job: job.id });
            self.next_arrival += 1;
        }
    }

    /// One cluster-autoscaler scan: pending gangs that do not fit now are
    /// what it may scale up for; its decisions are applied here.
    fn scan(&mut self) {
        let Some(autoscaler) = self.autoscaler.as_mut() else {
            return;
        };
        let core = &mut self.core;
        let pending: Vec<crate::policy::autoscaler::PendingGang> = core
            .pending
            .iter()
            .filter_map(|&j| {
                let job = core.workload.job(j);
                let mask = &core.pool_masks[core.jobs[j.index()].mask as usize];
                let req = WorkerRequest {
                    gpu: job.gpu,
                    cpu_milli: job.cpu_milli,
                    memory_mib: job.memory_mib,
                    allowed_pools: mask,
                };
                // A job the pass found infeasible since the last release still
                // is; only the others need the counting test.
                let known = core.jobs[j.index()].infeasible_at == Some(core.release_epoch);
                // An elastic job asks for room for its minimum.
                (known || !core.cluster.view().gang_fits(&req, job.min_workers())).then(|| {
                    crate::policy::autoscaler::PendingGang {
                        workers: job.min_workers(),
                        gpu: job.gpu,
                        cpu_milli: job.cpu_milli,
                        memory_mib: job.memory_mib,
                        allowed_pools: mask.clone(),
                        priority: job.priority,
                    }
                })
            })
            .collect();
        let decisions = autoscaler.scan(&crate::policy::autoscaler::ScanInput {
            now: core.now,
            cluster: &core.cluster,
            requested_at: &self.requested_at,
            pending: &pending,
        });
        for d in decisions {
            match d {
                crate::policy::autoscaler::Decision::ScaleUp {
                    pool,
                    provisioning_ms,
                    ..
                } => {
                    for delay in provisioning_ms {
                        let node = core.cluster.add_node(pool, NodeState::Provisioning);
                        core.paid_nodes[pool.index()] += 1;
                        self.requested_at.insert(node, core.now);
                        core.queue.push(core.now + delay, Event::NodeUp { node });
                    }
                }
                crate::policy::autoscaler::Decision::ScaleDown { node }
                | crate::policy::autoscaler::Decision::GiveUp { node } => {
                    let n = &core.cluster.nodes()[node.index()];
                    if n.workers() == 0 && n.state() != NodeState::Removed {
                        let pool = n.pool.index();
                        core.cluster.set_state(node, NodeState::Removed);
                        core.paid_nodes[pool] -= 1;
                        self.requested_at.remove(&node);
                    }
                }
            }
        }
    }

    fn pass(&mut self) {
        self.core.pass_queued_at = None;
        self.core.pass_seq += 1;
        self.schedule_once();
        if let Some(mut elastic) = self.elastic.take() {
            // Each round resizes at least one worker and sizes are bounded,
            // so this ends; the cap guards against a policy that oscillates.
            for _ in 0..10_000 {
                if self.core.fault.is_some() || !elastic.rebalance(&mut self.core) {
                    break;
                }
                self.schedule_once();
            }
            self.elastic = Some(elastic);
        }
        self.core.classify_pending();
    }

    /// One run of the scheduler over the pending jobs.
    fn schedule_once(&mut self) {
        let core = &mut self.core;
        core.failed.clear();
        if core.pending.is_empty() {
            return;
        }
        core.in_pass = true;
        self.scheduler.schedule(core);
        core.in_pass = false;
        let jobs = &core.jobs;
        core.pending
            .retain(|j| jobs[j.index()].state == JobState::Pending);
        // Jobs preempted during the pass wait again, unless the pass already
        // restarted them.
        let requeued = std::mem::take(&mut core.requeued);
        for j in requeued {
            if core.jobs[j.index()].state == JobState::Pending
                && core.pending.binary_search(&j).is_err()
            {
                core.insert_pending(j);
            }
        }
    }

    fn finish(self, end_time: SimTime) -> RunResult {
        let core = self.core;
        let outcomes = core
            .jobs
            .iter()
            .enumerate()
            .map(|(i, r)| JobOutcome {
                job: JobId::from_index(i),
                status: match r.state {
                    JobState::NotArrived => JobStatus::NotArrived,
                    JobState::Pending => JobStatus::Pending,
                    JobState::Running => JobStatus::Running,
                    JobState::Finished => JobStatus::Finished,
                    JobState::Unschedulable => JobStatus::Unschedulable,
                    JobState::Failed => JobStatus::Failed,
                },
                start: r.start,
                end: r.end,
                nodes_used: r.nodes_used,
                preemptions: r.preemptions,
                failures: r.failures,
                restarts: r.starts.saturating_sub(1),
                lost_gpu_milli_ms: u128::from(r.lost_work)
                    * u128::from(core.workload.jobs[i].total_gpu_milli()),
                resizes: r.resizes,
                worker_ms: r.worker_ms,
                run_ms: r.ran_prev,
                wait_by_reason: {
                    let mut w = r.wait_ms;
                    if let Some(reason) = r.wait_reason {
                        w[reason.index()] += end_time.since(r.wait_since);
                    }
                    w
                },
            })
            .collect();
        RunResult {
            outcomes,
            timeline: self.timeline,
            pool_nodes: self.pool_nodes,
            gpu_milli_capacity: core.cluster.gpu_milli_capacity(),
            gpu_alloc_integral: core.alloc_integral,
            gpu_capacity_integral: core.capacity_integral,
            pools: core
                .cluster
                .pools()
                .iter()
                .zip(&core.node_ms)
                .map(|(p, &ms)| crate::metrics::PoolUsage {
                    name: p.name.clone(),
                    kind: p.kind,
                    gpus_per_node: p.gpus_per_node,
                    price_per_node_hour: p.price_per_node_hour,
                    node_ms: ms,
                })
                .collect(),
            node_outages: core.node_outages,
            services: core.service_results(end_time),
            end_time,
            events: self.events,
        }
    }
}

impl<'w> Core<'w> {
    fn request<'a>(&'a self, job: &Job, mask: u32) -> WorkerRequest<'a> {
        WorkerRequest {
            gpu: job.gpu,
            cpu_milli: job.cpu_milli,
            memory_mib: job.memory_mib,
            allowed_pools: &self.pool_masks[mask as usize],
        }
    }

    /// Moves the clock, integrating the GPU allocation over the elapsed span.
    fn advance(&mut self, time: SimTime) {
        debug_assert!(time >= self.now, "event queue went back in time");
        let dt = time.since(self.last_change);
        self.alloc_integral += u128::from(self.cluster.gpu_milli_used()) * u128::from(dt);
        self.capacity_integral += u128::from(self.cluster.gpu_milli_capacity()) * u128::from(dt);
        for (acc, &n) in self.node_ms.iter_mut().zip(&self.paid_nodes) {
            *acc += u128::from(n) * u128::from(dt);
        }
        self.last_change = time;
        self.now = time;
    }

    fn queue_pass(&mut self) {
        if self.pass_queued_at != Some(self.now) {
            self.pass_queued_at = Some(self.now);
            self.queue
                .push(self.now, Event::Schedule { periodic: false });
        }
    }

    fn arrive(&mut self, id: JobId) {
        let job = self.workload.job(id);
        let mask = self.jobs[id.index()].mask;
        let req = self.request(job, mask);
        // An elastic job only needs its minimum.
        let ever = job.workers > 0 && self.empty.view().gang_fits(&req, job.min_workers());
        self.arrived += 1;
        let run = &mut self.jobs[id.index()];
        if ever {
            run.state = JobState::Pending;
            run.queued_at = self.now;
            self.pending.push(id);
            self.queue_pass();
        } else {
            run.state = JobState::Unschedulable;
            self.done += 1;
        }
    }

    fn complete(&mut self, id: JobId, attempt: u32) {
        let milli = self.run_milli(id);
        let run = &mut self.jobs[id.index()];
        if run.state != JobState::Running || run.attempt != attempt {
            return; // stale: this run was preempted, killed or resized
        }
        let ran = self.now - run.run_start;
        run.attained_prev += u128::from(milli) * u128::from(ran);
        run.worker_ms += run.allocs.len() as u128 * u128::from(ran);
        run.ran_prev += ran;
        for a in run.allocs.drain(..) {
            self.cluster.release(&a);
        }
        self.release_epoch += 1;
        run.done_work = self.workload.job(id).duration;
        run.state = JobState::Finished;
        run.end = Some(self.now);
        self.remove_running(id);
        self.done += 1;
        self.last_completion = self.now;
        self.queue_pass();
    }

    /// Ready nodes of each pool, indexed by pool id.
    fn ready_per_pool(&self) -> Vec<u32> {
        let mut out = vec![0; self.cluster.pools().len()];
        for n in self.cluster.nodes() {
            if n.is_ready() {
                out[n.pool.index()] += 1;
            }
        }
        out
    }

    fn sample(&self) -> Sample {
        Sample {
            time: self.now,
            gpu_milli_used: self.cluster.gpu_milli_used(),
            pending_jobs: self.pending.len() as u32,
            running_jobs: self.running.len() as u32,
            busy_nodes: self.cluster.busy_nodes(),
            gpu_milli_capacity: self.cluster.gpu_milli_capacity(),
            nodes_ready: self.cluster.nodes().iter().filter(|n| n.is_ready()).count() as u32,
            nodes_provisioning: self
                .cluster
                .nodes()
                .iter()
                .filter(|n| n.state() == NodeState::Provisioning)
                .count() as u32,
        }
    }

    /// Places every worker or none. Returns the allocations on success.
    fn place_gang(&mut self, id: JobId) -> Result<Option<Vec<WorkerAlloc>>, EngineError> {
        let workload = self.workload;
        let job = workload.job(id);
        let mask = self.jobs[id.index()].mask;
        // Cheap rejections first: nothing was released since the job last
        // could not fit; not enough free whole GPUs anywhere; a dominated
        // shape that could not fit earlier in this pass. Then the exact test.
        // An elastic job starts with anything from its minimum to its
        // requested size.
        let need = job.min_workers();
        if self.jobs[id.index()].infeasible_at == Some(self.release_epoch)
            || u64::from(need) * u64::from(job.gpu.whole()) > self.cluster.free_whole_gpus()
            || self.failed.iter().any(|f| f.dominated_by(job, mask))
        {
            self.jobs[id.index()].infeasible_at = Some(self.release_epoch);
            return Ok(None);
        }
        let pool_masks = &self.pool_masks;
        let req = WorkerRequest {
            gpu: job.gpu,
            cpu_milli: job.cpu_milli,
            memory_mib: job.memory_mib,
            allowed_pools: &pool_masks[mask as usize],
        };
        // For a single worker the placement scan itself answers; only gangs
        // need the counting test first.
        let infeasible = if need > 1 {
            !self.cluster.view().gang_fits(&req, need)
        } else {
            false
        };
        if infeasible {
            self.jobs[id.index()].infeasible_at = Some(self.release_epoch);
            remember_failure(&mut self.failed, job, mask);
            return Ok(None);
        }
        let mut allocs: Vec<WorkerAlloc> = Vec::with_capacity(job.workers as usize);
        for _ in 0..job.workers {
            match place_one(&mut self.cluster, self.placement.as_mut(), job, &req)? {
                Some(alloc) => allocs.push(alloc),
                None => break,
            }
        }
        if allocs.len() < need as usize {
            // Roll the gang back. Only a single worker that fits nowhere marks
            // the job infeasible: a gang that passed the counting test was
            // refused by the policy, which is not a statement about capacity.
            for a in &allocs {
                self.cluster.release(a);
            }
            if need == 1 && self.cluster.view().feasible_nodes(&req).next().is_none() {
                self.jobs[id.index()].infeasible_at = Some(self.release_epoch);
                remember_failure(&mut self.failed, job, mask);
            }
            return Ok(None);
        }
        Ok(Some(allocs))
    }

    fn start(&mut self, id: JobId, allocs: Vec<WorkerAlloc>) {
        let job = self.workload.job(id);
        let (nodes_used, slowdown, rate) = self.run_shape(job, &allocs);
        let now = self.now;
        let run = &mut self.jobs[id.index()];
        if let Some(r) = run.wait_reason.take() {
            run.wait_ms[r.index()] += now - run.wait_since;
        }
        run.after_preemption = false;
        run.state = JobState::Running;
        run.attempt += 1;
        run.starts += 1;
        run.start.get_or_insert(self.now);
        run.nodes_used = nodes_used;
        run.allocs = allocs;
        run.running_slot = self.running.len() as u32;
        // Every run starts its pods; a restart then restores its last
        // checkpoint.
        run.run_overhead = self.startup_delay
            + if run.starts > 1 {
                self.restore_overhead
            } else {
                0
            };
        run.run_start = self.now;
        run.run_slowdown = slowdown;
        run.run_rate = rate;
        self.running.push(id);
        self.push_completion(id);
    }

    /// Queues the completion of a running job's current run: its overhead,
    /// then the remaining work at this run's speed, rounded up.
    fn push_completion(&mut self, id: JobId) {
        let job = self.workload.job(id);
        let run = &self.jobs[id.index()];
        let remaining = (job.duration.saturating_sub(run.done_work) * run.run_slowdown * 1000)
            .div_ceil(run.run_rate);
        self.queue.push(
            self.now + run.run_overhead + remaining,
            Event::Completion {
                job: id,
                attempt: run.attempt,
            },
        );
    }
}

/// Places one worker of `job` with the placement policy and allocates it,
/// after checking the policy's answer against the ledger. `Ok(None)`: the
/// policy found no node. Shared by the engine and cluster mode.
pub fn place_one(
    cluster: &mut Cluster,
    placement: &mut dyn Placement,
    job: &Job,
    req: &WorkerRequest<'_>,
) -> Result<Option<WorkerAlloc>, EngineError> {
    let id = job.id;
    let view = cluster.view();
    let policy = placement.name();
    let Some(node) = placement.place(view, job, req) else {
        return Ok(None);
    };
    let Some(n) = view.nodes().get(node.index()) else {
        return Err(EngineError::BadPlacement {
            policy,
            job: id,
            node,
        });
    };
    if !view.fits(n, req) {
        return Err(EngineError::BadPlacement {
            policy,
            job: id,
            node,
        });
    }
    let gpus = placement
        .gpus(view, n, req)
        .ok_or_else(|| EngineError::BadGpus {
            policy,
            job: id,
            reason: format!("no GPU choice on node {node}"),
        })?;
    let alloc = WorkerAlloc {
        node,
        gpus,
        cpu_milli: job.cpu_milli,
        memory_mib: job.memory_mib,
    };
    cluster
        .allocate(&alloc, req)
        .map_err(|e| EngineError::BadGpus {
            policy,
            job: id,
            reason: e.to_string(),
        })?;
    Ok(Some(alloc))
}

impl Core<'_> {
    /// Distinct nodes of a run's allocations, its cross-rack slowdown (in
    /// thousandths) and an elastic job's speed at this size relative to its
    /// requested size (in millionths).
    fn run_shape(&self, job: &Job, allocs: &[WorkerAlloc]) -> (u32, u64, u64) {
        let mut nodes: Vec<NodeId> = allocs.iter().map(|a| a.node).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let view = self.cluster.view();
        let first_rack = view.node(nodes[0]).rack();
        let spans_racks = nodes.iter().any(|&n| view.node(n).rack() != first_rack);
        let slowdown = if spans_racks {
            self.cross_rack_milli
        } else {
            1000
        };
        let rate = job
            .elastic
            .as_ref()
            .map_or(1_000_000, |e| e.rate_ppm(allocs.len() as u32, job.workers));
        (nodes.len() as u32, slowdown, rate)
    }

    /// Milli-GPUs job `id` holds in its current run (its workers now).
    fn run_milli(&self, id: JobId) -> u64 {
        self.jobs[id.index()].allocs.len() as u64 * self.workload.job(id).gpu.milli()
    }

    /// Closes the accounting of a running job's current run at `now` and
    /// returns the work done so far (ms at full speed), without changing its
    /// allocations or state.
    fn close_run(&mut self, id: JobId) -> Millis {
        let duration = self.workload.job(id).duration;
        let milli = self.run_milli(id);
        let run = &mut self.jobs[id.index()];
        let ran = self.now - run.run_start;
        run.attained_prev += u128::from(milli) * u128::from(ran);
        run.worker_ms += run.allocs.len() as u128 * u128::from(ran);
        run.ran_prev += ran;
        (run.done_work
            + ran.saturating_sub(run.run_overhead) * run.run_rate / (run.run_slowdown * 1000))
            .min(duration)
    }

    /// After an elastic job's allocations changed: keeps its progress (elastic
    /// frameworks checkpoint on resize), charges the rescale overhead and
    /// queues the completion at the new speed.
    fn resized(&mut self, id: JobId, progress: Millis) {
        let job = self.workload.job(id);
        let (nodes_used, slowdown, rate) = self.run_shape(job, &self.jobs[id.index()].allocs);
        let now = self.now;
        let cost = self.resize_cost(id);
        let run = &mut self.jobs[id.index()];
        run.done_work = progress;
        // A run that began at this very instant (a start, a restart or an
        // earlier resize) simply begins with the new size: no second overhead.
        if run.run_start != now {
            run.run_overhead = cost;
            run.resizes += 1;
        }
        run.run_start = now;
        run.run_slowdown = slowdown;
        run.run_rate = rate;
        run.nodes_used = nodes_used;
        run.attempt += 1; // the old completion is stale
        self.push_completion(id);
    }

    /// What resizing a running job now costs it, in ms: nothing if its run
    /// began at this instant, else the rescale overhead.
    fn resize_cost(&self, id: JobId) -> Millis {
        if self.jobs[id.index()].run_start == self.now {
            0
        } else {
            self.rescale_overhead
        }
    }

    /// Whether `job`'s gang (an elastic job's minimum) would fit with
    /// `released` freed; changes nothing.
    fn fits_with_released(&mut self, job: JobId, released: &[WorkerAlloc]) -> bool {
        let j = self.workload.job(job);
        let req = WorkerRequest {
            gpu: j.gpu,
            cpu_milli: j.cpu_milli,
            memory_mib: j.memory_mib,
            allowed_pools: &self.pool_masks[self.jobs[job.index()].mask as usize],
        };
        self.cluster
            .with_released(released, |c| c.view().gang_fits(&req, j.min_workers()))
    }

    /// Gives every pending job its current wait reason (see `why_pending`).
    /// Jobs of one shape share the cluster part of the answer.
    fn classify_pending(&mut self) {
        let workload = self.workload;
        let seq = self.pass_seq;
        for &j in &self.pending {
            let job = workload.job(j);
            let r = &self.jobs[j.index()];
            let reason = if r.after_preemption {
                WaitReason::Preempted
            } else if r.quota_pass == seq {
                WaitReason::Quota
            } else {
                let shape = r.shape as usize;
                if self.shape_pass[shape] != seq {
                    let req = WorkerRequest {
                        gpu: job.gpu,
                        cpu_milli: job.cpu_milli,
                        memory_mib: job.memory_mib,
                        allowed_pools: &self.pool_masks[r.mask as usize],
                    };
                    // The pass's own "cannot fit" answer saves the test.
                    let known = r.infeasible_at == Some(self.release_epoch);
                    self.shape_reason[shape] =
                        if known || !self.cluster.view().gang_fits(&req, job.min_workers()) {
                            why_pending::blocked(&self.cluster, job, &req)
                        } else {
                            WaitReason::Order
                        };
                    self.shape_pass[shape] = seq;
                }
                self.shape_reason[shape]
            };
            let now = self.now;
            let r = &mut self.jobs[j.index()];
            if r.wait_reason != Some(reason) {
                if let Some(old) = r.wait_reason {
                    r.wait_ms[old.index()] += now - r.wait_since;
                }
                r.wait_reason = Some(reason);
                r.wait_since = now;
            }
        }
    }

    /// Puts a job back into the pending list at its arrival-order place (ids
    /// follow submission order, so that is id order).
    fn insert_pending(&mut self, id: JobId) {
        let at = self.pending.partition_point(|&j| j < id);
        self.pending.insert(at, id);
    }

    fn remove_running(&mut self, id: JobId) {
        let slot = self.jobs[id.index()].running_slot as usize;
        self.running.swap_remove(slot);
        if let Some(&moved) = self.running.get(slot) {
            self.jobs[moved.index()].running_slot = slot as u32;
        }
    }

    /// Stops a running job: frees its resources, keeps its progress up to the
    /// last checkpoint, and queues it again. Returns false if it was not
    /// running.
    pub(crate) fn preempt_job(&mut self, id: JobId) -> bool {
        self.stop_job(id, false)
    }

    /// Stops a running job, as a preemption or (`killed`) as a node failure.
    /// A killed job that exceeds the retry limit fails for good.
    fn stop_job(&mut self, id: JobId, killed: bool) -> bool {
        if self.jobs.get(id.index()).map(|r| r.state) != Some(JobState::Running) {
            return false;
        }
        let progress = self.close_run(id);
        let run = &mut self.jobs[id.index()];
        for a in run.allocs.drain(..) {
            self.cluster.release(&a);
        }
        // The last checkpoint; a resize also checkpoints, so never less than
        // the work kept at the last one.
        let kept = match self.checkpoint_interval {
            0 => run.done_work,
            c => (progress / c * c).max(run.done_work),
        };
        run.lost_work += progress - kept;
        run.done_work = kept;
        if killed {
            run.failures += 1;
        } else {
            run.preemptions += 1;
            run.after_preemption = true;
        }
        run.infeasible_at = None;
        let failed = killed && run.failures > self.faults.backoff_limit;
        run.state = if failed {
            JobState::Failed
        } else {
            JobState::Pending
        };
        run.queued_at = self.now;
        if failed {
            run.end = Some(self.now);
        }
        self.remove_running(id);
        // Resources came free: earlier "does not fit" answers no longer hold.
        self.release_epoch += 1;
        self.failed.clear();
        if failed {
            self.done += 1;
            self.queue_pass();
            return true;
        }
        if self.in_pass {
            self.requeued.push(id);
        } else {
            self.insert_pending(id);
            self.queue_pass();
        }
        true
    }

    /// Pushes the first failure and reclaim of every node that can have one,
    /// and the scripted outages.
    fn schedule_initial_faults(&mut self) {
        if self.faults.is_empty() {
            return;
        }
        for i in 0..self.cluster.nodes().len() {
            let node = NodeId::from_index(i);
            let pool = self.cluster.nodes()[i].pool.index();
            if let Some(f) = self.faults.failures.get(pool).copied().flatten() {
                let t = self.now + f.time_to_failure(&mut self.rng);
                self.queue.push(
                    t,
                    Event::NodeDown {
                        node,
                        cause: DownCause::Failure,
                    },
                );
            }
            if let Some(sp) = self.faults.spot.get(pool).copied().flatten() {
                let t = self.now + sp.time_to_notice(&mut self.rng) + sp.notice();
                self.queue.push(
                    t,
                    Event::NodeDown {
                        node,
                        cause: DownCause::Reclaim,
                    },
                );
            }
        }
        for &(at, node, down_for) in &self.faults.scripted.clone() {
            let cause = if down_for.is_some() {
                DownCause::Failure
            } else {
                DownCause::Reclaim
            };
            self.queue.push(at, Event::NodeDown { node, cause });
            if let Some(d) = down_for {
                self.scripted_repairs.push((node, at, d));
            }
        }
    }

    /// A node fails or is reclaimed: every job with a worker there is killed
    /// (restarting from its checkpoint, or failing past the retry limit).
    fn node_down(&mut self, node: NodeId, cause: DownCause, work_remains: bool) {
        if self.cluster.nodes().get(node.index()).map(|n| n.state()) != Some(NodeState::Ready) {
            return;
        }
        let mut victims: Vec<JobId> = self
            .running
            .iter()
            .copied()
            .filter(|&j| self.jobs[j.index()].allocs.iter().any(|a| a.node == node))
            .collect();
        victims.sort_unstable();
        for j in victims {
            self.stop_job(j, true);
        }
        self.drop_replicas_on(node);
        self.node_outages += 1;
        let pool = self.cluster.nodes()[node.index()].pool.index();
        match cause {
            DownCause::Reclaim => {
                self.cluster.set_state(node, NodeState::Removed);
                self.paid_nodes[pool] -= 1;
            }
            DownCause::Failure => {
                self.cluster.set_state(node, NodeState::Down);
                let scripted = self
                    .scripted_repairs
                    .iter()
                    .position(|&(n, at, _)| n == node && at == self.now);
                let repair = match scripted {
                    Some(i) => Some(self.scripted_repairs.remove(i).2),
                    None => self
                        .faults
                        .failures
                        .get(pool)
                        .copied()
                        .flatten()
                        .map(|f| f.time_to_repair(&mut self.rng)),
                };
                if let Some(r) = repair
                    && (work_remains || scripted.is_some())
                {
                    self.queue.push(self.now + r, Event::NodeUp { node });
                }
            }
        }
        self.queue_pass();
    }

    /// A repaired node takes work again; its next failure is drawn.
    fn node_up(&mut self, node: NodeId, work_remains: bool) {
        let state = self.cluster.nodes().get(node.index()).map(|n| n.state());
        if state != Some(NodeState::Down) && state != Some(NodeState::Provisioning) {
            return; // removed (given up, reclaimed) meanwhile
        }
        self.cluster.set_state(node, NodeState::Ready);
        self.release_epoch += 1;
        self.failed.clear();
        let pool = self.cluster.nodes()[node.index()].pool.index();
        // A new node from a scale-up may be a spot node: draw its reclaim.
        if state == Some(NodeState::Provisioning)
            && let Some(sp) = self.faults.spot.get(pool).copied().flatten()
        {
            let t = self.now + sp.time_to_notice(&mut self.rng) + sp.notice();
            self.queue.push(
                t,
                Event::NodeDown {
                    node,
                    cause: DownCause::Reclaim,
                },
            );
        }
        if work_remains && let Some(f) = self.faults.failures.get(pool).copied().flatten() {
            let t = self.now + f.time_to_failure(&mut self.rng);
            self.queue.push(
                t,
                Event::NodeDown {
                    node,
                    cause: DownCause::Failure,
                },
            );
        }
        self.queue_pass();
    }

    /// The progress of a job as of now.
    fn progress_of(&self, id: JobId) -> JobProgress {
        let r = &self.jobs[id.index()];
        let job = self.workload.job(id);
        let (cur_ms, cur_work) = if r.state == JobState::Running {
            let ran = self.now - r.run_start;
            (
                ran,
                ran.saturating_sub(r.run_overhead) * r.run_rate / (r.run_slowdown * 1000),
            )
        } else {
            (0, 0)
        };
        let done = (r.done_work + cur_work).min(job.duration);
        let milli = u128::from(self.run_milli(id));
        JobProgress {
            state: r.state,
            attained_gpu_milli_ms: r.attained_prev + milli * u128::from(cur_ms),
            attained_ms: r.ran_prev + cur_ms,
            done_work: done,
            remaining: job.duration - done,
            run_start: (r.state == JobState::Running).then_some(r.run_start),
            queued_at: r.queued_at,
            first_start: r.start,
            preemptions: r.preemptions,
        }
    }
}

fn remember_failure(failed: &mut Vec<FailedShape>, job: &Job, mask: u32) {
    // A handful of shapes covers the distinct requests of real traces; beyond
    // that the exact test still answers, only more slowly.
    const MAX_REMEMBERED: usize = 16;
    if failed.len() < MAX_REMEMBERED {
        failed.push(FailedShape {
            mask,
            workers: job.min_workers(),
            gpu: job.gpu,
            cpu_milli: job.cpu_milli,
            memory_mib: job.memory_mib,
        });
    }
}

impl SchedulingPass for Core<'_> {
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

    fn running(&self) -> &[JobId] {
        &self.running
    }

    fn progress(&self, job: JobId) -> JobProgress {
        self.progress_of(job)
    }

    fn state(&self, job: JobId) -> JobState {
        self.jobs[job.index()].state
    }

    fn allocations(&self, job: JobId) -> &[WorkerAlloc] {
        &self.jobs[job.index()].allocs
    }

    fn preempt(&mut self, job: JobId) -> bool {
        self.preempt_job(job)
    }

    fn fits_now(&self, job: JobId) -> bool {
        let j = self.workload.job(job);
        let req = self.request(j, self.jobs[job.index()].mask);
        self.cluster.view().gang_fits(&req, j.min_workers())
    }

    fn fits_if_preempted(&mut self, job: JobId, victims: &[JobId]) -> bool {
        let mut seen: Vec<JobId> = Vec::new();
        let mut released: Vec<WorkerAlloc> = Vec::new();
        for &v in victims {
            if self.jobs.get(v.index()).map(|r| r.state) == Some(JobState::Running)
                && !seen.contains(&v)
            {
                released.extend_from_slice(&self.jobs[v.index()].allocs);
                seen.push(v);
            }
        }
        self.fits_with_released(job, &released)
    }

    fn try_start_in(&mut self, job: JobId, pools: &[bool]) -> StartOutcome {
        if pools.len() != self.cluster.pools().len() {
            return StartOutcome::NoFit;
        }
        let own = self.jobs[job.index()].mask as usize;
        let combined: Vec<bool> = self.pool_masks[own]
            .iter()
            .zip(pools)
            .map(|(&a, &b)| a && b)
            .collect();
        // Intern the combined mask so the job's usual mask is restored after.
        let idx = match self.pool_masks.iter().position(|m| *m == combined) {
            Some(i) => i,
            None => {
                self.pool_masks.push(combined);
                self.pool_masks.len() - 1
            }
        } as u32;
        let saved = std::mem::replace(&mut self.jobs[job.index()].mask, idx);
        let saved_infeasible = self.jobs[job.index()].infeasible_at.take();
        let out = self.try_start(job);
        self.jobs[job.index()].mask = saved;
        if out != StartOutcome::Started {
            self.jobs[job.index()].infeasible_at = saved_infeasible;
        }
        out
    }

    fn held_for_quota(&mut self, job: JobId) {
        if let Some(r) = self.jobs.get_mut(job.index()) {
            r.quota_pass = self.pass_seq;
        }
    }

    fn wake_at(&mut self, at: SimTime) {
        if at > self.now && self.wakeups.insert(at) {
            self.queue.push(at, Event::Schedule { periodic: false });
        }
    }

    fn try_start(&mut self, job: JobId) -> StartOutcome {
        if self.fault.is_some() {
            return StartOutcome::NoFit;
        }
        match self.jobs.get(job.index()).map(|r| r.state) {
            Some(JobState::Pending) => {}
            _ => return StartOutcome::NotPending,
        }
        match self.place_gang(job) {
            Ok(Some(allocs)) => {
                self.start(job, allocs);
                StartOutcome::Started
            }
            Ok(None) => StartOutcome::NoFit,
            Err(e) => {
                self.fault = Some(e);
                StartOutcome::NoFit
            }
        }
    }
}

impl crate::policy::elastic::ElasticPass for Core<'_> {
    fn workload(&self) -> &Workload {
        self.workload
    }

    fn pending(&self) -> &[JobId] {
        &self.pending
    }

    fn running(&self) -> &[JobId] {
        &self.running
    }

    fn workers(&self, job: JobId) -> u32 {
        self.jobs[job.index()].allocs.len() as u32
    }

    fn remaining_work(&self, job: JobId) -> Millis {
        self.progress_of(job).remaining
    }

    fn resize_cost(&self, job: JobId) -> Millis {
        Core::resize_cost(self, job)
    }

    fn fits_now(&self, job: JobId) -> bool {
        SchedulingPass::fits_now(self, job)
    }

    fn fits_if_shrunk(&mut self, job: JobId, shrinks: &[(JobId, u32)]) -> bool {
        // The last workers of each victim, as `shrink` would remove them.
        let mut seen: Vec<JobId> = Vec::new();
        let mut released: Vec<WorkerAlloc> = Vec::new();
        for &(v, n) in shrinks {
            let r = &self.jobs[v.index()];
            if r.state == JobState::Running && !seen.contains(&v) {
                let keep = r.allocs.len().saturating_sub(n as usize);
                released.extend_from_slice(&r.allocs[keep..]);
                seen.push(v);
            }
        }
        self.fits_with_released(job, &released)
    }

    fn shrink(&mut self, job: JobId, n: u32) -> bool {
        let j = self.workload.job(job);
        let r = &self.jobs[job.index()];
        let Some(spec) = &j.elastic else {
            return false;
        };
        if r.state != JobState::Running || n == 0 || (r.allocs.len() as u32) < spec.min_workers + n
        {
            return false;
        }
        let progress = self.close_run(job);
        let keep = self.jobs[job.index()].allocs.len() - n as usize;
        let gone: Vec<WorkerAlloc> = self.jobs[job.index()].allocs.drain(keep..).collect();
        for a in &gone {
            self.cluster.release(a);
        }
        self.release_epoch += 1;
        self.failed.clear();
        self.resized(job, progress);
        true
    }

    fn grow(&mut self, job: JobId) -> bool {
        let workload = self.workload;
        let j = workload.job(job);
        let r = &self.jobs[job.index()];
        let Some(spec) = &j.elastic else {
            return false;
        };
        if r.state != JobState::Running || r.allocs.len() as u32 >= spec.max_workers {
            return false;
        }
        let mask = r.mask;
        let pool_masks = &self.pool_masks;
        let req = WorkerRequest {
            gpu: j.gpu,
            cpu_milli: j.cpu_milli,
            memory_mib: j.memory_mib,
            allowed_pools: &pool_masks[mask as usize],
        };
        match place_one(&mut self.cluster, self.placement.as_mut(), j, &req) {
            Ok(Some(alloc)) => {
                // Account the run so far at the old size (`close_run` reads
                // the allocations), then add the worker.
                let progress = self.close_run(job);
                self.jobs[job.index()].allocs.push(alloc);
                self.resized(job, progress);
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.fault = Some(e);
                false
            }
        }
    }
}

/// Runs `workload` on a cluster of `pools` with the named policies: the whole
/// engine in one call, for tests, benches and library users.
pub fn simulate(
    workload: &Workload,
    pools: &[PoolSpec],
    scheduler: crate::policy::scheduler::SchedulerKind,
    placement: crate::policy::placement::PlacementKind,
    config: EngineConfig,
) -> Result<RunResult, EngineError> {
    Simulation::new(
        workload,
        pools,
        scheduler.build(),
        placement.build(),
        config,
    )
    .run(|_| {})
}
