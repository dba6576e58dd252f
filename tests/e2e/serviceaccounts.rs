//! ServiceAccounts end to end: token Secrets, the ServiceAccount authenticator, TokenRequest, default accounts.

mod support;

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use base64::Engine as _;
use flotilla_testkit::identity::kubectl_with;
use serde_json::Value;
use support::{BackendKind, Flotilla};

on_both_backends!(
    a_token_secret_is_filled_and_its_token_is_the_service_account_under_rbac_until_the_secret_is_deleted,
    kubectl_create_token_issues_a_token_that_authenticates_and_token_review_accepts,
    every_new_namespace_has_a_default_service_account,
);

/// How long the controllers may take.
const WITHIN: Duration = Duration::from_secs(5);

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_string()
}

/// A kubeconfig carrying only the bearer `token`.
fn token_kubeconfig(flotilla: &Flotilla, token: &str) -> PathBuf {
    flotilla.server.kubeconfig_with("token-user", None, Some(token))
}

/// `kubectl auth whoami -o json`'s user info with `kubeconfig`.
fn whoami(kubeconfig: &Path) -> Value {
    let output = kubectl_with(kubeconfig, &["auth", "whoami", "-o", "json"]);
    assert!(output.status.success(), "kubectl auth whoami failed: {}", stderr(&output));
    let review: Value = serde_json::from_str(&stdout(&output)).expect("whoami prints JSON");
    review["status"]["userInfo"].clone()
}

fn service_account(flotilla: &Flotilla, namespace: &str, name: &str) {
    flotilla.ok(&["create", "serviceaccount", name, "-n", namespace]);
}

async fn a_token_secret_is_filled_and_its_token_is_the_service_account_under_rbac_until_the_secret_is_deleted(
    kind: BackendKind,
) {
    let flotilla = Flotilla::start(kind).await;
    let namespace = flotilla.namespace("robots");
    service_account(&flotilla, &namespace, "robot");
    let manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: robot-token\n  annotations:\n    \
                    kubernetes.io/service-account.name: robot\ntype: kubernetes.io/service-account-token\n";
    flotilla.ok_with_stdin(&["create", "-n", &namespace, "-f", "-"], manifest);
    let mut secret = Value::Null;
    flotilla.eventually(WITHIN, "the token Secret to get token, ca.crt and namespace", || {
        secret = flotilla.json(&["get", "secret", "robot-token", "-n", &namespace]);
        ["token", "ca.crt", "namespace"].iter().all(|key| secret["data"][key].is_string())
    });
    let decode = |key: &str| {
        let data = secret["data"][key].as_str().unwrap_or_default();
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).unwrap()).unwrap()
    };
    assert_eq!(decode("namespace"), "robots");
    assert_eq!(decode("ca.crt"), flotilla.server.ca_pem(), "ca.crt is the CA the server's clients trust");
    let account = flotilla.json(&["get", "serviceaccount", "robot", "-n", &namespace]);
    assert_eq!(
        secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"], account["metadata"]["uid"],
        "the Secret records its ServiceAccount's uid"
    );

    let robot = token_kubeconfig(&flotilla, &decode("token"));
    let user = whoami(&robot);
    assert_eq!(user["username"], "system:serviceaccount:robots:robot");
    assert_eq!(user["uid"], account["metadata"]["uid"]);
    assert_eq!(
        user["groups"],
        serde_json::json!(["system:serviceaccounts", "system:serviceaccounts:robots", "system:authenticated"])
    );

    let denied = kubectl_with(&robot, &["get", "pods", "-n", "robots"]);
    assert_eq!(
        stderr(&denied),
        r#"Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:robots:robot" cannot list resource "pods" in API group "" in the namespace "robots""#
    );
    flotilla.ok(&[
        "create",
        "rolebinding",
        "robot-view",
        "--clusterrole=view",
        "--serviceaccount=robots:robot",
        "-n",
        "robots",
    ]);
    flotilla.eventually(WITHIN, "the binding to take effect", || {
        kubectl_with(&robot, &["get", "pods", "-n", "robots"]).status.success()
    });
    let elsewhere = kubectl_with(&robot, &["get", "pods", "-n", "default"]);
    assert!(stderr(&elsewhere).contains("Forbidden"), "{}", stderr(&elsewhere));
    let secrets = kubectl_with(&robot, &["get", "secrets", "-n", "robots"]);
    assert!(stderr(&secrets).contains("Forbidden"), "view does not reach secrets: {}", stderr(&secrets));

    flotilla.ok(&["delete", "secret", "robot-token", "-n", "robots"]);
    let revoked = kubectl_with(&robot, &["get", "pods", "-n", "robots"]);
    assert!(!revoked.status.success());
    assert!(stderr(&revoked).contains("Unauthorized"), "the token is revoked at once: {}", stderr(&revoked));
}

async fn kubectl_create_token_issues_a_token_that_authenticates_and_token_review_accepts(kind: BackendKind) {
    let flotilla = Flotilla::start(kind).await;
    let namespace = flotilla.namespace("bots");
    service_account(&flotilla, &namespace, "builder");
    let token = flotilla.ok(&["create", "token", "builder", "-n", &namespace]).trim().to_string();
    let user = whoami(&token_kubeconfig(&flotilla, &token));
    assert_eq!(user["username"], "system:serviceaccount:bots:builder");
    assert!(user["groups"].as_array().is_some_and(|g| g.iter().any(|g| g == "system:serviceaccounts:bots")));
    let credential = &user["extra"]["authentication.kubernetes.io/credential-id"][0];
    assert!(credential.as_str().is_some_and(|c| c.starts_with("JTI=")), "{user}");

    let review = format!("apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec:\n  token: {token}\n");
    let answer = flotilla.ok_with_stdin(&["create", "-o", "json", "-f", "-"], &review);
    let answer: Value = serde_json::from_str(&answer).expect("a TokenReview answer");
    assert_eq!(answer["status"]["authenticated"], true, "{answer}");
    assert_eq!(answer["status"]["user"]["username"], "system:serviceaccount:bots:builder");

    let short = flotilla.fails(&["create", "token", "builder", "-n", &namespace, "--duration=5m"]);
    assert!(short.contains("may not specify a duration less than 10 minutes"), "{short}");
    let missing = flotilla.fails(&["create", "token", "nobody", "-n", &namespace]);
    assert!(missing.contains("NotFound") || missing.contains("not found"), "{missing}");
    let resources = flotilla.ok(&["get", "--raw", "/api/v1"]);
    assert!(resources.contains("\"serviceaccounts/token\""), "discovery lists serviceaccounts/token");

    flotilla.ok(&["delete", "serviceaccount", "builder", "-n", &namespace]);
    let revoked = kubectl_with(&token_kubeconfig(&flotilla, &token), &["auth", "whoami"]);
    assert!(stderr(&revoked).contains("Unauthorized"), "deleting the ServiceAccount revokes: {}", stderr(&revoked));
}

async fn every_new_namespace_has_a_default_service_account(kind: BackendKind) {
    let flotilla = Flotilla::start(kind).await;
    let namespace = flotilla.namespace("fresh");
    for namespace in [namespace.as_str(), "default", "kube-system"] {
        flotilla.eventually(WITHIN, "a default ServiceAccount", || {
            flotilla.kubectl(&["get", "serviceaccount", "default", "-n", namespace]).status.success()
        });
    }
}
