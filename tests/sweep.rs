//! `schedlab sweep` and `schedlab merge`: results equal single runs, reruns
//! resume, shards run as separate processes merge to the same bytes as one
//! process, the statistics, the Kubernetes Job, and bad specs.

use std::path::Path;
use std::process::{Command, Output};
mod common;

use common::bin::{root, schedlab, stderr};

use schedlab::experiment::run_scenario;
use schedlab::experiment::sweep::{self, Shard, SweepSpec};
use schedlab::scenario::Scenario;

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "failed: {}", stderr(o));
}

/// Fails unless the command failed cleanly (exit 1, no panic) with every
/// `needle` in its error.
fn assert_fails_with(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected exit 1; stderr: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
}

/// A small synthetic scenario: 40 seeded jobs on a cluster of 4-GPU nodes,
/// every engine invariant checked.
const SCENARIO: &str = r#"schema = 1
name = "tiny-sweep"
seed = 1

[[cluster.pools]]
name = "a100"
nodes = 2
gpus_per_node = 4
gpu_model = "A100"
cpu_milli = 64000
memory_mib = 262144
price_per_node_hour = 10.0

[workload.synthetic]
jobs = 40
arrival_rate_per_hour = 30.0
duration = { median_s = 900.0, sigma = 1.0, min_s = 30.0 }
gpus = [{ gpus = 1, weight = 0.6 }, { gpus = 2, weight = 0.25 }, { gpus = 4, weight = 0.15 }]

[policy]
scheduler = "fifo"
placement = "best-fit"

[run]
check_invariants = true
"#;

/// 2 policies × 2 cluster sizes × 3 seeds = 12 points.
const SPEC: &str = r#"schema = 1
scenario = "tiny.toml"
seeds = 3
metrics = ["jct_s.mean", "jct_s.p95", "wait_s.mean", "makespan_s", "mean_gpu_allocation_pct", "cost.total", "jobs.finished"]

[set]
"run.sample_interval_s" = 600

[grid]
"policy.scheduler" = ["fifo", "sjf"]
"cluster.pools[0].nodes" = [1, 2]
"#;

/// A folder holding the tiny scenario and `spec.toml` (with `spec` as text).
fn fixture(spec: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("tiny.toml"), SCENARIO).unwrap();
    std::fs::write(d.path().join("spec.toml"), spec).unwrap();
    d
}

