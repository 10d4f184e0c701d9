//! Talking to the API server: a client from a kubeconfig with a check that
//! the server answers and accepts the credentials before anything is
//! created; retries with exponential backoff for transient errors (counted
//! for the report); and `cluster clean`, which deletes what runs created by
//! their labels.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::ClusterError;
use super::objects;

/// How long the first call may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts of one API call before its error is final.
const MAX_ATTEMPTS: u32 = 6;
/// The first retry's delay; it doubles each time (50, 100, …, 1600 ms).
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// A client that passed the pre-flight check.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    /// The API server URL, for messages.
    pub server: String,
    /// The server's `gitVersion`.
    pub version: String,
}

/// Counts of API trouble during a run (shared by concurrent calls).
#[derive(Debug, Default)]
pub struct ApiStats {
    /// Calls retried after a transient error (one per retry).
    pub retries: AtomicU64,
    /// Calls that failed for good (after retries, or a non-transient error).
    pub errors: AtomicU64,
    /// Times a watch stream reported an error (it reconnects by itself).
    pub watch_errors: AtomicU64,
}

impl ApiStats {
    /// (retries, errors, watch errors) so far.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.retries.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
            self.watch_errors.load(Ordering::Relaxed),
        )
    }
}

/// Reads the kubeconfig (optionally a named context), builds a client, and
/// checks the server answers (`/version`) and accepts the credentials (a
/// one-item list of nodes, which `/version` would not need) — before
/// anything is created.
pub async fn connect(path: &Path, context: Option<&str>) -> Result<Connection, ClusterError> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|source| ClusterError::Kubeconfig {
        path: path.to_path_buf(),
        source,
    })?;
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| ClusterError::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })?;
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|source| ClusterError::Client {
        path: path.to_path_buf(),
        source,
    })?;
    preflight(client, server).await
}

/// The pre-flight check of [`connect`] on an existing client.
pub async fn preflight(client: Client, server: String) -> Result<Connection, ClusterError> {
    let timeout_s = CONNECT_TIMEOUT.as_secs();
    let version = match tokio::time::timeout(CONNECT_TIMEOUT, client.apiserver_version()).await {
        Err(_) => return Err(ClusterError::Timeout { server, timeout_s }),
        Ok(Err(kube::Error::Api(s))) if s.code == 401 => {
            return Err(ClusterError::Unauthorized {
                server,
                message: s.message.clone(),
            });
        }
        Ok(Err(source)) => return Err(ClusterError::Unreachable { server, source }),
        Ok(Ok(info)) => info.git_version,
    };
    let nodes: Api<Node> = Api::all(client.clone());
    match tokio::time::timeout(CONNECT_TIMEOUT, nodes.list(&ListParams::default().limit(1))).await {
        Err(_) => return Err(ClusterError::Timeout { server, timeout_s }),
        Ok(Err(e)) => return Err(classify(e, "list nodes", &server)),
        Ok(Ok(_)) => {}
    }
    Ok(Connection {
        client,
        server,
        version,
    })
}

/// Turns an API error into the module's error, naming what was attempted.
pub fn classify(e: kube::Error, what: &str, server: &str) -> ClusterError {
    match &e {
        kube::Error::Api(s) if s.code == 401 => ClusterError::Unauthorized {
            server: server.to_string(),
            message: s.message.clone(),
        },
        kube::Error::Api(s) if s.code == 403 => ClusterError::Forbidden {
            what: what.to_string(),
            message: s.message.clone(),
        },
        _ => ClusterError::Api {
            what: what.to_string(),
            source: e,
        },
    }
}

/// True for errors worth retrying: throttling, server-side failures and
/// broken connections. Client errors (4xx but 429) are final.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// True when the error is the API's "not found" (404).
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// True when the error is the API's "already exists" (409).
pub fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// Runs `call` until it succeeds, fails with a non-transient error, or has
/// failed [`MAX_ATTEMPTS`] times, sleeping 50 ms, 100 ms, … between tries;
/// every retry and final failure is counted in `stats`.
pub async fn with_retry<T, F, Fut>(stats: &ApiStats, mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if is_transient(&e) && attempt < MAX_ATTEMPTS => {
                stats.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        }
    }
}

/// What `cluster clean` deleted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CleanReport {
    pub namespaces: Vec<String>,
    pub nodes: Vec<String>,
    /// Pods deleted in those namespaces.
    pub pods: usize,
}

