//! Request shapes against a mocked API server (kube-rs's tower-test
//! pattern): what cluster mode sends for nodes, pods and Bindings, how it
//! treats 401/403 and transient errors. The real API server is exercised by
//! `tests/cluster_mode.rs`.

use std::pin::pin;

use http::{Method, Request, Response, StatusCode};
use k8s_openapi::api::core::v1::{Binding, Node, Pod};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock;

use super::ClusterError;
use super::api::{self, ApiStats, with_retry};
use super::objects;
use crate::cluster::{GpuShare, PoolSpec};
use crate::ids::{JobId, NodeId};
use crate::workload::{JobDraft, Workload};

type Handle = mock::Handle<Request<Body>, Response<Body>>;

fn mock_client() -> (Client, Handle) {
    let (svc, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(svc, "default"), handle)
}

fn respond(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

fn status(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
           "message": format!("mocked {reason}"), "reason": reason, "code": code})
}

fn pool() -> PoolSpec {
    // Through the scenario format, so fields added with defaults need no edit here.
    toml::from_str(
        r#"name = "A100_80GB"
           nodes = 2
           gpus_per_node = 8
           gpu_model = "A100"
           cpu_milli = 96000
           memory_mib = 786432
           labels = { zone = "z1" }"#,
    )
    .unwrap()
}

#[test]
fn fake_node_advertises_the_pool_and_is_a_kwok_node() {
    let n = objects::fake_node("demo-1", &pool(), NodeId(3));
    let v = serde_json::to_value(&n).unwrap();
    assert_eq!(v["metadata"]["name"], "schedlab-demo-1-a100-80gb-3");
    let labels = &v["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "schedlab");
    assert_eq!(labels["schedlab.io/run"], "demo-1");
    assert_eq!(labels["schedlab.io/pool"], "A100_80GB");
    assert_eq!(labels["schedlab.io/gpu-model"], "A100");
    assert_eq!(labels["zone"], "z1");
    assert_eq!(v["metadata"]["annotations"]["kwok.x-k8s.io/node"], "fake");
    assert_eq!(
        v["spec"]["taints"],
        json!([{"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}])
    );
    for key in ["capacity", "allocatable"] {
        let r = &v["status"][key];
        assert_eq!(r["nvidia.com/gpu"], "8");
        assert_eq!(r["schedlab.io/gpu-milli"], "8000");
        assert_eq!(r["cpu"], "96000m");
        assert_eq!(r["memory"], "786432Mi");
        // 8 GPUs could hold 8000 one-milli workers: more than the default 110.
        assert_eq!(r["pods"], "8000");
    }
}

#[test]
fn worker_pod_requests_its_share_and_names_schedlab_as_scheduler() {
    let w = Workload::from_drafts(vec![
        JobDraft::new("train/7")
            .gpus(4)
            .workers(2)
            .cpu_mem(16_000, 65_536)
            .priority(3),
        JobDraft::new("infer").gpu_milli(250).cpu_mem(1_000, 2_048),
    ]);
    let p = objects::worker_pod(
        "demo-1",
        &w.jobs[0],
        1,
        2,
        std::time::Duration::from_micros(12_500_001),
    );
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["metadata"]["name"], "j0-w1-g2");
    assert_eq!(v["metadata"]["namespace"], "schedlab-demo-1");
    let labels = &v["metadata"]["labels"];
    assert_eq!(
        (
            &labels["schedlab.io/job"],
            &labels["schedlab.io/worker"],
            &labels["schedlab.io/generation"]
        ),
        (&json!("0"), &json!("1"), &json!("2"))
    );
    let ann = &v["metadata"]["annotations"];
    assert_eq!(ann["schedlab.io/run-for"], "12.500001s");
    assert_eq!(ann["schedlab.io/job-name"], "train/7");
    assert_eq!(ann["schedlab.io/priority"], "3");
    let spec = &v["spec"];
    assert_eq!(spec["schedulerName"], "schedlab");
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(spec["tolerations"][0]["key"], "kwok.x-k8s.io/node");
    let res = &spec["containers"][0]["resources"];
    assert_eq!(
        res["requests"],
        json!({"cpu": "16000m", "memory": "65536Mi", "nvidia.com/gpu": "4"})
    );
    assert_eq!(res["requests"], res["limits"]);
    // A fractional worker asks for milli-GPUs, never a fraction of nvidia.com/gpu.
    let f = serde_json::to_value(objects::worker_pod(
        "demo-1",
        &w.jobs[1],
        0,
        0,
        std::time::Duration::from_secs(90),
    ))
    .unwrap();
    let req = &f["spec"]["containers"][0]["resources"]["requests"];
    assert_eq!(req["schedlab.io/gpu-milli"], "250");
    assert!(req.get("nvidia.com/gpu").is_none());
    assert_eq!(
        f["metadata"]["annotations"]["schedlab.io/run-for"],
        "90.000000s"
    );
}

#[test]
fn names_are_dns_safe() {
    assert_eq!(
        objects::dns_label("Philly_Trace v2!", 63),
        "philly-trace-v2"
    );
    assert_eq!(objects::dns_label("---", 63), "x");
    let id = objects::run_id("A very long scenario name indeed", 1_764_500_000_000);
    assert!(
        id.len() <= 54 && id.starts_with("a-very-long-scenario-nam-"),
        "{id}"
    );
    assert_eq!(
        objects::selector(None),
        "app.kubernetes.io/managed-by=schedlab"
    );
    assert_eq!(
        objects::selector(Some("r1")),
        "app.kubernetes.io/managed-by=schedlab,schedlab.io/run=r1"
    );
    assert_eq!(
        objects::gpus_annotation(&[
            GpuShare {
                index: 0,
                milli: 1000
            },
            GpuShare {
                index: 3,
                milli: 500
            }
        ]),
        "0,3:500"
    );
}

#[tokio::test]
async fn node_create_and_binding_send_the_expected_bodies() {
    let (client, handle) = mock_client();
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        // 1: the node.
        let (req, send) = handle.next_request().await.expect("node create");
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri().path(), "/api/v1/nodes");
        let body = req.into_body().collect_bytes().await.unwrap();
        let node: Node = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            node.metadata.name.as_deref(),
            Some("schedlab-r1-a100-80gb-0")
        );
        send.send_response(respond(
            StatusCode::CREATED,
            serde_json::to_value(&node).unwrap(),
        ));
        // 2: the binding of pod j4-w0-g1 to node n0 with its GPUs.
        let (req, send) = handle.next_request().await.expect("binding");
        assert_eq!(req.method(), Method::POST);
        assert_eq!(
            req.uri().path(),
            "/api/v1/namespaces/schedlab-r1/pods/j4-w0-g1/binding"
        );
        let body = req.into_body().collect_bytes().await.unwrap();
        let b: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            b,
            json!({
                "apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": "j4-w0-g1", "namespace": "schedlab-r1",
                             "annotations": {"schedlab.io/gpus": "0,1"}},
                "target": {"apiVersion": "v1", "kind": "Node", "name": "n0"}
            })
        );
        send.send_response(respond(
            StatusCode::CREATED,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201}),
        ));
    });
    let nodes: kube::Api<Node> = kube::Api::all(client.clone());
    let stats = ApiStats::default();
    let node = objects::fake_node("r1", &pool(), NodeId(0));
    let pp = kube::api::PostParams::default();
    with_retry(&stats, || nodes.create(&pp, &node))
        .await
        .unwrap();
    let pods: kube::Api<Pod> = kube::Api::namespaced(client, "schedlab-r1");
    let name = objects::pod_name(JobId(4), 0, 1);
    let body: Binding = objects::binding("schedlab-r1", &name, "n0", "0,1");
    let r: Value = pods
        .create_subresource("binding", &name, &pp, &body)
        .await
        .unwrap();
    assert_eq!(r["status"], "Success");
    server.await.unwrap();
}

