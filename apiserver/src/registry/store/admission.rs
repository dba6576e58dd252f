//! Admission: checks the registry runs before every write (e.g. NamespaceLifecycle), in registration order.

use std::{fmt, sync::Arc};

use async_trait::async_trait;
use parking_lot::RwLock;

use super::RequestContext;
use crate::{
    machinery::{ApiError, Object},
    registry::ResourceInfo,
};

/// The kind of write being admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// POST, or a PUT/apply that creates.
    Create,
    /// PUT or PATCH of an existing object.
    Update,
    /// DELETE (also each item of a deletecollection).
    Delete,
}

/// What an admission check sees of one write.
#[derive(Clone, Copy, Debug)]
pub struct AdmissionRequest<'a> {
    /// The write.
    pub operation: Operation,
    /// The resource written.
    pub resource: &'a ResourceInfo,
    /// `Some("status")` for a subresource write.
    pub subresource: Option<&'a str>,
    /// The namespace (`None` for cluster-scoped resources).
    pub namespace: Option<&'a str>,
    /// The object's name (`""` while a `generateName` is still to be filled in; see the object's generateName).
    pub name: &'a str,
    /// The new object (create and update).
    pub object: Option<&'a Object>,
    /// The stored object (update and delete).
    pub old: Option<&'a Object>,
    /// Who asks.
    pub context: &'a RequestContext,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// One admission check; an error refuses the write with that error.
#[async_trait]
pub trait Admission: Send + Sync + 'static {
    /// A short name for logs (`NamespaceLifecycle`).
    fn name(&self) -> &str;

    /// Admits or refuses one write.
    async fn admit(&self, request: &AdmissionRequest<'_>) -> Result<(), ApiError>;
}

/// The admission checks of a registry, shared by all of its stores; checks can be added while serving.
#[derive(Clone, Default)]
pub struct AdmissionChain(Arc<RwLock<Vec<Arc<dyn Admission>>>>);

impl fmt::Debug for AdmissionChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.0.read().iter().map(|check| check.name().to_string()).collect();
        f.debug_tuple("AdmissionChain").field(&names).finish()
    }
}

impl AdmissionChain {
    /// Appends a check; it runs after the ones already there.
    pub fn push(&self, check: Arc<dyn Admission>) {
        self.0.write().push(check);
    }

    /// Runs every check in order; the first refusal wins.
    ///
    /// # Errors
    /// The refusing check's error.
    pub async fn admit(&self, request: &AdmissionRequest<'_>) -> Result<(), ApiError> {
        let checks: Vec<Arc<dyn Admission>> = self.0.read().clone();
        for check in checks {
            check.admit(request).await?;
        }
        Ok(())
    }
}
