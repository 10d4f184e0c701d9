//! The `schedlab` binary end to end: the bundled quickstart, determinism,
//! golden reports and bad input (clear errors, non-zero exits, no panics).

use std::path::Path;
use std::process::Output;
mod common;

use common::bin::{root, schedlab, stderr};

/// Fails unless the command failed cleanly: non-zero exit, no panic, and an
/// error message containing every `needle`.
fn assert_fails_with(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert!(!err.contains("panicked"), "panicked: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
}

fn run_to(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--out", dir.to_str().unwrap(), "-q"];
    args.extend_from_slice(extra);
    let o = schedlab(&args);
    assert!(o.status.success(), "run failed: {}", stderr(&o));
    o
}

/// `summary.json` without its one wall-clock figure.
fn summary_without_wall(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let wall = v.as_object_mut().unwrap().remove("wall_time_s");
    assert!(wall.is_some_and(|w| w.as_f64().unwrap() >= 0.0));
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn quickstart_is_deterministic_byte_for_byte() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    run_to(a.path(), &[]);
    run_to(b.path(), &[]);
    for f in ["jobs.csv", "timeline.csv"] {
        let x = std::fs::read(a.path().join(f)).unwrap();
        let y = std::fs::read(b.path().join(f)).unwrap();
        assert!(x.len() > 1000, "{f} is too small");
        assert!(x == y, "{f} differs between identical runs");
    }
    assert_eq!(
        summary_without_wall(a.path()),
        summary_without_wall(b.path())
    );
}

#[test]
fn quickstart_summary_matches_the_golden_file() {
    let d = tempfile::tempdir().unwrap();
    let o = run_to(d.path(), &[]);
    assert!(o.stdout.is_empty(), "-q prints nothing");
    insta::assert_snapshot!("quickstart_summary", summary_without_wall(d.path()));
    let jobs = std::fs::read_to_string(d.path().join("jobs.csv")).unwrap();
    assert_eq!(jobs.lines().count(), 3_025 + 1);
    // Head of the table, where the first jobs and their units are easy to check by eye.
    let head: Vec<&str> = jobs.lines().take(6).collect();
    insta::assert_snapshot!("quickstart_jobs_head", head.join("\n"));
}

#[test]
fn a_different_seed_or_policy_changes_the_result() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    run_to(a.path(), &[]);
    run_to(b.path(), &["--set", "policy.scheduler=fifo"]);
    let x = std::fs::read(a.path().join("jobs.csv")).unwrap();
    let y = std::fs::read(b.path().join("jobs.csv")).unwrap();
    assert!(x != y, "fifo and fifo-skip gave identical schedules");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["run"]["scheduler"], "fifo");
}

#[test]
fn synthetic_scenario_depends_on_the_seed_only() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    run_to(a.path(), &["scenarios/synthetic.toml", "--seed", "3"]);
    run_to(b.path(), &["scenarios/synthetic.toml", "--seed", "3"]);
    run_to(c.path(), &["scenarios/synthetic.toml", "--seed", "4"]);
    let read = |d: &Path| std::fs::read(d.join("jobs.csv")).unwrap();
    assert_eq!(read(a.path()), read(b.path()));
    assert_ne!(read(a.path()), read(c.path()));
}

/// A scenario in a temporary folder next to a canonical trace.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(scenario: &str, trace: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("scenario.toml"), scenario).unwrap();
        std::fs::write(dir.path().join("jobs.csv"), trace).unwrap();
        Fixture { dir }
    }
    fn scenario(&self) -> String {
        self.dir
            .path()
            .join("scenario.toml")
            .to_str()
            .unwrap()
            .to_string()
    }
    fn out(&self) -> String {
        self.dir.path().join("out").to_str().unwrap().to_string()
    }
    fn run(&self) -> Output {
        schedlab(&["run", &self.scenario(), "--out", &self.out()])
    }
}

const SCENARIO: &str = r#"schema = 1
name = "fixture"

[[cluster.pools]]
name = "p"
nodes = 2
gpus_per_node = 8
gpu_model = "V100"

[workload]
trace = "jobs.csv"
format = "canonical"

[policy]
scheduler = "fifo"
placement = "best-fit"
"#;

const HEADER: &str = "# schedlab-jobs v1\nname,submit_ms,tenant,priority,workers,gpus,gpu_milli,cpu_milli,memory_mib,gpu_models,duration_ms,status\n";

fn trace(rows: &[&str]) -> String {
    let mut t = HEADER.to_string();
    for r in rows {
        t.push_str(r);
        t.push('\n');
    }
    t
}

#[test]
fn a_job_bigger_than_any_pool_is_reported_and_the_run_completes() {
    let f = Fixture::new(
        SCENARIO,
        &trace(&[
            "a,0,t,0,1,4,0,0,0,,60000,",
            "huge,0,t,0,1,16,0,0,0,,60000,",
            "gang,1000,t,0,2,8,0,0,0,,60000,",
            "b,2000,t,0,1,2,0,0,0,,1000,",
        ]),
    );
    let o = f.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("1 unschedulable"), "{stdout}");
    let jobs = std::fs::read_to_string(Path::new(&f.out()).join("jobs.csv")).unwrap();
    let status: Vec<&str> = jobs
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(
        status,
        ["finished", "unschedulable", "finished", "finished"]
    );
    // Strict FIFO: the gang needs both whole nodes, so it waits for `a` to end
    // at 60 s; `b` waits behind it until the gang ends at 120 s. `huge` is
    // reported at arrival and does not block the queue.
    let starts: Vec<&str> = jobs
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap())
        .collect();
    assert_eq!(starts, ["0.000", "", "60.000", "120.000"]);
}