#[tokio::test]
async fn transient_errors_are_retried_and_counted_client_errors_are_not() {
    let (client, handle) = mock_client();
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        // Two 503s, then success: three requests for one call.
        for _ in 0..2 {
            let (_, send) = handle.next_request().await.expect("retry");
            send.send_response(respond(
                StatusCode::SERVICE_UNAVAILABLE,
                status(503, "ServiceUnavailable"),
            ));
        }
        let (_, send) = handle.next_request().await.expect("third try");
        send.send_response(respond(
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n0"}}),
        ));
        // A 404 is final at once.
        let (_, send) = handle.next_request().await.expect("404");
        send.send_response(respond(StatusCode::NOT_FOUND, status(404, "NotFound")));
    });
    let nodes: kube::Api<Node> = kube::Api::all(client);
    let stats = ApiStats::default();
    let n = with_retry(&stats, || nodes.get("n0")).await.unwrap();
    assert_eq!(n.metadata.name.as_deref(), Some("n0"));
    assert_eq!(stats.snapshot(), (2, 0, 0));
    let e = with_retry(&stats, || nodes.get("gone")).await.unwrap_err();
    assert!(api::is_not_found(&e));
    assert_eq!(stats.snapshot(), (2, 1, 0));
    server.await.unwrap();
}

#[tokio::test]
async fn preflight_reports_rejected_credentials_before_creating_anything() {
    let (client, handle) = mock_client();
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let (req, send) = handle.next_request().await.expect("version");
        assert_eq!(req.uri().path(), "/version");
        send.send_response(respond(
            StatusCode::OK,
            json!({"major": "1", "minor": "34", "gitVersion": "v1.34.1", "gitCommit": "",
                   "gitTreeState": "", "buildDate": "", "goVersion": "", "compiler": "",
                   "platform": ""}),
        ));
        let (req, send) = handle.next_request().await.expect("list nodes");
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri().path(), "/api/v1/nodes");
        send.send_response(respond(
            StatusCode::UNAUTHORIZED,
            status(401, "Unauthorized"),
        ));
        // Nothing else may be sent.
        assert!(handle.next_request().await.is_none());
    });
    let err = api::preflight(client, "https://mock".into())
        .await
        .err()
        .expect("401 must fail");
    assert!(
        matches!(&err, ClusterError::Unauthorized { server, .. } if server == "https://mock"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("rejected the kubeconfig's credentials")
    );
    server.await.unwrap();
}

#[tokio::test]
async fn preflight_names_missing_permissions() {
    let (client, handle) = mock_client();
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let (_, send) = handle.next_request().await.expect("version");
        send.send_response(respond(
            StatusCode::OK,
            json!({"major": "1", "minor": "34", "gitVersion": "v1.34.1", "gitCommit": "",
                   "gitTreeState": "", "buildDate": "", "goVersion": "", "compiler": "",
                   "platform": ""}),
        ));
        let (_, send) = handle.next_request().await.expect("list nodes");
        send.send_response(respond(StatusCode::FORBIDDEN, status(403, "Forbidden")));
    });
    let err = api::preflight(client, "https://mock".into())
        .await
        .err()
        .expect("403 must fail");
    assert!(
        matches!(&err, ClusterError::Forbidden { what, .. } if what == "list nodes"),
        "{err}"
    );
    assert!(err.to_string().contains("deploy/rbac.yaml"));
    server.await.unwrap();
}
