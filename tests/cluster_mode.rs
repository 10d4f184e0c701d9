//! Cluster mode against a real Kubernetes control plane with KWOK nodes.
//!
//! The tests that need an API server run when `SCHEDLAB_KUBECONFIG` names the
//! kubeconfig of one (and skip with a message otherwise):
//!
//! ```sh
//! scripts/control-plane.sh up
//! SCHEDLAB_KUBECONFIG=/tmp/schedlab-control-plane/kubeconfig cargo test --test cluster_mode
//! ```
//!
//! Each test deletes only its own run's objects, so they may run in parallel
//! against one control plane.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, ListParams};
use schedlab::kube::ClusterError;
use schedlab::kube::api::{self, ApiStats, Connection};
use schedlab::kube::driver::{self, RunOptions};
use schedlab::kube::fidelity;
use schedlab::kube::objects;
use schedlab::metrics::JobStatus;
use schedlab::scenario::{Override, Scenario};

/// The control plane's kubeconfig, or `None` after printing how to get one.
/// The message goes straight to stderr: the test harness captures `eprintln!`.
fn kubeconfig(test: &str) -> Option<PathBuf> {
    match std::env::var_os("SCHEDLAB_KUBECONFIG") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "skipping {test}: SCHEDLAB_KUBECONFIG is not set. To run the cluster-mode tests: \
                 `scripts/control-plane.sh up` then \
                 `SCHEDLAB_KUBECONFIG=/tmp/schedlab-control-plane/kubeconfig cargo test --test cluster_mode`"
            );
            None
        }
    }
}

fn scenario(name: &str, overrides: &[&str]) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    let overrides: Vec<Override> = overrides.iter().map(|o| o.parse().unwrap()).collect();
    Scenario::load(&path, &overrides).unwrap()
}

/// Objects labelled with `run`'s id: namespaces, nodes, pods.
async fn labelled(conn: &Connection, run: &str) -> (usize, usize, usize) {
    let lp = ListParams::default().labels(&objects::selector(Some(run)));
    let ns: Api<Namespace> = Api::all(conn.client.clone());
    let nodes: Api<Node> = Api::all(conn.client.clone());
    let pods: Api<Pod> = Api::all(conn.client.clone());
    (
        ns.list(&lp).await.unwrap().items.len(),
        nodes.list(&lp).await.unwrap().items.len(),
        pods.list(&lp).await.unwrap().items.len(),
    )
}

