//! [`KmsError`]: every refusal of the domain, carrying the message AWS KMS sends.

/// A refused KMS request. Each variant is one AWS error type (the binding maps it to `__type`
/// and status in one match); the `Display` text is AWS's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// `NotFoundException`: no such key or alias in the caller's account and region.
    #[error("{0}")]
    NotFound(String),
    /// `DisabledException`: the key exists but is disabled.
    #[error("{0}")]
    Disabled(String),
    /// `KMSInvalidStateException`: the key's state forbids the request (pending deletion, or
    /// not pending deletion for CancelKeyDeletion).
    #[error("{0}")]
    InvalidState(String),
    /// `AlreadyExistsException`: the alias name is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// `InvalidCiphertextException`: the blob is not one of ours, was altered, or was made with
    /// another encryption context.
    #[error("{0}")]
    InvalidCiphertext(String),
    /// `IncorrectKeyException`: Decrypt named a key other than the one the blob names.
    #[error("{0}")]
    IncorrectKey(String),
    /// `ValidationException`, with the model's constraint wording.
    #[error("{0}")]
    Validation(String),
    /// `NotAuthorizedException`: a change to a name or key reserved for AWS (`alias/aws/*`,
    /// AWS-managed keys).
    #[error("{0}")]
    NotAuthorized(String),
    /// `UnsupportedOperationException`: a key kind this server does not make (asymmetric,
    /// HMAC, external or custom-key-store origin).
    #[error("{0}")]
    Unsupported(String),
    /// `KMSInternalException`: storage failed. The text is for logs, not for callers.
    #[error("{0}")]
    Internal(String),
}

impl From<rheo_kv::KvError> for KmsError {
    fn from(e: rheo_kv::KvError) -> Self {
        KmsError::Internal(format!("key table: {e}"))
    }
}

/// `NotFoundException` for a key id or key ARN that names no key.
pub(crate) fn key_not_found(arn: &str) -> KmsError {
    KmsError::NotFound(format!("Key '{arn}' does not exist"))
}

/// `NotFoundException` for a key id that is neither a key id, an ARN nor an alias.
pub(crate) fn invalid_key_id(id: &str) -> KmsError {
    KmsError::NotFound(format!("Invalid keyId '{id}'"))
}

/// `NotFoundException` for an alias name or ARN that names no alias.
pub(crate) fn alias_not_found(alias_arn: &str) -> KmsError {
    KmsError::NotFound(format!("Alias {alias_arn} is not found."))
}

pub(crate) fn disabled(arn: &str) -> KmsError {
    KmsError::Disabled(format!("{arn} is disabled."))
}

pub(crate) fn pending_deletion(arn: &str) -> KmsError {
    KmsError::InvalidState(format!("{arn} is pending deletion."))
}

pub(crate) fn not_pending_deletion(arn: &str) -> KmsError {
    KmsError::InvalidState(format!("{arn} is not pending deletion."))
}

pub(crate) fn alias_exists(alias_arn: &str) -> KmsError {
    KmsError::AlreadyExists(format!("An alias with the name {alias_arn} already exists"))
}

/// The one-violation ValidationException text, as the model's validator words it.
pub(crate) fn validation(value: &str, member: &str, constraint: &str) -> KmsError {
    KmsError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

pub(crate) fn incorrect_key() -> KmsError {
    KmsError::IncorrectKey(
        "The key ID in the request does not identify a CMK that can perform this operation."
            .to_string(),
    )
}

pub(crate) fn invalid_ciphertext() -> KmsError {
    // AWS sends the type with no message: saying why would help forge a blob.
    KmsError::InvalidCiphertext(String::new())
}
