//! Trace readers through the public API: the bundled Philly sample, gang
//! shaping, strict errors on bad input (never a panic), the canonical CSV round
//! trip, and the full Philly trace when `../shared/traces` is present.

use std::path::{Path, PathBuf};
use std::time::Instant;

use proptest::prelude::*;
use schedlab::time::SimTime;
use schedlab::trace::philly::{self, PhillyStats};
use schedlab::trace::{ImportOptions, TraceError, TraceFormat, WorkerShape, canonical, read_trace};
use schedlab::workload::{GpuDemand, JobDraft, Workload};

const PHILLY_HEADER: &str = "timestamp,duration,num_gpus,gpu_time,cluster\n";

fn project_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn philly_str(text: &str, opts: &ImportOptions) -> Result<(Workload, PhillyStats), TraceError> {
    philly::read_with_stats_from(text.as_bytes(), Path::new("bad.csv"), opts)
}

fn shape(shape: WorkerShape) -> ImportOptions {
    ImportOptions {
        worker_shape: shape,
        node_gpus: 8,
        cpu_milli_per_gpu: 4_000,
        memory_mib_per_gpu: 32_768,
        lenient: false,
    }
}

#[test]
fn philly_sample_parses() {
    let path = project_file("scenarios/data/philly-sample.csv");
    let (w, stats) = philly::read_with_stats(&path, &ImportOptions::default()).unwrap();
    assert_eq!(w.jobs.len(), 3_025);
    assert_eq!(stats.rows, 3_025);
    assert_eq!(stats.rounded_up_jobs, 0);
    assert_eq!(w.tenants.len(), 9);
    // Earliest row 2017-10-13 06:00:01, latest 2017-10-15 17:51:55.
    assert_eq!(w.jobs[0].submit, SimTime::ZERO);
    let last = w.jobs.last().unwrap().submit;
    assert_eq!(
        last,
        SimTime::from_secs(2 * 86_400 + 11 * 3_600 + 51 * 60 + 54)
    );
    assert!(w.jobs.windows(2).all(|p| p[0].submit <= p[1].submit));
    assert!(w.jobs.iter().all(|j| j.name.starts_with("philly-L")));
    let gpus: u64 = w.jobs.iter().map(|j| j.total_whole_gpus()).sum();
    assert_eq!(gpus, 2_949 + 2 * 39 + 4 * 20 + 8 * 16 + 16);
    // The same through the format dispatcher.
    let via = read_trace(&path, TraceFormat::Philly, &ImportOptions::default()).unwrap();
    assert_eq!(via.workload, w);
    assert_eq!(
        (
            via.report.rows,
            via.report.kept_rows,
            via.report.skipped_rows()
        ),
        (3_025, 3_025, 0)
    );
}

#[test]
fn philly_gang_split() {
    let rows: String = [1, 8, 12, 16, 64]
        .iter()
        .enumerate()
        .map(|(i, n)| format!("2017-10-09 07:00:{i:02},10.0,{n},{}.0,vc\n", n * 10))
        .collect();
    let text = format!("{PHILLY_HEADER}{rows}");

    let (w, stats) = philly_str(&text, &shape(WorkerShape::Node)).unwrap();
    let got: Vec<(u32, GpuDemand, u32, u64)> = w
        .jobs
        .iter()
        .map(|j| (j.workers, j.gpu, j.cpu_milli, j.memory_mib))
        .collect();
    assert_eq!(
        got,
        [
            (1, GpuDemand::Whole(1), 4_000, 32_768),
            (1, GpuDemand::Whole(8), 32_000, 262_144),
            (2, GpuDemand::Whole(6), 24_000, 196_608),
            (2, GpuDemand::Whole(8), 32_000, 262_144),
            (8, GpuDemand::Whole(8), 32_000, 262_144),
        ]
    );
    assert_eq!(stats.rounded_up_jobs, 0);

    let (w, _) = philly_str(&text, &shape(WorkerShape::Gpu)).unwrap();
    let got: Vec<(u32, GpuDemand, u32)> = w
        .jobs
        .iter()
        .map(|j| (j.workers, j.gpu, j.cpu_milli))
        .collect();
    assert_eq!(
        got,
        [1, 8, 12, 16, 64].map(|n| (n, GpuDemand::Whole(1), 4_000))
    );

    // A size that does not split evenly is rounded up and counted.
    let odd = format!("{PHILLY_HEADER}2017-10-09 07:00:00,10.0,9,90.0,vc\n");
    let (w, stats) = philly_str(&odd, &shape(WorkerShape::Node)).unwrap();
    assert_eq!((w.jobs[0].workers, w.jobs[0].gpu), (2, GpuDemand::Whole(5)));
    assert_eq!((stats.rounded_up_jobs, stats.added_gpus), (1, 1));
}

