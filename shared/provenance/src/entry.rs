//! The transparency-log entries an auditor reads offline: an item's
//! authorship record and a key rotation. The trust service logs these very
//! types (inside its tagged `LogEntry`), so the bytes an auditor parses are
//! the bytes that were appended.

use serde::{Deserialize, Serialize};

use crate::manifest::Ingredient;

/// The largest encoded log entry, in bytes; the log refuses a larger one.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// Who made an item, under which manifest (`"type": "authorship"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorship {
    pub item_id: String,
    /// `human` for an upload, `generated` for a certified item.
    #[serde(default)]
    pub origin: String,
    /// Empty for a human upload (it has no manifest).
    pub manifest_id: String,
    pub content_sha256: String,
    pub creator: String,
    pub parents: Vec<Ingredient>,
    pub key_id: String,
    /// The licence the manifest states (empty for an upload).
    #[serde(default)]
    pub licence: String,
    /// The log index of the review the manifest records.
    #[serde(default)]
    pub review_index: Option<u64>,
    pub when_unix_ms: i64,
}

/// The signing key changed (`"type": "key_rotation"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotation {
    pub key_id: String,
    pub public_key: String,
    pub previous_key_id: String,
    pub when_unix_ms: i64,
}

/// Reads an authorship record from a log entry's bytes; an error says why
/// when the entry is of another type or not an entry at all.
pub fn parse_authorship(bytes: &[u8]) -> Result<Authorship, String> {
    #[derive(Deserialize)]
    struct Tagged {
        #[serde(rename = "type")]
        kind: String,
    }
    let tagged: Tagged =
        serde_json::from_slice(bytes).map_err(|e| format!("unreadable entry: {e}"))?;
    if tagged.kind != "authorship" {
        return Err(format!(
            "the entry is a {} record, not an authorship record",
            tagged.kind
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| format!("unreadable authorship record: {e}"))
}
