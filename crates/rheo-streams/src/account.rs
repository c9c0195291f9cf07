//! Account-level settings (DescribeAccountSettings, UpdateAccountSettings): the minimum
//! throughput billing commitment, one catalog document per account and region.
//!
//! Only the commitment's state is kept; nothing is billed. Its rules are AWS's documented ones
//! (API reference, `MinimumThroughputBillingCommitmentInput`): a commitment lasts at least
//! 24 hours; disabling it earlier schedules the end at the earliest allowed time (status
//! ENABLED_UNTIL_EARLIEST_ALLOWED_END); enabling it again before then cancels that end.

use serde::{Deserialize, Serialize};

use crate::error::{KinesisError, Result};
use crate::limits::COMMITMENT_MS_MIN;
use crate::service::Streams;
use crate::types::Ctx;

const SETTINGS_VERSION: u32 = 1;

/// The catalog key of an account's settings in a region. Stream keys start with `stream/`, so
/// the stream loader never sees these.
fn settings_key(account: &str, region: &str) -> String {
    format!("account/{account}/{region}/settings")
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct StoredSettings {
    v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    commitment: Option<StoredCommitment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct StoredCommitment {
    started_ms: i64,
    earliest_end_ms: i64,
    /// When the commitment ends (or ended); in the future while a disable is scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ended_ms: Option<i64>,
}

/// The model's `MinimumThroughputBillingCommitmentOutputStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitmentStatus {
    Enabled,
    Disabled,
    EnabledUntilEarliestAllowedEnd,
}

impl CommitmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitmentStatus::Enabled => "ENABLED",
            CommitmentStatus::Disabled => "DISABLED",
            CommitmentStatus::EnabledUntilEarliestAllowedEnd => {
                "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
            }
        }
    }
}

/// The model's `MinimumThroughputBillingCommitmentOutput`, times in epoch milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commitment {
    pub status: CommitmentStatus,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub earliest_allowed_end_ms: Option<i64>,
}

impl StoredCommitment {
    fn ended_by(&self, now: i64) -> bool {
        self.ended_ms.is_some_and(|e| e <= now)
    }

    fn view(&self, now: i64) -> Commitment {
        let (status, ended_ms) = match self.ended_ms {
            Some(e) if e <= now => (CommitmentStatus::Disabled, Some(e)),
            Some(_) => (CommitmentStatus::EnabledUntilEarliestAllowedEnd, None),
            None => (CommitmentStatus::Enabled, None),
        };
        Commitment {
            status,
            started_ms: Some(self.started_ms),
            ended_ms,
            earliest_allowed_end_ms: Some(self.earliest_end_ms),
        }
    }
}

fn view(settings: &StoredSettings, now: i64) -> Commitment {
    settings.commitment.as_ref().map_or(
        Commitment {
            status: CommitmentStatus::Disabled,
            started_ms: None,
            ended_ms: None,
            earliest_allowed_end_ms: None,
        },
        |c| c.view(now),
    )
}

impl Streams {
    fn load_settings(&self, ctx: &Ctx) -> Result<StoredSettings> {
        let key = settings_key(ctx.account(), &ctx.region);
        match self.inner.store.catalog_get(&key)? {
            None => Ok(StoredSettings {
                v: SETTINGS_VERSION,
                commitment: None,
            }),
            Some(doc) => {
                let s: StoredSettings = serde_json::from_slice(&doc).map_err(|e| {
                    KinesisError::Internal(format!("account settings {key} do not decode: {e}"))
                })?;
                if s.v != SETTINGS_VERSION {
                    return Err(KinesisError::Internal(format!(
                        "account settings {key} have version {}, this build reads {SETTINGS_VERSION}",
                        s.v
                    )));
                }
                Ok(s)
            }
        }
    }

    /// DescribeAccountSettings.
    pub async fn describe_account_settings(&self, ctx: &Ctx) -> Result<Commitment> {
        Ok(view(&self.load_settings(ctx)?, self.now_ms()))
    }

    /// UpdateAccountSettings: `enable` is the requested Status (ENABLED or DISABLED). Answers
    /// the settings as they are after the change.
    pub async fn update_account_settings(&self, ctx: &Ctx, enable: bool) -> Result<Commitment> {
        // Read-modify-write of one document: serialized with the other control-plane changes.
        let _admin = self.inner.admin.lock().await;
        let now = self.now_ms();
        let mut settings = self.load_settings(ctx)?;
        let next = match (settings.commitment.take(), enable) {
            // Nothing, or a commitment that has ended: enabling starts a new one.
            (None, true) => Some(new_commitment(now)),
            (Some(c), true) if c.ended_by(now) => Some(new_commitment(now)),
            // Running, or with its end scheduled: enabling keeps it running.
            (Some(c), true) => Some(StoredCommitment {
                ended_ms: None,
                ..c
            }),
            (None, false) => None,
            // Ended or ending already: nothing changes.
            (Some(c), false) if c.ended_ms.is_some() => Some(c),
            // Before its minimum duration, the end is scheduled at the earliest allowed time.
            (Some(c), false) => Some(StoredCommitment {
                ended_ms: Some(c.earliest_end_ms.max(now)),
                ..c
            }),
        };
        settings.commitment = next;
        settings.v = SETTINGS_VERSION;
        let doc = serde_json::to_vec(&settings)
            .map_err(|e| KinesisError::Internal(format!("cannot encode account settings: {e}")))?;
        self.inner
            .store
            .catalog_put(&settings_key(ctx.account(), &ctx.region), &doc)?;
        tracing::info!(region = %ctx.region, enable, "account settings updated");
        Ok(view(&settings, now))
    }
}

fn new_commitment(now: i64) -> StoredCommitment {
    StoredCommitment {
        started_ms: now,
        earliest_end_ms: now + COMMITMENT_MS_MIN,
        ended_ms: None,
    }
}
