//! `schedlab trace inspect` and `schedlab trace convert` end to end.

use std::path::{Path, PathBuf};
use std::process::Output;
mod common;

use common::bin::{root, schedlab};

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected failure; stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

const SAMPLE: &str = "scenarios/data/philly-sample.csv";

#[test]
fn inspect_reports_the_sample_and_matches_the_golden_text() {
    let out = ok(&schedlab(&["trace", "inspect", SAMPLE]));
    assert!(
        out.contains("rows: 3025 read, 3025 kept, 0 skipped"),
        "{out}"
    );
    insta::assert_snapshot!("inspect_philly_sample", out);
}

#[test]
fn inspect_json_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let plots = dir.path().join("plots");
    let out = ok(&schedlab(&[
        "trace",
        "inspect",
        SAMPLE,
        "--json",
        "--plot",
        plots.to_str().unwrap(),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format"], "philly");
    assert_eq!(v["stats"]["jobs"], 3025);
    assert_eq!(v["stats"]["tenants"], 9);
    assert_eq!(v["import"]["rows"], 3025);
    for name in ["gpus_per_job.png", "durations.png", "arrivals.png"] {
        let bytes = std::fs::read(plots.join(name)).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{name} is not a PNG"
        );
        assert!(bytes.len() > 5_000, "{name} looks empty");
    }
}

#[test]
fn convert_to_canonical_round_trips_and_transforms() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.jobs.csv");
    ok(&schedlab(&[
        "trace",
        "convert",
        SAMPLE,
        "--to",
        "canonical",
        out.to_str().unwrap(),
    ]));
    // The canonical file is detected by its version line and holds the same jobs.
    let a: serde_json::Value =
        serde_json::from_str(&ok(&schedlab(&["trace", "inspect", SAMPLE, "--json"]))).unwrap();
    let b: serde_json::Value = serde_json::from_str(&ok(&schedlab(&[
        "trace",
        "inspect",
        out.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(b["format"], "canonical");
    assert_eq!(a["stats"], b["stats"]);

    // Twice the load: the same jobs over half the span.
    let fast = dir.path().join("fast.jobs.csv");
    ok(&schedlab(&[
        "trace",
        "convert",
        SAMPLE,
        "--to",
        "canonical",
        fast.to_str().unwrap(),
        "--load-factor",
        "2",
    ]));
    let c: serde_json::Value = serde_json::from_str(&ok(&schedlab(&[
        "trace",
        "inspect",
        fast.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(c["stats"]["jobs"], 3025);
    let span = |v: &serde_json::Value| v["stats"]["last_submit_s"].as_f64().unwrap();
    assert!(
        (span(&c) - span(&a) / 2.0).abs() <= 0.001,
        "{} vs {}",
        span(&c),
        span(&a)
    );

    // A seeded tenth, capped at 4 GPUs per job.
    let small = dir.path().join("small.jobs.csv");
    let args = [
        "trace",
        "convert",
        SAMPLE,
        "--to",
        "canonical",
        small.to_str().unwrap(),
        "--sample",
        "0.1",
        "--seed",
        "3",
        "--max-gpus",
        "4",
    ];
    let o = schedlab(&args);
    ok(&o);
    let first = std::fs::read(&small).unwrap();
    ok(&schedlab(&args));
    assert_eq!(first, std::fs::read(&small).unwrap(), "sampling is seeded");
    let d: serde_json::Value = serde_json::from_str(&ok(&schedlab(&[
        "trace",
        "inspect",
        small.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    let jobs = d["stats"]["jobs"].as_u64().unwrap();
    assert!((200..=400).contains(&jobs), "{jobs}");
    assert!(d["stats"]["gpus_per_job"]["max"].as_f64().unwrap() <= 4.0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("shrunk to the GPU cap"));
}

#[test]
fn convert_to_itp_writes_whole_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample-itp.csv");
    ok(&schedlab(&[
        "trace",
        "convert",
        SAMPLE,
        "--to",
        "itp",
        out.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("job_id,submission_time,duration,num_gpu\n"));
    assert_eq!(text.lines().count(), 3026);
}

fn bad_trace(dir: &Path) -> PathBuf {
    let p = dir.join("bad.csv");
    std::fs::write(
        &p,
        "timestamp,duration,num_gpus,gpu_time,cluster\n\
         2017-10-01 00:00:00,60.0,1,60.0,a\n\
         2017-10-01 00:01:00,-5.0,1,60.0,a\n\
         2017-10-01 00:02:00,60.0,two,60.0,b\n\
         2017-10-01 00:03:00,60.0,1,60.0\n\
         2017-10-01 00:04:00,60.0,2,120.0,b\n\
         2017-10-01 00:05:00,70.0,1,70.0,b\n",
    )
    .unwrap();
    p
}

#[test]
fn strict_by_default_lenient_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let bad = bad_trace(dir.path());
    let bad = bad.to_str().unwrap();
    fails(
        &schedlab(&["trace", "inspect", bad]),
        &["bad.csv", "line 3", "column 2", "`duration`", "-5.0"],
    );
    let o = schedlab(&["trace", "inspect", bad, "--lenient"]);
    let out = ok(&o);
    assert!(out.contains("rows: 6 read, 3 kept, 3 skipped"), "{out}");
    assert!(out.contains("1 rows: field `duration`"), "{out}");
    assert!(out.contains("1 rows: field `num_gpus`"), "{out}");
    assert!(
        out.contains("1 rows: malformed CSV: expected 5 fields"),
        "{out}"
    );
    assert!(out.contains("jobs: 3 "), "{out}");
}

#[test]
fn undetectable_format_asks_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mystery.csv");
    std::fs::write(&p, "a,b,c\n1,2,3\n").unwrap();
    fails(
        &schedlab(&["trace", "inspect", p.to_str().unwrap()]),
        &["mystery.csv", "--format"],
    );
    fails(
        &schedlab(&[
            "trace",
            "inspect",
            p.to_str().unwrap(),
            "--format",
            "philly",
        ]),
        &["header"],
    );
    fails(
        &schedlab(&["trace", "inspect", SAMPLE, "--format", "nope"]),
        &["unknown trace format"],
    );
}

#[test]
fn every_shared_trace_inspects() {
    let shared = root().join("../shared/traces");
    if !shared.exists() {
        eprintln!("skipping: ../shared/traces not present");
        return;
    }
    let out = ok(&schedlab(&[
        "trace",
        "inspect",
        "../shared/traces/philly/philly.csv",
    ]));
    assert!(out.contains("jobs: 82247 "), "{out}");
}
