//! The workload: the jobs a scenario submits, in submission order, independent of
//! where they came from (a trace importer or the synthetic generator).

pub mod elastic;
pub mod filter;
pub mod stats;
pub mod synthetic;

use std::collections::BTreeMap;

use crate::ids::{JobId, TenantId};
use crate::time::{Millis, SimTime};

/// Milli-GPUs in one whole GPU.
pub const MILLI_PER_GPU: u32 = 1_000;

/// What one worker asks of GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuDemand {
    /// This many whole GPUs on one node (0 for a CPU-only worker).
    Whole(u32),
    /// A share of one GPU, in milli-GPUs, 1..=999.
    Fraction(u32),
}

impl GpuDemand {
    /// Milli-GPUs one worker holds (`Whole(2)` → 2000).
    pub fn milli(self) -> u64 {
        match self {
            GpuDemand::Whole(n) => u64::from(n) * u64::from(MILLI_PER_GPU),
            GpuDemand::Fraction(m) => u64::from(m),
        }
    }

    /// Whole GPUs one worker holds (0 for a fractional or CPU-only worker).
    pub fn whole(self) -> u32 {
        match self {
            GpuDemand::Whole(n) => n,
            GpuDemand::Fraction(_) => 0,
        }
    }

    /// Builds a demand from the two canonical columns: whole GPUs per worker and
    /// a fractional share. Exactly one may be non-zero; a share of 1000 means one
    /// whole GPU.
    pub fn from_columns(gpus: u32, gpu_milli: u32) -> Result<GpuDemand, String> {
        match (gpus, gpu_milli) {
            (n, 0) => Ok(GpuDemand::Whole(n)),
            (0, 1000) | (1, 1000) => Ok(GpuDemand::Whole(1)),
            (0 | 1, m) if m < 1000 => Ok(GpuDemand::Fraction(m)),
            (0 | 1, m) => Err(format!("gpu_milli {m} is above 1000 (one whole GPU)")),
            (n, m) => Err(format!(
                "a worker asks for either whole GPUs or a share of one GPU, not {n} GPUs and {m} milli-GPUs"
            )),
        }
    }
}

/// One job: a gang of `workers` identical pods that start together and finish
/// together (all-or-nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Index in `Workload::jobs`; assigned by [`WorkloadBuilder::finish`].
    pub id: JobId,
    /// The trace's own identifier (or a generated one), for reports.
    pub name: String,
    /// When the job is submitted, in ms since the scenario start.
    pub submit: SimTime,
    /// The team, queue or virtual cluster that owns the job.
    pub tenant: TenantId,
    /// Larger is more important (Kubernetes convention); 0 by default.
    pub priority: i32,
    /// Pods in the gang, at least 1.
    pub workers: u32,
    /// GPUs per worker.
    pub gpu: GpuDemand,
    /// CPU per worker, in millicores.
    pub cpu_milli: u32,
    /// Memory per worker, in MiB.
    pub memory_mib: u64,
    /// GPU models the job may run on; empty means any model.
    pub gpu_models: Vec<String>,
    /// Run time at full speed once all workers have started, in ms.
    pub duration: Millis,
    /// The trace's final status for the job, if the trace records one.
    pub status: Option<String>,
    /// Set for elastic jobs: `workers` is then the requested (initial) size
    /// and `duration` the run time at that size.
    pub elastic: Option<Box<elastic::ElasticSpec>>,
}

impl Job {
    /// Fewest workers the job can start with: the whole gang, or an elastic
    /// job's minimum.
    pub fn min_workers(&self) -> u32 {
        self.elastic
            .as_ref()
            .map_or(self.workers, |e| e.min_workers)
    }

    /// Whole GPUs the whole gang holds (fractional shares not counted).
    pub fn total_whole_gpus(&self) -> u64 {
        u64::from(self.workers) * u64::from(self.gpu.whole())
    }

    /// Milli-GPUs the whole gang holds.
    pub fn total_gpu_milli(&self) -> u64 {
        u64::from(self.workers) * self.gpu.milli()
    }
}

/// A job as an importer or generator produces it, before ids and tenants are
/// assigned.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDraft {
    pub name: String,
    pub submit: SimTime,
    pub tenant: String,
    pub priority: i32,
    pub workers: u32,
    pub gpu: GpuDemand,
    pub cpu_milli: u32,
    pub memory_mib: u64,
    pub gpu_models: Vec<String>,
    pub duration: Millis,
    pub status: Option<String>,
}

