//! [`Kms`]: keys, aliases and the cryptographic operations.
//!
//! Reads (every cryptographic operation, Describe, List) are served from an in-memory copy of
//! the table under a read lock; changes are serialised by one async mutex, written to the
//! `rheo-kv` table (durable before answered) and only then applied to the copy, so nothing a
//! crash could take back is ever seen.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use rheo_kv::{Expected, KvConfig, KvTable};
use rheo_log::{LogId, Store};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::blob::{self, EncryptionContext};
use crate::error::{self as msg, KmsError};
use crate::master::{self, MasterKey, KEY_BYTES};

/// The log of the store that holds the key table. Log ids are otherwise handed out by the
/// Kinesis domain's allocator, which starts at 1 (`rheo_log::FIRST_ALLOCATED_LOG`): log 0 is
/// reserved for this table.
pub const KMS_LOG: LogId = LogId(0);

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// ScheduleKeyDeletion's window bounds and default (days).
const PENDING_WINDOW_MIN: i64 = 7;
const PENDING_WINDOW_MAX: i64 = 30;
const PENDING_WINDOW_DEFAULT: i64 = 30;
/// ListKeys / ListAliases page size when `Limit` is absent.
const LIST_LIMIT_DEFAULT: usize = 100;
/// Version of the stored key and alias documents.
const DOC_VERSION: u32 = 1;

/// Milliseconds since the epoch; a trait so tests can move time (deletion windows).
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// The account and region a request acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    pub account: &'a str,
    pub region: &'a str,
}

/// A key's state, as `KeyState` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
        }
    }
}

/// Who manages a key: the caller, or AWS (the `alias/aws/<service>` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    Customer,
    Aws,
}

impl KeyManager {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyManager::Customer => "CUSTOMER",
            KeyManager::Aws => "AWS",
        }
    }
}

/// What DescribeKey reports of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub account: String,
    pub region: String,
    pub key_id: String,
    pub arn: String,
    pub description: String,
    pub creation_ms: i64,
    pub state: KeyState,
    /// When a key pending deletion is deleted.
    pub deletion_ms: Option<i64>,
    pub pending_window_days: Option<i64>,
    pub manager: KeyManager,
}

impl KeyInfo {
    pub fn enabled(&self) -> bool {
        self.state == KeyState::Enabled
    }
}

/// What ListAliases reports of an alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasInfo {
    pub name: String,
    pub arn: String,
    pub target_key_id: String,
    pub creation_ms: i64,
    pub updated_ms: i64,
}

/// CreateKey's parameters (the members this server looks at).
#[derive(Debug, Clone, Default)]
pub struct CreateKey {
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub key_spec: Option<String>,
    pub origin: Option<String>,
}

/// One page of a listing; `next_marker` is set when more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

/// GenerateDataKey's answer.
#[derive(Debug)]
pub struct DataKey {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub blob: Vec<u8>,
    pub key_arn: String,
}

/// Why [`Kms::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open a store for the KMS: {0}")]
    Store(String),
    #[error("cannot open the KMS key table: {0}")]
    Table(#[from] rheo_kv::KvError),
    #[error("KMS key table entry {key} is damaged: {why}")]
    Damaged { key: String, why: String },
    #[error("the KMS master key ({origin}) does not open the stored key {arn}: wrong master key?")]
    WrongMasterKey { origin: String, arn: String },
}

/// A stored key (the table's value; `material` sealed by the master key, bound to the ARN).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyDoc {
    v: u32,
    account: String,
    region: String,
    key_id: String,
    description: String,
    creation_ms: i64,
    state: KeyState,
    deletion_ms: Option<i64>,
    pending_window_days: Option<i64>,
    manager: KeyManager,
    material: Vec<u8>,
}

/// A stored alias.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AliasDoc {
    v: u32,
    account: String,
    region: String,
    name: String,
    target: String,
    creation_ms: i64,
    updated_ms: i64,
}

struct Key {
    doc: KeyDoc,
    material: Zeroizing<[u8; KEY_BYTES]>,
}

type ScopedName = (String, String, String);

#[derive(Default)]
struct State {
    keys: BTreeMap<ScopedName, Key>,
    aliases: BTreeMap<ScopedName, AliasDoc>,
}

struct Inner {
    table: KvTable,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    state: RwLock<State>,
    /// Serialises changes: each reads the state, writes the table, then applies.
    write: tokio::sync::Mutex<()>,
}

/// The KMS service. Cheap to clone.
#[derive(Clone)]
pub struct Kms {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("master", &self.inner.master)
            .finish_non_exhaustive()
    }
}

