//! The openb (Alibaba GPU cluster 2023) importer through the public API: the
//! bundled samples, the GPU-request and QoS mapping, right-censoring, both
//! pod-list headers, strict and lenient errors, node lists → pools, a
//! simulation of the sample, and every published file when
//! `../shared/traces` is present.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use schedlab::cluster::{ClusterSpec, PoolSpec};
use schedlab::engine::{EngineConfig, simulate};
use schedlab::metrics::Summary;
use schedlab::policy::{placement::PlacementKind, scheduler::SchedulerKind};
use schedlab::time::SimTime;
use schedlab::trace::openb::{self, UNTIMED_DURATION_MS};
use schedlab::trace::{
    ImportOptions, Imported, TraceError, TraceFormat, detect_format, read_trace,
};
use schedlab::workload::{GpuDemand, Job, Workload};

const HEADER: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n";

fn project_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn sample(name: &str) -> PathBuf {
    project_file(&format!("scenarios/data/openb/{name}"))
}

fn strict() -> ImportOptions {
    ImportOptions::default()
}

fn lenient() -> ImportOptions {
    ImportOptions {
        lenient: true,
        ..ImportOptions::default()
    }
}

/// Writes `text` to `name` in a fresh temporary folder.
fn write_csv(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    (dir, path)
}

fn import_str(text: &str, opts: &ImportOptions) -> Result<Imported, TraceError> {
    let (_dir, path) = write_csv("pods.csv", text);
    openb::import(&path, opts)
}

fn job<'a>(w: &'a Workload, name: &str) -> &'a Job {
    w.jobs
        .iter()
        .find(|j| j.name == name)
        .unwrap_or_else(|| panic!("no job {name}"))
}

fn note<'a>(imp: &'a Imported, starts: &str) -> &'a str {
    imp.report
        .notes
        .iter()
        .find(|n| n.contains(starts))
        .unwrap_or_else(|| panic!("no note with {starts:?} in {:#?}", imp.report.notes))
}

/// (CPU-only, fractional, one whole GPU, multi-GPU pods, GPUs of multi-GPU pods).
fn kinds(w: &Workload) -> (usize, usize, usize, usize, u64) {
    let mut k = (0, 0, 0, 0, 0);
    for j in &w.jobs {
        match j.gpu {
            GpuDemand::Whole(0) => k.0 += 1,
            GpuDemand::Fraction(_) => k.1 += 1,
            GpuDemand::Whole(1) => k.2 += 1,
            GpuDemand::Whole(n) => {
                k.3 += 1;
                k.4 += u64::from(n);
            }
        }
    }
    k
}

