//! Where the model files live.
//!
//! `scripts/fetch-models` unpacks them (from PyPI wheels) into
//! `<data>/models/{smollm2,minilm,vader}`. [`ModelDir::from_env`] finds that
//! folder: `$GENEREC_MODELS` if set, else `$GENEREC_DATA/models`, else
//! `<current dir>/.data/models`. The helpers return `None` when a model's
//! files are absent, so callers (and tests) can degrade gracefully.

use std::path::{Path, PathBuf};

/// File name of the SmolLM2 GGUF inside `models/smollm2/`.
pub const SMOLLM2_GGUF: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Files that make up the MiniLM folder `models/minilm/`.
pub const MINILM_FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];
/// File name of the VADER lexicon inside `models/vader/`.
pub const VADER_LEXICON: &str = "vader_lexicon.txt";

/// The root folder holding one sub-folder per model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDir {
    root: PathBuf,
}

impl ModelDir {
    /// A model folder at an explicit path.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Resolves the folder from the environment: `$GENEREC_MODELS`, else
    /// `$GENEREC_DATA/models`, else `<cwd>/.data/models` (empty variables
    /// count as unset).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let root = if let Some(models) = var("GENEREC_MODELS") {
            PathBuf::from(models)
        } else if let Some(data) = var("GENEREC_DATA") {
            PathBuf::from(data).join("models")
        } else {
            std::env::current_dir()
                .unwrap_or_else(|_| PathBuf::from("."))
                .join(".data")
                .join("models")
        };
        Self { root }
    }

    /// Like [`ModelDir::from_env`], but when nothing is set and
    /// `<cwd>/.data/models` does not exist, walks up from the current
    /// directory to the first ancestor that has `.data/models` (tests run in
    /// the crate's folder, the data sits at the workspace root).
    pub fn discover() -> Self {
        let from_env = Self::from_env();
        let env_set = ["GENEREC_MODELS", "GENEREC_DATA"]
            .iter()
            .any(|n| std::env::var_os(n).is_some_and(|v| !v.is_empty()));
        if env_set || from_env.root.is_dir() {
            return from_env;
        }
        if let Ok(cwd) = std::env::current_dir() {
            for dir in cwd.ancestors() {
                let candidate = dir.join(".data").join("models");
                if candidate.is_dir() {
                    return Self::new(candidate);
                }
            }
        }
        from_env
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`, if it exists.
    pub fn smollm2_gguf(&self) -> Option<PathBuf> {
        let path = self.root.join("smollm2").join(SMOLLM2_GGUF);
        path.is_file().then_some(path)
    }

    /// `models/minilm/`, if all of its files exist.
    pub fn minilm(&self) -> Option<PathBuf> {
        let dir = self.root.join("minilm");
        MINILM_FILES
            .iter()
            .all(|f| dir.join(f).is_file())
            .then_some(dir)
    }

    /// `models/vader/vader_lexicon.txt`, if it exists.
    pub fn vader_lexicon(&self) -> Option<PathBuf> {
        let path = self.root.join("vader").join(VADER_LEXICON);
        path.is_file().then_some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_give_none() {
        let dir = ModelDir::new("/nonexistent/generec/models");
        assert_eq!(dir.root(), Path::new("/nonexistent/generec/models"));
        assert!(dir.smollm2_gguf().is_none());
        assert!(dir.minilm().is_none());
        assert!(dir.vader_lexicon().is_none());
    }

    #[test]
    fn present_files_are_found() {
        let tmp = std::env::temp_dir().join(format!("generec-models-paths-{}", std::process::id()));
        let minilm = tmp.join("minilm");
        std::fs::create_dir_all(&minilm).unwrap();
        for f in &MINILM_FILES[..2] {
            std::fs::write(minilm.join(f), b"x").unwrap();
        }
        let dir = ModelDir::new(&tmp);
        assert!(dir.minilm().is_none(), "one file is still missing");
        std::fs::write(minilm.join(MINILM_FILES[2]), b"x").unwrap();
        assert_eq!(dir.minilm(), Some(minilm));
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
