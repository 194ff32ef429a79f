//! The generation service's core: validates requests, reads items and facts
//! from the corpus, and runs the instructor, the editor and the creator's
//! back-ends. The gRPC skin (`grpc`) only converts messages.
//!
//! # Back-ends
//! - `composer` (always on): the grounded composer ([`crate::composer`]).
//! - `embedded`: a language model run in-process ([`TextModel`], over
//!   `generec-models`' SmolLM2), prompted with the facts the composer picked;
//!   its sentences are then attributed to those facts or flagged
//!   ([`crate::attribute`]). Its sampler applies a statistical watermark.
//! - `openai`: an OpenAI-compatible endpoint ([`crate::openai`]), prompted the
//!   same way.
//!
//! Relevance uses sentence embeddings when an embedding model is loaded and
//! TF-IDF otherwise ([`crate::relevance`]).
//!
//! # Deadlines
//! Every corpus call carries the time left before the caller's deadline,
//! and the model back-ends get the same bound; a request whose deadline has
//! passed fails with `Unavailable` rather than running on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::attribute::attribute;
use crate::composer::{self, ComposeInput, ComposerConfig, Composition, SourceDoc};
use crate::corpus::{CorpusApi, CorpusItem, FactSearch};
use crate::draft::{self, Attribution, Draft, Parent, SourcePassage};
use crate::editor::{self, EditOp, EditOutput, Editor, SourceItem, UserProfile};
use crate::error::GenerationError;
use crate::guidance::{
    Format, Guidance, InterpretInput, Interpretation, Length, LengthUnit, TopicWeight,
};
use crate::instructor::Instructor;
use crate::openai::{Message, OpenAiClient};
use crate::relevance::Scorer;
use crate::text;
use generec_common::types::{ItemKind, Origin};

/// Request limits.
pub const MAX_INSTRUCTION_BYTES: usize = 4096;
pub const MAX_SIGNALS: usize = 256;
pub const MAX_LIKED: usize = 64;
pub const MAX_SOURCES: usize = 32;
pub const DEFAULT_SOURCES: usize = 12;
const MAX_ID_BYTES: usize = 256;

/// A language model that writes text from a prompt.
pub trait TextModel: Send + Sync {
    /// e.g. "SmolLM2-135M-Instruct-Q4_1".
    fn id(&self) -> String;
    /// Writes an answer to `user` under `system`. Blocking.
    fn generate(
        &self,
        system: &str,
        user: &str,
        max_tokens: u32,
        seed: u64,
    ) -> Result<ModelText, String>;
}

/// What a language model wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelText {
    pub text: String,
    pub completion_tokens: u64,
    pub seconds: f64,
    /// The watermark z-score of the output (0 when none is applied).
    pub watermark_z: f64,
}

/// Which back-end writes a new item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Composer,
    Embedded,
    Openai,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Composer => "composer",
            Backend::Embedded => "embedded",
            Backend::Openai => "openai",
        }
    }
}

/// The parts a [`Generation`] is built from.
pub struct Parts {
    pub instructor: Instructor,
    pub editor: Editor,
    pub scorer: Scorer,
    pub composer: ComposerConfig,
    pub embedded: Option<Arc<dyn TextModel>>,
    pub openai: Option<OpenAiClient>,
    pub default_backend: Backend,
    /// Tokens the model back-ends may write at most.
    pub max_tokens: u32,
    /// The corpus (over gRPC in the service; in memory in tests).
    pub corpus: Arc<dyn CorpusApi>,
}

/// The service core.
pub struct Generation {
    /// Shared with the blocking pool, where the model work runs (see
    /// [`Generation::blocking`]).
    parts: Arc<Parts>,
}

/// An edit request, validated by [`Generation::edit`].
#[derive(Clone, Debug, Default)]
pub struct EditArgs {
    pub user_id: String,
    pub item_id: String,
    pub guidance: Guidance,
    pub instruction: String,
    pub liked_item_ids: Vec<String>,
    pub owner_consent: bool,
}

/// A create request, validated by [`Generation::create`].
#[derive(Clone, Debug, Default)]
pub struct CreateArgs {
    pub user_id: String,
    pub guidance: Guidance,
    pub instruction: String,
    /// `None`: the configured default.
    pub backend: Option<Backend>,
    pub liked_item_ids: Vec<String>,
    /// 0: the default.
    pub max_sources: usize,
}

