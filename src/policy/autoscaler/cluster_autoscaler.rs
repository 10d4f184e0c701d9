//! The cluster-autoscaler scan: provisioning timeouts, scale-up, scale-down.
//! See [`ClusterAutoscaler`] for the semantics and how they differ from
//! upstream.

use std::collections::{BTreeMap, BTreeSet};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::expander::ScaleUpOption;
use super::{AutoscalerSpec, NodeGroupSpec, Timing};
use crate::cluster::{Cluster, Node, NodeState, PoolSpec, WorkerAlloc, WorkerRequest};
use crate::ids::{NodeId, PoolId};
use crate::time::{Millis, SimTime};
use crate::workload::GpuDemand;

/// Separates the expander's random stream from other seeded streams of a run.
const EXPANDER_STREAM: u64 = 0x6361_2d65_7870_616e; // "ca-expan"
/// Separates the provisioning-delay stream.
const DELAY_STREAM: u64 = 0x6361_2d64_656c_6179; // "ca-delay"

/// A gang the scheduler could not place (upstream: pods with
/// `PodScheduled=False, reason=Unschedulable`): `workers` identical pods that
/// must all be placed together.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingGang {
    /// Pods in the gang. A gang of 0 workers is ignored.
    pub workers: u32,
    /// GPUs per worker. A gang asking for a zero GPU share is ignored.
    pub gpu: GpuDemand,
    /// CPU per worker, in millicores.
    pub cpu_milli: u32,
    /// Memory per worker, in MiB.
    pub memory_mib: u64,
    /// `allowed_pools[p]` is true when pool `p` may run the gang; pools past the
    /// end of the list are not allowed.
    pub allowed_pools: Vec<bool>,
    /// The gang's priority; below `expendable_pods_priority_cutoff` it never
    /// triggers a scale-up (nor holds capacity in the simulation).
    pub priority: i32,
}

/// What one scan reads. The engine builds it; the autoscaler only reads it.
#[derive(Debug, Clone, Copy)]
pub struct ScanInput<'a> {
    /// The scan's time.
    pub now: SimTime,
    /// The cluster ledger: `Ready` nodes with their usage, `Provisioning` nodes
    /// (the upcoming ones), `Down` and `Removed` nodes. Its pools must be those
    /// the autoscaler was built with.
    pub cluster: &'a Cluster,
    /// When each `Provisioning` node was asked for (the time of the scale-up
    /// that created it). A provisioning node missing here counts from the first
    /// scan that saw it.
    pub requested_at: &'a BTreeMap<NodeId, SimTime>,
    /// The gangs the scheduler could not place, in queue order.
    pub pending: &'a [PendingGang],
}

/// What the engine should do after a scan, in this order: every `GiveUp`
/// (ascending node id), at most one `ScaleUp`, then the `ScaleDown`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Add `nodes` nodes to `pool`, in state `Provisioning`; node `i` becomes
    /// `Ready` after `provisioning_ms[i]` ms (one per node, drawn from the
    /// group's [`DelaySpec`](super::DelaySpec)). The engine records the scan
    /// time as their `requested_at`. A delay above `max_node_provision_time_s`
    /// means the node will be given up before it is ready.
    ScaleUp {
        /// The node group grown.
        pool: PoolId,
        /// Nodes to add (≥ 1).
        nodes: u32,
        /// Each new node's provisioning delay, in ms (`nodes` entries).
        provisioning_ms: Vec<Millis>,
        /// The pending gangs this scale-up is for (indices into
        /// `ScanInput::pending`, ascending), for reports.
        gangs: Vec<usize>,
    },
    /// Remove this node (it is empty, or `Down`): the engine marks it `Removed`.
    ScaleDown {
        /// The node removed.
        node: NodeId,
    },
    /// This `Provisioning` node exceeded `max_node_provision_time_s`: the engine
    /// removes it (and drops its pending ready event). Its group is backed off.
    GiveUp {
        /// The node given up on.
        node: NodeId,
    },
}

/// A node group's back-off after a provisioning failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    /// No scale-up of the group before this time.
    until: SimTime,
    /// The current back-off, in ms (doubles on each failure).
    duration: Millis,
    /// The last failure.
    last_failure: SimTime,
}

