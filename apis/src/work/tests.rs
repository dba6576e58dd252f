//! Round-trip tests for `work.karmada.io` objects.

use super::{v1alpha1, v1alpha2};
use crate::testing::round_trip_yaml as round_trip;

const FULL_WORK: &str = r#"
apiVersion: work.karmada.io/v1alpha1
kind: Work
metadata:
  name: nginx-687f7fb96f
  namespace: karmada-es-member1
  labels:
    work.karmada.io/permanent-id: 1c5e2b10-5f6a-4e1c-9f0a-2b6d3c4e5f60
  finalizers: [karmada.io/execution-controller]
spec:
  suspendDispatching: false
  preserveResourcesOnDeletion: true
  workload:
    manifests:
    - apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: nginx
        namespace: default
      spec:
        replicas: 2
        selector:
          matchLabels: {app: nginx}
        template:
          metadata:
            labels: {app: nginx}
          spec:
            containers:
            - name: nginx
              image: nginx:1.25
    - apiVersion: v1
      kind: ConfigMap
      metadata:
        name: cfg
        namespace: default
      data: {a: b}
status:
  conditions:
  - type: Applied
    status: "True"
    reason: AppliedSuccessful
    message: Manifest has been successfully applied
    lastTransitionTime: "2024-01-01T00:00:00Z"
  - type: Progressing
    status: "False"
    reason: Done
    message: ""
    lastTransitionTime: "2024-01-01T00:00:00Z"
  - type: Available
    status: "True"
    reason: Available
    message: ""
    lastTransitionTime: "2024-01-01T00:00:00Z"
  - type: Degraded
    status: "False"
    reason: NotDegraded
    message: ""
    lastTransitionTime: "2024-01-01T00:00:00Z"
  - type: Dispatching
    status: "True"
    reason: Dispatching
    message: Work is being dispatched to member clusters.
    lastTransitionTime: "2024-01-01T00:00:00Z"
  manifestStatuses:
  - identifier:
      ordinal: 0
      group: apps
      version: v1
      kind: Deployment
      resource: deployments
      namespace: default
      name: nginx
    status:
      replicas: 2
      readyReplicas: 2
    health: Healthy
  - identifier:
      ordinal: 1
      version: v1
      kind: ConfigMap
      resource: configmaps
      namespace: default
      name: cfg
    health: Unknown
  - identifier:
      ordinal: 2
      version: v1
      kind: Namespace
      resource: namespaces
      name: demo
    health: Unhealthy
"#;

#[test]
fn full_work_round_trips() {
    let work: v1alpha1::Work = round_trip(FULL_WORK);
    let manifests = work.spec.workload.unwrap().manifests.unwrap();
    assert_eq!(manifests.len(), 2);
    assert_eq!(manifests[0].0["kind"], "Deployment");
}

#[test]
fn suspended_and_empty_work_round_trip() {
    round_trip::<v1alpha1::Work>(
        r#"
apiVersion: work.karmada.io/v1alpha1
kind: Work
metadata:
  name: w
  namespace: karmada-es-member2
spec:
  suspendDispatching: true
  workload:
    manifests: []
status: {}
"#,
    );
    round_trip::<v1alpha1::Work>(
        r#"
apiVersion: work.karmada.io/v1alpha1
kind: Work
metadata:
  name: w
  namespace: karmada-es-member2
spec: {}
"#,
    );
}

#[test]
fn work_list_round_trips() {
    let list: v1alpha1::WorkList = round_trip(
        r#"
apiVersion: work.karmada.io/v1alpha1
kind: WorkList
metadata:
  resourceVersion: "7"
  continue: abc
items:
- apiVersion: work.karmada.io/v1alpha1
  kind: Work
  metadata:
    name: w
    namespace: karmada-es-member1
  spec:
    workload:
      manifests:
      - apiVersion: v1
        kind: Secret
        metadata: {name: s, namespace: default}
"#,
    );
    assert_eq!(list.items.len(), 1);
}

const V1ALPHA1_BINDING: &str = r#"
apiVersion: work.karmada.io/v1alpha1
kind: ResourceBinding
metadata:
  name: nginx-deployment
  namespace: default
spec:
  resource:
    apiVersion: apps/v1
    kind: Deployment
    namespace: default
    name: nginx
    resourceVersion: "1234"
    resourcePerReplicas:
      cpu: 100m
      memory: 128Mi
    replicas: 3
  clusters:
  - name: member1
    replicas: 2
  - name: member2
    replicas: 1