fn check_id(field: &str, id: &str) -> Result<(), GenerationError> {
    if id.len() > MAX_ID_BYTES {
        return Err(GenerationError::invalid(
            field,
            format!("longer than {MAX_ID_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn check_instruction(instruction: &str) -> Result<(), GenerationError> {
    if instruction.len() > MAX_INSTRUCTION_BYTES {
        return Err(GenerationError::invalid(
            "instruction",
            format!(
                "{} bytes, more than the limit of {MAX_INSTRUCTION_BYTES}",
                instruction.len()
            ),
        ));
    }
    Ok(())
}

fn check_liked(ids: &[String]) -> Result<(), GenerationError> {
    if ids.len() > MAX_LIKED {
        return Err(GenerationError::invalid(
            "liked_item_ids",
            format!("{} ids, more than the limit of {MAX_LIKED}", ids.len()),
        ));
    }
    ids.iter().try_for_each(|id| check_id("liked_item_ids", id))
}

fn check_guidance(g: &Guidance) -> Result<(), GenerationError> {
    let lists: [(&'static str, &[TopicWeight]); 4] = [
        ("guidance.include", &g.include),
        ("guidance.exclude", &g.exclude),
        ("guidance.include_categories", &g.include_categories),
        ("guidance.exclude_categories", &g.exclude_categories),
    ];
    for (field, list) in lists {
        for t in list {
            if !(t.weight > 0.0 && t.weight <= 1.0) {
                return Err(GenerationError::invalid(
                    field,
                    format!("weight of {:?} must be in (0, 1]", t.topic),
                ));
            }
            if t.topic.trim().is_empty() || t.topic.len() > 128 {
                return Err(GenerationError::invalid(
                    field,
                    "topics must be 1 to 128 bytes",
                ));
            }
        }
    }
    if g.include.len() + g.exclude.len() > 64 {
        return Err(GenerationError::invalid(
            "guidance.include",
            "at most 64 topics in include and exclude together",
        ));
    }
    if g.include_categories.len() + g.exclude_categories.len() > 64 {
        return Err(GenerationError::invalid(
            "guidance.include_categories",
            "at most 64 categories in include_categories and exclude_categories together",
        ));
    }
    if let Some(l) = g.length
        && (l.value > 100_000 || !(0.0..=10.0).contains(&l.relative))
    {
        return Err(GenerationError::invalid(
            "guidance.length",
            "value at most 100000 and relative in [0, 10]",
        ));
    }
    if g.fact_query.len() > MAX_INSTRUCTION_BYTES
        || g.imitate.as_ref().is_some_and(|s| s.len() > 256)
    {
        return Err(GenerationError::invalid(
            "guidance.fact_query",
            "fact_query at most 4 KiB and imitate at most 256 bytes",
        ));
    }
    if let Some(t) = &g.target_item {
        check_id("guidance.target_item", t)?;
    }
    Ok(())
}

/// The time left before `deadline`, or `Unavailable` when it has passed.
fn remaining(deadline: Option<Instant>) -> Result<Option<Duration>, GenerationError> {
    match deadline {
        None => Ok(None),
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                Err(GenerationError::Unavailable(
                    "the request's deadline passed".into(),
                ))
            } else {
                Ok(Some(left))
            }
        }
    }
}

impl Generation {
    pub fn new(parts: Parts) -> Generation {
        Generation {
            parts: Arc::new(parts),
        }
    }

    /// The generators that can run: "composer", "embedded:<model>", "openai:<model>".
    pub fn generators(&self) -> Vec<String> {
        let mut out = vec!["composer".to_string()];
        if let Some(m) = &self.parts.embedded {
            out.push(format!("embedded:{}", m.id()));
        }
        if let Some(o) = &self.parts.openai {
            out.push(o.id());
        }
        out
    }

    /// "lexical" or "embedding:<model>".
    pub fn relevance(&self) -> String {
        self.parts.scorer.describe()
    }

    /// The tone lexicon in use.
    pub fn tone_lexicon(&self) -> String {
        self.parts.editor.lexicon().source().to_string()
    }

    pub fn default_backend(&self) -> Backend {
        self.parts.default_backend
    }

    /// Runs `work` (embedding, composing, editing: milliseconds to seconds
    /// of CPU) on tokio's blocking pool, so a request never holds one of
    /// the runtime's few worker threads while other requests wait.
    async fn blocking<T, F>(&self, work: F) -> Result<T, GenerationError>
    where
        T: Send + 'static,
        F: FnOnce(&Parts) -> Result<T, GenerationError> + Send + 'static,
    {
        let parts = self.parts.clone();
        tokio::task::spawn_blocking(move || work(&parts))
            .await
            .map_err(|e| GenerationError::Internal(format!("model task: {e}")))?
    }

    /// Runs the instructor.
    pub fn interpret(&self, input: &InterpretInput) -> Result<Interpretation, GenerationError> {
        check_instruction(&input.instruction)?;
        check_id("user_id", &input.user_id)?;
        if input.feedback.len() > MAX_SIGNALS {
            return Err(GenerationError::invalid(
                "feedback",
                format!("at most {MAX_SIGNALS} signals"),
            ));
        }
        if input.candidates.len() > MAX_SIGNALS {
            return Err(GenerationError::invalid(
                "candidates",
                format!("at most {MAX_SIGNALS} candidates"),
            ));
        }
        if let Some(c) = &input.context_item {
            check_id("context_item_id", c)?;
        }
        Ok(self.parts.instructor.interpret(input))
    }

    async fn get_item(
        &self,
        id: &str,
        deadline: Option<Instant>,
    ) -> Result<CorpusItem, GenerationError> {
        remaining(deadline)?;
        self.parts
            .corpus
            .get_item(id, deadline)
            .await
            .map_err(|e| GenerationError::from_remote(e, "item", id, "item_id"))
    }

    /// Titles and openings of the items a user liked; unknown ids are
    /// skipped (an item may have been taken down).
    async fn profile_texts(
        &self,
        ids: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<String>, GenerationError> {
        let mut out = Vec::new();
        for id in ids {
            match self.get_item(id, deadline).await {
                Ok(item) => {
                    let opening: Vec<String> = text::sentences(&item.body)
                        .into_iter()
                        .take(2)
                        .map(|s| s.text)
                        .collect();
                    let mut t = item.title.clone();
                    for s in &item.segments {
                        t.push(' ');
                        t.push_str(&s.text);
                    }
                    out.push(format!("{t}. {}", opening.join(" ")));
                }
                Err(GenerationError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Repurposes an item.
    pub async fn edit(
        &self,
        args: EditArgs,
        deadline: Option<Instant>,
    ) -> Result<Draft, GenerationError> {
        check_instruction(&args.instruction)?;
        check_guidance(&args.guidance)?;
        check_liked(&args.liked_item_ids)?;
        check_id("user_id", &args.user_id)?;
        let item_id = if !args.item_id.is_empty() {
            args.item_id.clone()
        } else {
            args.guidance.target_item.clone().unwrap_or_default()
        };
        if item_id.is_empty() {
            return Err(GenerationError::invalid(
                "item_id",
                "must name the item to edit (or set guidance.target_item)",
            ));
        }
        check_id("item_id", &item_id)?;
        let item = self.get_item(&item_id, deadline).await?;
        // Refuse before any other work when the licence forbids derivatives.
        editor::licence_allows_derivatives(&item.licence, args.owner_consent)?;
        let ops = edit_ops(&args.guidance, &item.body);
        if ops.is_empty() {
            return Err(GenerationError::invalid(
                "guidance",
                "nothing to edit: ask for a length, a tone, topics, a clip or a thumbnail",
            ));
        }
        let liked = self.profile_texts(&args.liked_item_ids, deadline).await?;
        let kind = item.kind.unwrap_or(ItemKind::Article);
        let source = SourceItem {
            id: item.id.clone(),
            title: item.title.clone(),
            body: item.body.clone(),
            segments: item.segments.clone(),
            tags: item.tags.clone(),
            licence: item.licence.clone(),
            content_sha256: item.content_sha256.clone(),
            owner_consent: args.owner_consent,
        };
        let profile = UserProfile {
            liked_texts: liked,
            include: args.guidance.include.clone(),
            exclude: args.guidance.exclude.clone(),
        };
        let (output, ops) = self
            .blocking(move |parts| {
                let output = parts.editor.edit(&source, &ops, &profile)?;
                Ok((output, ops))
            })
            .await?;
        let parent = Parent {
            id: item.id.clone(),
            licence: item.licence.clone(),
            content_sha256: item.content_sha256.clone(),
            owner_consent: args.owner_consent,
        };
        let mut d = Draft {
            item_id: String::new(),
            kind,
            title: String::new(),
            body: String::new(),
            origin: Origin::AiEdited,
            parents: vec![parent],
            sources: vec![],
            attributions: vec![],
            c2pa_action: "c2pa.edited".into(),
            actions: vec![],
            generator_name: draft::generator_name("editor"),
            generator_version: draft::GENERATOR_VERSION.into(),
            user_id: args.user_id,
            instruction: args.instruction,
            tags: item.tags.clone(),
            edl: None,
            content_sha256: String::new(),
            supported_share: 0.0,
            watermark_z: 0.0,
        };
        match output {
            EditOutput::Text(t) => {
                let source_sentences = text::sentences(&item.body);
                for k in &t.kept {
                    let index = source_sentences
                        .iter()
                        .position(|s| s.start == k.source_start)
                        .unwrap_or(0);
                    let id = format!("{}#{index}", item.id);
                    let passage = item
                        .body
                        .get(k.source_start..k.source_end)
                        .unwrap_or_default()
                        .to_string();
                    d.sources.push(SourcePassage {
                        id: id.clone(),
                        item_id: item.id.clone(),
                        text: passage,
                    });
                    d.attributions.push(Attribution {
                        start: k.start,
                        end: k.end,
                        source_id: id,
                        score: k.score,
                        supported: true,
                        framing: false,
                    });
                }
                d.title = t.title;
                d.body = t.body;
                d.actions = t.actions;
            }
            EditOutput::Clip(edl) | EditOutput::Thumbnail(edl) => {
                let thumbnail = ops.iter().any(|o| matches!(o, EditOp::Thumbnail));
                let transcript: Vec<&str> = edl
                    .segment_indices
                    .iter()
                    .filter_map(|&i| item.segments.get(i))
                    .map(|s| s.text.as_str())
                    .filter(|t| !t.is_empty())
                    .collect();
                d.body = transcript.join(" ");
                if thumbnail {
                    d.kind = ItemKind::Image;
                    d.title = format!("Thumbnail: {}", item.title);
                    d.actions = vec!["thumbnail".into()];
                } else {
                    d.title = format!("Clip: {}", item.title);
                    d.actions = vec!["clip".into()];
                }
                d.c2pa_action = "c2pa.cropped".into();
                d.edl = Some(edl);
            }
        }
        Ok(d.seal())
    }

    /// Finds the documents a creation draws facts from: a corpus search for
    /// the guidance's query over human-made items (generated items are not
    /// used as sources), without items about an excluded topic.
    async fn source_docs(
        &self,
        guidance: &Guidance,
        instruction: &str,
        profile: &[String],
        max_sources: usize,
        deadline: Option<Instant>,
    ) -> Result<(Vec<SourceDoc>, bool), GenerationError> {
        let mut query_words: Vec<String> =
            text::words(&composer::query_text(guidance, instruction))
                .into_iter()
                .filter(|w| {
                    w.len() > 1 && !text::is_stop_word(w) && w.chars().all(char::is_alphanumeric)
                })
                .collect();
        if query_words.is_empty() {
            // No topic asked for: draw on what the user liked.
            query_words = profile
                .iter()
                .flat_map(|p| text::words(p))
                .filter(|w| {
                    w.len() > 3 && !text::is_stop_word(w) && w.chars().all(char::is_alphanumeric)
                })
                .take(16)
                .collect();
        }
        if query_words.is_empty() {
            return Err(GenerationError::invalid(
                "guidance",
                "nothing to create about: give topics, a fact query, an instruction or liked items",
            ));
        }
        query_words.truncate(32);
        let created = (guidance.recency_days > 0)
            .then(|| generec_common::now_unix_ms() - i64::from(guidance.recency_days) * 86_400_000);
        let search = |created_after_unix_ms: Option<i64>| FactSearch {
            query: query_words.join(" "),
            kinds: vec![ItemKind::Article],
            origins: vec![Origin::Human],
            created_after_unix_ms,
            limit: max_sources * 2,
        };
        let searched = |e| GenerationError::from_remote(e, "items", "", "guidance.fact_query");
        remaining(deadline)?;
        let corpus = &self.parts.corpus;
        let mut hits = corpus
            .search(search(created), deadline)
            .await
            .map_err(searched)?;
        let mut relaxed = false;
        if hits.is_empty() && created.is_some() {
            // Nothing that recent (an archive, or a quiet week): the newest
            // facts there are, and the draft says so.
            relaxed = true;
            hits = corpus
                .search(search(None), deadline)
                .await
                .map_err(searched)?;
        }
        let excluded: Vec<String> = guidance.exclude.iter().map(|t| t.topic.clone()).collect();
        let mut docs = Vec::new();
        for hit in hits {
            if docs.len() >= max_sources {
                break;
            }
            let item = match self.get_item(&hit.id, deadline).await {
                Ok(item) => item,
                Err(GenerationError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let tagged_out = item
                .tags
                .iter()
                .any(|t| excluded.iter().any(|x| x.eq_ignore_ascii_case(t)));
            if tagged_out || composer::mentions_any(&item.title, &excluded) {
                continue;
            }
            docs.push(SourceDoc {
                item_id: item.id,
                title: item.title,
                body: item.body,
                tags: item.tags,
                score: hit.score,
                licence: item.licence,
                creator_id: item.creator_id,
            });
        }
        if docs.is_empty() {
            return Err(GenerationError::FailedPrecondition(format!(
                "the corpus holds nothing about {:?} to create from",
                query_words.join(" ")
            )));
        }
        Ok((docs, relaxed))
    }

    /// Composes a new item.
    pub async fn create(
        &self,
        args: CreateArgs,
        deadline: Option<Instant>,
    ) -> Result<Draft, GenerationError> {
        check_instruction(&args.instruction)?;
        check_guidance(&args.guidance)?;
        check_liked(&args.liked_item_ids)?;
        check_id("user_id", &args.user_id)?;
        if args.max_sources > MAX_SOURCES {
            return Err(GenerationError::invalid(
                "max_sources",
                format!("at most {MAX_SOURCES}"),
            ));
        }
        let backend = args.backend.unwrap_or(self.parts.default_backend);
        match backend {
            Backend::Embedded if self.parts.embedded.is_none() => {
                return Err(GenerationError::FailedPrecondition(
                    "the embedded language model is not loaded (run scripts/fetch-data, or see GetBackends)".into(),
                ));
            }
            Backend::Openai if self.parts.openai.is_none() => {
                return Err(GenerationError::FailedPrecondition(
                    "no OpenAI-compatible endpoint is configured ([generation.openai] base_url)"
                        .into(),
                ));
            }
            _ => {}
        }
        let max_sources = if args.max_sources == 0 {
            DEFAULT_SOURCES
        } else {
            args.max_sources
        };
        let profile = self.profile_texts(&args.liked_item_ids, deadline).await?;
        let (docs, recency_relaxed) = self
            .source_docs(
                &args.guidance,
                &args.instruction,
                &profile,
                max_sources,
                deadline,
            )
            .await?;
        let (guidance, instruction) = (args.guidance.clone(), args.instruction.clone());
        let (composition, docs) = self
            .blocking(move |parts| {
                let lexicon = parts.editor.lexicon();
                let tone = guidance.tone;
                let fit = move |s: &str| tone.map_or(0.5, |t| lexicon.fit(lexicon.score(s), t));
                let input = ComposeInput {
                    guidance: &guidance,
                    instruction: &instruction,
                    profile: &profile,
                    docs: &docs,
                    tone_fit: if tone.is_some() { Some(&fit) } else { None },
                };
                let composition = composer::compose(&input, &parts.scorer, &parts.composer)?;
                Ok((composition, docs))
            })
            .await?;
        let tags = topic_tags(&args.guidance, &docs);
        let base = Draft {
            item_id: String::new(),
            kind: ItemKind::Article,
            title: composition.title.clone(),
            body: String::new(),
            origin: Origin::AiCreated,
            parents: vec![],
            sources: vec![],
            attributions: vec![],
            c2pa_action: "c2pa.created".into(),
            actions: vec![],
            generator_name: String::new(),
            generator_version: draft::GENERATOR_VERSION.into(),
            user_id: args.user_id.clone(),
            instruction: args.instruction.clone(),
            tags,
            edl: None,
            content_sha256: String::new(),
            supported_share: 0.0,
            watermark_z: 0.0,
        };
        let mut draft = match backend {
            Backend::Composer => composed_draft(base, composition),
            Backend::Embedded | Backend::Openai => {
                self.written_draft(base, composition, &docs, &args, backend, deadline)
                    .await?
            }
        };
        if recency_relaxed {
            draft.actions.push(format!(
                "recency_relaxed:nothing_in_the_last_{}_days",
                args.guidance.recency_days
            ));
        }
        Ok(draft.seal())
    }

    async fn written_draft(
        &self,
        mut d: Draft,
        composition: Composition,
        docs: &[SourceDoc],
        args: &CreateArgs,
        backend: Backend,
        deadline: Option<Instant>,
    ) -> Result<Draft, GenerationError> {
        let facts: Vec<&composer::Passage> = composition
            .sources
            .iter()
            .filter(|p| !p.id.ends_with("#title"))
            .collect();
        let rules = source_rules(docs, &facts, &self.parts.composer.licence);
        let (system, user) = prompt(&args.guidance, &composition.title, &facts, &rules);
        let max_tokens = token_budget(&args.guidance).min(self.parts.max_tokens);
        let seed = seed_for(&args.user_id, &args.instruction);
        remaining(deadline)?;
        let written = match backend {
            Backend::Embedded => {
                let Some(model) = self.parts.embedded.clone() else {
                    return Err(GenerationError::FailedPrecondition(
                        "the embedded language model is not loaded".into(),
                    ));
                };
                let model_id = model.id();
                let out = self
                    .blocking(move |_| {
                        model
                            .generate(&system, &user, max_tokens, seed)
                            .map_err(|e| GenerationError::Internal(format!("embedded model: {e}")))
                    })
                    .await?;
                d.generator_name = draft::generator_name(&format!("embedded:{model_id}"));
                out
            }
            _ => {
                let Some(client) = &self.parts.openai else {
                    return Err(GenerationError::FailedPrecondition(
                        "no OpenAI-compatible endpoint is configured".into(),
                    ));
                };
                let messages = [
                    Message {
                        role: "system".into(),
                        content: system,
                    },
                    Message {
                        role: "user".into(),
                        content: user,
                    },
                ];
                let c = client
                    .complete(&messages, max_tokens, seed, deadline)
                    .await
                    .map_err(|e| GenerationError::Unavailable(e.to_string()))?;
                d.generator_name = draft::generator_name(&client.id());
                ModelText {
                    text: c.text,
                    completion_tokens: c.completion_tokens,
                    seconds: c.seconds,
                    watermark_z: 0.0,
                }
            }
        };
        let body = clean_model_text(&written.text);
        if body.is_empty() {
            return Err(GenerationError::Unavailable(format!(
                "the {} back-end wrote nothing",
                backend.as_str()
            )));
        }
        d.sources = facts.into_iter().cloned().collect();
        d.attributions = attribute(&body, &d.sources);
        d.body = body;
        d.watermark_z = written.watermark_z;
        d.actions = vec!["select_facts".into(), format!("write:{}", backend.as_str())];
        Ok(d)
    }
}

fn composed_draft(mut d: Draft, c: Composition) -> Draft {
    d.body = c.body;
    d.sources = c.sources;
    d.attributions = c
        .attributions
        .into_iter()
        .map(|a| Attribution {
            start: a.start,
            end: a.end,
            source_id: a.source_id,
            score: a.score,
            supported: true,
            framing: a.framing,
        })
        .collect();
    d.generator_name = draft::generator_name("composer");
    d.actions = vec!["compose".into()];
    d
}

/// The operations an edit runs for the guidance, in order.
pub fn edit_ops(g: &Guidance, body: &str) -> Vec<EditOp> {
    match g.format {
        Some(Format::Clip) => {
            let max_seconds = match g.length {
                Some(Length {
                    unit: LengthUnit::Seconds,
                    value,
                    ..
                }) if value > 0 => f64::from(value),
                _ => 0.0,
            };
            return vec![EditOp::Clip { max_seconds }];
        }
        Some(Format::Thumbnail) => return vec![EditOp::Thumbnail],
        _ => {}
    }
    let mut ops = Vec::new();
    let topics: Vec<String> = g.include.iter().map(|t| t.topic.clone()).collect();
    if !topics.is_empty()
        && text::sentences(body)
            .iter()
            .any(|s| composer::mentions_any(&s.text, &topics))
    {
        ops.push(EditOp::Extract(g.include.clone()));
    }
    match (g.length, g.format) {
        (Some(l), _) => ops.push(EditOp::Condense(l)),
        (None, Some(Format::Summary)) => ops.push(EditOp::Condense(Length {
            unit: LengthUnit::Sentences,
            value: 3,
            relative: 0.0,
        })),
        _ => {}
    }
    if let Some(t) = g.tone {
        ops.push(EditOp::Restyle(t));
    }
    ops
}

/// Tags for a created item: the include topics that are tags of its
/// sources, else the sources' most common tag.
fn topic_tags(g: &Guidance, docs: &[SourceDoc]) -> Vec<String> {
    let mut tags: Vec<String> = g
        .include
        .iter()
        .filter(|t| {
            docs.iter()
                .any(|d| d.tags.iter().any(|x| x.eq_ignore_ascii_case(&t.topic)))
        })
        .map(|t| t.topic.to_ascii_lowercase())
        .collect();
    if tags.is_empty() {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for t in docs.iter().flat_map(|d| &d.tags) {
            *counts.entry(t.as_str()).or_default() += 1;
        }
        if let Some((t, _)) = counts.into_iter().max_by_key(|(_, c)| *c) {
            tags.push(t.to_string());
        }
    }
    tags.push("generated".into());
    tags
}

/// What the licence policy lets a written draft do with one source, in
/// words for the prompt: the source's facts keep their numbers.
struct SourceRule {
    /// The 1-based numbers of the facts taken from this source.
    facts: Vec<usize>,
    text: String,
}

/// One rule per source the facts come from, from the policy the composer
/// plans against (trust's `copyright.source` check holds the draft to it).
fn source_rules(
    docs: &[SourceDoc],
    facts: &[&composer::Passage],
    policy: &generec_licence::Policy,
) -> Vec<SourceRule> {
    let mut rules: Vec<SourceRule> = Vec::new();
    for doc in docs {
        let numbers: Vec<usize> = facts
            .iter()
            .enumerate()
            .filter(|(_, f)| f.item_id == doc.item_id)
            .map(|(i, _)| i + 1)
            .collect();
        if numbers.is_empty() {
            continue;
        }
        let applied = policy.apply(&generec_licence::SourceRights {
            item_id: doc.item_id.clone(),
            licence: doc.licence.clone(),
            creator: doc.creator_id.clone(),
        });
        let a = applied.allowance;
        let mut text = format!("\"{}\"", doc.title.trim());
        if !doc.creator_id.trim().is_empty() {
            text.push_str(&format!(" by {}", doc.creator_id.trim()));
        }
        let licence = if doc.licence.trim().is_empty() {
            "no stated licence"
        } else {
            doc.licence.trim()
        };
        text.push_str(&format!(" ({licence}): "));
        text.push_str(&match (a.use_, a.word_limit()) {
            (generec_licence::Use::None, _) => "do not use it.".to_string(),
            (_, usize::MAX) => "you may quote it.".to_string(),
            (generec_licence::Use::Quote, n) => format!(
                "copy at most {n} of its words word for word in all; say the rest in your own words."
            ),
            (generec_licence::Use::Facts, n) => format!(
                "use its facts in your own words; never copy more than {n} words in a row."
            ),
        });
        if a.attribution && a.use_ != generec_licence::Use::None {
            text.push_str(" Name it in the text (its title or its author).");
        }
        rules.push(SourceRule {
            facts: numbers,
            text,
        });
    }
    rules
}

/// The system and user prompts for a model back-end: the facts, what each
/// source's licence allows, and what to write.
fn prompt(
    g: &Guidance,
    title: &str,
    facts: &[&composer::Passage],
    rules: &[SourceRule],
) -> (String, String) {
    let system =
        "You are a careful news writer. Write only from the numbered facts you are given. \
                  Do not add names, numbers, dates or claims that are not in the facts. \
                  Respect each source's rule on how much may be copied word for word. \
                  Write plain prose without lists or headings."
            .to_string();
    let mut user = String::from("Facts:\n");
    for (i, f) in facts.iter().enumerate() {
        user.push_str(&format!("{}. {}\n", i + 1, f.text));
    }
    if !rules.is_empty() {
        user.push_str("\nSources and their rules:\n");
        for r in rules {
            let numbers: Vec<String> = r.facts.iter().map(usize::to_string).collect();
            user.push_str(&format!("- facts {}: {}\n", numbers.join(", "), r.text));
        }
    }
    let what = match g.format {
        Some(Format::Summary) => "a short summary",
        Some(Format::Digest) => "a news digest",
        _ => "a short article",
    };
    let length = match g.length {
        Some(Length {
            unit: LengthUnit::Sentences,
            value,
            ..
        }) if value > 0 => format!(" in {value} sentences"),
        Some(Length {
            unit: LengthUnit::Words,
            value,
            ..
        }) if value > 0 => format!(" in about {value} words"),
        Some(Length {
            unit: LengthUnit::Seconds,
            value,
            ..
        }) if value > 0 => format!(" that takes about {value} seconds to read"),
        _ => String::new(),
    };
    let tone = g
        .tone
        .map(|t| format!(" in a {} tone", t.as_str()))
        .unwrap_or_default();
    let imitate = g
        .imitate
        .as_ref()
        .map(|s| format!(", in the style of {s}"))
        .unwrap_or_default();
    user.push_str(&format!(
        "\nWrite {what} titled \"{title}\"{length}{tone}{imitate}, using only these facts."
    ));
    (system, user)
}

/// Tokens to ask a model for: about 1.4 tokens a word.
fn token_budget(g: &Guidance) -> u32 {
    let words = match g.length {
        Some(Length {
            unit: LengthUnit::Sentences,
            value,
            ..
        }) if value > 0 => value * 25,
        Some(Length {
            unit: LengthUnit::Words,
            value,
            ..
        }) if value > 0 => value,
        Some(Length {
            unit: LengthUnit::Seconds,
            value,
            ..
        }) if value > 0 => value * 200 / 60,
        _ => match g.format {
            Some(Format::Summary) => 75,
            _ => 150,
        },
    };
    (words as f32 * 1.4) as u32 + 16
}

/// A seed that makes the same request write the same text.
fn seed_for(user: &str, instruction: &str) -> u64 {
    let h = draft::content_hash(user, instruction);
    u64::from_str_radix(&h[..16], 16).unwrap_or(0)
}

/// Drops chat-template debris and list markers, keeps paragraphs.
fn clean_model_text(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let l = line
            .trim()
            .trim_start_matches(['-', '*', '#', '•'])
            .trim_start();
        if l.is_empty() {
            continue;
        }
        out.push(l.replace("<|im_end|>", "").replace("<|im_start|>", ""));
    }
    out.join("\n\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guidance::{Tone, TopicWeight};

    #[test]
    fn the_prompt_states_each_sources_allowance() {
        let doc = |id: &str, licence: &str| SourceDoc {
            item_id: id.into(),
            title: format!("Title of {id}"),
            body: "A sentence of the source.".into(),
            licence: licence.into(),
            creator_id: "BBC News".into(),
            ..SourceDoc::default()
        };
        let docs = [
            doc("news", "all-rights-reserved"),
            doc("open", "CC-BY-4.0"),
            doc("unused", "CC0-1.0"),
        ];
        let passage = |item: &str, i: usize| SourcePassage {
            id: format!("{item}#{i}"),
            item_id: item.into(),
            text: format!("fact {i} of {item}"),
        };
        let facts = [passage("news", 0), passage("open", 2), passage("news", 3)];
        let facts: Vec<&SourcePassage> = facts.iter().collect();
        let rules = source_rules(&docs, &facts, &generec_licence::Policy::default());
        assert_eq!(rules.len(), 2, "a source with no facts gets no rule");
        assert_eq!(rules[0].facts, vec![1, 3]);
        assert!(
            rules[0].text.contains("at most 40 of its words"),
            "{}",
            rules[0].text
        );
        assert!(rules[0].text.contains("Name it"), "{}", rules[0].text);
        assert!(
            rules[1].text.contains("you may quote it"),
            "{}",
            rules[1].text
        );
        let (system, user) = prompt(&Guidance::default(), "Markets", &facts, &rules);
        assert!(system.contains("word for word"));
        assert!(
            user.contains("- facts 1, 3: \"Title of news\" by BBC News (all-rights-reserved)"),
            "{user}"
        );
    }

    #[test]
    fn edit_ops_follow_the_guidance() {
        let g = Guidance {
            include: vec![TopicWeight {
                topic: "goal".into(),
                weight: 1.0,
            }],
            tone: Some(Tone::Calm),
            format: Some(Format::Summary),
            ..Guidance::default()
        };
        let ops = edit_ops(&g, "He scored a goal. Then it rained.");
        assert_eq!(ops.len(), 3);
        assert!(matches!(ops[0], EditOp::Extract(_)));
        assert!(matches!(ops[1], EditOp::Condense(_)));
        assert!(matches!(ops[2], EditOp::Restyle(Tone::Calm)));
        // Topics the text never mentions do not make an empty extract.
        assert_eq!(edit_ops(&g, "Nothing here. At all.").len(), 2);
        let clip = Guidance {
            format: Some(Format::Clip),
            ..Guidance::default()
        };
        assert!(matches!(edit_ops(&clip, "")[0], EditOp::Clip { .. }));
    }

    #[test]
    fn model_text_is_cleaned_of_markers() {
        assert_eq!(
            clean_model_text("# Title\n- first point.\n\n* second.<|im_end|>"),
            "Title\n\nfirst point.\n\nsecond."
        );
    }

    #[test]
    fn guidance_weights_are_checked() {
        let g = Guidance {
            include: vec![TopicWeight {
                topic: "tech".into(),
                weight: 2.0,
            }],
            ..Guidance::default()
        };
        assert!(check_guidance(&g).is_err());
    }

    #[test]
    fn guidance_errors_name_the_list_at_fault() {
        let field_of = |g: &Guidance| match check_guidance(g) {
            Err(GenerationError::InvalidArgument { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let bad = || {
            vec![TopicWeight {
                topic: "x".repeat(200),
                weight: 1.0,
            }]
        };
        let g = Guidance {
            exclude: bad(),
            ..Guidance::default()
        };
        assert_eq!(field_of(&g), "guidance.exclude");
        let g = Guidance {
            exclude_categories: bad(),
            ..Guidance::default()
        };
        assert_eq!(field_of(&g), "guidance.exclude_categories");
        let many = (0..65)
            .map(|i| TopicWeight {
                topic: format!("c{i}"),
                weight: 1.0,
            })
            .collect();
        let g = Guidance {
            include_categories: many,
            ..Guidance::default()
        };
        assert_eq!(field_of(&g), "guidance.include_categories");
    }

    // -----------------------------------------------------------------
    // Edit and create over an in-memory corpus
    // -----------------------------------------------------------------

    use crate::corpus::Hit;
    use generec_common::remote::RemoteError;
    use std::sync::Mutex;

    /// The corpus in memory: `items`, searched by any shared word.
    #[derive(Default)]
    struct FakeCorpus {
        items: Vec<CorpusItem>,
        /// Searches answered with nothing while they ask for recent items.
        nothing_recent: bool,
        down: bool,
        searches: Mutex<Vec<FactSearch>>,
    }

    fn fake_failure(method: &'static str, code: tonic::Code) -> RemoteError {
        RemoteError::Status {
            service: "corpus",
            method,
            code,
            message: "told to fail".into(),
        }
    }

    #[async_trait::async_trait]
    impl CorpusApi for FakeCorpus {
        async fn get_item(
            &self,
            id: &str,
            _by: Option<Instant>,
        ) -> Result<CorpusItem, RemoteError> {
            if self.down {
                return Err(fake_failure("GetItem", tonic::Code::Unavailable));
            }
            self.items
                .iter()
                .find(|i| i.id == id)
                .cloned()
                .ok_or_else(|| fake_failure("GetItem", tonic::Code::NotFound))
        }

        async fn search(
            &self,
            ask: FactSearch,
            _by: Option<Instant>,
        ) -> Result<Vec<Hit>, RemoteError> {
            if self.down {
                return Err(fake_failure("Search", tonic::Code::Unavailable));
            }
            self.searches.lock().unwrap().push(ask.clone());
            if self.nothing_recent && ask.created_after_unix_ms.is_some() {
                return Ok(vec![]);
            }
            let words: Vec<String> = ask
                .query
                .split_whitespace()
                .map(str::to_lowercase)
                .collect();
            Ok(self
                .items
                .iter()
                .filter(|i| {
                    let text = format!("{} {}", i.title, i.body).to_lowercase();
                    words.iter().any(|w| text.contains(w.as_str()))
                })
                .take(ask.limit)
                .map(|i| Hit {
                    id: i.id.clone(),
                    score: 1.0,
                })
                .collect())
        }
    }

    fn news(id: &str, tag: &str, licence: &str, body: &str) -> CorpusItem {
        CorpusItem {
            id: id.into(),
            kind: Some(ItemKind::Article),
            title: format!("News about {tag}"),
            body: body.into(),
            tags: vec![tag.into()],
            licence: licence.into(),
            creator_id: "newsroom".into(),
            content_sha256: "ab".repeat(32),
            ..CorpusItem::default()
        }
    }

    fn over(corpus: FakeCorpus) -> (Generation, Arc<FakeCorpus>) {
        over_with(corpus, Scorer::lexical())
    }

    fn over_with(corpus: FakeCorpus, scorer: Scorer) -> (Generation, Arc<FakeCorpus>) {
        let corpus = Arc::new(corpus);
        let g = Generation::new(Parts {
            instructor: Instructor::default(),
            editor: Editor::new(crate::tone::ToneLexicon::builtin()),
            scorer,
            composer: ComposerConfig::default(),
            embedded: None,
            openai: None,
            default_backend: Backend::Composer,
            max_tokens: 256,
            corpus: corpus.clone(),
        });
        (g, corpus)
    }

    const STORY: &str = "The council approved the new bridge on Monday. Work starts in March. \
        The bridge will carry trams and bicycles. It replaces a crossing built in 1890. \
        Residents asked for a quieter design.";

    fn shorter() -> Guidance {
        Guidance {
            length: Some(Length {
                unit: LengthUnit::Sentences,
                value: 2,
                relative: 0.0,
            }),
            ..Guidance::default()
        }
    }

    #[tokio::test]
    async fn an_edit_names_its_parent_with_the_licence_and_hash_the_corpus_holds() {
        let (g, _) = over(FakeCorpus {
            items: vec![news("bridge", "transport", "CC-BY-4.0", STORY)],
            ..FakeCorpus::default()
        });
        let args = EditArgs {
            user_id: "u".into(),
            item_id: "bridge".into(),
            guidance: shorter(),
            ..EditArgs::default()
        };
        let d = g.edit(args, None).await.unwrap();
        assert_eq!(d.parents.len(), 1);
        assert_eq!(d.parents[0].id, "bridge");
        assert_eq!(d.parents[0].licence, "CC-BY-4.0");
        assert_eq!(d.parents[0].content_sha256, "ab".repeat(32));
        assert_eq!(d.origin, Origin::AiEdited);
        assert!(d.body.len() < STORY.len(), "{}", d.body);
        assert!(d.sources.iter().all(|s| s.item_id == "bridge"));
    }

    #[tokio::test]
    async fn an_edit_fails_by_the_corpus_answer_not_by_guesswork() {
        let (g, _) = over(FakeCorpus {
            items: vec![news("nd", "transport", "CC-BY-ND-4.0", STORY)],
            ..FakeCorpus::default()
        });
        let args = |id: &str| EditArgs {
            user_id: "u".into(),
            item_id: id.into(),
            guidance: shorter(),
            ..EditArgs::default()
        };
        let err = g.edit(args("missing"), None).await.unwrap_err();
        assert!(
            matches!(&err, GenerationError::NotFound { id, .. } if id == "missing"),
            "{err}"
        );
        let err = g.edit(args("nd"), None).await.unwrap_err();
        assert!(
            matches!(err, GenerationError::FailedPrecondition(_)),
            "{err}"
        );
        let (down, _) = over(FakeCorpus {
            down: true,
            ..FakeCorpus::default()
        });
        let err = down.edit(args("nd"), None).await.unwrap_err();
        assert!(matches!(err, GenerationError::Unavailable(_)), "{err}");
        // A deadline already passed is refused before the corpus is asked.
        let past = Instant::now() - Duration::from_millis(1);
        let err = g.edit(args("nd"), Some(past)).await.unwrap_err();
        assert!(matches!(err, GenerationError::Unavailable(_)), "{err}");
    }

    #[tokio::test]
    async fn a_creation_draws_on_human_articles_and_skips_excluded_topics() {
        let (g, corpus) = over(FakeCorpus {
            items: vec![
                news("b1", "transport", "CC-BY-4.0", STORY),
                news(
                    "p1",
                    "politics",
                    "CC-BY-4.0",
                    "The bridge vote split the council along party lines.",
                ),
            ],
            ..FakeCorpus::default()
        });
        let args = CreateArgs {
            user_id: "u".into(),
            guidance: Guidance {
                fact_query: "bridge".into(),
                exclude: vec![TopicWeight {
                    topic: "politics".into(),
                    weight: 1.0,
                }],
                ..Guidance::default()
            },
            ..CreateArgs::default()
        };
        let d = g.create(args, None).await.unwrap();
        assert_eq!(d.origin, Origin::AiCreated);
        assert!(!d.sources.is_empty());
        assert!(
            d.sources.iter().all(|s| s.item_id == "b1"),
            "no fact from the excluded topic: {:?}",
            d.sources
        );
        let searches = corpus.searches.lock().unwrap();
        assert_eq!(searches[0].kinds, vec![ItemKind::Article]);
        assert_eq!(
            searches[0].origins,
            vec![Origin::Human],
            "never generated items"
        );
    }

    /// An embedding model that takes its time, as MiniLM does on a cold
    /// batch of a hundred sentences.
    struct SlowEmbedding;

    impl crate::relevance::Embed for SlowEmbedding {
        fn id(&self) -> &str {
            "slow"
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
            std::thread::sleep(Duration::from_millis(300));
            Ok(texts
                .iter()
                .map(|t| {
                    let words = t.split_whitespace().count() as f32;
                    let len = t.len() as f32;
                    let norm = (words * words + len * len).sqrt().max(1.0);
                    vec![words / norm, len / norm]
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn a_creation_embeds_on_the_blocking_pool_and_leaves_the_runtime_free() {
        // `#[tokio::test]` runs one thread: were the composer's embedding
        // done on it, nothing else would move until the creation ended.
        let (g, _) = over_with(
            FakeCorpus {
                items: vec![news("b1", "transport", "CC-BY-4.0", STORY)],
                ..FakeCorpus::default()
            },
            Scorer::with_embedding(Arc::new(SlowEmbedding)),
        );
        let args = CreateArgs {
            user_id: "u".into(),
            guidance: Guidance {
                fact_query: "bridge".into(),
                ..Guidance::default()
            },
            ..CreateArgs::default()
        };
        let g = Arc::new(g);
        let creation = tokio::spawn({
            let g = g.clone();
            async move { g.create(args, None).await }
        });
        let mut ticks = 0;
        while !creation.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            ticks += 1;
        }
        let d = creation.await.unwrap().unwrap();
        assert!(!d.sources.is_empty());
        assert!(
            ticks >= 10,
            "the runtime was held during the embedding: {ticks} ticks of 10 ms in 300 ms"
        );
    }

    #[tokio::test]
    async fn with_nothing_recent_a_creation_uses_older_facts_and_says_so() {
        let (g, corpus) = over(FakeCorpus {
            items: vec![news("b1", "transport", "CC-BY-4.0", STORY)],
            nothing_recent: true,
            ..FakeCorpus::default()
        });
        let args = CreateArgs {
            user_id: "u".into(),
            guidance: Guidance {
                fact_query: "bridge".into(),
                recency_days: 7,
                ..Guidance::default()
            },
            ..CreateArgs::default()
        };
        let d = g.create(args, None).await.unwrap();
        assert!(
            d.actions.iter().any(|a| a.starts_with("recency_relaxed")),
            "{:?}",
            d.actions
        );
        {
            let searches = corpus.searches.lock().unwrap();
            assert_eq!(searches.len(), 2);
            assert!(searches[0].created_after_unix_ms.is_some());
            assert!(searches[1].created_after_unix_ms.is_none());
        }

        // Nothing at all about the query: a clear precondition failure.
        let (g, _) = over(FakeCorpus::default());
        let args = CreateArgs {
            user_id: "u".into(),
            guidance: Guidance {
                fact_query: "volcano".into(),
                ..Guidance::default()
            },
            ..CreateArgs::default()
        };
        let err = g.create(args, None).await.unwrap_err();
        assert!(
            matches!(&err, GenerationError::FailedPrecondition(m) if m.contains("volcano")),
            "{err}"
        );
    }
}