/// The Kubernetes cluster-autoscaler's decision loop over the simulated
/// cluster. Stateful (unneeded timers, last scale-up and removal times,
/// node-group back-off), deterministic (ordered maps, node-id order, two seeded
/// `ChaCha8Rng` streams: one for expander ties, one for provisioning delays).
///
/// Each [`scan`](ClusterAutoscaler::scan):
///
/// 1. **Provisioning timeouts.** A `Provisioning` node asked for more than
///    `max_node_provision_time_s` ago (strictly, as upstream) is given up
///    ([`Decision::GiveUp`]), no longer counts as upcoming nor towards its
///    group's size, and its group backs off: no scale-up for
///    `initial_node_group_backoff_s` (300 s), doubling on each further failure
///    up to `max_node_group_backoff_s` (1800 s), back to the initial value when
///    the previous failure is more than `node_group_backoff_reset_timeout_s`
///    (3 h) old, as upstream's exponential back-off.
/// 2. **Filter out schedulable gangs** (upstream `FilterOutSchedulable`). In a
///    copy of the cluster where every upcoming node is `Ready` and empty,
///    pending gangs (priority ≥ `expendable_pods_priority_cutoff`; by priority,
///    highest first, then queue order) that fit are placed, first fit by node
///    id, and need no scale-up; they hold that capacity for the rest of the
///    scan (so neither later gangs nor scale-down can count on it). Gang-aware:
///    a gang fits only when all its workers do ([`crate::cluster::ClusterView::gang_fits`]).
/// 3. **Scale-up** of at most one node group per scan. For each group that is
///    not backed off and below `max_size` (and the cluster below
///    `max_nodes_total`), the remaining gangs the group's pool may run are
///    packed first-fit-decreasing (size: the gang's GPU + CPU + memory request
///    as fractions of the template node, upstream's estimator uses CPU +
///    memory) onto the free capacity left in the copy plus new template nodes:
///    a gang takes exactly the new nodes it still needs after the free
///    capacity, and only when *all* its workers can then be placed within the
///    room left; otherwise it is skipped and takes nothing. The groups that
///    help at least one gang are the options; the expander chain picks one.
///    Unlike upstream, whose estimator places pods on new nodes only (a pod
///    that fits an existing node was filtered out in step 2), a gang here may
///    straddle existing free capacity and new nodes, which a gang needs.
/// 4. **Scale-down.** A `Ready` node of a node group is *unneeded* when, in the
///    copy of step 2, it holds no workers and its utilisation (GPU node:
///    requested/allocatable milli-GPUs against
///    `scale_down_gpu_utilization_threshold`; other nodes: max(CPU, memory)
///    against `scale_down_utilization_threshold`) is below the threshold. Only
///    *empty* nodes are removed: the workers of a training gang are not
///    movable (evicting one restarts the whole gang), the analogue of
///    upstream's blocking pods, so a busy node is never unneeded and the
///    thresholds matter only in that a threshold of 0 disables scale-down of
///    Ready nodes. A `Down` node is unneeded (unready) when
///    `scale_down_unready_enabled`. A node is removed once it has been unneeded,
///    in the same state, since a scan at least `scale_down_unneeded_time_s`
///    (600 s; `Down`: `scale_down_unready_time_s`, 1200 s) earlier (the timer
///    starts at the first scan that sees it unneeded, as upstream, and resets
///    when it is needed again), never in a scan that scaled up, never within
///    `scale_down_delay_after_add_s` of the last scale-up or
///    `scale_down_delay_after_delete_s` of the last removal (both counted from
///    the first scan when there was none: upstream starts its cooldowns at
///    start-up), never taking a group below `min_size`, and at most
///    `max_scale_down_parallelism` per scan, oldest unneeded first (then node
///    id). All go in one scan (upstream deletes empty nodes in bulk).
///
/// Not modelled: DaemonSet overhead, PodDisruptionBudgets and the other pod
/// blockers, balancing similar node groups, per-group scale-down options,
/// `cores-total`/`memory-total`/`gpu-total` limits, scale-down failures and
/// `scale-down-delay-after-failure`, and `enforce-node-group-min-size`.
#[derive(Debug, Clone)]
pub struct ClusterAutoscaler {
    spec: AutoscalerSpec,
    timing: Timing,
    /// Node group of each pool, by pool index.
    groups: Vec<Option<NodeGroupSpec>>,
    expander_rng: ChaCha8Rng,
    delay_rng: ChaCha8Rng,
    /// Unneeded nodes: the state they were unneeded in, and since when.
    unneeded: BTreeMap<NodeId, (NodeState, SimTime)>,
    /// Provisioning nodes without a `requested_at`: first scan that saw them.
    first_seen: BTreeMap<NodeId, SimTime>,
    /// Provisioning nodes already given up (reported once).
    given_up: BTreeSet<NodeId>,
    backoff: BTreeMap<PoolId, Backoff>,
    started: Option<SimTime>,
    last_scale_up: Option<SimTime>,
    last_scale_down: Option<SimTime>,
}

