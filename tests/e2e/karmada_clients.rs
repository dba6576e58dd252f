//! Clients of the Karmada kinds: kube-rs typed APIs, both ResourceBinding versions, field selectors, kubectl output.
