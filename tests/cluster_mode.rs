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

#[tokio::test]
async fn autoscaled_scenario_creates_and_deletes_nodes_like_the_simulation() {
    let Some(path) =
        kubeconfig("autoscaled_scenario_creates_and_deletes_nodes_like_the_simulation")
    else {
        return;
    };
    let conn = api::connect(&path, None).await.unwrap();
    let sc = scenario("cluster-autoscale.toml", &[]);
    let run = driver::run(
        &conn,
        &sc,
        &RunOptions {
            speedup: 60.0,
            keep: true,
            max_wall: None,
            progress: false,
        },
    )
    .await
    .unwrap();
    let f = &run.fidelity;
    assert!(f.complete);
    assert_eq!(f.jobs_finished_cluster, 40);
    assert_eq!(f.jobs_finished_sim, 40);
    let nodes = f.nodes.as_ref().expect("node trajectories are compared");
    // Nodes were created for pending gangs and deleted again when empty.
    assert!(nodes.cluster_scale_ups >= 1, "{nodes:?}");
    assert!(nodes.cluster_nodes_added >= 1, "{nodes:?}");
    assert_eq!(nodes.cluster_nodes_removed, nodes.cluster_nodes_added);
    assert_eq!(
        nodes.node_ready_latency_ms.count,
        nodes.cluster_nodes_added as usize
    );
    // The same seed draws the same delays for the same decisions: the same
    // number of nodes, and the ready counts at most one node apart (the
    // control plane's lag can straddle a sample).
    assert_eq!(
        nodes.nodes_added_from_timeline.cluster,
        nodes.nodes_added_from_timeline.sim
    );
    let burst = nodes.pools.iter().find(|p| p.pool == "burst").unwrap();
    assert!(burst.max_abs_diff <= 1, "{burst:?}");
    assert!(burst.cluster_max >= 1);
    // Back to the group's minimum at the end, in the trajectory and on the
    // API server: only the fixed node of the run is left.
    assert_eq!(burst.cluster_final, 0);
    assert_eq!(run.result.pool_nodes.last(), Some(&vec![1, 0]));
    let (ns, node_objects, _) = labelled(&conn, &run.run_id).await;
    assert_eq!((ns, node_objects), (1, 1));
    // Node-hours: the burst group was paid for while its nodes existed,
    // within 2% of the simulation's.
    let paid = |r: &schedlab::metrics::RunResult| r.pools[1].node_ms as f64;
    let (sim_ms, cl_ms) = (paid(&run.sim.result), paid(&run.result));
    assert!(sim_ms > 0.0);
    assert!(
        (cl_ms - sim_ms).abs() / sim_ms < 0.02,
        "{cl_ms} vs {sim_ms}"
    );

    let report = api::clean(&conn, Some(&run.run_id), &ApiStats::default())
        .await
        .unwrap();
    assert_eq!(report.nodes.len(), 1);
    assert_eq!(labelled(&conn, &run.run_id).await, (0, 0, 0));
}