impl ClusterAutoscaler {
    /// Validates `spec` against the pools and builds the autoscaler; `seed`
    /// seeds the expander's tie-breaks and the provisioning delays (two
    /// independent streams). The error names the bad field.
    pub fn new(
        spec: AutoscalerSpec,
        pools: &[PoolSpec],
        seed: u64,
    ) -> Result<ClusterAutoscaler, String> {
        spec.validate(pools)?;
        let timing = spec.timing()?;
        let groups = pools
            .iter()
            .map(|p| spec.node_groups.get(&p.name).cloned())
            .collect();
        Ok(ClusterAutoscaler {
            spec,
            timing,
            groups,
            expander_rng: ChaCha8Rng::seed_from_u64(seed ^ EXPANDER_STREAM),
            delay_rng: ChaCha8Rng::seed_from_u64(seed ^ DELAY_STREAM),
            unneeded: BTreeMap::new(),
            first_seen: BTreeMap::new(),
            given_up: BTreeSet::new(),
            backoff: BTreeMap::new(),
            started: None,
            last_scale_up: None,
            last_scale_down: None,
        })
    }

    /// The settings.
    pub fn spec(&self) -> &AutoscalerSpec {
        &self.spec
    }

    /// Time between scans, in ms.
    pub fn scan_interval(&self) -> Millis {
        self.timing.scan_interval
    }

    /// The node group of `pool`, if it is autoscaled.
    pub fn group(&self, pool: PoolId) -> Option<&NodeGroupSpec> {
        self.groups.get(pool.index()).and_then(Option::as_ref)
    }

    /// Until when `pool`'s group is backed off (no scale-up before), if it
    /// ever was.
    pub fn backoff_until(&self, pool: PoolId) -> Option<SimTime> {
        self.backoff.get(&pool).map(|b| b.until)
    }

    /// Since which scan `node` has been unneeded, if it is.
    pub fn unneeded_since(&self, node: NodeId) -> Option<SimTime> {
        self.unneeded.get(&node).map(|&(_, t)| t)
    }

    /// The time of the last scale-up decision, if any.
    pub fn last_scale_up(&self) -> Option<SimTime> {
        self.last_scale_up
    }

