//! Tests of field selector parsing, escaping and matching.

use std::collections::BTreeMap;

use super::*;

fn parse(text: &str) -> Selector {
    Selector::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {}", e.message))
}

fn error(text: &str) -> String {
    let error = Selector::parse(text).expect_err(text);
    assert_eq!(error.code, 400);
    error.message
}

#[test]
fn a_name_selector_requires_that_name() {
    let selector = parse("metadata.name=web");
    assert_eq!(selector.required_value("metadata.name"), Some("web"));
    assert_eq!(selector.required_value("metadata.namespace"), None);
}

#[test]
fn all_three_operators_parse() {
    assert_eq!(
        parse("a=1,b==2,c!=3").requirements,
        vec![
            Requirement::Equals("a".into(), "1".into()),
            Requirement::Equals("b".into(), "2".into()),
            Requirement::NotEquals("c".into(), "3".into()),
        ]
    );
}

#[test]
fn empty_selectors_and_empty_terms_select_everything() {
    assert!(parse("").is_empty());
    assert!(parse(",,").is_empty());
    assert!(parse("=").is_empty());
    assert_eq!(parse(",a=1,").requirements.len(), 1);
}

#[test]
fn values_may_be_empty() {
    assert_eq!(parse("spec.nodeName=").requirements, vec![Requirement::Equals("spec.nodeName".into(), String::new())]);
    assert_eq!(
        parse("spec.nodeName!=").requirements,
        vec![Requirement::NotEquals("spec.nodeName".into(), String::new())]
    );
}

#[test]
fn backslash_escapes_commas_equals_and_backslashes_in_values() {
    assert_eq!(parse(r"a=x\,y\=z\\w").requirements, vec![Requirement::Equals("a".into(), r"x,y=z\w".into())]);
    assert_eq!(parse(r"a=1\,b\=2").requirements, vec![Requirement::Equals("a".into(), "1,b=2".into())]);
    assert!(Selector::parse(r"a=1\,b=2").is_err(), "an escaped comma does not split terms");
}

#[test]
fn bad_escapes_and_unescaped_characters_are_refused() {
    assert_eq!(error(r"a=x\y"), r"invalid field selector: invalid escape sequence: \y");
    assert_eq!(error(r"a=x\"), r"invalid field selector: invalid escape sequence: \");
    assert_eq!(error("a=x=y"), "invalid field selector: unescaped character in value: 61");
}

#[test]
fn a_term_without_an_operator_is_refused() {
    assert_eq!(error("metadata.name"), "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
    assert_eq!(error("a=1,b"), "invalid selector: 'a=1,b'; can't understand 'b'");
}

#[test]
fn terms_are_kept_in_sorted_order() {
    let selector = parse("z=1,a=2");
    let fields: Vec<&str> = selector.fields().collect();
    assert_eq!(fields, ["a", "z"]);
}

#[test]
fn the_first_operator_decides_the_split() {
    assert_eq!(parse("a!=b").requirements, vec![Requirement::NotEquals("a".into(), "b".into())]);
    assert_eq!(parse("a==b").requirements, vec![Requirement::Equals("a".into(), "b".into())]);
    assert_eq!(error("a!==b"), "invalid field selector: unescaped character in value: 61");
}

#[test]
fn matching_treats_missing_fields_as_empty() {
    let fields: BTreeMap<&str, &str> = [("metadata.name", "web"), ("spec.nodeName", "n1")].into();
    let value_of = |field: &str| fields.get(field).map(|v| v.to_string());
    assert!(parse("metadata.name=web").matches(value_of));
    assert!(!parse("metadata.name=api").matches(value_of));
    assert!(parse("metadata.name!=api").matches(value_of));
    assert!(parse("status.phase=").matches(value_of));
    assert!(!parse("status.phase!=").matches(value_of));
    assert!(parse("metadata.name=web,spec.nodeName=n1").matches(value_of));
    assert!(!parse("metadata.name=web,spec.nodeName!=n1").matches(value_of));
}

#[test]
fn the_string_form_escapes_values() {
    assert_eq!(parse(r"b!=x\,y,a=1").to_string(), r"a=1,b!=x\,y");
    assert_eq!(parse(&parse(r"a=\\\=").to_string()), parse(r"a=\\\="));
    assert_eq!(escape_value(r"a,b=c\d"), r"a\,b\=c\\d");
}

#[test]
fn unknown_fields_are_refused_with_kubes_message() {
    let selector = parse("metadata.name=x,spec.foo=y");
    let error = selector.check_fields(|f| f.starts_with("metadata.")).unwrap_err();
    assert_eq!(error.code, 400);
    assert_eq!(
        error.message,
        r#""spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace""#
    );
    assert!(parse("metadata.name=x").check_fields(|f| f == "metadata.name").is_ok());
}

#[test]
fn hostile_input_does_not_panic() {
    for text in ["é=ü", "\\", "=\\", "a=é\\", "\u{0}", ",=,", "!", "!=", "a=\u{10FFFF}"] {
        let _ = Selector::parse(text);
    }
    assert_eq!(parse(&"a=b,".repeat(10_000)).requirements.len(), 10_000);
}
