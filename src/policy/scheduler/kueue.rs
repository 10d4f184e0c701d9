//! Kueue-style quota management (kubernetes-sigs/kueue: ClusterQueues,
//! ResourceFlavors, cohorts, borrowing and lending, preemption, fair
//! sharing), with Kueue's vocabulary. References: Kueue's concept pages
//! (`cluster_queue.md`, `cohort.md`, `preemption.md`, `fair_sharing.md`) and
//! code (`pkg/scheduler/flavorassigner`, `pkg/scheduler/preemption`,
//! `pkg/cache/.../fair_sharing.go`, `resource_node.go`), v0.19-era.
//!
//! # Configuration (`[policy.scheduler_params]`)
//!
//! ```toml
//! resource_flavors = [
//!   { name = "a100", pools = ["a100-pool"] },       # pools by name …
//!   { name = "spot", node_labels = { tier = "spot" } }, # … and/or by pool labels
//! ]
//! fair_sharing = { enable = false, preemption_strategies = ["LessThanOrEqualToFinalShare", "LessThanInitialShare"] }
//!
//! [[policy.scheduler_params.cluster_queues]]
//! name = "team-a"
//! cohort = "research"                  # optional
//! tenants = ["vision"]                 # the workload's tenants that submit here; "*" = every unlisted tenant
//! queueing_strategy = "BestEffortFIFO" # or "StrictFIFO"
//! resource_groups = [{ covered_resources = ["nvidia.com/gpu"], flavors = [
//!   { name = "a100", resources = [{ name = "nvidia.com/gpu", nominal_quota = 16, borrowing_limit = 8, lending_limit = 4 }] },
//! ] }]
//! preemption = { within_cluster_queue = "LowerPriority", reclaim_within_cohort = "Any" }
//! fair_sharing = { weight = 1.0 }
//! ```
//!
//! - `resource_flavors`: a flavor is a set of node pools: the pools named in
//!   `pools` (all pools if empty) whose labels include every `node_labels`
//!   entry (Kueue's `nodeLabels`). A pool name that does not exist matches
//!   nothing (the scheduler does not see the cluster until the run starts).
//! - `cluster_queues` (at least one): `name` unique; `cohort` optional (a
//!   cohort is the set of ClusterQueues naming it; no hierarchical cohorts
//!   and no Cohort objects of their own); `tenants`: each tenant in at most
//!   one queue, `"*"` (in at most one queue) takes every tenant not listed
//!   elsewhere. Jobs of a tenant no queue takes are never admitted: they stay
//!   pending and are reported unfinished (`pending`) in the outputs.
//! - `queueing_strategy`: `"BestEffortFIFO"` (default) or `"StrictFIFO"`.
//! - `resource_groups`: `covered_resources` from `"nvidia.com/gpu"`,
//!   `"cpu"`, `"memory"`, `"pods"` (each in at most one group); `flavors` in
//!   the order they are tried, each naming a resource flavor (at most once
//!   per queue) and listing every covered resource exactly once with
//!   `nominal_quota` (required), `borrowing_limit` and `lending_limit`
//!   (optional: no limit / lend everything; both need a `cohort`;
//!   `lending_limit` ≤ `nominal_quota`). Quantities are numbers or Kubernetes
//!   quantity strings, in Kubernetes units: GPUs, CPU cores (`"500m"`),
//!   memory **bytes** (`"512Gi"`; a plain number is bytes as in Kubernetes,
//!   and a non-zero memory quota under 1 MiB is rejected as a likely unit
//!   mistake), pods. Internally GPUs count in milli-GPUs (a fractional
//!   worker of 250 milli-GPUs uses 0.25 GPU of quota), CPU in millicores,
//!   memory in MiB (rounded down), so the resolution is 0.001 GPU, 1 m, 1 MiB.
//!   A resource a queue does not cover is not limited (Kueue would refuse the
//!   workload).
//! - `preemption`: `within_cluster_queue` = `"Never"` (default) |
//!   `"LowerPriority"` | `"LowerOrNewerEqualPriority"`;
//!   `reclaim_within_cohort` = `"Never"` (default) | `"LowerPriority"` |
//!   `"Any"`. (`borrowWithinCohort` is not modelled.)
//! - `fair_sharing.weight` (≥ 0, default 1) per queue; the top-level
//!   `fair_sharing.enable` (default false) turns fair sharing on, with
//!   `preemption_strategies` one of `["LessThanOrEqualToFinalShare"]`,
//!   `["LessThanInitialShare"]` or both in that order (the default).
//!
//! # Semantics
//!
//! A job is a workload of its tenant's ClusterQueue (tenants stand for
//! LocalQueues/namespaces). Its request is, over the whole gang, GPUs
//! (milli), CPU, memory and pods (= workers).
//!
//! **Quota.** For each queue, flavor and resource: nominal quota N, usage u
//! (admitted jobs), lending limit L (default N), guaranteed G = N − L,
//! borrowing limit B. A cohort pools its members' lendable quota
//! (Σ L) and counts their usage above their guaranteed quota
//! (Σ max(0, u − G)). Available to a queue (Kueue's `available`):
//! without a cohort N − u; in a cohort
//! max(0, G − u) + min(Σ L − Σ max(0, u − G), L + B − max(0, u − G)).
//! Its maximum (`potentialAvailable`) is N + min(B, others' Σ L). A request
//! *fits* a flavor if, for every covered resource it asks for, it is at
//! most the available quota; it *borrows* if usage + request > N.
//!
//! **Flavor assignment** (flavorFungibility defaults): each resource group
//! tries its flavors in list order; the first that fits (borrowing or not:
//! `whenCanBorrow: MayStopSearch`) is taken. If none fits, the first flavor
//! where preemption could help (`whenCanPreempt: TryNextFlavor`) is kept:
//! that is when the request is at most the nominal quota (or fair sharing
//! is on and the queue may reclaim); a request above the maximum never fits.
//! A flavor whose pools could never hold the gang, even empty (e.g. its GPU
//! model is not one the job accepts, or its nodes are too small for a
//! worker), is skipped, as Kueue skips flavors whose node labels the
//! workload's affinity excludes. Free nodes play no part in the choice.
//!
//! **Admission reserves quota** (Kueue's `QuotaReserved`); the job then
//! starts as soon as its gang fits on the pools of its flavors (intersected
//! with its GPU-model constraint), placed by the scenario's placement policy
//! — at once if it can, otherwise at a later pass (admitted jobs waiting for
//! nodes are tried first at every pass, in admission order), holding its
//! quota meanwhile, as pods of an admitted workload wait for kube-scheduler.
//! Quota is released when the job finishes or is preempted.
//! `waitForPodsReady` (evicting workloads whose pods do not all start
//! within a timeout) is not modelled.
//!
//! **Queueing.** Each queue orders its pending jobs by priority (higher
//! first), then submission time, then job id. A pass runs Kueue's scheduling
//! cycles until nothing is left to try: each cycle takes the head of every
//! queue and tries them in order — classic: jobs that do not borrow first,
//! then higher priority, then earlier submission, then lower id; with fair
//! sharing: lower share (the queue's DRS *with* the job admitted, below)
//! first, then the same keys. A head that cannot be admitted is, under
//! `BestEffortFIFO`, set aside for the rest of the pass (the next job becomes
//! the head); under `StrictFIFO` it blocks its queue for the rest of the
//! pass (also when it can never fit, as in Kueue). Only quota decides: an
//! admitted job that waits for nodes does not block its queue. Not work
//! conserving (quota and queueing can leave jobs pending that would fit).
//!
//! **Preemption** (when a group could only be served by preemption), after
//! Kueue's classic preemptor:
//! - the *flavor-resources that need preemption* are those whose request
//!   exceeds the available quota in the chosen flavor;
//! - candidates: jobs of the same queue allowed by `within_cluster_queue`
//!   (lower priority; or lower, or equal priority and submitted later), and,
//!   if `reclaim_within_cohort` ≠ Never, jobs of other queues of the cohort
//!   that are borrowing (usage above nominal) in one of those
//!   flavor-resources (any priority, or lower only); every candidate must
//!   use one of those flavor-resources; admitted jobs still waiting for
//!   nodes are candidates too (they hold quota);
//! - candidate order: other queues first, then lower priority, then most
//!   recently admitted, then higher job id;
//! - if all candidates are in the job's own queue, the targets are the
//!   minimal prefix (borrowing allowed); otherwise, if the queue is below
//!   its nominal quota in every flavor-resource needing preemption, the
//!   minimal prefix over all candidates such that the job then fits
//!   *without borrowing*; failing that, own-queue candidates only, borrowing
//!   allowed. While adding candidates, a job of another queue is skipped once
//!   that queue no longer borrows. Then targets are given back in reverse
//!   order when the job still fits without them (`fillBackWorkloads`);
//! - with fair sharing: queues are visited from the highest share; a target
//!   of another queue is taken only if the strategy holds
//!   (`LessThanOrEqualToFinalShare`: the job's queue's share with the job ≤
//!   the target queue's share without the target; `LessThanInitialShare`:
//!   < the target queue's share now); candidates refused by the first
//!   strategy are retried with the second; own-queue candidates are taken
//!   when their queue comes up; then the fill-back.
//!
//! The victims are evicted at once (no termination grace period): running
//! ones are preempted (they keep progress to their last checkpoint and queue
//! again), admitted ones still waiting for nodes just lose their
//! reservation; either way they are not readmitted in the same pass. A
//! running job is never a victim in the instant its current run started (so
//! passes at one instant cannot undo each other). The job
//! is then admitted in the same pass (Kueue admits it in a later cycle, once
//! the victims are gone) and starts when its gang fits.
//!
//! **Fair sharing** (Kueue's dominant resource share): for a queue in a
//! cohort, borrowed_r = Σ over flavors of max(0, usage + request − N);
//! DRS = max over resources with borrowing of borrowed_r × 1000 / (the
//! cohort's Σ L of that resource), integer; share = DRS × 1000 / weight in
//! milli-units (weight 0 with borrowing: infinite). A queue that does not
//! borrow, or has no cohort, has share 0.
//!
//! Tie-breaks are explicit everywhere (queue index, job id); quotas and
//! usages are integers, so runs are exact and deterministic.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Deserialize;

