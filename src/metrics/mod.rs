//! What a run measured: each job's outcome, the timeline of samples and the
//! summary statistics computed from them. Plain data; [`crate::report`] turns it
//! into files.

use serde::Serialize;

use crate::ids::JobId;
use crate::time::{MS_PER_SEC, Millis, SimTime};
use crate::workload::Workload;

/// Where a job ended up when the run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Ran to completion.
    Finished,
    /// Still running at the end of the horizon.
    Running,
    /// Arrived but never started (or waiting again) at the end of the run.
    Pending,
    /// No pool of the cluster can ever hold the job; reported at arrival.
    Unschedulable,
    /// Submitted after the end of the horizon.
    NotArrived,
    /// Killed by node failures more times than the retry limit allows.
    Failed,
}

impl JobStatus {
    /// The name written in `jobs.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Finished => "finished",
            JobStatus::Running => "running",
            JobStatus::Pending => "pending",
            JobStatus::Unschedulable => "unschedulable",
            JobStatus::NotArrived => "not_arrived",
            JobStatus::Failed => "failed",
        }
    }
}

/// Why a job waited; see `engine::why_pending` for how each is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// Fewer resources free where it may run than its gang needs.
    Capacity,
    /// Enough free in total, but no node can host one worker.
    Fragmentation,
    /// Some workers fit now, but not all.
    Gang,
    /// Enough free GPUs, but not of the models it may use.
    GpuModel,
    /// It fits, but the scheduler held it for a quota.
    Quota,
    /// It fits, but the scheduler started other jobs first.
    Order,
    /// Waiting again after a preemption.
    Preempted,
    /// Nodes it may use are being provisioned.
    Provisioning,
}

impl WaitReason {
    /// Every reason, in column order.
    pub const ALL: [WaitReason; 8] = [
        WaitReason::Capacity,
        WaitReason::Fragmentation,
        WaitReason::Gang,
        WaitReason::GpuModel,
        WaitReason::Quota,
        WaitReason::Order,
        WaitReason::Preempted,
        WaitReason::Provisioning,
    ];

    /// Snake-case name, as in the reports.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::Capacity => "capacity",
            WaitReason::Fragmentation => "fragmentation",
            WaitReason::Gang => "gang",
            WaitReason::GpuModel => "gpu_model",
            WaitReason::Quota => "quota",
            WaitReason::Order => "order",
            WaitReason::Preempted => "preempted",
            WaitReason::Provisioning => "provisioning",
        }
    }

    /// Index in [`WaitReason::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One job's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    pub job: JobId,
    pub status: JobStatus,
    /// When all workers started (first run), if they did.
    pub start: Option<SimTime>,
    /// When the job finished, if it did.
    pub end: Option<SimTime>,
    /// Distinct nodes the job's workers ran on in its last run (0 if it
    /// never ran).
    pub nodes_used: u32,
    /// Times the job was preempted (or killed) while running.
    pub preemptions: u32,
    /// Times a node failure or spot reclaim killed it.
    pub failures: u32,
    /// Times it started again after a preemption or a kill.
    pub restarts: u32,
    /// Work lost to preemptions (progress after the last checkpoint) times the
    /// job's GPUs, in milli-GPU·ms.
    pub lost_gpu_milli_ms: u128,
    /// Instants at which an elastic job was resized (0 for rigid jobs).
    pub resizes: u32,
    /// ∫ workers dt over all runs, worker·ms: divided by the run time it is
    /// an elastic job's mean size.
    pub worker_ms: u128,
    /// Wall time the job ran over all its runs, ms.
    pub run_ms: Millis,
    /// Time waited (arrival to last start, plus waits after preemptions), ms,
    /// split by reason and indexed by [`WaitReason::index`].
    pub wait_by_reason: [Millis; 8],
}

impl JobOutcome {
    /// Mean workers over the time the job ran, in thousandths (`None` if it
    /// never ran).
    pub fn mean_workers_milli(&self) -> Option<u64> {
        (self.run_ms > 0).then(|| {
            u64::try_from(self.worker_ms * 1_000 / u128::from(self.run_ms)).unwrap_or(u64::MAX)
        })
    }
}