#[test]
fn default_sample_imports() {
    let path = sample("openb_pod_list_default.sample.csv");
    let imp = openb::import(&path, &strict()).unwrap();
    let (w, r) = (&imp.workload, &imp.report);
    assert_eq!((r.rows, r.kept_rows, r.skipped_rows()), (302, 302, 0));
    assert_eq!(w.jobs.len(), 302);
    assert!(w.jobs.iter().all(|j| j.workers == 1));
    assert!(w.jobs.windows(2).all(|p| p[0].submit <= p[1].submit));
    assert_eq!(kinds(w), (38, 103, 154, 7, 46));
    assert_eq!(
        w.jobs.iter().map(Job::total_gpu_milli).sum::<u64>(),
        259_260
    );
    assert_eq!(
        w.jobs.iter().map(|j| u64::from(j.cpu_milli)).sum::<u64>(),
        3_468_268
    );
    assert_eq!(w.jobs.iter().map(|j| j.memory_mib).sum::<u64>(), 12_829_812);
    // The default list has no model constraints.
    assert!(w.jobs.iter().all(|j| j.gpu_models.is_empty()));
    // Tenants = QoS classes, in order of first submission.
    assert_eq!(w.tenants, ["LS", "BE", "Burstable", "Guaranteed"]);
    let count = |f: &dyn Fn(&Job) -> bool| w.jobs.iter().filter(|j| f(j)).count();
    assert_eq!(count(&|j| j.priority == 2), 172);
    assert_eq!(count(&|j| j.priority == 0), 122);
    assert_eq!(count(&|j| j.priority == 1), 7);
    assert_eq!(count(&|j| j.priority == 3), 1);
    for (phase, n) in [
        ("Running", 190),
        ("Failed", 71),
        ("Pending", 28),
        ("Succeeded", 13),
    ] {
        assert_eq!(count(&|j| j.status.as_deref() == Some(phase)), n, "{phase}");
    }
    // Times are kept relative to the trace start: the first pod is created at 0.
    let first = &w.jobs[0];
    assert_eq!(first.name, "openb-pod-0000");
    assert_eq!(first.submit, SimTime::ZERO);
    assert_eq!(first.duration, 12_537_496_000);
    assert_eq!(first.gpu, GpuDemand::Whole(1));
    assert_eq!((first.cpu_milli, first.memory_mib), (12_000, 16_384));
    // Pods that never ran: duration 0, all Pending here.
    assert_eq!(count(&|j| j.duration == 0), 28);
    assert!(
        w.jobs
            .iter()
            .filter(|j| j.duration == 0)
            .all(|j| j.status.as_deref() == Some("Pending"))
    );
    let total_s: u64 = w.jobs.iter().map(|j| j.duration).sum::<u64>() / 1000;
    assert_eq!(total_s, 14_162_956);
    assert_eq!(
        note(&imp, "never ran"),
        "28 pods never ran (no scheduled_time: 28 Pending): submitted at creation_time with duration 0"
    );
    assert!(
        note(&imp, "one-worker jobs")
            .starts_with("302 pods → 302 one-worker jobs: 38 CPU-only, 103 sharing")
    );
    assert_eq!(
        note(&imp, "tenant = qos"),
        "tenant = qos (the trace has no user or team column): Guaranteed 1 (priority 3), LS 172 (priority 2), \
         Burstable 7 (priority 1), BE 122 (priority 0)"
    );
    // The dispatcher and the sniffer agree.
    assert_eq!(detect_format(&path).unwrap(), Some(TraceFormat::Openb));
    assert_eq!(
        read_trace(&path, TraceFormat::Openb, &strict()).unwrap(),
        imp
    );
}

#[test]
fn fractional_pod_maps_to_a_share_of_one_gpu() {
    let imp = openb::import(&sample("openb_pod_list_default.sample.csv"), &strict()).unwrap();
    // openb-pod-0027,1000,2048,1,320,,BE,Running,9941376,9972429,9941376
    let j = job(&imp.workload, "openb-pod-0027");
    assert_eq!(j.gpu, GpuDemand::Fraction(320));
    assert_eq!(j.total_gpu_milli(), 320);
    assert_eq!(j.total_whole_gpus(), 0);
    assert_eq!((j.cpu_milli, j.memory_mib), (1_000, 2_048));
    assert_eq!(imp.workload.tenant_name(j.tenant), "BE");
    assert_eq!(j.priority, 0);
    assert_eq!(j.status.as_deref(), Some("Running"));
    assert_eq!(j.submit, SimTime::from_secs(9_941_376));
    assert_eq!(j.duration, (9_972_429 - 9_941_376) * 1000);
}

#[test]
fn right_censored_sample_pod_runs_to_the_trace_end() {
    let imp = openb::import(&sample("openb_pod_list_default.sample.csv"), &strict()).unwrap();
    // openb-pod-6129,...,LS,Running,12418657,12902960,12422230: deleted at the
    // trace end (the largest time in the file), so still alive then.
    let j = job(&imp.workload, "openb-pod-6129");
    assert_eq!(j.submit, SimTime::from_secs(12_418_657));
    assert_eq!(j.duration, (12_902_960 - 12_422_230) * 1000);
    assert_eq!(
        note(&imp, "right-censored"),
        "1 pods right-censored (still alive at the trace end: 0 without deletion_time, 1 deleted at the \
         trace end 12902960 s): duration = trace end − scheduled_time, a lower bound"
    );
    assert!(
        note(&imp, "trace end (largest")
            .ends_with("first submission at 0 s, trace end (largest time in the file) 12902960 s")
    );
}

