//! The GPU-allocation experiment of the FGD paper: Weng et al., "Beware of
//! Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient
//! Descent", USENIX ATC 2023 (Figures 9–14), following the authors' artifact
//! (`hkust-adsl/kubernetes-scheduler-simulator`: `experiments/`, with
//! `--shuffle-pod=true -tune 1.3 -tuneseed 42..51`).
//!
//! # Protocol, for one policy and one seed
//!
//! 1. **Cluster**: the node list's pools ([`crate::trace::openb::read_nodes`]),
//!    every node numbered in a per-seed random order. Each node becomes its
//!    own one-node pool, so the permutation is free; every policy breaks ties
//!    between equal scores on the lower node id, so ties go to a per-seed
//!    random node order, as the artifact does by renaming nodes with a random
//!    prefix (its scheduler then breaks ties at random among equal scores).
//! 2. **Pods**: every pod of the pod list ([`crate::trace::openb::import`]),
//!    CPU-only pods included (they take CPU and memory and count as arrived
//!    demand of 0 GPUs, as in the artifact), in a seeded random order.
//! 3. **Inflation**: pods drawn uniformly with replacement from the list
//!    (seeded) are appended until the total GPU request (fractional shares
//!    counted, `workers × milli-GPUs` per job) reaches `max_arrived_pct`
//!    (130 %) of the cluster's GPU capacity. A list that already asks for more
//!    (e.g. `multigpu50`, 183 %) is not trimmed: the run stops once the
//!    arrived demand passes 130 %, and since the order is random that is a
//!    random subset, as the artifact's random removal gives.
//! 4. **Arrivals only**: each pod, in turn, is tried once: the placement
//!    policy picks a node (and GPUs) for each of its workers directly on a
//!    [`Cluster`] ledger, with the whole pod list as its workload context (FGD
//!    builds its target workload from it); a pod that does not fit is dropped
//!    (its demand still counts as arrived). Nothing ever leaves.
//! 5. **Measures**, after every attempt: arrived GPU demand and allocated GPU
//!    (milli-GPUs, fractional shares counted) as % of capacity, and the
//!    cluster's fragmentation: the sum over nodes of FGD's fragmentation
//!    measure ([`crate::policy::placement::Fgd::fragmentation`], with the
//!    target workload of the pod list and default parameters) as % of
//!    capacity.
//! 6. **Sampling**: at every whole percent `x` of arrived demand, 0 ..=
//!    `max_arrived_pct`, the state after the last attempt with arrived demand
//!    ≤ `x` % (so allocated ≤ arrived ≤ x).
//!
//! Random streams: node order, pod order and resampling each draw from their
//! own `ChaCha8` stream of the seed; the policy gets the seed as its
//! [`PlacementContext::seed`]. Runs are independent and may go in parallel;
//! outputs do not depend on the number of threads.
//!
//! # Outputs
//!
//! - `allocation.csv`: `policy,seed,arrived_pct,allocated_pct,fragmentation_pct`,
//!   one row per policy, seed and arrived percent;
//! - `summary.csv`: per policy and arrived percent, the mean over seeds of the
//!   allocated % (and its minimum and maximum) and of the fragmentation %;
//! - `allocation.png` (mean allocated % against arrived %, one line per policy,
//!   as the paper's Figure 9a), `unallocated.png` (100 − allocated from 80 %
//!   arrived on, to tell the policies apart at high load) and
//!   `fragmentation.png`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cluster::{Cluster, PoolSpec, WorkerAlloc, WorkerRequest};
use crate::policy::placement::{Fgd, PlacementContext, PlacementKind};
use crate::report::plot::{LineChart, PlotError, Series};
use crate::report::write_atomic;
use crate::workload::Workload;

const NODE_STREAM: u64 = 0x6667_645f_6e6f_6465; // "fgd_node"
const POD_STREAM: u64 = 0x6667_645f_706f_6473; // "fgd_pods"
const RESAMPLE_STREAM: u64 = 0x6667_645f_7475_6e65; // "fgd_tune"

/// The arrived demand the paper inflates workloads to, % of GPU capacity.
pub const DEFAULT_MAX_ARRIVED_PCT: u32 = 130;

