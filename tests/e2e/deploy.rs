//! The deploy/ manifests: parsed, required fields present, every APIService pointing at the Service.

#[path = "certs/server.rs"]
mod cert_server;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use base64::Engine;
use cert_server::{CertServer, flotilla_binary, kubectl, text};
use serde::Deserialize;
use serde_yaml::Value;

/// The namespace the manifests install into.
const NAMESPACE: &str = "flotilla-system";
/// The Secret hack/deploy-render.sh creates (not in deploy/, since it holds a private key).
const RENDERED_SECRET: &str = "flotilla-apiserver-certs";
/// Cluster roles and roles every Kubernetes cluster has, which the manifests bind to.
const BUILT_IN_ROLES: [&str; 2] = ["system:auth-delegator", "extension-apiserver-authentication-reader"];
/// Kinds without a namespace.
const CLUSTER_SCOPED: [&str; 4] = ["Namespace", "ClusterRole", "ClusterRoleBinding", "APIService"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every document of every `*.yaml` in `dir`, with the file it came from.
fn documents(dir: &Path) -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    let mut all = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
            if !value.is_null() {
                all.push((name.clone(), value));
            }
        }
    }
    all
}

fn s<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    let mut at = value;
    for key in path {
        at = &at[*key];
    }
    at.as_str().unwrap_or("")
}

fn of_kind<'a>(docs: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|(_, doc)| doc["kind"] == kind).map(|(_, doc)| doc).collect()
}

fn find<'a>(docs: &'a [(String, Value)], kind: &str, namespace: &str, name: &str) -> Option<&'a Value> {
    of_kind(docs, kind)
        .into_iter()
        .find(|doc| s(doc, &["metadata", "name"]) == name && s(doc, &["metadata", "namespace"]) == namespace)
}

/// The Deployment or StatefulSet whose pod labels the selector of `service` matches.
fn workload_behind<'a>(docs: &'a [(String, Value)], service: &Value) -> &'a Value {
    let selector = service["spec"]["selector"].as_mapping().expect("the Service has a selector");
    docs.iter()
        .map(|(_, doc)| doc)
        .filter(|doc| doc["kind"] == "Deployment" || doc["kind"] == "StatefulSet")
        .filter(|doc| s(doc, &["metadata", "namespace"]) == s(service, &["metadata", "namespace"]))
        .find(|doc| selector.iter().all(|(k, v)| doc["spec"]["template"]["metadata"]["labels"][k] == *v))
        .unwrap_or_else(|| panic!("no workload behind Service {}", s(service, &["metadata", "name"])))
}

fn containers(workload: &Value) -> &Vec<Value> {
    workload["spec"]["template"]["spec"]["containers"].as_sequence().expect("containers")
}

/// The value of `--flag=value` among a container's args or command.
fn flag<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    let prefix = format!("{name}=");
    ["args", "command"]
        .iter()
        .filter_map(|key| container[*key].as_sequence())
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|arg| arg.strip_prefix(prefix.as_str()))
}

fn apiserver_container(docs: &[(String, Value)]) -> &Value {
    let deployment = find(docs, "Deployment", NAMESPACE, "flotilla-apiserver").expect("the apiserver Deployment");
    &containers(deployment)[0]
}

/// `(group, version)` of every APIService.
fn apiservice_group_versions(docs: &[(String, Value)]) -> BTreeSet<(String, String)> {
    of_kind(docs, "APIService")
        .iter()
        .map(|api| (s(api, &["spec", "group"]).to_owned(), s(api, &["spec", "version"]).to_owned()))
        .collect()
}

#[test]
fn every_manifest_parses_and_names_its_kind_name_and_namespace() {
    let docs = documents(&repo().join("deploy"));
    let namespaces: BTreeSet<&str> =
        of_kind(&docs, "Namespace").iter().map(|ns| s(ns, &["metadata", "name"])).chain(["kube-system"]).collect();
    assert!(namespaces.contains(NAMESPACE), "deploy/ creates its namespace");
    for (file, doc) in &docs {
        let kind = s(doc, &["kind"]);
        let name = s(doc, &["metadata", "name"]);
        assert!(!s(doc, &["apiVersion"]).is_empty() && !kind.is_empty(), "{file}: a document without apiVersion/kind");
        assert!(!name.is_empty(), "{file}: a {kind} without a name");
        let namespace = s(doc, &["metadata", "namespace"]);
        if CLUSTER_SCOPED.contains(&kind) {
            assert!(namespace.is_empty(), "{file}: {kind} {name} is cluster-scoped");
        } else {
            assert!(namespaces.contains(namespace), "{file}: {kind} {name} is in an unknown namespace {namespace:?}");
        }
        if kind == "Deployment" || kind == "StatefulSet" {
            let selector = doc["spec"]["selector"]["matchLabels"].as_mapping().expect("matchLabels");
            for (key, value) in selector {
                assert_eq!(
                    doc["spec"]["template"]["metadata"]["labels"][key], *value,
                    "{file}: {name} selects its pods"
                );
            }
            for container in containers(doc) {
                assert!(!s(container, &["image"]).is_empty(), "{file}: {name} has a container without an image");
            }
        }
    }
}

