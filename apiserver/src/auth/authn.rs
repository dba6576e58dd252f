//! Authentication: front-proxy request headers, client certificates, bearer tokens, anonymous; then impersonation.

/// Authentication flags of `flotilla apiserver`.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthenticationOptions {}
