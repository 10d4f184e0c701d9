//! How far the cluster run is from the simulation of the same scenario: per
//! job start-time and JCT errors in scenario seconds, mean and p95 JCT error,
//! makespan error, agreement of start order (Kendall tau) and node placement,
//! and the measured pod start latency.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::ids::{JobId, NodeId};
use crate::metrics::{JobStatus, RunResult, Summary, round3};
use crate::workload::Workload;

/// The acceptance limit on mean-JCT and makespan errors, in percent.
pub const TOLERANCE_PCT: f64 = 5.0;

/// One job in both runs. Times in scenario seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobFidelity {
    pub job: u32,
    pub name: String,
    pub sim_start_s: Option<f64>,
    pub cluster_start_s: Option<f64>,
    /// Cluster − simulation.
    pub start_error_s: Option<f64>,
    pub sim_jct_s: Option<f64>,
    pub cluster_jct_s: Option<f64>,
    /// Cluster − simulation.
    pub jct_error_s: Option<f64>,
    /// |cluster − simulation| / simulation × 100.
    pub jct_error_pct: Option<f64>,
    /// Ledger node ids of the workers of the job's last run (sorted).
    pub sim_nodes: Option<Vec<u32>>,
    pub cluster_nodes: Option<Vec<u32>>,
}

/// Mean, p50, p95 and max of a sample (nearest rank), 0 when empty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Dist {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Dist {
    /// The distribution of `values` (any unit; rounded to 3 decimals).
    pub fn of(values: &[f64]) -> Dist {
        if values.is_empty() {
            return Dist::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let rank = |p: usize| v[(p * n).div_ceil(100).max(1) - 1];
        Dist {
            count: n,
            mean: round3(v.iter().sum::<f64>() / n as f64),
            p50: round3(rank(50)),
            p95: round3(rank(95)),
            max: round3(v[n - 1]),
        }
    }
}

/// A simulation/cluster pair of one figure with the relative error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Compared {
    pub sim: f64,
    pub cluster: f64,
    /// (cluster − simulation) / simulation × 100 (0 when both are 0).
    pub error_pct: f64,
}

impl Compared {
    fn new(sim: f64, cluster: f64) -> Compared {
        let error_pct = if sim == 0.0 {
            if cluster == 0.0 { 0.0 } else { 100.0 }
        } else {
            (cluster - sim) / sim * 100.0
        };
        Compared {
            sim,
            cluster,
            error_pct: round3(error_pct),
        }
    }
}

/// Two jobs the cluster started in the opposite order to the simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Swap {
    /// The job the simulation started first.
    pub sim_first: u32,
    pub sim_second: u32,
    /// Scenario seconds between their simulated starts (events closer than
    /// the control plane's timing jitter × speedup can swap).
    pub sim_gap_s: f64,
}

/// API trouble seen during the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ApiCounts {
    pub retries: u64,
    pub errors: u64,
    pub watch_errors: u64,
    /// Gangs whose binding failed and that were deleted and queued again.
    pub bind_failures: u64,
}

/// One pool's ready-node trajectory in both runs, over the timeline samples
/// both runs took (the same grid: multiples of the sample interval).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolTrajectory {
    pub pool: String,
    /// Largest |cluster − simulation| ready nodes at one sample.
    pub max_abs_diff: u32,
    /// Mean |cluster − simulation| ready nodes over the samples.
    pub mean_abs_diff: f64,
    /// Samples at which the counts agree, 0..=1.
    pub agreement: f64,
    pub sim_max: u32,
    pub cluster_max: u32,
    /// Ready nodes at the last compared sample.
    pub sim_final: u32,
    pub cluster_final: u32,
}

/// How the autoscaled node counts compare (present when the scenario has an
/// autoscaler).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeFidelity {
    /// Samples compared (those both timelines have).
    pub samples: usize,
    pub pools: Vec<PoolTrajectory>,
    /// Nodes added, estimated the same way for both runs from the timeline
    /// (increases of ready + provisioning nodes between samples: a node
    /// added and another removed between two samples cancel out). The
    /// simulation's result does not record its scale-ups, hence this.
    pub nodes_added_from_timeline: Compared,
    /// Exact counts of the cluster run: scale-up decisions, nodes they added,
    /// nodes scaled down or given up.
    pub cluster_scale_ups: u32,
    pub cluster_nodes_added: u32,
    pub cluster_nodes_removed: u32,
    /// Node object created → seen Ready, wall ms (KWOK's node stage and the
    /// watch), per scaled-up node.
    pub node_ready_latency_ms: Dist,
}

