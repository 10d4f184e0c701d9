//! The Kubernetes objects cluster mode creates, as pure functions of the
//! scenario (no I/O), so their shape is unit-tested: the run's namespace, one
//! KWOK fake node per scenario node, one pod per job worker, and the Binding
//! that places a pod.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Binding, Container, Namespace, Node, NodeSpec, NodeStatus, ObjectReference, Pod, PodSpec,
    ResourceRequirements, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;

use crate::cluster::PoolSpec;
use crate::ids::{JobId, NodeId};
use crate::workload::{GpuDemand, Job};

/// `app.kubernetes.io/managed-by` on everything cluster mode creates.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY: &str = "schedlab";
/// The run id on everything a run creates.
pub const LABEL_RUN: &str = "schedlab.io/run";
/// A pod's job id (the index in the scenario's workload).
pub const LABEL_JOB: &str = "schedlab.io/job";
/// A pod's worker index within its gang, 0-based.
pub const LABEL_WORKER: &str = "schedlab.io/worker";
/// A pod's generation: 0 for the pods created at the job's arrival, +1 each
/// time the gang's pods are deleted and re-created (preemption, failed bind).
pub const LABEL_GENERATION: &str = "schedlab.io/generation";
/// A node's scenario pool (same key as `kind-config.yaml`).
pub const LABEL_POOL: &str = "schedlab.io/pool";
/// A node's GPU model (same key as `kind-config.yaml`).
pub const LABEL_GPU_MODEL: &str = "schedlab.io/gpu-model";
/// How long a pod runs once Running, as a Go duration; read by the KWOK
/// stage in `tools/control-plane/kwok-stages.yaml`.
pub const ANNOTATION_RUN_FOR: &str = "schedlab.io/run-for";
/// The job's name in the trace (pod names use ids: trace names are not DNS
/// labels).
pub const ANNOTATION_JOB_NAME: &str = "schedlab.io/job-name";
/// The job's priority (a pod's `spec.priority` can only come from a
/// PriorityClass, which cluster mode does not create).
pub const ANNOTATION_PRIORITY: &str = "schedlab.io/priority";
/// The GPU indices (and milli-GPUs) the ledger gave a worker, e.g. `0,1` or
/// `3:500`.
pub const ANNOTATION_GPUS: &str = "schedlab.io/gpus";
/// Whole GPUs, as the NVIDIA device plugin advertises them.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// Milli-GPUs, for fractional workers (Kubernetes extended resources are
/// integers, so a share of a GPU is requested in thousandths of one).
pub const GPU_MILLI_RESOURCE: &str = "schedlab.io/gpu-milli";
/// The `schedulerName` of every pod: kube-scheduler leaves them alone.
pub const SCHEDULER_NAME: &str = "schedlab";
/// KWOK's annotation and taint key for fake nodes.
pub const KWOK_NODE_KEY: &str = "kwok.x-k8s.io/node";
/// Pods per fake node: the kubelet default (110), or more when a node could
/// hold more fractional workers than that.
const MIN_PODS_PER_NODE: u64 = 110;

/// The label selector of everything cluster mode created, or of one run's.
pub fn selector(run: Option<&str>) -> String {
    match run {
        Some(r) => format!("{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_RUN}={r}"),
        None => format!("{LABEL_MANAGED_BY}={MANAGED_BY}"),
    }
}

/// Lower-case letters, digits and `-` only, no leading/trailing `-`, at most
/// `max` characters: safe in DNS labels and label values.
pub fn dns_label(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(max);
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "x".into() } else { out }
}

/// A run id: the scenario name (shortened) and the start time in ms since
/// the Unix epoch, base 36 (unique per run, sortable, ≤ 33 characters so the
/// namespace `schedlab-<id>` fits a DNS label).
pub fn run_id(scenario: &str, unix_ms: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = unix_ms;
    let mut t = Vec::new();
    loop {
        t.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    t.reverse();
    format!(
        "{}-{}",
        dns_label(scenario, 24),
        String::from_utf8(t).expect("ascii")
    )
}

/// The run's namespace name.
pub fn namespace_name(run: &str) -> String {
    format!("schedlab-{run}")
}

/// The name of scenario node `node` (ledger id) of pool `pool`.
pub fn node_name(run: &str, pool: &str, node: NodeId) -> String {
    format!("{}-{}-{}", namespace_name(run), dns_label(pool, 20), node.0)
}

/// The name of a worker's pod.
pub fn pod_name(job: JobId, worker: u32, generation: u32) -> String {
    format!("j{}-w{worker}-g{generation}", job.0)
}

fn labels(run: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_RUN.to_string(), run.to_string()),
    ])
}

