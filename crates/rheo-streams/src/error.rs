//! The domain's errors. Each variant is one AWS error type; the message is AWS's wording.
//! The wire layer maps variants to `__type` and HTTP status in one exhaustive match.

/// An error of any Kinesis operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KinesisError {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    ExpiredIterator(String),
    #[error("{0}")]
    ExpiredNextToken(String),
    #[error("{0}")]
    ProvisionedThroughputExceeded(String),
    /// A constraint AWS checks in its validation layer but which needs domain knowledge.
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    AccessDenied(String),
    /// The stream's KMS key is disabled (the message is the KMS's).
    #[error("{0}")]
    KmsDisabled(String),
    #[error("{0}")]
    KmsNotFound(String),
    #[error("{0}")]
    KmsInvalidState(String),
    #[error("{0}")]
    KmsAccessDenied(String),
    #[error("{0}")]
    KmsThrottling(String),
    /// The storage engine failed; the request may or may not have taken effect on disk.
    #[error("{0}")]
    Internal(String),
    /// The records asked for are damaged in storage (an `InternalFailure` whose message, unlike other internal
    /// failures', is sent: it names the damaged records so that an operator can act).
    #[error("{0}")]
    Damaged(String),
}

pub type Result<T, E = KinesisError> = std::result::Result<T, E>;

impl From<rheo_log::AppendError> for KinesisError {
    fn from(e: rheo_log::AppendError) -> Self {
        tracing::error!(error = %e, "append failed");
        KinesisError::Internal("Internal service failure.".into())
    }
}

impl From<rheo_log::ReadError> for KinesisError {
    fn from(e: rheo_log::ReadError) -> Self {
        tracing::error!(error = %e, "read failed");
        KinesisError::Internal("Internal service failure.".into())
    }
}

impl From<rheo_log::CatalogError> for KinesisError {
    fn from(e: rheo_log::CatalogError) -> Self {
        tracing::error!(error = %e, "catalog write failed");
        KinesisError::Internal("Internal service failure.".into())
    }
}
