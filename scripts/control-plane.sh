#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1, built from the upstream Go
# modules (no Docker, no kind): etcd, kube-apiserver, kube-scheduler and KWOK.
# schedlab's cluster-mode tests run against it.
#
#   scripts/control-plane.sh build   # build the binaries into the cache (reused when go.sum is unchanged)
#   scripts/control-plane.sh up      # certificates, start everything, write the kubeconfig
#   scripts/control-plane.sh down    # stop everything started by `up`
#   scripts/control-plane.sh env     # print the variables the tests read
#
# Environment:
#   SCHEDLAB_CP_CACHE  build cache, outside the clone (default ~/.cache/schedlab/control-plane)
#   SCHEDLAB_CP_RUN    runtime folder: certificates, logs, pids, etcd data (default /tmp/schedlab-control-plane)
#   SCHEDLAB_CP_PORT   kube-apiserver port (default 6443); etcd uses 2379/2380 unless SCHEDLAB_CP_ETCD_PORT is set
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mod="$here/tools/control-plane"
cache=${SCHEDLAB_CP_CACHE:-$HOME/.cache/schedlab/control-plane}
run=${SCHEDLAB_CP_RUN:-/tmp/schedlab-control-plane}
port=${SCHEDLAB_CP_PORT:-6443}
etcd_port=${SCHEDLAB_CP_ETCD_PORT:-2379}
etcd_peer=$((etcd_port + 1))

# Binaries are keyed on the module sums, so a version bump rebuilds.
key=$(cat "$mod/go.sum" "$mod/kwok/go.sum" "$mod/go.mod" "$mod/kwok/go.mod" | sha256sum | cut -c1-16)
bin="$cache/bin-$key"

export GOTOOLCHAIN=local CGO_ENABLED=0
export GOCACHE="$cache/gocache"
export GOFLAGS=-mod=mod

log() { printf '[control-plane] %s\n' "$*" >&2; }

build() {
  if [[ -x $bin/kube-apiserver && -x $bin/kube-scheduler && -x $bin/etcd && -x $bin/kwok ]]; then
    log "binaries up to date in $bin"
    return
  fi
  command -v go >/dev/null || { log "go is not installed"; exit 1; }
  mkdir -p "$bin.tmp"
  local t0=$SECONDS
  log "building etcd, kube-apiserver, kube-scheduler (k8s $(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/kubernetes)) into $bin"
  (cd "$mod" && go build -trimpath -ldflags='-s -w' -o "$bin.tmp/etcd" go.etcd.io/etcd/server/v3)
  (cd "$mod" && go build -trimpath -ldflags='-s -w' -o "$bin.tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler)
  log "building kwok ($(cd "$mod/kwok" && go list -m -f '{{.Version}}' sigs.k8s.io/kwok))"
  (cd "$mod/kwok" && go build -trimpath -ldflags='-s -w' -o "$bin.tmp/kwok" sigs.k8s.io/kwok/cmd/kwok)
  # KWOK's default stages ship in its module; keep a copy beside the binaries.
  local kwok_dir
  kwok_dir=$(cd "$mod/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  mkdir -p "$bin.tmp/stages"
  cp "$kwok_dir/kustomize/stage/node/fast/node-initialize.yaml" \
     "$kwok_dir/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
     "$kwok_dir/kustomize/stage/pod/fast/pod-ready.yaml" \
     "$kwok_dir/kustomize/stage/pod/fast/pod-delete.yaml" "$bin.tmp/stages/"
  rm -rf "$bin" && mv "$bin.tmp" "$bin"
  log "built in $((SECONDS - t0)) s"
}

wait_for() { # url, what, extra curl args...
  local url=$1 what=$2; shift 2
  for _ in $(seq 1 120); do
    if curl -fsS "$@" "$url" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$what did not become ready; last lines of its log:"
  tail -n 30 "$run/$what.log" >&2 || true
  return 1
}

certs() {
  local d=$run/pki
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=schedlab-ca -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout apiserver.key -out apiserver.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out apiserver.crt -extfile server.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=schedlab-admin" -keyout admin.key -out admin.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out admin.crt -extfile client.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  cat >"$run/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: schedlab, cluster: {server: "https://127.0.0.1:$port", certificate-authority: $d/ca.crt}}]
users: [{name: schedlab-admin, user: {client-certificate: $d/admin.crt, client-key: $d/admin.key}}]
contexts: [{name: schedlab, context: {cluster: schedlab, user: schedlab-admin}}]
current-context: schedlab
EOF
}

start() { # name, command...
  local name=$1; shift
  "$@" >"$run/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
}

up() {
  build
  down quiet
  rm -rf "$run" && mkdir -p "$run"
  certs
  local t0=$SECONDS
  start etcd "$bin/etcd" --name=schedlab --data-dir="$run/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-cluster="schedlab=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync=true --log-level=warn \
    --listen-metrics-urls="http://127.0.0.1:$((etcd_port + 2))"
  wait_for "http://127.0.0.1:$etcd_port/health" etcd
  local p=$run/pki
  start kube-apiserver "$bin/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" --client-ca-file="$p/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --authorization-mode=RBAC --service-cluster-ip-range=10.0.0.0/24 \
    --disable-admission-plugins=ServiceAccount,TaintNodesByCondition \
    --endpoint-reconciler-type=none --enable-priority-and-fairness=false \
    --max-requests-inflight=2000 --max-mutating-requests-inflight=1000
  wait_for "https://127.0.0.1:$port/readyz" kube-apiserver --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key"
  # KWOK: the default node and pod stages plus schedlab's own, which completes
  # a pod after the duration in its `schedlab.io/run-for` annotation.
  {
    for f in "$bin"/stages/*.yaml; do cat "$f"; echo '---'; done
    cat "$here/tools/control-plane/kwok-stages.yaml"
  } >"$run/kwok.yaml"
  start kwok "$bin/kwok" --kubeconfig="$run/kubeconfig" --config="$run/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 --cidr=10.0.0.1/16
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig="$run/kubeconfig" --leader-elect=false --secure-port=0
  sleep 1
  for c in kwok kube-scheduler; do
    if ! kill -0 "$(cat "$run/$c.pid")" 2>/dev/null; then
      log "$c exited; its log:"; tail -n 30 "$run/$c.log" >&2; exit 1
    fi
  done
  log "up in $((SECONDS - t0)) s: KUBECONFIG=$run/kubeconfig"
}

down() {
  local quiet=${1:-}
  [[ -d $run ]] || return 0
  for c in kube-scheduler kwok kube-apiserver etcd; do
    if [[ -f $run/$c.pid ]]; then
      local pid; pid=$(cat "$run/$c.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$run/$c.pid"
    fi
  done
  [[ -n $quiet ]] || log "stopped (logs kept in $run)"
}

case ${1:-} in
  build) build ;;
  up) up ;;
  down) down ;;
  env) echo "SCHEDLAB_KUBECONFIG=$run/kubeconfig" ;;
  *) echo "usage: $0 build|up|down|env" >&2; exit 2 ;;
esac