status:
  conditions:
  - type: Scheduled
    status: "True"
    reason: Success
    message: Binding has been scheduled
    lastTransitionTime: "2024-01-01T00:00:00Z"
  aggregatedStatus:
  - clusterName: member1
    status: {readyReplicas: 2}
    applied: true
  - clusterName: member2
    applied: false
    appliedMessage: failed to apply
"#;

#[test]
fn v1alpha1_bindings_round_trip() {
    round_trip::<v1alpha1::ResourceBinding>(V1ALPHA1_BINDING);
    let crb = V1ALPHA1_BINDING
        .replace("kind: ResourceBinding", "kind: ClusterResourceBinding")
        .replace("  namespace: default\nspec:", "spec:");
    let crb: v1alpha1::ClusterResourceBinding = round_trip(&crb);
    assert!(crb.metadata.namespace.is_none());
    round_trip::<v1alpha1::ResourceBindingList>(
        r#"
apiVersion: work.karmada.io/v1alpha1
kind: ResourceBindingList
metadata: {}
items: []
"#,
    );
}

const FULL_BINDING: &str = r#"
apiVersion: work.karmada.io/v1alpha2
kind: ResourceBinding
metadata:
  name: nginx-deployment
  namespace: default
  generation: 3
  labels:
    propagationpolicy.karmada.io/permanent-id: 0a1b2c3d-0000-4000-8000-000000000000
spec:
  resource:
    apiVersion: apps/v1
    kind: Deployment
    namespace: default
    name: nginx
    uid: 9f3c6d1e-1111-4222-8333-444455556666
    resourceVersion: "1234"
  propagateDeps: true
  replicaRequirements:
    nodeClaim:
      hardNodeAffinity:
        nodeSelectorTerms:
        - matchExpressions:
          - key: kubernetes.io/os
            operator: In
            values: [linux]
      nodeSelector:
        disktype: ssd
      tolerations:
      - key: dedicated
        operator: Equal
        value: web
        effect: NoSchedule
    resourceRequest:
      cpu: 250m
      memory: 64Mi
    namespace: default
    priorityClassName: high
  replicas: 3
  components:
  - name: master
    replicas: 1
    replicaRequirements:
      nodeClaim:
        nodeSelector: {role: master}
      resourceRequest:
        cpu: "1"
      priorityClassName: critical
  - name: worker
    replicas: 2
  clusters:
  - name: member1
    replicas: 2
    components:
    - name: master
      replicas: 1
    - name: worker
      replicas: 1
  - name: member2
    replicas: 1
  placement:
    clusterAffinity:
      clusterNames: [member1, member2]
    clusterTolerations:
    - key: cluster.karmada.io/not-ready
      operator: Exists
      effect: NoExecute
      tolerationSeconds: 300
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
        - targetCluster:
            clusterNames: [member1]
          weight: 2
        - targetCluster:
            clusterNames: [member2]
          weight: 1
  gracefulEvictionTasks:
  - fromCluster: member3
    purgeMode: Gracefully
    replicas: 1
    reason: ApplicationFailure
    message: application unhealthy
    producer: resource-binding-application-failover-controller
    gracePeriodSeconds: 600
    suppressDeletion: false
    preservedLabelState:
      failover.karmada.io/replicas: "3"
    creationTimestamp: "2024-01-01T00:00:00Z"
    clustersBeforeFailover: [member1, member3]
  - fromCluster: member4
    purgeMode: Directly
    reason: TaintUntolerated
    producer: taint-manager
  - fromCluster: member5
    purgeMode: Never
    reason: TaintUntolerated
    producer: taint-manager
  requiredBy:
  - namespace: default
    name: web-deployment
    clusters:
    - name: member1
      replicas: 2
  - name: cluster-wide
  schedulerName: default-scheduler
  failover:
    application:
      decisionConditions:
        tolerationSeconds: 120
      purgeMode: Gracefully
      gracePeriodSeconds: 600
      statePreservation:
        rules:
        - aliasLabelName: failover.karmada.io/replicas
          jsonPath: "{ .replicas }"
    cluster:
      purgeMode: Directly
  conflictResolution: Overwrite
  rescheduleTriggeredAt: "2024-02-01T00:00:00Z"
  suspension:
    dispatching: false
    dispatchingOnClusters:
      clusterNames: [member2]
    scheduling: true
  preserveResourcesOnDeletion: false
  schedulePriority:
    priority: 100
  workloadAffinityGroups:
    affinityGroup: group-a
    antiAffinityGroup: group-b
