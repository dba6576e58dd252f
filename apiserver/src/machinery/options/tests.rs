//! Tests of request option parsing and validation.

use super::*;
use crate::machinery::StatusReason;

fn invalid(error: ApiError) -> (u16, String, Vec<String>) {
    let causes = error
        .details
        .as_ref()
        .and_then(|d| d["causes"].as_array())
        .map(|c| {
            c.iter()
                .map(|c| format!("{}: {}", c["field"].as_str().unwrap_or(""), c["message"].as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    (error.code, error.message, causes)
}

#[test]
fn an_empty_query_lists_everything_at_the_latest_state() {
    assert_eq!(list_options("").unwrap(), ListOptions::default());
    assert_eq!(list_options("?").unwrap(), ListOptions::default());
}

#[test]
fn a_kubectl_list_query_parses_fully() {
    let options = list_options(
        "labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&fieldSelector=metadata.name%3Dx&limit=500&resourceVersion=0",
    )
    .unwrap();
    assert_eq!(options.label_selector.to_string(), "app=web,tier in (a,b)");
    assert_eq!(options.field_selector.required_value("metadata.name"), Some("x"));
    assert_eq!(options.limit, 500);
    assert_eq!(options.resource_version, "0");
    assert!(!options.watch);
}

#[test]
fn a_client_go_watch_query_parses_fully() {
    let options = list_options(
        "allowWatchBookmarks=true&resourceVersion=42&timeoutSeconds=431&watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
    )
    .unwrap();
    assert!(options.watch && options.allow_watch_bookmarks);
    assert_eq!(options.timeout_seconds, Some(431));
    assert_eq!(options.send_initial_events, Some(true));
    assert_eq!(options.resource_version_match, Some(ResourceVersionMatch::NotOlderThan));
}

#[test]
fn booleans_are_false_only_for_zero_and_false() {
    assert!(list_options("watch").unwrap().watch);
    assert!(list_options("watch=").unwrap().watch);
    assert!(list_options("watch=yes").unwrap().watch);
    assert!(list_options("watch=1").unwrap().watch);
    assert!(!list_options("watch=0").unwrap().watch);
    assert!(!list_options("watch=FALSE").unwrap().watch);
    assert!(watch_options("watch=false").unwrap().watch, "the legacy /watch/ path always watches");
}

#[test]
fn the_first_of_repeated_parameters_wins_and_unknown_ones_are_ignored() {
    let options = list_options("limit=5&limit=7&labelSelector=a&labelSelector=b&pretty=true&whatever=1").unwrap();
    assert_eq!(options.limit, 5);
    assert_eq!(options.label_selector.to_string(), "a");
}

#[test]
fn malformed_numbers_are_bad_requests_in_gos_words() {
    let error = list_options("limit=ten").unwrap_err();
    assert_eq!((error.code, error.reason), (400, StatusReason::BadRequest));
    assert_eq!(error.message, "strconv.ParseInt: parsing \"ten\": invalid syntax");
    assert_eq!(
        list_options("timeoutSeconds=99999999999999999999").unwrap_err().message,
        "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
    );
    assert_eq!(list_options("limit=").unwrap_err().code, 400);
    assert_eq!(list_options("timeoutSeconds=-5").unwrap().timeout_seconds, None);
}

#[test]
fn malformed_selectors_are_bad_requests() {
    assert_eq!(
        list_options("labelSelector=a%20in").unwrap_err().message,
        "unable to parse requirement: found '' expected: '('"
    );
    assert_eq!(list_options("fieldSelector=bogus").unwrap_err().code, 400);
}

#[test]
fn resource_version_match_needs_a_resource_version() {
    let (code, message, causes) = invalid(list_options("resourceVersionMatch=NotOlderThan").unwrap_err());
    assert_eq!(code, 422);
    assert_eq!(
        message,
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    );
    assert_eq!(
        causes,
        ["resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"]
    );
}

#[test]
fn resource_version_match_is_forbidden_with_continue() {
    let (code, _, causes) =
        invalid(list_options("resourceVersion=5&resourceVersionMatch=Exact&continue=abc").unwrap_err());
    assert_eq!(code, 422);
    assert_eq!(
        causes,
        ["resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided"]
    );
}

#[test]
fn exact_match_of_resource_version_zero_is_forbidden() {
    let (_, _, causes) = invalid(list_options("resourceVersion=0&resourceVersionMatch=Exact").unwrap_err());
    assert_eq!(
        causes,
        ["resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""]
    );
    let exact = list_options("resourceVersion=7&resourceVersionMatch=Exact").unwrap();
    assert_eq!(exact.resource_version_match, Some(ResourceVersionMatch::Exact));
}

#[test]
fn unknown_resource_version_matches_are_unsupported() {
    let (_, _, causes) = invalid(list_options("resourceVersion=1&resourceVersionMatch=Newest").unwrap_err());
    assert_eq!(
        causes,
        ["resourceVersionMatch: Unsupported value: \"Newest\": supported values: \"Exact\", \"NotOlderThan\", \"\""]
    );
}

#[test]
fn send_initial_events_is_for_watches_only() {
    let (code, _, causes) = invalid(list_options("sendInitialEvents=true").unwrap_err());
    assert_eq!(code, 422);
    assert_eq!(causes, ["sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"]);
}

#[test]
fn watch_rules_for_send_initial_events_and_resource_version_match() {
    let (_, _, causes) = invalid(list_options("watch=1&sendInitialEvents=true").unwrap_err());
    assert_eq!(
        causes,
        ["resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"]
    );
    let (_, _, causes) =
        invalid(list_options("watch=1&resourceVersion=5&resourceVersionMatch=NotOlderThan").unwrap_err());
    assert_eq!(
        causes,
        [
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
        ]
    );
    let (_, _, causes) =
        invalid(list_options("watch=1&sendInitialEvents=false&resourceVersionMatch=Exact").unwrap_err());
    assert_eq!(
        causes,
        [
            "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            "resourceVersionMatch: Unsupported value: \"Exact\": supported values: \"NotOlderThan\"",
        ]
    );
    let kube_rs =
        list_options("watch=true&resourceVersion=0&sendInitialEvents=true&resourceVersionMatch=NotOlderThan").unwrap();
    assert_eq!(kube_rs.send_initial_events, Some(true));
    assert!(list_options("watch=true&resourceVersion=10&allowWatchBookmarks=true").is_ok());
}

#[test]
fn get_options_carry_the_resource_version() {
    assert_eq!(get_options("resourceVersion=0").unwrap().resource_version, "0");
    assert_eq!(get_options("").unwrap(), GetOptions::default());
}

#[test]
fn write_options_accept_dry_run_all_and_known_field_validations() {
    let options = create_options("dryRun=All&fieldManager=kubectl-create&fieldValidation=Strict").unwrap();
    assert!(options.dry_run);
    assert_eq!(options.field_manager.as_deref(), Some("kubectl-create"));
    assert_eq!(options.field_validation, FieldValidation::Strict);
    assert_eq!(update_options("fieldValidation=Ignore").unwrap().field_validation, FieldValidation::Ignore);
    assert_eq!(update_options("").unwrap(), WriteOptions::default());
    assert!(create_options("dryRun=All&dryRun=All").unwrap().dry_run);
}

#[test]
fn dry_run_other_than_all_is_invalid() {
    let (code, message, _) = invalid(create_options("dryRun=Some").unwrap_err());
    assert_eq!(code, 422);
    assert_eq!(
        message,
        "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: [\"Some\"]: supported values: \"All\""
    );
    assert_eq!(
        invalid(update_options("dryRun=All&dryRun=").unwrap_err()).2,
        ["dryRun: Unsupported value: [\"All\",\"\"]: supported values: \"All\""]
    );
}

#[test]
fn unknown_field_validation_is_invalid() {
    let (code, message, _) = invalid(update_options("fieldValidation=Loud").unwrap_err());
    assert_eq!(code, 422);
    assert_eq!(
        message,
        "UpdateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Loud\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
    );
}

#[test]
fn field_managers_must_be_short_and_printable() {
    let long = "m".repeat(129);
    assert_eq!(
        invalid(create_options(&format!("fieldManager={long}")).unwrap_err()).2,
        ["fieldManager: Too long: may not be more than 128 bytes"]
    );
    assert_eq!(invalid(create_options("fieldManager=a%07").unwrap_err()).0, 422);
}

#[test]
fn apply_patches_need_a_field_manager() {
    let (code, message, _) = invalid(patch_options("", true).unwrap_err());
    assert_eq!(code, 422);
    assert_eq!(
        message,
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    let options = patch_options("fieldManager=kubectl&force=true", true).unwrap();
    assert_eq!((options.field_manager.as_deref(), options.force), (Some("kubectl"), Some(true)));
    assert_eq!(patch_options("fieldManager=kubectl", true).unwrap().force, None);
}

#[test]
fn force_is_only_for_apply_patches() {
    let (_, _, causes) = invalid(patch_options("force=false", false).unwrap_err());
    assert_eq!(causes, ["force: Forbidden: may not be specified for non-apply patch"]);
    let merge = patch_options("dryRun=All&fieldValidation=Warn", false).unwrap();
    assert!(merge.dry_run && merge.field_manager.is_none());
}

#[test]
fn delete_options_come_from_a_json_body() {
    let body = br#"{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1","gracePeriodSeconds":0,
        "preconditions":{"uid":"u1","resourceVersion":"7"},"propagationPolicy":"Foreground","dryRun":["All"],"extra":1}"#;
    let options = delete_options("propagationPolicy=Orphan", Some(body)).unwrap();
    assert_eq!(
        options,
        DeleteOptions {
            grace_period_seconds: Some(0),
            precondition_uid: Some("u1".into()),
            precondition_resource_version: Some("7".into()),
            propagation_policy: Some(PropagationPolicy::Foreground),
            orphan_dependents: None,
            dry_run: true,
        }
    );
    let legacy =
        delete_options("", Some(br#"{"kind":"DeleteOptions","apiVersion":"v1","orphanDependents":true}"#)).unwrap();
    assert_eq!(legacy.orphan_dependents, Some(true));
    assert_eq!(delete_options("", Some(b"{}")).unwrap(), DeleteOptions::default());
}

#[test]
fn delete_options_come_from_a_yaml_body_too() {
    let options = delete_options("", Some(b"propagationPolicy: Background\ngracePeriodSeconds: 5\n")).unwrap();
    assert_eq!(options.propagation_policy, Some(PropagationPolicy::Background));
    assert_eq!(options.grace_period_seconds, Some(5));
}

#[test]
fn delete_options_come_from_the_query_without_a_body() {
    let options =
        delete_options("gracePeriodSeconds=30&propagationPolicy=Orphan&dryRun=All&uid=u&resourceVersion=9", None)
            .unwrap();
    assert_eq!(options.grace_period_seconds, Some(30));
    assert_eq!(options.propagation_policy, Some(PropagationPolicy::Orphan));
    assert!(options.dry_run);
    assert_eq!(
        (options.precondition_uid.as_deref(), options.precondition_resource_version.as_deref()),
        (Some("u"), Some("9"))
    );
    assert_eq!(delete_options("orphanDependents=false", Some(b"  \n")).unwrap().orphan_dependents, Some(false));
    assert_eq!(delete_options("", Some(b"")).unwrap(), DeleteOptions::default());
}

#[test]
fn malformed_delete_bodies_are_bad_requests() {
    for body in [&b"{"[..], b"[1]", br#"{"gracePeriodSeconds":"soon"}"#, b"\xff\xfe", br#"{"kind":"Pod"}"#] {
        let error = delete_options("", Some(body)).unwrap_err();
        assert_eq!(error.code, 400, "{}", String::from_utf8_lossy(body));
    }
    assert_eq!(
        delete_options("gracePeriodSeconds=x", None).unwrap_err().message,
        "strconv.ParseInt: parsing \"x\": invalid syntax"
    );
}

#[test]
fn invalid_delete_options_are_refused_as_kube_does() {
    let (code, message, _) = invalid(delete_options("propagationPolicy=Sideways", None).unwrap_err());
    assert_eq!(code, 422);
    assert_eq!(
        message,
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sideways\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
    );
    let (_, _, causes) =
        invalid(delete_options("", Some(br#"{"orphanDependents":true,"propagationPolicy":"Orphan"}"#)).unwrap_err());
    assert_eq!(
        causes,
        ["propagationPolicy: Invalid value: \"Orphan\": orphanDependents and deletionPropagation cannot be both set"]
    );
    let (_, _, causes) = invalid(delete_options("", Some(br#"{"dryRun":["Everything"]}"#)).unwrap_err());
    assert_eq!(causes, ["dryRun: Unsupported value: [\"Everything\"]: supported values: \"All\""]);
}

#[test]
fn deeply_nested_delete_bodies_do_not_crash() {
    let deep = "[".repeat(100_000);
    assert_eq!(delete_options("", Some(deep.as_bytes())).unwrap_err().code, 400);
    let deep_object = format!("{{\"x\":{}", "{\"x\":".repeat(50_000));
    assert_eq!(delete_options("", Some(deep_object.as_bytes())).unwrap_err().code, 400);
}

#[test]
fn the_field_manager_defaults_to_the_user_agent_product() {
    assert_eq!(field_manager_or_user_agent(None, "kubectl/v1.32.4 (linux/amd64) kubernetes/abc"), "kubectl");
    assert_eq!(field_manager_or_user_agent(Some("mine"), "kubectl/v1"), "mine");
    assert_eq!(field_manager_or_user_agent(Some(""), "kube-rs"), "kube-rs");
    assert_eq!(field_manager_or_user_agent(None, &format!("{}/1", "x".repeat(300))).len(), 128);
    assert_eq!(field_manager_or_user_agent(None, "a\u{7}b/1"), "ab");
}

#[test]
fn resource_versions_parse_as_kube_storage_does() {
    assert_eq!(parse_resource_version("").unwrap(), 0);
    assert_eq!(parse_resource_version("0").unwrap(), 0);
    assert_eq!(parse_resource_version("123").unwrap(), 123);
    let error = parse_resource_version("abc").unwrap_err();
    assert_eq!(error.code, 400);
    assert_eq!(
        error.message,
        "invalid resource version: resourceVersion: Invalid value: \"abc\": strconv.ParseUint: parsing \"abc\": invalid syntax"
    );
    assert!(parse_resource_version("+1").is_err());
    assert!(parse_resource_version("-1").is_err());
    assert!(parse_resource_version("99999999999999999999").unwrap_err().message.ends_with("value out of range"));
}