use super::priority::parse_at;
use super::priority::room::{Shape, ever_fits};
use super::{Scheduler, SchedulingPass, StartOutcome, parse_params};
use crate::engine::JobState;
use crate::ids::JobId;
use crate::time::SimTime;
use crate::workload::Job;

/// The resources a ClusterQueue may cover, in the index order used here.
pub const RESOURCES: [&str; 4] = ["nvidia.com/gpu", "cpu", "memory", "pods"];
const NRES: usize = 4;
const GPU: usize = 0;
const CPU: usize = 1;
const MEM: usize = 2;
const PODS: usize = 3;

/// Amounts per resource: milli-GPUs, millicores, MiB, pods.
type Amounts = [u64; NRES];

/// A ClusterQueue's `queueingStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueingStrategy {
    #[default]
    BestEffortFifo,
    StrictFifo,
}

/// `preemption.withinClusterQueue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WithinClusterQueue {
    #[default]
    Never,
    LowerPriority,
    LowerOrNewerEqualPriority,
}

/// `preemption.reclaimWithinCohort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReclaimWithinCohort {
    #[default]
    Never,
    LowerPriority,
    Any,
}

/// A fair-sharing preemption strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FairSharingStrategy {
    LessThanOrEqualToFinalShare,
    LessThanInitialShare,
}

/// A ResourceFlavor: a set of node pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceFlavor {
    pub name: String,
    /// Pool names (empty: every pool).
    pub pools: Vec<String>,
    /// Labels every matching pool must carry.
    pub node_labels: BTreeMap<String, String>,
}

/// Quota of one resource in one flavor, in internal units (milli-GPUs,
/// millicores, MiB, pods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub nominal: u64,
    /// `None`: unlimited borrowing.
    pub borrowing_limit: Option<u64>,
    /// `None`: all of the nominal quota may be lent.
    pub lending_limit: Option<u64>,
}

impl Quota {
    /// Quota the queue keeps for itself (N − L).
    fn guaranteed(&self) -> u64 {
        self.lending_limit
            .map_or(0, |l| self.nominal.saturating_sub(l))
    }
    /// Quota the queue lends to its cohort (L, at most N).
    fn lendable(&self) -> u64 {
        self.lending_limit
            .map_or(self.nominal, |l| l.min(self.nominal))
    }
}

/// One flavor of a resource group, with a quota per covered resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlavorQuotas {
    /// Index into the resource flavors.
    pub flavor: usize,
    /// Indexed like [`RESOURCES`]; `Some` exactly for covered resources.
    pub quotas: [Option<Quota>; NRES],
}

/// A resource group: resources that take the same flavor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    /// Indices into [`RESOURCES`].
    pub covered: Vec<usize>,
    pub flavors: Vec<FlavorQuotas>,
}

/// A ClusterQueue.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterQueue {
    pub name: String,
    pub cohort: Option<String>,
    pub tenants: Vec<String>,
    pub queueing_strategy: QueueingStrategy,
    pub resource_groups: Vec<ResourceGroup>,
    pub within_cluster_queue: WithinClusterQueue,
    pub reclaim_within_cohort: ReclaimWithinCohort,
    /// Fair-sharing weight.
    pub weight: f64,
}

/// An admitted job's quota reservation.
#[derive(Debug, Clone)]
struct Admission {
    cq: usize,
    /// The flavor charged, per resource.
    flavor: [Option<usize>; NRES],
    amounts: Amounts,
    /// When the quota was reserved.
    at: SimTime,
    /// The pools of its flavors (where it may start).
    pools: Vec<bool>,
    /// Running (or, before it started, waiting for nodes).
    started: bool,
}

/// Per-run lookups resolved at the first pass.
#[derive(Debug, Clone)]
struct Resolved {
    pools: usize,
    tenants: usize,
    /// `flavor_pools[f][p]`: pool `p` belongs to flavor `f`.
    flavor_pools: Vec<Vec<bool>>,
    /// Queue of each tenant.
    tenant_cq: Vec<Option<usize>>,
}

/// How a flavor can serve a group's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Fit,
    Preempt,
    NoFit,
}

/// The options of one resource group for a request.
#[derive(Debug, Clone)]
struct GroupOptions {
    group: usize,
    /// Flavors that fit, in list order, with whether they borrow.
    fits: Vec<(usize, bool)>,
    /// The first flavor where preemption could help, and whether it borrows.
    preempt: Option<(usize, bool)>,
}

/// A flavor chosen for a group.
#[derive(Debug, Clone, Copy)]
struct Choice {
    group: usize,
    flavor: usize,
    mode: Mode,
}

/// Usage per queue and flavor.
type Usage = Vec<Vec<Amounts>>;