#[test]
fn pod_without_deletion_time_is_censored_at_the_largest_time_in_the_file() {
    let text = format!(
        "{HEADER}\
         a,1000,1024,1,1000,,LS,Running,100,,150\n\
         b,1000,1024,0,0,,BE,Succeeded,200,900,300\n\
         c,1000,1024,1,250,,BE,Pending,400,450,\n"
    );
    let imp = import_str(&text, &strict()).unwrap();
    let w = &imp.workload;
    // Trace end = 900 s (b's deletion); a started at 150 s.
    assert_eq!(job(w, "a").duration, 750_000);
    assert_eq!(job(w, "b").duration, 600_000);
    assert_eq!(job(w, "b").gpu, GpuDemand::Whole(0));
    assert_eq!(job(w, "c").duration, 0);
    assert_eq!(job(w, "c").submit, SimTime::from_secs(400));
    // b is deleted at the trace end too, so it counts as censored (same duration).
    assert_eq!(
        note(&imp, "right-censored"),
        "2 pods right-censored (still alive at the trace end: 1 without deletion_time, 1 deleted at the \
         trace end 900 s): duration = trace end − scheduled_time, a lower bound"
    );
    assert_eq!(
        note(&imp, "never ran"),
        "1 pods never ran (no scheduled_time: 1 Pending): submitted at creation_time with duration 0"
    );
}

#[test]
fn gpu_spec_lists_become_allowed_models() {
    let imp = openb::import(&sample("openb_pod_list_gpuspec33.sample.csv"), &strict()).unwrap();
    let w = &imp.workload;
    assert_eq!(w.jobs.len(), 302);
    assert_eq!(
        w.jobs.iter().filter(|j| !j.gpu_models.is_empty()).count(),
        80
    );
    assert_eq!(
        note(&imp, "gpu_spec"),
        "80 pods restrict their GPU models (gpu_spec)"
    );
    // openb-pod-2322,16200,66560,2,1000,T4|V100M16|V100M32,LS,Failed,...
    let j = job(w, "openb-pod-2322");
    assert_eq!(j.gpu_models, ["T4", "V100M16", "V100M32"]);
    assert_eq!(j.gpu, GpuDemand::Whole(2));
    assert_eq!(job(w, "openb-pod-0000").gpu_models, Vec::<String>::new());
    // A repeated model is kept once, and the note says so.
    let imp = import_str(
        &format!("{HEADER}p,1000,1024,1,1000,V100M16|V100M32|V100M32,LS,Running,0,10,0\n"),
        &strict(),
    )
    .unwrap();
    assert_eq!(imp.workload.jobs[0].gpu_models, ["V100M16", "V100M32"]);
    assert_eq!(
        note(&imp, "gpu_spec"),
        "1 pods restrict their GPU models (gpu_spec); 1 of them name a model twice, kept once"
    );
}

#[test]
fn multigpu_variant_without_gpu_spec_or_times() {
    let path = sample("openb_pod_list_multigpu50.sample.csv");
    let imp = openb::import(&path, &strict()).unwrap();
    let w = &imp.workload;
    assert_eq!((imp.report.rows, imp.report.kept_rows), (336, 336));
    assert_eq!(kinds(w), (38, 103, 154, 41, 248));
    assert!(
        w.jobs
            .iter()
            .all(|j| j.submit == SimTime::ZERO && j.duration == UNTIMED_DURATION_MS)
    );
    assert!(
        w.jobs
            .iter()
            .all(|j| j.status.is_none() && j.priority == 0 && j.gpu_models.is_empty())
    );
    assert_eq!(w.tenants, ["default"]);
    // Job ids follow the file order.
    let text = fs::read_to_string(&path).unwrap();
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert!(
        w.jobs
            .iter()
            .map(|j| j.name.as_str())
            .eq(names.iter().copied())
    );
    assert_eq!(w.jobs.last().unwrap().name, "openb-pod-9045");
    assert!(note(&imp, "no time columns").contains("runs 365 days"));
    note(&imp, "no qos column");
    note(&imp, "no pod_phase column");
    assert_eq!(detect_format(&path).unwrap(), Some(TraceFormat::Openb));
}

