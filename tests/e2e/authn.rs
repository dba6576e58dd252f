//! Authentication end to end: client certificates, tokens, front-proxy headers, anonymous, impersonation, whoami.
