//! Karmada's defaulting and validation through the API server: defaults filled in, invalid manifests refused with 422 and field paths.
