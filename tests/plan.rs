//! `schedlab plan`: hand-worked capacity searches over real simulations,
//! objective parsing, and the command end to end.
//!
//! The hand-worked workload: N identical one-GPU jobs of one hour, all
//! submitted at t = 0, FIFO on one-GPU nodes. With k nodes the jobs run in
//! waves of k, so job i (0-based, in submission order) waits ⌊i / k⌋ hours.

use std::path::{Path, PathBuf};
mod common;

use common::bin::schedlab_in as schedlab;

use schedlab::experiment::plan::{self, Metric, Mode, Objective, PlanSpec, Stat};

/// Writes `n` one-hour, one-GPU jobs submitted at 0 in canonical format.
fn write_jobs(dir: &Path, n: usize) {
    let mut csv = String::from(
        "# schedlab-jobs v1\nname,submit_ms,tenant,priority,workers,gpus,gpu_milli,cpu_milli,memory_mib,gpu_models,duration_ms,status\n",
    );
    for i in 0..n {
        csv.push_str(&format!("j{i},0,t,0,1,1,0,1000,1024,,3600000,\n"));
    }
    std::fs::write(dir.join("jobs.csv"), csv).unwrap();
}

/// A scenario over `jobs.csv` with the given `[[cluster.pools]]` text.
fn write_scenario(dir: &Path, pools: &str) -> PathBuf {
    let path = dir.join("waves.toml");
    std::fs::write(
        &path,
        format!(
            "schema = 1\nname = \"waves\"\nseed = 1\n{pools}\n[workload]\ntrace = \"jobs.csv\"\nformat = \"canonical\"\n\n[policy]\nscheduler = \"fifo\"\nplacement = \"first-fit\"\n\n[run]\nsample_interval_s = 0\noutput_dir = \"out\"\n"
        ),
    )
    .unwrap();
    path
}

const ONE_POOL: &str =
    "[[cluster.pools]]\nname = \"gpu\"\nnodes = 3\ngpus_per_node = 1\nprice_per_node_hour = 2.0\n";

const TWO_POOLS: &str = "[[cluster.pools]]\nname = \"big\"\nnodes = 1\ngpus_per_node = 4\nprice_per_node_hour = 10.0\n\n[[cluster.pools]]\nname = \"small\"\nnodes = 1\ngpus_per_node = 1\nprice_per_node_hour = 3.0\n";

fn objectives(list: &[&str]) -> Vec<Objective> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn single_pool_search_finds_the_hand_computed_smallest_count() {
    let dir = tempfile::tempdir().unwrap();
    write_jobs(dir.path(), 20);
    let path = write_scenario(dir.path(), ONE_POOL);
    let spec = PlanSpec {
        mode: Mode::Single { pool: "gpu".into() },
        objectives: objectives(&["wait.p95<=1h", "all-finish"]),
        min: 1,
        max_nodes: 1024,
    };
    let plan = plan::plan(&path, &[], &spec, &|_, _| {}).unwrap();
    // 20 waits; the nearest-rank p95 is the 19th smallest, job 18's wait:
    // ⌊18 / k⌋ h. It is ≤ 1 h from k = 10 (⌊1.8⌋) and 2 h at k = 9.
    let counts: Vec<u32> = plan.probes.iter().map(|p| p.nodes[0]).collect();
    assert_eq!(
        counts,
        [1, 2, 4, 8, 16, 12, 10, 9],
        "doubling, then bisection"
    );
    let p95_h: Vec<f64> = plan.probes.iter().map(|p| p.values[0] / 3600.0).collect();
    let expected: Vec<f64> = counts.iter().map(|&k| f64::from(18 / k)).collect();
    assert_eq!(p95_h, expected);
    // Every count finishes every job (no horizon): the second value is 0.
    assert!(plan.probes.iter().all(|p| p.values[1] == 0.0));
    let meets: Vec<bool> = plan.probes.iter().map(|p| p.meets).collect();
    assert_eq!(meets, [false, false, false, false, true, true, true, false]);
    let answer = plan.answer.as_ref().expect("an answer");
    assert_eq!(answer.nodes["gpu"], 10);
    assert_eq!(answer.overrides, ["cluster.pools.0.nodes=10"]);
    // The cluster's hourly price: 10 nodes × 2.
    assert_eq!(answer.cost_per_hour, Some(20.0));
    // Monotone here: p95 never rises with more nodes, so nothing to report.
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);
    // Probes sorted by count have non-increasing p95.
    let mut by_count: Vec<(u32, f64)> = counts.iter().copied().zip(p95_h).collect();
    by_count.sort_by_key(|c| c.0);
    assert!(by_count.windows(2).all(|w| w[1].1 <= w[0].1));
}