#[test]
fn bad_rows_are_strict_errors_naming_file_line_column_and_field() {
    let cases = [
        (
            "-4000",
            "1",
            "500",
            2,
            "cpu_milli",
            "\"-4000\"",
            "a whole number of millicores ≥ 0",
        ),
        (
            "4000",
            "two",
            "500",
            4,
            "num_gpu",
            "\"two\"",
            "a whole number of GPUs ≥ 0",
        ),
        (
            "4000",
            "1",
            "1500",
            5,
            "gpu_milli",
            "\"1500\"",
            "a share of one GPU in milli-GPUs, 0 to 1000",
        ),
        (
            "4000",
            "2",
            "500",
            5,
            "gpu_milli",
            "\"500\"",
            "1000 (whole GPUs) when num_gpu is above 1",
        ),
    ];
    for (cpu, gpus, milli, column, field, value, expected) in cases {
        let text = format!(
            "{HEADER}ok,1000,1024,1,1000,,LS,Running,0,10,0\n\
             bad,{cpu},1024,{gpus},{milli},,LS,Running,0,10,0\n"
        );
        let (_dir, path) = write_csv("broken-pods.csv", &text);
        let err = openb::import(&path, &strict()).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, TraceError::Field { line: 3, column: c, field: f, .. } if *c == column && f == field),
            "{msg}"
        );
        assert!(msg.contains("broken-pods.csv"), "{msg}");
        assert!(
            msg.contains(&format!("line 3, column {column}, field `{field}`")),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("got {value}, expected {expected}")),
            "{msg}"
        );
    }
    // Unknown QoS class and phase, times out of order.
    for (row, field) in [
        ("x,1,1,0,0,,Gold,Running,0,10,0", "qos"),
        ("x,1,1,0,0,,LS,Lost,0,10,0", "pod_phase"),
        ("x,1,1,0,0,,LS,Running,10,20,5", "scheduled_time"),
        ("x,1,1,0,0,,LS,Running,10,12,15", "deletion_time"),
        ("x,1,1,0,0,,LS,Running,,20,15", "creation_time"),
        (",1,1,0,0,,LS,Running,0,20,15", "name"),
    ] {
        let err = import_str(&format!("{HEADER}{row}\n"), &strict()).unwrap_err();
        assert!(err.to_string().contains("line 2, column"), "{err}");
        assert!(
            err.to_string().contains(&format!("field `{field}`")),
            "{err}"
        );
    }
    // A row with the wrong number of fields.
    let err = import_str(&format!("{HEADER}x,1,1,0,0\n"), &strict()).unwrap_err();
    assert!(matches!(err, TraceError::Csv { line: 2, .. }), "{err}");
}

#[test]
fn lenient_mode_skips_bad_rows_and_counts_them_by_reason() {
    let text = format!(
        "{HEADER}\
         a,1000,1024,1,1000,,LS,Running,0,10,0\n\
         b,-5,1024,1,1000,,LS,Running,0,10,0\n\
         c,1000,1024,x,1000,,LS,Running,0,10,0\n\
         d,1000,1024,1,1500,,LS,Running,0,10,0\n\
         e,1000,1024,1,2000,,LS,Running,0,10,0\n\
         f,1000,1024,1,250,,BE,Running,5,10,5\n"
    );
    let imp = import_str(&text, &lenient()).unwrap();
    let r = &imp.report;
    assert_eq!((r.rows, r.kept_rows, r.skipped_rows()), (6, 2, 4));
    let milli =
        &r.skipped["field `gpu_milli`: expected a share of one GPU in milli-GPUs, 0 to 1000"];
    assert_eq!((milli.count, milli.first_line), (2, 5));
    assert!(
        milli.example.contains("line 5, column 5"),
        "{}",
        milli.example
    );
    assert_eq!(
        r.skipped["field `cpu_milli`: expected a whole number of millicores ≥ 0"].count,
        1
    );
    assert_eq!(
        r.skipped["field `num_gpu`: expected a whole number of GPUs ≥ 0"].first_line,
        4
    );
    let names: Vec<&str> = imp.workload.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["a", "f"]);
    assert_eq!(imp.workload.jobs[1].gpu, GpuDemand::Fraction(250));
}