    /// One scan; see the type's docs. Never panics on its input.
    pub fn scan(&mut self, input: &ScanInput<'_>) -> Vec<Decision> {
        let now = input.now;
        let start = *self.started.get_or_insert(now);
        let cluster = input.cluster;
        let pools = cluster.pools();
        let mut out = Vec::new();

        // 1. Provisioning timeouts.
        let provisioning =
            |n: &&Node| n.state() == NodeState::Provisioning && n.pool.index() < pools.len();
        let live: BTreeSet<NodeId> = cluster
            .nodes()
            .iter()
            .filter(provisioning)
            .map(|n| n.id)
            .collect();
        self.given_up.retain(|id| live.contains(id));
        self.first_seen.retain(|id, _| live.contains(id));
        let mut failed = BTreeSet::new();
        for n in cluster.nodes().iter().filter(provisioning) {
            if self.given_up.contains(&n.id) {
                continue;
            }
            let asked = match input.requested_at.get(&n.id) {
                Some(&t) => t,
                None => *self.first_seen.entry(n.id).or_insert(now),
            };
            if now.since(asked) > self.timing.max_node_provision_time {
                self.given_up.insert(n.id);
                failed.insert(n.pool);
                out.push(Decision::GiveUp { node: n.id });
            }
        }
        for pool in failed {
            self.back_off(pool, now);
        }

        // Group sizes: every node but removed and given-up ones.
        let mut size = vec![0u64; pools.len()];
        for n in cluster.nodes() {
            if n.state() != NodeState::Removed
                && !self.given_up.contains(&n.id)
                && let Some(s) = size.get_mut(n.pool.index())
            {
                *s += 1;
            }
        }

        // 2. The simulation copy: upcoming nodes ready; schedulable gangs placed.
        let mut sim = cluster.clone();
        for &id in &live {
            if !self.given_up.contains(&id) {
                sim.set_state(id, NodeState::Ready);
            }
        }
        let allowed: Vec<Vec<bool>> = input
            .pending
            .iter()
            .map(|g| {
                (0..pools.len())
                    .map(|p| g.allowed_pools.get(p).copied().unwrap_or(false))
                    .collect()
            })
            .collect();
        let mut order: Vec<usize> = (0..input.pending.len())
            .filter(|&i| {
                let g = &input.pending[i];
                g.workers > 0
                    && g.gpu != GpuDemand::Fraction(0)
                    && g.priority >= self.spec.expendable_pods_priority_cutoff
            })
            .collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(input.pending[i].priority), i));
        let mut unschedulable: Vec<usize> = order
            .into_iter()
            .filter(|&i| !place_gang(&mut sim, &input.pending[i], &allowed[i]))
            .collect();
        unschedulable.sort_unstable();

        // 3. Scale-up.
        let mut scaled_up = false;
        if !unschedulable.is_empty() {
            let total: u64 = size.iter().sum();
            let cap_total = match self.spec.max_nodes_total {
                None | Some(0) => u64::MAX,
                Some(m) => u64::from(m),
            };
            let mut options = Vec::new();
            for (p, pool) in pools.iter().enumerate() {
                let pid = PoolId::from_index(p);
                let Some(group) = self.group(pid) else {
                    continue;
                };
                if self.backoff.get(&pid).is_some_and(|b| now < b.until) {
                    continue;
                }
                let room = u64::from(group.max_size)
                    .saturating_sub(size[p])
                    .min(cap_total.saturating_sub(total));
                if let Some(o) = option(
                    &sim,
                    pid,
                    pool,
                    group,
                    room,
                    input.pending,
                    &allowed,
                    &unschedulable,
                ) {
                    options.push(o);
                }
            }
            if let Some(k) =
                self.spec
                    .expander
                    .choose(&options, &self.spec.least_waste, &mut self.expander_rng)
            {
                let o = options.swap_remove(k);
                let delay = self
                    .group(o.pool)
                    .map(|g| g.provisioning.clone())
                    .unwrap_or_default();
                let provisioning_ms = (0..o.nodes)
                    .map(|_| delay.sample(&mut self.delay_rng))
                    .collect();
                out.push(Decision::ScaleUp {
                    pool: o.pool,
                    nodes: o.nodes,
                    provisioning_ms,
                    gangs: o.gangs,
                });
                self.last_scale_up = Some(now);
                scaled_up = true;
            }
        }

        // 4. Scale-down.
        self.scale_down(&sim, cluster, now, start, scaled_up, &mut size, &mut out);
        out
    }

    /// Backs `pool`'s group off after a provisioning failure at `now`.
    fn back_off(&mut self, pool: PoolId, now: SimTime) {
        let t = self.timing;
        let duration = match self.backoff.get(&pool) {
            Some(b) if now.since(b.last_failure) <= t.backoff_reset => b
                .duration
                .saturating_mul(2)
                .clamp(t.initial_backoff, t.max_backoff),
            _ => t.initial_backoff,
        };
        self.backoff.insert(
            pool,
            Backoff {
                until: now + duration,
                duration,
                last_failure: now,
            },
        );
    }

    /// Updates the unneeded timers and removes the nodes that are due.
    #[allow(clippy::too_many_arguments)]
    fn scale_down(
        &mut self,
        sim: &Cluster,
        cluster: &Cluster,
        now: SimTime,
        start: SimTime,
        scaled_up: bool,
        size: &mut [u64],
        out: &mut Vec<Decision>,
    ) {
        if !self.spec.scale_down_enabled {
            self.unneeded.clear();
            return;
        }
        let mut due: Vec<(SimTime, NodeId, PoolId)> = Vec::new();
        let mut seen = BTreeSet::new();
        for n in cluster.nodes() {
            if self.group(n.pool).is_none() {
                continue;
            }
            let (unneeded, wait) = match n.state() {
                NodeState::Ready => {
                    let s = &sim.nodes()[n.id.index()];
                    (!s.is_busy() && self.underused(s), self.timing.unneeded_time)
                }
                NodeState::Down => (
                    self.spec.scale_down_unready_enabled,
                    self.timing.unready_time,
                ),
                NodeState::Provisioning | NodeState::Removed => (false, 0),
            };
            if !unneeded {
                continue;
            }
            seen.insert(n.id);
            let entry = self.unneeded.entry(n.id).or_insert((n.state(), now));
            if entry.0 != n.state() {
                *entry = (n.state(), now);
            }
            if now.since(entry.1) >= wait {
                due.push((entry.1, n.id, n.pool));
            }
        }
        self.unneeded.retain(|id, _| seen.contains(id));

        let t = self.timing;
        let cooldown = self.last_scale_up.unwrap_or(start) + t.delay_after_add > now
            || self.last_scale_down.unwrap_or(start) + t.delay_after_delete > now;
        if scaled_up || cooldown {
            return;
        }
        due.sort_unstable();
        let mut removed = 0u32;
        for (_, node, pool) in due {
            if removed >= self.spec.max_scale_down_parallelism {
                break;
            }
            let min = self.group(pool).map_or(u64::MAX, |g| u64::from(g.min_size));
            let Some(s) = size.get_mut(pool.index()) else {
                continue;
            };
            if *s <= min {
                continue;
            }
            *s -= 1;
            removed += 1;
            self.unneeded.remove(&node);
            out.push(Decision::ScaleDown { node });
        }
        if removed > 0 {
            self.last_scale_down = Some(now);
        }
    }

    /// True when the node's utilisation is below its threshold (GPU nodes: GPU
    /// utilisation against the GPU threshold; others: max(CPU, memory)).
    fn underused(&self, n: &Node) -> bool {
        let frac = |used: u64, cap: u64| {
            if cap == 0 {
                0.0
            } else {
                used as f64 / cap as f64
            }
        };
        if n.gpu_count() > 0 {
            frac(n.gpu_milli_used(), n.gpu_milli_capacity())
                < self.spec.scale_down_gpu_utilization_threshold
        } else {
            let cpu = frac(u64::from(n.cpu_used()), u64::from(n.cpu_capacity()));
            let mem = frac(n.memory_used(), n.memory_capacity());
            cpu.max(mem) < self.spec.scale_down_utilization_threshold
        }
    }
}

