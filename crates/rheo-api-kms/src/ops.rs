//! Translation between validated request trees and the `rheo-kms` domain.
//!
//! `decode_request` has already enforced the model's constraints (types, required members,
//! lengths, patterns, enums); this module renames wire members to domain arguments and domain
//! results to the model's output shapes, and maps every [`KmsError`] to `__type` and status in
//! [`error_parts`].

use std::collections::BTreeMap;

use rheo_http::middleware::{Chain, Refusal, Request as MiddlewareRequest, Resource};
use rheo_http::RequestContext;
use rheo_kms::{AliasInfo, CreateKey, EncryptionContext, KeyInfo, Kms, KmsError, Scope};
use rheo_proto::{decode_request, encode_response, Node, Protocol, WireError};

use crate::Operation;

/// The only algorithm of the symmetric keys this server makes.
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

/// `__type` and HTTP status of a domain error.
pub fn error_parts(e: &KmsError) -> (&'static str, u16) {
    match e {
        KmsError::NotFound(_) => ("NotFoundException", 400),
        KmsError::Disabled(_) => ("DisabledException", 400),
        KmsError::InvalidState(_) => ("KMSInvalidStateException", 400),
        KmsError::AlreadyExists(_) => ("AlreadyExistsException", 400),
        KmsError::InvalidCiphertext(_) => ("InvalidCiphertextException", 400),
        KmsError::IncorrectKey(_) => ("IncorrectKeyException", 400),
        KmsError::Validation(_) => ("ValidationException", 400),
        KmsError::NotAuthorized(_) => ("NotAuthorizedException", 400),
        KmsError::Unsupported(_) => ("UnsupportedOperationException", 400),
        KmsError::Internal(_) => ("KMSInternalException", 500),
        // `KmsError` is non_exhaustive; a new variant is an internal failure until mapped.
        #[allow(unreachable_patterns)]
        _ => ("KMSInternalException", 500),
    }
}

/// Why [`handle`] produced no answer.
#[derive(Debug)]
pub enum Failure {
    /// Refused by the wire layer (serialization, validation).
    Wire(WireError),
    /// An operation of the model this server does not run.
    NotImplemented(Operation),
    /// `DryRun` was set: the request was valid and allowed, nothing ran.
    DryRun,
    /// A middleware of the chain refused the request.
    Refused(Refusal),
    Domain(KmsError),
}

impl Failure {
    /// `__type`, status and message of a failure the binding answers itself (a wire error is
    /// `rheo-proto`'s to render). A 5xx message is left empty: it would leak internals.
    pub fn parts(&self) -> Option<(&'static str, u16, String)> {
        match self {
            Failure::Wire(_) => None,
            Failure::NotImplemented(op) => Some((
                "UnknownOperationException",
                400,
                format!("Rheo does not implement {} yet.", op.name()),
            )),
            Failure::DryRun => Some((
                "DryRunOperationException",
                412,
                "The request would have succeeded, but the DryRun option is set.".to_string(),
            )),
            Failure::Refused(r) => Some((r.error_type, r.status, r.message.clone())),
            Failure::Domain(e) => {
                let (ty, status) = error_parts(e);
                let message = if status >= 500 {
                    String::new()
                } else {
                    e.to_string()
                };
                Some((ty, status, message))
            }
        }
    }
}

/// Whether this server runs an operation of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationState {
    Implemented,
    NotImplemented,
}

/// The state of `op` (the list in `tests/operations.rs` must agree).
pub const fn state(op: Operation) -> OperationState {
    use Operation as O;
    match op {
        O::CancelKeyDeletion
        | O::CreateAlias
        | O::CreateKey
        | O::Decrypt
        | O::DeleteAlias
        | O::DescribeKey
        | O::DisableKey
        | O::EnableKey
        | O::Encrypt
        | O::GenerateDataKey
        | O::GenerateDataKeyWithoutPlaintext
        | O::ListAliases
        | O::ListKeys
        | O::ScheduleKeyDeletion
        | O::UpdateAlias => OperationState::Implemented,
        _ => OperationState::NotImplemented,
    }
}