#[test]
fn missing_columns_are_header_errors() {
    let err = import_str("name,cpu_milli,memory_mib,gpu_milli\nx,1,1,0\n", &strict()).unwrap_err();
    assert!(matches!(err, TraceError::Header { line: 1, .. }), "{err}");
    assert!(err.to_string().contains("no column num_gpu"), "{err}");
    // The time columns come together.
    let err = import_str(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,scheduled_time\nx,1,1,0,0,0,0\n",
        &strict(),
    )
    .unwrap_err();
    assert!(matches!(err, TraceError::Header { .. }), "{err}");
    assert!(err.to_string().contains("no column deletion_time"), "{err}");
    // Header only, and an empty file.
    let err = import_str(HEADER, &strict()).unwrap_err();
    assert!(err.to_string().contains("no pod rows"), "{err}");
    let err = import_str("", &strict()).unwrap_err();
    assert!(matches!(err, TraceError::Empty { .. }), "{err}");
    // Column order does not matter.
    let imp = import_str(
        "gpu_milli,num_gpu,memory_mib,cpu_milli,name\n460,1,12288,6000,p\n",
        &strict(),
    )
    .unwrap();
    let j = &imp.workload.jobs[0];
    assert_eq!(
        (j.name.as_str(), j.gpu, j.cpu_milli, j.memory_mib),
        ("p", GpuDemand::Fraction(460), 6_000, 12_288)
    );
}

/// (name, nodes, GPUs per node, model, cpu_milli, memory_mib) of the pools of
/// `openb_node_list_gpu_node.csv`, in order.
const GPU_NODE_POOLS: [(&str, u32, u32, &str, u32, u64); 15] = [
    ("A10-1g-128c-1024gi", 2, 1, "A10", 128_000, 1_048_576),
    ("G2-8g-96c-384gi", 549, 8, "G2", 96_000, 393_216),
    ("G3-8g-128c-768gi", 39, 8, "G3", 128_000, 786_432),
    ("P100-1g-8c-60gi", 3, 1, "P100", 8_000, 61_440),
    ("P100-2g-8c-60gi", 2, 2, "P100", 8_000, 61_440),
    ("P100-2g-16c-120gi", 107, 2, "P100", 16_000, 122_880),
    ("P100-2g-64c-256gi", 22, 2, "P100", 64_000, 262_144),
    ("T4-2g-104c-512gi", 387, 2, "T4", 104_000, 524_288),
    ("T4-4g-96c-384gi", 17, 4, "T4", 96_000, 393_216),
    ("V100M16-1g-8c-32gi", 19, 1, "V100M16", 8_000, 32_768),
    ("V100M16-4g-32c-128gi", 28, 4, "V100M16", 32_000, 131_072),
    ("V100M16-8g-64c-256gi", 7, 8, "V100M16", 64_000, 262_144),
    ("V100M16-8g-82c-336gi", 1, 8, "V100M16", 82_000, 344_064),
    ("V100M32-4g-48c-368gi", 9, 4, "V100M32", 48_000, 376_832),
    ("V100M32-8g-96c-768gi", 21, 8, "V100M32", 96_000, 786_432),
];

fn check_gpu_node_pools(pools: &[PoolSpec]) {
    let got: Vec<_> = pools
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.nodes,
                p.gpus_per_node,
                p.gpu_model.as_str(),
                p.cpu_milli,
                p.memory_mib,
            )
        })
        .collect();
    assert_eq!(got[..GPU_NODE_POOLS.len()], GPU_NODE_POOLS);
}

#[test]
fn node_list_becomes_pools() {
    let path = sample("openb_node_list_gpu_node.csv");
    let (pools, report) = openb::read_nodes(&path).unwrap();
    assert_eq!(
        (report.rows, report.kept_rows, report.skipped_rows()),
        (1_213, 1_213, 0)
    );
    assert_eq!(pools.len(), 15);
    check_gpu_node_pools(&pools);
    assert!(
        pools
            .iter()
            .all(|p| p.price_per_node_hour.is_none() && p.labels["source"] == "openb")
    );
    let spec = ClusterSpec {
        pools: pools.clone(),
    };
    spec.validate().unwrap();
    assert_eq!(spec.total_nodes(), 1_213);
    assert_eq!(spec.total_gpus(), 6_212);
    assert_eq!(spec.max_gpus_per_node(), 8);
    assert_eq!(
        report.notes,
        [
            "1213 nodes in 15 pools (0 CPU-only nodes); 6212 GPUs: A10 2, G2 4392, G3 312, P100 265, T4 842, \
          V100M16 195, V100M32 204"
        ]
    );
    let header: Vec<String> = ["sn", "cpu_milli", "memory_mib", "gpu", "model"]
        .map(String::from)
        .to_vec();
    assert!(openb::sniff_nodes(&header) && !openb::sniff(&header));
}

