//! One cluster-mode run: set up the namespace and KWOK nodes, submit each
//! job's pods at `submit / speedup`, run the scenario's scheduler through
//! the [`Mirror`] after every arrival and completion, bind what it starts,
//! delete what it preempts, and time every pod transition from the watch.
//! Then build the same [`RunResult`] a simulation produces, and compare.
//!
//! Everything created carries the run's labels; the run deletes it at the
//! end, on error and on Ctrl-C (unless asked to keep it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::ClusterError;
use super::api::{self, ApiStats, Connection, classify, is_conflict, is_not_found, with_retry};
use super::fidelity::{self, ApiCounts, Fidelity, Observed};
use super::mirror::Mirror;
use super::objects;
use crate::cluster::{GpuShare, NodeState, WorkerRequest};
use crate::engine::{JobState, Simulation};
use crate::experiment::{ScenarioRun, run_info, run_scenario};
use crate::ids::{JobId, NodeId};
use crate::metrics::{JobOutcome, JobStatus, PoolUsage, RunResult, Sample, Summary};
use crate::policy::autoscaler::{ClusterAutoscaler, Decision, ScanInput};
use crate::policy::placement::Placement;
use crate::policy::scheduler::SchedulingPass;
use crate::report::RunInfo;
use crate::scenario::Scenario;
use crate::time::{Millis, SimTime};
use crate::workload::{Job, Workload};

/// How long KWOK may take to make the fake nodes Ready.
const NODES_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Wall-clock delay before a gang whose bind failed is tried again.
const BIND_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Scenario seconds per wall-clock second (≥ 1).
    pub speedup: f64,
    /// Leave the namespace and nodes in place at the end (for inspection;
    /// `cluster clean` removes them).
    pub keep: bool,
    /// Stop after this much wall-clock time; `None`: 1.5 × the simulated
    /// span at the speedup, plus 60 s.
    pub max_wall: Option<Duration>,
    /// Print progress lines to stderr.
    pub progress: bool,
}

/// Everything a cluster run produced.
pub struct ClusterRun {
    pub run_id: String,
    pub info: RunInfo,
    /// The simulation of the same scenario (its workload is the run's).
    pub sim: ScenarioRun,
    /// What the cluster did, in the simulator's terms.
    pub result: RunResult,
    pub summary: Summary,
    pub fidelity: Fidelity,
}

/// Runs `scenario` on the cluster behind `conn`; Ctrl-C stops it and deletes
/// what it created.
pub async fn run(
    conn: &Connection,
    scenario: &Scenario,
    opts: &RunOptions,
) -> Result<ClusterRun, ClusterError> {
    check_supported(scenario, opts.speedup)?;
    let sim =
        run_scenario(scenario, |_| {}).map_err(|e| ClusterError::Simulation(format!("{e:#}")))?;
    let sim_placements = record_placements(scenario, &sim)?;
    let unix_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let run_id = objects::run_id(&scenario.name, unix_ms);
    let stats = Arc::new(ApiStats::default());
    if opts.progress {
        eprintln!(
            "[cluster] run {run_id} on {} (Kubernetes {}): namespace {}",
            conn.server,
            conn.version,
            objects::namespace_name(&run_id)
        );
    }
    let outcome = tokio::select! {
        r = drive(conn, scenario, &sim, &run_id, opts, stats.clone()) => r,
        _ = tokio::signal::ctrl_c() => Err(ClusterError::Interrupted),
    };
    if !opts.keep || matches!(outcome, Err(ClusterError::Interrupted)) {
        let cleaned = api::clean(conn, Some(&run_id), &stats).await;
        match (&outcome, cleaned) {
            (_, Ok(r)) if opts.progress => eprintln!(
                "[cluster] deleted namespace {} and {} nodes",
                r.namespaces.join(", "),
                r.nodes.len()
            ),
            (_, Ok(_)) => {}
            (Ok(_), Err(e)) => return Err(e),
            (Err(_), Err(e)) => eprintln!(
                "warning: cleaning up run {run_id} failed ({e}); run `schedlab cluster clean --run {run_id}`"
            ),
        }
    }
    let (result, observed) = outcome?;
    let summary = Summary::compute(&sim.workload, &result);
    let fidelity = fidelity::compare(&fidelity::Inputs {
        run_id: &run_id,
        scenario: &scenario.name,
        server_version: &conn.version,
        speedup: opts.speedup,
        workload: &sim.workload,
        sim: &sim.result,
        sim_placements: sim_placements.as_ref(),
        cluster: &result,
        observed: &observed,
    });
    Ok(ClusterRun {
        run_id,
        info: run_info(scenario, &sim.built),
        sim,
        result,
        summary,
        fidelity,
    })
}

/// Rejects a bad speedup, and what cluster mode cannot reproduce yet, before
/// anything is created (callers may check before connecting).
pub fn check_supported(s: &Scenario, speedup: f64) -> Result<(), ClusterError> {
    if !(speedup.is_finite() && speedup >= 1.0) {
        return Err(ClusterError::BadSpeedup(speedup));
    }
    if !s.engine.services.is_empty() {
        return Err(ClusterError::Unsupported(
            "inference services ([[services]])".into(),
        ));
    }
    if s.elastic.is_some() || s.engine.elastic.is_some() {
        return Err(ClusterError::Unsupported(
            "elastic training jobs ([elastic]): resizing a running job's pods".into(),
        ));
    }
    if !s.engine.faults.is_empty() {
        return Err(ClusterError::Unsupported(
            "node failures, spot reclaims and scripted outages ([faults])".into(),
        ));
    }
    Ok(())
}