#[test]
fn single_pool_search_respects_min_and_reports_no_answer_within_max() {
    let dir = tempfile::tempdir().unwrap();
    write_jobs(dir.path(), 20);
    let path = write_scenario(dir.path(), ONE_POOL);
    // makespan = ⌈20 / k⌉ h ≤ 2 h needs k ≥ 10. From 3: 3 (7 h), 6 (4 h),
    // 12 (2 h, meets), then bisection: 9 (3 h), 10 (2 h).
    let spec = PlanSpec {
        mode: Mode::Single { pool: "gpu".into() },
        objectives: objectives(&["makespan<=2h"]),
        min: 3,
        max_nodes: 1024,
    };
    let plan = plan::plan(&path, &[], &spec, &|_, _| {}).unwrap();
    let counts: Vec<u32> = plan.probes.iter().map(|p| p.nodes[0]).collect();
    assert_eq!(counts, [3, 6, 12, 9, 10]);
    let hours: Vec<f64> = plan.probes.iter().map(|p| p.values[0] / 3600.0).collect();
    assert_eq!(hours, [7.0, 4.0, 2.0, 3.0, 2.0]);
    assert_eq!(plan.answer.unwrap().nodes["gpu"], 10);

    // Capped at 8 nodes nothing meets it: 3, 6, 8 all fail.
    let capped = PlanSpec {
        max_nodes: 8,
        ..spec
    };
    let plan = plan::plan(&path, &[], &capped, &|_, _| {}).unwrap();
    let counts: Vec<u32> = plan.probes.iter().map(|p| p.nodes[0]).collect();
    assert_eq!(counts, [3, 6, 8]);
    assert!(plan.answer.is_none());
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("no cluster within the bounds"))
    );
}