#[tokio::test]
async fn unreachable_api_server_is_a_clear_error_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    // Port 1 on loopback: nothing listens there.
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\n\
         clusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true}}]\n\
         users: [{name: u, user: {token: nothing}}]\n\
         contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let err = api::connect(&path, None).await.err().expect("must fail");
    assert!(matches!(err, ClusterError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    let missing = api::connect(&dir.path().join("nope"), None)
        .await
        .err()
        .expect("must fail");
    assert!(
        matches!(missing, ClusterError::Kubeconfig { .. }),
        "{missing}"
    );
}

#[tokio::test]
async fn bad_credentials_are_rejected_before_anything_is_created() {
    let Some(path) = kubeconfig("bad_credentials_are_rejected_before_anything_is_created") else {
        return;
    };
    // The real server and CA, a bearer token it does not know.
    let text = std::fs::read_to_string(&path).unwrap();
    let server = text
        .split("server: \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("server in the control plane's kubeconfig")
        .to_string();
    let ca = text
        .split("certificate-authority: ")
        .nth(1)
        .and_then(|s| s.split('}').next())
        .expect("certificate-authority")
        .trim()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("kubeconfig");
    std::fs::write(
        &bad,
        format!(
            "apiVersion: v1\nkind: Config\n\
             clusters: [{{name: c, cluster: {{server: \"{server}\", certificate-authority: {ca}}}}}]\n\
             users: [{{name: u, user: {{token: not-a-real-token}}}}]\n\
             contexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    let err = api::connect(&bad, None).await.err().expect("must fail");
    assert!(matches!(err, ClusterError::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn small_scenario_runs_like_the_simulation_and_clean_leaves_nothing() {
    let Some(path) = kubeconfig("small_scenario_runs_like_the_simulation_and_clean_leaves_nothing")
    else {
        return;
    };
    let conn = api::connect(&path, None).await.unwrap();
    let sc = scenario("cluster-small.toml", &[]);
    let started = std::time::Instant::now();
    let run = driver::run(
        &conn,
        &sc,
        &RunOptions {
            speedup: 200.0,
            keep: true,
            max_wall: None,
            progress: false,
        },
    )
    .await
    .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let f = &run.fidelity;
    // Kept: the run's namespace, both nodes and every job's pods are there.
    let (ns, nodes, pods) = labelled(&conn, &run.run_id).await;
    assert_eq!((ns, nodes), (1, 2));
    let workers: u32 = run.sim.workload.jobs.iter().map(|j| j.workers).sum();
    assert_eq!(pods, workers as usize);

    assert!(wall < 60.0, "took {wall:.1} s");
    assert_eq!(run.result.outcomes.len(), 20);
    assert!(
        run.result
            .outcomes
            .iter()
            .all(|o| o.status == JobStatus::Finished && o.start.is_some() && o.end.is_some()),
        "every job accounted for"
    );
    assert!(f.complete);
    assert_eq!(f.jobs_finished_cluster, 20);
    assert!(f.start_order_identical, "tau {}", f.kendall_tau);
    assert_eq!(f.kendall_tau, 1.0);
    assert!(
        f.mean_jct_s.error_pct.abs() <= fidelity::TOLERANCE_PCT,
        "{:?}",
        f.mean_jct_s
    );
    assert!(
        f.makespan_s.error_pct.abs() <= fidelity::TOLERANCE_PCT,
        "{:?}",
        f.makespan_s
    );
    // Same scheduler, same placement, same ledger: same nodes.
    assert_eq!(f.placement_agreement, Some(1.0));
    // Every pod was seen going bind → Running.
    assert_eq!(f.pod_start_latency_ms.count, workers as usize);
    assert!(f.pod_start_latency_ms.mean > 0.0);
    // The cluster's summary counts what the simulation's does.
    assert_eq!(run.summary.jobs, run.sim.summary.jobs);
    // The report files render.
    assert!(fidelity::to_markdown(f).contains("| start order | identical"));
    let json: serde_json::Value = serde_json::from_slice(&fidelity::to_json(f)).unwrap();
    assert_eq!(json["passed"], true);

    let report = api::clean(&conn, Some(&run.run_id), &ApiStats::default())
        .await
        .unwrap();
    assert_eq!(report.namespaces.len(), 1);
    assert_eq!(report.nodes.len(), 2);
    assert_eq!(report.pods, workers as usize);
    assert_eq!(labelled(&conn, &run.run_id).await, (0, 0, 0));
}

#[tokio::test]
async fn priority_preemption_runs_on_the_cluster() {
    let Some(path) = kubeconfig("priority_preemption_runs_on_the_cluster") else {
        return;
    };
    let conn = api::connect(&path, None).await.unwrap();
    // The first 130 jobs of the cluster variant (11 preemptions in the
    // simulation; fewer jobs preempt nothing) at 600x: under a minute.
    let sc = scenario("cluster-priority.toml", &["workload.filters.first_n=130"]);
    let run = driver::run(
        &conn,
        &sc,
        &RunOptions {
            speedup: 600.0,
            keep: false,
            max_wall: None,
            progress: false,
        },
    )
    .await
    .unwrap();
    let f = &run.fidelity;
    assert!(f.complete);
    let sim_preemptions = run.sim.summary.preemptions;
    assert!(
        sim_preemptions > 0,
        "the variant must preempt in the simulation"
    );
    assert!(
        run.summary.preemptions > 0,
        "victims' pods were deleted and re-created"
    );
    assert_eq!(f.jobs_finished_cluster, f.jobs_finished_sim);
    assert_eq!(f.jobs_finished_cluster, run.sim.workload.jobs.len());
    // Not kept: nothing of the run is left.
    assert_eq!(labelled(&conn, &run.run_id).await, (0, 0, 0));
}
