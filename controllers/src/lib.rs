//! Propagation and cluster controllers (policy → binding → work → member); arrive with their issues.
