//! Why pending: each waiting job's wait split by reason. After every
//! scheduling pass each pending job gets one reason, kept until the next
//! pass changes it, so the per-reason times add up to the job's whole wait.
//!
//! Reasons, tested in this order (the first that applies wins):
//! 1. `preempted`: the job waits again after a preemption;
//! 2. `quota`: the scheduler held it for a quota (Kueue: no reservation);
//! 3. `order`: it fits, but the scheduler started others (queue order,
//!    priority or fairness);
//! 4. `provisioning`: it does not fit, and nodes of a pool it may use are
//!    being provisioned;
//! 5. `gpu_model`: it does not fit, there are enough free GPUs in the cluster,
//!    but not on the GPU models it may use;
//! 6. `capacity`: fewer GPUs (or CPU, memory) are free where it may run than
//!    its gang (an elastic job's minimum) needs;
//! 7. `fragmentation`: enough are free in total, but no node can host even
//!    one worker;
//! 8. `gang`: some workers could be placed now, but not all of them.
//!
//! Jobs of the same shape share one answer per pass; the ledger keeps free
//! resources per pool, so only telling fragmentation from a gang that does not
//! fit scans the nodes.

use crate::cluster::{Cluster, WorkerRequest};
use crate::metrics::WaitReason;
use crate::workload::Job;

/// Why a job whose gang (an elastic job's minimum) does not fit now cannot
/// start: reasons 4 to 8 above.
pub(super) fn blocked(cluster: &Cluster, job: &Job, req: &WorkerRequest<'_>) -> WaitReason {
    let free = cluster.pool_free();
    let workers = u64::from(job.min_workers());
    let need = (
        workers * job.gpu.milli(),
        workers * u64::from(job.cpu_milli),
        workers * job.memory_mib,
    );
    let sum = |any_pool: bool| {
        free.iter()
            .enumerate()
            .filter(|(i, _)| any_pool || req.allowed_pools[*i])
            .fold((0u64, 0u64, 0u64, false), |acc, (_, f)| {
                (
                    acc.0 + f.gpu_milli,
                    acc.1 + f.cpu_milli,
                    acc.2 + f.memory_mib,
                    acc.3 || f.provisioning > 0,
                )
            })
    };
    let short = |f: (u64, u64, u64, bool)| f.0 < need.0 || f.1 < need.1 || f.2 < need.2;
    let allowed = sum(false);
    if allowed.3 {
        return WaitReason::Provisioning;
    }
    if short(allowed) {
        let restricted = req.allowed_pools.iter().any(|&a| !a);
        if restricted && !short(sum(true)) {
            return WaitReason::GpuModel;
        }
        return WaitReason::Capacity;
    }
    let one_worker_fits = cluster
        .nodes()
        .iter()
        .any(|n| req.allowed_pools[n.pool.index()] && n.fits(req));
    if !one_worker_fits {
        return WaitReason::Fragmentation;
    }
    WaitReason::Gang
}