impl JobDraft {
    /// A one-worker, one-GPU job of tenant `default`, submitted at 0 and
    /// running 1 s. Chain the modifiers below to shape it (handy for tests and
    /// programmatic workloads).
    pub fn new(name: impl Into<String>) -> JobDraft {
        JobDraft {
            name: name.into(),
            submit: SimTime::ZERO,
            tenant: "default".into(),
            priority: 0,
            workers: 1,
            gpu: GpuDemand::Whole(1),
            cpu_milli: 0,
            memory_mib: 0,
            gpu_models: Vec::new(),
            duration: 1_000,
            status: None,
        }
    }
    /// Submission time, in seconds.
    pub fn submit_s(mut self, secs: u64) -> Self {
        self.submit = SimTime::from_secs(secs);
        self
    }
    /// Duration at full speed, in seconds.
    pub fn duration_s(mut self, secs: u64) -> Self {
        self.duration = secs * crate::time::MS_PER_SEC;
        self
    }
    /// Whole GPUs per worker.
    pub fn gpus(mut self, n: u32) -> Self {
        self.gpu = GpuDemand::Whole(n);
        self
    }
    /// A share of one GPU per worker, in milli-GPUs (1..=999).
    pub fn gpu_milli(mut self, milli: u32) -> Self {
        self.gpu = GpuDemand::Fraction(milli);
        self
    }
    /// Workers in the gang.
    pub fn workers(mut self, n: u32) -> Self {
        self.workers = n;
        self
    }
    /// Owning tenant.
    pub fn tenant(mut self, t: impl Into<String>) -> Self {
        self.tenant = t.into();
        self
    }
    /// Priority (larger is more important).
    pub fn priority(mut self, p: i32) -> Self {
        self.priority = p;
        self
    }
    /// CPU per worker in millicores and memory per worker in MiB.
    pub fn cpu_mem(mut self, cpu_milli: u32, memory_mib: u64) -> Self {
        self.cpu_milli = cpu_milli;
        self.memory_mib = memory_mib;
        self
    }
    /// Allowed GPU models.
    pub fn models(mut self, models: &[&str]) -> Self {
        self.gpu_models = models.iter().map(|m| m.to_string()).collect();
        self
    }
}

/// The jobs of one scenario, sorted by submission time (ties keep input order),
/// with `jobs[i].id == JobId(i)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Workload {
    pub jobs: Vec<Job>,
    /// Tenant names; `TenantId` indexes this list. Ordered by first appearance in
    /// submission order, so the numbering is deterministic.
    pub tenants: Vec<String>,
}

impl Workload {
    /// Name of a tenant.
    pub fn tenant_name(&self, id: TenantId) -> &str {
        &self.tenants[id.index()]
    }

    /// The job with this id.
    pub fn job(&self, id: JobId) -> &Job {
        &self.jobs[id.index()]
    }

    /// Turns the jobs back into drafts (for filters and exporters).
    pub fn to_drafts(&self) -> Vec<JobDraft> {
        self.jobs
            .iter()
            .map(|j| JobDraft {
                name: j.name.clone(),
                submit: j.submit,
                tenant: self.tenants[j.tenant.index()].clone(),
                priority: j.priority,
                workers: j.workers,
                gpu: j.gpu,
                cpu_milli: j.cpu_milli,
                memory_mib: j.memory_mib,
                gpu_models: j.gpu_models.clone(),
                duration: j.duration,
                status: j.status.clone(),
            })
            .collect()
    }
}

/// Collects drafts and produces a [`Workload`].
#[derive(Debug, Default)]
pub struct WorkloadBuilder {
    drafts: Vec<JobDraft>,
}

impl WorkloadBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self {
            drafts: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, draft: JobDraft) {
        self.drafts.push(draft);
    }

    pub fn len(&self) -> usize {
        self.drafts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.drafts.is_empty()
    }

    /// Sorts by submission time (stable, so equal times keep input order),
    /// numbers the jobs and interns the tenants.
    pub fn finish(self) -> Workload {
        Workload::from_drafts(self.drafts)
    }
}

impl Workload {
    /// See [`WorkloadBuilder::finish`].
    pub fn from_drafts(mut drafts: Vec<JobDraft>) -> Workload {
        drafts.sort_by_key(|d| d.submit);
        let mut tenant_ids: BTreeMap<String, TenantId> = BTreeMap::new();
        let mut tenants = Vec::new();
        let jobs = drafts
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let tenant = *tenant_ids.entry(d.tenant.clone()).or_insert_with(|| {
                    tenants.push(d.tenant.clone());
                    TenantId::from_index(tenants.len() - 1)
                });
                Job {
                    id: JobId::from_index(i),
                    name: d.name,
                    submit: d.submit,
                    tenant,
                    priority: d.priority,
                    workers: d.workers,
                    gpu: d.gpu,
                    cpu_milli: d.cpu_milli,
                    memory_mib: d.memory_mib,
                    gpu_models: d.gpu_models,
                    duration: d.duration,
                    status: d.status,
                    elastic: None,
                }
            })
            .collect();
        Workload { jobs, tenants }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(name: &str, submit: u64, tenant: &str) -> JobDraft {
        JobDraft {
            name: name.into(),
            submit: SimTime(submit),
            tenant: tenant.into(),
            priority: 0,
            workers: 1,
            gpu: GpuDemand::Whole(1),
            cpu_milli: 0,
            memory_mib: 0,
            gpu_models: vec![],
            duration: 1000,
            status: None,
        }
    }

    #[test]
    fn builder_sorts_stably_and_interns_tenants_in_order() {
        let w = Workload::from_drafts(vec![
            draft("c", 5, "t2"),
            draft("a", 1, "t1"),
            draft("b", 5, "t1"),
        ]);
        let names: Vec<_> = w.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["a", "c", "b"]);
        assert_eq!(w.tenants, ["t1", "t2"]);
        assert_eq!(w.jobs[1].tenant, TenantId(1));
        assert_eq!(w.jobs[2].id, JobId(2));
    }

    #[test]
    fn gpu_demand_columns() {
        assert_eq!(GpuDemand::from_columns(2, 0), Ok(GpuDemand::Whole(2)));
        assert_eq!(
            GpuDemand::from_columns(1, 500),
            Ok(GpuDemand::Fraction(500))
        );
        assert_eq!(GpuDemand::from_columns(0, 1000), Ok(GpuDemand::Whole(1)));
        assert!(GpuDemand::from_columns(2, 500).is_err());
        assert!(GpuDemand::from_columns(0, 1500).is_err());
        assert_eq!(GpuDemand::Whole(3).milli(), 3000);
    }
}