/// Compares the ready nodes per pool sample by sample.
pub fn node_fidelity(sim: &RunResult, cluster: &RunResult, observed: &Observed) -> NodeFidelity {
    let n = sim
        .timeline
        .len()
        .min(cluster.timeline.len())
        .min(sim.pool_nodes.len())
        .min(cluster.pool_nodes.len());
    let pools = sim
        .pools
        .iter()
        .enumerate()
        .map(|(p, usage)| {
            let at = |r: &RunResult, i: usize| r.pool_nodes[i].get(p).copied().unwrap_or(0);
            let diffs: Vec<u32> = (0..n)
                .map(|i| at(sim, i).abs_diff(at(cluster, i)))
                .collect();
            PoolTrajectory {
                pool: usage.name.clone(),
                max_abs_diff: diffs.iter().copied().max().unwrap_or(0),
                mean_abs_diff: if n == 0 {
                    0.0
                } else {
                    round3(diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / n as f64)
                },
                agreement: if n == 0 {
                    1.0
                } else {
                    round3(diffs.iter().filter(|&&d| d == 0).count() as f64 / n as f64)
                },
                sim_max: (0..n).map(|i| at(sim, i)).max().unwrap_or(0),
                cluster_max: (0..n).map(|i| at(cluster, i)).max().unwrap_or(0),
                sim_final: n.checked_sub(1).map_or(0, |i| at(sim, i)),
                cluster_final: n.checked_sub(1).map_or(0, |i| at(cluster, i)),
            }
        })
        .collect();
    NodeFidelity {
        samples: n,
        pools,
        nodes_added_from_timeline: Compared::new(
            nodes_added_from_timeline(sim) as f64,
            nodes_added_from_timeline(cluster) as f64,
        ),
        cluster_scale_ups: observed.scale_ups,
        cluster_nodes_added: observed.nodes_added,
        cluster_nodes_removed: observed.nodes_removed,
        node_ready_latency_ms: Dist::of(&observed.node_ready_latency_ms),
    }
}

/// Sum of the increases of ready + provisioning nodes between consecutive
/// samples (the run starts with the scenario's nodes at the first sample).
pub fn nodes_added_from_timeline(r: &RunResult) -> u32 {
    let total: Vec<u32> = r
        .timeline
        .iter()
        .map(|s| s.nodes_ready + s.nodes_provisioning)
        .collect();
    total.windows(2).map(|w| w[1].saturating_sub(w[0])).sum()
}

