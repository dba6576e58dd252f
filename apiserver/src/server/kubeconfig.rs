//! A kubeconfig for reaching this server: one cluster (server URL and CA), one context, a user without credentials.

use base64::Engine;

/// The name used for the cluster, context and user entries.
pub const CONTEXT: &str = "flotilla";

/// A kubeconfig (YAML) whose current context `flotilla` talks to `server` and trusts `ca_pem`.
///
/// The user has no credentials: until authentication exists every request is allowed. It carries a bare username
/// only because kubectl prompts for a username and password when a user entry identifies nobody.
pub fn kubeconfig(server: &str, ca_pem: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {server}
    certificate-authority-data: {ca}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}
current-context: {CONTEXT}
users:
- name: {CONTEXT}
  # No authentication yet: the username only keeps kubectl from prompting for credentials.
  user:
    username: {CONTEXT}
preferences: {{}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_names_the_server_and_carries_the_ca() {
        let config: serde_yaml::Value =
            serde_yaml::from_str(&kubeconfig("https://127.0.0.1:6443", "-----BEGIN CERTIFICATE-----\n")).unwrap();
        assert_eq!(config["current-context"], "flotilla");
        assert_eq!(config["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443");
        let ca = config["clusters"][0]["cluster"]["certificate-authority-data"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(ca).unwrap();
        assert_eq!(decoded, b"-----BEGIN CERTIFICATE-----\n");
        assert_eq!(config["contexts"][0]["context"]["user"], "flotilla");
        assert_eq!(config["users"][0]["user"]["username"], "flotilla", "kubectl must not prompt");
    }
}