fn run_in_process(spec: &SweepSpec, out: &Path, threads: usize) -> sweep::Plan {
    let plan = sweep::plan(spec, out, None, false).unwrap();
    sweep::execute(spec, &plan.todo, out, threads, &|_| {}).unwrap();
    sweep::tabulate(out).unwrap().write(out).unwrap();
    plan
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

const OUTPUTS: [&str; 4] = ["results.csv", "table.csv", "table.md", "sweep.json"];

#[test]
fn points_are_ordered_row_major_in_file_order() {
    let d = fixture(SPEC);
    let spec = SweepSpec::load(&d.path().join("spec.toml")).unwrap();
    assert_eq!(spec.grid_points(), 4);
    assert_eq!(spec.seeds, [1, 2, 3]);
    let described: Vec<String> = spec.points().iter().map(|p| spec.describe(p)).collect();
    assert_eq!(described.len(), 12);
    assert_eq!(
        described[..4],
        [
            "policy.scheduler=fifo, cluster.pools[0].nodes=1, seed 1",
            "policy.scheduler=fifo, cluster.pools[0].nodes=1, seed 2",
            "policy.scheduler=fifo, cluster.pools[0].nodes=1, seed 3",
            "policy.scheduler=fifo, cluster.pools[0].nodes=2, seed 1",
        ]
    );
    assert_eq!(
        described[11],
        "policy.scheduler=sjf, cluster.pools[0].nodes=2, seed 3"
    );
    let shard: Vec<usize> = spec
        .points()
        .iter()
        .filter(|p| Shard { index: 1, count: 5 }.contains(p.index))
        .map(|p| p.index)
        .collect();
    assert_eq!(shard, [1, 6, 11]);
}

#[test]
fn sweep_results_equal_each_point_run_alone() {
    let d = fixture(SPEC);
    let spec = SweepSpec::load(&d.path().join("spec.toml")).unwrap();
    let out = d.path().join("out");
    let plan = run_in_process(&spec, &out, 2);
    assert_eq!((plan.selected, plan.todo.len(), plan.skipped), (12, 12, 0));

    let csv = String::from_utf8(read(&out, "results.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "point,grid_point,policy.scheduler,cluster.pools[0].nodes,seed,jct_s.mean,jct_s.p95,wait_s.mean,makespan_s,mean_gpu_allocation_pct,cost.total,jobs.finished"
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 12);
    let mut distinct_seed_results = std::collections::BTreeSet::new();
    for (p, row) in spec.points().iter().zip(&rows) {
        // The same point run by hand, the way `schedlab run --set` would.
        let scenario = Scenario::load(&d.path().join("tiny.toml"), &spec.overrides(p)).unwrap();
        assert_eq!(scenario.seed, p.seed);
        let alone = run_scenario(&scenario, |_| {}).unwrap().summary;
        let expect = [
            alone.jct_s.mean,
            alone.jct_s.p95,
            alone.wait_s.mean,
            alone.makespan_s,
            alone.mean_gpu_allocation_pct,
            alone.cost.total,
            alone.jobs.finished as f64,
        ];
        let got: Vec<f64> = row[5..].iter().map(|v| v.parse().unwrap()).collect();
        assert_eq!(got, expect, "point {} ({})", p.index, spec.describe(p));
        assert_eq!(row[0], p.index.to_string());
        assert_eq!(row[4], p.seed.to_string());
        assert_eq!(alone.jobs.total, 40);
        distinct_seed_results.insert(row[5].clone());
    }
    // The synthetic workload is drawn from the seed: seeds matter.
    assert!(distinct_seed_results.len() > 4);

    // The aggregated table: mean and Student-t interval of the 3 seeds of
    // grid point 0, recomputed from results.csv.
    let xs: Vec<f64> = rows[..3].iter().map(|r| r[5].parse().unwrap()).collect();
    let mean = xs.iter().sum::<f64>() / 3.0;
    let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    let half = 4.302653 * sd / 3f64.sqrt();
    let table = String::from_utf8(read(&out, "table.csv")).unwrap();
    let first: Vec<&str> = table.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(first[..4], ["0", "fifo", "1", "3"]);
    assert_eq!(first[4], format!("{mean:.3}"));
    assert_eq!(first[5], format!("{half:.3}"));
    let md = String::from_utf8(read(&out, "table.md")).unwrap();
    assert!(md.contains("4 grid points × 3 seeds"), "{md}");
    assert!(md.contains("| sjf "), "{md}");
}

#[test]
fn rerun_skips_every_point_and_writes_the_same_bytes() {
    let d = fixture(SPEC);
    let spec = SweepSpec::load(&d.path().join("spec.toml")).unwrap();
    let out = d.path().join("out");
    run_in_process(&spec, &out, 1);
    let first: Vec<Vec<u8>> = OUTPUTS.iter().map(|f| read(&out, f)).collect();
    let point_files = std::fs::read_dir(out.join("points")).unwrap().count();
    assert_eq!(point_files, 12);

    let again = run_in_process(&spec, &out, 2);
    assert_eq!((again.todo.len(), again.skipped, again.stale), (0, 12, 0));
    for (f, bytes) in OUTPUTS.iter().zip(&first) {
        assert!(&read(&out, f) == bytes, "{f} changed on a rerun");
    }

    // A point made from other inputs (here: its recorded hash) is rerun.
    let victim = out.join("points").join(spec.manifest().point_file(5));
    let text = std::fs::read_to_string(&victim).unwrap();
    std::fs::write(
        &victim,
        text.replace(&spec.hash, "fnv1a64:0000000000000000"),
    )
    .unwrap();
    std::fs::remove_file(out.join("points").join(spec.manifest().point_file(7))).unwrap();
    let third = run_in_process(&spec, &out, 2);
    assert_eq!((third.todo.len(), third.skipped, third.stale), (2, 10, 1));
    assert_eq!(
        third.todo.iter().map(|p| p.index).collect::<Vec<_>>(),
        [5, 7]
    );
    for (f, bytes) in OUTPUTS.iter().zip(&first) {
        assert!(&read(&out, f) == bytes, "{f} changed after resuming");
    }
}

#[test]
fn three_shard_processes_merge_to_the_single_process_bytes() {
    let d = fixture(SPEC);
    let spec_path = d.path().join("spec.toml");
    let single = d.path().join("single");
    let o = schedlab(&[
        "sweep",
        spec_path.to_str().unwrap(),
        "--out",
        single.to_str().unwrap(),
        "--jobs",
        "2",
    ]);
    assert_ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("ran 12 points, skipped 0 already done"),
        "{stdout}"
    );

    // Three separate processes at once, one thread each.
    let children: Vec<_> = (0..3)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_schedlab"))
                .args([
                    "sweep",
                    spec_path.to_str().unwrap(),
                    "--shard",
                    &format!("{i}/3"),
                    "--out",
                    d.path().join(format!("shard-{i}")).to_str().unwrap(),
                    "--jobs",
                    "1",
                ])
                .output()
                .expect("the binary runs")
        })
        .collect();
    for (i, c) in children.iter().enumerate() {
        assert_ok(c);
        let n = std::fs::read_dir(d.path().join(format!("shard-{i}/points")))
            .unwrap()
            .count();
        assert_eq!(n, 4, "shard {i} runs every third point");
        assert!(!d.path().join(format!("shard-{i}/results.csv")).exists());
    }

    // Merging only two shards names what is missing.
    let merged = d.path().join("merged");
    let o = schedlab(&[
        "merge",
        d.path().join("shard-0").to_str().unwrap(),
        d.path().join("shard-1").to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_fails_with(
        &o,
        &["4 of 12 points have no result", "indices 2, 5, 8, 11"],
    );

    let o = schedlab(&[
        "merge",
        d.path().join("shard-0").to_str().unwrap(),
        d.path().join("shard-1").to_str().unwrap(),
        d.path().join("shard-2").to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_ok(&o);
    for f in OUTPUTS {
        assert!(
            read(&single, f) == read(&merged, f),
            "{f} differs between the merged shards and the single process"
        );
    }
    for i in 0..12 {
        let name = SweepSpec::load(&spec_path)
            .unwrap()
            .manifest()
            .point_file(i);
        assert!(
            read(&single.join("points"), &name) == read(&merged.join("points"), &name),
            "point {i} differs"
        );
    }
}

#[test]
fn shards_of_another_sweep_are_not_merged() {
    let d = fixture(SPEC);
    let other = fixture(&SPEC.replace("seeds = 3", "seeds = [1, 2]"));
    let a = d.path().join("a");
    let b = other.path().join("b");
    for (dir, out) in [(&d, &a), (&other, &b)] {
        let spec = dir.path().join("spec.toml");
        let o = schedlab(&[
            "sweep",
            spec.to_str().unwrap(),
            "--shard",
            "0/4",
            "--out",
            out.to_str().unwrap(),
            "-q",
        ]);
        assert_ok(&o);
    }
    let o = schedlab(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        d.path().join("m").to_str().unwrap(),
    ]);
    assert_fails_with(&o, &["hold different sweeps"]);
}

#[test]
fn confidence_interval_math() {
    // Published two-sided 95% critical values of Student's t.
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    assert_eq!(r3(sweep::student_t_975(4)), 2.776);
    assert_eq!(r3(sweep::student_t_975(2)), 4.303);
    assert_eq!(r3(sweep::student_t_975(9)), 2.262);
    assert_eq!(r3(sweep::student_t_975(29)), 2.045);
    assert_eq!(r3(sweep::student_t_975(40)), 2.021);
    // Values 10, 12, 14, 16, 18: mean 14, s = √10, n = 5 →
    // 2.776445 · √10 / √5 = 2.776445 · √2.
    let (mean, ci) = sweep::mean_ci95(&[10.0, 12.0, 14.0, 16.0, 18.0]);
    assert_eq!(mean, 14.0);
    assert!((ci.unwrap() - 3.926486).abs() < 1e-6, "{ci:?}");
    assert_eq!(sweep::mean_ci95(&[3.0]), (3.0, None));
}

#[test]
fn k8s_job_is_an_indexed_job_over_the_completion_index() {
    let d = fixture(SPEC);
    let spec = d.path().join("spec.toml");
    let o = schedlab(&[
        "sweep",
        spec.to_str().unwrap(),
        "--emit-k8s-job",
        "--shards",
        "4",
        "--image",
        "registry.example/schedlab:0.1",
    ]);
    assert_ok(&o);
    let yaml = String::from_utf8(o.stdout).unwrap();
    let job: k8s_openapi::api::batch::v1::Job = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(job.metadata.name.as_deref(), Some("schedlab-sweep-spec"));
    let js = job.spec.unwrap();
    assert_eq!(js.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!((js.completions, js.parallelism), (Some(4), Some(4)));
    let pod = js.template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("registry.example/schedlab:0.1"));
    let args = c.args.clone().unwrap();
    assert_eq!(
        args[..6],
        [
            "sweep",
            spec.to_str().unwrap(),
            "--shard",
            "$(JOB_COMPLETION_INDEX)/4",
            "--out",
            "/results/shard-$(JOB_COMPLETION_INDEX)"
        ]
    );
    let env = c.env.clone().unwrap();
    let index = env
        .iter()
        .find(|e| e.name == "JOB_COMPLETION_INDEX")
        .expect("the index variable is declared");
    assert_eq!(
        index
            .value_from
            .as_ref()
            .and_then(|v| v.field_ref.as_ref())
            .map(|f| f.field_path.as_str()),
        Some("metadata.annotations['batch.kubernetes.io/job-completion-index']")
    );
    let mount = &c.volume_mounts.as_ref().unwrap()[0];
    assert_eq!(mount.mount_path, "/results");
    let volume = &pod.volumes.unwrap()[0];
    assert_eq!(volume.name, mount.name);
    assert_eq!(
        volume
            .persistent_volume_claim
            .as_ref()
            .map(|p| p.claim_name.as_str()),
        Some("schedlab-results")
    );

    let o = schedlab(&["sweep", spec.to_str().unwrap(), "--emit-k8s-job"]);
    assert_fails_with(&o, &["--shards"]);
}

#[test]
fn bad_specs_name_the_file_line_and_key() {
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "unknown grid key",
            "\"policy.shceduler\" = [\"fifo\"]",
            &["spec.toml:9:", "grid.policy.shceduler", "shceduler"],
        ),
        (
            "bad grid value",
            "\"policy.scheduler\" = [\"fifo\", \"nope\"]",
            &["spec.toml:9:", "grid.policy.scheduler", "value \"nope\""],
        ),
        (
            "index past the pools",
            "\"cluster.pools[3].nodes\" = [1]",
            &["spec.toml:9:", "grid.cluster.pools[3].nodes", "no index 3"],
        ),
        (
            "not a list",
            "\"policy.scheduler\" = \"fifo\"",
            &["spec.toml:9:", "grid.policy.scheduler", "expected a list"],
        ),
        (
            "empty list",
            "\"policy.scheduler\" = []",
            &["spec.toml:9:", "grid.policy.scheduler", "empty"],
        ),
        (
            "seed in the grid",
            "seed = [1, 2]",
            &["spec.toml:9:", "grid.seed", "seeds"],
        ),
        (
            "bad cluster size",
            "\"cluster.pools[0].nodes\" = [2, -1]",
            &["spec.toml:9:", "grid.cluster.pools[0].nodes", "value -1"],
        ),
    ];
    let head = "schema = 1\nscenario = \"tiny.toml\"\nseeds = 2\n\n[set]\n\"run.sample_interval_s\" = 600\n\n[grid]\n";
    for (what, line, needles) in cases {
        let d = fixture(&format!("{head}{line}\n"));
        let spec = d.path().join("spec.toml");
        let o = schedlab(&["sweep", spec.to_str().unwrap(), "--out", "/nonexistent/x"]);
        eprintln!("{what}: {}", stderr(&o));
        assert_fails_with(&o, needles);
    }

    let top: [(&str, &[&str]); 7] = [
        (
            "schema = 1\nscenario = \"tiny.toml\"\nseeds = 2\ncolour = 1\n",
            &["spec.toml", "colour"],
        ),
        (
            "schema = 2\nscenario = \"tiny.toml\"\nseeds = 2\n",
            &["spec.toml:1:", "`schema`"],
        ),
        (
            "schema = 1\nscenario = \"tiny.toml\"\nseeds = 0\n",
            &["spec.toml:3:", "`seeds`"],
        ),
        (
            "schema = 1\nscenario = \"tiny.toml\"\nseeds = [1, 1]\n",
            &["spec.toml:3:", "`seeds`", "twice"],
        ),
        (
            "schema = 1\nscenario = \"missing.toml\"\nseeds = 2\n",
            &["spec.toml:2:", "`scenario`", "missing.toml"],
        ),
        (
            "schema = 1\nscenario = \"tiny.toml\"\nseeds = 2\nmetrics = [\"jct_s.p42\"]\n",
            &["spec.toml:4:", "`metrics`", "jct_s.p42"],
        ),
        (
            "schema = 1\nscenario = \"tiny.toml\"\nseeds = 2\n[set]\n\"policy.scheduler\" = \"nope\"\n",
            &["spec.toml:5:", "`set.policy.scheduler`", "nope"],
        ),
    ];
    for (src, needles) in top {
        let d = fixture(src);
        let o = schedlab(&["sweep", d.path().join("spec.toml").to_str().unwrap()]);
        assert_fails_with(&o, needles);
    }
    let o = schedlab(&["sweep", "no/such/spec.toml"]);
    assert_fails_with(&o, &["no/such/spec.toml", "cannot read sweep spec"]);
    let d = fixture(SPEC);
    let o = schedlab(&[
        "sweep",
        d.path().join("spec.toml").to_str().unwrap(),
        "--shard",
        "3/3",
    ]);
    assert_eq!(o.status.code(), Some(2), "bad arguments exit 2");
}

#[test]
fn bundled_spec_sweeps_a_seed_sensitive_workload() {
    let spec = SweepSpec::load(&root().join("scenarios/sweeps/quickstart-policies.toml")).unwrap();
    assert_eq!(spec.grid_points(), 9);
    assert_eq!(spec.seeds, [1, 2, 3, 4, 5]);
    assert_eq!(spec.total_points(), 45);
    assert_eq!(spec.stem, "quickstart-policies");
    // Two seeds of the same grid point draw different job samples.
    let points = spec.points();
    let jobs = |p: &sweep::Point| {
        let s = spec.scenario_of(p).unwrap();
        s.build_workload().unwrap().0.jobs.len()
    };
    assert_ne!(jobs(&points[0]), jobs(&points[1]));
}