/// One acceptance check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// The whole fidelity report (`fidelity.json`; `fidelity.md` renders it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fidelity {
    pub schema: u32,
    pub run_id: String,
    pub scenario: String,
    pub server_version: String,
    /// Scenario seconds per wall second.
    pub speedup: f64,
    /// Wall-clock seconds of the run (first arrival to last completion).
    pub wall_s: f64,
    /// False when the run stopped before every job was final (time limit).
    pub complete: bool,
    pub jobs_total: usize,
    pub jobs_finished_sim: usize,
    pub jobs_finished_cluster: usize,
    /// Jobs that started in both runs (what start order compares).
    pub jobs_started_both: usize,
    pub start_order_identical: bool,
    /// Kendall's tau-a between the two start orders (1 = identical).
    pub kendall_tau: f64,
    /// Pairs of jobs started in the opposite order on the cluster (at most
    /// 50), with how far apart the simulation started them.
    pub start_order_swaps: Vec<Swap>,
    /// Distribution of |start error| over jobs that started in both, scenario s.
    pub start_error_abs_s: Dist,
    /// Distribution of per-job |JCT error| in percent of the simulated JCT
    /// (dominated by jobs shorter than the pod lag × speedup, if any: see
    /// `jct_error_abs_s`).
    pub jct_error_pct: Dist,
    /// Distribution of per-job |JCT error|, scenario seconds.
    pub jct_error_abs_s: Dist,
    pub mean_jct_s: Compared,
    pub makespan_s: Compared,
    /// Share of jobs (finished in both) whose workers ran on the same nodes
    /// in their last run, 0..=1; `None` if the simulation's placements could
    /// not be recorded.
    pub placement_agreement: Option<f64>,
    /// Bind → Running as observed on the watch, wall-clock ms.
    pub pod_start_latency_ms: Dist,
    /// How much later than its run-for a pod was seen Succeeded after it was
    /// seen Running (KWOK's timer, its status update, the watch), wall ms.
    pub pod_completion_lag_ms: Dist,
    /// The same latency in scenario seconds (× speedup): the startup delay a
    /// scenario would need to model this control plane.
    pub pod_start_latency_scenario_s: f64,
    /// |API timestamp − watch time| of pod Running and Succeeded
    /// transitions, wall-clock s (the API's timestamps have 1 s resolution,
    /// so values up to 1 s are expected).
    pub api_timestamp_skew_s: Dist,
    pub api: ApiCounts,
    /// Node-count trajectories, when the scenario has an autoscaler.
    pub nodes: Option<NodeFidelity>,
    /// The acceptance checks of the cluster-mode issue.
    pub checks: Vec<Check>,
    /// All checks passed.
    pub passed: bool,
    pub jobs: Vec<JobFidelity>,
}

/// What the cluster run measured beyond its [`RunResult`].
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Jobs in the order schedlab started them (first start).
    pub start_order: Vec<JobId>,
    /// Ledger nodes of each job's last run.
    pub placements: BTreeMap<JobId, Vec<NodeId>>,
    /// Bind → Running per pod, wall ms.
    pub pod_start_latency_ms: Vec<f64>,
    /// Running → Succeeded minus the pod's run-for, per pod, wall ms.
    pub pod_completion_lag_ms: Vec<f64>,
    /// |API timestamp − watch time| per transition, wall s.
    pub api_skew_s: Vec<f64>,
    pub api: ApiCounts,
    pub wall_s: f64,
    pub complete: bool,
    /// The scenario has an autoscaler (node trajectories are compared).
    pub autoscaled: bool,
    /// Scale-up decisions of the cluster run's autoscaler.
    pub scale_ups: u32,
    /// Nodes those scale-ups added, and nodes scaled down or given up.
    pub nodes_added: u32,
    pub nodes_removed: u32,
    /// Node object created → seen Ready on the watch, per scaled-up node,
    /// wall ms.
    pub node_ready_latency_ms: Vec<f64>,
}

/// Everything the comparison reads.
pub struct Inputs<'a> {
    pub run_id: &'a str,
    pub scenario: &'a str,
    pub server_version: &'a str,
    pub speedup: f64,
    pub workload: &'a Workload,
    pub sim: &'a RunResult,
    /// The simulation's placements, if recorded.
    pub sim_placements: Option<&'a BTreeMap<JobId, Vec<NodeId>>>,
    pub cluster: &'a RunResult,
    pub observed: &'a Observed,
}

/// The start order of a simulated run: jobs by first start, then id (jobs
/// started in one pass share an instant).
pub fn sim_start_order(run: &RunResult) -> Vec<JobId> {
    let mut v: Vec<(u64, JobId)> = run
        .outcomes
        .iter()
        .filter_map(|o| o.start.map(|s| (s.0, o.job)))
        .collect();
    v.sort_unstable();
    v.into_iter().map(|(_, j)| j).collect()
}

/// Kendall's tau-a of two orders over the jobs they share (1 when fewer
/// than two are shared).
pub fn kendall_tau(a: &[JobId], b: &[JobId]) -> f64 {
    let rank_b: BTreeMap<JobId, usize> = b.iter().enumerate().map(|(i, &j)| (j, i)).collect();
    let shared: Vec<usize> = a.iter().filter_map(|j| rank_b.get(j).copied()).collect();
    let n = shared.len();
    if n < 2 {
        return 1.0;
    }
    // `shared` lists b-ranks in a's order: a pair is concordant when they
    // increase.
    let mut concordant: i64 = 0;
    let mut discordant: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            if shared[i] < shared[j] {
                concordant += 1;
            } else {
                discordant += 1;
            }
        }
    }
    let pairs = (n * (n - 1) / 2) as f64;
    (concordant - discordant) as f64 / pairs
}