#[test]
fn node_list_errors_and_cpu_pools() {
    let (_dir, path) = write_csv(
        "nodes.csv",
        "sn,cpu_milli,memory_mib,gpu,model\n\
         n1,32000,262144,0,\n\
         n2,96000,786432,8,V100M32\n\
         n3,32000,262144,0,\n\
         n4,96500,786433,2,T4\n",
    );
    let (pools, _) = openb::read_nodes(&path).unwrap();
    let got: Vec<_> = pools.iter().map(|p| (p.name.as_str(), p.nodes)).collect();
    assert_eq!(
        got,
        [
            ("T4-2g-96500m-786433mi", 1),
            ("V100M32-8g-96c-768gi", 1),
            ("cpu-32c-256gi", 2)
        ]
    );
    for (row, field) in [
        ("n,32000,262144,2,", "model"),
        ("n,32000,262144,0,T4", "model"),
        ("n,32000,262144,65,T4", "gpu"),
        ("n,-1,262144,1,T4", "cpu_milli"),
    ] {
        let (_dir, path) = write_csv(
            "nodes.csv",
            &format!("sn,cpu_milli,memory_mib,gpu,model\n{row}\n"),
        );
        let err = openb::read_nodes(&path).unwrap_err();
        assert!(err.to_string().contains("line 2, column"), "{err}");
        assert!(
            err.to_string().contains(&format!("field `{field}`")),
            "{err}"
        );
    }
    let (_dir, path) = write_csv("nodes.csv", "sn,cpu_milli,memory_mib,gpu\nn,1,1,0\n");
    let err = openb::read_nodes(&path).unwrap_err();
    assert!(err.to_string().contains("no column model"), "{err}");
}

#[test]
fn sample_replays_on_the_sample_cluster() {
    let (pools, _) = openb::read_nodes(&sample("openb_node_list_gpu_node.csv")).unwrap();
    let config = EngineConfig {
        sample_interval: 0,
        check_invariants: true,
        ..EngineConfig::default()
    };
    for file in [
        "openb_pod_list_default.sample.csv",
        "openb_pod_list_gpuspec33.sample.csv",
    ] {
        let w = openb::import(&sample(file), &strict()).unwrap().workload;
        let run = simulate(
            &w,
            &pools,
            SchedulerKind::FifoSkip,
            PlacementKind::BestFit,
            config.clone(),
        )
        .unwrap();
        let s = Summary::compute(&w, &run);
        // Every pod fits on the real cluster, including those that never ran
        // (duration 0) and the censored one.
        assert_eq!((s.jobs.total, s.jobs.finished), (302, 302), "{file}");
        // Nothing waits on the real cluster, so the run ends when the last pod,
        // started at its creation, completes.
        let last = w.jobs.iter().map(|j| j.submit + j.duration).max().unwrap();
        assert_eq!(run.end_time, last, "{file}");
        assert_eq!(s.wait_s.max, 0.0, "{file}");
    }
    // The time-less variant: everything arrives at 0 and stays.
    let w = openb::import(&sample("openb_pod_list_multigpu50.sample.csv"), &strict())
        .unwrap()
        .workload;
    let config = EngineConfig {
        horizon: Some(SimTime::from_secs(3_600)),
        ..config
    };
    let run = simulate(
        &w,
        &pools,
        SchedulerKind::FifoSkip,
        PlacementKind::BestFit,
        config,
    )
    .unwrap();
    let s = Summary::compute(&w, &run);
    assert_eq!(
        (s.jobs.total, s.jobs.finished, s.jobs.unfinished),
        (336, 0, 336)
    );
}

// ---- the full published files, when present ----

fn shared_openb() -> Option<PathBuf> {
    let dir = project_file("../shared/traces/openb");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: ../shared/traces not present");
        None
    }
}

/// Pods per published pod list.
const POD_LISTS: [(&str, usize); 24] = [
    ("cpu0", 7_064),
    ("cpu037", 7_336),
    ("cpu050", 7_439),
    ("cpu072", 7_608),
    ("cpu100", 7_853),
    ("cpu200", 8_832),
    ("cpu235", 9_240),
    ("cpu250", 9_420),
    ("cpu300", 10_094),
    ("default", 8_152),
    ("gpushare100", 8_152),
    ("gpushare20", 8_152),
    ("gpushare40", 8_152),
    ("gpushare60", 8_152),
    ("gpushare80", 8_152),
    ("gpuspec05", 8_152),
    ("gpuspec10", 8_152),
    ("gpuspec20", 8_152),
    ("gpuspec25", 8_152),
    ("gpuspec33", 8_152),
    ("multigpu20", 8_324),
    ("multigpu30", 8_508),
    ("multigpu40", 8_746),
    ("multigpu50", 9_061),
];