/// One timeline sample, taken after the scheduling pass of its instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub time: SimTime,
    /// Milli-GPUs allocated.
    pub gpu_milli_used: u64,
    pub pending_jobs: u32,
    pub running_jobs: u32,
    /// Nodes with at least one worker.
    pub busy_nodes: u32,
    /// Milli-GPUs of the ready nodes (capacity changes with autoscaling and
    /// failures).
    pub gpu_milli_capacity: u64,
    /// Nodes that take work.
    pub nodes_ready: u32,
    /// Nodes requested from the cloud and not ready yet.
    pub nodes_provisioning: u32,
}

/// Everything the engine hands back.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// One entry per workload job, in job id order.
    pub outcomes: Vec<JobOutcome>,
    pub timeline: Vec<Sample>,
    /// Ready nodes per pool (indexed by pool id) at each timeline sample;
    /// parallel to `timeline`.
    pub pool_nodes: Vec<Vec<u32>>,
    /// Milli-GPUs in the cluster.
    pub gpu_milli_capacity: u64,
    /// ∫ allocated milli-GPUs dt over the run, in milli-GPU·ms.
    pub gpu_alloc_integral: u128,
    /// ∫ ready milli-GPU capacity dt over the run, in milli-GPU·ms.
    pub gpu_capacity_integral: u128,
    /// The end of the measured span: the last completion, or the horizon.
    pub end_time: SimTime,
    /// Node time paid for, per pool.
    pub pools: Vec<PoolUsage>,
    /// Node failures and spot reclaims that happened.
    pub node_outages: u64,
    /// Inference services: SLO, latency, replicas.
    pub services: Vec<crate::engine::ServiceResult>,
    /// Events processed.
    pub events: u64,
}

/// A pool's paid node time over the run.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolUsage {
    pub name: String,
    pub kind: crate::cluster::PoolKind,
    pub gpus_per_node: u32,
    /// Currency per node-hour, if the scenario gives one.
    pub price_per_node_hour: Option<f64>,
    /// ∫ nodes paid for dt, node·ms (nodes count from the scenario start, or
    /// from their request, until removed).
    pub node_ms: u128,
}

/// Cost of one pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolCost {
    pub pool: String,
    pub kind: crate::cluster::PoolKind,
    pub node_hours: f64,
    /// `None` when the pool has no price.
    pub cost: Option<f64>,
}

/// What the run cost, from node time and pool prices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostSummary {
    pub pools: Vec<PoolCost>,
    /// Sum over priced pools.
    pub total: f64,
    pub node_hours: f64,
    /// GPU-hours allocated to jobs.
    pub gpu_hours_allocated: f64,
    /// GPU-hours of the nodes paid for.
    pub gpu_hours_paid: f64,
    /// Total cost / finished jobs (0 with no finished job).
    pub per_finished_job: f64,
}

/// Mean and nearest-rank percentiles of a sample, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Stats {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Stats {
    /// Statistics of millisecond values, reported in seconds rounded to the
    /// millisecond. Percentiles use the nearest-rank method (the smallest value
    /// with at least p% of the sample at or below it). Empty → all zero.
    pub fn from_millis(values: &mut [Millis]) -> Stats {
        if values.is_empty() {
            return Stats::default();
        }
        values.sort_unstable();
        let n = values.len();
        let rank = |p: u64| {
            // ceil(p/100 · n), at least 1.
            let r = (p as usize * n).div_ceil(100).max(1);
            values[r - 1] as f64 / MS_PER_SEC as f64
        };
        let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
        Stats {
            mean: round3(sum as f64 / n as f64 / MS_PER_SEC as f64),
            p50: rank(50),
            p95: rank(95),
            p99: rank(99),
            max: values[n - 1] as f64 / MS_PER_SEC as f64,
        }
    }
}

/// Rounds to three decimals (milliseconds when the unit is seconds).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Job counts by final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Counts {
    pub total: u64,
    pub finished: u64,
    /// Running or pending when the run stopped.
    pub unfinished: u64,
    pub unschedulable: u64,
    pub not_arrived: u64,
    /// Killed past the retry limit.
    pub failed: u64,
}

/// Job-hours of waiting per reason, over all jobs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WaitHours {
    pub capacity: f64,
    pub fragmentation: f64,
    pub gang: f64,
    pub gpu_model: f64,
    pub quota: f64,
    pub order: f64,
    pub preempted: f64,
    pub provisioning: f64,
}