/// What a key id of a request names.
enum Named {
    Key { id: String, shown: String },
    Alias { name: String, shown: String },
}

fn key_arn(scope: Scope<'_>, id: &str) -> String {
    format!("arn:aws:kms:{}:{}:key/{id}", scope.region, scope.account)
}

fn alias_arn(scope: Scope<'_>, name: &str) -> String {
    format!("arn:aws:kms:{}:{}:{name}", scope.region, scope.account)
}

fn scoped(scope: Scope<'_>, name: &str) -> ScopedName {
    (
        scope.account.to_string(),
        scope.region.to_string(),
        name.to_string(),
    )
}

fn key_row(account: &str, region: &str, id: &str) -> Vec<u8> {
    format!("key/{account}/{region}/{id}").into_bytes()
}

fn alias_row(account: &str, region: &str, name: &str) -> Vec<u8> {
    format!("alias/{account}/{region}/{name}").into_bytes()
}

/// Authenticated data sealing a key's material: binds it to the key, so material cannot be
/// moved to another key's entry.
fn material_aad(arn: &str) -> Vec<u8> {
    let mut aad = b"rheo-kms key material 1\0".to_vec();
    aad.extend_from_slice(arn.as_bytes());
    aad
}

/// A random version-4 UUID, as AWS key ids are.
fn new_key_id() -> String {
    let b = master::random_bytes(16);
    let mut u = [0u8; 16];
    u.copy_from_slice(&b);
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    let hex: String = u.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn is_key_id(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `alias/aws/<service>`: reserved for AWS-managed keys.
fn is_aws_alias(name: &str) -> bool {
    name.starts_with("alias/aws/")
}

fn managed_description(alias: &str) -> String {
    let service = alias.strip_prefix("alias/aws/").unwrap_or(alias);
    let service = match service {
        "kinesis" => "Kinesis",
        "firehose" => "Kinesis Firehose",
        other => other,
    };
    format!("Default key that protects my {service} data when no other key is defined")
}

fn info(doc: &KeyDoc) -> KeyInfo {
    let scope = Scope {
        account: &doc.account,
        region: &doc.region,
    };
    KeyInfo {
        account: doc.account.clone(),
        region: doc.region.clone(),
        key_id: doc.key_id.clone(),
        arn: key_arn(scope, &doc.key_id),
        description: doc.description.clone(),
        creation_ms: doc.creation_ms,
        state: doc.state,
        deletion_ms: doc.deletion_ms,
        pending_window_days: doc.pending_window_days,
        manager: doc.manager,
    }
}

fn alias_info(scope: Scope<'_>, doc: &AliasDoc) -> AliasInfo {
    AliasInfo {
        name: doc.name.clone(),
        arn: alias_arn(scope, &doc.name),
        target_key_id: doc.target.clone(),
        creation_ms: doc.creation_ms,
        updated_ms: doc.updated_ms,
    }
}

/// Whether a key may be used for cryptography.
fn check_usable(doc: &KeyDoc) -> Result<(), KmsError> {
    let arn = key_arn(
        Scope {
            account: &doc.account,
            region: &doc.region,
        },
        &doc.key_id,
    );
    match doc.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(msg::disabled(&arn)),
        KeyState::PendingDeletion => Err(msg::pending_deletion(&arn)),
    }
}

fn encode<T: Serialize>(doc: &T) -> Result<Vec<u8>, KmsError> {
    serde_json::to_vec(doc).map_err(|e| KmsError::Internal(format!("encoding a key entry: {e}")))
}

impl Kms {
    /// Opens the key table in `store` (log [`KMS_LOG`]) and unseals every key with `master`.
    /// Fails if an entry is damaged or the master key is not the one the keys were sealed with:
    /// serving without them would lose data encrypted under them.
    pub async fn open(
        store: Store,
        master: MasterKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Kms, OpenError> {
        let table = KvTable::open(store, KMS_LOG, KvConfig::default()).await?;
        let mut state = State::default();
        for item in table.scan_prefix(b"", usize::MAX) {
            let row = String::from_utf8_lossy(&item.key).into_owned();
            let damaged = |why: String| OpenError::Damaged {
                key: row.clone(),
                why,
            };
            if row.starts_with("key/") {
                let doc: KeyDoc =
                    serde_json::from_slice(&item.value).map_err(|e| damaged(e.to_string()))?;
                if doc.v != DOC_VERSION {
                    return Err(damaged(format!("unknown version {}", doc.v)));
                }
                let arn = key_arn(
                    Scope {
                        account: &doc.account,
                        region: &doc.region,
                    },
                    &doc.key_id,
                );
                let plain = master
                    .open(&doc.material, &material_aad(&arn))
                    .ok_or_else(|| OpenError::WrongMasterKey {
                        origin: master.origin().to_string(),
                        arn: arn.clone(),
                    })?;
                let mut material = Zeroizing::new([0u8; KEY_BYTES]);
                if plain.len() != KEY_BYTES {
                    return Err(damaged("key material is not 32 bytes".into()));
                }
                material.copy_from_slice(&plain);
                let name = (doc.account.clone(), doc.region.clone(), doc.key_id.clone());
                state.keys.insert(name, Key { doc, material });
            } else if row.starts_with("alias/") {
                let doc: AliasDoc =
                    serde_json::from_slice(&item.value).map_err(|e| damaged(e.to_string()))?;
                if doc.v != DOC_VERSION {
                    return Err(damaged(format!("unknown version {}", doc.v)));
                }
                let name = (doc.account.clone(), doc.region.clone(), doc.name.clone());
                state.aliases.insert(name, doc);
            } else {
                return Err(damaged("unknown entry".into()));
            }
        }
        tracing::info!(
            keys = state.keys.len(),
            aliases = state.aliases.len(),
            master_key = master.origin(),
            "KMS keys loaded"
        );
        Ok(Kms {
            inner: Arc::new(Inner {
                table,
                master,
                clock,
                state: RwLock::new(state),
                write: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// A KMS with nothing durable: an in-memory store and an ephemeral master key (tests,
    /// tools).
    pub async fn open_ephemeral() -> Result<Kms, OpenError> {
        let store = Store::open(rheo_log::StoreConfig::default())
            .map_err(|e| OpenError::Store(e.to_string()))?;
        Kms::open(store, MasterKey::ephemeral(), Arc::new(SystemClock)).await
    }

    /// Stops the table's committer once queued writes are answered.
    pub async fn close(self) {
        if let Ok(inner) = Arc::try_unwrap(self.inner) {
            inner.table.close().await;
        }
    }

    fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// A key pending deletion whose date has passed is gone, whether or not
    /// [`Kms::delete_due`] has removed it yet.
    fn live(&self, doc: &KeyDoc) -> bool {
        !(doc.state == KeyState::PendingDeletion
            && doc.deletion_ms.is_some_and(|d| d <= self.now()))
    }

    fn parse_ref(scope: Scope<'_>, key_id: &str) -> Result<Named, KmsError> {
        if let Some(rest) = key_id.strip_prefix("arn:") {
            let mut parts = rest.splitn(5, ':');
            let (Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) else {
                return Err(msg::invalid_key_id(key_id));
            };
            if !partition.starts_with("aws") || service != "kms" {
                return Err(msg::invalid_key_id(key_id));
            }
            let here = region == scope.region && account == scope.account;
            if let Some(id) = resource.strip_prefix("key/") {
                if !here || !is_key_id(id) {
                    return Err(msg::key_not_found(key_id));
                }
                return Ok(Named::Key {
                    id: id.to_string(),
                    shown: key_id.to_string(),
                });
            }
            if resource.starts_with("alias/") {
                if !here {
                    return Err(msg::alias_not_found(key_id));
                }
                return Ok(Named::Alias {
                    name: resource.to_string(),
                    shown: key_id.to_string(),
                });
            }
            return Err(msg::invalid_key_id(key_id));
        }
        if key_id.starts_with("alias/") {
            return Ok(Named::Alias {
                name: key_id.to_string(),
                shown: alias_arn(scope, key_id),
            });
        }
        if is_key_id(key_id) {
            return Ok(Named::Key {
                id: key_id.to_string(),
                shown: key_arn(scope, key_id),
            });
        }
        Err(msg::invalid_key_id(key_id))
    }

    /// The key id `key_id` (id, ARN, alias name or alias ARN) names. `Ok(Err(alias))`: a
    /// missing AWS-managed alias, which the caller may create.
    fn lookup(&self, scope: Scope<'_>, key_id: &str) -> Result<Result<String, String>, KmsError> {
        let st = self.inner.state.read();
        match Self::parse_ref(scope, key_id)? {
            Named::Key { id, shown } => match st.keys.get(&scoped(scope, &id)) {
                Some(k) if self.live(&k.doc) => Ok(Ok(id)),
                _ => Err(msg::key_not_found(&shown)),
            },
            Named::Alias { name, shown } => match st.aliases.get(&scoped(scope, &name)) {
                Some(a) => match st.keys.get(&scoped(scope, &a.target)) {
                    Some(k) if self.live(&k.doc) => Ok(Ok(a.target.clone())),
                    _ => Err(msg::key_not_found(&key_arn(scope, &a.target))),
                },
                None if is_aws_alias(&name) && name.len() > "alias/aws/".len() => Ok(Err(name)),
                None => Err(msg::alias_not_found(&shown)),
            },
        }
    }

    /// Like [`Kms::lookup`], but creating a missing AWS-managed key (as AWS does when a
    /// service first uses `alias/aws/<service>`, or DescribeKey names it).
    async fn resolve(&self, scope: Scope<'_>, key_id: &str) -> Result<String, KmsError> {
        match self.lookup(scope, key_id)? {
            Ok(id) => Ok(id),
            Err(alias) => self.create_managed(scope, &alias).await,
        }
    }

    /// The key `key_id` names, without creating anything (a missing AWS-managed alias is
    /// NotFound).
    fn resolve_existing(&self, scope: Scope<'_>, key_id: &str) -> Result<String, KmsError> {
        match self.lookup(scope, key_id)? {
            Ok(id) => Ok(id),
            Err(alias) => Err(msg::alias_not_found(&alias_arn(scope, &alias))),
        }
    }

    async fn create_managed(&self, scope: Scope<'_>, alias: &str) -> Result<String, KmsError> {
        let _w = self.inner.write.lock().await;
        // Another request may have created it while this one waited.
        if let Some(a) = self.inner.state.read().aliases.get(&scoped(scope, alias)) {
            return Ok(a.target.clone());
        }
        let description = managed_description(alias);
        let id = self.insert_key(scope, description, KeyManager::Aws).await?;
        self.put_alias(scope, alias, &id, None).await?;
        tracing::info!(alias, key = %key_arn(scope, &id), "created an AWS-managed key");
        Ok(id)
    }

    /// Writes a new key (the caller holds the write lock) and returns its id.
    async fn insert_key(
        &self,
        scope: Scope<'_>,
        description: String,
        manager: KeyManager,
    ) -> Result<String, KmsError> {
        let id = new_key_id();
        let arn = key_arn(scope, &id);
        let material = master::random_key();
        let sealed = self
            .inner
            .master
            .seal(material.as_slice(), &material_aad(&arn))
            .map_err(|_| KmsError::Internal("sealing key material failed".into()))?;
        let doc = KeyDoc {
            v: DOC_VERSION,
            account: scope.account.to_string(),
            region: scope.region.to_string(),
            key_id: id.clone(),
            description,
            creation_ms: self.now(),
            state: KeyState::Enabled,
            deletion_ms: None,
            pending_window_days: None,
            manager,
            material: sealed,
        };
        self.inner
            .table
            .put(
                &key_row(scope.account, scope.region, &id),
                encode(&doc)?,
                Expected::Absent,
            )
            .await?;
        self.inner
            .state
            .write()
            .keys
            .insert(scoped(scope, &id), Key { doc, material });
        Ok(id)
    }

    /// Writes an alias (the caller holds the write lock); `created` keeps the creation date of
    /// an alias being retargeted.
    async fn put_alias(
        &self,
        scope: Scope<'_>,
        name: &str,
        target: &str,
        created: Option<i64>,
    ) -> Result<(), KmsError> {
        let now = self.now();
        let doc = AliasDoc {
            v: DOC_VERSION,
            account: scope.account.to_string(),
            region: scope.region.to_string(),
            name: name.to_string(),
            target: target.to_string(),
            creation_ms: created.unwrap_or(now),
            updated_ms: now,
        };
        self.inner
            .table
            .put(
                &alias_row(scope.account, scope.region, name),
                encode(&doc)?,
                Expected::Any,
            )
            .await?;
        self.inner
            .state
            .write()
            .aliases
            .insert(scoped(scope, name), doc);
        Ok(())
    }

    /// Rewrites a key's document with `change` applied (the caller holds the write lock).
    async fn update_key(
        &self,
        scope: Scope<'_>,
        id: &str,
        change: impl FnOnce(&mut KeyDoc),
    ) -> Result<KeyInfo, KmsError> {
        let mut doc = self
            .inner
            .state
            .read()
            .keys
            .get(&scoped(scope, id))
            .map(|k| k.doc.clone())
            .ok_or_else(|| msg::key_not_found(&key_arn(scope, id)))?;
        change(&mut doc);
        self.inner
            .table
            .put(
                &key_row(scope.account, scope.region, id),
                encode(&doc)?,
                Expected::Any,
            )
            .await?;
        let out = info(&doc);
        if let Some(k) = self.inner.state.write().keys.get_mut(&scoped(scope, id)) {
            k.doc = doc;
        }
        Ok(out)
    }

    fn doc(&self, scope: Scope<'_>, id: &str) -> Result<KeyDoc, KmsError> {
        self.inner
            .state
            .read()
            .keys
            .get(&scoped(scope, id))
            .map(|k| k.doc.clone())
            .ok_or_else(|| msg::key_not_found(&key_arn(scope, id)))
    }

    // ---- Requests -------------------------------------------------------------------------

    /// CreateKey: a customer-managed symmetric key, enabled.
    pub async fn create_key(&self, scope: Scope<'_>, req: CreateKey) -> Result<KeyInfo, KmsError> {
        let unsupported = |what: &str, value: &str| {
            KmsError::Unsupported(format!(
                "{what} {value} is not supported by Rheo's KMS (only symmetric ENCRYPT_DECRYPT keys of origin AWS_KMS)."
            ))
        };
        if let Some(usage) = req.key_usage.as_deref().filter(|u| *u != "ENCRYPT_DECRYPT") {
            return Err(unsupported("KeyUsage", usage));
        }
        if let Some(spec) = req
            .key_spec
            .as_deref()
            .filter(|s| *s != "SYMMETRIC_DEFAULT")
        {
            return Err(unsupported("KeySpec", spec));
        }
        if let Some(origin) = req.origin.as_deref().filter(|o| *o != "AWS_KMS") {
            return Err(unsupported("Origin", origin));
        }
        let _w = self.inner.write.lock().await;
        let id = self
            .insert_key(
                scope,
                req.description.unwrap_or_default(),
                KeyManager::Customer,
            )
            .await?;
        Ok(info(&self.doc(scope, &id)?))
    }

    /// DescribeKey (creates a named AWS-managed key on first use, as AWS does).
    pub async fn describe_key(&self, scope: Scope<'_>, key_id: &str) -> Result<KeyInfo, KmsError> {
        let id = self.resolve(scope, key_id).await?;
        Ok(info(&self.doc(scope, &id)?))
    }

    /// ListKeys: the caller's keys in key-id order; `marker` is the `next_marker` of the
    /// previous page.
    pub fn list_keys(
        &self,
        scope: Scope<'_>,
        limit: Option<usize>,
        marker: Option<&str>,
    ) -> Page<KeyInfo> {
        let limit = limit.unwrap_or(LIST_LIMIT_DEFAULT).max(1);
        let st = self.inner.state.read();
        let from = scoped(scope, marker.unwrap_or(""));
        let mut items: Vec<KeyInfo> = st
            .keys
            .range(from..)
            .take_while(|((a, r, _), _)| a == scope.account && r == scope.region)
            .filter(|(_, k)| self.live(&k.doc))
            .take(limit + 1)
            .map(|(_, k)| info(&k.doc))
            .collect();
        let next_marker = if items.len() > limit {
            items.pop().map(|k| k.key_id)
        } else {
            None
        };
        Page { items, next_marker }
    }

    fn check_alias_name(name: &str) -> Result<(), KmsError> {
        if !name.starts_with("alias/") || name.len() == "alias/".len() {
            return Err(msg::validation(
                name,
                "aliasName",
                "Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$",
            ));
        }
        if name.contains(':') {
            return Err(msg::validation(
                name,
                "aliasName",
                "Member must satisfy regular expression pattern: ^[a-zA-Z0-9/_-]+$",
            ));
        }
        if is_aws_alias(name) {
            return Err(KmsError::NotAuthorized(String::new()));
        }
        Ok(())
    }

    /// The customer-managed key an alias may point at: named by key id or key ARN (not an
    /// alias), not pending deletion.
    fn alias_target(&self, scope: Scope<'_>, target: &str) -> Result<String, KmsError> {
        let id = match Self::parse_ref(scope, target)? {
            Named::Key { .. } => self.resolve_existing(scope, target)?,
            Named::Alias { .. } => {
                return Err(KmsError::Validation(
                    "Aliases must refer to keys. Not aliases".to_string(),
                ))
            }
        };
        let doc = self.doc(scope, &id)?;
        if doc.manager == KeyManager::Aws {
            return Err(KmsError::NotAuthorized(String::new()));
        }
        if doc.state == KeyState::PendingDeletion {
            return Err(msg::pending_deletion(&key_arn(scope, &id)));
        }
        Ok(id)
    }

    /// CreateAlias.
    pub async fn create_alias(
        &self,
        scope: Scope<'_>,
        name: &str,
        target: &str,
    ) -> Result<(), KmsError> {
        Self::check_alias_name(name)?;
        let _w = self.inner.write.lock().await;
        let id = self.alias_target(scope, target)?;
        if self
            .inner
            .state
            .read()
            .aliases
            .contains_key(&scoped(scope, name))
        {
            return Err(msg::alias_exists(&alias_arn(scope, name)));
        }
        self.put_alias(scope, name, &id, None).await
    }

    /// UpdateAlias: points an existing alias at another key.
    pub async fn update_alias(
        &self,
        scope: Scope<'_>,
        name: &str,
        target: &str,
    ) -> Result<(), KmsError> {
        Self::check_alias_name(name)?;
        let _w = self.inner.write.lock().await;
        let id = self.alias_target(scope, target)?;
        let created = self
            .inner
            .state
            .read()
            .aliases
            .get(&scoped(scope, name))
            .map(|a| a.creation_ms)
            .ok_or_else(|| msg::alias_not_found(&alias_arn(scope, name)))?;
        self.put_alias(scope, name, &id, Some(created)).await
    }

    /// DeleteAlias.
    pub async fn delete_alias(&self, scope: Scope<'_>, name: &str) -> Result<(), KmsError> {
        Self::check_alias_name(name)?;
        let _w = self.inner.write.lock().await;
        if !self
            .inner
            .state
            .read()
            .aliases
            .contains_key(&scoped(scope, name))
        {
            return Err(msg::alias_not_found(&alias_arn(scope, name)));
        }
        self.inner
            .table
            .delete(&alias_row(scope.account, scope.region, name), Expected::Any)
            .await?;
        self.inner
            .state
            .write()
            .aliases
            .remove(&scoped(scope, name));
        Ok(())
    }

    /// ListAliases: in name order, all of the caller's or those of one key.
    pub fn list_aliases(
        &self,
        scope: Scope<'_>,
        key_id: Option<&str>,
        limit: Option<usize>,
        marker: Option<&str>,
    ) -> Result<Page<AliasInfo>, KmsError> {
        let target = match key_id {
            Some(k) => Some(self.resolve_existing(scope, k)?),
            None => None,
        };
        let limit = limit.unwrap_or(LIST_LIMIT_DEFAULT).max(1);
        let st = self.inner.state.read();
        let from = scoped(scope, marker.unwrap_or(""));
        let mut items: Vec<AliasInfo> = st
            .aliases
            .range(from..)
            .take_while(|((a, r, _), _)| a == scope.account && r == scope.region)
            .filter(|(_, a)| target.as_ref().is_none_or(|t| *t == a.target))
            .take(limit + 1)
            .map(|(_, a)| alias_info(scope, a))
            .collect();
        let next_marker = if items.len() > limit {
            items.pop().map(|a| a.name)
        } else {
            None
        };
        Ok(Page { items, next_marker })
    }

    /// A customer-managed key a state change may apply to.
    fn customer_key(&self, scope: Scope<'_>, key_id: &str) -> Result<KeyDoc, KmsError> {
        let id = self.resolve_existing(scope, key_id)?;
        let doc = self.doc(scope, &id)?;
        if doc.manager == KeyManager::Aws {
            return Err(KmsError::NotAuthorized(String::new()));
        }
        Ok(doc)
    }

    /// EnableKey / DisableKey.
    pub async fn set_enabled(
        &self,
        scope: Scope<'_>,
        key_id: &str,
        enabled: bool,
    ) -> Result<(), KmsError> {
        let _w = self.inner.write.lock().await;
        let doc = self.customer_key(scope, key_id)?;
        if doc.state == KeyState::PendingDeletion {
            return Err(msg::pending_deletion(&key_arn(scope, &doc.key_id)));
        }
        let state = if enabled {
            KeyState::Enabled
        } else {
            KeyState::Disabled
        };
        if doc.state != state {
            self.update_key(scope, &doc.key_id, |d| d.state = state)
                .await?;
        }
        Ok(())
    }

    /// ScheduleKeyDeletion: PendingDeletion for `days` (7 to 30, default 30).
    pub async fn schedule_key_deletion(
        &self,
        scope: Scope<'_>,
        key_id: &str,
        days: Option<i64>,
    ) -> Result<KeyInfo, KmsError> {
        let days = days.unwrap_or(PENDING_WINDOW_DEFAULT);
        if days < PENDING_WINDOW_MIN {
            return Err(msg::validation(
                &days.to_string(),
                "pendingWindowInDays",
                &format!("Member must have value greater than or equal to {PENDING_WINDOW_MIN}"),
            ));
        }
        if days > PENDING_WINDOW_MAX {
            return Err(msg::validation(
                &days.to_string(),
                "pendingWindowInDays",
                &format!("Member must have value less than or equal to {PENDING_WINDOW_MAX}"),
            ));
        }
        let _w = self.inner.write.lock().await;
        let doc = self.customer_key(scope, key_id)?;
        if doc.state == KeyState::PendingDeletion {
            return Err(msg::pending_deletion(&key_arn(scope, &doc.key_id)));
        }
        let due = self.now().saturating_add(days.saturating_mul(DAY_MS));
        self.update_key(scope, &doc.key_id, |d| {
            d.state = KeyState::PendingDeletion;
            d.deletion_ms = Some(due);
            d.pending_window_days = Some(days);
        })
        .await
    }

    /// CancelKeyDeletion: the key comes back Disabled, as in AWS.
    pub async fn cancel_key_deletion(
        &self,
        scope: Scope<'_>,
        key_id: &str,
    ) -> Result<KeyInfo, KmsError> {
        let _w = self.inner.write.lock().await;
        let doc = self.customer_key(scope, key_id)?;
        if doc.state != KeyState::PendingDeletion {
            return Err(msg::not_pending_deletion(&key_arn(scope, &doc.key_id)));
        }
        self.update_key(scope, &doc.key_id, |d| {
            d.state = KeyState::Disabled;
            d.deletion_ms = None;
            d.pending_window_days = None;
        })
        .await
    }

    /// Removes keys whose deletion date has passed, with their aliases. Run periodically;
    /// until then such keys already answer as deleted.
    pub async fn delete_due(&self) -> Result<usize, KmsError> {
        let _w = self.inner.write.lock().await;
        let now = self.now();
        let (due, aliases): (Vec<ScopedName>, Vec<ScopedName>) = {
            let st = self.inner.state.read();
            let due: Vec<ScopedName> = st
                .keys
                .iter()
                .filter(|(_, k)| {
                    k.doc.state == KeyState::PendingDeletion
                        && k.doc.deletion_ms.is_some_and(|d| d <= now)
                })
                .map(|(n, _)| n.clone())
                .collect();
            let aliases = st
                .aliases
                .iter()
                .filter(|((a, r, _), doc)| {
                    due.contains(&(a.clone(), r.clone(), doc.target.clone()))
                })
                .map(|(n, _)| n.clone())
                .collect();
            (due, aliases)
        };
        for (a, r, name) in &aliases {
            self.inner
                .table
                .delete(&alias_row(a, r, name), Expected::Any)
                .await?;
            self.inner
                .state
                .write()
                .aliases
                .remove(&(a.clone(), r.clone(), name.clone()));
        }
        for (a, r, id) in &due {
            self.inner
                .table
                .delete(&key_row(a, r, id), Expected::Any)
                .await?;
            self.inner
                .state
                .write()
                .keys
                .remove(&(a.clone(), r.clone(), id.clone()));
            tracing::info!(key = %key_arn(Scope { account: a, region: r }, id), "deleted a KMS key whose waiting period ended");
        }
        Ok(due.len())
    }

    /// Seals `plaintext` under key `id` (already resolved) with `context`.
    fn seal_with(
        &self,
        scope: Scope<'_>,
        id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(Vec<u8>, String), KmsError> {
        let st = self.inner.state.read();
        let key = st
            .keys
            .get(&scoped(scope, id))
            .ok_or_else(|| msg::key_not_found(&key_arn(scope, id)))?;
        check_usable(&key.doc)?;
        let header = blob::header(id);
        let sealed = master::seal(&key.material, plaintext, &blob::aad(&header, context))
            .map_err(|_| KmsError::Internal("encryption failed".into()))?;
        let mut out = header;
        out.extend_from_slice(&sealed);
        Ok((out, key_arn(scope, id)))
    }

    /// Encrypt: at most 4,096 bytes (the model's bound) under `key_id`.
    pub async fn encrypt(
        &self,
        scope: Scope<'_>,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(Vec<u8>, String), KmsError> {
        let id = self.resolve(scope, key_id).await?;
        self.seal_with(scope, &id, plaintext, context)
    }

    /// GenerateDataKey(WithoutPlaintext): `bytes` random bytes and their blob under `key_id`.
    pub async fn generate_data_key(
        &self,
        scope: Scope<'_>,
        key_id: &str,
        number_of_bytes: Option<i64>,
        key_spec: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let bytes = match (number_of_bytes, key_spec) {
            (Some(n), None) => usize::try_from(n).unwrap_or(0),
            (None, Some("AES_256")) => 32,
            (None, Some("AES_128")) => 16,
            (None, Some(other)) => {
                return Err(msg::validation(
                    other,
                    "keySpec",
                    "Member must satisfy enum value set: [AES_256, AES_128]",
                ))
            }
            _ => {
                return Err(KmsError::Validation(
                    "Please specify either number of bytes or key spec.".to_string(),
                ))
            }
        };
        let id = self.resolve(scope, key_id).await?;
        let plaintext = master::random_bytes(bytes);
        let (blob, key_arn) = self.seal_with(scope, &id, &plaintext, context)?;
        Ok(DataKey {
            plaintext,
            blob,
            key_arn,
        })
    }

    /// Decrypt: the blob names its key; `key_id`, when given, must name the same one.
    pub fn decrypt(
        &self,
        scope: Scope<'_>,
        ciphertext: &[u8],
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<(Zeroizing<Vec<u8>>, String), KmsError> {
        let parsed = blob::parse(ciphertext).ok_or_else(msg::invalid_ciphertext)?;
        if let Some(wanted) = key_id {
            if self.resolve_existing(scope, wanted)? != parsed.key_id {
                return Err(msg::incorrect_key());
            }
        }
        let st = self.inner.state.read();
        let key = st
            .keys
            .get(&scoped(scope, parsed.key_id))
            .filter(|k| self.live(&k.doc))
            .ok_or_else(msg::invalid_ciphertext)?;
        check_usable(&key.doc)?;
        let plain = master::open(
            &key.material,
            parsed.sealed,
            &blob::aad(parsed.header, context),
        )
        .ok_or_else(msg::invalid_ciphertext)?;
        Ok((plain, key_arn(scope, parsed.key_id)))
    }

    // ---- In-process API (encryption at rest) -----------------------------------------------

    /// Resolves `key_id` and creates the AWS-managed key it names if missing (a durable
    /// write); returns the key's ARN. Call it before the synchronous calls below, e.g. in
    /// StartStreamEncryption, so they find the key in memory.
    pub async fn ensure_key(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<String, KmsError> {
        let scope = Scope { account, region };
        let id = self.resolve(scope, key_id).await?;
        Ok(key_arn(scope, &id))
    }

    /// Whether `key_id` may be used now: `Ok`, or the NotFound / Disabled / InvalidState error
    /// its state gives. In-memory, no I/O: cheap enough for every put. A missing AWS-managed
    /// key is NotFound here ([`Kms::ensure_key`] creates it).
    pub fn key_usable(&self, account: &str, region: &str, key_id: &str) -> Result<(), KmsError> {
        let scope = Scope { account, region };
        let id = self.resolve_existing(scope, key_id)?;
        let st = self.inner.state.read();
        let key = st
            .keys
            .get(&scoped(scope, &id))
            .ok_or_else(|| msg::key_not_found(&key_arn(scope, &id)))?;
        check_usable(&key.doc)
    }

    /// A fresh 256-bit data key, its blob (to store beside what it encrypts) and the ARN of the
    /// key that wraps it. Synchronous and in-memory.
    #[allow(clippy::type_complexity)]
    pub fn generate_data_key_for(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<(Zeroizing<[u8; KEY_BYTES]>, Vec<u8>, String), KmsError> {
        let scope = Scope { account, region };
        let id = self.resolve_existing(scope, key_id)?;
        let plaintext = master::random_key();
        let (blob, arn) =
            self.seal_with(scope, &id, plaintext.as_slice(), &EncryptionContext::new())?;
        Ok((plaintext, blob, arn))
    }

    /// The data key in a blob from [`Kms::generate_data_key_for`], if its key is usable.
    pub fn decrypt_data_key(
        &self,
        account: &str,
        region: &str,
        blob: &[u8],
    ) -> Result<Zeroizing<[u8; KEY_BYTES]>, KmsError> {
        let scope = Scope { account, region };
        let parsed = blob::parse(blob).ok_or_else(msg::invalid_ciphertext)?;
        {
            let st = self.inner.state.read();
            let key = st
                .keys
                .get(&scoped(scope, parsed.key_id))
                .filter(|k| self.live(&k.doc))
                .ok_or_else(|| msg::key_not_found(&key_arn(scope, parsed.key_id)))?;
            check_usable(&key.doc)?;
        }
        let (plain, _) = self.decrypt(scope, blob, None, &EncryptionContext::new())?;
        if plain.len() != KEY_BYTES {
            return Err(msg::invalid_ciphertext());
        }
        let mut out = Zeroizing::new([0u8; KEY_BYTES]);
        out.copy_from_slice(&plain);
        Ok(out)
    }
}
