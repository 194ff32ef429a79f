//! Relevance and redundancy between texts: dense sentence embeddings when an
//! embedding model is present, TF-IDF cosine over the batch otherwise.
//!
//! The composer and the editor ask a [`Scorer`] for the vectors of a batch
//! of texts and compare them with [`Vector::similarity`]. When the model
//! fails on a batch the scorer logs it and falls back to lexical vectors for
//! that batch, so a request never fails for want of a model.

use std::sync::Arc;

use crate::text::{Idf, TermVector};

/// A sentence embedding model (implemented over `generec-models`' MiniLM).
pub trait Embed: Send + Sync {
    /// The model's name, reported by `GetBackends`.
    fn id(&self) -> &str;
    /// One L2-normalised vector per text.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String>;
}

/// The vector of one text.
#[derive(Clone, Debug)]
pub enum Vector {
    Lexical(TermVector),
    Dense(Vec<f32>),
}

impl Vector {
    /// Cosine similarity clamped to [0, 1]; 0 across kinds.
    pub fn similarity(&self, other: &Vector) -> f32 {
        match (self, other) {
            (Vector::Lexical(a), Vector::Lexical(b)) => a.cosine(b),
            (Vector::Dense(a), Vector::Dense(b)) => a
                .iter()
                .zip(b)
                .map(|(x, y)| x * y)
                .sum::<f32>()
                .clamp(0.0, 1.0),
            _ => 0.0,
        }
    }
}

/// Turns texts into comparable vectors.
#[derive(Clone, Default)]
pub struct Scorer {
    embed: Option<Arc<dyn Embed>>,
}

impl Scorer {
    /// Lexical only.
    pub fn lexical() -> Scorer {
        Scorer { embed: None }
    }

    /// Dense vectors from `embed`, lexical when it fails.
    pub fn with_embedding(embed: Arc<dyn Embed>) -> Scorer {
        Scorer { embed: Some(embed) }
    }

    /// "embedding:<model>" or "lexical".
    pub fn describe(&self) -> String {
        match &self.embed {
            Some(e) => format!("embedding:{}", e.id()),
            None => "lexical".into(),
        }
    }

    /// Vectors for `texts`, all of one kind so any two compare. Lexical
    /// vectors are weighted by the IDF of the batch itself.
    pub fn vectors(&self, texts: &[&str]) -> Vec<Vector> {
        if let Some(embed) = &self.embed {
            match embed.embed(texts) {
                Ok(vecs) if vecs.len() == texts.len() => {
                    return vecs.into_iter().map(Vector::Dense).collect();
                }
                Ok(vecs) => tracing::warn!(
                    expected = texts.len(),
                    got = vecs.len(),
                    "embedding model returned the wrong number of vectors; using lexical scores"
                ),
                Err(e) => tracing::warn!(error = %e, "embedding failed; using lexical scores"),
            }
        }
        let idf = Idf::new(texts.iter().copied());
        texts
            .iter()
            .map(|t| Vector::Lexical(TermVector::new(t, Some(&idf))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing;
    impl Embed for Failing {
        fn id(&self) -> &str {
            "failing"
        }
        fn embed(&self, _texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
            Err("model unavailable".into())
        }
    }

    #[test]
    fn lexical_vectors_rank_the_related_text_higher() {
        let v = Scorer::lexical().vectors(&[
            "stock markets fell",
            "markets fell on rate fears",
            "the striker scored a goal",
        ]);
        assert!(v[0].similarity(&v[1]) > v[0].similarity(&v[2]));
    }

    #[test]
    fn a_failing_model_falls_back_to_lexical_vectors() {
        let scorer = Scorer::with_embedding(Arc::new(Failing));
        let v = scorer.vectors(&["a b c", "c d"]);
        assert!(matches!(v[0], Vector::Lexical(_)));
        assert_eq!(scorer.describe(), "embedding:failing");
    }
}
