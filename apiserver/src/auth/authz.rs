//! Authorization: the `--authorization-mode` chain (RBAC, Webhook, AlwaysAllow), first decisive answer wins.

/// Authorization flags of `flotilla apiserver`.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizationOptions {}
