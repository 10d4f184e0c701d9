//! `schedlab compare` end to end: a hand-worked case where two policies give
//! known, different JCTs; golden compare.md / compare.csv for a small
//! quickstart cut; self-contained HTML; determinism; bad input. Also the
//! per-run `report.html` of `schedlab run`.

use std::path::{Path, PathBuf};
use std::process::Output;
mod common;

use common::bin::{schedlab, stderr};

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "failed: {}", stderr(&o));
    o
}

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

/// One 4-GPU node and three whole-node jobs:
///
/// | job | tenant | submit | duration |
/// |---|---|---|---|
/// | a | x | 0 s | 100 s |
/// | b | y | 10 s | 1000 s |
/// | c | y | 20 s | 10 s |
///
/// fifo: a 0–100, b 100–1100, c 1100–1110 → JCT 100, 1090, 1090 (mean 760,
/// p95 1090), wait 0, 90, 1080 (mean 390, p95 1080).
/// sjf: a 0–100, then c (shorter) 100–110, b 110–1110 → JCT 100, 1100, 90
/// (mean 430, p95 1100), wait 0, 100, 80 (mean 60, p95 100).
/// Both: makespan 1110 s, the node busy throughout (100 %).
fn hand_scenario(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("hand.jobs.csv"),
        "# schedlab-jobs v1\n\
         name,submit_ms,tenant,priority,workers,gpus,gpu_milli,cpu_milli,memory_mib,gpu_models,duration_ms,status\n\
         a,0,x,0,1,4,0,1000,1024,,100000,\n\
         b,10000,y,0,1,4,0,1000,1024,,1000000,\n\
         c,20000,y,0,1,4,0,1000,1024,,10000,\n",
    )
    .unwrap();
    let path = dir.join("hand.toml");
    std::fs::write(
        &path,
        r#"schema = 1
name = "hand"
[[cluster.pools]]
name = "p"
nodes = 1
gpus_per_node = 4
gpu_model = "V100"
cpu_milli = 32000
memory_mib = 131072
[workload]
trace = "hand.jobs.csv"
format = "canonical"
[policy]
scheduler = "fifo"
placement = "first-fit"
[run]
sample_interval_s = 10
"#,
    )
    .unwrap();
    path
}

/// compare.csv as rows of named fields.
fn csv_rows(dir: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(dir.join("compare.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn num(row: &std::collections::BTreeMap<String, String>, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} = {:?} is not a number", row[key]))
}

