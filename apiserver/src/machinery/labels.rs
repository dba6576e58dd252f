//! Label selectors: the full string grammar of `labelSelector` and matching against an object's labels.

use std::collections::BTreeMap;

use super::ApiError;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value`, `key==value`, or `key in (a,b)`.
    In(String, Vec<String>),
    /// `key!=value` or `key notin (a,b)`: the key is absent or has another value.
    NotIn(String, Vec<String>),
    /// `key`: the key is present.
    Exists(String),
    /// `!key`: the key is absent.
    DoesNotExist(String),
    /// `key>n`: the value is an integer greater than n.
    GreaterThan(String, i64),
    /// `key<n`: the value is an integer less than n.
    LessThan(String, i64),
}

/// A parsed label selector; empty selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// Every requirement must hold.
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses `app=web,tier in (a,b),!legacy`.
    ///
    /// # Errors
    /// 400 BadRequest naming what could not be parsed (as kube-apiserver answers an invalid `labelSelector`).
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let _ = text;
        Err(ApiError::internal("label selectors are being written"))
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let _ = labels;
        self.requirements.is_empty()
    }
}