impl WaitHours {
    /// From per-reason totals in ms, indexed by [`WaitReason::index`].
    pub fn from_millis(ms: &[u128; 8]) -> WaitHours {
        let h = |r: WaitReason| round3(ms[r.index()] as f64 / 3_600_000.0);
        WaitHours {
            capacity: h(WaitReason::Capacity),
            fragmentation: h(WaitReason::Fragmentation),
            gang: h(WaitReason::Gang),
            gpu_model: h(WaitReason::GpuModel),
            quota: h(WaitReason::Quota),
            order: h(WaitReason::Order),
            preempted: h(WaitReason::Preempted),
            provisioning: h(WaitReason::Provisioning),
        }
    }

    /// (reason, hours) in [`WaitReason::ALL`] order.
    pub fn entries(&self) -> [(WaitReason, f64); 8] {
        [
            (WaitReason::Capacity, self.capacity),
            (WaitReason::Fragmentation, self.fragmentation),
            (WaitReason::Gang, self.gang),
            (WaitReason::GpuModel, self.gpu_model),
            (WaitReason::Quota, self.quota),
            (WaitReason::Order, self.order),
            (WaitReason::Preempted, self.preempted),
            (WaitReason::Provisioning, self.provisioning),
        ]
    }
}

/// What elastic jobs did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElasticSummary {
    /// Elastic jobs in the workload.
    pub jobs: u64,
    /// Resizes over all elastic jobs (instants at which one changed size).
    pub resizes: u64,
    /// Mean workers of elastic jobs over the time they ran, divided by their
    /// requested workers (1 = ran at the requested size on average), weighted
    /// by run time.
    pub mean_size_vs_requested: f64,
}

/// The headline numbers of a run (deterministic: no wall-clock figures).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub jobs: Counts,
    /// Job completion time (end − submit) of finished jobs, seconds.
    pub jct_s: Stats,
    /// Queueing delay (start − submit) of jobs that started, seconds.
    pub wait_s: Stats,
    /// JCT / duration of finished jobs (1 = no wait).
    pub slowdown: Stats,
    /// Last completion (or horizon) minus first submission, seconds.
    pub makespan_s: f64,
    /// Time-weighted mean of allocated GPUs over the makespan, % of capacity.
    pub mean_gpu_allocation_pct: f64,
    /// Preemptions over all jobs.
    pub preemptions: u64,
    /// Jobs killed by node failures or reclaims (counting each kill).
    pub job_kills: u64,
    /// GPU-hours of work lost to preemptions.
    pub lost_gpu_hours: f64,
    /// Node failures and spot reclaims.
    pub node_outages: u64,
    pub cost: CostSummary,
    /// Per inference service: SLO-violation minutes, p95 latency, replica-hours.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<crate::engine::ServiceResult>,
    /// Job-hours of waiting, by reason (see [`WaitReason`]).
    pub wait_hours_by_reason: WaitHours,
    /// Elastic training, when the workload has elastic jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elastic: Option<ElasticSummary>,
    /// Events processed.
    pub events: u64,
}