#[test]
fn every_apiservice_points_at_the_apiserver_service_and_its_port() {
    let docs = documents(&repo().join("deploy"));
    let apiservices = of_kind(&docs, "APIService");
    assert_eq!(apiservices.len(), 5, "one APIService per served group-version");
    for api in apiservices {
        let (group, version) = (s(api, &["spec", "group"]), s(api, &["spec", "version"]));
        assert_eq!(
            s(api, &["metadata", "name"]),
            format!("{version}.{group}"),
            "APIService names are <version>.<group>"
        );
        assert_eq!(api["spec"]["groupPriorityMinimum"], 2000, "{group}: Karmada's group priority");
        assert_eq!(api["spec"]["versionPriority"], 10, "{group}/{version}: Karmada's version priority");
        assert!(!s(api, &["spec", "caBundle"]).is_empty(), "{group}/{version}: caBundle (filled by the render script)");
        assert!(api["spec"].get("insecureSkipTLSVerify").is_none(), "{group}/{version} must verify TLS");

        let (namespace, name) = (s(api, &["spec", "service", "namespace"]), s(api, &["spec", "service", "name"]));
        assert_eq!(namespace, NAMESPACE);
        let service =
            find(&docs, "Service", namespace, name).unwrap_or_else(|| panic!("no Service {namespace}/{name}"));
        let port = api["spec"]["service"]["port"].as_u64().expect("an APIService port");
        let service_port = service["spec"]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["port"].as_u64() == Some(port))
            .unwrap_or_else(|| panic!("Service {name} has no port {port}"));
        let container = &containers(workload_behind(&docs, service))[0];
        let target = &service_port["targetPort"];
        let container_port = container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"] == *target || p["containerPort"] == *target)
            .unwrap_or_else(|| panic!("the Service's targetPort {target:?} is no container port"));
        let secure_port = flag(container, "--secure-port").expect("--secure-port");
        assert_eq!(container_port["containerPort"].as_u64(), secure_port.parse().ok(), "the container listens there");
        assert!(container["args"].as_sequence().unwrap().iter().any(|a| a == "--aggregated"), "aggregated mode");
    }
}