/// The worker request of a gang, with `allowed` padded to the pools.
fn request<'a>(g: &PendingGang, allowed: &'a [bool]) -> WorkerRequest<'a> {
    WorkerRequest {
        gpu: g.gpu,
        cpu_milli: g.cpu_milli,
        memory_mib: g.memory_mib,
        allowed_pools: allowed,
    }
}

/// Places every worker of the gang in `sim` (first fit by node id, default
/// GPUs) when the whole gang fits; otherwise changes nothing and returns false.
fn place_gang(sim: &mut Cluster, g: &PendingGang, allowed: &[bool]) -> bool {
    let req = request(g, allowed);
    if !sim.view().gang_fits(&req, g.workers) {
        return false;
    }
    for _ in 0..g.workers {
        let view = sim.view();
        let Some((node, gpus)) = view
            .feasible_nodes(&req)
            .find_map(|n| n.default_gpus(req.gpu).map(|gpus| (n.id, gpus)))
        else {
            return false;
        };
        let alloc = WorkerAlloc {
            node,
            gpus,
            cpu_milli: g.cpu_milli,
            memory_mib: g.memory_mib,
        };
        if sim.allocate(&alloc, &req).is_err() {
            return false;
        }
    }
    true
}

/// The gang's size for first-fit-decreasing on `pool`'s template: its workers'
/// GPU, CPU and memory requests as fractions of one node, summed.
fn ffd_size(g: &PendingGang, pool: &PoolSpec) -> f64 {
    let frac = |ask: u64, cap: u64| {
        if cap == 0 {
            0.0
        } else {
            ask as f64 / cap as f64
        }
    };
    let per_worker = frac(g.gpu.milli(), u64::from(pool.gpus_per_node) * 1000)
        + frac(u64::from(g.cpu_milli), u64::from(pool.cpu_milli))
        + frac(g.memory_mib, pool.memory_mib);
    per_worker * f64::from(g.workers)
}