#[test]
fn a_budget_objective_rules_out_the_smallest_sufficient_cluster() {
    let dir = tempfile::tempdir().unwrap();
    write_jobs(dir.path(), 20);
    let path = write_scenario(dir.path(), ONE_POOL);
    // 10 nodes are needed (see above) and cost 20/h; a budget of 19/h fails.
    let spec = PlanSpec {
        mode: Mode::Single { pool: "gpu".into() },
        objectives: objectives(&["wait.p95<=1h", "cost_per_hour<=19"]),
        min: 1,
        max_nodes: 64,
    };
    let plan = plan::plan(&path, &[], &spec, &|_, _| {}).unwrap();
    assert!(plan.answer.is_none());
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("misses the budget") && n.contains("gpu=10")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn cheapest_mix_of_two_priced_pools_is_the_hand_computed_one() {
    let dir = tempfile::tempdir().unwrap();
    write_jobs(dir.path(), 9);
    let path = write_scenario(dir.path(), TWO_POOLS);
    // No job may wait: 4·big + small ≥ 9 GPUs. Per hour: big=0 small=9 → 27,
    // big=1 small=5 → 25, big=2 small=1 → 23, big=3 small=0 → 30.
    let spec = PlanSpec {
        mode: Mode::CheapestMix {
            pools: ["big".into(), "small".into()],
        },
        objectives: objectives(&["wait.max<=0s"]),
        min: 0,
        max_nodes: 12,
    };
    let plan = plan::plan(&path, &[], &spec, &|_, _| {}).unwrap();
    let answer = plan.answer.as_ref().expect("an answer");
    assert_eq!((answer.nodes["big"], answer.nodes["small"]), (2, 1));
    assert_eq!(answer.cost_per_hour, Some(23.0));
    // The smallest second-pool count per first-pool count (the staircase).
    let stair: Vec<(u32, u32)> = (0..8)
        .map(|a| {
            let best = plan
                .probes
                .iter()
                .filter(|p| p.nodes[0] == a && p.meets)
                .map(|p| p.nodes[1])
                .min()
                .unwrap();
            (a, best)
        })
        .collect();
    assert_eq!(
        stair,
        [
            (0, 9),
            (1, 5),
            (2, 1),
            (3, 0),
            (4, 0),
            (5, 0),
            (6, 0),
            (7, 0)
        ]
    );
    // One batch of 8 first-pool counts, then 8 × 10 = 80/h alone beats 23/h.
    assert!(plan.probes.iter().all(|p| p.nodes[0] < 8));
    assert!(
        plan.notes.iter().any(|n| n.contains("stopped at big = 8")),
        "{:?}",
        plan.notes
    );
    // Probes come ordered by first-pool count, numbered in that order.
    assert!(
        plan.probes
            .windows(2)
            .all(|w| w[0].nodes[0] <= w[1].nodes[0])
    );
    assert!(plan.probes.iter().enumerate().all(|(i, p)| p.step == i + 1));
    // The empty cluster is recorded, not simulated.
    assert_eq!(plan.probes[0].nodes, [0, 0]);
    assert_eq!(plan.probes[0].why_not, ["the cluster has no nodes"]);
}

#[test]
fn objectives_parse_and_bad_ones_say_what_is_accepted() {
    assert_eq!(
        "wait.p99<=90s".parse::<Objective>().unwrap(),
        Objective::Limit {
            metric: Metric::Wait(Stat::P99),
            strict: false,
            limit: 90.0
        }
    );
    assert_eq!(
        "makespan<1.5h".parse::<Objective>().unwrap(),
        Objective::Limit {
            metric: Metric::Makespan,
            strict: true,
            limit: 5400.0
        }
    );
    for (bad, needle) in [
        ("wait.p95<=30", "needs a unit"),
        ("wait.p95<=30d", "needs a unit"),
        ("wait.p42<=30m", "unknown metric"),
        ("latency<=3", "unknown metric"),
        ("wait.p95", "no comparison"),
        ("wait.p95>=30m", "upper bound"),
        ("cost<=5m", "plain number"),
        ("unfinished=3", "only works as unfinished=0"),
        ("jct.mean<=-1h", "number ≥ 0"),
    ] {
        let e = bad.parse::<Objective>().unwrap_err();
        assert!(e.contains(needle), "{bad}: {e}");
        assert!(
            e.contains("all-finish") && e.contains("wait.STAT") && e.contains("s, m or h"),
            "{bad}: the message lists what is accepted: {e}"
        );
    }
}

#[test]
fn the_command_writes_plan_md_and_plan_json_without_wall_times() {
    let dir = tempfile::tempdir().unwrap();
    write_jobs(dir.path(), 20);
    write_scenario(dir.path(), ONE_POOL);
    let o = schedlab(
        dir.path(),
        &[
            "plan",
            "waves.toml",
            "--pool",
            "gpu",
            "--objective",
            "wait.p95<=1h",
            "--objective",
            "all-finish",
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("answer: gpu=10 (probe 7)"), "{stdout}");
    assert!(stdout.contains("wall s"), "the terminal shows wall times");
    // Default folder: <run.output_dir>/plan-<name>.
    let out = dir.path().join("out/plan-waves");
    let md = std::fs::read_to_string(out.join("plan.md")).unwrap();
    assert!(!md.contains("wall"), "no wall time in files");
    insta::assert_snapshot!("waves_plan_md", md);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).unwrap()).unwrap();
    assert_eq!(json["answer"]["nodes"]["gpu"], 10);
    assert_eq!(json["probes"].as_array().unwrap().len(), 8);
    assert_eq!(json["probes"][4]["values"][0], 3600.0);
    assert!(json["probes"][0].get("wall_s").is_none());
    // A second run writes the same bytes: deterministic.
    let again = tempfile::tempdir().unwrap();
    let o = schedlab(
        dir.path(),
        &[
            "plan",
            "waves.toml",
            "--pool",
            "gpu",
            "--objective",
            "wait.p95<=1h",
            "--objective",
            "all-finish",
            "--out",
            again.path().to_str().unwrap(),
            "-q",
        ],
    );
    assert!(o.status.success());
    for f in ["plan.md", "plan.json"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.path().join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn bad_plan_input_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    write_jobs(dir.path(), 4);
    write_scenario(dir.path(), TWO_POOLS);
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "plan",
                "waves.toml",
                "--pool",
                "big",
                "--objective",
                "wait.p95<=30",
            ],
            "needs a unit",
        ),
        (
            &[
                "plan",
                "waves.toml",
                "--pool",
                "huge",
                "--objective",
                "all-finish",
            ],
            "no pool named \"huge\"; the pools are big, small",
        ),
        (
            &[
                "plan",
                "waves.toml",
                "--pools",
                "big,small",
                "--objective",
                "all-finish",
            ],
            "--pools needs --max-nodes",
        ),
        (
            &[
                "plan",
                "waves.toml",
                "--pools",
                "big",
                "--objective",
                "all-finish",
            ],
            "exactly two pool names",
        ),
        (
            &[
                "plan",
                "missing.toml",
                "--pool",
                "big",
                "--objective",
                "all-finish",
            ],
            "missing.toml: cannot read scenario",
        ),
    ];
    for (args, needle) in cases {
        let o = schedlab(dir.path(), args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            err.contains(needle),
            "{args:?}: stderr lacks {needle:?}: {err}"
        );
    }
}
