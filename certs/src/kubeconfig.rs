//! Kubeconfig text with one cluster, one context and one user, all data embedded (no file references).

use base64::Engine;

use crate::IssuedCert;

/// The name of the cluster and context entries.
pub const CONTEXT: &str = "flotilla";

/// A kubeconfig (YAML) whose current context `flotilla` reaches `server_url`, trusts `ca_pem`, and acts as the user
/// entry `user` with `client`'s certificate and key and/or the bearer `token`.
///
/// With neither credential the user entry carries a bare `username`, which only keeps kubectl from prompting for a
/// user name and password; the server then sees an anonymous request.
pub fn kubeconfig(
    server_url: &str,
    ca_pem: &str,
    user: &str,
    client: Option<&IssuedCert>,
    token: Option<&str>,
) -> String {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    // JSON strings are valid YAML double-quoted scalars, which keeps any URL or name intact.
    let quote = |text: &str| serde_json::Value::from(text).to_string();
    let mut credentials = String::new();
    if let Some(client) = client {
        credentials.push_str(&format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&client.cert_pem),
            b64(&client.key_pem)
        ));
    }
    if let Some(token) = token {
        credentials.push_str(&format!("    token: {}\n", quote(token)));
    }
    if credentials.is_empty() {
        credentials.push_str(&format!("    username: {}\n", quote(user)));
    }
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
    user: {user}
current-context: {CONTEXT}
users:
- name: {user}
  user:
{credentials}preferences: {{}}
",
        server = quote(server_url),
        ca = b64(ca_pem),
        user = quote(user),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(value: &serde_yaml::Value) -> String {
        let bytes = base64::engine::general_purpose::STANDARD.decode(value.as_str().unwrap()).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_client_certificate_kubeconfig_embeds_the_ca_cert_and_key() {
        let client = IssuedCert { cert_pem: "CERT\n".into(), key_pem: "KEY\n".into() };
        let text = kubeconfig("https://10.0.0.1:6443", "CA\n", "admin", Some(&client), None);
        let config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(config["current-context"], "flotilla");
        assert_eq!(config["clusters"][0]["cluster"]["server"], "https://10.0.0.1:6443");
        assert_eq!(decode(&config["clusters"][0]["cluster"]["certificate-authority-data"]), "CA\n");
        assert_eq!(config["contexts"][0]["context"]["user"], "admin");
        assert_eq!(config["users"][0]["name"], "admin");
        assert_eq!(decode(&config["users"][0]["user"]["client-certificate-data"]), "CERT\n");
        assert_eq!(decode(&config["users"][0]["user"]["client-key-data"]), "KEY\n");
        assert!(config["users"][0]["user"].get("token").is_none());
    }

    #[test]
    fn a_token_kubeconfig_carries_the_token_verbatim() {
        let text = kubeconfig("https://[::1]:6443", "CA\n", "alice: x", None, Some("abc:def#1"));
        let config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(config["users"][0]["user"]["token"], "abc:def#1");
        assert_eq!(config["users"][0]["name"], "alice: x");
        assert_eq!(config["clusters"][0]["cluster"]["server"], "https://[::1]:6443");
    }

    #[test]
    fn a_kubeconfig_without_credentials_names_a_user_so_kubectl_does_not_prompt() {
        let config: serde_yaml::Value =
            serde_yaml::from_str(&kubeconfig("https://127.0.0.1:6443", "CA\n", "flotilla", None, None)).unwrap();
        assert_eq!(config["users"][0]["user"]["username"], "flotilla");
    }
}
