//! A draft: what the editor or the creator produced, with everything the
//! trust service needs to review and certify it (parents, the source passage
//! behind every sentence, the generator's name and version) and the corpus
//! needs to store it.

use generec_common::types::{ItemKind, Origin};
use sha2::{Digest, Sha256};

use crate::editor::EditDecisionList;

/// The generator name recorded in manifests.
pub const GENERATOR_NAME: &str = "generec-generation";
/// The generator version recorded in manifests.
pub const GENERATOR_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The item a draft was made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Parent {
    pub id: String,
    pub licence: String,
    pub content_sha256: String,
    pub owner_consent: bool,
}

/// A passage a draft cites.
#[derive(Clone, Debug, PartialEq)]
pub struct SourcePassage {
    /// `<item id>#<sentence index>` or `<item id>#title`.
    pub id: String,
    pub item_id: String,
    pub text: String,
}

/// Where one sentence of the body comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribution {
    pub start: usize,
    pub end: usize,
    /// Empty when no passage supports the sentence.
    pub source_id: String,
    pub score: f32,
    pub supported: bool,
    /// The generator's own framing (a digest's lead): states no fact.
    pub framing: bool,
}

/// What generation produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub item_id: String,
    pub kind: ItemKind,
    pub title: String,
    pub body: String,
    pub origin: Origin,
    pub parents: Vec<Parent>,
    pub sources: Vec<SourcePassage>,
    pub attributions: Vec<Attribution>,
    pub c2pa_action: String,
    pub actions: Vec<String>,
    /// The back-end that wrote it: "composer", "embedded:<model>", ...
    pub generator_name: String,
    pub generator_version: String,
    pub user_id: String,
    pub instruction: String,
    pub tags: Vec<String>,
    pub edl: Option<EditDecisionList>,
    pub content_sha256: String,
    pub supported_share: f32,
    pub watermark_z: f64,
}

impl Draft {
    /// The byte ranges of the body's framing sentences (a digest's lead),
    /// shifted by `offset` (where the body starts in the reviewed text).
    pub fn framing_ranges(&self, offset: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.attributions
            .iter()
            .filter(|a| a.framing)
            .map(move |a| (offset + a.start, offset + a.end))
    }

    /// Fills `content_sha256`, `item_id` and `supported_share` from the
    /// title, body and attributions.
    pub fn seal(mut self) -> Draft {
        self.content_sha256 = content_hash(&self.title, &self.body);
        self.item_id = format!("gen-{}", &self.content_sha256[..16]);
        let total = self.attributions.len();
        self.supported_share = if total == 0 {
            0.0
        } else {
            self.attributions.iter().filter(|a| a.supported).count() as f32 / total as f32
        };
        self
    }
}

/// Hex SHA-256 of `title + "\n\n" + body`.
pub fn content_hash(title: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(title.as_bytes());
    h.update(b"\n\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

/// The generator name for a back-end: `generec-generation/<back-end>`.
pub fn generator_name(backend: &str) -> String {
    format!("{GENERATOR_NAME}/{backend}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_derives_the_id_from_the_content_hash() {
        let d = Draft {
            item_id: String::new(),
            kind: ItemKind::Article,
            title: "T".into(),
            body: "B".into(),
            origin: Origin::AiCreated,
            parents: vec![],
            sources: vec![],
            attributions: vec![
                Attribution {
                    start: 0,
                    end: 1,
                    source_id: "x#0".into(),
                    score: 1.0,
                    supported: true,
                    framing: false,
                },
                Attribution {
                    start: 0,
                    end: 1,
                    source_id: String::new(),
                    score: 0.0,
                    supported: false,
                    framing: false,
                },
            ],
            c2pa_action: "c2pa.created".into(),
            actions: vec![],
            generator_name: String::new(),
            generator_version: String::new(),
            user_id: String::new(),
            instruction: String::new(),
            tags: vec![],
            edl: None,
            content_sha256: String::new(),
            supported_share: 0.0,
            watermark_z: 0.0,
        }
        .seal();
        assert_eq!(d.content_sha256, content_hash("T", "B"));
        assert!(d.item_id.starts_with("gen-") && d.item_id.len() == 20);
        assert_eq!(d.supported_share, 0.5);
    }
}