/// The simulation again, with its placement policy wrapped to record each
/// job's nodes (the engine's [`RunResult`] does not keep them). `None` if
/// the replay did not reproduce `sim` exactly (then placements are not
/// compared).
fn record_placements(
    scenario: &Scenario,
    sim: &ScenarioRun,
) -> Result<Option<BTreeMap<JobId, Vec<NodeId>>>, ClusterError> {
    let log = Arc::new(Mutex::new(BTreeMap::new()));
    let recorder = Recorder {
        inner: scenario.build_placement(&sim.workload)?,
        log: log.clone(),
        current: Vec::new(),
        current_job: None,
    };
    let replay = Simulation::new(
        &sim.workload,
        &scenario.cluster.pools,
        scenario.build_scheduler()?,
        Box::new(recorder),
        scenario.engine.clone(),
    )
    .run(|_| {})
    .map_err(|e| ClusterError::Simulation(e.to_string()))?;
    if replay.outcomes != sim.result.outcomes {
        return Ok(None);
    }
    let map = log.lock().map(|m| m.clone()).unwrap_or_default();
    Ok(Some(map))
}

/// Records the nodes of every gang the wrapped policy placed completely.
struct Recorder {
    inner: Box<dyn Placement>,
    log: Arc<Mutex<BTreeMap<JobId, Vec<NodeId>>>>,
    /// The workers of the gang being placed so far, and its job.
    current: Vec<NodeId>,
    current_job: Option<JobId>,
}

impl Placement for Recorder {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn place(
        &mut self,
        view: crate::cluster::ClusterView<'_>,
        job: &Job,
        req: &WorkerRequest<'_>,
    ) -> Option<NodeId> {
        // The engine asks for a gang's workers in a row, applying each, and
        // gives up on the gang at the first refusal.
        let placed = self.inner.place(view, job, req);
        match placed {
            Some(n) => {
                if self.current_job != Some(job.id) || self.current.len() >= job.workers as usize {
                    self.current.clear();
                    self.current_job = Some(job.id);
                }
                self.current.push(n);
                if self.current.len() == job.workers as usize
                    && let Ok(mut log) = self.log.lock()
                {
                    log.insert(job.id, std::mem::take(&mut self.current));
                    self.current_job = None;
                }
            }
            None => {
                self.current.clear();
                self.current_job = None;
            }
        }
        placed
    }

    fn gpus(
        &mut self,
        view: crate::cluster::ClusterView<'_>,
        node: &crate::cluster::Node,
        req: &WorkerRequest<'_>,
    ) -> Option<Vec<GpuShare>> {
        self.inner.gpus(view, node, req)
    }
}

/// A message from a watch task, stamped when it arrived.
enum Watched {
    Pod(Box<Pod>),
    PodGone(Box<Pod>),
    /// A node reported the Ready condition True.
    NodeReady(String),
    NodeGone(String),
}

/// The driver's view of one worker pod.
#[derive(Debug, Clone, Default)]
struct PodTrack {
    bound_at: Option<Instant>,
    running_at: Option<Instant>,
    succeeded_at: Option<Instant>,
}

/// The driver's view of one job's pods.
#[derive(Debug, Clone, Default)]
struct JobPods {
    /// Generation of the current pod set (see [`objects::LABEL_GENERATION`]).
    generation: u32,
    /// The current generation's pods exist.
    created: bool,
    /// The run-for the pods were created with, scenario ms.
    run_for: Millis,
    workers: Vec<PodTrack>,
    /// First time the whole gang was observed Running.
    first_running: Option<SimTime>,
    /// When the whole gang was observed Succeeded.
    end: Option<SimTime>,
    /// Nodes of the last run.
    nodes: Vec<NodeId>,
}

/// Converts between the wall clock and scenario time.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    /// Scenario ms at `start` (the first submission).
    t0: u64,
    speedup: f64,
}

impl Clock {
    fn sim(&self, at: Instant) -> SimTime {
        let wall_ms = at.saturating_duration_since(self.start).as_secs_f64() * 1000.0;
        SimTime(self.t0 + (wall_ms * self.speedup).round() as u64)
    }
    fn wall(&self, t: SimTime) -> Instant {
        self.start + self.wall_span(t.0.saturating_sub(self.t0))
    }
    fn wall_span(&self, ms: Millis) -> Duration {
        Duration::from_secs_f64(ms as f64 / 1000.0 / self.speedup)
    }
}

/// The API handles and counters of a run.
struct Ctx<'a> {
    run_id: &'a str,
    ns: String,
    pods: Api<Pod>,
    nodes: Api<Node>,
    /// KWOK's node heartbeat leases (`kube-node-lease`).
    leases: Api<Lease>,
    server: &'a str,
    stats: Arc<ApiStats>,
}

