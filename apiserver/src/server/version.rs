//! `/version`: a `version.Info` that names the Kubernetes API level served and Flotilla's own version.

use serde_json::{Value, json};

/// The Kubernetes minor version whose API Flotilla serves (kubectl warns beyond ±1 minor of skew).
pub const KUBERNETES_MINOR: u32 = 33;

/// `gitVersion`: `v1.<minor>.0+flotilla.<crate version>`. Build metadata (after `+`) keeps it a release version for
/// semver comparisons (as `v1.30.2+k3s1` is), so tools that check `>= 1.x` constraints accept it.
pub fn git_version() -> String {
    format!("v1.{KUBERNETES_MINOR}.0+flotilla.{}", env!("CARGO_PKG_VERSION"))
}

/// The `version.Info` object.
pub fn info() -> Value {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    json!({
        "major": "1",
        "minor": KUBERNETES_MINOR.to_string(),
        "gitVersion": git_version(),
        "gitCommit": option_env!("FLOTILLA_GIT_COMMIT").unwrap_or(""),
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{arch}", std::env::consts::OS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_a_kubernetes_release_with_flotilla_build_metadata() {
        let info = info();
        assert_eq!(info["major"], "1");
        assert_eq!(info["minor"], KUBERNETES_MINOR.to_string());
        let git = info["gitVersion"].as_str().unwrap();
        assert!(git.starts_with(&format!("v1.{KUBERNETES_MINOR}.0+flotilla.")), "{git}");
        for field in ["gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"] {
            assert!(info[field].is_string(), "{field} is present for clients that require it");
        }
    }
}