/// The run's namespace, labelled so `cluster clean` finds it.
pub fn namespace(run: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(namespace_name(run)),
            labels: Some(labels(run)),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// A KWOK fake node for one scenario node: capacity and allocatable from the
/// pool (GPUs as `nvidia.com/gpu` and as milli-GPUs), labels for the pool and
/// GPU model (plus the pool's own labels), KWOK's annotation and taint.
pub fn fake_node(run: &str, pool: &PoolSpec, node: NodeId) -> Node {
    let name = node_name(run, &pool.name, node);
    let mut l = labels(run);
    // The pool's free-form labels first, so ours win on a clash.
    for (k, v) in &pool.labels {
        l.insert(k.clone(), v.clone());
    }
    l.insert(LABEL_POOL.into(), pool.name.clone());
    l.insert(LABEL_GPU_MODEL.into(), pool.gpu_model.clone());
    l.insert("type".into(), "kwok".into());
    l.insert("kubernetes.io/hostname".into(), name.clone());
    l.insert("kubernetes.io/os".into(), "linux".into());
    let pods = MIN_PODS_PER_NODE.max(u64::from(pool.gpus_per_node) * 1000);
    let resources = BTreeMap::from([
        ("cpu".to_string(), Quantity(format!("{}m", pool.cpu_milli))),
        (
            "memory".to_string(),
            Quantity(format!("{}Mi", pool.memory_mib)),
        ),
        ("pods".to_string(), Quantity(pods.to_string())),
        (
            GPU_RESOURCE.to_string(),
            Quantity(pool.gpus_per_node.to_string()),
        ),
        (
            GPU_MILLI_RESOURCE.to_string(),
            Quantity((u64::from(pool.gpus_per_node) * 1000).to_string()),
        ),
    ]);
    Node {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(l),
            annotations: Some(BTreeMap::from([
                (KWOK_NODE_KEY.to_string(), "fake".to_string()),
                // No node-status caching by kubelet-less nodes.
                ("node.alpha.kubernetes.io/ttl".to_string(), "0".to_string()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: Some(vec![Taint {
                key: KWOK_NODE_KEY.into(),
                value: Some("fake".into()),
                effect: "NoSchedule".into(),
                ..Taint::default()
            }]),
            ..NodeSpec::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            ..NodeStatus::default()
        }),
    }
}

/// A wall-clock duration as a Go duration string (`time.ParseDuration`), to
/// the microsecond: `"12.345678s"`.
pub fn go_duration(d: Duration) -> String {
    let us = d.as_micros();
    format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
}

/// The pod of worker `worker` of `job`: its share of the job's resources as
/// requests (= limits, as extended resources require), `schedulerName:
/// schedlab`, a toleration of the KWOK taint, and the run time KWOK waits
/// before marking it Succeeded (`run_for`, wall clock).
pub fn worker_pod(run: &str, job: &Job, worker: u32, generation: u32, run_for: Duration) -> Pod {
    let mut l = labels(run);
    l.insert(LABEL_JOB.into(), job.id.0.to_string());
    l.insert(LABEL_WORKER.into(), worker.to_string());
    l.insert(LABEL_GENERATION.into(), generation.to_string());
    let mut res = BTreeMap::from([
        ("cpu".to_string(), Quantity(format!("{}m", job.cpu_milli))),
        (
            "memory".to_string(),
            Quantity(format!("{}Mi", job.memory_mib)),
        ),
    ]);
    match job.gpu {
        GpuDemand::Whole(0) => {}
        GpuDemand::Whole(n) => {
            res.insert(GPU_RESOURCE.into(), Quantity(n.to_string()));
        }
        GpuDemand::Fraction(m) => {
            res.insert(GPU_MILLI_RESOURCE.into(), Quantity(m.to_string()));
        }
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(job.id, worker, generation)),
            namespace: Some(namespace_name(run)),
            labels: Some(l),
            annotations: Some(BTreeMap::from([
                (ANNOTATION_RUN_FOR.to_string(), go_duration(run_for)),
                (ANNOTATION_JOB_NAME.to_string(), job.name.clone()),
                (ANNOTATION_PRIORITY.to_string(), job.priority.to_string()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            scheduler_name: Some(SCHEDULER_NAME.into()),
            restart_policy: Some("Never".into()),
            automount_service_account_token: Some(false),
            termination_grace_period_seconds: Some(0),
            tolerations: Some(vec![Toleration {
                key: Some(KWOK_NODE_KEY.into()),
                operator: Some("Equal".into()),
                value: Some("fake".into()),
                effect: Some("NoSchedule".into()),
                ..Toleration::default()
            }]),
            containers: vec![Container {
                name: "job".into(),
                // Never pulled on a KWOK node; a real node would run `sleep`.
                image: Some("registry.k8s.io/pause:3.10".into()),
                resources: Some(ResourceRequirements {
                    requests: Some(res.clone()),
                    limits: Some(res),
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// The Binding that places pod `pod` of namespace `ns` on node `node` (what
/// kube-scheduler posts to `pods/<name>/binding`). The API server copies the
/// Binding's annotations onto the pod: `gpus` (see [`gpus_annotation`])
/// records which GPUs the ledger gave the worker.
pub fn binding(ns: &str, pod: &str, node: &str, gpus: &str) -> Binding {
    Binding {
        metadata: ObjectMeta {
            name: Some(pod.into()),
            namespace: Some(ns.into()),
            annotations: Some(BTreeMap::from([(
                ANNOTATION_GPUS.to_string(),
                gpus.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.into()),
            ..ObjectReference::default()
        },
    }
}

/// The GPU shares of a worker as written in [`ANNOTATION_GPUS`].
pub fn gpus_annotation(shares: &[crate::cluster::GpuShare]) -> String {
    shares
        .iter()
        .map(|s| {
            if s.milli == 1000 {
                s.index.to_string()
            } else {
                format!("{}:{}", s.index, s.milli)
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
