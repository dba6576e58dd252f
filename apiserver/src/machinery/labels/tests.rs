//! Tests of label selector parsing, matching, printing and `metav1.LabelSelector` conversion.

use serde_json::json;

use super::*;

fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn parse(text: &str) -> Selector {
    Selector::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {}", e.message))
}

fn error(text: &str) -> String {
    let error = Selector::parse(text).expect_err(text);
    assert_eq!(error.code, 400, "{text:?}");
    assert_eq!(error.reason, crate::machinery::StatusReason::BadRequest);
    error.message
}

#[test]
fn an_empty_selector_selects_everything() {
    let selector = parse("");
    assert!(selector.is_empty());
    assert!(selector.matches(&BTreeMap::new()));
    assert!(parse("   ").is_empty());
    assert_eq!(selector.to_string(), "");
}

#[test]
fn every_operator_of_the_grammar_parses() {
    let selector = parse("a=1,b==2,c!=3,d in (x,y),e notin (z),f,!g,h>5,i<7");
    assert_eq!(
        selector.requirements,
        vec![
            Requirement::Equals("a".into(), "1".into()),
            Requirement::DoubleEquals("b".into(), "2".into()),
            Requirement::NotEquals("c".into(), "3".into()),
            Requirement::In("d".into(), vec!["x".into(), "y".into()]),
            Requirement::NotIn("e".into(), vec!["z".into()]),
            Requirement::Exists("f".into()),
            Requirement::DoesNotExist("g".into()),
            Requirement::GreaterThan("h".into(), 5),
            Requirement::LessThan("i".into(), 7),
        ]
    );
}

#[test]
fn whitespace_around_tokens_is_ignored() {
    assert_eq!(parse(" app = web , tier  in  ( a , b ) ,\t! legacy "), parse("app=web,tier in (a,b),!legacy"));
    assert_eq!(parse("x= ,z= "), parse("x=,z="));
}

#[test]
fn empty_values_are_allowed() {
    assert_eq!(parse("x=").requirements, vec![Requirement::Equals("x".into(), String::new())]);
    assert_eq!(parse("x in ()").requirements, vec![Requirement::In("x".into(), vec![String::new()])]);
    assert_eq!(parse("x in (a,)").requirements, vec![Requirement::In("x".into(), vec![String::new(), "a".into()])]);
    assert_eq!(parse("x in (,a)").requirements, vec![Requirement::In("x".into(), vec![String::new(), "a".into()])]);
    assert_eq!(
        parse("x in (a,,b)").requirements,
        vec![Requirement::In("x".into(), vec!["".into(), "a".into(), "b".into()])]
    );
}

#[test]
fn set_values_are_sorted_and_deduplicated() {
    assert_eq!(
        parse("x in (c,a,b,a)").requirements,
        vec![Requirement::In("x".into(), vec!["a".into(), "b".into(), "c".into()])]
    );
}

#[test]
fn in_and_notin_are_ordinary_values_inside_parentheses() {
    assert_eq!(
        parse("x in (in,notin)").requirements,
        vec![Requirement::In("x".into(), vec!["in".into(), "notin".into()])]
    );
    assert_eq!(parse("x=in").requirements, vec![Requirement::Equals("x".into(), "in".into())]);
}

#[test]
fn prefixed_keys_are_accepted() {
    let selector = parse("app.kubernetes.io/name=web,!example.com/legacy");
    assert!(selector.matches(&set(&[("app.kubernetes.io/name", "web")])));
    assert!(!selector.matches(&set(&[("app.kubernetes.io/name", "web"), ("example.com/legacy", "")])));
}

#[test]
fn requirements_are_sorted_by_key() {
    let selector = parse("z=1,a=2,m");
    let keys: Vec<&str> = selector.requirements.iter().map(Requirement::key).collect();
    assert_eq!(keys, ["a", "m", "z"]);
}

