//! The kubeconfig of the simulated clusters: one context, cluster and user entry per cluster, credentials embedded.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::SimulatedCluster;

/// One cluster as the kubeconfig names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Context, cluster and user name.
    pub name: String,
    /// Server URL.
    pub server: String,
    /// CA certificate (PEM).
    pub ca_pem: String,
    /// Client certificate (PEM).
    pub cert_pem: String,
    /// Client key (PEM).
    pub key_pem: String,
}

impl Entry {
    /// The entry of a running cluster, with its admin credentials.
    pub fn of(cluster: &SimulatedCluster) -> Self {
        Self {
            name: cluster.name().to_string(),
            server: cluster.url().to_string(),
            ca_pem: cluster.ca_pem().to_string(),
            cert_pem: cluster.admin().cert_pem.clone(),
            key_pem: cluster.admin().key_pem.clone(),
        }
    }
}

/// The kubeconfig YAML for `entries`; the current context is the first.
pub fn render(entries: &[Entry]) -> String {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let clusters: Vec<Value> = entries
        .iter()
        .map(|e| json!({"name": e.name, "cluster": {"server": e.server, "certificate-authority-data": b64(&e.ca_pem)}}))
        .collect();
    let users: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({"name": e.name, "user": {
                "client-certificate-data": b64(&e.cert_pem),
                "client-key-data": b64(&e.key_pem),
            }})
        })
        .collect();
    let contexts: Vec<Value> =
        entries.iter().map(|e| json!({"name": e.name, "context": {"cluster": e.name, "user": e.name}})).collect();
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "contexts": contexts,
        "users": users,
        "current-context": entries.first().map(|e| e.name.clone()).unwrap_or_default(),
        "preferences": {},
    });
    serde_yaml::to_string(&config).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cluster_gets_a_context_cluster_and_user_of_its_name() {
        let entry = |n: u32| Entry {
            name: format!("member{n}"),
            server: format!("https://127.0.0.1:{}", 7000 + n),
            ca_pem: "ca".into(),
            cert_pem: "cert".into(),
            key_pem: "key".into(),
        };
        let text = render(&[entry(1), entry(2)]);
        let parsed: Value = serde_yaml::from_str(&text).expect("YAML");
        assert_eq!(parsed["current-context"], "member1");
        assert_eq!(
            parsed["contexts"][1],
            json!({"name": "member2", "context": {"cluster": "member2", "user": "member2"}})
        );
        assert_eq!(parsed["clusters"][1]["cluster"]["server"], "https://127.0.0.1:7002");
        assert_eq!(parsed["users"][0]["user"]["client-key-data"], b64_of("key"));
    }

    fn b64_of(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }
}
