//! Domain types that more than one service uses: what an item is and who
//! made it, with their conversions from and to the protobuf enums.

use generec_proto::common::v1 as pb;
use serde::{Deserialize, Serialize};

/// Why a protobuf enum value could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnumError {
    #[error("must be set")]
    Unspecified,
    #[error("unknown value {0}")]
    Unknown(i32),
}

/// What an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Article,
    Video,
    Music,
    Image,
    Design,
}

impl ItemKind {
    /// Every kind, in proto order.
    pub const ALL: [ItemKind; 5] = [
        ItemKind::Article,
        ItemKind::Video,
        ItemKind::Music,
        ItemKind::Image,
        ItemKind::Design,
    ];

    /// The lower-case name used in the index and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Article => "article",
            ItemKind::Video => "video",
            ItemKind::Music => "music",
            ItemKind::Image => "image",
            ItemKind::Design => "design",
        }
    }

    /// Whether items of this kind have timed segments.
    pub fn is_timed(self) -> bool {
        matches!(self, ItemKind::Video | ItemKind::Music)
    }
}

/// Who made an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Human,
    AiEdited,
    AiCreated,
}

impl Origin {
    /// The lower-case name used in the index and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Human => "human",
            Origin::AiEdited => "ai_edited",
            Origin::AiCreated => "ai_created",
        }
    }

    /// Whether a generator made or changed the item.
    pub fn is_generated(self) -> bool {
        !matches!(self, Origin::Human)
    }
}

impl ItemKind {
    /// Reads the protobuf value.
    pub fn from_proto(value: i32) -> Result<Self, EnumError> {
        match pb::ItemKind::try_from(value) {
            Ok(pb::ItemKind::Article) => Ok(ItemKind::Article),
            Ok(pb::ItemKind::Video) => Ok(ItemKind::Video),
            Ok(pb::ItemKind::Music) => Ok(ItemKind::Music),
            Ok(pb::ItemKind::Image) => Ok(ItemKind::Image),
            Ok(pb::ItemKind::Design) => Ok(ItemKind::Design),
            Ok(pb::ItemKind::Unspecified) => Err(EnumError::Unspecified),
            Err(_) => Err(EnumError::Unknown(value)),
        }
    }

    /// The protobuf value.
    pub fn to_proto(self) -> i32 {
        (match self {
            ItemKind::Article => pb::ItemKind::Article,
            ItemKind::Video => pb::ItemKind::Video,
            ItemKind::Music => pb::ItemKind::Music,
            ItemKind::Image => pb::ItemKind::Image,
            ItemKind::Design => pb::ItemKind::Design,
        }) as i32
    }
}

impl Origin {
    /// Reads the protobuf value.
    pub fn from_proto(value: i32) -> Result<Self, EnumError> {
        match pb::Origin::try_from(value) {
            Ok(pb::Origin::Human) => Ok(Origin::Human),
            Ok(pb::Origin::AiEdited) => Ok(Origin::AiEdited),
            Ok(pb::Origin::AiCreated) => Ok(Origin::AiCreated),
            Ok(pb::Origin::Unspecified) => Err(EnumError::Unspecified),
            Err(_) => Err(EnumError::Unknown(value)),
        }
    }

    /// The protobuf value.
    pub fn to_proto(self) -> i32 {
        (match self {
            Origin::Human => pb::Origin::Human,
            Origin::AiEdited => pb::Origin::AiEdited,
            Origin::AiCreated => pb::Origin::AiCreated,
        }) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_origin_round_trips_through_proto() {
        for kind in ItemKind::ALL {
            assert_eq!(ItemKind::from_proto(kind.to_proto()), Ok(kind));
        }
        for origin in [Origin::Human, Origin::AiEdited, Origin::AiCreated] {
            assert_eq!(Origin::from_proto(origin.to_proto()), Ok(origin));
        }
        assert_eq!(ItemKind::from_proto(0), Err(EnumError::Unspecified));
        assert_eq!(Origin::from_proto(77), Err(EnumError::Unknown(77)));
    }
}