#[test]
fn malformed_selectors_get_apimachinery_messages() {
    assert_eq!(
        error("x=a||y=b"),
        "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    );
    assert_eq!(error("x==a==b"), "found '==', expected: ',' or 'end of string'");
    assert_eq!(error("!x=a"), "found '=', expected: ',' or 'end of string'");
    assert_eq!(
        error("x<a"),
        "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
    );
    assert_eq!(error("x in"), "unable to parse requirement: found '' expected: '('");
    assert_eq!(error("x in (a"), "unable to parse requirement: found '', expected: ',' or ')'");
    assert_eq!(error("x in (a b)"), "unable to parse requirement: found 'b', expected: ',' or ')'");
    assert_eq!(error("x in (="), "unable to parse requirement: found '=', expected: ',', ')' or identifier");
    assert_eq!(error("x (a)"), "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt");
    assert_eq!(error("x y"), "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt");
    assert_eq!(error("x=a,"), "found '', expected: identifier after ','");
    assert_eq!(error(",x"), "found ',', expected: !, identifier, or 'end of string'");
    assert_eq!(error("!"), "unable to parse requirement: found '', expected: identifier");
    assert_eq!(error("x>=1"), "unable to parse requirement: found '=', expected: identifier");
}

#[test]
fn invalid_keys_are_named_as_apimachinery_does() {
    let message = error("-bad=x");
    assert_eq!(
        message,
        "unable to parse requirement: <nil>: Invalid value: \"-bad\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    );
    assert!(error(&"k".repeat(64)).contains("name part must be no more than 63 bytes"));
    assert!(error("a/b/c").contains("a valid label key must consist of"));
    assert!(error("/x").contains("prefix part must be non-empty"));
    assert!(error("Bad_Prefix/x").contains("prefix part a lowercase RFC 1123 subdomain must consist of"));
}

#[test]
fn invalid_values_and_numbers_are_aggregated() {
    let message = error("x>a.");
    assert!(
        message.starts_with("unable to parse requirement: [values[0]: Invalid value: \"a.\": for 'Gt', 'Lt'"),
        "{message}"
    );
    assert!(message.contains(", values[0][x]: Invalid value: \"a.\": a valid label must be"), "{message}");
    assert!(error(&format!("x={}", "v".repeat(64))).contains("must be no more than 63 bytes"));
}

#[test]
fn hostile_input_is_refused_without_panicking() {
    for text in ["\u{0}", "x=\u{0}y", "é=1", "x=é", "((((", "))))", "!!!!", "x in ((a))", "=", "x,,y", "<>", "x!"] {
        let _ = Selector::parse(text);
    }
    let long = "a=b,".repeat(10_000) + "a=b";
    assert_eq!(parse(&long).requirements.len(), 10_001);
}

#[test]
fn a_nul_byte_ends_a_token_like_apimachinery() {
    assert_eq!(parse("x=a\u{0}"), parse("x=a"));
    assert_eq!(parse("x=a,\u{0}y"), parse("x=a,y"));
    assert_eq!(error("x=a, \u{0}y"), "found '', expected: identifier after ','");
}

#[test]
fn matching_follows_each_operator() {
    let labels = set(&[("app", "web"), ("tier", "front"), ("replicas", "3")]);
    for (text, expected) in [
        ("app=web", true),
        ("app==web", true),
        ("app=api", false),
        ("app!=api", true),
        ("app!=web", false),
        ("missing!=x", true),
        ("app in (api,web)", true),
        ("app in (api)", false),
        ("missing in (x)", false),
        ("app notin (api)", true),
        ("app notin (web)", false),
        ("missing notin (x)", true),
        ("app", true),
        ("missing", false),
        ("!missing", true),
        ("!app", false),
        ("replicas>2", true),
        ("replicas>3", false),
        ("replicas<4", true),
        ("replicas<3", false),
        ("app>1", false),
        ("missing<1", false),
        ("app=web,tier=front", true),
        ("app=web,tier=back", false),
    ] {
        assert_eq!(parse(text).matches(&labels), expected, "{text}");
    }
}

#[test]
fn the_canonical_string_reads_like_kubectl_shows_it() {
    assert_eq!(parse("app=nginx").to_string(), "app=nginx");
    assert_eq!(
        parse("tier in (b,a), app==x ,!old,n>1,m<2,z notin (q),e,c!=d").to_string(),
        "app==x,c!=d,e,m<2,n>1,!old,tier in (a,b),z notin (q)"
    );
    let reparsed = parse(&parse("a in (x,y),b").to_string());
    assert_eq!(reparsed, parse("a in (x,y),b"));
}

#[test]
fn a_set_selector_requires_every_label() {
    let selector = Selector::from_set(&set(&[("b", "2"), ("a", "1")]));
    assert_eq!(selector.to_string(), "a=1,b=2");
    assert!(selector.matches(&set(&[("a", "1"), ("b", "2"), ("c", "3")])));
    assert!(!selector.matches(&set(&[("a", "1")])));
}

#[test]
fn a_label_selector_object_converts_like_label_selector_as_selector() {
    let value = json!({
        "matchLabels": {"app": "nginx"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "back"]},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "owner", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist", "values": []},
        ]
    });
    let selector = Selector::from_label_selector(&value, "spec.selector").unwrap().unwrap();
    assert_eq!(selector.to_string(), "app=nginx,env notin (dev),!legacy,owner,tier in (back,front)");
    assert!(selector.matches(&set(&[("app", "nginx"), ("tier", "front"), ("owner", "me")])));
    assert!(!selector.matches(&set(&[("app", "nginx"), ("tier", "front")])));
}

