//! flotilla certs init and TLS: generated certificates verified by kubectl, old TLS and plain HTTP refused, no secrets in logs.
