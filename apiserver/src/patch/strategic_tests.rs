//! Strategic merge patch behaviour, case by case, as kube-apiserver applies it.

use serde_json::{Value, json};

use super::*;
use crate::patch::MergeSchema;

/// A schema with a merging list of objects keyed by `name`, a merging list of scalars, and a replaced list.
fn test_schema() -> MergeSchema {
    MergeSchema::from_openapi(&json!({
        "type": "object",
        "properties": {
            "mergingList": {"type": "array", "x-kubernetes-patch-strategy": "merge",
                            "x-kubernetes-patch-merge-key": "name", "items": {"type": "object", "properties": {
                                "nested": {"type": "array", "x-kubernetes-patch-strategy": "merge",
                                           "x-kubernetes-patch-merge-key": "name", "items": {"type": "object"}},
                                "plain": {"type": "array", "items": {"type": "string"}}}}},
            "mergingIntList": {"type": "array", "x-kubernetes-patch-strategy": "merge", "items": {"type": "integer"}},
            "nonMergingList": {"type": "array", "items": {"type": "object"}},
            "replaced": {"type": "object", "x-kubernetes-patch-strategy": "replace"},
            "strategy": {"type": "object", "x-kubernetes-patch-strategy": "retainKeys"}
        }
    }))
}

fn run(original: Value, patch: Value) -> Result<Value, SmpError> {
    let (Value::Object(o), Value::Object(p)) = (original, patch) else { panic!("objects expected") };
    super::apply(o, p, &test_schema()).map(Value::Object)
}

fn ok(original: Value, patch: Value) -> Value {
    run(original, patch).unwrap()
}

#[test]
fn maps_merge_and_null_deletes_a_field() {
    assert_eq!(
        ok(json!({"a": 1, "b": {"c": 2, "d": 3}}), json!({"a": null, "b": {"c": null, "e": 4}, "f": 5})),
        json!({"b": {"d": 3, "e": 4}, "f": 5})
    );
}

#[test]
fn nulls_for_missing_fields_are_dropped_not_stored() {
    assert_eq!(ok(json!({}), json!({"x": null, "y": {"z": null, "w": 1}})), json!({"y": {"w": 1}}));
}

#[test]
fn lists_without_a_merge_strategy_are_replaced() {
    assert_eq!(
        ok(json!({"nonMergingList": [{"name": "1"}, {"name": "2"}]}), json!({"nonMergingList": [{"name": "3"}]})),
        json!({"nonMergingList": [{"name": "3"}]})
    );
}

#[test]
fn items_merge_by_key_and_new_items_follow_patch_order() {
    // An item the live list lacks goes before the server-only items, as kube orders it without a directive.
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": "1", "value": "a"}, {"name": "2", "value": "b"}]}),
            json!({"mergingList": [{"name": "2", "value": "c"}, {"name": "3"}]})
        ),
        json!({"mergingList": [{"name": "1", "value": "a"}, {"name": "2", "value": "c"}, {"name": "3"}]})
    );
    assert_eq!(
        ok(json!({"mergingList": [{"name": "1"}, {"name": "2"}]}), json!({"mergingList": [{"name": "3"}]})),
        json!({"mergingList": [{"name": "3"}, {"name": "1"}, {"name": "2"}]})
    );
}

#[test]
fn set_element_order_orders_the_merged_list() {
    // kube's "add an item in a list and preserve order" case, with server-only fields kept.
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": "1", "other": "a"}, {"name": "2", "value": 2, "other": "b"}]}),
            json!({"$setElementOrder/mergingList": [{"name": "1"}, {"name": "4"}, {"name": "2"}, {"name": "3"}],
                   "mergingList": [{"name": "4", "value": 4}, {"name": "3", "value": 3}]})
        ),
        json!({"mergingList": [{"name": "1", "other": "a"}, {"name": "4", "value": 4},
                               {"name": "2", "value": 2, "other": "b"}, {"name": "3", "value": 3}]})
    );
}

#[test]
fn server_only_items_stay_next_to_their_live_neighbours() {
    // kube's "set elements order in a list with server-only items 3".
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": "1", "other": "a"}, {"name": "2", "value": 2}, {"name": "7"},
                                   {"name": "9"}, {"name": "8"}, {"name": "3", "value": 3}, {"name": "4", "value": 4}]}),
            json!({"$setElementOrder/mergingList": [{"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}]})
        ),
        json!({"mergingList": [{"name": "2", "value": 2}, {"name": "1", "other": "a"}, {"name": "7"}, {"name": "9"},
                               {"name": "8"}, {"name": "4", "value": 4}, {"name": "3", "value": 3}]})
    );
}

#[test]
fn set_element_order_that_contradicts_the_patch_list_fails() {
    let error = run(
        json!({"mergingList": [{"name": "1"}, {"name": "2"}]}),
        json!({"$setElementOrder/mergingList": [{"name": "1"}, {"name": "2"}],
               "mergingList": [{"name": "2", "v": 1}, {"name": "1", "v": 1}]}),
    )
    .unwrap_err();
    assert!(matches!(&error, SmpError::Other(m) if m.starts_with("The order in patch list:")), "{error:?}");
}

#[test]
fn patch_delete_removes_an_item_by_key() {
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": "1"}, {"name": "2"}, {"name": "1"}]}),
            json!({"mergingList": [{"name": "1", "$patch": "delete"}, {"name": "3"}]})
        ),
        json!({"mergingList": [{"name": "3"}, {"name": "2"}]})
    );
}

