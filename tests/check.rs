//! `schedlab baseline` and `schedlab check` end to end: a recorded baseline
//! passes, a worse cluster or a tampered baseline fails with exit 1 and a
//! JUnit failure, broken inputs exit 2, and the report formats are pinned.

use std::path::Path;
use std::process::Output;
mod common;

use common::bin::schedlab_in as schedlab;

use schedlab::experiment::check::{
    self, Baseline, CheckReport, Metrics, ScenarioCheck, Tolerances,
};

/// A small fast scenario: 12 one-hour one-GPU jobs at t = 0 on 4 one-GPU
/// nodes (three waves: waits 0, 1 and 2 h).
fn write_case(dir: &Path) {
    let mut csv = String::from(
        "# schedlab-jobs v1\nname,submit_ms,tenant,priority,workers,gpus,gpu_milli,cpu_milli,memory_mib,gpu_models,duration_ms,status\n",
    );
    for i in 0..12 {
        csv.push_str(&format!("j{i},0,t,0,1,1,0,1000,1024,,3600000,\n"));
    }
    std::fs::write(dir.join("jobs.csv"), csv).unwrap();
    std::fs::write(
        dir.join("waves.toml"),
        "schema = 1\nname = \"waves\"\n\n[[cluster.pools]]\nname = \"gpu\"\nnodes = 4\ngpus_per_node = 1\nprice_per_node_hour = 2.0\n\n[workload]\ntrace = \"jobs.csv\"\nformat = \"canonical\"\n\n[policy]\nscheduler = \"fifo\"\nplacement = \"first-fit\"\n\n[run]\nsample_interval_s = 0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tolerances.toml"),
        "schema = 1\n\n[metrics.\"wait_s.*\"]\nrel = 0.05\n\n[metrics.\"jct_s.*\"]\nrel = 0.05\n\n[metrics.\"events\"]\nignore = true\n",
    )
    .unwrap();
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn record(dir: &Path, extra: &[&str]) {
    let mut args = vec!["baseline", "waves.toml", "--out", "base.json"];
    args.extend_from_slice(extra);
    let o = schedlab(dir, &args);
    assert!(o.status.success(), "baseline failed: {}", text(&o.stderr));
}

fn check(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "check",
        "--baseline",
        "base.json",
        "--tolerances",
        "tolerances.toml",
        "--junit",
        "junit.xml",
        "--markdown",
        "check.md",
    ];
    args.extend_from_slice(extra);
    schedlab(dir, &args)
}

#[test]
fn a_fresh_baseline_passes_its_check() {
    let dir = tempfile::tempdir().unwrap();
    write_case(dir.path());
    record(dir.path(), &[]);
    let base = Baseline::load(&dir.path().join("base.json")).unwrap();
    assert_eq!(base.schema, 1);
    let entry = &base.scenarios[0];
    assert_eq!(
        (entry.name.as_str(), entry.path.as_str()),
        ("waves", "waves.toml")
    );
    // Waits 0, 1, 2 h, four jobs each: mean 1 h, nearest-rank p95 2 h.
    assert_eq!(entry.metrics["wait_s.mean"], 3600.0);
    assert_eq!(entry.metrics["wait_s.p95"], 7200.0);
    assert_eq!(entry.metrics["jobs.finished"], 12.0);
    assert_eq!(entry.metrics["cost.pools.gpu.node_hours"], 12.0);
    assert!(
        !entry
            .metrics
            .keys()
            .any(|k| k.starts_with("run.") || k == "wall_time_s")
    );

    let o = check(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("**PASS: 1 scenarios"), "{stdout}");
    assert!(
        stdout.contains("| `wait_s.p95` | 7200 | 7200 | 0 | +0.00% | ≤ +5% | ok |"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(!junit.contains("<failure"));
    assert!(junit.contains("<testcase classname=\"schedlab.check.waves\" name=\"wait_s.p95\"/>"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("check.md")).unwrap(),
        stdout
    );
}

#[test]
fn fewer_nodes_in_the_check_fail_with_exit_1_and_a_junit_failure() {
    let dir = tempfile::tempdir().unwrap();
    write_case(dir.path());
    record(dir.path(), &[]);
    // 3 nodes: four waves, waits 0..3 h (mean 1.5 h, p95 3 h).
    let o = check(dir.path(), &["--set", "cluster.pools.0.nodes=3"]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("**FAIL: 1 scenarios"), "{stdout}");
    assert!(
        stdout.contains(
            "| `wait_s.p95` | 7200 | 10800 | +3600 | +50.00% | ≤ +5% | **FAIL: regression** |"
        ),
        "{stdout}"
    );
    // The last wave ends an hour later: makespan 3 → 4 h.
    assert!(
        stdout.contains("| `makespan_s` | 10800 | 14400 |"),
        "{stdout}"
    );
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("waves: wait_s.p95: 7200 → 10800"),
        "{stderr}"
    );
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains(
        "<testcase classname=\"schedlab.check.waves\" name=\"wait_s.p95\">\n      <failure message=\"wait_s.p95: 7200 → 10800 (delta +3600, +50.00%), tolerance ≤ +5% (higher-is-worse, from metrics.&quot;wait_s.*&quot;)\" type=\"regression\">"
    ), "{junit}");
    let failures = junit.matches("<failure ").count();
    let header = format!("failures=\"{failures}\"");
    assert!(junit.lines().nth(1).unwrap().contains(&header), "{junit}");
    // `events` changed too but is ignored.
    assert!(junit.contains("name=\"events\">\n      <skipped message=\"ignored\"/>"));
}

