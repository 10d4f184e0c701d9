//! Inference services in the engine: replicas are long-running pods placed by
//! the scenario's placement policy, scaled by the HPA on the service's request
//! rate, and given room by preempting lower-priority training jobs (how
//! Kubernetes shares a cluster between Deployments and batch work). Each sync
//! records the latency the replicas give, for the SLO report.

use crate::cluster::{WorkerAlloc, WorkerRequest};
use crate::ids::{JobId, TenantId};
use crate::inference::hpa::Hpa;
use crate::inference::rate::RateSeries;
use crate::inference::rollout::Rollout;
use crate::inference::service::{ServiceSpec, SloReport, SloSample};
use crate::time::{Millis, SimTime};
use crate::workload::Job;

use super::Core;

/// A service as the engine runs it: its spec and its request rate.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    pub spec: ServiceSpec,
    pub rate: RateSeries,
}

/// What one service did over the run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceResult {
    pub name: String,
    #[serde(flatten)]
    pub slo: SloReport,
    /// Training jobs preempted to make room for its replicas.
    pub preemptions_caused: u64,
    /// Syncs at which fewer replicas ran than the HPA wanted.
    pub short_syncs: u64,
    /// Rolling updates completed, and when (seconds).
    pub rollouts_completed: u64,
    pub rollouts_completed_at_s: Vec<f64>,
}

/// The engine's state of one service.
pub(super) struct ServiceState {
    pub cfg: ServiceConfig,
    pub hpa: Option<Hpa>,
    /// A stand-in job with the replica's shape, for the placement policy.
    pub shape: Job,
    pub replicas: Vec<WorkerAlloc>,
    pub samples: Vec<SloSample>,
    pub preemptions_caused: u64,
    pub short_syncs: u64,
    pub sync_period: Millis,
    /// The rolling update in progress: its controller, the new version's
    /// placed pods and the ones it wants but could not place yet.
    pub rollout: Option<Rollout>,
    pub new_replicas: Vec<WorkerAlloc>,
    pub unplaced_new: u32,
    /// Index of the next rollout in the spec.
    pub next_rollout: usize,
    pub rollouts_done: u64,
    pub rollouts_done_at: Vec<SimTime>,
}

impl ServiceState {
    pub(super) fn new(cfg: ServiceConfig) -> ServiceState {
        let hpa = cfg
            .spec
            .hpa
            .as_ref()
            .map(|h| Hpa::new(h).expect("the scenario validated the HPA"));
        let sync_period = hpa.as_ref().map_or(15_000, Hpa::sync_period_ms);
        let shape = Job {
            id: JobId(u32::MAX),
            name: cfg.spec.name.clone(),
            submit: SimTime::ZERO,
            tenant: TenantId(u32::MAX),
            priority: cfg.spec.priority,
            workers: 1,
            gpu: cfg
                .spec
                .replica
                .gpu()
                .expect("the scenario validated the replica shape"),
            cpu_milli: cfg.spec.replica.cpu_milli,
            memory_mib: cfg.spec.replica.memory_mib,
            gpu_models: Vec::new(),
            duration: Millis::MAX,
            status: None,
            elastic: None,
        };
        ServiceState {
            cfg,
            hpa,
            shape,
            replicas: Vec::new(),
            samples: Vec::new(),
            preemptions_caused: 0,
            short_syncs: 0,
            sync_period,
            rollout: None,
            new_replicas: Vec::new(),
            unplaced_new: 0,
            next_rollout: 0,
            rollouts_done: 0,
            rollouts_done_at: Vec::new(),
        }
    }
}