/// Compares the runs.
pub fn compare(inp: &Inputs<'_>) -> Fidelity {
    let sim_summary = Summary::compute(inp.workload, inp.sim);
    let cl_summary = Summary::compute(inp.workload, inp.cluster);
    let secs = |ms: u64| ms as f64 / 1000.0;
    let mut jobs = Vec::with_capacity(inp.workload.jobs.len());
    let mut start_err = Vec::new();
    let mut jct_err = Vec::new();
    let mut jct_err_abs = Vec::new();
    let mut placed_both = 0usize;
    let mut placed_same = 0usize;
    for (s, c) in inp.sim.outcomes.iter().zip(&inp.cluster.outcomes) {
        let job = inp.workload.job(s.job);
        let submit = job.submit.0;
        let sim_jct = s.end.map(|e| secs(e.0 - submit));
        let cl_jct = c.end.map(|e| secs(e.0.saturating_sub(submit)));
        let start_error = match (s.start, c.start) {
            (Some(a), Some(b)) => Some(round3(secs(b.0) - secs(a.0))),
            _ => None,
        };
        if let Some(e) = start_error {
            start_err.push(e.abs());
        }
        let (jct_error_s, jct_error_pct) = match (sim_jct, cl_jct) {
            (Some(a), Some(b)) => {
                let pct = if a > 0.0 {
                    (b - a).abs() / a * 100.0
                } else {
                    0.0
                };
                jct_err.push(pct);
                jct_err_abs.push((b - a).abs());
                (Some(round3(b - a)), Some(round3(pct)))
            }
            _ => (None, None),
        };
        let sim_nodes = inp
            .sim_placements
            .and_then(|p| p.get(&s.job))
            .map(|v| sorted_ids(v));
        let cluster_nodes = inp.observed.placements.get(&s.job).map(|v| sorted_ids(v));
        if s.status == JobStatus::Finished
            && c.status == JobStatus::Finished
            && let (Some(a), Some(b)) = (&sim_nodes, &cluster_nodes)
        {
            placed_both += 1;
            if a == b {
                placed_same += 1;
            }
        }
        jobs.push(JobFidelity {
            job: s.job.0,
            name: job.name.clone(),
            sim_start_s: s.start.map(|t| secs(t.0)),
            cluster_start_s: c.start.map(|t| secs(t.0)),
            start_error_s: start_error,
            sim_jct_s: sim_jct,
            cluster_jct_s: cl_jct,
            jct_error_s,
            jct_error_pct,
            sim_nodes,
            cluster_nodes,
        });
    }
    let sim_order = sim_start_order(inp.sim);
    let cl_order = &inp.observed.start_order;
    let in_cluster: std::collections::BTreeSet<JobId> = cl_order.iter().copied().collect();
    let started_both = sim_order.iter().filter(|j| in_cluster.contains(j)).count();
    let start_order_identical = sim_order == *cl_order;
    let tau = (kendall_tau(&sim_order, cl_order) * 1e6).round() / 1e6;
    let swaps = swapped_pairs(inp.sim, &sim_order, cl_order, 50);
    let count = |r: &RunResult| {
        r.outcomes
            .iter()
            .filter(|o| o.status == JobStatus::Finished)
            .count()
    };
    let finished_sim = count(inp.sim);
    let finished_cl = count(inp.cluster);
    let mean_jct = Compared::new(sim_summary.jct_s.mean, cl_summary.jct_s.mean);
    let makespan = Compared::new(sim_summary.makespan_s, cl_summary.makespan_s);
    let latency = Dist::of(&inp.observed.pod_start_latency_ms);
    let placement_agreement = inp.sim_placements.map(|_| {
        if placed_both == 0 {
            1.0
        } else {
            round3(placed_same as f64 / placed_both as f64)
        }
    });
    let checks = vec![
        Check {
            name: "every job accounted for".into(),
            passed: inp.observed.complete
                && finished_cl == finished_sim
                && inp.cluster.outcomes.len() == inp.workload.jobs.len(),
            detail: format!(
                "{finished_cl} of {} jobs finished on the cluster, {finished_sim} in the simulation{}",
                inp.workload.jobs.len(),
                if inp.observed.complete {
                    ""
                } else {
                    " (run stopped at its time limit)"
                }
            ),
        },
        Check {
            name: "start order identical to the simulation".into(),
            passed: start_order_identical,
            detail: format!("Kendall tau {tau} over {started_both} jobs started in both"),
        },
        Check {
            name: format!("mean JCT within {TOLERANCE_PCT}% of the simulation"),
            passed: mean_jct.error_pct.abs() <= TOLERANCE_PCT,
            detail: format!(
                "{:.1} s vs {:.1} s simulated ({:+.2}%)",
                mean_jct.cluster, mean_jct.sim, mean_jct.error_pct
            ),
        },
        Check {
            name: format!("makespan within {TOLERANCE_PCT}% of the simulation"),
            passed: makespan.error_pct.abs() <= TOLERANCE_PCT,
            detail: format!(
                "{:.1} s vs {:.1} s simulated ({:+.2}%)",
                makespan.cluster, makespan.sim, makespan.error_pct
            ),
        },
    ];
    let passed = checks.iter().all(|c| c.passed);
    Fidelity {
        schema: 1,
        run_id: inp.run_id.to_string(),
        scenario: inp.scenario.to_string(),
        server_version: inp.server_version.to_string(),
        speedup: inp.speedup,
        wall_s: round3(inp.observed.wall_s),
        complete: inp.observed.complete,
        jobs_total: inp.workload.jobs.len(),
        jobs_finished_sim: finished_sim,
        jobs_finished_cluster: finished_cl,
        jobs_started_both: started_both,
        start_order_identical,
        kendall_tau: tau,
        start_order_swaps: swaps,
        start_error_abs_s: Dist::of(&start_err),
        jct_error_pct: Dist::of(&jct_err),
        jct_error_abs_s: Dist::of(&jct_err_abs),
        mean_jct_s: mean_jct,
        makespan_s: makespan,
        placement_agreement,
        pod_start_latency_scenario_s: round3(latency.mean / 1000.0 * inp.speedup),
        pod_start_latency_ms: latency,
        pod_completion_lag_ms: Dist::of(&inp.observed.pod_completion_lag_ms),
        api_timestamp_skew_s: Dist::of(&inp.observed.api_skew_s),
        api: inp.observed.api,
        nodes: inp
            .observed
            .autoscaled
            .then(|| node_fidelity(inp.sim, inp.cluster, inp.observed)),
        checks,
        passed,
        jobs,
    }
}

