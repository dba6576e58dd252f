//! Round-trip tests for `cluster.karmada.io` objects.

use super::v1alpha1::{Cluster, ClusterList, ClusterSyncMode};
use crate::testing::round_trip_yaml as round_trip;

const FULL_CLUSTER: &str = r#"
apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata:
  name: member1
  labels:
    env: prod
spec:
  id: 6a1c1a3d-2e1f-4b6c-9d0e-0123456789ab
  syncMode: Push
  apiEndpoint: https://172.18.0.3:6443
  secretRef:
    namespace: karmada-cluster
    name: member1
  impersonatorSecretRef:
    namespace: karmada-cluster
    name: member1-impersonator
  insecureSkipTLSVerification: false
  proxyURL: socks5://proxy.example:1080
  proxyHeader:
    X-Forwarded-For: "10.0.0.1,10.0.0.2"
  provider: aws
  region: us-east-1
  zone: us-east-1a
  zones: [us-east-1a, us-east-1b]
  taints:
  - key: cluster.karmada.io/not-ready
    effect: NoSchedule
  - key: dedicated
    value: gpu
    effect: NoExecute
    timeAdded: "2024-01-01T00:00:00Z"
  resourceModels:
  - grade: 0
    ranges:
    - name: cpu
      min: "0"
      max: "1"
    - name: memory
      min: "0"
      max: 4Gi
  - grade: 1
    ranges:
    - name: cpu
      min: "1"
      max: "2"
    - name: ephemeral-storage
      min: "0"
      max: 100Gi
    - name: storage
      min: "0"
      max: 1Ti
status:
  kubernetesVersion: v1.31.0
  apiEnablements:
  - groupVersion: apps/v1
    resources:
    - name: deployments
      kind: Deployment
  - groupVersion: v1
    resources: []
  conditions:
  - type: Ready
    status: "True"
    reason: ClusterReady
    message: cluster is healthy and ready to accept workloads
    lastTransitionTime: "2024-01-01T00:00:00Z"
    observedGeneration: 1
  - type: CompleteAPIEnablements
    status: "True"
    reason: Complete
    message: collected complete APIs from the cluster
    lastTransitionTime: "2024-01-01T00:00:00Z"
  nodeSummary:
    totalNum: 3
    readyNum: 2
  resourceSummary:
    allocatable:
      cpu: "12"
      memory: 48Gi
      pods: "330"
    allocating:
      cpu: 500m
    allocated:
      cpu: "3"
      memory: 6Gi
    allocatableModelings:
    - grade: 0
      count: 1
    - grade: 1
      count: 2
  remedyActions: [TrafficControl]
"#;

#[test]
fn full_cluster_round_trips() {
    let cluster: Cluster = round_trip(FULL_CLUSTER);
    assert_eq!(cluster.spec.sync_mode, ClusterSyncMode::Push);
}

#[test]
fn minimal_pull_cluster_round_trips() {
    let cluster: Cluster = round_trip(
        r#"
apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata:
  name: member3
spec:
  syncMode: Pull
"#,
    );
    assert_eq!(cluster.spec.sync_mode, ClusterSyncMode::Pull);
    assert!(cluster.status.is_none());
}

#[test]
fn empty_status_and_lists_round_trip() {
    round_trip::<Cluster>(
        r#"
apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata:
  name: member2
spec:
  syncMode: Push
  zones: []
  taints: []
  proxyHeader: {}
status: {}
"#,
    );
}

#[test]
fn cluster_list_round_trips() {
    let list: ClusterList = round_trip(
        r#"
apiVersion: cluster.karmada.io/v1alpha1
kind: ClusterList
metadata:
  resourceVersion: "42"
items:
- apiVersion: cluster.karmada.io/v1alpha1
  kind: Cluster
  metadata:
    name: member1
  spec:
    syncMode: Push
"#,
    );
    assert_eq!(list.items.len(), 1);
}

#[test]
fn missing_sync_mode_is_rejected() {
    let err = serde_json::from_str::<Cluster>(
        r#"{"apiVersion":"cluster.karmada.io/v1alpha1","kind":"Cluster","metadata":{"name":"m"},"spec":{}}"#,
    );
    assert!(err.is_err());
}

#[test]
fn unknown_sync_mode_and_wrong_kind_are_rejected() {
    assert!(serde_json::from_str::<Cluster>(r#"{"spec":{"syncMode":"Both"}}"#).is_err());
    assert!(
        serde_json::from_str::<Cluster>(r#"{"apiVersion":"v1","kind":"Cluster","spec":{"syncMode":"Push"}}"#).is_err()
    );
    assert!(
        serde_json::from_str::<Cluster>(
            r#"{"apiVersion":"cluster.karmada.io/v1alpha1","kind":"Work","spec":{"syncMode":"Push"}}"#
        )
        .is_err()
    );
}

#[test]
fn resource_constants_and_schema() {
    use k8s_openapi::{ListableResource, Resource};
    assert_eq!(Cluster::API_VERSION, "cluster.karmada.io/v1alpha1");
    assert_eq!(Cluster::URL_PATH_SEGMENT, "clusters");
    assert_eq!(Cluster::LIST_KIND, "ClusterList");
    assert_eq!(ClusterList::KIND, "ClusterList");
    let schema = schemars::schema_for!(Cluster);
    let json = serde_json::to_value(&schema).unwrap();
    assert!(json.to_string().contains("syncMode"));
}
