//! Authorization end to end: RBAC with kubectl auth can-i, 403s, bindings taking effect without restart, review APIs.