impl Core<'_> {
    /// One sync of service `i`: the HPA picks the replica count from the
    /// utilisation of the ready replicas, replicas are added (preempting
    /// lower-priority training jobs when needed) or removed, and the latency
    /// the ready replicas give is recorded.
    pub(super) fn service_sync(&mut self, i: usize) {
        let now = self.now;
        let svc = &mut self.services[i];
        let rate = svc.cfg.rate.rate_at(now);
        let cap = svc.cfg.spec.capacity_rps;
        let current = (svc.replicas.len() + svc.new_replicas.len()) as u32;
        let desired = match &mut svc.hpa {
            // Before any replica runs there is no metric: start the initial set.
            Some(hpa) if current > 0 => {
                let util = rate / (f64::from(current) * cap);
                hpa.sync(now, current, current, util)
            }
            _ if current == 0 => svc.cfg.spec.initial_replicas,
            _ => current,
        };
        // A rollout that is due starts from the current pods.
        let svc = &mut self.services[i];
        if svc.rollout.is_none()
            && let Some(r) = svc.cfg.spec.rollouts.get(svc.next_rollout)
            && crate::time::secs_to_millis(r.at_s).is_some_and(|at| SimTime(at) <= now)
        {
            let old = svc.replicas.len() as u32;
            svc.rollout = Some(Rollout::start(
                desired,
                r.max_surge,
                r.max_unavailable,
                old,
                old,
            ));
            svc.next_rollout += 1;
        }
        if self.services[i].rollout.is_some() {
            self.step_rollout(i, desired);
        }
        while self.services[i].rollout.is_none()
            && (self.services[i].replicas.len() as u32) < desired
        {
            if !self.add_replica(i) {
                self.services[i].short_syncs += 1;
                break;
            }
        }
        while self.services[i].rollout.is_none() && self.services[i].replicas.len() as u32 > desired
        {
            let a = self.services[i]
                .replicas
                .pop()
                .expect("more replicas than desired");
            self.cluster.release(&a);
            self.release_epoch += 1;
            self.failed.clear();
            self.queue_pass();
        }
        let svc = &mut self.services[i];
        let ready = (svc.replicas.len() + svc.new_replicas.len()) as u32;
        let est = svc.cfg.spec.latency.latency(rate, ready, cap);
        svc.samples.push(SloSample {
            t: now,
            p95_ms: est.p95_ms,
            replicas: ready,
            rate_rps: rate,
        });
    }

    /// Places one replica, preempting running training jobs of lower
    /// priority (lowest first, then the latest started) until it fits.
    fn add_replica(&mut self, i: usize) -> bool {
        self.add_replica_to(i, false)
    }

    /// Advances a rolling update: places the new version's pods (pods are
    /// ready once placed), retires old ones as maxUnavailable allows, and
    /// ends the rollout when only new pods remain. A new pod that cannot be
    /// placed (no GPU for the surge) waits, and the old pods stay.
    fn step_rollout(&mut self, i: usize, desired: u32) {
        if let Some(r) = self.services[i].rollout.as_mut() {
            r.set_replicas(desired);
        }
        loop {
            let mut changed = false;
            while self.services[i].unplaced_new > 0 && self.add_replica_to(i, true) {
                let s = &mut self.services[i];
                s.unplaced_new -= 1;
                s.rollout
                    .as_mut()
                    .expect("a rollout is in progress")
                    .new_pod_ready();
                changed = true;
            }
            let act = self.services[i]
                .rollout
                .as_mut()
                .expect("a rollout is in progress")
                .reconcile();
            let s = &mut self.services[i];
            s.unplaced_new += act.create_new;
            changed |= act.create_new > 0;
            let mut drop_new = act.delete_new;
            let from_unplaced = drop_new.min(s.unplaced_new);
            s.unplaced_new -= from_unplaced;
            drop_new -= from_unplaced;
            let mut released = Vec::new();
            for _ in 0..drop_new {
                released.extend(s.new_replicas.pop());
            }
            for _ in 0..act.delete_old_unavailable + act.delete_old_available {
                released.extend(s.replicas.pop());
            }
            changed |= !released.is_empty();
            for a in &released {
                self.cluster.release(a);
            }
            if !released.is_empty() {
                self.release_epoch += 1;
                self.failed.clear();
                self.queue_pass();
            }
            if !changed {
                break;
            }
        }
        let s = &mut self.services[i];
        if s.rollout.as_ref().is_some_and(Rollout::is_complete) {
            s.rollout = None;
            s.replicas = std::mem::take(&mut s.new_replicas);
            s.unplaced_new = 0;
            s.rollouts_done += 1;
            s.rollouts_done_at.push(self.now);
        }
    }

    /// Places one replica (of the new version when `new`), preempting
    /// running training jobs of lower priority until it fits.
    fn add_replica_to(&mut self, i: usize, new: bool) -> bool {
        let all: Vec<bool> = vec![true; self.cluster.pools().len()];
        loop {
            let shape = &self.services[i].shape;
            let req = WorkerRequest {
                gpu: shape.gpu,
                cpu_milli: shape.cpu_milli,
                memory_mib: shape.memory_mib,
                allowed_pools: &all,
            };
            let view = self.cluster.view();
            if view.gang_fits(&req, 1)
                && let Some(node) = self.placement.place(view, shape, &req)
                && let Some(n) = view.nodes().get(node.index())
                && view.fits(n, &req)
                && let Some(gpus) = self.placement.gpus(view, n, &req)
            {
                let alloc = WorkerAlloc {
                    node,
                    gpus,
                    cpu_milli: shape.cpu_milli,
                    memory_mib: shape.memory_mib,
                };
                if self.cluster.allocate(&alloc, &req).is_ok() {
                    let s = &mut self.services[i];
                    if new {
                        s.new_replicas.push(alloc);
                    } else {
                        s.replicas.push(alloc);
                    }
                    return true;
                }
            }
            // Make room: the least important, most recently started
            // training job below the service's priority.
            let prio = self.services[i].cfg.spec.priority;
            let victim = self
                .running
                .iter()
                .copied()
                .filter(|&j| self.workload.job(j).priority < prio)
                .min_by_key(|&j| {
                    (
                        self.workload.job(j).priority,
                        std::cmp::Reverse(self.jobs[j.index()].run_start),
                        j,
                    )
                });
            let Some(v) = victim else { return false };
            self.preempt_job(v);
            self.services[i].preemptions_caused += 1;
        }
    }

    /// Every replica allocation, for the ledger audit.
    pub(super) fn service_allocs(&self) -> impl Iterator<Item = &WorkerAlloc> {
        self.services
            .iter()
            .flat_map(|s| s.replicas.iter().chain(&s.new_replicas))
    }

    /// A node failure or reclaim also takes the replicas on it; the next sync
    /// replaces them.
    pub(super) fn drop_replicas_on(&mut self, node: crate::ids::NodeId) {
        for s in &mut self.services {
            for list in [&mut s.replicas, &mut s.new_replicas] {
                let mut k = 0;
                while k < list.len() {
                    if list[k].node == node {
                        let a = list.swap_remove(k);
                        self.cluster.release(&a);
                    } else {
                        k += 1;
                    }
                }
            }
            // A lost new pod is wanted again.
            if let Some(r) = s.rollout.as_mut() {
                let lost = r
                    .counts()
                    .new_available
                    .saturating_sub(s.new_replicas.len() as u32);
                for _ in 0..lost {
                    r.new_pod_unready();
                    s.unplaced_new += 1;
                }
            }
        }
    }

    /// Results of every service up to `end`.
    pub(super) fn service_results(&self, end: SimTime) -> Vec<ServiceResult> {
        self.services
            .iter()
            .map(|s| ServiceResult {
                name: s.cfg.spec.name.clone(),
                slo: SloReport::compute(&s.samples, end, s.cfg.spec.slo_ms),
                preemptions_caused: s.preemptions_caused,
                short_syncs: s.short_syncs,
                rollouts_completed: s.rollouts_done,
                rollouts_completed_at_s: s
                    .rollouts_done_at
                    .iter()
                    .map(|t| t.as_secs_f64())
                    .collect(),
            })
            .collect()
    }
}