/// Order of the heads of one scheduling cycle: borrowing (0/1) or fair
/// share, then priority (higher first), submission, job id.
type HeadKey = (u64, Reverse<i32>, SimTime, JobId);

/// Kueue-style admission; see the module docs.
#[derive(Debug, Clone)]
pub struct Kueue {
    flavors: Vec<ResourceFlavor>,
    cqs: Vec<ClusterQueue>,
    weight_milli: Vec<u64>,
    cohort_of: Vec<Option<usize>>,
    /// Members of each cohort (cohorts in name order).
    cohorts: Vec<Vec<usize>>,
    fair_sharing: bool,
    strategies: Vec<FairSharingStrategy>,
    /// `quota[cq][flavor][resource]`.
    quota: Vec<Vec<[Option<Quota>; NRES]>>,
    usage: Usage,
    admitted: BTreeMap<JobId, Admission>,
    resolved: Option<Resolved>,
    /// Per job, whether each flavor's pools could ever hold its gang.
    compatible: BTreeMap<JobId, Vec<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    resource_flavors: Vec<toml::Value>,
    #[serde(default)]
    cluster_queues: Vec<toml::Value>,
    #[serde(default)]
    fair_sharing: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlavor {
    name: String,
    #[serde(default)]
    pools: Vec<String>,
    #[serde(default)]
    node_labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFairSharing {
    #[serde(default)]
    enable: bool,
    #[serde(default)]
    preemption_strategies: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCq {
    name: String,
    #[serde(default)]
    cohort: Option<String>,
    #[serde(default)]
    tenants: Vec<String>,
    #[serde(default)]
    queueing_strategy: Option<String>,
    #[serde(default)]
    resource_groups: Vec<toml::Value>,
    #[serde(default)]
    preemption: Option<toml::Value>,
    #[serde(default)]
    fair_sharing: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    covered_resources: Vec<String>,
    flavors: Vec<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroupFlavor {
    name: String,
    resources: Vec<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    name: String,
    nominal_quota: toml::Value,
    #[serde(default)]
    borrowing_limit: Option<toml::Value>,
    #[serde(default)]
    lending_limit: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreemption {
    #[serde(default)]
    within_cluster_queue: Option<String>,
    #[serde(default)]
    reclaim_within_cohort: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCqFairSharing {
    #[serde(default = "one")]
    weight: f64,
}

fn one() -> f64 {
    1.0
}

/// Parses an enum spelled as a string, naming the field on error.
fn choice<T: Copy>(
    value: Option<&str>,
    at: &str,
    default: T,
    options: &[(&str, T)],
) -> Result<T, String> {
    let Some(v) = value else {
        return Ok(default);
    };
    options
        .iter()
        .find(|(name, _)| *name == v)
        .map(|&(_, t)| t)
        .ok_or_else(|| {
            let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            format!("`{at}`: got \"{v}\", expected one of {}", names.join(", "))
        })
}

/// Parses a Kubernetes quantity (number or string) of resource `r` into
/// internal units; see the module docs.
fn quantity(v: &toml::Value, r: usize, at: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("`{at}`: {why}");
    let base: f64 = match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(x) => *x,
        toml::Value::String(s) => parse_k8s_quantity(s).ok_or_else(|| {
            bad(&format!(
                "got \"{s}\", expected a Kubernetes quantity such as \"16\", \"500m\" or \"512Gi\""
            ))
        })?,
        other => {
            return Err(bad(&format!(
                "got {other}, expected a number or a Kubernetes quantity string"
            )));
        }
    };
    if !base.is_finite() || base < 0.0 {
        return Err(bad(&format!("got {v}, expected a quantity ≥ 0")));
    }
    let scaled = match r {
        GPU | CPU => (base * 1000.0).round(),
        MEM => (base / 1_048_576.0 + 1e-9).floor(),
        PODS => {
            if base.fract() != 0.0 {
                return Err(bad(&format!("got {v}, expected a whole number of pods")));
            }
            base
        }
        _ => base,
    };
    if r == MEM && base > 0.0 && scaled == 0.0 {
        return Err(bad(&format!(
            "got {v}, which is {base} bytes (Kubernetes memory quantities count bytes): \
             write e.g. \"512Gi\""
        )));
    }
    if scaled > 4.0e18 {
        return Err(bad(&format!("got {v}, which is too large")));
    }
    Ok(scaled as u64)
}

/// `"500m"` → 0.5, `"2Gi"` → 2·2³⁰, `"16"` → 16; `None` if malformed.
fn parse_k8s_quantity(s: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let s = s.trim();
    let (num, mult) = SUFFIXES
        .iter()
        .find_map(|&(suf, m)| s.strip_suffix(suf).map(|n| (n, m)))
        .unwrap_or((s, 1.0));
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    num.parse::<f64>().ok().map(|x| x * mult)
}

impl Kueue {
    /// Builds the policy from `[policy.scheduler_params]`.
    pub fn from_params(params: &toml::Table) -> Result<Self, String> {
        let p: Params = parse_params(params)?;
        // Flavors.
        let mut flavors = Vec::new();
        let mut flavor_ix: BTreeMap<String, usize> = BTreeMap::new();
        for (i, v) in p.resource_flavors.iter().enumerate() {
            let at = format!("resource_flavors[{i}]");
            let raw: RawFlavor = parse_at(v, &at)?;
            if raw.name.is_empty() {
                return Err(format!("`{at}.name`: must not be empty"));
            }
            if flavor_ix.insert(raw.name.clone(), i).is_some() {
                return Err(format!(
                    "`{at}.name`: duplicate resource flavor \"{}\"",
                    raw.name
                ));
            }
            flavors.push(ResourceFlavor {
                name: raw.name,
                pools: raw.pools,
                node_labels: raw.node_labels,
            });
        }
        // Global fair sharing.
        let (fair_sharing, strategies) = match &p.fair_sharing {
            None => (false, default_strategies()),
            Some(v) => {
                let raw: RawFairSharing = parse_at(v, "fair_sharing")?;
                let strategies = match raw.preemption_strategies {
                    None => default_strategies(),
                    Some(list) => {
                        let mut out = Vec::new();
                        for (i, s) in list.iter().enumerate() {
                            out.push(choice(
                                Some(s),
                                &format!("fair_sharing.preemption_strategies[{i}]"),
                                FairSharingStrategy::LessThanOrEqualToFinalShare,
                                &[
                                    (
                                        "LessThanOrEqualToFinalShare",
                                        FairSharingStrategy::LessThanOrEqualToFinalShare,
                                    ),
                                    (
                                        "LessThanInitialShare",
                                        FairSharingStrategy::LessThanInitialShare,
                                    ),
                                ],
                            )?);
                        }
                        use FairSharingStrategy::*;
                        if !matches!(
                            out.as_slice(),
                            [LessThanOrEqualToFinalShare]
                                | [LessThanInitialShare]
                                | [LessThanOrEqualToFinalShare, LessThanInitialShare]
                        ) {
                            return Err("`fair_sharing.preemption_strategies`: expected \
                                 [\"LessThanOrEqualToFinalShare\"], [\"LessThanInitialShare\"] \
                                 or both in that order"
                                .into());
                        }
                        out
                    }
                };
                (raw.enable, strategies)
            }
        };
        // Cluster queues.
        if p.cluster_queues.is_empty() {
            return Err(
                "`cluster_queues`: at least one ClusterQueue is required (Kueue admits nothing without one)"
                    .into(),
            );
        }
        let mut cqs = Vec::new();
        let mut cq_names = BTreeSet::new();
        let mut tenant_owner: BTreeMap<String, usize> = BTreeMap::new();
        for (i, v) in p.cluster_queues.iter().enumerate() {
            let at = format!("cluster_queues[{i}]");
            let raw: RawCq = parse_at(v, &at)?;
            if raw.name.is_empty() {
                return Err(format!("`{at}.name`: must not be empty"));
            }
            if !cq_names.insert(raw.name.clone()) {
                return Err(format!(
                    "`{at}.name`: duplicate ClusterQueue \"{}\"",
                    raw.name
                ));
            }
            if raw.cohort.as_deref() == Some("") {
                return Err(format!("`{at}.cohort`: must not be empty"));
            }
            for (t, tenant) in raw.tenants.iter().enumerate() {
                if let Some(&j) = tenant_owner.get(tenant) {
                    let what = if tenant == "*" {
                        "the wildcard \"*\"".to_string()
                    } else {
                        format!("tenant \"{tenant}\"")
                    };
                    return Err(format!(
                        "`{at}.tenants[{t}]`: {what} already belongs to cluster_queues[{j}]"
                    ));
                }
                tenant_owner.insert(tenant.clone(), i);
            }
            let queueing_strategy = choice(
                raw.queueing_strategy.as_deref(),
                &format!("{at}.queueing_strategy"),
                QueueingStrategy::BestEffortFifo,
                &[
                    ("BestEffortFIFO", QueueingStrategy::BestEffortFifo),
                    ("StrictFIFO", QueueingStrategy::StrictFifo),
                ],
            )?;
            let (within, reclaim) = match &raw.preemption {
                None => (WithinClusterQueue::Never, ReclaimWithinCohort::Never),
                Some(v) => {
                    let pr: RawPreemption = parse_at(v, &format!("{at}.preemption"))?;
                    (
                        choice(
                            pr.within_cluster_queue.as_deref(),
                            &format!("{at}.preemption.within_cluster_queue"),
                            WithinClusterQueue::Never,
                            &[
                                ("Never", WithinClusterQueue::Never),
                                ("LowerPriority", WithinClusterQueue::LowerPriority),
                                (
                                    "LowerOrNewerEqualPriority",
                                    WithinClusterQueue::LowerOrNewerEqualPriority,
                                ),
                            ],
                        )?,
                        choice(
                            pr.reclaim_within_cohort.as_deref(),
                            &format!("{at}.preemption.reclaim_within_cohort"),
                            ReclaimWithinCohort::Never,
                            &[
                                ("Never", ReclaimWithinCohort::Never),
                                ("LowerPriority", ReclaimWithinCohort::LowerPriority),
                                ("Any", ReclaimWithinCohort::Any),
                            ],
                        )?,
                    )
                }
            };
            let weight = match &raw.fair_sharing {
                None => 1.0,
                Some(v) => {
                    let fs: RawCqFairSharing = parse_at(v, &format!("{at}.fair_sharing"))?;
                    if !(fs.weight.is_finite() && fs.weight >= 0.0 && fs.weight <= 1e9) {
                        return Err(format!(
                            "`{at}.fair_sharing.weight`: got {}, expected a number ≥ 0",
                            fs.weight
                        ));
                    }
                    fs.weight
                }
            };
            let has_cohort = raw.cohort.is_some();
            let mut covered_all = BTreeSet::new();
            let mut used_flavors = BTreeSet::new();
            let mut groups = Vec::new();
            for (g, gv) in raw.resource_groups.iter().enumerate() {
                let gat = format!("{at}.resource_groups[{g}]");
                let rg: RawGroup = parse_at(gv, &gat)?;
                if rg.covered_resources.is_empty() {
                    return Err(format!(
                        "`{gat}.covered_resources`: list at least one resource"
                    ));
                }
                let mut covered = Vec::new();
                for (k, name) in rg.covered_resources.iter().enumerate() {
                    let r = resource_index(name).ok_or_else(|| {
                        format!(
                            "`{gat}.covered_resources[{k}]`: got \"{name}\", expected one of {}",
                            RESOURCES.map(|r| format!("\"{r}\"")).join(", ")
                        )
                    })?;
                    if !covered_all.insert(r) {
                        return Err(format!(
                            "`{gat}.covered_resources[{k}]`: \"{name}\" is covered by another resource group"
                        ));
                    }
                    covered.push(r);
                }
                if rg.flavors.is_empty() {
                    return Err(format!("`{gat}.flavors`: list at least one flavor"));
                }
                let mut gflavors = Vec::new();
                for (fi, fv) in rg.flavors.iter().enumerate() {
                    let fat = format!("{gat}.flavors[{fi}]");
                    let rf: RawGroupFlavor = parse_at(fv, &fat)?;
                    let &flavor = flavor_ix.get(&rf.name).ok_or_else(|| {
                        format!(
                            "`{fat}.name`: no resource flavor \"{}\" in `resource_flavors`",
                            rf.name
                        )
                    })?;
                    if !used_flavors.insert(flavor) {
                        return Err(format!(
                            "`{fat}.name`: flavor \"{}\" appears twice in this ClusterQueue",
                            rf.name
                        ));
                    }
                    let mut quotas: [Option<Quota>; NRES] = [None; NRES];
                    for (ri, rv) in rf.resources.iter().enumerate() {
                        let rat = format!("{fat}.resources[{ri}]");
                        let rr: RawResource = parse_at(rv, &rat)?;
                        let r = resource_index(&rr.name)
                            .filter(|r| covered.contains(r))
                            .ok_or_else(|| {
                                format!(
                                    "`{rat}.name`: \"{}\" is not among this group's covered_resources",
                                    rr.name
                                )
                            })?;
                        if quotas[r].is_some() {
                            return Err(format!("`{rat}.name`: \"{}\" is listed twice", rr.name));
                        }
                        let nominal =
                            quantity(&rr.nominal_quota, r, &format!("{rat}.nominal_quota"))?;
                        let borrowing_limit = rr
                            .borrowing_limit
                            .as_ref()
                            .map(|q| quantity(q, r, &format!("{rat}.borrowing_limit")))
                            .transpose()?;
                        let lending_limit = rr
                            .lending_limit
                            .as_ref()
                            .map(|q| quantity(q, r, &format!("{rat}.lending_limit")))
                            .transpose()?;
                        if !has_cohort && borrowing_limit.is_some() {
                            return Err(format!(
                                "`{rat}.borrowing_limit`: needs a `cohort` on the ClusterQueue"
                            ));
                        }
                        if !has_cohort && lending_limit.is_some() {
                            return Err(format!(
                                "`{rat}.lending_limit`: needs a `cohort` on the ClusterQueue"
                            ));
                        }
                        if lending_limit.is_some_and(|l| l > nominal) {
                            return Err(format!(
                                "`{rat}.lending_limit`: must not exceed nominal_quota"
                            ));
                        }
                        quotas[r] = Some(Quota {
                            nominal,
                            borrowing_limit,
                            lending_limit,
                        });
                    }
                    if let Some(&r) = covered.iter().find(|&&r| quotas[r].is_none()) {
                        return Err(format!(
                            "`{fat}.resources`: missing \"{}\" (every covered resource needs a quota)",
                            RESOURCES[r]
                        ));
                    }
                    gflavors.push(FlavorQuotas { flavor, quotas });
                }
                groups.push(ResourceGroup {
                    covered,
                    flavors: gflavors,
                });
            }
            cqs.push(ClusterQueue {
                name: raw.name,
                cohort: raw.cohort,
                tenants: raw.tenants,
                queueing_strategy,
                resource_groups: groups,
                within_cluster_queue: within,
                reclaim_within_cohort: reclaim,
                weight,
            });
        }
        Ok(Kueue::new(flavors, cqs, fair_sharing, strategies))
    }

    fn new(
        flavors: Vec<ResourceFlavor>,
        cqs: Vec<ClusterQueue>,
        fair_sharing: bool,
        strategies: Vec<FairSharingStrategy>,
    ) -> Kueue {
        let cohort_names: BTreeSet<&str> = cqs.iter().filter_map(|c| c.cohort.as_deref()).collect();
        let cohort_names: Vec<&str> = cohort_names.into_iter().collect();
        let cohort_of: Vec<Option<usize>> = cqs
            .iter()
            .map(|c| {
                c.cohort
                    .as_deref()
                    .and_then(|n| cohort_names.iter().position(|&m| m == n))
            })
            .collect();
        let mut cohorts = vec![Vec::new(); cohort_names.len()];
        for (c, k) in cohort_of.iter().enumerate() {
            if let Some(k) = k {
                cohorts[*k].push(c);
            }
        }
        let quota = cqs
            .iter()
            .map(|c| {
                let mut t = vec![[None; NRES]; flavors.len()];
                for g in &c.resource_groups {
                    for fq in &g.flavors {
                        t[fq.flavor] = fq.quotas;
                    }
                }
                t
            })
            .collect();
        Kueue {
            weight_milli: cqs
                .iter()
                .map(|c| (c.weight * 1000.0).round() as u64)
                .collect(),
            usage: vec![vec![[0; NRES]; flavors.len()]; cqs.len()],
            flavors,
            cqs,
            cohort_of,
            cohorts,
            fair_sharing,
            strategies,
            quota,
            admitted: BTreeMap::new(),
            resolved: None,
            compatible: BTreeMap::new(),
        }
    }

    /// The resource flavors.
    pub fn resource_flavors(&self) -> &[ResourceFlavor] {
        &self.flavors
    }

    /// The ClusterQueues.
    pub fn cluster_queues(&self) -> &[ClusterQueue] {
        &self.cqs
    }

    /// Is fair sharing on?
    pub fn fair_sharing(&self) -> bool {
        self.fair_sharing
    }
}

fn default_strategies() -> Vec<FairSharingStrategy> {
    vec![
        FairSharingStrategy::LessThanOrEqualToFinalShare,
        FairSharingStrategy::LessThanInitialShare,
    ]
}

fn resource_index(name: &str) -> Option<usize> {
    RESOURCES.iter().position(|&r| r == name)
}

/// A job's request over its whole gang.
fn demand(job: &Job) -> Amounts {
    let w = u64::from(job.workers);
    [
        job.total_gpu_milli(),
        w * u64::from(job.cpu_milli),
        w.saturating_mul(job.memory_mib),
        w,
    ]
}

// ---------------------------------------------------------------------------
// Quota arithmetic.

impl Kueue {
    /// Cohort totals for one flavor-resource: Σ lendable and Σ usage above
    /// guaranteed.
    fn cohort_totals(&self, u: &Usage, k: usize, f: usize, r: usize) -> (u64, u64) {
        let mut cap = 0u64;
        let mut used = 0u64;
        for &d in &self.cohorts[k] {
            if let Some(q) = self.quota[d][f][r] {
                cap = cap.saturating_add(q.lendable());
                used = used.saturating_add(u[d][f][r].saturating_sub(q.guaranteed()));
            }
        }
        (cap, used)
    }

    /// Quota of `r` in flavor `f` the queue could still use now.
    fn available(&self, u: &Usage, c: usize, f: usize, r: usize) -> u64 {
        let Some(q) = self.quota[c][f][r] else {
            return 0;
        };
        let used = u[c][f][r];
        match self.cohort_of[c] {
            None => q.nominal.saturating_sub(used),
            Some(k) => {
                let g = q.guaranteed();
                let local = g.saturating_sub(used);
                let (cap, cu) = self.cohort_totals(u, k, f, r);
                let mut parent = cap.saturating_sub(cu);
                if let Some(b) = q.borrowing_limit {
                    let in_parent = used.saturating_sub(g);
                    parent = parent.min(
                        q.nominal
                            .saturating_sub(g)
                            .saturating_add(b)
                            .saturating_sub(in_parent),
                    );
                }
                local.saturating_add(parent)
            }
        }
    }

    /// The most of `r` in flavor `f` the queue could ever hold.
    fn potential(&self, c: usize, f: usize, r: usize) -> u64 {
        let Some(q) = self.quota[c][f][r] else {
            return 0;
        };
        match self.cohort_of[c] {
            None => q.nominal,
            Some(k) => {
                let others: u64 = self.cohorts[k]
                    .iter()
                    .filter(|&&d| d != c)
                    .filter_map(|&d| self.quota[d][f][r])
                    .map(|q| q.lendable())
                    .fold(0, u64::saturating_add);
                q.nominal
                    .saturating_add(q.borrowing_limit.map_or(others, |b| b.min(others)))
            }
        }
    }

    /// How flavor `f` can serve group `g` of queue `c` for `req`.
    fn flavor_mode(&self, u: &Usage, c: usize, g: usize, f: usize, req: &Amounts) -> (Mode, bool) {
        let mut mode = Mode::Fit;
        let mut borrow = false;
        let reclaim_fs =
            self.fair_sharing && self.cqs[c].reclaim_within_cohort != ReclaimWithinCohort::Never;
        for &r in &self.cqs[c].resource_groups[g].covered {
            let need = req[r];
            if need == 0 {
                continue;
            }
            let Some(q) = self.quota[c][f][r] else {
                return (Mode::NoFit, false);
            };
            if need > self.potential(c, f, r) {
                return (Mode::NoFit, false);
            }
            let borrows = u[c][f][r].saturating_add(need) > q.nominal;
            if need <= self.available(u, c, f, r) {
                borrow |= borrows;
            } else if need <= q.nominal || reclaim_fs {
                mode = mode.max(Mode::Preempt);
                borrow |= borrows;
            } else {
                return (Mode::NoFit, false);
            }
        }
        (mode, borrow)
    }

    /// Every group's options for `req` in queue `c`, or `None` if some
    /// group has no flavor at all.
    fn options(
        &self,
        u: &Usage,
        c: usize,
        req: &Amounts,
        compatible: &[bool],
    ) -> Option<Vec<GroupOptions>> {
        let mut out = Vec::new();
        for (g, group) in self.cqs[c].resource_groups.iter().enumerate() {
            if group.covered.iter().all(|&r| req[r] == 0) {
                continue;
            }
            let mut o = GroupOptions {
                group: g,
                fits: Vec::new(),
                preempt: None,
            };
            for fq in &group.flavors {
                if !compatible.get(fq.flavor).copied().unwrap_or(false) {
                    continue;
                }
                match self.flavor_mode(u, c, g, fq.flavor, req) {
                    (Mode::Fit, b) => o.fits.push((fq.flavor, b)),
                    (Mode::Preempt, b) => {
                        o.preempt.get_or_insert((fq.flavor, b));
                    }
                    (Mode::NoFit, _) => {}
                }
            }
            if o.fits.is_empty() && o.preempt.is_none() {
                return None;
            }
            out.push(o);
        }
        Some(out)
    }

    /// Kueue's primary assignment: per group the first fitting flavor, else
    /// the first where preemption could help; and whether it borrows.
    fn primary(opts: &[GroupOptions]) -> (Vec<Choice>, bool) {
        let mut borrow = false;
        let choices = opts
            .iter()
            .map(|o| match o.fits.first() {
                Some(&(flavor, b)) => {
                    borrow |= b;
                    Choice {
                        group: o.group,
                        flavor,
                        mode: Mode::Fit,
                    }
                }
                None => {
                    let (flavor, b) = o.preempt.expect("options() keeps groups with a choice");
                    borrow |= b;
                    Choice {
                        group: o.group,
                        flavor,
                        mode: Mode::Preempt,
                    }
                }
            })
            .collect();
        (choices, borrow)
    }

    /// Flavor per resource for an assignment.
    fn flavors_of(&self, c: usize, choices: &[Choice], req: &Amounts) -> [Option<usize>; NRES] {
        let mut out = [None; NRES];
        for ch in choices {
            for &r in &self.cqs[c].resource_groups[ch.group].covered {
                if req[r] > 0 {
                    out[r] = Some(ch.flavor);
                }
            }
        }
        out
    }

    /// Does `req` fit queue `c` in the chosen flavors under usage `u`?
    fn fits_quota(
        &self,
        u: &Usage,
        c: usize,
        flavors: &[Option<usize>; NRES],
        req: &Amounts,
        allow_borrowing: bool,
    ) -> bool {
        (0..NRES).all(|r| {
            let Some(f) = flavors[r] else {
                return true;
            };
            let Some(q) = self.quota[c][f][r] else {
                return false;
            };
            (allow_borrowing || u[c][f][r].saturating_add(req[r]) <= q.nominal)
                && req[r] <= self.available(u, c, f, r)
        })
    }

    fn charge(u: &mut Usage, a: &Admission) {
        for (r, (flavor, amount)) in a.flavor.iter().zip(a.amounts).enumerate() {
            if let Some(f) = *flavor {
                u[a.cq][f][r] = u[a.cq][f][r].saturating_add(amount);
            }
        }
    }

    fn uncharge(u: &mut Usage, a: &Admission) {
        for (r, (flavor, amount)) in a.flavor.iter().zip(a.amounts).enumerate() {
            if let Some(f) = *flavor {
                u[a.cq][f][r] = u[a.cq][f][r].saturating_sub(amount);
            }
        }
    }

    /// Is queue `d` above its nominal quota in one of these flavor-resources?
    fn is_borrowing(&self, u: &Usage, d: usize, frs: &[(usize, usize)]) -> bool {
        frs.iter()
            .any(|&(f, r)| self.quota[d][f][r].is_some_and(|q| u[d][f][r] > q.nominal))
    }

    /// Queue `d`'s fair share (see the module docs), with `extra` added to
    /// its usage per flavor and resource.
    fn share(&self, u: &Usage, d: usize, extra: Option<(&[Option<usize>; NRES], &Amounts)>) -> u64 {
        let Some(k) = self.cohort_of[d] else {
            return 0;
        };
        let mut borrowed = [0u128; NRES];
        for (f, (quotas, used)) in self.quota[d].iter().zip(&u[d]).enumerate() {
            for (r, b) in borrowed.iter_mut().enumerate() {
                let Some(q) = quotas[r] else {
                    continue;
                };
                let add = match extra {
                    Some((fl, req)) if fl[r] == Some(f) => req[r],
                    _ => 0,
                };
                *b += u128::from(used[r].saturating_add(add).saturating_sub(q.nominal));
            }
        }
        if borrowed.iter().all(|&b| b == 0) {
            return 0;
        }
        let w = self.weight_milli[d];
        if w == 0 {
            return u64::MAX;
        }
        let mut drs: u128 = 0;
        for (r, &b) in borrowed.iter().enumerate() {
            if b == 0 {
                continue;
            }
            let lendable: u128 = self.cohorts[k]
                .iter()
                .flat_map(|&e| self.quota[e].iter().filter_map(move |t| t[r]))
                .map(|q| u128::from(q.lendable()))
                .sum();
            if let Some(ratio) = (b * 1000).checked_div(lendable) {
                drs = drs.max(ratio);
            }
        }
        u64::try_from(drs * 1000 / u128::from(w)).unwrap_or(u64::MAX)
    }
}

// ---------------------------------------------------------------------------
// The scheduling pass.

impl Scheduler for Kueue {
    fn name(&self) -> &'static str {
        "kueue"
    }

    fn schedule(&mut self, pass: &mut dyn SchedulingPass) {
        self.resolve(pass);
        self.reconcile(pass);
        let Some(resolved) = self.resolved.clone() else {
            return;
        };
        // Admitted jobs waiting for nodes start first, in admission order.
        let mut waiting: Vec<(SimTime, JobId)> = self
            .admitted
            .iter()
            .filter(|(_, a)| !a.started)
            .map(|(&j, a)| (a.at, j))
            .collect();
        waiting.sort_unstable();
        for (_, j) in waiting {
            let pools = self.admitted[&j].pools.clone();
            if pass.try_start_in(j, &pools) == StartOutcome::Started
                && let Some(a) = self.admitted.get_mut(&j)
            {
                a.started = true;
            }
        }
        // Per-queue lists of jobs without a reservation, in queue order.
        let mut queues: Vec<Vec<JobId>> = vec![Vec::new(); self.cqs.len()];
        for &j in pass.pending() {
            if self.admitted.contains_key(&j) {
                continue;
            }
            let t = pass.job(j).tenant.index();
            if let Some(Some(c)) = resolved.tenant_cq.get(t) {
                queues[*c].push(j);
            }
        }
        for q in &mut queues {
            q.sort_by_key(|&j| {
                let job = pass.job(j);
                (Reverse(job.priority), job.submit, j)
            });
        }
        let mut cursor = vec![0usize; self.cqs.len()];
        let mut blocked = vec![false; self.cqs.len()];
        let mut evicted: BTreeSet<JobId> = BTreeSet::new();
        loop {
            // One Kueue scheduling cycle: the head of every queue.
            let mut heads: Vec<(HeadKey, usize)> = Vec::new();
            for c in 0..self.cqs.len() {
                if blocked[c] {
                    continue;
                }
                while queues[c]
                    .get(cursor[c])
                    .is_some_and(|j| self.admitted.contains_key(j) || evicted.contains(j))
                {
                    cursor[c] += 1;
                }
                let Some(&j) = queues[c].get(cursor[c]) else {
                    continue;
                };
                let req = demand(pass.job(j));
                let compatible = self.compatible_of(pass, &resolved, j);
                let first = match self.options(&self.usage, c, &req, &compatible) {
                    None => u64::MAX,
                    Some(opts) => {
                        let (choices, borrow) = Kueue::primary(&opts);
                        if self.fair_sharing {
                            let fl = self.flavors_of(c, &choices, &req);
                            self.share(&self.usage, c, Some((&fl, &req)))
                        } else {
                            u64::from(borrow)
                        }
                    }
                };
                let job = pass.job(j);
                heads.push(((first, Reverse(job.priority), job.submit, j), c));
            }
            if heads.is_empty() {
                break;
            }
            heads.sort_unstable();
            for (key, c) in heads {
                let job = key.3;
                let admitted = self.try_admit(pass, &resolved, job, c, &mut evicted);
                if admitted || self.cqs[c].queueing_strategy == QueueingStrategy::BestEffortFifo {
                    cursor[c] += 1;
                } else {
                    blocked[c] = true;
                }
            }
        }
        // Whatever is still without a reservation waits for quota (its own,
        // or that of the blocked head of its queue).
        let held: Vec<JobId> = pass
            .pending()
            .iter()
            .copied()
            .filter(|j| !self.admitted.contains_key(j))
            .collect();
        for j in held {
            pass.held_for_quota(j);
        }
    }
}

impl Kueue {
    /// Resolves flavors to pools and tenants to queues for this run.
    fn resolve(&mut self, pass: &dyn SchedulingPass) {
        let view = pass.cluster();
        let pools = view.pools();
        let tenants = &pass.workload().tenants;
        if self
            .resolved
            .as_ref()
            .is_some_and(|r| r.pools == pools.len() && r.tenants == tenants.len())
        {
            return;
        }
        let flavor_pools = self
            .flavors
            .iter()
            .map(|f| {
                pools
                    .iter()
                    .map(|p| {
                        (f.pools.is_empty() || f.pools.contains(&p.name))
                            && f.node_labels
                                .iter()
                                .all(|(k, v)| p.labels.get(k) == Some(v))
                    })
                    .collect()
            })
            .collect();
        let wildcard = self
            .cqs
            .iter()
            .position(|c| c.tenants.iter().any(|t| t == "*"));
        let tenant_cq = tenants
            .iter()
            .map(|t| {
                self.cqs
                    .iter()
                    .position(|c| c.tenants.contains(t))
                    .or(wildcard)
            })
            .collect();
        self.resolved = Some(Resolved {
            pools: pools.len(),
            tenants: tenants.len(),
            flavor_pools,
            tenant_cq,
        });
        self.compatible.clear();
    }

    /// Releases the quota of admitted jobs that ran and are no longer
    /// running (finished).
    fn reconcile(&mut self, pass: &dyn SchedulingPass) {
        let gone: Vec<JobId> = self
            .admitted
            .iter()
            .filter(|&(&j, a)| {
                let state = pass.state(j);
                if a.started {
                    state != JobState::Running
                } else {
                    state != JobState::Pending
                }
            })
            .map(|(&j, _)| j)
            .collect();
        for j in gone {
            if let Some(a) = self.admitted.remove(&j) {
                Kueue::uncharge(&mut self.usage, &a);
            }
            if pass.state(j) == JobState::Finished {
                self.compatible.remove(&j);
            }
        }
    }

    /// Whether each flavor's pools could ever hold the job's gang (with its
    /// GPU-model constraint): Kueue skips flavors whose nodes the workload
    /// cannot use.
    fn compatible_of(
        &mut self,
        pass: &dyn SchedulingPass,
        resolved: &Resolved,
        job: JobId,
    ) -> Vec<bool> {
        if let Some(c) = self.compatible.get(&job) {
            return c.clone();
        }
        let view = pass.cluster();
        let j = pass.job(job);
        let c: Vec<bool> = resolved
            .flavor_pools
            .iter()
            .map(|pools| ever_fits(view, &Shape::of(j, view.pools(), Some(pools))))
            .collect();
        self.compatible.insert(job, c.clone());
        c
    }

    /// Pools of an assignment: the intersection of its flavors' pools.
    fn pools_of(resolved: &Resolved, flavors: impl Iterator<Item = usize>) -> Vec<bool> {
        let mut pools = vec![true; resolved.pools];
        for f in flavors {
            for (p, ok) in pools.iter_mut().enumerate() {
                *ok &= resolved.flavor_pools[f][p];
            }
        }
        pools
    }

    /// Reserves quota for `job` in the chosen flavors and tries to start it.
    fn reserve_and_start(
        &mut self,
        pass: &mut dyn SchedulingPass,
        resolved: &Resolved,
        job: JobId,
        c: usize,
        choices: &[Choice],
        req: Amounts,
    ) {
        let flavor = self.flavors_of(c, choices, &req);
        let pools = Kueue::pools_of(resolved, choices.iter().map(|ch| ch.flavor));
        let started = pass.try_start_in(job, &pools) == StartOutcome::Started;
        let a = Admission {
            cq: c,
            flavor,
            amounts: req,
            at: pass.now(),
            pools,
            started,
        };
        Kueue::charge(&mut self.usage, &a);
        self.admitted.insert(job, a);
    }

    /// Tries to admit `job` of queue `c` now (reserving its quota, preempting
    /// if needed); see the module docs.
    fn try_admit(
        &mut self,
        pass: &mut dyn SchedulingPass,
        resolved: &Resolved,
        job: JobId,
        c: usize,
        evicted: &mut BTreeSet<JobId>,
    ) -> bool {
        let req = demand(pass.job(job));
        let compatible = self.compatible_of(pass, resolved, job);
        let Some(opts) = self.options(&self.usage, c, &req, &compatible) else {
            return false;
        };
        let (choices, _) = Kueue::primary(&opts);
        if choices.iter().all(|ch| ch.mode == Mode::Fit) {
            self.reserve_and_start(pass, resolved, job, c, &choices, req);
            return true;
        }
        let fl = self.flavors_of(c, &choices, &req);
        let frs: Vec<(usize, usize)> = choices
            .iter()
            .filter(|ch| ch.mode == Mode::Preempt)
            .flat_map(|ch| {
                self.cqs[c].resource_groups[ch.group]
                    .covered
                    .iter()
                    .filter(|&&r| {
                        req[r] > 0 && req[r] > self.available(&self.usage, c, ch.flavor, r)
                    })
                    .map(move |&r| (ch.flavor, r))
            })
            .collect();
        if frs.is_empty() {
            return false;
        }
        let Some(targets) = self.find_targets(pass, job, c, &fl, &req, &frs) else {
            return false;
        };
        for t in targets {
            if let Some(a) = self.admitted.remove(&t) {
                Kueue::uncharge(&mut self.usage, &a);
                if a.started {
                    pass.preempt(t);
                }
            }
            evicted.insert(t);
        }
        self.reserve_and_start(pass, resolved, job, c, &choices, req);
        true
    }

    /// The preemption targets for `job` of queue `c`, or `None`.
    fn find_targets(
        &self,
        pass: &dyn SchedulingPass,
        job: JobId,
        c: usize,
        fl: &[Option<usize>; NRES],
        req: &Amounts,
        frs: &[(usize, usize)],
    ) -> Option<Vec<JobId>> {
        let me = pass.job(job);
        let (prio, born) = (me.priority, (me.submit, job));
        let uses = |a: &Admission| {
            frs.iter()
                .any(|&(f, r)| a.flavor[r] == Some(f) && a.amounts[r] > 0)
        };
        let mut cands: Vec<JobId> = Vec::new();
        let within = self.cqs[c].within_cluster_queue;
        let reclaim = self.cqs[c].reclaim_within_cohort;
        let now = pass.now();
        for (&j, a) in &self.admitted {
            // Never preempt a job in the instant its run started (passes at
            // one instant must not undo each other; see the module docs).
            if !uses(a) || (a.started && pass.progress(j).run_start == Some(now)) {
                continue;
            }
            let other = pass.job(j);
            let ok = if a.cq == c {
                match within {
                    WithinClusterQueue::Never => false,
                    WithinClusterQueue::LowerPriority => other.priority < prio,
                    WithinClusterQueue::LowerOrNewerEqualPriority => {
                        other.priority < prio
                            || (other.priority == prio && (other.submit, j) > born)
                    }
                }
            } else {
                self.cohort_of[c].is_some()
                    && self.cohort_of[a.cq] == self.cohort_of[c]
                    && self.is_borrowing(&self.usage, a.cq, frs)
                    && match reclaim {
                        ReclaimWithinCohort::Never => false,
                        ReclaimWithinCohort::LowerPriority => other.priority < prio,
                        ReclaimWithinCohort::Any => true,
                    }
            };
            if ok {
                cands.push(j);
            }
        }
        if cands.is_empty() {
            return None;
        }
        cands.sort_by_key(|&j| {
            let a = &self.admitted[&j];
            (a.cq == c, pass.job(j).priority, Reverse(a.at), Reverse(j))
        });
        let same: Vec<JobId> = cands
            .iter()
            .copied()
            .filter(|j| self.admitted[j].cq == c)
            .collect();
        if same.len() == cands.len() {
            return self.minimal(&cands, c, fl, req, frs, true);
        }
        if self.fair_sharing {
            return self.fair_targets(&cands, c, fl, req, frs);
        }
        let under_nominal = frs
            .iter()
            .all(|&(f, r)| self.quota[c][f][r].is_some_and(|q| self.usage[c][f][r] < q.nominal));
        if under_nominal && let Some(t) = self.minimal(&cands, c, fl, req, frs, false) {
            return Some(t);
        }
        self.minimal(&same, c, fl, req, frs, true)
    }

    /// Kueue's `minimalPreemptions`: the shortest prefix of `cands` that
    /// makes the job fit, then the fill-back.
    fn minimal(
        &self,
        cands: &[JobId],
        c: usize,
        fl: &[Option<usize>; NRES],
        req: &Amounts,
        frs: &[(usize, usize)],
        allow_borrowing: bool,
    ) -> Option<Vec<JobId>> {
        let mut u = self.usage.clone();
        let mut targets = Vec::new();
        let mut fits = false;
        for &t in cands {
            let a = &self.admitted[&t];
            if a.cq != c && !self.is_borrowing(&u, a.cq, frs) {
                continue;
            }
            Kueue::uncharge(&mut u, a);
            targets.push(t);
            if self.fits_quota(&u, c, fl, req, allow_borrowing) {
                fits = true;
                break;
            }
        }
        if !fits {
            return None;
        }
        Some(self.fill_back(u, targets, c, fl, req, allow_borrowing))
    }

    /// Gives targets back, last-but-one first, when the job still fits.
    fn fill_back(
        &self,
        mut u: Usage,
        targets: Vec<JobId>,
        c: usize,
        fl: &[Option<usize>; NRES],
        req: &Amounts,
        allow_borrowing: bool,
    ) -> Vec<JobId> {
        let mut keep = vec![true; targets.len()];
        for i in (0..targets.len().saturating_sub(1)).rev() {
            let a = &self.admitted[&targets[i]];
            Kueue::charge(&mut u, a);
            if self.fits_quota(&u, c, fl, req, allow_borrowing) {
                keep[i] = false;
            } else {
                Kueue::uncharge(&mut u, a);
            }
        }
        targets
            .into_iter()
            .zip(keep)
            .filter_map(|(t, k)| k.then_some(t))
            .collect()
    }

    /// Fair-sharing preemption; see the module docs.
    fn fair_targets(
        &self,
        cands: &[JobId],
        c: usize,
        fl: &[Option<usize>; NRES],
        req: &Amounts,
        frs: &[(usize, usize)],
    ) -> Option<Vec<JobId>> {
        let mut u = self.usage.clone();
        let mut targets = Vec::new();
        let strategy = |s: FairSharingStrategy, preemptor_new: u64, old: u64, new: u64| match s {
            FairSharingStrategy::LessThanOrEqualToFinalShare => preemptor_new <= new,
            FairSharingStrategy::LessThanInitialShare => preemptor_new < old,
        };
        let group = |list: &[JobId]| {
            let mut m: BTreeMap<usize, VecDeque<JobId>> = BTreeMap::new();
            for &j in list {
                m.entry(self.admitted[&j].cq).or_default().push_back(j);
            }
            m
        };
        // The queue with remaining candidates and the highest share now
        // (ties: lower queue index); other queues only while borrowing.
        let pick = |u: &Usage, m: &BTreeMap<usize, VecDeque<JobId>>| {
            m.iter()
                .filter(|(d, q)| !q.is_empty() && (**d == c || self.is_borrowing(u, **d, frs)))
                .map(|(&d, _)| d)
                .max_by_key(|&d| (self.share(u, d, None), Reverse(d)))
        };
        let mut fits = false;
        let mut retry = Vec::new();
        let mut by_cq = group(cands);
        'first: while let Some(d) = pick(&u, &by_cq) {
            let queue = by_cq.get_mut(&d).expect("picked from the map");
            if d == c {
                let t = queue.pop_front().expect("non-empty");
                Kueue::uncharge(&mut u, &self.admitted[&t]);
                targets.push(t);
                if self.fits_quota(&u, c, fl, req, true) {
                    fits = true;
                    break 'first;
                }
                continue;
            }
            let preemptor_new = self.share(&u, c, Some((fl, req)));
            let old = self.share(&u, d, None);
            while let Some(t) = queue.pop_front() {
                let a = &self.admitted[&t];
                let mut after = u.clone();
                Kueue::uncharge(&mut after, a);
                let new = self.share(&after, d, None);
                if strategy(self.strategies[0], preemptor_new, old, new) {
                    u = after;
                    targets.push(t);
                    if self.fits_quota(&u, c, fl, req, true) {
                        fits = true;
                        break 'first;
                    }
                    continue 'first;
                }
                retry.push(t);
            }
        }
        if !fits && let Some(&second) = self.strategies.get(1) {
            let mut by_cq = group(&retry);
            while let Some(d) = pick(&u, &by_cq) {
                let preemptor_new = self.share(&u, c, Some((fl, req)));
                let old = self.share(&u, d, None);
                let queue = by_cq.get_mut(&d).expect("picked from the map");
                if d != c && !strategy(second, preemptor_new, old, 0) {
                    queue.clear();
                    continue;
                }
                let t = queue.pop_front().expect("non-empty");
                Kueue::uncharge(&mut u, &self.admitted[&t]);
                targets.push(t);
                if self.fits_quota(&u, c, fl, req, true) {
                    fits = true;
                    break;
                }
            }
        }
        if !fits {
            return None;
        }
        Some(self.fill_back(u, targets, c, fl, req, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_quantities() {
        assert_eq!(parse_k8s_quantity("500m"), Some(0.5));
        assert_eq!(parse_k8s_quantity("2Gi"), Some(2.0 * 1_073_741_824.0));
        assert_eq!(parse_k8s_quantity("16"), Some(16.0));
        assert_eq!(parse_k8s_quantity("-1"), None);
        assert_eq!(parse_k8s_quantity("Gi"), None);
        let s = |x: &str| toml::Value::String(x.into());
        assert_eq!(quantity(&s("512Gi"), MEM, "q"), Ok(512 * 1024));
        assert_eq!(quantity(&s("1500m"), CPU, "q"), Ok(1500));
        assert_eq!(quantity(&toml::Value::Float(0.25), GPU, "q"), Ok(250));
        assert_eq!(quantity(&toml::Value::Integer(8), PODS, "q"), Ok(8));
        assert!(quantity(&toml::Value::Integer(512), MEM, "q").is_err());
        assert!(quantity(&toml::Value::Float(1.5), PODS, "q").is_err());
        assert!(quantity(&toml::Value::Integer(-1), GPU, "q").is_err());
    }
}
