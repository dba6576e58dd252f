//! A kubeconfig for reaching this server: one cluster (server URL and CA), one context, a user without credentials.

/// The name used for the cluster and context entries (and the user entry of [`kubeconfig`]).
pub const CONTEXT: &str = flotilla_certs::CONTEXT;

/// A kubeconfig (YAML) whose current context `flotilla` talks to `server` and trusts `ca_pem`.
///
/// The user carries no credentials, so the server sees anonymous requests; a bare username only keeps kubectl from
/// prompting for one. Use [`flotilla_certs::kubeconfig`] for a kubeconfig with a client certificate or a token.
pub fn kubeconfig(server: &str, ca_pem: &str) -> String {
    flotilla_certs::kubeconfig(server, ca_pem, CONTEXT, None, None)
}

#[cfg(test)]
mod tests {
    use base64::Engine;

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