#[test]
fn patch_replace_item_replaces_the_whole_list() {
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": "1"}, {"name": "2"}]}),
            json!({"mergingList": [{"$patch": "replace"}, {"name": "3", "v": 1}]})
        ),
        json!({"mergingList": [{"name": "3", "v": 1}]})
    );
}

#[test]
fn patch_replace_and_delete_on_maps() {
    assert_eq!(
        ok(
            json!({"m": {"a": 1, "b": 2}, "n": {"c": 3}}),
            json!({"m": {"$patch": "replace", "z": 9}, "n": {"$patch": "delete"}})
        ),
        json!({"m": {"z": 9}, "n": {}})
    );
}

#[test]
fn unknown_or_merge_directives_fail_like_kube() {
    assert!(matches!(run(json!({"m": {}}), json!({"m": {"$patch": "bogus", "a": 1}})),
        Err(SmpError::Other(m)) if m == "unknown patch type: bogus in map: map[$patch:bogus a:1]"));
    assert!(matches!(run(json!({"mergingList": [{"name": "1"}]}), json!({"mergingList": [{"$patch": "merge"}]})),
        Err(SmpError::Other(m)) if m == "merging lists cannot yet be specified in the patch"));
}

#[test]
fn an_item_without_its_merge_key_is_refused() {
    let error = run(json!({"mergingList": [{"name": "1"}]}), json!({"mergingList": [{"value": "x"}]})).unwrap_err();
    assert_eq!(error, SmpError::Other("map: map[value:x] does not contain declared merge key: name".into()));
}

#[test]
fn nested_merging_lists_merge_inside_matched_items() {
    assert_eq!(
        ok(
            json!({"mergingList": [{"name": "1", "nested": [{"name": "a", "x": 1}], "plain": ["p"]}]}),
            json!({"mergingList": [{"name": "1", "nested": [{"name": "a", "y": 2}, {"name": "b"}], "plain": ["q"]}]})
        ),
        json!({"mergingList": [{"name": "1", "nested": [{"name": "a", "x": 1, "y": 2}, {"name": "b"}], "plain": ["q"]}]})
    );
}

#[test]
fn primitive_lists_merge_as_sets_and_delete_from_primitive_list_removes() {
    assert_eq!(
        ok(json!({"mergingIntList": [1, 2, 3]}), json!({"mergingIntList": [3, 4]})),
        json!({"mergingIntList": [1, 2, 3, 4]})
    );
    assert_eq!(
        ok(json!({"mergingIntList": [1, 2, 2, 3]}), json!({"$deleteFromPrimitiveList/mergingIntList": [2]})),
        json!({"mergingIntList": [1, 3]})
    );
    // kube: deleting from a list that does not exist does not create it.
    assert_eq!(ok(json!({}), json!({"$deleteFromPrimitiveList/mergingIntList": [2]})), json!({}));
    // Also works on lists without a merge strategy.
    assert_eq!(
        ok(json!({"nonMergingList": ["a", "b"]}), json!({"$deleteFromPrimitiveList/nonMergingList": ["a"]})),
        json!({"nonMergingList": ["b"]})
    );
}

#[test]
fn retain_keys_clears_unlisted_fields() {
    assert_eq!(
        ok(
            json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}),
            json!({"strategy": {"$retainKeys": ["type"], "type": "Recreate"}})
        ),
        json!({"strategy": {"type": "Recreate"}})
    );
}

#[test]
fn retain_keys_must_list_every_patched_field() {
    assert_eq!(
        run(json!({"strategy": {}}), json!({"strategy": {"$retainKeys": ["type"], "other": 1}})).unwrap_err(),
        SmpError::BadRequest("invalid patch format of retainKeys".into())
    );
    assert_eq!(
        run(json!({"strategy": {}}), json!({"strategy": {"$retainKeys": "type"}})).unwrap_err(),
        SmpError::BadRequest("invalid patch format of retainKeys".into())
    );
}

#[test]
fn malformed_directive_keys_are_bad_requests() {
    assert_eq!(
        run(json!({}), json!({"$deleteFromPrimitiveListx": [1]})).unwrap_err(),
        SmpError::BadRequest("invalid patch format of primitive list".into())
    );
    assert_eq!(
        run(json!({}), json!({"$setElementOrderx": [1]})).unwrap_err(),
        SmpError::BadRequest("invalid patch format of setElementOrder list".into())
    );
}

#[test]
fn lists_of_lists_are_unprocessable() {
    assert_eq!(
        run(json!({"mergingIntList": [[1]]}), json!({"mergingIntList": [[2]]})).unwrap_err(),
        SmpError::Invalid("lists of lists are not supported".into())
    );
}

#[test]
fn map_replace_strategy_takes_the_patch_whole() {
    assert_eq!(ok(json!({"replaced": {"a": 1}}), json!({"replaced": {"b": 2}})), json!({"replaced": {"b": 2}}));
}

#[test]
fn directives_inside_new_values_are_removed() {
    assert_eq!(
        ok(json!({}), json!({"new": {"keep": 1, "gone": {"$patch": "delete"}}, "list": [{"$patch": "delete"}, 1]})),
        json!({"new": {"keep": 1}, "list": [1]})
    );
}

#[test]
fn type_changes_replace_the_value() {
    assert_eq!(
        ok(json!({"a": [1], "b": "x"}), json!({"a": {"k": null, "v": 1}, "b": 2})),
        json!({"a": {"v": 1}, "b": 2})
    );
}

#[test]
fn go_format_prints_like_fmt_v() {
    assert_eq!(go_format(&json!({"b": [1, "x"], "a": null})), "map[a:<nil> b:[1 x]]");
}