/// Pairs in opposite order in `a` (the simulation's) and `b`, first `max`.
fn swapped_pairs(sim: &RunResult, a: &[JobId], b: &[JobId], max: usize) -> Vec<Swap> {
    let rank_b: BTreeMap<JobId, usize> = b.iter().enumerate().map(|(i, &j)| (j, i)).collect();
    let shared: Vec<(JobId, usize)> = a
        .iter()
        .filter_map(|j| rank_b.get(j).map(|&r| (*j, r)))
        .collect();
    let start = |j: JobId| sim.outcomes[j.index()].start.map_or(0, |t| t.0);
    let mut out = Vec::new();
    for i in 0..shared.len() {
        for k in i + 1..shared.len() {
            if shared[i].1 > shared[k].1 {
                out.push(Swap {
                    sim_first: shared[i].0.0,
                    sim_second: shared[k].0.0,
                    sim_gap_s: (start(shared[k].0) - start(shared[i].0)) as f64 / 1000.0,
                });
                if out.len() == max {
                    return out;
                }
            }
        }
    }
    out
}

fn sorted_ids(v: &[NodeId]) -> Vec<u32> {
    let mut ids: Vec<u32> = v.iter().map(|n| n.0).collect();
    ids.sort_unstable();
    ids
}

/// `fidelity.json`.
pub fn to_json(f: &Fidelity) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(f).expect("the report serializes");
    v.push(b'\n');
    v
}

