//! The HTTP wire contract kubectl, client-go and kube-rs rely on, against the real binary on both backends.

#[path = "../support/mod.rs"]
mod support;

mod client;
mod compaction;
mod discovery;
mod lists;
mod views;
mod watches;
mod writes;

use compaction::*;
use discovery::*;
use lists::*;
use views::*;
use watches::*;
use writes::*;

on_both_backends!(
    aggregated_discovery_is_negotiated_cached_and_complete,
    metadata_and_table_views_serve_lists_gets_and_watches,
    lists_page_with_continue_tokens_and_refuse_impossible_resource_versions,
    compacted_history_expires_continue_tokens_and_watches,
    watches_stream_newline_delimited_events_with_selectors_and_initial_events,
    writes_follow_kubernetes_create_update_and_delete_semantics,
    the_status_subresource_keeps_spec_and_status_apart,
);