/// The policies of the paper's comparison (and schedlab's three classics).
pub const DEFAULT_POLICIES: [PlacementKind; 8] = [
    PlacementKind::Fgd,
    PlacementKind::BestFit,
    PlacementKind::WorstFit,
    PlacementKind::FirstFit,
    PlacementKind::Random,
    PlacementKind::DotProduct,
    PlacementKind::GpuClustering,
    PlacementKind::GpuPacking,
];

/// One policy of the experiment: a placement and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    pub kind: PlacementKind,
    /// Its `placement_params`.
    pub params: toml::Table,
}

impl PolicySpec {
    /// A policy with default parameters.
    pub fn new(kind: PlacementKind) -> PolicySpec {
        PolicySpec {
            kind,
            params: toml::Table::new(),
        }
    }

    /// The name in outputs: the policy name, followed by its parameters in
    /// brackets when it has any (`dot-product[minimize=true]`).
    pub fn label(&self) -> String {
        if self.params.is_empty() {
            return self.kind.name().to_string();
        }
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{}[{}]", self.kind.name(), params.join(";"))
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub policies: Vec<PolicySpec>,
    pub seeds: Vec<u64>,
    /// Inflate the workload to this arrived demand, % of GPU capacity.
    pub max_arrived_pct: u32,
    /// Runs in parallel (at least 1).
    pub threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            policies: DEFAULT_POLICIES
                .iter()
                .map(|&k| PolicySpec::new(k))
                .collect(),
            seeds: (42..=51).collect(),
            max_arrived_pct: DEFAULT_MAX_ARRIVED_PCT,
            threads: 1,
        }
    }
}

/// The state at one arrived percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The grid point: whole percent of GPU capacity.
    pub arrived_pct: u32,
    /// Allocated milli-GPUs, % of capacity.
    pub allocated_pct: f64,
    /// Sum of the nodes' fragmentation, % of capacity.
    pub fragmentation_pct: f64,
}

/// One run: a policy and a seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub policy: String,
    pub seed: u64,
    /// One point per whole percent, 0 ..= `max_arrived_pct`.
    pub points: Vec<Point>,
    /// Pods tried (until the arrived demand passed the maximum).
    pub pods_tried: u64,
    /// Pods placed.
    pub pods_placed: u64,
}

impl Curve {
    /// The point at `pct` % arrived demand.
    pub fn at(&self, pct: u32) -> Option<&Point> {
        self.points.iter().find(|p| p.arrived_pct == pct)
    }
}

/// Mean over seeds at one arrived percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummaryPoint {
    pub arrived_pct: u32,
    pub allocated_pct: f64,
    pub allocated_pct_min: f64,
    pub allocated_pct_max: f64,
    pub fragmentation_pct: f64,
}

/// Every run of an experiment, in (policy, seed) order of the [`Config`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub curves: Vec<Curve>,
    /// Policy labels, in configuration order.
    pub policies: Vec<String>,
    pub seeds: Vec<u64>,
    pub max_arrived_pct: u32,
}

