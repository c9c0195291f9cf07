//! [`MetadataStore`]: the compare-and-set seam that stream metadata and lease tables are
//! written against; [`KvTable`] implements it on one node, a cluster backend (etcd) later.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::error::KvError;
use crate::table::{Expected, Item, KvTable, Versioned};

/// A boxed future, so that [`MetadataStore`] can be used as `dyn MetadataStore` (the backend
/// is chosen by configuration at run time). Metadata writes are rare enough for the box.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Failure of a [`MetadataStore`] operation, in words every backend can give.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The condition did not hold; nothing was written. `current` is the key's version when
    /// the condition was evaluated (`None`: absent).
    #[error("condition failed: current version {current:?}")]
    ConditionFailed {
        /// The key's version at the check.
        current: Option<u64>,
    },
    /// The key or value is outside the backend's bounds.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The backend could not carry out the operation (I/O failure, closed, no quorum). A
    /// failed write may or may not have taken effect; read before retrying a conditional one.
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
}

impl From<KvError> for MetadataError {
    fn from(e: KvError) -> Self {
        match e {
            KvError::ConditionFailed { current } => MetadataError::ConditionFailed { current },
            KvError::KeyBounds { .. } | KvError::ValueTooLarge { .. } => {
                MetadataError::Invalid(e.to_string())
            }
            KvError::Append(_)
            | KvError::Read(_)
            | KvError::Corrupt { .. }
            | KvError::History { .. }
            | KvError::Closed => MetadataError::Unavailable(e.to_string()),
        }
    }
}

/// A versioned key-value store with compare-and-set.
///
/// Contract, for every backend:
/// - **Linearizable**: every operation takes effect atomically at one instant between its call
///   and its return; a read returns the latest write that returned before it started (or a
///   later one), never a write that could still be lost.
/// - **Compare-and-set**: `put_if` / `delete_if` check `expected` against the key's current
///   version and write in the same atomic step; on a mismatch nothing is written and
///   [`MetadataError::ConditionFailed`] carries the version seen.
/// - **Versions** are per store, increase with every write and are never given twice (not even
///   to a key deleted and created again), so `Expected::Version` can never match a different
///   incarnation of a key.
/// - **Durable**: a write that returned `Ok` survives a crash of the node (or of a minority of
///   a cluster's nodes).
/// - `list` returns keys in ascending byte order.
pub trait MetadataStore: Send + Sync {
    /// The current value of `key`.
    fn get<'a>(&'a self, key: &'a [u8]) -> BoxFuture<'a, Result<Option<Versioned>, MetadataError>>;

    /// Stores `value` under `key` if `expected` holds; the new version.
    fn put_if<'a>(
        &'a self,
        key: &'a [u8],
        value: Bytes,
        expected: Expected,
    ) -> BoxFuture<'a, Result<u64, MetadataError>>;

    /// Removes `key` if `expected` holds; the version removed (`None`: it was absent).
    fn delete_if<'a>(
        &'a self,
        key: &'a [u8],
        expected: Expected,
    ) -> BoxFuture<'a, Result<Option<u64>, MetadataError>>;

    /// Up to `limit` items whose key starts with `prefix`, ascending by key.
    fn list<'a>(
        &'a self,
        prefix: &'a [u8],
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Item>, MetadataError>>;
}

impl MetadataStore for KvTable {
    fn get<'a>(&'a self, key: &'a [u8]) -> BoxFuture<'a, Result<Option<Versioned>, MetadataError>> {
        Box::pin(async move { Ok(KvTable::get(self, key)) })
    }

    fn put_if<'a>(
        &'a self,
        key: &'a [u8],
        value: Bytes,
        expected: Expected,
    ) -> BoxFuture<'a, Result<u64, MetadataError>> {
        Box::pin(async move { Ok(self.put(key, value, expected).await?) })
    }

    fn delete_if<'a>(
        &'a self,
        key: &'a [u8],
        expected: Expected,
    ) -> BoxFuture<'a, Result<Option<u64>, MetadataError>> {
        Box::pin(async move { Ok(self.delete(key, expected).await?) })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a [u8],
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Item>, MetadataError>> {
        Box::pin(async move { Ok(self.scan_prefix(prefix, limit)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rheo_log::{LogId, Store, StoreConfig};

    #[tokio::test]
    async fn the_table_serves_the_trait_as_a_trait_object() {
        let store = Store::open(StoreConfig::default()).unwrap();
        let table = KvTable::open(store, LogId(7), Default::default())
            .await
            .unwrap();
        let meta: &dyn MetadataStore = &table;
        let v1 = meta
            .put_if(b"streams/a", Bytes::from_static(b"1"), Expected::Absent)
            .await
            .unwrap();
        assert_eq!(
            meta.put_if(b"streams/a", Bytes::from_static(b"x"), Expected::Absent)
                .await,
            Err(MetadataError::ConditionFailed { current: Some(v1) })
        );
        let v2 = meta
            .put_if(
                b"streams/a",
                Bytes::from_static(b"2"),
                Expected::Version(v1),
            )
            .await
            .unwrap();
        assert!(v2 > v1);
        meta.put_if(b"streams/b", Bytes::from_static(b"3"), Expected::Any)
            .await
            .unwrap();
        meta.put_if(b"other", Bytes::from_static(b"4"), Expected::Any)
            .await
            .unwrap();
        let listed = meta.list(b"streams/", 10).await.unwrap();
        assert_eq!(
            listed.iter().map(|i| i.key.as_slice()).collect::<Vec<_>>(),
            [b"streams/a".as_slice(), b"streams/b"]
        );
        assert_eq!(
            meta.get(b"streams/a").await.unwrap().map(|v| v.value),
            Some(Bytes::from_static(b"2"))
        );
        assert_eq!(
            meta.delete_if(b"streams/a", Expected::Version(v1)).await,
            Err(MetadataError::ConditionFailed { current: Some(v2) })
        );
        assert_eq!(
            meta.delete_if(b"streams/a", Expected::Version(v2)).await,
            Ok(Some(v2))
        );
        assert_eq!(meta.get(b"streams/a").await, Ok(None));
        assert!(matches!(
            meta.put_if(b"", Bytes::new(), Expected::Any).await,
            Err(MetadataError::Invalid(_))
        ));
        table.close().await;
    }
}