status:
  schedulerObservedGeneration: 3
  schedulerObservingAffinityName: primary
  lastScheduledTime: "2024-01-01T00:00:00Z"
  conditions:
  - type: Scheduled
    status: "True"
    reason: Success
    message: Binding has been scheduled successfully.
    lastTransitionTime: "2024-01-01T00:00:00Z"
  - type: FullyApplied
    status: "True"
    reason: FullyAppliedSuccess
    message: All works have been successfully applied
    lastTransitionTime: "2024-01-01T00:00:00Z"
  aggregatedStatus:
  - clusterName: member1
    status:
      replicas: 2
      readyReplicas: 2
    applied: true
    health: Healthy
  - clusterName: member2
    applied: false
    appliedMessage: conflict
    health: Unhealthy
  - clusterName: member3
    health: Unknown
"#;

#[test]
fn full_v1alpha2_binding_round_trips() {
    let rb: v1alpha2::ResourceBinding = round_trip(FULL_BINDING);
    assert_eq!(rb.status.unwrap().scheduler_observed_affinity_name.as_deref(), Some("primary"));
    assert_eq!(rb.spec.conflict_resolution, Some(crate::policy::ConflictResolution::Overwrite));
}

#[test]
fn cluster_resource_binding_round_trips() {
    let crb: v1alpha2::ClusterResourceBinding = round_trip(
        r#"
apiVersion: work.karmada.io/v1alpha2
kind: ClusterResourceBinding
metadata:
  name: demo-namespace
spec:
  resource:
    apiVersion: v1
    kind: Namespace
    name: demo
  clusters:
  - name: member1
  conflictResolution: Abort
  placement: {}
  requiredBy: []
status:
  schedulerObservedGeneration: 1
"#,
    );
    assert_eq!(crb.spec.clusters.unwrap()[0].name, "member1");
    round_trip::<v1alpha2::ClusterResourceBindingList>(
        r#"
apiVersion: work.karmada.io/v1alpha2
kind: ClusterResourceBindingList
metadata:
  resourceVersion: "1"
items:
- apiVersion: work.karmada.io/v1alpha2
  kind: ClusterResourceBinding
  metadata: {name: x}
  spec:
    resource: {apiVersion: v1, kind: Namespace, name: x}
"#,
    );
}

#[test]
fn wrong_version_and_bad_enums_are_rejected() {
    // A v1alpha1 object is not a v1alpha2 one, and vice versa.
    assert!(serde_json::from_str::<v1alpha2::ResourceBinding>(
        r#"{"apiVersion":"work.karmada.io/v1alpha1","kind":"ResourceBinding","spec":{"resource":{"apiVersion":"v1","kind":"Pod","name":"p"}}}"#
    )
    .is_err());
    assert!(serde_json::from_str::<v1alpha2::ResourceBinding>(
        r#"{"apiVersion":"work.karmada.io/v1alpha2","kind":"ClusterResourceBinding","spec":{"resource":{"apiVersion":"v1","kind":"Pod","name":"p"}}}"#
    )
    .is_err());
    assert!(
        serde_json::from_str::<v1alpha2::ResourceBinding>(
            r#"{"spec":{"resource":{"apiVersion":"v1","kind":"Pod","name":"p"},"conflictResolution":"Ignore"}}"#
        )
        .is_err()
    );
    assert!(serde_json::from_str::<v1alpha1::Work>(
        r#"{"spec":{},"status":{"manifestStatuses":[{"identifier":{"ordinal":0,"version":"v1","kind":"Pod","resource":"pods","name":"p"},"health":"Sick"}]}}"#
    )
    .is_err());
}

#[test]
fn resource_constants_and_schemas() {
    use k8s_openapi::{ListableResource, Resource};
    assert_eq!(v1alpha1::Work::API_VERSION, "work.karmada.io/v1alpha1");
    assert_eq!(v1alpha1::Work::URL_PATH_SEGMENT, "works");
    assert_eq!(v1alpha2::ResourceBinding::URL_PATH_SEGMENT, "resourcebindings");
    assert_eq!(v1alpha2::ClusterResourceBinding::URL_PATH_SEGMENT, "clusterresourcebindings");
    assert_eq!(v1alpha2::ClusterResourceBinding::LIST_KIND, "ClusterResourceBindingList");
    assert_eq!(v1alpha1::ResourceBinding::VERSION, "v1alpha1");
    let schema = serde_json::to_value(schemars::schema_for!(v1alpha2::ResourceBinding)).unwrap();
    assert!(schema.to_string().contains("schedulerObservingAffinityName"));
    let schema = serde_json::to_value(schemars::schema_for!(v1alpha1::WorkList)).unwrap();
    assert!(schema.to_string().contains("manifestStatuses"));
}
