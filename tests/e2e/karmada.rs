//! kubectl against the Karmada kinds the API server serves (clusters, policies, bindings, works), on both backends.

mod support;

use support::{BackendKind, Flotilla, header, row};

on_both_backends!(
    the_seed_policies_apply_unchanged_and_print_as_karmada_prints_them,
    clusters_print_their_columns_and_the_wide_ones,
    explain_describes_the_karmada_schemas,
    api_resources_lists_the_karmada_kinds_with_their_short_names,
);

/// The PropagationPolicy and OverridePolicy of the multi-cluster-practice seed, verbatim.
const POLICIES: &str = include_str!("fixtures/seed-karmada-policies.yaml");

const CLUSTER: &str = "apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata:
  name: member1
spec:
  syncMode: Push
  apiEndpoint: https://172.18.0.3:6443
  region: eu-west-1
  zones: [eu-west-1a, eu-west-1b]
  provider: aws
";

async fn the_seed_policies_apply_unchanged_and_print_as_karmada_prints_them(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let ns = f.namespace("policies");
    let applied = f.ok_with_stdin(&["apply", "-n", &ns, "-f", "-"], POLICIES);
    assert!(applied.contains("propagationpolicy.policy.karmada.io/nginx-propagation created"), "{applied}");
    assert!(applied.contains("overridepolicy.policy.karmada.io/nginx-op created"), "{applied}");

    let policy = f.json(&["get", "pp", "nginx-propagation", "-n", &ns]);
    let weights = &policy["spec"]["placement"]["replicaScheduling"]["weightPreference"]["staticWeightList"];
    assert_eq!(weights[1]["targetCluster"]["clusterNames"][0], "member2", "{policy}");
    assert_eq!(weights[1]["weight"], 1, "{policy}");
    let op = f.json(&["get", "op", "nginx-op", "-n", &ns]);
    assert_eq!(op["spec"]["overrideRules"][0]["overriders"]["labelsOverrider"][3]["value"]["bar"], "test", "{op}");

    let pp = f.ok(&["get", "pp", "-A"]);
    assert_eq!(header(&pp), ["NAMESPACE", "NAME", "CONFLICT-RESOLUTION", "PRIORITY", "AGE"], "{pp}");
    assert_eq!(row(&pp, &ns)[1], "nginx-propagation", "{pp}");
    let both = f.ok(&["get", "pp,op", "-A"]);
    assert!(both.contains("propagationpolicy.policy.karmada.io/nginx-propagation"), "{both}");
    assert!(both.contains("overridepolicy.policy.karmada.io/nginx-op"), "{both}");
    let op_table = f.ok(&["get", "op", "-n", &ns]);
    assert_eq!(header(&op_table), ["NAME", "AGE"], "{op_table}");
    row(&op_table, "nginx-op");

    f.ok_with_stdin(&["apply", "-f", "-"], CLUSTER);
    let everything = f.ok(&["get", "karmada-io", "-A"]);
    for name in ["propagationpolicy.policy.karmada.io/nginx-propagation", "overridepolicy.policy.karmada.io/nginx-op"] {
        assert!(everything.contains(name), "{everything}");
    }
    assert!(everything.contains("cluster.cluster.karmada.io/member1"), "{everything}");
}

async fn clusters_print_their_columns_and_the_wide_ones(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    f.ok_with_stdin(&["apply", "-f", "-"], CLUSTER);
    let table = f.ok(&["get", "clusters"]);
    assert_eq!(header(&table), ["NAME", "VERSION", "MODE", "READY", "AGE"], "{table}");
    let cells = row(&table, "member1");
    assert!(cells.contains(&"Push".to_string()) && cells.contains(&"Unknown".to_string()), "{table}");
    let wide = f.ok(&["get", "clusters", "-o", "wide"]);
    assert_eq!(
        header(&wide),
        ["NAME", "VERSION", "MODE", "READY", "AGE", "ZONES", "REGION", "PROVIDER", "API-ENDPOINT", "PROXY-URL"],
        "{wide}"
    );
    let row = row(&wide, "member1");
    assert!(row.contains(&"eu-west-1a,eu-west-1b".to_string()), "{wide}");
    assert!(row.contains(&"https://172.18.0.3:6443".to_string()), "{wide}");
}

async fn explain_describes_the_karmada_schemas(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let explained = f.ok(&["explain", "propagationpolicy.spec.placement.replicaScheduling"]);
    for field in ["replicaDivisionPreference", "replicaSchedulingType", "weightPreference"] {
        assert!(explained.contains(field), "{field} missing from:\n{explained}");
    }
    assert!(explained.contains("policy.karmada.io"), "{explained}");
    let enumerated = f.ok(&["explain", "pp.spec.placement.replicaScheduling.replicaSchedulingType"]);
    assert!(enumerated.contains("Divided") && enumerated.contains("Duplicated"), "{enumerated}");
    let unknown = POLICIES.replacen("  placement:\n", "  placement:\n    noSuchField: 1\n", 1);
    let refused = expect_failure(&f, &unknown);
    assert!(refused.contains("noSuchField"), "{refused}");
    let cluster = f.ok(&["explain", "cluster.spec"]);
    assert!(cluster.contains("apiEndpoint") && cluster.contains("syncMode"), "{cluster}");
}

async fn api_resources_lists_the_karmada_kinds_with_their_short_names(kind: BackendKind) {
    let f = Flotilla::start(kind).await;
    let table = f.ok(&["api-resources", "--categories=karmada-io"]);
    assert_eq!(
        row(&table, "propagationpolicies")[1..],
        ["pp", "policy.karmada.io/v1alpha1", "true", "PropagationPolicy"]
    );
    assert_eq!(
        row(&table, "clusterresourcebindings")[1..],
        ["crb", "work.karmada.io/v1alpha2", "false", "ClusterResourceBinding"]
    );
    assert_eq!(row(&table, "works")[1..], ["wk", "work.karmada.io/v1alpha1", "true", "Work"]);
    assert_eq!(row(&table, "clusters")[1..], ["cluster.karmada.io/v1alpha1", "false", "Cluster"]);
}

/// `kubectl apply --validate=strict` of `manifest` into a fresh namespace, expected to fail; returns stderr.
fn expect_failure(f: &Flotilla, manifest: &str) -> String {
    let ns = f.namespace("strict");
    let output = f.kubectl_with_stdin(&["apply", "--validate=strict", "-n", &ns, "-f", "-"], Some(manifest));
    assert!(!output.status.success(), "an unknown field was accepted");
    String::from_utf8_lossy(&output.stderr).into_owned()
}
