//! The `[generation]` configuration and the assembly of a [`Generation`]
//! core from it: which models are loaded, which back-end is the default,
//! where the corpus is.
//!
//! Models are optional. When a model's files are missing the service still
//! starts, logs which back-ends are active, and serves with the composer and
//! lexical relevance.

use std::path::PathBuf;
use std::sync::Arc;

use generec_models::lm::{ChatMessage, GenerateOptions, LanguageModel};
use generec_models::watermark::WatermarkConfig;
use generec_models::{ModelDir, embed::Embedder};
use serde::{Deserialize, Serialize};

use crate::composer::ComposerConfig;
use crate::editor::Editor;
use crate::instructor::{Instructor, InstructorConfig};
use crate::openai::{OpenAiClient, OpenAiConfig};
use crate::relevance::{Embed, Scorer};
use crate::service::{Backend, Generation, ModelText, Parts, TextModel};
use crate::tone::ToneLexicon;

/// The embedded language model's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedConfig {
    /// Load the model when its file is present.
    pub enabled: bool,
    /// The GGUF file; empty: `<models>/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`.
    pub model_path: String,
    pub temperature: f32,
    pub top_p: f32,
    /// Green-list fraction and logit bias of the statistical watermark.
    pub watermark_gamma: f32,
    pub watermark_delta: f32,
    /// The watermark key; whoever holds it can detect the watermark.
    pub watermark_key: u64,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            enabled: true,
            model_path: String::new(),
            temperature: 0.8,
            top_p: 0.95,
            watermark_gamma: 0.25,
            watermark_delta: 2.0,
            watermark_key: 0x6765_6e65_7265_6321,
        }
    }
}

impl EmbeddedConfig {
    pub fn watermark(&self) -> WatermarkConfig {
        WatermarkConfig {
            gamma: self.watermark_gamma,
            delta: self.watermark_delta,
            key: self.watermark_key,
        }
    }
}

/// The `[generation]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerationConfig {
    /// The corpus service the facts come from.
    pub corpus_url: String,
    /// Environment variable holding a bearer token for the corpus.
    pub corpus_token_env: String,
    /// A bearer token for the corpus given by whoever assembles the service
    /// (`generec up`); when set it is used instead of `corpus_token_env`.
    /// Never read from or written to a file.
    #[serde(skip)]
    pub corpus_token: Option<generec_common::auth::BearerToken>,
    /// Where models live; empty: `$GENEREC_MODELS`, `$GENEREC_DATA/models`
    /// or `./.data/models`.
    pub models_dir: String,
    /// Use the sentence-embedding model for relevance when present.
    pub embeddings: bool,
    /// composer, embedded or openai.
    pub default_backend: Backend,
    /// Most tokens a model back-end writes per request.
    pub max_tokens: u32,
    /// Skips or dislikes in a row that make the instructor create.
    pub rejection_streak: u32,
    /// Below this relevance no candidate serves a request.
    pub min_relevance: f32,
    pub embedded: EmbeddedConfig,
    pub openai: OpenAiConfig,
    /// A trust bundle (TOML file) whose `[copyright.licence]` rules the
    /// creator plans its drafts against: how much each source may give
    /// verbatim, and attribution. Empty: the built-in rules, which are the
    /// default bundle's. `generec up` sets it to `[trust] bundle`. Read at
    /// start; a bundle reloaded into trust later reaches the creator at its
    /// next start (until then trust holds drafts to the new rules).
    pub licence_bundle: String,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        GenerationConfig {
            corpus_url: "http://127.0.0.1:50051".into(),
            corpus_token_env: "GENEREC_CORPUS_TOKEN".into(),
            corpus_token: None,
            models_dir: String::new(),
            embeddings: true,
            default_backend: Backend::Composer,
            max_tokens: 256,
            rejection_streak: InstructorConfig::default().rejection_streak,
            min_relevance: InstructorConfig::default().min_relevance,
            embedded: EmbeddedConfig::default(),
            openai: OpenAiConfig::default(),
            licence_bundle: String::new(),
        }
    }
}

/// Why the service could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("generation config: {0}")]
    Invalid(String),
    #[error("loading {what} from {path}: {reason}")]
    Model {
        what: &'static str,
        path: String,
        reason: String,
    },
}

