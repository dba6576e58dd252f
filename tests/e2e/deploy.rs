//! The deploy/ manifests: parsed, required fields present, every APIService pointing at the Service.