#[test]
fn every_published_pod_list_imports_strictly() {
    let Some(dir) = shared_openb() else { return };
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("openb_pod_list_") && name.ends_with(".csv")
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), POD_LISTS.len());
    for (path, (variant, pods)) in files.iter().zip(POD_LISTS) {
        assert!(
            path.ends_with(format!("openb_pod_list_{variant}.csv")),
            "{}",
            path.display()
        );
        let started = Instant::now();
        let imp = openb::import(path, &strict()).unwrap_or_else(|e| panic!("{e}"));
        let elapsed = started.elapsed();
        let data_rows = fs::read_to_string(path)
            .unwrap()
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .count();
        assert_eq!(imp.workload.jobs.len(), data_rows, "{variant}");
        assert_eq!(imp.workload.jobs.len(), pods, "{variant}");
        assert_eq!(
            (imp.report.kept_rows, imp.report.skipped_rows()),
            (pods as u64, 0),
            "{variant}"
        );
        assert_eq!(
            detect_format(path).unwrap(),
            Some(TraceFormat::Openb),
            "{variant}"
        );
        let censored = imp
            .report
            .notes
            .iter()
            .find(|n| n.contains("right-censored"));
        let never = imp.report.notes.iter().find(|n| n.contains("never ran"));
        let first =
            |n: Option<&String>| n.map_or("-", |n| n.split(' ').next().unwrap()).to_string();
        eprintln!(
            "{variant}: {pods} pods in {elapsed:.2?}; right-censored {}, never ran {}",
            first(censored),
            first(never)
        );
    }
}

#[test]
fn default_trace_counts() {
    let Some(dir) = shared_openb() else { return };
    let imp = openb::import(&dir.join("openb_pod_list_default.csv"), &strict()).unwrap();
    let w = &imp.workload;
    assert_eq!(w.jobs.len(), 8_152);
    assert_eq!(kinds(w), (1_088, 3_078, 3_911, 75, 444));
    assert_eq!(
        note(&imp, "right-censored"),
        "34 pods right-censored (still alive at the trace end: 0 without deletion_time, 34 deleted at the \
         trace end 12902960 s): duration = trace end − scheduled_time, a lower bound"
    );
    assert_eq!(
        note(&imp, "never ran"),
        "897 pods never ran (no scheduled_time: 897 Pending): submitted at creation_time with duration 0"
    );
    assert_eq!(
        note(&imp, "tenant = qos"),
        "tenant = qos (the trace has no user or team column): Guaranteed 7 (priority 3), LS 4647 (priority 2), \
         Burstable 100 (priority 1), BE 3398 (priority 0)"
    );
    for n in &imp.report.notes {
        eprintln!("note: {n}");
    }
}

#[test]
fn published_node_lists_become_pools() {
    let Some(dir) = shared_openb() else { return };
    let (gpu_pools, _) = openb::read_nodes(&dir.join("openb_node_list_gpu_node.csv")).unwrap();
    check_gpu_node_pools(&gpu_pools);
    let spec = ClusterSpec { pools: gpu_pools };
    assert_eq!(
        (spec.pools.len(), spec.total_nodes(), spec.total_gpus()),
        (15, 1_213, 6_212)
    );
    let (all, report) = openb::read_nodes(&dir.join("openb_node_list_all_node.csv")).unwrap();
    let spec = ClusterSpec { pools: all };
    spec.validate().unwrap();
    assert_eq!(
        (spec.pools.len(), spec.total_nodes(), spec.total_gpus()),
        (27, 1_523, 6_212)
    );
    assert!(
        spec.pools[15..]
            .iter()
            .all(|p| p.gpus_per_node == 0 && p.name.starts_with("cpu-"))
    );
    assert!(
        report.notes[0].starts_with("1523 nodes in 27 pools (310 CPU-only nodes); 6212 GPUs"),
        "{:?}",
        report.notes
    );
}