/// A random permutation (Fisher–Yates from the back).
fn shuffle<T>(v: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// The pools of the per-seed cluster: every node its own pool, in a random
/// order.
pub fn shuffled_nodes(pools: &[PoolSpec], seed: u64) -> Vec<PoolSpec> {
    let mut nodes: Vec<(usize, u32)> = pools
        .iter()
        .enumerate()
        .flat_map(|(p, spec)| (0..spec.nodes).map(move |i| (p, i)))
        .collect();
    shuffle(
        &mut nodes,
        &mut ChaCha8Rng::seed_from_u64(seed ^ NODE_STREAM),
    );
    nodes
        .into_iter()
        .map(|(p, i)| PoolSpec {
            name: format!("{}#{i}", pools[p].name),
            nodes: 1,
            ..pools[p].clone()
        })
        .collect()
}

/// The order in which pods arrive: job indices of `workload`, shuffled, then
/// resampled ones appended until their GPU demand reaches `target_milli`.
pub fn arrival_order(workload: &Workload, seed: u64, target_milli: u64) -> Vec<usize> {
    let n = workload.jobs.len();
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(
        &mut order,
        &mut ChaCha8Rng::seed_from_u64(seed ^ POD_STREAM),
    );
    let mut total: u64 = workload.jobs.iter().map(|j| j.total_gpu_milli()).sum();
    if total == 0 {
        return order;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ RESAMPLE_STREAM);
    while total < target_milli {
        let j = rng.random_range(0..n);
        order.push(j);
        total += workload.jobs[j].total_gpu_milli();
    }
    order
}

/// Runs one policy with one seed; see the module docs. Errors name the
/// policy's bad parameter, or a policy decision the ledger refused (a bug).
pub fn run_one(
    workload: &Workload,
    pools: &[PoolSpec],
    policy: &PolicySpec,
    seed: u64,
    max_arrived_pct: u32,
) -> Result<Curve, String> {
    let label = policy.label();
    let node_pools = shuffled_nodes(pools, seed);
    let mut cluster = Cluster::new(&node_pools);
    let cap = cluster.gpu_milli_capacity();
    if cap == 0 {
        return Err("the cluster has no GPUs".into());
    }
    if workload.jobs.iter().all(|j| j.total_gpu_milli() == 0) {
        return Err("the workload asks for no GPUs".into());
    }
    let target = (u128::from(cap) * u128::from(max_arrived_pct)).div_ceil(100) as u64;
    let order = arrival_order(workload, seed, target);

    let ctx = PlacementContext {
        params: &policy.params,
        seed,
        workload,
        pools: &node_pools,
    };
    let mut placement = policy
        .kind
        .build_with(&ctx)
        .map_err(|e| format!("{label}: {e}"))?;
    let no_params = toml::Table::new();
    let measure = Fgd::from_context(&PlacementContext {
        params: &no_params,
        ..ctx
    })?;
    let mut node_frag: Vec<f64> = cluster
        .nodes()
        .iter()
        .map(|n| measure.fragmentation(cluster.view(), n))
        .collect();
    let mut frag_total: f64 = node_frag.iter().sum();

    // Allowed pools per distinct model list.
    let mut masks: BTreeMap<&[String], Vec<bool>> = BTreeMap::new();
    let mut points = Vec::with_capacity(max_arrived_pct as usize + 1);
    let mut next_x: u32 = 0;
    let mut arrived: u64 = 0;
    let (mut tried, mut placed) = (0u64, 0u64);
    let pct = |milli: f64| milli * 100.0 / cap as f64;
    for &j in &order {
        let job = &workload.jobs[j];
        let after = arrived + job.total_gpu_milli();
        // Grid points this arrival passes keep the state before it.
        while next_x <= max_arrived_pct
            && u128::from(after) * 100 > u128::from(next_x) * u128::from(cap)
        {
            points.push(Point {
                arrived_pct: next_x,
                allocated_pct: pct(cluster.gpu_milli_used() as f64),
                fragmentation_pct: pct(frag_total),
            });
            next_x += 1;
        }
        if next_x > max_arrived_pct {
            break;
        }
        arrived = after;
        tried += 1;
        let mask = masks.entry(job.gpu_models.as_slice()).or_insert_with(|| {
            node_pools
                .iter()
                .map(|p| job.gpu_models.is_empty() || job.gpu_models.contains(&p.gpu_model))
                .collect()
        });
        let req = WorkerRequest {
            gpu: job.gpu,
            cpu_milli: job.cpu_milli,
            memory_mib: job.memory_mib,
            allowed_pools: mask,
        };
        let mut allocs: Vec<WorkerAlloc> = Vec::with_capacity(job.workers as usize);
        for _ in 0..job.workers {
            let view = cluster.view();
            let Some(id) = placement.place(view, job, &req) else {
                break;
            };
            let node = view
                .nodes()
                .get(id.index())
                .filter(|n| view.fits(n, &req))
                .ok_or_else(|| {
                    format!(
                        "{label} chose node {id} for {}, where it does not fit",
                        job.name
                    )
                })?;
            let gpus = placement.gpus(view, node, &req).ok_or_else(|| {
                format!("{label} gave no GPU choice for {} on node {id}", job.name)
            })?;
            let alloc = WorkerAlloc {
                node: id,
                gpus,
                cpu_milli: job.cpu_milli,
                memory_mib: job.memory_mib,
            };
            cluster
                .allocate(&alloc, &req)
                .map_err(|e| format!("{label}: {}: {e}", job.name))?;
            allocs.push(alloc);
        }
        if allocs.len() < job.workers as usize {
            for a in &allocs {
                cluster.release(a);
            }
            continue;
        }
        placed += 1;
        let mut touched: Vec<usize> = allocs.iter().map(|a| a.node.index()).collect();
        touched.sort_unstable();
        touched.dedup();
        for i in touched {
            let f = measure.fragmentation(cluster.view(), &cluster.nodes()[i]);
            frag_total += f - node_frag[i];
            node_frag[i] = f;
        }
    }
    while next_x <= max_arrived_pct {
        points.push(Point {
            arrived_pct: next_x,
            allocated_pct: pct(cluster.gpu_milli_used() as f64),
            fragmentation_pct: pct(frag_total),
        });
        next_x += 1;
    }
    Ok(Curve {
        policy: label,
        seed,
        points,
        pods_tried: tried,
        pods_placed: placed,
    })
}

/// Runs every (policy, seed) pair, `config.threads` at a time, calling
/// `done` after each run (from the worker threads). The outcome does not
/// depend on the number of threads.
pub fn run(
    workload: &Workload,
    pools: &[PoolSpec],
    config: &Config,
    done: impl Fn(&Curve, std::time::Duration) + Sync,
) -> Result<Outcome, String> {
    if config.policies.is_empty() {
        return Err("no policies to run".into());
    }
    if config.seeds.is_empty() {
        return Err("no seeds to run".into());
    }
    // Check every policy's parameters once, before any run.
    let empty = Workload::default();
    for p in &config.policies {
        p.kind
            .build_with(&PlacementContext {
                params: &p.params,
                seed: 0,
                workload: &empty,
                pools,
            })
            .map_err(|e| format!("{}: {e}", p.kind.name()))?;
    }
    let items: Vec<(&PolicySpec, u64)> = config
        .policies
        .iter()
        .flat_map(|p| config.seeds.iter().map(move |&s| (p, s)))
        .collect();
    let next = AtomicUsize::new(0);
    let threads = config.threads.clamp(1, items.len());
    let mut results: Vec<(usize, Result<Curve, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(policy, seed)) = items.get(i) else {
                            break;
                        };
                        let started = std::time::Instant::now();
                        let r = run_one(workload, pools, policy, seed, config.max_arrived_pct);
                        if let Ok(c) = &r {
                            done(c, started.elapsed());
                        }
                        out.push((i, r));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("an experiment thread panicked"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    let curves = results
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Outcome {
        curves,
        policies: config.policies.iter().map(PolicySpec::label).collect(),
        seeds: config.seeds.clone(),
        max_arrived_pct: config.max_arrived_pct,
    })
}

impl Outcome {
    /// The runs of one policy.
    pub fn curves_of<'a>(&'a self, policy: &'a str) -> impl Iterator<Item = &'a Curve> + 'a {
        self.curves.iter().filter(move |c| c.policy == policy)
    }

    /// Means over seeds of one policy, at every arrived percent.
    pub fn summary(&self, policy: &str) -> Vec<SummaryPoint> {
        let curves: Vec<&Curve> = self.curves_of(policy).collect();
        (0..=self.max_arrived_pct)
            .map(|x| {
                let pts: Vec<&Point> = curves.iter().filter_map(|c| c.at(x)).collect();
                let n = pts.len().max(1) as f64;
                let alloc = pts.iter().map(|p| p.allocated_pct);
                SummaryPoint {
                    arrived_pct: x,
                    allocated_pct: pts.iter().map(|p| p.allocated_pct).sum::<f64>() / n,
                    allocated_pct_min: alloc.clone().fold(f64::INFINITY, f64::min),
                    allocated_pct_max: alloc.fold(f64::NEG_INFINITY, f64::max),
                    fragmentation_pct: pts.iter().map(|p| p.fragmentation_pct).sum::<f64>() / n,
                }
            })
            .collect()
    }

    /// `allocation.csv`: every point of every run.
    pub fn allocation_csv(&self) -> String {
        let mut s = String::from("policy,seed,arrived_pct,allocated_pct,fragmentation_pct\n");
        for c in &self.curves {
            for p in &c.points {
                s.push_str(&format!(
                    "{},{},{},{:.4},{:.4}\n",
                    c.policy, c.seed, p.arrived_pct, p.allocated_pct, p.fragmentation_pct
                ));
            }
        }
        s
    }

    /// `summary.csv`: means over seeds per policy and arrived percent.
    pub fn summary_csv(&self) -> String {
        let mut s = String::from(
            "policy,arrived_pct,allocated_pct,allocated_pct_min,allocated_pct_max,fragmentation_pct,seeds\n",
        );
        for policy in &self.policies {
            let seeds = self.curves_of(policy).count();
            for p in self.summary(policy) {
                s.push_str(&format!(
                    "{policy},{},{:.4},{:.4},{:.4},{:.4},{seeds}\n",
                    p.arrived_pct,
                    p.allocated_pct,
                    p.allocated_pct_min,
                    p.allocated_pct_max,
                    p.fragmentation_pct
                ));
            }
        }
        s
    }

    /// A table of the mean allocated and fragmentation % at some arrived
    /// percents, one row per policy.
    pub fn table(&self, at: &[u32]) -> String {
        let width = self
            .policies
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(6)
            .max(6);
        let mut s = format!("{:<width$}", "policy");
        for x in at {
            s.push_str(&format!("  alloc@{x:<3}  frag@{x:<3}"));
        }
        s.push('\n');
        for policy in &self.policies {
            let sum = self.summary(policy);
            s.push_str(&format!("{policy:<width$}"));
            for &x in at {
                match sum.iter().find(|p| p.arrived_pct == x) {
                    Some(p) => s.push_str(&format!(
                        "  {:>8.2}%  {:>7.2}%",
                        p.allocated_pct, p.fragmentation_pct
                    )),
                    None => s.push_str(&format!("  {:>9}  {:>8}", "-", "-")),
                }
            }
            s.push('\n');
        }
        s
    }

    fn chart(&self, title: &str, y_label: &str, value: fn(&SummaryPoint) -> f64) -> LineChart {
        LineChart {
            title: title.to_string(),
            x_label: "arrived GPU demand (% of GPU capacity)".into(),
            y_label: y_label.to_string(),
            series: self
                .policies
                .iter()
                .map(|p| Series {
                    name: p.clone(),
                    points: self
                        .summary(p)
                        .iter()
                        .map(|s| (f64::from(s.arrived_pct), value(s)))
                        .collect(),
                })
                .collect(),
        }
    }

    /// Mean allocated GPU % against arrived %, one line per policy.
    pub fn allocation_chart(&self, title: &str) -> LineChart {
        self.chart(title, "allocated GPUs (% of capacity)", |s| s.allocated_pct)
    }

    /// Mean fragmentation % against arrived %, one line per policy.
    pub fn fragmentation_chart(&self, title: &str) -> LineChart {
        self.chart(title, "fragmented GPUs (% of capacity)", |s| {
            s.fragmentation_pct
        })
    }

    /// Mean unallocated GPU % (100 − allocated) against arrived % from
    /// `from_pct` on: the high-load end of the allocation chart, magnified.
    pub fn unallocated_chart(&self, title: &str, from_pct: u32) -> LineChart {
        let mut c = self.chart(title, "unallocated GPUs (% of capacity)", |s| {
            100.0 - s.allocated_pct
        });
        for s in &mut c.series {
            s.points.retain(|&(x, _)| x >= f64::from(from_pct));
        }
        c
    }

    /// Writes `allocation.csv`, `summary.csv`, `allocation.png`,
    /// `unallocated.png` (from 80 % arrived on) and `fragmentation.png` into
    /// `dir`; returns the paths written.
    pub fn write(&self, dir: &Path, title: &str) -> Result<Vec<PathBuf>, WriteError> {
        let mut written = Vec::new();
        for (name, text) in [
            ("allocation.csv", self.allocation_csv()),
            ("summary.csv", self.summary_csv()),
        ] {
            write_atomic(dir, name, text.as_bytes()).map_err(|e| WriteError::Io {
                path: dir.join(name),
                source: e,
            })?;
            written.push(dir.join(name));
        }
        let alloc = dir.join("allocation.png");
        self.allocation_chart(&format!("GPU allocation · {title}"))
            .write(&alloc)?;
        written.push(alloc);
        let idle = dir.join("unallocated.png");
        self.unallocated_chart(&format!("Unallocated GPU at high load · {title}"), 80)
            .write(&idle)?;
        written.push(idle);
        let frag = dir.join("fragmentation.png");
        self.fragmentation_chart(&format!("GPU fragmentation · {title}"))
            .write(&frag)?;
        written.push(frag);
        Ok(written)
    }
}

/// An output that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Plot(#[from] PlotError),
}