impl Summary {
    /// Computes the summary of a run of `workload`.
    pub fn compute(workload: &Workload, run: &RunResult) -> Summary {
        let mut counts = Counts {
            total: run.outcomes.len() as u64,
            ..Counts::default()
        };
        let mut jct = Vec::new();
        let mut wait = Vec::new();
        let mut slowdown = Vec::new();
        let mut first_submit: Option<SimTime> = None;
        let mut preemptions = 0u64;
        let mut kills = 0u64;
        let mut lost: u128 = 0;
        let mut waits = [0u128; 8];
        for o in &run.outcomes {
            for (acc, &w) in waits.iter_mut().zip(&o.wait_by_reason) {
                *acc += u128::from(w);
            }
            preemptions += u64::from(o.preemptions);
            kills += u64::from(o.failures);
            lost += o.lost_gpu_milli_ms;
            let job = workload.job(o.job);
            match o.status {
                JobStatus::Finished => counts.finished += 1,
                JobStatus::Running | JobStatus::Pending => counts.unfinished += 1,
                JobStatus::Unschedulable => counts.unschedulable += 1,
                JobStatus::NotArrived => counts.not_arrived += 1,
                JobStatus::Failed => counts.failed += 1,
            }
            if o.status != JobStatus::NotArrived {
                first_submit = Some(first_submit.map_or(job.submit, |t| t.min(job.submit)));
            }
            if let Some(start) = o.start {
                wait.push(start - job.submit);
            }
            if let Some(end) = o.end {
                let c = end - job.submit;
                jct.push(c);
                // Slowdown in thousandths, kept integral so sorting is exact;
                // a zero-length job that never waited has slowdown 1.
                slowdown.push(c.max(1) * 1_000 / job.duration.max(1));
            }
        }
        let elastic = {
            let (mut jobs, mut resizes, mut worker_ms, mut requested_ms) =
                (0u64, 0u64, 0u128, 0u128);
            for o in &run.outcomes {
                let job = workload.job(o.job);
                if job.elastic.is_some() {
                    jobs += 1;
                    resizes += u64::from(o.resizes);
                    worker_ms += o.worker_ms;
                    requested_ms += u128::from(job.workers) * u128::from(o.run_ms);
                }
            }
            (jobs > 0).then(|| ElasticSummary {
                jobs,
                resizes,
                mean_size_vs_requested: if requested_ms == 0 {
                    0.0
                } else {
                    round3(worker_ms as f64 / requested_ms as f64)
                },
            })
        };
        let start = first_submit.unwrap_or(SimTime::ZERO);
        let span = run.end_time.since(start);
        // Allocation over the capacity that was there (it changes with
        // autoscaling and failures).
        let mean_alloc = if span == 0 || run.gpu_capacity_integral == 0 {
            0.0
        } else {
            run.gpu_alloc_integral as f64 * 100.0 / run.gpu_capacity_integral as f64
        };
        let hours = |ms: u128| ms as f64 / 3_600_000.0;
        let pools: Vec<PoolCost> = run
            .pools
            .iter()
            .map(|p| PoolCost {
                pool: p.name.clone(),
                kind: p.kind,
                node_hours: round3(hours(p.node_ms)),
                cost: p
                    .price_per_node_hour
                    .map(|price| round3(price * hours(p.node_ms))),
            })
            .collect();
        let total: f64 = run
            .pools
            .iter()
            .filter_map(|p| p.price_per_node_hour.map(|price| price * hours(p.node_ms)))
            // An empty f64 sum is −0.0; add +0.0 so unpriced runs print 0.00.
            .sum::<f64>()
            + 0.0;
        let cost = CostSummary {
            total: round3(total),
            node_hours: round3(run.pools.iter().map(|p| hours(p.node_ms)).sum()),
            gpu_hours_allocated: round3(run.gpu_alloc_integral as f64 / 1000.0 / 3_600_000.0),
            gpu_hours_paid: round3(
                run.pools
                    .iter()
                    .map(|p| hours(p.node_ms) * f64::from(p.gpus_per_node))
                    .sum(),
            ),
            per_finished_job: if counts.finished == 0 {
                0.0
            } else {
                round3(total / counts.finished as f64)
            },
            pools,
        };
        Summary {
            jobs: counts,
            jct_s: Stats::from_millis(&mut jct),
            wait_s: Stats::from_millis(&mut wait),
            slowdown: Stats::from_millis(&mut slowdown),
            makespan_s: span as f64 / MS_PER_SEC as f64,
            mean_gpu_allocation_pct: round3(mean_alloc),
            preemptions,
            job_kills: kills,
            node_outages: run.node_outages,
            cost,
            services: run.services.clone(),
            wait_hours_by_reason: WaitHours::from_millis(&waits),
            elastic,
            // milli-GPU·ms → GPU-hours.
            lost_gpu_hours: round3(lost as f64 / 1000.0 / 3_600_000.0),
            events: run.events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<Millis> = (1..=100).map(|s| s * 1000).collect();
        let s = Stats::from_millis(&mut v);
        assert_eq!((s.p50, s.p95, s.p99, s.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(s.mean, 50.5);
        let mut one = vec![1_500];
        let s = Stats::from_millis(&mut one);
        assert_eq!((s.mean, s.p50, s.p99), (1.5, 1.5, 1.5));
        assert_eq!(Stats::from_millis(&mut []), Stats::default());
    }
}
