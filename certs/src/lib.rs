//! Certificate authority, serving, front-proxy and client certificates for Flotilla; arrives with the security issue.
