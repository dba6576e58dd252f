//! Test helpers shared by the API groups' round-trip tests.

/// Parses YAML into `T`, writes it back, and checks the JSON is unchanged; returns the typed object.
pub(crate) fn round_trip_yaml<T>(yaml: &str) -> T
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let input: serde_json::Value = serde_yaml::from_str(yaml).expect("valid YAML");
    let typed: T = serde_json::from_value(input.clone()).expect("deserializes");
    let output = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(input, output, "round trip changed the object");
    typed
}