#[test]
fn a_deployment_selector_prints_as_kubectl_wide_shows_it() {
    let selector = Selector::from_label_selector(&json!({"matchLabels": {"app": "nginx"}}), "spec.selector").unwrap();
    assert_eq!(selector.unwrap().to_string(), "app=nginx");
}

#[test]
fn a_null_label_selector_selects_nothing_and_an_empty_one_everything() {
    assert_eq!(Selector::from_label_selector(&Value::Null, "spec.selector").unwrap(), None);
    let everything = Selector::from_label_selector(&json!({}), "spec.selector").unwrap().unwrap();
    assert!(everything.is_empty());
    assert!(everything.matches(&set(&[("any", "thing")])));
}

#[test]
fn invalid_label_selectors_give_field_errors_with_paths() {
    let value = json!({
        "matchLabels": {"bad key!": "ok", "good": "bad value!"},
        "matchExpressions": [
            {"key": "a", "operator": "In", "values": []},
            {"key": "b", "operator": "Exists", "values": ["x"]},
            {"key": "c", "operator": "Near"},
            {"key": "-d", "operator": "In", "values": ["ok", "no way"]},
        ]
    });
    let errors = Selector::from_label_selector(&value, "spec.selector").unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.selector.matchLabels",
            "spec.selector.matchLabels",
            "spec.selector.matchExpressions[0].values",
            "spec.selector.matchExpressions[1].values",
            "spec.selector.matchExpressions[2].operator",
            "spec.selector.matchExpressions[3].key",
            "spec.selector.matchExpressions[3].values[1]",
        ],
        "{shown:#?}"
    );
    assert_eq!(
        shown[2],
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
    );
    assert_eq!(
        shown[3],
        "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
    );
    assert_eq!(
        shown[4],
        "spec.selector.matchExpressions[2].operator: Invalid value: \"Near\": not a valid selector operator"
    );
    assert!(Selector::from_label_selector(&json!("app=x"), "spec.selector").is_err());
    assert!(validate_label_selector(&json!({"matchExpressions": 3}), "s").len() == 1);
}

#[test]
fn the_labels_of_an_object_are_read_from_its_metadata() {
    let object = json!({"metadata": {"labels": {"app": "web", "odd": 5}}});
    assert_eq!(object_labels(&object), set(&[("app", "web")]));
    assert!(object_labels(&json!({"metadata": []})).is_empty());
    assert!(parse("app=web").matches_object(&object));
    assert!(!parse("app=api").matches_object(&object));
    assert!(parse("!odd").matches_object(&object), "a non-string label value counts as absent");
    assert!(parse("").matches_object(&json!(null)));
}

#[test]
fn the_required_value_narrows_lookups() {
    assert_eq!(parse("app=web,x").required_value("app"), Some("web"));
    assert_eq!(parse("app==web").required_value("app"), Some("web"));
    assert_eq!(parse("app in (web)").required_value("app"), Some("web"));
    assert_eq!(parse("app in (web,api)").required_value("app"), None);
    assert_eq!(parse("app!=web").required_value("app"), None);
}
