//! Domain tests: keys, aliases, blobs and durability.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use rheo_log::{Store, StoreConfig};

use crate::*;

const SCOPE: Scope<'static> = Scope {
    account: "123456789012",
    region: "us-east-1",
};

#[derive(Default)]
struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn memory_store() -> Store {
    Store::open(StoreConfig::default()).unwrap()
}

fn disk_store(dir: &std::path::Path) -> Store {
    Store::open(StoreConfig {
        dir: Some(dir.to_path_buf()),
        direct_io: false,
        ..StoreConfig::default()
    })
    .unwrap()
}

async fn kms_with(clock: Arc<ManualClock>) -> Kms {
    Kms::open(memory_store(), MasterKey::ephemeral(), clock)
        .await
        .unwrap()
}

async fn kms() -> Kms {
    kms_with(Arc::new(ManualClock(AtomicI64::new(1_700_000_000_000)))).await
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn create_describe_by_id_arn_and_alias() {
    let k = kms().await;
    let key = k
        .create_key(
            SCOPE,
            CreateKey {
                description: Some("d".into()),
                ..CreateKey::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(key.state, KeyState::Enabled);
    assert_eq!(key.manager, KeyManager::Customer);
    assert_eq!(
        key.arn,
        format!("arn:aws:kms:us-east-1:123456789012:key/{}", key.key_id)
    );
    assert_eq!(key.key_id.len(), 36);
    assert_eq!(&key.key_id[14..15], "4", "a v4 UUID");
    k.create_alias(SCOPE, "alias/mine", &key.key_id)
        .await
        .unwrap();
    for name in [
        key.key_id.clone(),
        key.arn.clone(),
        "alias/mine".to_string(),
        "arn:aws:kms:us-east-1:123456789012:alias/mine".to_string(),
    ] {
        assert_eq!(
            k.describe_key(SCOPE, &name).await.unwrap().key_id,
            key.key_id
        );
    }
    let other = Scope {
        account: "123456789012",
        region: "eu-west-1",
    };
    assert_eq!(
        k.describe_key(other, &key.key_id).await.unwrap_err(),
        KmsError::NotFound(format!(
            "Key 'arn:aws:kms:eu-west-1:123456789012:key/{}' does not exist",
            key.key_id
        ))
    );
    assert_eq!(
        k.describe_key(SCOPE, "alias/none").await.unwrap_err(),
        KmsError::NotFound(
            "Alias arn:aws:kms:us-east-1:123456789012:alias/none is not found.".into()
        )
    );
    assert_eq!(
        k.describe_key(SCOPE, "nonsense").await.unwrap_err(),
        KmsError::NotFound("Invalid keyId 'nonsense'".into())
    );
}

#[tokio::test]
async fn encrypt_decrypt_round_trip_and_context_is_authenticated() {
    let k = kms().await;
    let key = k.create_key(SCOPE, CreateKey::default()).await.unwrap();
    let c = ctx(&[("purpose", "test"), ("a", "b")]);
    let (blob, arn) = k.encrypt(SCOPE, &key.key_id, b"secret", &c).await.unwrap();
    assert_eq!(arn, key.arn);
    assert!(!blob.windows(6).any(|w| w == b"secret"));
    let (plain, arn) = k.decrypt(SCOPE, &blob, None, &c).unwrap();
    assert_eq!(plain.as_slice(), b"secret");
    assert_eq!(arn, key.arn);
    // Same context in another order: same canonical form.
    let reordered = ctx(&[("a", "b"), ("purpose", "test")]);
    assert!(k.decrypt(SCOPE, &blob, Some(&key.arn), &reordered).is_ok());
    // Wrong or missing context, altered byte: InvalidCiphertext.
    for bad in [
        ctx(&[("purpose", "other"), ("a", "b")]),
        EncryptionContext::new(),
    ] {
        assert!(matches!(
            k.decrypt(SCOPE, &blob, None, &bad),
            Err(KmsError::InvalidCiphertext(_))
        ));
    }
    let mut altered = blob.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert!(matches!(
        k.decrypt(SCOPE, &altered, None, &c),
        Err(KmsError::InvalidCiphertext(_))
    ));
    assert!(matches!(
        k.decrypt(SCOPE, b"not a blob", None, &c),
        Err(KmsError::InvalidCiphertext(_))
    ));
    // Without a context.
    let (blob2, _) = k
        .encrypt(SCOPE, &key.key_id, b"x", &EncryptionContext::new())
        .await
        .unwrap();
    assert_eq!(
        k.decrypt(SCOPE, &blob2, None, &EncryptionContext::new())
            .unwrap()
            .0
            .as_slice(),
        b"x"
    );
    // Two encryptions of the same plaintext differ (fresh nonces).
    let (again, _) = k.encrypt(SCOPE, &key.key_id, b"secret", &c).await.unwrap();
    assert_ne!(again, blob);
    // Decrypt naming another key.
    let other = k.create_key(SCOPE, CreateKey::default()).await.unwrap();
    assert!(matches!(
        k.decrypt(SCOPE, &blob, Some(&other.key_id), &c),
        Err(KmsError::IncorrectKey(_))
    ));
}

#[tokio::test]
async fn disabled_key_refuses_cryptography_until_enabled() {
    let k = kms().await;
    let key = k.create_key(SCOPE, CreateKey::default()).await.unwrap();
    let (blob, _) = k
        .encrypt(SCOPE, &key.key_id, b"p", &EncryptionContext::new())
        .await
        .unwrap();
    k.set_enabled(SCOPE, &key.key_id, false).await.unwrap();
    let disabled = KmsError::Disabled(format!("{} is disabled.", key.arn));
    assert_eq!(
        k.encrypt(SCOPE, &key.key_id, b"p", &EncryptionContext::new())
            .await
            .unwrap_err(),
        disabled
    );
    assert_eq!(
        k.decrypt(SCOPE, &blob, None, &EncryptionContext::new())
            .unwrap_err(),
        disabled
    );
    assert_eq!(
        k.key_usable(SCOPE.account, SCOPE.region, &key.key_id),
        Err(disabled.clone())
    );
    assert_eq!(
        k.generate_data_key_for(SCOPE.account, SCOPE.region, &key.key_id)
            .unwrap_err(),
        disabled
    );
    let d = k.describe_key(SCOPE, &key.key_id).await.unwrap();
    assert_eq!(d.state, KeyState::Disabled);
    assert!(!d.enabled());
    k.set_enabled(SCOPE, &key.key_id, true).await.unwrap();
    assert!(k
        .key_usable(SCOPE.account, SCOPE.region, &key.key_id)
        .is_ok());
}

#[tokio::test]
async fn pending_deletion_refuses_use_cancels_to_disabled_and_deletes_when_due() {
    let clock = Arc::new(ManualClock(AtomicI64::new(1_000)));
    let k = kms_with(clock.clone()).await;
    let key = k.create_key(SCOPE, CreateKey::default()).await.unwrap();
    k.create_alias(SCOPE, "alias/gone", &key.key_id)
        .await
        .unwrap();
    for days in [6, 31] {
        assert!(matches!(
            k.schedule_key_deletion(SCOPE, &key.key_id, Some(days))
                .await,
            Err(KmsError::Validation(_))
        ));
    }
    let s = k
        .schedule_key_deletion(SCOPE, &key.key_id, Some(7))
        .await
        .unwrap();
    assert_eq!(s.state, KeyState::PendingDeletion);
    assert_eq!(s.deletion_ms, Some(1_000 + 7 * 86_400_000));
    let pending = KmsError::InvalidState(format!("{} is pending deletion.", key.arn));
    assert_eq!(
        k.encrypt(SCOPE, &key.key_id, b"p", &EncryptionContext::new())
            .await
            .unwrap_err(),
        pending
    );
    assert_eq!(
        k.set_enabled(SCOPE, &key.key_id, true).await.unwrap_err(),
        pending
    );
    assert_eq!(
        k.schedule_key_deletion(SCOPE, &key.key_id, None)
            .await
            .unwrap_err(),
        pending
    );
    let c = k.cancel_key_deletion(SCOPE, &key.key_id).await.unwrap();
    assert_eq!(c.state, KeyState::Disabled);
    assert_eq!(c.deletion_ms, None);
    assert_eq!(
        k.cancel_key_deletion(SCOPE, &key.key_id).await.unwrap_err(),
        KmsError::InvalidState(format!("{} is not pending deletion.", key.arn))
    );
    // Default window: 30 days; gone once due, aliases with it.
    let s = k
        .schedule_key_deletion(SCOPE, &key.key_id, None)
        .await
        .unwrap();
    assert_eq!(s.pending_window_days, Some(30));
    clock.0.store(1_000 + 30 * 86_400_000, Ordering::SeqCst);
    assert!(matches!(
        k.describe_key(SCOPE, &key.key_id).await,
        Err(KmsError::NotFound(_))
    ));
    assert_eq!(k.delete_due().await.unwrap(), 1);
    assert!(k.list_keys(SCOPE, None, None).items.is_empty());
    assert!(k
        .list_aliases(SCOPE, None, None, None)
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn aliases_reserved_names_duplicates_update_delete_and_paging() {
    let k = kms().await;
    let a = k.create_key(SCOPE, CreateKey::default()).await.unwrap();
    let b = k.create_key(SCOPE, CreateKey::default()).await.unwrap();
    assert_eq!(
        k.create_alias(SCOPE, "alias/aws/mine", &a.key_id).await,
        Err(KmsError::NotAuthorized(String::new()))
    );
    assert!(matches!(
        k.create_alias(SCOPE, "nope", &a.key_id).await,
        Err(KmsError::Validation(_))
    ));
    k.create_alias(SCOPE, "alias/x", &a.key_id).await.unwrap();
    assert_eq!(
        k.create_alias(SCOPE, "alias/x", &b.key_id).await,
        Err(KmsError::AlreadyExists(
            "An alias with the name arn:aws:kms:us-east-1:123456789012:alias/x already exists"
                .into()
        ))
    );
    assert!(matches!(
        k.create_alias(SCOPE, "alias/y", "alias/x").await,
        Err(KmsError::Validation(_))
    ));
    k.update_alias(SCOPE, "alias/x", &b.arn).await.unwrap();
    assert_eq!(
        k.describe_key(SCOPE, "alias/x").await.unwrap().key_id,
        b.key_id
    );
    k.create_alias(SCOPE, "alias/z", &a.key_id).await.unwrap();
    let only_a = k.list_aliases(SCOPE, Some(&a.key_id), None, None).unwrap();
    assert_eq!(only_a.items.len(), 1);
    assert_eq!(only_a.items[0].name, "alias/z");
    let p1 = k.list_aliases(SCOPE, None, Some(1), None).unwrap();
    assert_eq!(p1.items.len(), 1);
    let p2 = k
        .list_aliases(SCOPE, None, Some(1), p1.next_marker.as_deref())
        .unwrap();
    assert_eq!(p2.items.len(), 1);
    assert_ne!(p1.items[0].name, p2.items[0].name);
    assert!(p2.next_marker.is_none());
    k.delete_alias(SCOPE, "alias/x").await.unwrap();
    assert_eq!(
        k.delete_alias(SCOPE, "alias/x").await,
        Err(KmsError::NotFound(
            "Alias arn:aws:kms:us-east-1:123456789012:alias/x is not found.".into()
        ))
    );
    let keys1 = k.list_keys(SCOPE, Some(1), None);
    let keys2 = k.list_keys(SCOPE, Some(1), keys1.next_marker.as_deref());
    assert_eq!(keys1.items.len() + keys2.items.len(), 2);
    assert_ne!(keys1.items[0].key_id, keys2.items[0].key_id);
}

#[tokio::test]
async fn aws_managed_kinesis_key_is_created_on_first_use_and_protected() {
    let k = kms().await;
    // The synchronous API never writes: a missing managed key is NotFound there.
    assert!(matches!(
        k.key_usable(SCOPE.account, SCOPE.region, "alias/aws/kinesis"),
        Err(KmsError::NotFound(_))
    ));
    let arn = k
        .ensure_key(SCOPE.account, SCOPE.region, "alias/aws/kinesis")
        .await
        .unwrap();
    let d = k.describe_key(SCOPE, "alias/aws/kinesis").await.unwrap();
    assert_eq!(d.arn, arn);
    assert_eq!(d.manager, KeyManager::Aws);
    assert!(k
        .key_usable(SCOPE.account, SCOPE.region, "alias/aws/kinesis")
        .is_ok());
    let aliases = k.list_aliases(SCOPE, None, None, None).unwrap();
    assert_eq!(aliases.items[0].name, "alias/aws/kinesis");
    assert_eq!(aliases.items[0].target_key_id, d.key_id);
    // Same key the second time.
    assert_eq!(
        k.ensure_key(SCOPE.account, SCOPE.region, "alias/aws/kinesis")
            .await
            .unwrap(),
        arn
    );
    assert_eq!(
        k.set_enabled(SCOPE, &d.key_id, false).await,
        Err(KmsError::NotAuthorized(String::new()))
    );
    assert_eq!(
        k.delete_alias(SCOPE, "alias/aws/kinesis").await,
        Err(KmsError::NotAuthorized(String::new()))
    );
    // Data keys for encryption at rest.
    let (plain, blob, key_arn) = k
        .generate_data_key_for(SCOPE.account, SCOPE.region, "alias/aws/kinesis")
        .unwrap();
    assert_eq!(key_arn, arn);
    let back = k
        .decrypt_data_key(SCOPE.account, SCOPE.region, &blob)
        .unwrap();
    assert_eq!(*back, *plain);
}

#[tokio::test]
async fn generate_data_key_sizes() {
    let k = kms().await;
    let key = k.create_key(SCOPE, CreateKey::default()).await.unwrap();
    let none = EncryptionContext::new();
    for (n, spec, len) in [
        (None, Some("AES_256"), 32),
        (None, Some("AES_128"), 16),
        (Some(7), None, 7),
    ] {
        let dk = k
            .generate_data_key(SCOPE, &key.key_id, n, spec, &none)
            .await
            .unwrap();
        assert_eq!(dk.plaintext.len(), len);
        let (back, _) = k.decrypt(SCOPE, &dk.blob, None, &none).unwrap();
        assert_eq!(back.as_slice(), dk.plaintext.as_slice());
    }
    for (n, spec) in [(None, None), (Some(32), Some("AES_256"))] {
        assert_eq!(
            k.generate_data_key(SCOPE, &key.key_id, n, spec, &none)
                .await
                .unwrap_err(),
            KmsError::Validation("Please specify either number of bytes or key spec.".into())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_survive_a_restart_and_a_wrong_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let master_path = master::default_path(dir.path());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (key, blob) = {
        let master = MasterKey::load_or_create(&master_path).unwrap();
        let k = Kms::open(disk_store(dir.path()), master, clock.clone())
            .await
            .unwrap();
        let key = k.create_key(SCOPE, CreateKey::default()).await.unwrap();
        k.create_alias(SCOPE, "alias/kept", &key.key_id)
            .await
            .unwrap();
        k.set_enabled(SCOPE, &key.key_id, false).await.unwrap();
        k.set_enabled(SCOPE, &key.key_id, true).await.unwrap();
        let (blob, _) = k
            .encrypt(SCOPE, "alias/kept", b"durable", &EncryptionContext::new())
            .await
            .unwrap();
        k.close().await;
        (key, blob)
    };
    // The material is never stored in the clear.
    let k = {
        let master = MasterKey::load_or_create(&master_path).unwrap();
        Kms::open(disk_store(dir.path()), master, clock.clone())
            .await
            .unwrap()
    };
    assert_eq!(k.describe_key(SCOPE, "alias/kept").await.unwrap(), key);
    let (plain, _) = k
        .decrypt(SCOPE, &blob, None, &EncryptionContext::new())
        .unwrap();
    assert_eq!(plain.as_slice(), b"durable");
    k.close().await;
    let wrong = Kms::open(disk_store(dir.path()), MasterKey::ephemeral(), clock).await;
    assert!(matches!(wrong, Err(OpenError::WrongMasterKey { .. })));
}

#[tokio::test]
async fn unsupported_key_kinds_are_refused() {
    let k = kms().await;
    let r = k
        .create_key(
            SCOPE,
            CreateKey {
                key_spec: Some("RSA_2048".into()),
                ..CreateKey::default()
            },
        )
        .await;
    assert!(matches!(r, Err(KmsError::Unsupported(_))));
}
