//! Readers for the datasets `generec load` ingests: items as JSON lines,
//! the BBC News corpus (one text file per article), and MovieLens 100K
//! (movies as items, ratings as feedback events).
//!
//! Readers only parse; writing goes through the normal PutItems and
//! RecordFeedback paths, with their validation.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::error::CorpusError;
use crate::model::{EventType, FeedbackEvent, Item, ItemId, ItemKind, Origin, UserId};

/// Reads items from JSON lines (the stored item shape: `id`, `kind`,
/// `title`, `body`, `tags`, `creator_id`, `origin`, `licence`, ...). Blank
/// lines are skipped; a bad line is an error naming its line number.
pub fn read_jsonl(reader: impl BufRead) -> Result<Vec<Item>, CorpusError> {
    let mut items = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let item: Item = serde_json::from_str(&line)
            .map_err(|e| CorpusError::invalid(&format!("line {}", n + 1), e.to_string()))?;
        items.push(item);
    }
    Ok(items)
}

/// Reads the BBC News corpus from `dir/<category>/NNN.txt` (line 1 the
/// title, then the body); each sub-folder is a category and becomes the
/// items' tag. Ids are `bbc-<category>-NNN`; files that are not valid UTF-8
/// are decoded as Latin-1.
pub fn read_bbc(dir: &Path) -> Result<Vec<Item>, CorpusError> {
    let mut categories: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| CorpusError::invalid("bbc", format!("cannot read {}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    categories.sort();
    if categories.is_empty() {
        return Err(CorpusError::invalid(
            "bbc",
            format!("{} has no category folders", dir.display()),
        ));
    }
    let mut items = Vec::new();
    for category in &categories {
        let cat_dir = dir.join(category);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&cat_dir)
            .map_err(|e| {
                CorpusError::invalid("bbc", format!("cannot read {}: {e}", cat_dir.display()))
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        for (n, path) in files.iter().enumerate() {
            let bytes = std::fs::read(path)?;
            let text = match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
            };
            let mut lines = text.lines();
            let title = lines.next().unwrap_or_default().trim().to_string();
            let body = lines.collect::<Vec<_>>().join("\n").trim().to_string();
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("0");
            items.push(Item {
                id: ItemId::parse(&format!("bbc-{category}-{stem}"))?,
                kind: ItemKind::Article,
                title,
                body,
                segments: Vec::new(),
                tags: vec![category.to_string()],
                creator_id: "bbc-news".into(),
                origin: Origin::Human,
                parent_ids: Vec::new(),
                licence: "all-rights-reserved".into(),
                // Spread publication times one hour apart so time filters have something to do.
                created_unix_ms: 1_104_537_600_000 + (items.len() as i64) * 3_600_000 + n as i64,
                content_sha256: String::new(),
                provenance_manifest: Vec::new(),
            });
        }
    }
    Ok(items)
}

/// MovieLens 100K as items and rating events.
pub struct MovieLens {
    pub items: Vec<Item>,
    pub events: Vec<FeedbackEvent>,
}

/// The item id of a MovieLens movie.
pub fn movielens_item_id(raw: &str) -> String {
    format!("ml-{raw}")
}

/// The user id of a MovieLens user.
pub fn movielens_user_id(raw: &str) -> String {
    format!("ml-user-{raw}")
}

fn tsv_rows(path: &Path) -> Result<Vec<Vec<String>>, CorpusError> {
    let file = std::fs::File::open(path).map_err(|e| {
        CorpusError::invalid("movielens", format!("cannot read {}: {e}", path.display()))
    })?;
    let mut rows = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if n == 0 || line.trim().is_empty() {
            continue; // header
        }
        rows.push(line.split('\t').map(str::to_string).collect());
    }
    Ok(rows)
}

/// Reads `ml-100k.item` and `ml-100k.inter` (RecBole's atomic files) from
/// `dir`. Movies become video items tagged with their genres; each rating
/// becomes a rating event at its timestamp.
pub fn read_movielens(dir: &Path) -> Result<MovieLens, CorpusError> {
    let mut items = Vec::new();
    for row in tsv_rows(&dir.join("ml-100k.item"))? {
        let (Some(id), Some(title)) = (row.first(), row.get(1)) else {
            continue;
        };
        let year = row.get(2).cloned().unwrap_or_default();
        let genres: Vec<String> = row
            .get(3)
            .map(|g| g.split_whitespace().map(|s| s.to_lowercase()).collect())
            .unwrap_or_default();
        let title = if title.trim().is_empty() {
            format!("Movie {id}")
        } else {
            title.clone()
        };
        items.push(Item {
            id: ItemId::parse(&movielens_item_id(id))?,
            kind: ItemKind::Video,
            body: format!("{title} ({year}). Genres: {}.", genres.join(", ")),
            title,
            segments: Vec::new(),
            tags: genres,
            creator_id: "movielens".into(),
            origin: Origin::Human,
            parent_ids: Vec::new(),
            licence: "all-rights-reserved".into(),
            created_unix_ms: 0,
            content_sha256: String::new(),
            provenance_manifest: Vec::new(),
        });
    }
    let mut events = Vec::new();
    for (n, row) in tsv_rows(&dir.join("ml-100k.inter"))?
        .into_iter()
        .enumerate()
    {
        let bad = || {
            CorpusError::invalid(
                "movielens",
                format!("ml-100k.inter row {}: malformed", n + 2),
            )
        };
        let [user, item, rating, ts] = row.as_slice() else {
            return Err(bad());
        };
        events.push(FeedbackEvent {
            user: UserId::parse(&movielens_user_id(user))?,
            item: ItemId::parse(&movielens_item_id(item))?,
            kind: EventType::Rating,
            value: rating.parse().map_err(|_| bad())?,
            timestamp_unix_ms: ts.parse::<f64>().map_err(|_| bad())? as i64 * 1000,
        });
    }
    Ok(MovieLens { items, events })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_reads_items_and_names_the_bad_line() {
        let good =
            r#"{"id":"a","kind":"article","title":"T","origin":"human","licence":"CC-BY-4.0"}"#;
        let items = read_jsonl(format!("{good}\n\n").as_bytes()).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].id.as_str(), "a");
        let err = read_jsonl(format!("{good}\n{{\"id\":1}}\n").as_bytes()).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn bbc_files_become_tagged_articles_and_latin1_is_decoded() {
        let dir = tempfile::tempdir().unwrap();
        for cat in ["tech", "sport"] {
            std::fs::create_dir_all(dir.path().join(cat)).unwrap();
        }
        std::fs::write(
            dir.path().join("tech/001.txt"),
            "Chips get faster\n\nA body.\nMore.",
        )
        .unwrap();
        std::fs::write(dir.path().join("sport/002.txt"), b"Caf\xe9 wins\n\nBody").unwrap();
        let items = read_bbc(dir.path()).unwrap();
        assert_eq!(items.len(), 2);
        let tech = items
            .iter()
            .find(|i| i.id.as_str() == "bbc-tech-001")
            .unwrap();
        assert_eq!(tech.title, "Chips get faster");
        assert_eq!(tech.body, "A body.\nMore.");
        assert_eq!(tech.tags, vec!["tech"]);
        let sport = items
            .iter()
            .find(|i| i.id.as_str() == "bbc-sport-002")
            .unwrap();
        assert_eq!(sport.title, "Café wins");
    }
}