/// The scale-up option of one node group: pack the unschedulable gangs the pool
/// may run onto `sim`'s free capacity plus at most `room` new template nodes.
#[allow(clippy::too_many_arguments)]
fn option(
    sim: &Cluster,
    pid: PoolId,
    pool: &PoolSpec,
    group: &NodeGroupSpec,
    room: u64,
    pending: &[PendingGang],
    allowed: &[Vec<bool>],
    unschedulable: &[usize],
) -> Option<ScaleUpOption> {
    if room == 0 {
        return None;
    }
    let template = Cluster::new(&[PoolSpec {
        nodes: 1,
        ..pool.clone()
    }]);
    let template = template.nodes().first()?;
    let mut gangs: Vec<usize> = unschedulable
        .iter()
        .copied()
        .filter(|&i| allowed[i].get(pid.index()).copied().unwrap_or(false))
        .collect();
    gangs.sort_by(|&a, &b| {
        ffd_size(&pending[b], pool)
            .total_cmp(&ffd_size(&pending[a], pool))
            .then(a.cmp(&b))
    });
    let mut s = sim.clone();
    let mut new_nodes: Vec<NodeId> = Vec::new();
    let mut helped = Vec::new();
    for i in gangs {
        let g = &pending[i];
        let req = request(g, &allowed[i]);
        let per_node = u64::from(template.fit_count(&req));
        if per_node == 0 {
            continue;
        }
        let have: u64 = s
            .nodes()
            .iter()
            .filter(|n| req.allowed_pools[n.pool.index()])
            .map(|n| u64::from(n.fit_count(&req)))
            .sum();
        let add = u64::from(g.workers).saturating_sub(have).div_ceil(per_node);
        if add > room - new_nodes.len() as u64 {
            continue;
        }
        for _ in 0..add {
            new_nodes.push(s.add_node(pid, NodeState::Ready));
        }
        if place_gang(&mut s, g, &allowed[i]) {
            helped.push(i);
        }
    }
    if new_nodes.is_empty() || helped.is_empty() {
        return None;
    }
    helped.sort_unstable();
    let on_new = new_nodes.iter().map(|id| &s.nodes()[id.index()]);
    let (mut gpu, mut cpu, mut mem) = (0u64, 0u64, 0u64);
    for n in on_new {
        gpu += n.gpu_milli_used();
        cpu += u64::from(n.cpu_used());
        mem += n.memory_used();
    }
    Some(ScaleUpOption {
        pool: pid,
        nodes: new_nodes.len() as u32,
        pods: helped.iter().map(|&i| u64::from(pending[i].workers)).sum(),
        gangs: helped,
        node_gpu_milli: template.gpu_milli_capacity(),
        node_cpu_milli: u64::from(template.cpu_capacity()),
        node_memory_mib: template.memory_capacity(),
        gpu_milli_requested: gpu,
        cpu_milli_requested: cpu,
        memory_mib_requested: mem,
        price_per_node_hour: pool.price_per_node_hour,
        priority: group.priority,
    })
}