/// How long [`clean`] waits for a deleted namespace to disappear before it
/// finalizes it itself.
const NAMESPACE_GRACE: Duration = Duration::from_secs(3);

/// Deletes everything cluster mode created (or run `run`'s only), found by
/// label: in each labelled namespace its pods (grace period 0), then the
/// namespace; the labelled nodes and their KWOK leases. Waits until the
/// namespaces are gone: a control plane without kube-controller-manager has
/// no namespace controller, so a namespace that is still Terminating after a
/// few seconds, and holds no pods, is finalized here (what that controller
/// does once the namespace is empty).
pub async fn clean(
    conn: &Connection,
    run: Option<&str>,
    stats: &ApiStats,
) -> Result<CleanReport, ClusterError> {
    let client = &conn.client;
    let server = conn.server.clone();
    let selector = objects::selector(run);
    let lp = ListParams::default().labels(&selector);
    let mut report = CleanReport::default();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let list = with_retry(stats, || namespaces.list(&lp))
        .await
        .map_err(|e| classify(e, "list namespaces", &server))?;
    let now0 = DeleteParams::default().grace_period(0);
    let keep_default = DeleteParams::default();
    let all = ListParams::default();
    for ns in list.items {
        let Some(name) = ns.metadata.name else {
            continue;
        };
        let pods: Api<Pod> = Api::namespaced(client.clone(), &name);
        let listed = with_retry(stats, || pods.list(&all))
            .await
            .map_err(|e| classify(e, "list pods", &server))?;
        report.pods += listed.items.len();
        if !listed.items.is_empty() {
            with_retry(stats, || pods.delete_collection(&now0, &all))
                .await
                .map_err(|e| classify(e, "delete pods", &server))?;
        }
        match with_retry(stats, || namespaces.delete(&name, &keep_default)).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(classify(e, "delete namespace", &server)),
        }
        report.namespaces.push(name);
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let list = with_retry(stats, || nodes.list(&lp))
        .await
        .map_err(|e| classify(e, "list nodes", &server))?;
    for node in list.items {
        let Some(name) = node.metadata.name else {
            continue;
        };
        match with_retry(stats, || nodes.delete(&name, &now0)).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(classify(e, "delete node", &server)),
        }
        // KWOK's heartbeat lease: its owner reference would let the garbage
        // collector remove it, which a bare control plane does not run.
        match with_retry(stats, || leases.delete(&name, &now0)).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) || matches!(&e, kube::Error::Api(s) if s.code == 403) => {}
            Err(e) => return Err(classify(e, "delete node lease", &server)),
        }
        report.nodes.push(name);
    }
    wait_namespaces_gone(client, &report.namespaces, stats, &server).await?;
    Ok(report)
}

async fn wait_namespaces_gone(
    client: &Client,
    names: &[String],
    stats: &ApiStats,
    server: &str,
) -> Result<(), ClusterError> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let started = tokio::time::Instant::now();
    let mut finalized = Vec::new();
    let one = ListParams::default().limit(1);
    let pp = PostParams::default();
    loop {
        let mut left = Vec::new();
        for name in names {
            match with_retry(stats, || namespaces.get_opt(name)).await {
                Ok(Some(_)) => left.push(name.clone()),
                Ok(None) => {}
                Err(e) => return Err(classify(e, "get namespace", server)),
            }
        }
        if left.is_empty() {
            return Ok(());
        }
        if started.elapsed() > NAMESPACE_GRACE {
            for name in &left {
                if finalized.contains(name) {
                    continue;
                }
                let pods: Api<Pod> = Api::namespaced(client.clone(), name);
                let remaining = with_retry(stats, || pods.list(&one))
                    .await
                    .map_err(|e| classify(e, "list pods", server))?;
                if !remaining.items.is_empty() {
                    continue;
                }
                let body = Namespace {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(NamespaceSpec {
                        finalizers: Some(Vec::new()),
                    }),
                    ..Namespace::default()
                };
                match with_retry(stats, || {
                    namespaces.replace_subresource("finalize", name, &pp, &body)
                })
                .await
                {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(classify(e, "finalize namespace", server)),
                }
                finalized.push(name.clone());
            }
        }
        if started.elapsed() > NAMESPACE_GRACE * 10 {
            return Err(ClusterError::NamespacesStuck(left));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