#[test]
fn philly_accepts_float_gpu_counts_and_unsorted_rows() {
    let text = format!(
        "{PHILLY_HEADER}2017-10-09 07:00:10,66.0,4.0,264.0,b\n2017-10-09 07:00:00,0.5,1,0.5,a\n"
    );
    let (w, _) = philly_str(&text, &ImportOptions::default()).unwrap();
    assert_eq!(w.jobs[0].name, "philly-L3");
    assert_eq!(w.jobs[0].duration, 500);
    assert_eq!(w.jobs[1].name, "philly-L2");
    assert_eq!(w.jobs[1].submit, SimTime(10_000));
    assert_eq!(w.jobs[1].gpu, GpuDemand::Whole(4));
}

fn philly_err(text: &str) -> String {
    match philly_str(text, &ImportOptions::default()) {
        Ok(_) => panic!("expected an error for {text:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn philly_malformed_row_names_file_and_line() {
    let msg = philly_err(&format!(
        "{PHILLY_HEADER}2017-10-09 07:00:00,66.0,1,66.0,a\n2017-10-09 07:00:00,66.0,1\n"
    ));
    assert!(msg.contains("bad.csv") && msg.contains("line 3"), "{msg}");
}

#[test]
fn philly_bad_field_values() {
    let cases = [
        ("2017-10-32 07:00:00,66.0,1,66.0,a", "timestamp"),
        ("yesterday,66.0,1,66.0,a", "timestamp"),
        ("2017-10-09 07:00:00,-5.0,1,66.0,a", "duration"),
        ("2017-10-09 07:00:00,NaN,1,66.0,a", "duration"),
        ("2017-10-09 07:00:00,66.0,0,66.0,a", "num_gpus"),
        ("2017-10-09 07:00:00,66.0,2.5,66.0,a", "num_gpus"),
        ("2017-10-09 07:00:00,66.0,1,-1,a", "gpu_time"),
        ("2017-10-09 07:00:00,66.0,1,66.0,", "cluster"),
    ];
    for (row, field) in cases {
        let msg = philly_err(&format!(
            "{PHILLY_HEADER}2017-10-09 07:00:00,1.0,1,1.0,a\n{row}\n"
        ));
        assert!(
            msg.contains("bad.csv")
                && msg.contains("line 3")
                && msg.contains(&format!("`{field}`")),
            "{row}: {msg}"
        );
    }
    let msg = philly_err(&format!(
        "{PHILLY_HEADER}2017-10-09 07:00:00,-5.0,1,66.0,a\n"
    ));
    assert!(msg.contains("duration") && msg.contains("line 2"), "{msg}");
}

#[test]
fn philly_header_and_empty_file() {
    let msg = philly_err("time,duration,num_gpus,gpu_time,cluster\n");
    assert!(
        msg.contains("line 1") && msg.contains("timestamp,duration"),
        "{msg}"
    );
    let msg = philly_err("");
    assert!(msg.contains("empty"), "{msg}");
    let msg = philly_err(PHILLY_HEADER);
    assert!(msg.contains("no job rows"), "{msg}");
    let missing = project_file("scenarios/data/does-not-exist.csv");
    let err = philly::read(&missing, &ImportOptions::default()).unwrap_err();
    assert!(matches!(err, TraceError::Io { .. }));
    assert!(err.to_string().contains("does-not-exist.csv"));
}

proptest! {
    #[test]
    fn readers_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = philly::read_from(&bytes[..], Path::new("fuzz"), &ImportOptions::default());
        let _ = canonical::read_from(&bytes[..], Path::new("fuzz"));
    }

    #[test]
    fn philly_never_panics_on_odd_rows(rows in prop::collection::vec(
        prop::collection::vec(
            prop_oneof![
                Just("2017-10-09 07:00:00".to_string()),
                Just("66.0".to_string()),
                Just("1".to_string()),
                Just("-0".to_string()),
                Just("1e309".to_string()),
                Just("9999-12-31 23:59:59".to_string()),
                Just("\"q,\"".to_string()),
                "[0-9 :.-]{0,20}",
                any::<String>(),
            ],
            0..7,
        ),
        0..6,
    )) {
        let body: String = rows.iter().map(|r| r.join(",") + "\n").collect();
        let text = format!("{PHILLY_HEADER}{body}");
        let _ = philly_str(&text, &ImportOptions::default());
    }
}

// ---- canonical ----

fn gpu_demand() -> impl Strategy<Value = GpuDemand> {
    prop_oneof![
        (0u32..=64).prop_map(GpuDemand::Whole),
        (1u32..=999).prop_map(GpuDemand::Fraction),
    ]
}

fn draft() -> impl Strategy<Value = JobDraft> {
    (
        any::<String>(),
        any::<u64>(),
        prop_oneof![
            Just("a".to_string()),
            Just("b, \"c\"".to_string()),
            any::<String>()
        ],
        any::<i32>(),
        1u32..=1_000,
        gpu_demand(),
        any::<u32>(),
        any::<u64>(),
        prop::collection::vec("[A-Za-z0-9_. -]{1,8}", 0..3),
        any::<u64>(),
        prop::option::of(any::<String>().prop_filter("non-empty", |s| !s.is_empty())),
    )
        .prop_map(
            |(name, submit, tenant, priority, workers, gpu, cpu, mem, models, duration, status)| {
                JobDraft {
                    name,
                    submit: SimTime(submit),
                    tenant,
                    priority,
                    workers,
                    gpu,
                    cpu_milli: cpu,
                    memory_mib: mem,
                    gpu_models: models,
                    duration,
                    status,
                }
            },
        )
}

proptest! {
    #[test]
    fn canonical_round_trip(drafts in prop::collection::vec(draft(), 0..20)) {
        let w = Workload::from_drafts(drafts);
        let bytes = canonical::to_bytes(&w);
        let back = canonical::read_from(&bytes[..], Path::new("rt.csv"));
        prop_assert!(back.is_ok(), "{:?}", back.err().map(|e| e.to_string()));
        prop_assert_eq!(back.unwrap(), w);
    }
}

#[test]
fn canonical_tiny_file_is_stable() {
    let path = project_file("scenarios/data/tiny.jobs.csv");
    let w = read_trace(&path, TraceFormat::Canonical, &ImportOptions::default())
        .unwrap()
        .workload;
    assert_eq!(w.jobs.len(), 10);
    assert_eq!(w.tenants, ["vision", "nlp", "research"]);
    let gang = w.jobs.iter().find(|j| j.workers == 2).unwrap();
    assert_eq!(
        (gang.gpu, gang.gpu_models.as_slice()),
        (GpuDemand::Whole(8), &["A100".to_string()][..])
    );
    assert!(w.jobs.iter().any(|j| j.gpu == GpuDemand::Fraction(250)));
    // Written in the exporter's own form: re-exporting gives the same bytes.
    assert_eq!(canonical::to_bytes(&w), std::fs::read(&path).unwrap());
}

#[test]
fn canonical_exports_philly_sample_losslessly() {
    let path = project_file("scenarios/data/philly-sample.csv");
    let w = philly::read(&path, &shape(WorkerShape::Node)).unwrap();
    let bytes = canonical::to_bytes(&w);
    assert_eq!(canonical::read_from(&bytes[..], Path::new("x")).unwrap(), w);
}

const CANON_HEAD: &str = "name,submit_ms,tenant,priority,workers,gpus,gpu_milli,cpu_milli,memory_mib,gpu_models,duration_ms,status\n";

fn canonical_err(text: &str) -> TraceError {
    canonical::read_from(text.as_bytes(), Path::new("jobs.csv")).unwrap_err()
}

#[test]
fn canonical_bad_version_line() {
    let err = canonical_err(&format!("# schedlab-jobs v0\n{CANON_HEAD}"));
    assert!(matches!(err, TraceError::Header { line: 1, .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("jobs.csv") && msg.contains("# schedlab-jobs v1"),
        "{msg}"
    );
    // A file that starts straight with the header has no version line.
    let err = canonical_err(CANON_HEAD);
    assert!(matches!(err, TraceError::Header { line: 1, .. }), "{err}");
    let err = canonical_err("");
    assert!(matches!(err, TraceError::Empty { .. }), "{err}");
}

#[test]
fn canonical_negative_duration_and_malformed_row() {
    let err = canonical_err(&format!(
        "# schedlab-jobs v1\n{CANON_HEAD}a,0,t,0,1,1,0,0,0,,10,\nb,0,t,0,1,1,0,0,0,,-10,\n"
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("duration_ms") && msg.contains("line 4"),
        "{msg}"
    );
    let err = canonical_err(&format!("# schedlab-jobs v1\n{CANON_HEAD}a,0,t,0,1\n"));
    assert!(matches!(err, TraceError::Csv { line: 3, .. }), "{err}");
    assert!(err.to_string().contains("jobs.csv: line 3"), "{err}");
}

#[test]
fn full_philly_trace() {
    let path = project_file("../shared/traces/philly/philly.csv");
    if !path.exists() {
        eprintln!(
            "skipping full_philly_trace: {} is absent (it sits beside the project, not in it)",
            path.display()
        );
        return;
    }
    let started = Instant::now();
    let (w, stats) = philly::read_with_stats(&path, &ImportOptions::default()).unwrap();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "full Philly trace: {} rows in {:.3} s ({:.0} rows/s, this build profile)",
        stats.rows,
        secs,
        stats.rows as f64 / secs
    );
    assert_eq!(w.jobs.len(), 82_247);
    assert_eq!(w.tenants.len(), 15);
    assert_eq!(w.jobs[0].submit, SimTime::ZERO);
    assert_eq!(stats.rounded_up_jobs, 0);
    // Every published size splits exactly on 8-GPU nodes.
    let gpus: u64 = w.jobs.iter().map(|j| j.total_whole_gpus()).sum();
    assert_eq!(
        gpus,
        76_627
            + 2 * 1_818
            + 4 * 1_870
            + 8 * 1_643
            + 12 * 7
            + 16 * 199
            + 24 * 7
            + 32 * 67
            + 64 * 6
            + 128 * 3
    );
}