/// The key the request names, for the middleware chain: by ARN, alias or key id.
fn key_resource(key_id: &str) -> Resource<'_> {
    let base = Resource {
        service: "kms",
        kind: "key",
        name: None,
        arn: None,
    };
    if key_id.starts_with("arn:") {
        Resource {
            arn: Some(key_id),
            ..base
        }
    } else if let Some(alias) = key_id.strip_prefix("alias/") {
        Resource {
            kind: "alias",
            name: Some(alias),
            ..base
        }
    } else {
        Resource {
            name: Some(key_id),
            ..base
        }
    }
}

/// Decodes `body` for `op`, lets the chain see it, runs it and encodes the answer.
pub async fn handle(
    kms: &Kms,
    chain: &Chain,
    rc: &RequestContext,
    op: Operation,
    protocol: Protocol,
    body: &[u8],
) -> Result<Vec<u8>, Failure> {
    let shape = crate::shape(op).ok_or(Failure::Wire(WireError::UnknownOperation))?;
    let input = decode_request(crate::model(), shape, protocol, body).map_err(Failure::Wire)?;
    if state(op) == OperationState::NotImplemented {
        return Err(Failure::NotImplemented(op));
    }
    if !chain.is_empty() {
        let get = |m: &str| input.get(m).and_then(Node::as_str);
        let resources: Vec<Resource<'_>> = get("KeyId")
            .or(get("TargetKeyId"))
            .map(key_resource)
            .into_iter()
            .collect();
        chain
            .before(&MiddlewareRequest {
                context: rc,
                action: op.action(),
                resources: &resources,
            })
            .map_err(Failure::Refused)?;
    }
    if input.get("DryRun").and_then(Node::as_bool) == Some(true) {
        return Err(Failure::DryRun);
    }
    let scope = Scope {
        account: &rc.account,
        region: &rc.region,
    };
    let output = dispatch(kms, scope, op, &input)
        .await
        .map_err(Failure::Domain)?;
    if crate::has_empty_output(op) {
        return Ok(Vec::new());
    }
    Ok(encode_response(protocol, &output))
}

fn str_of<'a>(input: &'a Node, member: &str) -> Option<&'a str> {
    input.get(member).and_then(Node::as_str)
}

/// A member the model marks required; its absence is a bug of the decoder, answered as the
/// validator would.
fn required<'a>(input: &'a Node, member: &str) -> Result<&'a str, KmsError> {
    str_of(input, member).ok_or_else(|| null_member(member))
}

fn null_member(member: &str) -> KmsError {
    KmsError::Validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        rheo_proto::lower_first(member)
    ))
}

fn limit(input: &Node) -> Option<usize> {
    input
        .get("Limit")
        .and_then(Node::as_i64)
        .and_then(|n| usize::try_from(n).ok())
}

fn context(input: &Node) -> EncryptionContext {
    input
        .get("EncryptionContext")
        .and_then(Node::as_map)
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default()
}

fn key_metadata(k: &KeyInfo) -> Node {
    Node::map()
        .with("AWSAccountId", k.account.as_str())
        .with("KeyId", k.key_id.as_str())
        .with("Arn", k.arn.as_str())
        .with("CreationDate", Node::Timestamp(k.creation_ms))
        .with("Enabled", k.enabled())
        .with("Description", k.description.as_str())
        .with("KeyUsage", "ENCRYPT_DECRYPT")
        .with("KeyState", k.state.as_str())
        .with_opt("DeletionDate", k.deletion_ms.map(Node::Timestamp))
        .with("Origin", "AWS_KMS")
        .with("KeyManager", k.manager.as_str())
        .with("CustomerMasterKeySpec", SYMMETRIC_DEFAULT)
        .with("KeySpec", SYMMETRIC_DEFAULT)
        .with(
            "EncryptionAlgorithms",
            Node::List(vec![Node::str(SYMMETRIC_DEFAULT)]),
        )
        .with("MultiRegion", false)
}

fn alias_entry(a: &AliasInfo) -> Node {
    Node::map()
        .with("AliasName", a.name.as_str())
        .with("AliasArn", a.arn.as_str())
        .with("TargetKeyId", a.target_key_id.as_str())
        .with("CreationDate", Node::Timestamp(a.creation_ms))
        .with("LastUpdatedDate", Node::Timestamp(a.updated_ms))
}