#[test]
fn a_tampered_baseline_value_fails_and_a_vanished_metric_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    write_case(dir.path());
    record(dir.path(), &[]);
    let path = dir.path().join("base.json");
    let mut base = Baseline::load(&path).unwrap();
    let m = &mut base.scenarios[0].metrics;
    // Pretend the old code gave a lower mean wait: the current one is worse.
    m.insert("wait_s.mean".into(), 3000.0);
    // A metric the summary no longer has, and one it gained.
    m.insert("jobs.vanished".into(), 1.0);
    m.remove("slowdown.p50");
    std::fs::write(&path, base.to_bytes(&path).unwrap()).unwrap();

    let o = check(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains(
            "| `wait_s.mean` | 3000 | 3600 | +600 | +20.00% | ≤ +5% | **FAIL: regression** |"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "| `jobs.vanished` | 1 | — | — | — | ≤ +0 | **FAIL: missing from the run** |"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("| `slowdown.p50` | — | 2 | — | — | ≤ +0 | new, not in baseline |"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "1 regressions, 1 missing, 0 worse within tolerance, 0 improved, 1 new, 1 ignored"
        ),
        "{stdout}"
    );
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("jobs.vanished: in the baseline (1) but not in the run's summary"),
        "{stderr}"
    );
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("type=\"missing\""));
    assert!(
        junit.contains("name=\"slowdown.p50\">\n      <skipped message=\"new, not in baseline\"/>")
    );

    // Only the new metric (no tampering): passes.
    record(dir.path(), &[]);
    let mut base = Baseline::load(&path).unwrap();
    base.scenarios[0].metrics.remove("slowdown.p50");
    std::fs::write(&path, base.to_bytes(&path).unwrap()).unwrap();
    let o = check(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
}