/// Creates the pods of one generation of a job's gang (a pod that already
/// exists counts as created: a retried create may have succeeded before).
async fn create_pods(
    ctx: &Ctx<'_>,
    job: &Job,
    generation: u32,
    run_for: Duration,
) -> Result<(), ClusterError> {
    let calls = (0..job.workers).map(|w| {
        let pod = objects::worker_pod(ctx.run_id, job, w, generation, run_for);
        async move {
            let pp = PostParams::default();
            match with_retry(&ctx.stats, || ctx.pods.create(&pp, &pod)).await {
                Ok(_) => Ok(()),
                Err(e) if is_conflict(&e) => Ok(()),
                Err(e) => Err(classify(e, "create pod", ctx.server)),
            }
        }
    });
    futures::future::join_all(calls).await.into_iter().collect()
}

/// Binds every worker of a gang to its node, concurrently; returns when each
/// was bound, or the first error.
async fn bind_gang(
    ctx: &Ctx<'_>,
    job: JobId,
    generation: u32,
    targets: &[(String, String)],
) -> Result<Vec<Instant>, kube::Error> {
    let calls = targets.iter().enumerate().map(|(w, (node, gpus))| {
        let name = objects::pod_name(job, w as u32, generation);
        let body = objects::binding(&ctx.ns, &name, node, gpus);
        async move {
            let pp = PostParams::default();
            with_retry(&ctx.stats, || {
                ctx.pods
                    .create_subresource::<_, serde_json::Value>("binding", &name, &pp, &body)
            })
            .await
            .map(|_| Instant::now())
        }
    });
    futures::future::join_all(calls).await.into_iter().collect()
}

/// Deletes one generation of a job's pods at once (grace period 0).
async fn delete_pods(
    ctx: &Ctx<'_>,
    job: JobId,
    workers: u32,
    generation: u32,
) -> Result<(), ClusterError> {
    let dp = DeleteParams::default().grace_period(0);
    let calls = (0..workers).map(|w| {
        let name = objects::pod_name(job, w, generation);
        let dp = &dp;
        async move {
            match with_retry(&ctx.stats, || ctx.pods.delete(&name, dp)).await {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) => Err(classify(e, "delete pod", ctx.server)),
            }
        }
    });
    futures::future::join_all(calls).await.into_iter().collect()
}

/// Creates the namespace and nodes, runs the scenario, and returns what was
/// observed. Cleanup is the caller's.
async fn drive(
    conn: &Connection,
    scenario: &Scenario,
    sim: &ScenarioRun,
    run_id: &str,
    opts: &RunOptions,
    stats: Arc<ApiStats>,
) -> Result<(RunResult, Observed), ClusterError> {
    let client = conn.client.clone();
    let server = conn.server.as_str();
    let workload: &Workload = &sim.workload;
    let ns = objects::namespace_name(run_id);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let pp = PostParams::default();
    let ns_object = objects::namespace(run_id);
    with_retry(&stats, || namespaces.create(&pp, &ns_object))
        .await
        .map_err(|e| classify(e, "create namespace", server))?;
    // One fake node per scenario node, named after its ledger id.
    let ledger = crate::cluster::Cluster::new(&scenario.cluster.pools);
    let node_names: Vec<String> = ledger
        .nodes()
        .iter()
        .map(|n| objects::node_name(run_id, &scenario.cluster.pools[n.pool.index()].name, n.id))
        .collect();
    let nodes_api: Api<Node> = Api::all(client.clone());
    for n in ledger.nodes() {
        let pool = &scenario.cluster.pools[n.pool.index()];
        let node = objects::fake_node(run_id, pool, n.id);
        with_retry(&stats, || nodes_api.create(&pp, &node))
            .await
            .map_err(|e| classify(e, "create node", server))?;
    }
    wait_nodes_ready(&nodes_api, run_id, node_names.len(), &stats, server).await?;

    // Watches, forwarded with their arrival instant so that time spent in
    // API calls of the loop does not delay the timestamps.
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Watched)>();
    let selector = objects::selector(Some(run_id));
    let pod_task = {
        let tx = tx.clone();
        let stats = stats.clone();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let cfg = watcher::Config::default().labels(&selector);
        tokio::spawn(async move {
            let mut s = watcher::watcher(api, cfg).default_backoff().boxed();
            while let Some(ev) = s.next().await {
                let at = Instant::now();
                let msg = match ev {
                    Ok(Event::Apply(p) | Event::InitApply(p)) => Watched::Pod(Box::new(p)),
                    Ok(Event::Delete(p)) => Watched::PodGone(Box::new(p)),
                    Ok(Event::Init | Event::InitDone) => continue,
                    Err(_) => {
                        stats
                            .watch_errors
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        continue;
                    }
                };
                if tx.send((at, msg)).is_err() {
                    break;
                }
            }
        })
    };
    let node_task = {
        let tx = tx.clone();
        let stats = stats.clone();
        let api: Api<Node> = Api::all(client.clone());
        let cfg = watcher::Config::default().labels(&selector);
        tokio::spawn(async move {
            let mut s = watcher::watcher(api, cfg).default_backoff().boxed();
            while let Some(ev) = s.next().await {
                let at = Instant::now();
                let msg = match ev {
                    Ok(Event::Delete(n)) => Watched::NodeGone(n.metadata.name.unwrap_or_default()),
                    // Nodes added by the autoscaler are schedulable once KWOK
                    // has made them Ready (repeats are ignored by the loop).
                    Ok(Event::Apply(n) | Event::InitApply(n)) if node_is_ready(&n) => {
                        Watched::NodeReady(n.metadata.name.unwrap_or_default())
                    }
                    Ok(_) => continue,
                    Err(_) => {
                        stats
                            .watch_errors
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        continue;
                    }
                };
                if tx.send((at, msg)).is_err() {
                    break;
                }
            }
        })
    };
    drop(tx);
    let result = event_loop(
        scenario,
        sim,
        workload,
        &Ctx {
            run_id,
            ns: ns.clone(),
            pods: Api::namespaced(client.clone(), &ns),
            nodes: nodes_api.clone(),
            leases: Api::namespaced(client.clone(), "kube-node-lease"),
            server,
            stats: stats.clone(),
        },
        node_names,
        opts,
        &mut rx,
    )
    .await;
    pod_task.abort();
    node_task.abort();
    result
}