#[test]
fn the_apiservices_are_exactly_what_aggregated_mode_serves() {
    let docs = documents(&repo().join("deploy"));
    let declared = apiservice_group_versions(&docs);
    let (_tmp, files) = cert_server::init_certs(&[]);
    // deploy/ authorizes through the host (Webhook); without a host, allow everything. (With RBAC, the RBAC kinds
    // would be served too, since that authorizer reads them from this server.)
    let server = CertServer::start(&files, &["--aggregated", "--authorization-mode=AlwaysAllow"], "info");
    let admin = server.admin_kubeconfig();
    let output = kubectl(&admin, &["get", "--raw", "/apis"]);
    assert!(output.status.success(), "{}", text(&output));
    let groups: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut served = BTreeSet::new();
    for group in groups["groups"].as_array().expect("an APIGroupList") {
        for version in group["versions"].as_array().unwrap() {
            served
                .insert((group["name"].as_str().unwrap().to_owned(), version["version"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(served, declared, "every served group-version has an APIService and every APIService is served");
    for (group, version) in &declared {
        // The aggregator's availability probe.
        let probe = kubectl(&admin, &["get", "--raw", &format!("/apis/{group}/{version}")]);
        assert!(probe.status.success(), "{group}/{version}: {}", text(&probe));
    }
    for path in
        ["/api/v1/namespaces", "/apis/apps/v1/deployments", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"]
    {
        let output = kubectl(&admin, &["get", "--raw", path]);
        assert!(
            !output.status.success() && text(&output).contains("NotFound"),
            "{path} is not served: {}",
            text(&output)
        );
    }
    for path in
        ["/healthz", "/readyz", "/livez", "/version", "/openapi/v3", "/openapi/v3/apis/cluster.karmada.io/v1alpha1"]
    {
        let output = kubectl(&admin, &["get", "--raw", path]);
        assert!(output.status.success(), "{path} is served for the aggregator: {}", text(&output));
    }
}

#[test]
fn service_accounts_roles_secrets_and_config_maps_that_are_referenced_exist() {
    let docs = documents(&repo().join("deploy"));
    for workload in of_kind(&docs, "Deployment").into_iter().chain(of_kind(&docs, "StatefulSet")) {
        let namespace = s(workload, &["metadata", "namespace"]);
        let pod = &workload["spec"]["template"]["spec"];
        let account = s(pod, &["serviceAccountName"]);
        if !account.is_empty() {
            assert!(find(&docs, "ServiceAccount", namespace, account).is_some(), "ServiceAccount {account} is missing");
        }
        for volume in pod["volumes"].as_sequence().into_iter().flatten() {
            if let Some(secret) = volume["secret"]["secretName"].as_str() {
                assert!(
                    find(&docs, "Secret", namespace, secret).is_some() || secret == RENDERED_SECRET,
                    "Secret {secret} is neither in deploy/ nor created by hack/deploy-render.sh"
                );
            }
            if let Some(config_map) = volume["configMap"]["name"].as_str() {
                assert!(find(&docs, "ConfigMap", namespace, config_map).is_some(), "ConfigMap {config_map} is missing");
            }
        }
    }
    for binding in of_kind(&docs, "ClusterRoleBinding").into_iter().chain(of_kind(&docs, "RoleBinding")) {
        let name = s(binding, &["metadata", "name"]);
        for subject in binding["subjects"].as_sequence().expect("subjects") {
            assert_eq!(subject["kind"], "ServiceAccount", "{name}");
            let (namespace, account) = (s(subject, &["namespace"]), s(subject, &["name"]));
            assert!(find(&docs, "ServiceAccount", namespace, account).is_some(), "{name}: no ServiceAccount {account}");
        }
        let role = s(binding, &["roleRef", "name"]);
        let declared = match s(binding, &["roleRef", "kind"]) {
            "ClusterRole" => find(&docs, "ClusterRole", "", role).is_some(),
            _ => find(&docs, "Role", s(binding, &["metadata", "namespace"]), role).is_some(),
        };
        assert!(declared || BUILT_IN_ROLES.contains(&role), "{name} binds the unknown role {role}");
    }
    let bound = |kind: &str, role: &str, namespace: &str| {
        of_kind(&docs, kind).iter().any(|b| {
            s(b, &["roleRef", "name"]) == role
                && s(b, &["metadata", "namespace"]) == namespace
                && b["subjects"][0]["name"] == "flotilla-apiserver"
        })
    };
    assert!(bound("ClusterRoleBinding", "system:auth-delegator", ""), "the apiserver may delegate auth");
    assert!(bound("RoleBinding", "extension-apiserver-authentication-reader", "kube-system"), "reads the ConfigMap");
    assert!(find(&docs, "Deployment", NAMESPACE, "flotilla-controllers").is_some(), "the controllers are declared");
}

#[test]
fn etcd_runs_three_members_that_find_each_other_through_the_headless_service() {
    let docs = documents(&repo().join("deploy"));
    let etcd = find(&docs, "StatefulSet", NAMESPACE, "flotilla-etcd").expect("the etcd StatefulSet");
    assert_eq!(etcd["spec"]["replicas"], 3);
    let service_name = s(etcd, &["spec", "serviceName"]);
    let service = find(&docs, "Service", NAMESPACE, service_name).expect("the StatefulSet's governing Service");
    assert_eq!(service["spec"]["clusterIP"], "None", "a headless Service gives each member a DNS name");
    assert!(std::ptr::eq(workload_behind(&docs, service), etcd), "the Service selects the etcd pods");
    let container = &containers(etcd)[0];
    let members: Vec<String> = (0..3)
        .map(|i| format!("flotilla-etcd-{i}=http://flotilla-etcd-{i}.{service_name}.{NAMESPACE}.svc:2380"))
        .collect();
    assert_eq!(flag(container, "--initial-cluster"), Some(members.join(",").as_str()));
    let advertised = flag(container, "--initial-advertise-peer-urls").unwrap();
    assert_eq!(advertised, format!("http://$(POD_NAME).{service_name}.{NAMESPACE}.svc:2380"));
    let clients: Vec<String> =
        (0..3).map(|i| format!("http://flotilla-etcd-{i}.{service_name}.{NAMESPACE}.svc:2379")).collect();
    assert_eq!(flag(apiserver_container(&docs), "--etcd-servers"), Some(clients.join(",").as_str()));
}

#[test]
fn the_render_script_fills_every_ca_bundle_and_creates_the_serving_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let (certs, out) = (tmp.path().join("certs"), tmp.path().join("out"));
    let render = || {
        let output = Command::new(repo().join("hack/deploy-render.sh"))
            .arg("--certs")
            .arg(&certs)
            .arg("--out")
            .arg(&out)
            .env("FLOTILLA", flotilla_binary())
            .stdin(Stdio::null())
            .output()
            .expect("running hack/deploy-render.sh");
        assert!(output.status.success(), "{}", text(&output));
    };
    render();
    let docs = documents(&out);
    let ca = std::fs::read(certs.join("ca.crt")).unwrap();
    let decode = |value: &str| base64::engine::general_purpose::STANDARD.decode(value).expect("valid base64");
    assert_eq!(apiservice_group_versions(&docs), apiservice_group_versions(&documents(&repo().join("deploy"))));
    for api in of_kind(&docs, "APIService") {
        assert_eq!(decode(s(api, &["spec", "caBundle"])), ca, "{} trusts the CA", s(api, &["metadata", "name"]));
    }
    let secret = find(&docs, "Secret", NAMESPACE, RENDERED_SECRET).expect("the rendered serving Secret");
    assert_eq!(decode(s(secret, &["data", "tls.crt"])), std::fs::read(certs.join("apiserver.crt")).unwrap());
    assert_eq!(decode(s(secret, &["data", "tls.key"])), std::fs::read(certs.join("apiserver.key")).unwrap());

    // A second render reuses the certificates, so already-applied APIServices stay valid.
    render();
    assert_eq!(std::fs::read(certs.join("ca.crt")).unwrap(), ca);

    // The aggregator verifies the name <service>.<namespace>.svc against caBundle: so does this handshake.
    let files = flotilla_certs::Files::in_dir(&certs);
    let server = CertServer::start(&files, &["--aggregated"], "info");
    let output = Command::new("/usr/bin/openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", server.port())])
        .args(["-servername", "flotilla-apiserver.flotilla-system.svc"])
        .args(["-verify_hostname", "flotilla-apiserver.flotilla-system.svc", "-verify_return_error"])
        .arg("-CAfile")
        .arg(certs.join("ca.crt"))
        .stdin(Stdio::null())
        .output()
        .expect("running /usr/bin/openssl (./hack/setup.sh installs it)");
    assert!(text(&output).contains("Verify return code: 0 (ok)"), "{}", text(&output));
}

#[test]
fn every_file_the_apiserver_reads_is_mounted_from_a_secret_or_config_map_that_holds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let output = Command::new(repo().join("hack/deploy-render.sh"))
        .arg("--certs")
        .arg(tmp.path().join("certs"))
        .arg("--out")
        .arg(&out)
        .env("FLOTILLA", flotilla_binary())
        .stdin(Stdio::null())
        .output()
        .expect("running hack/deploy-render.sh");
    assert!(output.status.success(), "{}", text(&output));
    let docs = documents(&out);
    let deployment = find(&docs, "Deployment", NAMESPACE, "flotilla-apiserver").unwrap();
    let container = apiserver_container(&docs);
    let volumes = deployment["spec"]["template"]["spec"]["volumes"].as_sequence().unwrap();
    let flags =
        ["--tls-cert-file", "--tls-private-key-file", "--authentication-kubeconfig", "--authorization-kubeconfig"];
    for name in flags {
        let path = flag(container, name).unwrap_or_else(|| panic!("the apiserver sets {name}"));
        let mount = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| path.starts_with(&format!("{}/", s(m, &["mountPath"]))))
            .unwrap_or_else(|| panic!("{name}={path} is not under a volume mount"));
        let key = &path[s(mount, &["mountPath"]).len() + 1..];
        let volume = volumes.iter().find(|v| v["name"] == mount["name"]).expect("the mounted volume");
        let holder = if let Some(secret) = volume["secret"]["secretName"].as_str() {
            find(&docs, "Secret", NAMESPACE, secret).expect("the rendered Secret")
        } else {
            let config_map = s(volume, &["configMap", "name"]);
            find(&docs, "ConfigMap", NAMESPACE, config_map).expect("the ConfigMap")
        };
        assert!(holder["data"].get(key).is_some(), "{name}={path}: {key} is not a key of the mounted volume");
    }

    // The host kubeconfig is one kube-rs reads, with the pod's service-account token and CA.
    let config_map = find(&docs, "ConfigMap", NAMESPACE, "flotilla-host-kubeconfig").unwrap();
    let kubeconfig = kube::config::Kubeconfig::from_yaml(s(config_map, &["data", "kubeconfig"])).expect("parses");
    let user = kubeconfig.auth_infos[0].auth_info.as_ref().expect("a user");
    assert_eq!(user.token_file.as_deref(), Some("/var/run/secrets/kubernetes.io/serviceaccount/token"));
    let cluster = kubeconfig.clusters[0].cluster.as_ref().expect("a cluster");
    assert_eq!(cluster.server.as_deref(), Some("https://kubernetes.default.svc"));
    assert_eq!(cluster.certificate_authority.as_deref(), Some("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"));
}