/// MiniLM as the instructor's and editor's [`Embed`].
pub struct MiniLm(pub Embedder);

impl Embed for MiniLm {
    fn id(&self) -> &str {
        Embedder::id()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        self.0.embed(texts).map_err(|e| e.to_string())
    }
}

/// Loaded models, shareable between services in one process.
#[derive(Clone, Default)]
pub struct Models {
    pub lm: Option<Arc<LanguageModel>>,
    pub embedder: Option<Arc<dyn Embed>>,
    pub lexicon: Option<ToneLexicon>,
}

impl GenerationConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_tokens == 0 || self.max_tokens > 1024 {
            return Err("max_tokens must be in 1..=1024".into());
        }
        InstructorConfig {
            rejection_streak: self.rejection_streak,
            min_relevance: self.min_relevance,
            ..InstructorConfig::default()
        }
        .validate()?;
        self.embedded
            .watermark()
            .validate()
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The licence rules the creator plans against (`licence_bundle`).
    pub fn licence_policy(&self) -> Result<generec_licence::Policy, ConfigError> {
        if self.licence_bundle.trim().is_empty() {
            return Ok(generec_licence::Policy::default());
        }
        std::fs::read_to_string(&self.licence_bundle)
            .map_err(|e| e.to_string())
            .and_then(|text| generec_licence::Policy::from_bundle(&text))
            .map_err(|e| {
                ConfigError::Invalid(format!("licence_bundle {}: {e}", self.licence_bundle))
            })
    }

    fn model_dir(&self) -> ModelDir {
        if self.models_dir.is_empty() {
            ModelDir::discover()
        } else {
            ModelDir::new(PathBuf::from(&self.models_dir))
        }
    }

    /// Loads the models whose files are present (and enabled).
    pub fn load_models(&self) -> Result<Models, ConfigError> {
        self.validate().map_err(ConfigError::Invalid)?;
        let dir = self.model_dir();
        let lexicon = match dir.vader_lexicon() {
            Some(path) => ToneLexicon::load(&path).map_err(|e| ConfigError::Model {
                what: "tone lexicon",
                path: path.display().to_string(),
                reason: e.to_string(),
            })?,
            None => ToneLexicon::builtin(),
        };
        let embedder: Option<Arc<dyn Embed>> = match (self.embeddings, dir.minilm()) {
            (true, Some(path)) => Some(Arc::new(MiniLm(Embedder::load(&path).map_err(|e| {
                ConfigError::Model {
                    what: "embedding model",
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }
            })?))),
            _ => None,
        };
        let lm_path = if self.embedded.model_path.is_empty() {
            dir.smollm2_gguf()
        } else {
            Some(PathBuf::from(&self.embedded.model_path))
        };
        let lm = match (self.embedded.enabled, lm_path) {
            (true, Some(path)) => Some(Arc::new(LanguageModel::load(&path).map_err(|e| {
                ConfigError::Model {
                    what: "language model",
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }
            })?)),
            _ => None,
        };
        Ok(Models {
            lm,
            embedder,
            lexicon: Some(lexicon),
        })
    }

    /// Assembles the core: loads the models that are present, connects
    /// (lazily) to the corpus, and logs which back-ends are active.
    pub fn open(&self) -> Result<Generation, ConfigError> {
        self.open_with(self.load_models()?)
    }

    /// Assembles the core over models already loaded.
    pub fn open_with(&self, models: Models) -> Result<Generation, ConfigError> {
        self.validate().map_err(ConfigError::Invalid)?;
        let openai =
            OpenAiClient::new(&self.openai).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let scorer = match &models.embedder {
            Some(e) => Scorer::with_embedding(e.clone()),
            None => Scorer::lexical(),
        };
        let lexicon = models.lexicon.unwrap_or_else(ToneLexicon::builtin);
        let mut editor = Editor::new(lexicon);
        if let Some(e) = models.embedder.clone() {
            editor = editor.with_embedder(move |texts| e.embed(texts).ok());
        }
        let embedded: Option<Arc<dyn TextModel>> = models.lm.map(|lm| {
            Arc::new(SharedModel {
                model: lm,
                config: self.embedded.clone(),
            }) as Arc<dyn TextModel>
        });
        let default_backend = match self.default_backend {
            Backend::Embedded if embedded.is_none() => {
                tracing::warn!(
                    "default back-end is embedded but no model is loaded; using the composer"
                );
                Backend::Composer
            }
            Backend::Openai if openai.is_none() => {
                return Err(ConfigError::Invalid(
                    "default_backend = openai needs [generation.openai] base_url".into(),
                ));
            }
            b => b,
        };
        let channel = tonic::transport::Endpoint::from_shared(self.corpus_url.clone())
            .map_err(|e| ConfigError::Invalid(format!("corpus_url {:?}: {e}", self.corpus_url)))?
            .connect_lazy();
        let corpus_token = self
            .corpus_token
            .as_ref()
            .map(|t| t.reveal().to_string())
            .or_else(|| {
                std::env::var(&self.corpus_token_env)
                    .ok()
                    .filter(|t| !t.is_empty())
            });
        let mut instructor = Instructor::new(InstructorConfig {
            rejection_streak: self.rejection_streak,
            min_relevance: self.min_relevance,
            ..InstructorConfig::default()
        });
        if let Some(e) = models.embedder.clone() {
            instructor = instructor.with_embedding(e);
        }
        let core = Generation::new(Parts {
            instructor,
            editor,
            scorer,
            composer: ComposerConfig {
                licence: self.licence_policy()?,
                ..ComposerConfig::default()
            },
            embedded,
            openai,
            default_backend,
            max_tokens: self.max_tokens,
            corpus: Arc::new(
                crate::corpus::RemoteCorpus::new(channel, corpus_token.as_deref())
                    .map_err(ConfigError::Invalid)?,
            ),
        });
        tracing::info!(
            generators = ?core.generators(),
            relevance = %core.relevance(),
            tone_lexicon = %core.tone_lexicon(),
            default_backend = core.default_backend().as_str(),
            "generation back-ends"
        );
        Ok(core)
    }
}