fn page(list: &str, items: Vec<Node>, next_marker: Option<String>) -> Node {
    let truncated = next_marker.is_some();
    Node::map()
        .with(list, Node::List(items))
        .with_opt("NextMarker", next_marker)
        .with("Truncated", truncated)
}

async fn dispatch(
    kms: &Kms,
    scope: Scope<'_>,
    op: Operation,
    input: &Node,
) -> Result<Node, KmsError> {
    use Operation as O;
    let empty = Node::map();
    Ok(match op {
        O::CreateKey => {
            let key = kms
                .create_key(
                    scope,
                    CreateKey {
                        description: str_of(input, "Description").map(str::to_string),
                        key_usage: str_of(input, "KeyUsage").map(str::to_string),
                        key_spec: str_of(input, "KeySpec")
                            .or(str_of(input, "CustomerMasterKeySpec"))
                            .map(str::to_string),
                        origin: str_of(input, "Origin").map(str::to_string),
                    },
                )
                .await?;
            Node::map().with("KeyMetadata", key_metadata(&key))
        }
        O::DescribeKey => {
            let key = kms.describe_key(scope, required(input, "KeyId")?).await?;
            Node::map().with("KeyMetadata", key_metadata(&key))
        }
        O::ListKeys => {
            let p = kms.list_keys(scope, limit(input), str_of(input, "Marker"));
            let items = p
                .items
                .iter()
                .map(|k| {
                    Node::map()
                        .with("KeyId", k.key_id.as_str())
                        .with("KeyArn", k.arn.as_str())
                })
                .collect();
            page("Keys", items, p.next_marker)
        }
        O::CreateAlias => {
            kms.create_alias(
                scope,
                required(input, "AliasName")?,
                required(input, "TargetKeyId")?,
            )
            .await?;
            empty
        }
        O::UpdateAlias => {
            kms.update_alias(
                scope,
                required(input, "AliasName")?,
                required(input, "TargetKeyId")?,
            )
            .await?;
            empty
        }
        O::DeleteAlias => {
            kms.delete_alias(scope, required(input, "AliasName")?)
                .await?;
            empty
        }
        O::ListAliases => {
            let p = kms.list_aliases(
                scope,
                str_of(input, "KeyId"),
                limit(input),
                str_of(input, "Marker"),
            )?;
            let items = p.items.iter().map(alias_entry).collect();
            page("Aliases", items, p.next_marker)
        }
        O::EnableKey | O::DisableKey => {
            kms.set_enabled(scope, required(input, "KeyId")?, op == O::EnableKey)
                .await?;
            empty
        }
        O::ScheduleKeyDeletion => {
            let days = input.get("PendingWindowInDays").and_then(Node::as_i64);
            let key = kms
                .schedule_key_deletion(scope, required(input, "KeyId")?, days)
                .await?;
            Node::map()
                .with("KeyId", key.arn.as_str())
                .with_opt("DeletionDate", key.deletion_ms.map(Node::Timestamp))
                .with("KeyState", key.state.as_str())
                .with_opt("PendingWindowInDays", key.pending_window_days)
        }
        O::CancelKeyDeletion => {
            let key = kms
                .cancel_key_deletion(scope, required(input, "KeyId")?)
                .await?;
            Node::map().with("KeyId", key.arn.as_str())
        }
        O::GenerateDataKey | O::GenerateDataKeyWithoutPlaintext => {
            let dk = kms
                .generate_data_key(
                    scope,
                    required(input, "KeyId")?,
                    input.get("NumberOfBytes").and_then(Node::as_i64),
                    str_of(input, "KeySpec"),
                    &context(input),
                )
                .await?;
            let out = Node::map()
                .with("CiphertextBlob", Node::bytes(dk.blob))
                .with("KeyId", dk.key_arn.as_str());
            if op == O::GenerateDataKey {
                // The plaintext leaves zeroized memory only for the answer's bytes.
                out.with("Plaintext", Node::bytes(dk.plaintext.to_vec()))
            } else {
                out
            }
        }
        O::Encrypt => {
            let plaintext = input
                .get("Plaintext")
                .and_then(Node::as_bytes)
                .ok_or_else(|| null_member("Plaintext"))?;
            let (blob, arn) = kms
                .encrypt(scope, required(input, "KeyId")?, plaintext, &context(input))
                .await?;
            Node::map()
                .with("CiphertextBlob", Node::bytes(blob))
                .with("KeyId", arn)
                .with("EncryptionAlgorithm", SYMMETRIC_DEFAULT)
        }
        O::Decrypt => {
            let blob = input
                .get("CiphertextBlob")
                .and_then(Node::as_bytes)
                .ok_or_else(|| null_member("CiphertextBlob"))?;
            let (plaintext, arn) =
                kms.decrypt(scope, blob, str_of(input, "KeyId"), &context(input))?;
            Node::map()
                .with("KeyId", arn)
                .with("Plaintext", Node::bytes(plaintext.to_vec()))
                .with("EncryptionAlgorithm", SYMMETRIC_DEFAULT)
        }
        // `handle` answers every other operation as not implemented before dispatching.
        _ => {
            return Err(KmsError::Internal(format!(
                "{} is not dispatched",
                op.name()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::Arc;

    fn rc() -> RequestContext {
        let mut rc = RequestContext::new(Arc::from("123456789012"), None);
        rc.region = "us-east-1".to_string();
        rc
    }

    async fn call(kms: &Kms, op: Operation, body: &str) -> Result<serde_json::Value, Failure> {
        let out = handle(
            kms,
            &Chain::new(),
            &rc(),
            op,
            Protocol::Json,
            body.as_bytes(),
        )
        .await?;
        if out.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        Ok(serde_json::from_slice(&out).unwrap())
    }

    #[tokio::test]
    async fn create_encrypt_decrypt_through_the_wire() {
        let kms = Kms::open_ephemeral().await.unwrap();
        let created = call(&kms, Operation::CreateKey, r#"{"Description":"t"}"#)
            .await
            .unwrap();
        let meta = &created["KeyMetadata"];
        assert_eq!(meta["KeyState"], "Enabled");
        assert_eq!(meta["KeyManager"], "CUSTOMER");
        assert_eq!(meta["Enabled"], true);
        assert_eq!(meta["EncryptionAlgorithms"][0], "SYMMETRIC_DEFAULT");
        let id = meta["KeyId"].as_str().unwrap();
        let enc = call(
            &kms,
            Operation::Encrypt,
            &format!(
                r#"{{"KeyId":"{id}","Plaintext":"aGVsbG8=","EncryptionContext":{{"a":"b"}}}}"#
            ),
        )
        .await
        .unwrap();
        let blob = enc["CiphertextBlob"].as_str().unwrap();
        let dec = call(
            &kms,
            Operation::Decrypt,
            &format!(r#"{{"CiphertextBlob":"{blob}","EncryptionContext":{{"a":"b"}}}}"#),
        )
        .await
        .unwrap();
        assert_eq!(dec["Plaintext"], "aGVsbG8=");
        assert_eq!(dec["KeyId"], meta["Arn"]);
        let wrong = call(
            &kms,
            Operation::Decrypt,
            &format!(r#"{{"CiphertextBlob":"{blob}"}}"#),
        )
        .await
        .unwrap_err();
        assert_eq!(
            wrong.parts().unwrap(),
            ("InvalidCiphertextException", 400, String::new())
        );
        // An operation without output members answers an empty body.
        let none = call(
            &kms,
            Operation::DisableKey,
            &format!(r#"{{"KeyId":"{id}"}}"#),
        )
        .await
        .unwrap();
        assert_eq!(none, serde_json::Value::Null);
    }

    #[tokio::test]
    async fn validation_not_implemented_and_dry_run() {
        let kms = Kms::open_ephemeral().await.unwrap();
        let e = call(&kms, Operation::Encrypt, r#"{"KeyId":"k","Plaintext":""}"#)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Failure::Wire(WireError::Validation(_))),
            "{e:?}"
        );
        let e = call(&kms, Operation::GenerateRandom, r#"{"NumberOfBytes":8}"#)
            .await
            .unwrap_err();
        assert_eq!(
            e.parts().unwrap(),
            (
                "UnknownOperationException",
                400,
                "Rheo does not implement GenerateRandom yet.".to_string()
            )
        );
        let e = call(&kms, Operation::DescribeKey, r#"{"KeyId":"nope"}"#)
            .await
            .unwrap_err();
        assert_eq!(
            e.parts().unwrap(),
            ("NotFoundException", 400, "Invalid keyId 'nope'".to_string())
        );
    }
}