#[test]
fn malformed_csv_row_names_file_and_line() {
    let f = Fixture::new(
        SCENARIO,
        &trace(&["a,0,t,0,1,4,0,0,0,,60000,", "b,0,t,0,1"]),
    );
    assert_fails_with(&f.run(), &["jobs.csv", "line 4"]);
}

#[test]
fn negative_duration_names_field_and_line() {
    let f = Fixture::new(
        SCENARIO,
        &trace(&["a,0,t,0,1,4,0,0,0,,60000,", "b,5,t,0,1,1,0,0,0,,-3,"]),
    );
    assert_fails_with(&f.run(), &["jobs.csv", "line 4", "duration_ms", "-3"]);
}

#[test]
fn unknown_policy_name_fails_at_load_with_its_line() {
    let f = Fixture::new(&SCENARIO.replace("\"fifo\"", "\"fifo-skp\""), &trace(&[]));
    assert_fails_with(
        &f.run(),
        &["scenario.toml", "line 15", "fifo-skp", "fifo-skip"],
    );
}

#[test]
fn unknown_scenario_field_is_rejected() {
    let f = Fixture::new(
        &SCENARIO.replace("nodes = 2", "nodes = 2\nnode_count = 3"),
        &trace(&[]),
    );
    assert_fails_with(
        &f.run(),
        &["scenario.toml", "line 7", "unknown field `node_count`"],
    );
}

#[test]
fn invalid_value_names_file_line_and_field() {
    let f = Fixture::new(&format!("{SCENARIO}\n[run]\nhorizon_s = -5\n"), &trace(&[]));
    assert_fails_with(
        &f.run(),
        &[
            "scenario.toml:19",
            "run.horizon_s",
            "positive number of seconds",
        ],
    );
}

#[test]
fn bad_override_names_the_key() {
    let f = Fixture::new(SCENARIO, &trace(&[]));
    let o = schedlab(&["run", &f.scenario(), "--set", "policy.placement=tightest"]);
    assert_fails_with(&o, &["--set policy.placement", "tightest"]);
    let o = schedlab(&["run", &f.scenario(), "--set", "novalue"]);
    assert_fails_with(&o, &["key=value"]);
}

#[test]
fn missing_trace_and_missing_scenario_are_clear() {
    let f = Fixture::new(&SCENARIO.replace("jobs.csv", "nope.csv"), &trace(&[]));
    assert_fails_with(&f.run(), &["nope.csv", "cannot read"]);
    assert_fails_with(
        &schedlab(&["run", "no/such/scenario.toml"]),
        &["no/such/scenario.toml"],
    );
}

#[test]
fn validate_reports_the_workload() {
    let o = schedlab(&["validate", "scenarios/quickstart.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("3025 jobs") && out.contains("64 GPUs"),
        "{out}"
    );
}

#[test]
fn every_bundled_scenario_validates() {
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let o = schedlab(&["validate", path.to_str().unwrap()]);
            assert!(o.status.success(), "{}: {}", path.display(), stderr(&o));
        }
    }
}

#[test]
fn help_has_examples() {
    for args in [&["--help"][..], &["run", "--help"], &["validate", "--help"]] {
        let o = schedlab(args);
        assert!(o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Example"),
            "{args:?}"
        );
    }
}

/// Spot reclaim times from a file: node 1 of the spot pool goes for good at
/// 30 s, killing `a`, which restarts on node 0 once `b` ends at 60 s; a row
/// with a repair time takes node 0 down from 100 s to 110 s, killing `a`
/// again, which reruns from scratch (no checkpoints) and ends at 170 s. A
/// malformed row names the file, line and column.
#[test]
fn outages_come_from_a_file_and_bad_rows_name_the_file_and_line() {
    let scenario = SCENARIO
        .replace(
            "gpu_model = \"V100\"\n",
            "gpu_model = \"V100\"\nkind = \"spot\"\n",
        )
        .replace(
            "[policy]",
            "[faults]\noutages_file = \"reclaims.csv\"\n\n[policy]",
        );
    let f = Fixture::new(
        &scenario,
        &trace(&["b,0,t,0,1,8,0,0,0,,60000,", "a,0,t,0,1,8,0,0,0,,60000,"]),
    );
    std::fs::write(
        f.dir.path().join("reclaims.csv"),
        "at_s,pool,node,down_for_s\n30,p,1,\n100,p,0,10\n",
    )
    .unwrap();
    let o = f.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = std::fs::read_to_string(Path::new(&f.out()).join("summary.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(v["node_outages"], 2);
    assert_eq!(v["job_kills"], 2);
    let jobs = std::fs::read_to_string(Path::new(&f.out()).join("jobs.csv")).unwrap();
    let a = jobs.lines().nth(2).unwrap();
    assert_eq!(a.split(',').nth(5), Some("170.000"), "{a}");
    std::fs::write(
        f.dir.path().join("reclaims.csv"),
        "at_s,pool,node,down_for_s\n30,p,1,\nsoon,p,0,\n",
    )
    .unwrap();
    assert_fails_with(&f.run(), &["reclaims.csv:3", "at_s", "\"soon\""]);
}