/// `fidelity.md`: the verdict, the headline figures, and the per-job table.
pub fn to_markdown(f: &Fidelity) -> String {
    let mut s = String::new();
    let opt = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.1}"));
    let _ = writeln!(s, "# Fidelity: {} (run {})\n", f.scenario, f.run_id);
    let _ = writeln!(
        s,
        "Cluster run on Kubernetes {} at {}× speedup ({:.1} s wall) compared with the simulation of the same scenario.\n",
        f.server_version, f.speedup, f.wall_s
    );
    let _ = writeln!(
        s,
        "**Verdict: {}**\n",
        if f.passed {
            "the cluster run matches the simulation within the acceptance limits"
        } else {
            "the cluster run does NOT match the simulation within the acceptance limits"
        }
    );
    let _ = writeln!(s, "| check | result | detail |\n|---|---|---|");
    for c in &f.checks {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            c.name,
            if c.passed { "pass" } else { "FAIL" },
            c.detail
        );
    }
    let _ = writeln!(
        s,
        "\n| figure | simulation | cluster | error |\n|---|---|---|---|"
    );
    let _ = writeln!(
        s,
        "| mean JCT (s) | {:.1} | {:.1} | {:+.2}% |",
        f.mean_jct_s.sim, f.mean_jct_s.cluster, f.mean_jct_s.error_pct
    );
    let _ = writeln!(
        s,
        "| makespan (s) | {:.1} | {:.1} | {:+.2}% |",
        f.makespan_s.sim, f.makespan_s.cluster, f.makespan_s.error_pct
    );
    let _ = writeln!(
        s,
        "| jobs finished | {} | {} | |",
        f.jobs_finished_sim, f.jobs_finished_cluster
    );
    let _ = writeln!(s, "\n| measure | value |\n|---|---|");
    let _ = writeln!(
        s,
        "| per-job JCT error (%) | mean {:.2}, p95 {:.2}, max {:.2} |",
        f.jct_error_pct.mean, f.jct_error_pct.p95, f.jct_error_pct.max
    );
    let _ = writeln!(
        s,
        "| per-job JCT error, absolute (scenario s) | mean {:.2}, p95 {:.2}, max {:.2} |",
        f.jct_error_abs_s.mean, f.jct_error_abs_s.p95, f.jct_error_abs_s.max
    );
    let _ = writeln!(
        s,
        "| per-job start error, absolute (scenario s) | mean {:.2}, p95 {:.2}, max {:.2} |",
        f.start_error_abs_s.mean, f.start_error_abs_s.p95, f.start_error_abs_s.max
    );
    let _ = writeln!(
        s,
        "| start order | {} (Kendall tau {}) |",
        if f.start_order_identical {
            "identical"
        } else {
            "different"
        },
        f.kendall_tau
    );
    for w in &f.start_order_swaps {
        let _ = writeln!(
            s,
            "| swapped | job {} (simulated start {:.3} s before job {}) started after it |",
            w.sim_first, w.sim_gap_s, w.sim_second
        );
    }
    let _ = writeln!(
        s,
        "| node placement agreement | {} |",
        f.placement_agreement
            .map_or("not recorded".to_string(), |a| format!("{:.1}%", a * 100.0))
    );
    let _ = writeln!(
        s,
        "| pod start latency, bind → Running (wall ms) | mean {:.1}, p50 {:.1}, p95 {:.1}, max {:.1} over {} pods |",
        f.pod_start_latency_ms.mean,
        f.pod_start_latency_ms.p50,
        f.pod_start_latency_ms.p95,
        f.pod_start_latency_ms.max,
        f.pod_start_latency_ms.count
    );
    let _ = writeln!(
        s,
        "| pod completion lag, Succeeded seen after run-for (wall ms) | mean {:.1}, p50 {:.1}, p95 {:.1}, max {:.1} |",
        f.pod_completion_lag_ms.mean,
        f.pod_completion_lag_ms.p50,
        f.pod_completion_lag_ms.p95,
        f.pod_completion_lag_ms.max
    );
    let _ = writeln!(
        s,
        "| pod start latency in scenario time | {:.2} s per start |",
        f.pod_start_latency_scenario_s
    );
    let _ = writeln!(
        s,
        "| API timestamps vs watch (wall s, 1 s resolution) | mean {:.3}, max {:.3} |",
        f.api_timestamp_skew_s.mean, f.api_timestamp_skew_s.max
    );
    let _ = writeln!(
        s,
        "| API retries / errors / watch errors / failed gang binds | {} / {} / {} / {} |",
        f.api.retries, f.api.errors, f.api.watch_errors, f.api.bind_failures
    );
    if let Some(n) = &f.nodes {
        let _ = writeln!(
            s,
            "\n## Nodes (autoscaler)\n\nReady nodes per pool at the {} timeline samples both runs took.\n\n| pool | max \\|Δ nodes\\| | mean \\|Δ nodes\\| | samples agreeing | max sim / cluster | final sim / cluster |\n|---|---|---|---|---|---|",
            n.samples
        );
        for p in &n.pools {
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} | {:.1}% | {} / {} | {} / {} |",
                p.pool,
                p.max_abs_diff,
                p.mean_abs_diff,
                p.agreement * 100.0,
                p.sim_max,
                p.cluster_max,
                p.sim_final,
                p.cluster_final
            );
        }
        let _ = writeln!(
            s,
            "\n| measure | value |\n|---|---|\n| nodes added (from the timelines) | {} simulated, {} on the cluster |\n| cluster scale-ups / nodes added / removed | {} / {} / {} |\n| node created → Ready (wall ms) | mean {:.1}, max {:.1} over {} nodes |",
            n.nodes_added_from_timeline.sim,
            n.nodes_added_from_timeline.cluster,
            n.cluster_scale_ups,
            n.cluster_nodes_added,
            n.cluster_nodes_removed,
            n.node_ready_latency_ms.mean,
            n.node_ready_latency_ms.max,
            n.node_ready_latency_ms.count
        );
    }
    let _ = writeln!(
        s,
        "\n## Jobs (scenario seconds)\n\n| job | name | sim start | cluster start | start error | sim JCT | cluster JCT | JCT error | nodes sim / cluster |\n|---|---|---|---|---|---|---|---|---|"
    );
    for j in &f.jobs {
        let nodes = |n: &Option<Vec<u32>>| {
            n.as_ref().map_or("–".to_string(), |v| {
                v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
            })
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            j.job,
            j.name.replace('|', "\\|"),
            opt(j.sim_start_s),
            opt(j.cluster_start_s),
            j.start_error_s.map_or("–".into(), |v| format!("{v:+.1}")),
            opt(j.sim_jct_s),
            opt(j.cluster_jct_s),
            j.jct_error_pct.map_or("–".into(), |v| format!("{v:.2}%")),
            nodes(&j.sim_nodes),
            nodes(&j.cluster_nodes)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kendall_tau_counts_swapped_pairs() {
        let a: Vec<JobId> = (0..4).map(JobId).collect();
        assert_eq!(kendall_tau(&a, &a), 1.0);
        let rev: Vec<JobId> = a.iter().rev().copied().collect();
        assert_eq!(kendall_tau(&a, &rev), -1.0);
        // One adjacent swap among 4: 5 concordant, 1 discordant of 6 pairs.
        let one = vec![JobId(1), JobId(0), JobId(2), JobId(3)];
        assert!((kendall_tau(&a, &one) - 4.0 / 6.0).abs() < 1e-12);
        // Only shared jobs count.
        assert_eq!(kendall_tau(&a, &[JobId(3), JobId(9)]), 1.0);
    }

    #[test]
    fn dist_uses_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        let d = Dist::of(&v);
        assert_eq!(
            (d.count, d.mean, d.p50, d.p95, d.max),
            (20, 10.5, 10.0, 19.0, 20.0)
        );
        assert_eq!(Dist::of(&[]), Dist::default());
    }

    #[test]
    fn compared_is_signed_relative_error() {
        let c = Compared::new(200.0, 210.0);
        assert_eq!(c.error_pct, 5.0);
        assert_eq!(Compared::new(200.0, 190.0).error_pct, -5.0);
        assert_eq!(Compared::new(0.0, 0.0).error_pct, 0.0);
    }
}