async fn wait_nodes_ready(
    nodes: &Api<Node>,
    run_id: &str,
    total: usize,
    stats: &ApiStats,
    server: &str,
) -> Result<(), ClusterError> {
    let lp = ListParams::default().labels(&objects::selector(Some(run_id)));
    let deadline = Instant::now() + NODES_READY_TIMEOUT;
    loop {
        let list = with_retry(stats, || nodes.list(&lp))
            .await
            .map_err(|e| classify(e, "list nodes", server))?;
        let ready = list.items.iter().filter(|n| node_is_ready(n)).count();
        if ready == total {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(ClusterError::NodesNotReady {
                ready,
                total,
                timeout_s: NODES_READY_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The node's Ready condition is True (KWOK sets it on the nodes it manages).
fn node_is_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Creates the KWOK Node of a scaled-up ledger node (one that already exists
/// counts as created: a retried create may have succeeded before).
async fn create_node(ctx: &Ctx<'_>, node: &Node) -> Result<(), ClusterError> {
    let pp = PostParams::default();
    match with_retry(&ctx.stats, || ctx.nodes.create(&pp, node)).await {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => Ok(()),
        Err(e) => Err(classify(e, "create node", ctx.server)),
    }
}

/// Deletes a scaled-down Node and its KWOK lease, as `cluster clean` does
/// (a bare control plane runs no garbage collector to remove the lease).
async fn delete_node(ctx: &Ctx<'_>, name: &str) -> Result<(), ClusterError> {
    let dp = DeleteParams::default().grace_period(0);
    match with_retry(&ctx.stats, || ctx.nodes.delete(name, &dp)).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(classify(e, "delete node", ctx.server)),
    }
    match with_retry(&ctx.stats, || ctx.leases.delete(name, &dp)).await {
        Ok(_) => Ok(()),
        // KWOK may not have created the lease yet; a least-privilege user
        // may not delete leases (the node is gone either way).
        Err(e) if is_not_found(&e) || matches!(&e, kube::Error::Api(s) if s.code == 403) => Ok(()),
        Err(e) => Err(classify(e, "delete node lease", ctx.server)),
    }
}

/// Wall-clock seconds since the Unix epoch of an API timestamp.
fn api_secs(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> f64 {
    t.0.as_millisecond() as f64 / 1000.0
}

/// The API's own time of a pod's Running (container start) and Succeeded
/// (container finish) transitions, Unix seconds.
fn api_times(pod: &Pod) -> (Option<f64>, Option<f64>) {
    let Some(cs) = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
    else {
        return (None, None);
    };
    let state = cs.state.as_ref();
    let running = state
        .and_then(|s| s.running.as_ref())
        .and_then(|r| r.started_at.as_ref())
        .map(api_secs);
    let finished = state
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.finished_at.as_ref())
        .map(api_secs);
    (running, finished)
}

#[allow(clippy::too_many_arguments)]
async fn event_loop(
    scenario: &Scenario,
    sim: &ScenarioRun,
    workload: &Workload,
    ctx: &Ctx<'_>,
    mut node_names: Vec<String>,
    opts: &RunOptions,
    rx: &mut mpsc::UnboundedReceiver<(Instant, Watched)>,
) -> Result<(RunResult, Observed), ClusterError> {
    let t0 = workload.jobs.first().map_or(0, |j| j.submit.0);
    let clock = Clock {
        start: Instant::now(),
        t0,
        speedup: opts.speedup,
    };
    // The wall clock's Unix time at `clock.start`, for the API-time check.
    let unix_start = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let unix_of =
        |at: Instant| unix_start + at.saturating_duration_since(clock.start).as_secs_f64();
    let config = &scenario.engine;
    let mut scheduler = scenario.build_scheduler()?;
    let mut mirror = Mirror::new(
        workload,
        &scenario.cluster.pools,
        scenario.build_placement(workload)?,
        config,
        SimTime(t0),
    );
    let max_wall = opts.max_wall.unwrap_or_else(|| {
        clock
            .wall_span(sim.result.end_time.0.saturating_sub(t0))
            .mul_f64(1.5)
            + Duration::from_secs(60)
    });
    let deadline = clock.start + max_wall;
    let horizon = config.horizon.map(|h| clock.wall(h));
    let mut pods: Vec<JobPods> = workload
        .jobs
        .iter()
        .map(|j| JobPods {
            workers: vec![PodTrack::default(); j.workers as usize],
            ..JobPods::default()
        })
        .collect();
    let mut observed = Observed {
        complete: false,
        ..Observed::default()
    };
    let mut timeline: Vec<Sample> = Vec::new();
    let mut next_arrival = 0usize;
    let mut next_sample = (config.sample_interval > 0).then_some(SimTime(0));
    let mut next_tick = config.schedule_interval.map(|iv| SimTime(iv.max(1)));
    let mut retry_pass: Option<Instant> = None;
    let mut last_completion = SimTime(t0);
    let mut events: u64 = 0;
    let mut bind_failures: u64 = 0;
    let mut last_report = Instant::now();
    let mut first_starts: Vec<JobId> = Vec::new();
    let mut horizon_reached = false;
    let mut pool_nodes: Vec<Vec<u32>> = Vec::new();
    // The cluster-autoscaler, built as the engine builds it (same spec, same
    // seed: the same provisioning delays are drawn for the same decisions),
    // scanning on the engine's grid (scenario time 0, then every interval).
    let mut autoscaler = match &config.autoscaler {
        Some((spec, seed)) => Some(
            ClusterAutoscaler::new(spec.clone(), &scenario.cluster.pools, *seed)
                .map_err(|m| ClusterError::Simulation(format!("autoscaler: {m}")))?,
        ),
        None => None,
    };
    let mut next_scan = autoscaler.as_ref().map(|_| SimTime(0));
    observed.autoscaled = autoscaler.is_some();
    let mut requested_at: BTreeMap<NodeId, SimTime> = BTreeMap::new();
    // Scaled-up nodes whose Node object is created once their drawn
    // provisioning delay has elapsed: (due, node).
    let mut to_create: BTreeSet<(SimTime, NodeId)> = BTreeSet::new();
    // Node objects created by scale-ups, and when (for the Ready latency).
    let mut created: BTreeMap<NodeId, Instant> = BTreeMap::new();

    loop {
        // What the clock waits for next.
        let mut wake = deadline;
        if let Some(j) = workload.jobs.get(next_arrival) {
            wake = wake.min(clock.wall(j.submit));
        }
        let next_create = to_create.first().map(|&(t, _)| t);
        for t in [
            next_sample,
            next_tick,
            mirror.next_wakeup(),
            next_scan,
            next_create,
        ]
        .into_iter()
        .flatten()
        {
            wake = wake.min(clock.wall(t));
        }
        if let Some(r) = retry_pass {
            wake = wake.min(r);
        }
        if let Some(h) = horizon {
            wake = wake.min(h);
        }
        let mut need_pass = false;
        let mut scans_due: Vec<SimTime> = Vec::new();
        tokio::select! {
            biased;
            msg = rx.recv() => {
                let Some((at, msg)) = msg else {
                    return Err(ClusterError::WatchEnded("pod"));
                };
                events += 1;
                match msg {
                    Watched::NodeGone(name) => {
                        // Nodes the autoscaler removed are expected to go.
                        let removed = node_names.iter().position(|n| *n == name).is_some_and(|i| {
                            mirror.ledger().nodes()[i].state() == NodeState::Removed
                        });
                        if !removed {
                            return Err(ClusterError::NodeLost(name));
                        }
                    }
                    Watched::NodeReady(name) => {
                        // The engine's `NodeUp`: the node takes work (a pass
                        // follows) and is no longer provisioning.
                        if let Some(i) = node_names.iter().position(|n| *n == name) {
                            let id = NodeId::from_index(i);
                            if mirror.node_ready(id, clock.sim(at)) {
                                requested_at.remove(&id);
                                if let Some(c) = created.get(&id) {
                                    observed.node_ready_latency_ms.push(
                                        at.saturating_duration_since(*c).as_secs_f64() * 1000.0,
                                    );
                                }
                                need_pass = true;
                            }
                        }
                    }
                    Watched::Pod(pod) => {
                        let (pass, lost) = on_pod(
                            &pod, false, at, &clock, &unix_of, workload, &mut mirror, &mut pods,
                            &mut observed, &mut last_completion,
                        );
                        need_pass |= pass;
                        if let Some((job, generation)) = lost {
                            delete_pods(ctx, job, workload.job(job).workers, generation).await?;
                        }
                    }
                    Watched::PodGone(pod) => {
                        let (pass, lost) = on_pod(
                            &pod, true, at, &clock, &unix_of, workload, &mut mirror, &mut pods,
                            &mut observed, &mut last_completion,
                        );
                        need_pass |= pass;
                        if let Some((job, generation)) = lost {
                            delete_pods(ctx, job, workload.job(job).workers, generation).await?;
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                if horizon.is_some_and(|h| now >= h) {
                    // The scenario's horizon: a normal end, as in the engine.
                    horizon_reached = true;
                    break;
                }
                let sim_now = clock.sim(now);
                // Scaled-up nodes whose provisioning delay has elapsed: their
                // Node objects now (KWOK makes them Ready; the watch tells).
                while let Some(&(t, id)) = to_create.first() {
                    if clock.wall(t) > now {
                        break;
                    }
                    to_create.pop_first();
                    let n = &mirror.ledger().nodes()[id.index()];
                    if n.state() == NodeState::Provisioning {
                        let pool = &scenario.cluster.pools[n.pool.index()];
                        create_node(ctx, &objects::fake_node(ctx.run_id, pool, id)).await?;
                        created.insert(id, Instant::now());
                    }
                }
                // Scans due run after this wake-up's pass, as in the engine
                // (the pass comes before the scan at one instant).
                while let Some(t) = next_scan.filter(|&t| clock.wall(t) <= now) {
                    scans_due.push(t);
                    next_scan = autoscaler
                        .as_ref()
                        .map(|a| SimTime(t.0 + a.scan_interval().max(1)));
                }
                // Arrivals due: their pods first, then one pass for all.
                while let Some(job) = workload.jobs.get(next_arrival) {
                    if clock.wall(job.submit) > now {
                        break;
                    }
                    next_arrival += 1;
                    events += 1;
                    if mirror.arrive(job.id, job.submit.max(SimTime(t0))) {
                        let p = &mut pods[job.id.index()];
                        p.run_for = mirror.run_length(job.id);
                        create_pods(ctx, job, p.generation, clock.wall_span(p.run_for)).await?;
                        p.created = true;
                        need_pass = true;
                    }
                }
                // Samples on the engine's grid (multiples of the interval).
                while let Some(t) = next_sample.filter(|&t| clock.wall(t) <= now) {
                    timeline.push(sample(&mirror, t));
                    pool_nodes.push(mirror.ready_per_pool());
                    next_sample = Some(SimTime(t.0 + config.sample_interval));
                }
                if let Some(t) = next_tick.filter(|&t| clock.wall(t) <= now) {
                    need_pass = true;
                    next_tick = Some(SimTime(t.0 + config.schedule_interval.unwrap_or(1).max(1)));
                }
                if mirror.next_wakeup().is_some_and(|w| w <= sim_now) {
                    need_pass = true;
                }
                if retry_pass.is_some_and(|r| r <= now) {
                    retry_pass = None;
                    need_pass = true;
                }
            }
        }
        if need_pass {
            let now = Instant::now();
            let sim_now = clock.sim(now);
            let decisions = mirror
                .pass(scheduler.as_mut(), sim_now)
                .map_err(ClusterError::Policy)?;
            // Victims first: their pods go, and come back when they restart.
            for &v in &decisions.preempted {
                let p = &mut pods[v.index()];
                if p.created {
                    let (g, w) = (p.generation, workload.job(v).workers);
                    p.generation += 1;
                    p.created = false;
                    p.workers = vec![PodTrack::default(); w as usize];
                    delete_pods(ctx, v, w, g).await?;
                }
            }
            let mut new_first: Vec<JobId> = Vec::new();
            for &j in &decisions.started {
                if mirror.state(j) != JobState::Running {
                    continue; // preempted again later in the same pass
                }
                let job = workload.job(j);
                let run_for = mirror.run_length(j);
                let p = &mut pods[j.index()];
                if !p.created {
                    p.run_for = run_for;
                    create_pods(ctx, job, p.generation, clock.wall_span(run_for)).await?;
                    p.created = true;
                } else if p.run_for != run_for {
                    // Created at arrival without knowing the placement (a
                    // gang spanning racks runs slower): correct it.
                    p.run_for = run_for;
                    let patch = serde_json::json!({"metadata": {"annotations": {
                        objects::ANNOTATION_RUN_FOR: objects::go_duration(clock.wall_span(run_for))
                    }}});
                    let patch_params = PatchParams::default();
                    let merge = Patch::Merge(&patch);
                    for w in 0..job.workers {
                        let name = objects::pod_name(j, w, p.generation);
                        with_retry(&ctx.stats, || ctx.pods.patch(&name, &patch_params, &merge))
                            .await
                            .map_err(|e| classify(e, "patch pod", ctx.server))?;
                    }
                }
                let allocs = mirror.allocations(j);
                let targets: Vec<(String, String)> = allocs
                    .iter()
                    .map(|a| {
                        (
                            node_names[a.node.index()].clone(),
                            objects::gpus_annotation(&a.gpus),
                        )
                    })
                    .collect();
                let nodes: Vec<NodeId> = allocs.iter().map(|a| a.node).collect();
                let generation = p.generation;
                match bind_gang(ctx, j, generation, &targets).await {
                    Ok(bound) => {
                        let p = &mut pods[j.index()];
                        for (w, at) in bound.into_iter().enumerate() {
                            p.workers[w] = PodTrack {
                                bound_at: Some(at),
                                ..PodTrack::default()
                            };
                        }
                        p.nodes = nodes;
                        if mirror.starts(j) == 1 {
                            new_first.push(j);
                        }
                    }
                    Err(_) => {
                        // All or nothing: the gang's pods go and the job waits
                        // again; it gets new pods when it next starts.
                        bind_failures += 1;
                        mirror.abort_start(j, clock.sim(Instant::now()));
                        let p = &mut pods[j.index()];
                        let g = p.generation;
                        p.generation += 1;
                        p.created = false;
                        p.workers = vec![PodTrack::default(); job.workers as usize];
                        delete_pods(ctx, j, job.workers, g).await?;
                        retry_pass = Some(Instant::now() + BIND_RETRY_DELAY);
                    }
                }
            }
            new_first.sort_unstable();
            first_starts.extend(new_first);
        }
        if let Some(a) = autoscaler.as_mut() {
            for t in scans_due {
                let pending = mirror.unplaceable_gangs();
                let decisions = a.scan(&ScanInput {
                    now: t,
                    cluster: mirror.ledger(),
                    requested_at: &requested_at,
                    pending: &pending,
                });
                for d in decisions {
                    match d {
                        Decision::ScaleUp {
                            pool,
                            provisioning_ms,
                            ..
                        } => {
                            observed.scale_ups += 1;
                            for delay in provisioning_ms {
                                let id = mirror.add_node(pool, t);
                                // Ledger ids are dense and never reused.
                                debug_assert_eq!(id.index(), node_names.len());
                                node_names.push(objects::node_name(
                                    ctx.run_id,
                                    &scenario.cluster.pools[pool.index()].name,
                                    id,
                                ));
                                requested_at.insert(id, t);
                                to_create.insert((SimTime(t.0 + delay), id));
                                observed.nodes_added += 1;
                            }
                        }
                        Decision::ScaleDown { node } | Decision::GiveUp { node } => {
                            if mirror.remove_node(node, t) {
                                requested_at.remove(&node);
                                to_create.retain(|&(_, n)| n != node);
                                if created.contains_key(&node) {
                                    delete_node(ctx, &node_names[node.index()]).await?;
                                }
                                observed.nodes_removed += 1;
                            }
                        }
                    }
                }
            }
            // The engine scans only while work remains.
            let work_remains = next_arrival < workload.jobs.len()
                || !mirror.running_jobs().is_empty()
                || mirror.next_wakeup().is_some();
            if !work_remains {
                next_scan = None;
            }
        }
        if mirror.all_final() {
            observed.complete = true;
            break;
        }
        // Nothing can change any more (the engine's `work_remains`): jobs
        // still pending never start.
        if next_arrival >= workload.jobs.len()
            && mirror.running_jobs().is_empty()
            && mirror.next_wakeup().is_none()
            && retry_pass.is_none()
            && !mirror
                .ledger()
                .nodes()
                .iter()
                .any(|n| n.state() == NodeState::Provisioning)
        {
            observed.complete = true;
            break;
        }
        if opts.progress && last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            let finished = pods.iter().filter(|p| p.end.is_some()).count();
            eprintln!(
                "[cluster] {:>6.0} s wall, scenario t={:.0} s: {finished}/{} finished, {} running, {} pending",
                clock.start.elapsed().as_secs_f64(),
                clock.sim(last_report).as_secs_f64(),
                workload.jobs.len(),
                mirror.running_jobs().len(),
                mirror.pending_jobs().len()
            );
        }
    }
    let stop = Instant::now();
    let end_time = if horizon_reached {
        observed.complete = true;
        config.horizon.unwrap_or_else(|| clock.sim(stop))
    } else if observed.complete {
        last_completion
    } else {
        clock.sim(stop)
    };
    mirror.advance(end_time);
    observed.wall_s = stop.saturating_duration_since(clock.start).as_secs_f64();
    let (retries, errors, watch_errors) = ctx.stats.snapshot();
    observed.api = ApiCounts {
        retries,
        errors,
        watch_errors,
        bind_failures,
    };
    observed.start_order = first_starts;
    for (i, p) in pods.iter().enumerate() {
        if !p.nodes.is_empty() {
            observed
                .placements
                .insert(JobId::from_index(i), p.nodes.clone());
        }
    }
    let ledger = mirror.ledger();
    let outcomes = workload
        .jobs
        .iter()
        .map(|job| {
            let (state, preemptions, first_decision, _, lost) = mirror.outcome(job.id);
            let p = &pods[job.id.index()];
            let mut nodes = p.nodes.clone();
            nodes.sort_unstable();
            nodes.dedup();
            JobOutcome {
                job: job.id,
                status: match state {
                    JobState::NotArrived => JobStatus::NotArrived,
                    JobState::Pending => JobStatus::Pending,
                    JobState::Running => JobStatus::Running,
                    JobState::Finished => JobStatus::Finished,
                    JobState::Unschedulable => JobStatus::Unschedulable,
                    JobState::Failed => JobStatus::Failed,
                },
                // Observed Running; the decision if the Running event never
                // came (the run stopped first).
                start: p.first_running.or(first_decision),
                end: p.end,
                nodes_used: nodes.len() as u32,
                preemptions,
                failures: 0,
                restarts: mirror.starts(job.id).saturating_sub(1),
                lost_gpu_milli_ms: u128::from(lost) * u128::from(job.total_gpu_milli()),
                // Cluster mode runs rigid gangs only.
                resizes: 0,
                run_ms: mirror.ran_ms(job.id),
                worker_ms: u128::from(job.workers) * u128::from(mirror.ran_ms(job.id)),
                // Cluster mode does not classify why a job waited (the
                // engine's reasons need its event-by-event view): all zero.
                wait_by_reason: Default::default(),
            }
        })
        .collect();
    let capacity = ledger.gpu_milli_capacity();
    // Every node is paid from its request (or scenario time 0) to its
    // removal, as in the engine.
    let (capacity_integral, node_ms) = mirror.paid_until(end_time);
    let result = RunResult {
        outcomes,
        timeline,
        pool_nodes,
        gpu_milli_capacity: capacity,
        gpu_alloc_integral: mirror.alloc_integral(),
        gpu_capacity_integral: capacity_integral,
        end_time,
        pools: scenario
            .cluster
            .pools
            .iter()
            .zip(node_ms)
            .map(|(p, node_ms)| PoolUsage {
                name: p.name.clone(),
                kind: p.kind,
                gpus_per_node: p.gpus_per_node,
                price_per_node_hour: p.price_per_node_hour,
                node_ms,
            })
            .collect(),
        node_outages: 0,
        services: Vec::new(),
        events,
    };
    Ok((result, observed))
}

fn sample(mirror: &Mirror<'_>, time: SimTime) -> Sample {
    let c = mirror.ledger();
    Sample {
        time,
        gpu_milli_used: c.gpu_milli_used(),
        pending_jobs: mirror.pending_jobs().len() as u32,
        running_jobs: mirror.running_jobs().len() as u32,
        busy_nodes: c.busy_nodes(),
        gpu_milli_capacity: c.gpu_milli_capacity(),
        nodes_ready: c.nodes().iter().filter(|n| n.is_ready()).count() as u32,
        nodes_provisioning: c
            .nodes()
            .iter()
            .filter(|n| n.state() == NodeState::Provisioning)
            .count() as u32,
    }
}

/// Handles one pod watch event. Returns whether a scheduling pass is due,
/// and the job and pod generation to delete when a running gang lost a pod
/// (deleted by someone else, or Failed): the job then waits again.
#[allow(clippy::too_many_arguments)]
fn on_pod(
    pod: &Pod,
    gone: bool,
    at: Instant,
    clock: &Clock,
    unix_of: &dyn Fn(Instant) -> f64,
    workload: &Workload,
    mirror: &mut Mirror<'_>,
    pods: &mut [JobPods],
    observed: &mut Observed,
    last_completion: &mut SimTime,
) -> (bool, Option<(JobId, u32)>) {
    let label = |k: &str| -> Option<u32> {
        pod.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(k))
            .and_then(|v| v.parse().ok())
    };
    let (Some(job), Some(worker), Some(generation)) = (
        label(objects::LABEL_JOB),
        label(objects::LABEL_WORKER),
        label(objects::LABEL_GENERATION),
    ) else {
        return (false, None);
    };
    let id = JobId(job);
    let Some(p) = pods.get_mut(id.index()) else {
        return (false, None);
    };
    // Only the current generation of a running job matters: older pods are
    // ones schedlab deleted.
    if p.generation != generation
        || mirror.state(id) != JobState::Running
        || worker as usize >= p.workers.len()
    {
        return (false, None);
    }
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("");
    let w = &mut p.workers[worker as usize];
    if gone || phase == "Failed" {
        if w.succeeded_at.is_some() {
            return (false, None);
        }
        // All or nothing: the rest of the gang goes too, and the job starts
        // again later with new pods. (Neither happens on KWOK nodes unless
        // someone else deletes schedlab's pods.)
        mirror.abort_start(id, clock.sim(at));
        let old = p.generation;
        p.generation += 1;
        p.created = false;
        p.workers = vec![PodTrack::default(); workload.job(id).workers as usize];
        return (true, Some((id, old)));
    }
    let (api_running, api_finished) = api_times(pod);
    if (phase == "Running" || phase == "Succeeded") && w.running_at.is_none() {
        w.running_at = Some(at);
        if let Some(b) = w.bound_at {
            observed
                .pod_start_latency_ms
                .push(at.saturating_duration_since(b).as_secs_f64() * 1000.0);
        }
        if phase == "Running"
            && let Some(api) = api_running
        {
            observed.api_skew_s.push((api - unix_of(at)).abs());
        }
        if p.workers.iter().all(|w| w.running_at.is_some()) {
            let t = clock.sim(at);
            mirror.mark_running(id, t);
            p.first_running.get_or_insert(t);
        }
    }
    let w = &mut p.workers[worker as usize];
    if phase == "Succeeded" && w.succeeded_at.is_none() {
        w.succeeded_at = Some(at);
        if let Some(r) = w.running_at {
            let ran_ms = at.saturating_duration_since(r).as_secs_f64() * 1000.0;
            let run_for_ms = clock.wall_span(p.run_for).as_secs_f64() * 1000.0;
            observed.pod_completion_lag_ms.push(ran_ms - run_for_ms);
        }
        if let Some(api) = api_finished {
            observed.api_skew_s.push((api - unix_of(at)).abs());
        }
        if p.workers.iter().all(|w| w.succeeded_at.is_some()) {
            let t = clock.sim(at);
            mirror.complete(id, t);
            p.end = Some(t);
            *last_completion = (*last_completion).max(t);
            return (true, None);
        }
    }
    (false, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_maps_wall_time_to_scenario_time_by_the_speedup() {
        let start = Instant::now();
        let c = Clock {
            start,
            t0: 5_000,
            speedup: 60.0,
        };
        assert_eq!(c.sim(start), SimTime(5_000));
        assert_eq!(c.sim(start + Duration::from_millis(1_500)), SimTime(95_000));
        assert_eq!(c.wall(SimTime(65_000)), start + Duration::from_secs(1));
        assert_eq!(c.wall_span(90_000), Duration::from_millis(1_500));
    }
}