#[test]
fn fifo_and_sjf_give_the_hand_worked_jcts() {
    let d = tempfile::tempdir().unwrap();
    let scenario = hand_scenario(d.path());
    let out = d.path().join("out");
    let o = ok(schedlab(&[
        "compare",
        scenario.to_str().unwrap(),
        "--policies",
        "fifo,sjf",
        "--out",
        out.to_str().unwrap(),
        "--check-invariants",
    ]));
    let rows = csv_rows(&out);
    assert_eq!(rows.len(), 2);
    let (fifo, sjf) = (&rows[0], &rows[1]);
    assert_eq!(
        (fifo["variant"].as_str(), sjf["variant"].as_str()),
        ("fifo", "sjf")
    );
    // The scenario's placement stays when a policy names only a scheduler.
    assert_eq!(sjf["placement"], "first-fit");
    for (r, jct_mean, jct_p95, wait_mean, wait_p95) in [
        (fifo, 760.0, 1090.0, 390.0, 1080.0),
        (sjf, 430.0, 1100.0, 60.0, 100.0),
    ] {
        assert_eq!(num(r, "jobs_finished"), 3.0);
        assert_eq!(num(r, "jobs_unfinished"), 0.0);
        assert_eq!(num(r, "jct_mean_s"), jct_mean, "{r:?}");
        assert_eq!(num(r, "jct_p95_s"), jct_p95, "{r:?}");
        assert_eq!(num(r, "wait_mean_s"), wait_mean, "{r:?}");
        assert_eq!(num(r, "wait_p95_s"), wait_p95, "{r:?}");
        assert_eq!(num(r, "makespan_s"), 1110.0);
        assert_eq!(num(r, "gpu_alloc_pct"), 100.0);
        assert_eq!(num(r, "cost"), 0.0);
    }
    // Tenant x: slowdown 1; tenant y: fifo (1.09 + 109) / 2 = 55.045, sjf
    // (1.1 + 9) / 2 = 5.05. Jain (1 + y)² / (2 (1 + y²)).
    assert_eq!(fifo["fairness_jain_slowdown"], "0.5182");
    assert_eq!(sjf["fairness_jain_slowdown"], "0.6905");
    // The terminal and Markdown tables show the same figures.
    let stdout = String::from_utf8_lossy(&o.stdout);
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    for text in [&*stdout, md.as_str()] {
        assert!(text.contains("760.0") && text.contains("430.0"), "{text}");
        assert!(text.contains("0.518") && text.contains("0.691"), "{text}");
    }
    assert!(
        md.contains("| fifo | fifo + first-fit | 3 | 0 | 760.0 | 1090.0 | 390.0 | 1080.0 | 0.31 | 100.0 | 0.00 | 0.518 |"),
        "{md}"
    );
    assert!(md.contains("| x | 1.00 | 1.00 |"), "{md}");
    assert!(
        md.contains("| y | 55.05 | 5.05 |") || md.contains("| y | 55.04 | 5.05 |"),
        "{md}"
    );
    for f in [
        "report.html",
        "jct-cdf.png",
        "jct-cdf.svg",
        "wait-cdf.png",
        "wait-cdf.svg",
        "gpu-allocation.png",
        "gpu-allocation.svg",
        "pending-jobs.png",
        "pending-jobs.svg",
    ] {
        let len = std::fs::metadata(out.join(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .len();
        assert!(len > 1000, "{f} is only {len} bytes");
    }
}

#[test]
fn variants_apply_their_overrides_and_default_output_folder() {
    let d = tempfile::tempdir().unwrap();
    let scenario = hand_scenario(d.path());
    let results = d.path().join("results");
    ok(schedlab(&[
        "compare",
        scenario.to_str().unwrap(),
        "--variant",
        "base",
        "--variant",
        "slow:workload.filters.duration_scale=2,policy.scheduler=sjf",
        "--set",
        &format!("run.output_dir={:?}", results.to_str().unwrap()),
        "-q",
    ]));
    // <run.output_dir>/compare-<name>/
    let rows = csv_rows(&results.join("compare-hand"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["variant"], "base");
    assert_eq!(rows[0]["scheduler"], "fifo");
    assert_eq!(num(&rows[0], "jct_mean_s"), 760.0);
    // Twice the durations (same submissions) under sjf: a 0–200, c 200–220,
    // b 220–2220 → JCT 200, 2210, 200.
    assert_eq!(rows[1]["scheduler"], "sjf");
    assert_eq!(num(&rows[1], "jct_mean_s"), 870.0);
    assert_eq!(num(&rows[1], "makespan_s"), 2220.0);
}

#[test]
fn quickstart_cut_matches_the_golden_files() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().to_str().unwrap();
    ok(schedlab(&[
        "compare",
        "scenarios/quickstart.toml",
        "--policies",
        "fifo,sjf,las+worst-fit",
        // The first 200 jobs, submitted 8× faster than in the quickstart, so
        // they queue.
        "--set",
        "workload.filters.first_n=200",
        "--set",
        "workload.filters.load_factor=2",
        "--out",
        out,
        "-q",
    ]));
    let md = std::fs::read_to_string(d.path().join("compare.md")).unwrap();
    let csv = std::fs::read_to_string(d.path().join("compare.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    insta::assert_snapshot!("quickstart_cut_compare_md", md);
    insta::assert_snapshot!("quickstart_cut_compare_csv", csv);
}

/// No `http` in the page except the SVG namespace, no script, charts inline.
fn assert_self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg"), "no inline SVG");
    let rest = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!rest.contains("http"), "an external reference is left");
    assert!(!rest.contains("<script"), "a script");
    assert!(
        !rest.contains("<img") && !rest.contains("<link"),
        "an external asset"
    );
}

#[test]
fn reports_are_self_contained_html() {
    let d = tempfile::tempdir().unwrap();
    let scenario = hand_scenario(d.path());
    let cmp = d.path().join("cmp");
    ok(schedlab(&[
        "compare",
        scenario.to_str().unwrap(),
        "--policies",
        "fifo,sjf",
        "--out",
        cmp.to_str().unwrap(),
        "-q",
    ]));
    let html = std::fs::read_to_string(cmp.join("report.html")).unwrap();
    assert_self_contained(&html);
    assert_eq!(html.matches("<svg").count(), 4, "four charts");
    assert!(html.contains("<td class=\"n\">760.0</td>"));

    // `schedlab run` writes one too, with its own summary and tenants.
    let run = d.path().join("run");
    let o = ok(schedlab(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("summary.json,report.html}"));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert_self_contained(&html);
    assert_eq!(html.matches("<svg").count(), 3, "three charts");
    assert!(html.contains("JCT over") || html.contains("Job completion time"));
    // Tenant y of fifo: 2 jobs, both finished, mean JCT 1090 s.
    assert!(
        html.contains(
            "<tr><td>y</td><td class=\"n\">2</td><td class=\"n\">2</td><td class=\"n\">1090.0</td>"
        ),
        "{html}"
    );
}

#[test]
fn two_runs_are_byte_identical_whatever_the_threads() {
    let d = tempfile::tempdir().unwrap();
    let run = |name: &str, jobs: &str| {
        let out = d.path().join(name);
        ok(schedlab(&[
            "compare",
            "scenarios/quickstart.toml",
            "--policies",
            "fifo-skip,sjf,las",
            "--set",
            "workload.filters.first_n=300",
            "--jobs",
            jobs,
            "--out",
            out.to_str().unwrap(),
            "-q",
        ]));
        out
    };
    let (a, b) = (run("a", "1"), run("b", "3"));
    for f in ["compare.csv", "compare.md", "report.html", "jct-cdf.svg"] {
        let x = std::fs::read(a.join(f)).unwrap();
        let y = std::fs::read(b.join(f)).unwrap();
        assert!(x == y, "{f} differs between identical runs");
    }
}

#[test]
fn bad_input_fails_clearly() {
    let d = tempfile::tempdir().unwrap();
    let scenario = hand_scenario(d.path());
    let s = scenario.to_str().unwrap();
    let out = d.path().join("never");
    let o = out.to_str().unwrap();
    assert_fails_with(
        &schedlab(&["compare", s, "--policies", "fifo,nope", "--out", o]),
        &[
            "--policies",
            "\"nope\"",
            "fifo-skip",
            "tiresias",
            "easy-backfill",
        ],
    );
    assert_fails_with(
        &schedlab(&["compare", s, "--policies", "fifo+tightest", "--out", o]),
        &["\"tightest\"", "best-fit", "worst-fit"],
    );
    assert_fails_with(
        &schedlab(&["compare", s, "--out", o]),
        &["--policies", "--variant"],
    );
    assert_fails_with(
        &schedlab(&["compare", s, "--policies", "fifo,fifo", "--out", o]),
        &["\"fifo\"", "twice"],
    );
    assert_fails_with(
        &schedlab(&[
            "compare",
            s,
            "--variant",
            "odd:policy.scheduler=42",
            "--out",
            o,
        ]),
        &["variant \"odd\"", "policy.scheduler"],
    );
    assert_fails_with(
        &schedlab(&["compare", s, "--variant", "has space:seed=1", "--out", o]),
        &["--variant", "name"],
    );
    assert_fails_with(
        &schedlab(&["compare", "missing.toml", "--policies", "fifo", "--out", o]),
        &["missing.toml"],
    );
    assert!(!out.exists(), "nothing is written when the input is bad");
}