/// The embedded model shared by reference (one set of weights per process).
struct SharedModel {
    model: Arc<LanguageModel>,
    config: EmbeddedConfig,
}

impl TextModel for SharedModel {
    fn id(&self) -> String {
        LanguageModel::id().to_string()
    }

    fn generate(
        &self,
        system: &str,
        user: &str,
        max_tokens: u32,
        seed: u64,
    ) -> Result<ModelText, String> {
        generate_with(&self.model, &self.config, system, user, max_tokens, seed)
    }
}

fn generate_with(
    model: &LanguageModel,
    config: &EmbeddedConfig,
    system: &str,
    user: &str,
    max_tokens: u32,
    seed: u64,
) -> Result<ModelText, String> {
    let watermark = config.watermark();
    let options = GenerateOptions {
        max_tokens: max_tokens.max(1) as usize,
        temperature: config.temperature,
        top_p: config.top_p,
        seed,
        watermark: Some(watermark),
    };
    let messages = [ChatMessage::system(system), ChatMessage::user(user)];
    let out = model
        .generate(&messages, &options)
        .map_err(|e| e.to_string())?;
    let z = generec_models::watermark::detect(&out.token_ids, &watermark).z;
    Ok(ModelText {
        text: out.text,
        completion_tokens: out.completion_tokens as u64,
        seconds: out.seconds,
        watermark_z: z,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_licence_rules_come_from_the_named_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.toml");
        std::fs::write(
            &path,
            "[copyright.licence.allow]\nreserved = { use = \"quote\", max_words = 3, attribution = true }\n",
        )
        .unwrap();
        let cfg = GenerationConfig {
            licence_bundle: path.display().to_string(),
            ..GenerationConfig::default()
        };
        let policy = cfg.licence_policy().unwrap();
        assert_eq!(
            policy.allowance(generec_licence::Class::Reserved).max_words,
            3
        );
        assert_eq!(
            GenerationConfig::default().licence_policy().unwrap(),
            generec_licence::Policy::default()
        );
        let missing = GenerationConfig {
            licence_bundle: dir.path().join("absent.toml").display().to_string(),
            ..GenerationConfig::default()
        };
        let err = missing.licence_policy().unwrap_err().to_string();
        assert!(err.contains("licence_bundle"), "{err}");
    }
}