#[test]
fn overrides_are_recorded_and_reapplied_and_toml_baselines_work() {
    let dir = tempfile::tempdir().unwrap();
    write_case(dir.path());
    let o = schedlab(
        dir.path(),
        &[
            "baseline",
            "waves.toml",
            "--set",
            "cluster.pools.0.nodes=6",
            "--out",
            "base.toml",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let base = Baseline::load(&dir.path().join("base.toml")).unwrap();
    assert_eq!(base.scenarios[0].overrides, ["cluster.pools.0.nodes=6"]);
    // 6 nodes: two waves, p95 wait 1 h.
    assert_eq!(base.scenarios[0].metrics["wait_s.p95"], 3600.0);
    let o = schedlab(dir.path(), &["check", "--baseline", "base.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    // No tolerance file: every metric compared, exactly.
    assert_eq!(
        text(&o.stdout).trim(),
        format!(
            "PASS: 1 scenarios, {} metrics compared, 0 regressions, 0 missing, 0 worse within tolerance, 0 improved, 0 new, 0 ignored",
            base.scenarios[0].metrics.len()
        )
    );
}

#[test]
fn broken_inputs_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_case(dir.path());
    record(dir.path(), &[]);
    let cases: [(&[&str], &str); 5] = [
        (
            &["check", "--baseline", "nope.json"],
            "nope.json: cannot read the baseline",
        ),
        (
            &[
                "check",
                "--baseline",
                "base.json",
                "--tolerances",
                "nope.toml",
            ],
            "nope.toml: cannot read the tolerances",
        ),
        (&["check", "--baseline", "bad-tol.toml"], "bad-tol.toml"),
        (
            &[
                "check",
                "--baseline",
                "base.json",
                "--tolerances",
                "bad-tol.toml",
            ],
            "bad-tol.toml:3: `metrics.\"wait_s.p95\".rel`: expected a number ≥ 0, got -0.1",
        ),
        (
            &[
                "check",
                "--baseline",
                "base.json",
                "--tolerances",
                "typo.toml",
            ],
            "typo.toml",
        ),
    ];
    std::fs::write(
        dir.path().join("bad-tol.toml"),
        "schema = 1\n[metrics.\"wait_s.p95\"]\nrel = -0.1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("typo.toml"),
        "schema = 1\n[metrics.\"wait_s.p95\"]\nrelative = 0.1\n",
    )
    .unwrap();
    for (args, needle) in cases {
        let o = schedlab(dir.path(), args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            err.contains(needle),
            "{args:?}: stderr lacks {needle:?}: {err}"
        );
    }
    let o = schedlab(
        dir.path(),
        &[
            "check",
            "--baseline",
            "base.json",
            "--tolerances",
            "typo.toml",
        ],
    );
    assert!(
        text(&o.stderr).contains("relative"),
        "names the unknown field"
    );

    // A scenario that no longer exists: exit 2, and the JUnit file says so.
    let path = dir.path().join("base.json");
    let mut base = Baseline::load(&path).unwrap();
    base.scenarios[0].path = "gone.toml".into();
    std::fs::write(&path, base.to_bytes(&path).unwrap()).unwrap();
    let o = check(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains("<error message=\"gone.toml: cannot read scenario\">"),
        "{junit}"
    );
}

#[test]
fn the_markdown_and_junit_reports_are_pinned() {
    // Hand-made metrics covering every status, so the golden files do not
    // change when the summary gains fields.
    let baseline: Metrics = [
        ("cost.total", 100.0),
        ("events", 500.0),
        ("jobs.finished", 10.0),
        ("jobs.gone", 1.0),
        ("mean_gpu_allocation_pct", 60.0),
        ("wait_s.mean", 1000.0),
        ("wait_s.p95", 3000.0),
        ("jct_s.p95", 4000.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let current: Metrics = [
        ("cost.total", 100.0),
        ("events", 650.0),
        ("jobs.finished", 10.0),
        ("jobs.new_reason", 2.0),
        ("mean_gpu_allocation_pct", 59.5),
        ("wait_s.mean", 1040.0),
        ("wait_s.p95", 3600.0),
        ("jct_s.p95", 3900.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let tol = Tolerances::parse(
        "schema = 1\n[metrics.\"wait_s.*\"]\nrel = 0.05\nabs = 30\n[metrics.\"mean_gpu_allocation_pct\"]\nabs = 1\n[metrics.events]\nignore = true\n",
        Path::new("tolerances.toml"),
    )
    .unwrap();
    let report = CheckReport {
        baseline: "base.json".into(),
        tolerances: Some("tolerances.toml".into()),
        scenarios: vec![ScenarioCheck {
            label: "demo <&> [seed=2]".into(),
            path: "demo.toml".into(),
            rows: check::compare(&baseline, &current, &tol),
            notes: vec![],
            error: None,
        }],
    };
    assert!(!report.passed());
    let t = report.tally();
    assert_eq!(
        (t.regressions, t.missing, t.new, t.ignored, t.improved),
        (1, 1, 1, 1, 1)
    );
    insta::assert_snapshot!("demo_markdown", report.markdown());
    insta::assert_snapshot!("demo_junit", report.junit());
}

#[test]
fn the_shipped_baseline_and_tolerances_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = Baseline::load(&root.join("results/baseline/quickstart.json")).unwrap();
    let names: Vec<&str> = base.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["quickstart", "synthetic"]);
    for s in &base.scenarios {
        assert!(root.join(&s.path).exists(), "{} is missing", s.path);
        assert!(s.metrics.contains_key("wait_s.p95"));
    }
    let tol = Tolerances::load(&root.join("results/baseline/tolerances.toml")).unwrap();
    assert!(tol.for_metric("wait_s.p95").rel > 0.0);
}
