//! A tone lexicon: how calm, upbeat, serious, formal, casual or playful a
//! sentence reads, for the editor's restyle (which picks the source
//! sentences that fit a tone; it never rewrites them).
//!
//! # Lexicon
//!
//! [`ToneLexicon::load`] reads the VADER lexicon (`vader_lexicon.txt`, MIT,
//! Hutto and Gilbert 2014; fetched to [`DEFAULT_LEXICON_PATH`]): one entry a
//! line, `token<TAB>mean<TAB>sd<TAB>[ratings]`, the mean valence on a -4..4
//! scale. Only the token and the mean are read; tokens are lower-cased (the
//! first of two entries that differ only in case wins); blank lines and
//! lines starting with `#` are skipped. [`ToneLexicon::builtin`] is a small
//! embedded list (about 300 common words, valences written for this crate on
//! the same scale) so the editor works without the file;
//! [`ToneLexicon::source`] says which one is active.
//!
//! # Scores ([`ToneLexicon::score`])
//!
//! The text is cut into lower-case word tokens ([`crate::text::words`]);
//! `n` is their number. A *negator* is `not`, `no`, `never`, `nor`,
//! `neither`, `nobody`, `nothing`, `none`, `nowhere`, `cannot`, `without`
//! or a word ending in `n't`; negators are never scored themselves.
//!
//! - `valence` in [-1, 1]: the mean lexicon valence of the matched words,
//!   divided by 4 and clamped. A word with a negator among the three words
//!   before it counts with its valence flipped and damped by
//!   [`NEGATION_FACTOR`] (-0.74, VADER's constant). No matched word: 0.
//! - `arousal` in [0, 1]: `min(1, 4·s + 0.25·e + 2·c)` where `s` is the share
//!   of the `n` words that are strong (lexicon |valence| ≥ 2.5), `e` the
//!   number of `!`, and `c` the share of words written in capitals (two
//!   letters or more, all upper case, and either in the lexicon or at least
//!   five letters long, so that "UK" or "BBC" do not count).
//! - `formality` in [0, 1]:
//!   `clamp(0.35 + 0.65·L − 0.2·C − 0.25·S − 0.15·E − 0.05·P, 0, 1)` where
//!   `L = clamp((mean letters per word − 3.5) / 3, 0, 1)`, `C` the number of
//!   contractions ("don't", "we'll", "it's"), `S` of slang words ("gonna",
//!   "awesome", "lol" ...), `E` of `!`, and `P` of first and second person
//!   pronouns.
//! - `humour` in [0, 1]: `min(1, 0.5·m)` where `m` is the number of playful
//!   markers ("funny", "joke", "laugh...", "hilarious", "quirky", "silly",
//!   "comedy", "prank", "banter", "lol", "haha" ...).
//! - `coverage` in [0, 1]: the share of the `n` words found in the lexicon.
//!
//! An empty text scores 0 everywhere.
//!
//! # Fit ([`ToneLexicon::fit`])
//!
//! How well a sentence with scores `v` (valence), `a` (arousal), `f`
//! (formality) and `h` (humour) fits a tone, in [0, 1]:
//!
//! - neutral: `1 − |v|`
//! - calm: `0.6·(1 − a) + 0.3·(1 − max(0, −v)) + 0.1·(1 − |v|)` (quiet,
//!   not negative, and mildly preferring the even-toned to the elated)
//! - upbeat: `0.85·(1 + v)/2`, plus `0.15·a` when `v > 0`
//! - serious: `0.6·(1 − h) + 0.4·(1 − |v|)`
//! - formal: `f`
//! - casual: `1 − f`
//! - playful: `0.6·h + 0.4·(1 + v)/2`

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::guidance::Tone;
use crate::text::words;

/// Where the fetch script puts the VADER lexicon, relative to the
/// repository root.
pub const DEFAULT_LEXICON_PATH: &str = ".data/models/vader/vader_lexicon.txt";

/// What a negated word's valence is multiplied by.
pub const NEGATION_FACTOR: f32 = -0.74;

/// The lexicon valence from which a word counts as strong (arousing).
pub const STRONG_VALENCE: f32 = 2.5;

/// Why a lexicon could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ToneError {
    #[error("reading the tone lexicon {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tone lexicon line {line}: {reason}")]
    Parse { line: usize, reason: String },
    #[error("the tone lexicon has no entries")]
    Empty,
}

/// Which lexicon is active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexiconSource {
    /// The VADER lexicon, read from this file.
    Vader { path: PathBuf },
    /// The small list embedded in this crate.
    Builtin,
}

impl LexiconSource {
    /// `"vader"` or `"builtin"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            LexiconSource::Vader { .. } => "vader",
            LexiconSource::Builtin => "builtin",
        }
    }
}

impl fmt::Display for LexiconSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexiconSource::Vader { path } => write!(f, "vader ({})", path.display()),
            LexiconSource::Builtin => f.write_str("builtin"),
        }
    }
}

/// The tone of a text; see the module docs for the formulas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToneScores {
    /// In [-1, 1].
    pub valence: f32,
    /// In [0, 1].
    pub arousal: f32,
    /// In [0, 1].
    pub formality: f32,
    /// In [0, 1].
    pub humour: f32,
    /// Share of words found in the lexicon, in [0, 1].
    pub coverage: f32,
}

/// Word valences on VADER's -4..4 scale.
#[derive(Clone, Debug)]
pub struct ToneLexicon {
    valence: HashMap<String, f32>,
    source: LexiconSource,
}

impl ToneLexicon {
    /// Reads a VADER-format lexicon file.
    pub fn load(path: impl AsRef<Path>) -> Result<ToneLexicon, ToneError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ToneError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        ToneLexicon::parse(
            &text,
            LexiconSource::Vader {
                path: path.to_path_buf(),
            },
        )
    }

    /// Parses VADER-format text (`token<TAB>mean[<TAB>...]` lines).
    pub fn parse(text: &str, source: LexiconSource) -> Result<ToneLexicon, ToneError> {
        let mut valence = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split('\t');
            let token = fields.next().unwrap_or("").trim();
            if token.is_empty() {
                return Err(ToneError::Parse {
                    line: n + 1,
                    reason: "empty token".into(),
                });
            }
            let mean = fields.next().unwrap_or("").trim();
            let value = parse_valence(mean).map_err(|reason| ToneError::Parse {
                line: n + 1,
                reason,
            })?;
            valence.entry(token.to_lowercase()).or_insert(value);
        }
        if valence.is_empty() {
            return Err(ToneError::Empty);
        }
        Ok(ToneLexicon { valence, source })
    }

    /// The embedded fallback list.
    pub fn builtin() -> ToneLexicon {
        let mut valence = HashMap::new();
        for line in BUILTIN.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut tokens = line.split_whitespace();
            while let (Some(word), Some(value)) = (tokens.next(), tokens.next()) {
                if let Ok(v) = parse_valence(value) {
                    valence.entry(word.to_string()).or_insert(v);
                }
            }
        }
        ToneLexicon {
            valence,
            source: LexiconSource::Builtin,
        }
    }

    /// Which lexicon this is.
    pub fn source(&self) -> &LexiconSource {
        &self.source
    }

    /// Number of distinct (lower-case) entries.
    pub fn len(&self) -> usize {
        self.valence.len()
    }

    pub fn is_empty(&self) -> bool {
        self.valence.is_empty()
    }

    /// The valence of a word (any case) on the -4..4 scale.
    pub fn valence(&self, word: &str) -> Option<f32> {
        let lower = word.to_lowercase();
        self.lookup(&lower)
    }

    fn lookup(&self, lower: &str) -> Option<f32> {
        self.valence.get(lower).copied().or_else(|| {
            lower
                .strip_suffix("'s")
                .and_then(|base| self.valence.get(base).copied())
        })
    }

    /// The tone of `text`; see the module docs.
    pub fn score(&self, text: &str) -> ToneScores {
        let toks = words(text);
        let n = toks.len();
        if n == 0 {
            return ToneScores::default();
        }
        let nf = n as f32;
        let mut sum = 0.0f32;
        let mut matched = 0usize;
        let mut strong = 0usize;
        let mut contractions = 0usize;
        let mut slang = 0usize;
        let mut pronouns = 0usize;
        let mut markers = 0usize;
        let mut letters = 0usize;
        for (i, w) in toks.iter().enumerate() {
            letters += w.chars().filter(|c| c.is_alphabetic()).count();
            if is_contraction(w) {
                contractions += 1;
            }
            if SLANG.contains(&w.as_str()) {
                slang += 1;
            }
            if PRONOUNS.contains(&w.as_str()) {
                pronouns += 1;
            }
            if is_playful(w) {
                markers += 1;
            }
            if is_negator(w) {
                continue;
            }
            if let Some(v) = self.lookup(w) {
                let negated = toks[i.saturating_sub(3)..i].iter().any(|p| is_negator(p));
                sum += if negated { v * NEGATION_FACTOR } else { v };
                matched += 1;
                if v.abs() >= STRONG_VALENCE {
                    strong += 1;
                }
            }
        }
        let exclamations = text.matches('!').count() as f32;
        let caps = text
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|t| {
                let count = t.chars().filter(|c| c.is_alphabetic()).count();
                count >= 2
                    && t.chars().all(|c| !c.is_lowercase())
                    && (count >= 5 || self.lookup(&t.to_lowercase()).is_some())
            })
            .count() as f32;
        let valence = if matched > 0 {
            (sum / matched as f32 / 4.0).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let arousal = (4.0 * strong as f32 / nf + 0.25 * exclamations + 2.0 * caps / nf).min(1.0);
        let long = ((letters as f32 / nf - 3.5) / 3.0).clamp(0.0, 1.0);
        let formality = (0.35 + 0.65 * long
            - 0.2 * contractions as f32
            - 0.25 * slang as f32
            - 0.15 * exclamations
            - 0.05 * pronouns as f32)
            .clamp(0.0, 1.0);
        let humour = (0.5 * markers as f32).min(1.0);
        ToneScores {
            valence,
            arousal,
            formality,
            humour,
            coverage: matched as f32 / nf,
        }
    }

    /// How well scores fit a tone, in [0, 1]; see the module docs.
    pub fn fit(&self, scores: ToneScores, tone: Tone) -> f32 {
        let v = finite_or_zero(scores.valence).clamp(-1.0, 1.0);
        let a = finite_or_zero(scores.arousal).clamp(0.0, 1.0);
        let f = finite_or_zero(scores.formality).clamp(0.0, 1.0);
        let h = finite_or_zero(scores.humour).clamp(0.0, 1.0);
        let positive = (1.0 + v) / 2.0;
        let fit = match tone {
            Tone::Neutral => 1.0 - v.abs(),
            Tone::Calm => 0.6 * (1.0 - a) + 0.3 * (1.0 - (-v).max(0.0)) + 0.1 * (1.0 - v.abs()),
            Tone::Upbeat => 0.85 * positive + if v > 0.0 { 0.15 * a } else { 0.0 },
            Tone::Serious => 0.6 * (1.0 - h) + 0.4 * (1.0 - v.abs()),
            Tone::Formal => f,
            Tone::Casual => 1.0 - f,
            Tone::Playful => 0.6 * h + 0.4 * positive,
        };
        fit.clamp(0.0, 1.0)
    }
}

fn finite_or_zero(x: f32) -> f32 {
    if x.is_finite() { x } else { 0.0 }
}

fn parse_valence(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .parse()
        .map_err(|_| format!("the mean valence {s:?} is not a number"))?;
    if !v.is_finite() || !(-4.0..=4.0).contains(&v) {
        return Err(format!("the mean valence {v} is outside [-4, 4]"));
    }
    Ok(v)
}

const NEGATORS: &[&str] = &[
    "not", "no", "never", "nor", "neither", "nobody", "nothing", "none", "nowhere", "cannot",
    "without",
];

fn is_negator(w: &str) -> bool {
    NEGATORS.contains(&w) || w.ends_with("n't")
}

const CONTRACTED: &[&str] = &[
    "it's", "that's", "there's", "what's", "he's", "she's", "let's", "here's", "who's", "where's",
    "how's", "y'all", "ain't",
];

fn is_contraction(w: &str) -> bool {
    CONTRACTED.contains(&w)
        || ["n't", "'re", "'ve", "'ll", "'d", "'m"]
            .iter()
            .any(|s| w.ends_with(s) && w.len() > s.len())
}

const SLANG: &[&str] = &[
    "gonna", "wanna", "gotta", "kinda", "sorta", "yeah", "yep", "nope", "hey", "lol", "omg", "btw",
    "awesome", "cool", "guys", "stuff", "okay", "ok", "wow", "dude", "totally", "super", "crazy",
    "mate", "cheers", "ya", "yay", "folks", "bunch", "huge", "loads", "nah", "haha",
];

const PRONOUNS: &[&str] = &[
    "i", "me", "my", "mine", "we", "us", "our", "ours", "you", "your", "yours",
];

const PLAYFUL_WORDS: &[&str] = &[
    "fun",
    "funny",
    "funnier",
    "funniest",
    "silly",
    "daft",
    "cheeky",
    "witty",
    "wit",
    "pun",
    "puns",
    "lol",
    "haha",
    "hah",
    "lmao",
    "rofl",
    "absurd",
    "zany",
    "wacky",
    "goofy",
    "amusing",
    "amused",
    "playful",
    "hoot",
    "tongue-in-cheek",
    "mischief",
    "mischievous",
    "jest",
    "quip",
    "quips",
    "gag",
    "gags",
    "romp",
    "slapstick",
    "spoof",
    "satire",
    "satirical",
];

const PLAYFUL_PREFIXES: &[&str] = &[
    "laugh", "hilari", "giggl", "chuckl", "comed", "comic", "joke", "joki", "prank", "quirk",
    "whimsic", "parod", "banter", "spoof",
];

fn is_playful(w: &str) -> bool {
    PLAYFUL_WORDS.contains(&w) || PLAYFUL_PREFIXES.iter().any(|p| w.starts_with(p))
}

/// The embedded lexicon: `word valence` pairs, valences on VADER's -4..4
/// scale, written for this crate.
const BUILTIN: &str = "\
# positive, calm
calm 1.5 peaceful 2.2 quiet 0.8 gentle 1.6 relaxed 1.8 relaxing 1.9 serene 2.0 steady 1.0
soothing 1.8 comfortable 1.6 comfort 1.5 safe 1.6 secure 1.4 content 1.3 patient 1.1
balanced 1.1 stable 1.1 restful 1.6 tranquil 2.0 soft 0.8 warm 1.2 kind 1.9 kindness 2.0
care 1.5 caring 1.8 thoughtful 1.7 hope 1.9 hopeful 1.8 hopes 1.6 trust 1.8 trusted 1.6
welcome 1.8 welcomed 1.6 support 1.6 supported 1.4 helpful 1.8 help 1.4 helped 1.3
# positive
good 1.9 nice 1.8 fine 0.8 better 1.9 well 1.1 glad 2.0 pleased 1.9 happy 2.7 happiness 2.6
enjoy 2.2 enjoyed 2.2 like 1.5 liked 1.6 pleasant 1.9 positive 2.3 benefit 1.8 benefits 1.7
success 2.6 successful 2.6 succeed 2.2 gain 1.8 gains 1.6 growth 1.4 improve 1.8
improved 1.9 improvement 1.9 progress 1.6 recover 1.3 recovery 1.4 boost 1.6 boosted 1.5
strong 1.8 strength 1.7 confident 2.1 confidence 2.0 optimistic 2.2 optimism 2.1
agree 1.5 agreement 1.5 popular 1.8 praise 2.4 praised 2.3 proud 2.1 pride 1.9 honour 2.0
award 2.3 awards 2.2 prize 2.2 win 2.8 wins 2.7 won 2.7 winning 2.6 winner 2.8 victory 2.9
champion 2.6 best 3.1 great 3.1 excellent 3.2 superb 3.1 brilliant 2.9 outstanding 3.0
wonderful 3.1 fantastic 3.1 amazing 3.0 awesome 3.1 perfect 2.8 love 3.2 loved 2.9
loves 2.7 lovely 2.8 beautiful 2.9 delighted 2.8 delight 2.7 thrilled 2.6 excited 1.4
exciting 2.2 excitement 2.0 celebrate 2.7 celebrated 2.6 celebration 2.6 joy 2.8 joyful 2.9
fun 2.3 funny 1.9 hilarious 1.7 laugh 2.6 laughter 2.4 smile 1.9 smiles 1.8 cheerful 2.4
bright 1.9 fresh 1.3 free 1.7 freedom 2.0 friend 2.2 friends 2.1 friendly 2.2 thanks 1.9
thank 1.5 grateful 2.0 glory 2.4 hero 2.6 heroes 2.5 inspiring 2.6 inspired 2.1
impressive 2.3 impressed 2.1 record 0.5 boom 1.1 wow 2.8 yay 2.4 hooray 2.4 triumph 2.9
# negative, mild
bad -2.5 poor -2.1 worse -2.1 wrong -2.1 concern -1.4 concerns -1.4 concerned -1.3
worry -1.9 worried -1.8 worries -1.8 problem -1.7 problems -1.7 issue -0.6 difficult -1.5
difficulty -1.4 hard -0.4 tough -0.5 risk -1.1 risks -1.1 doubt -1.5 doubts -1.4
uncertain -1.2 uncertainty -1.4 weak -1.9 weakness -1.8 fall -0.9 fell -0.9 falling -0.8
drop -1.1 dropped -1.0 decline -1.1 declined -1.0 loss -1.3 losses -1.5 lose -1.7 lost -1.3
losing -1.6 fail -2.5 failed -2.3 failure -2.3 miss -0.6 missed -1.2 delay -1.3 delays -1.3
debt -1.5 cut -1.1 cuts -1.2 unhappy -1.8 sad -2.1 sorry -0.5 upset -1.6 angry -2.3
anger -2.7 criticism -1.9 criticised -1.8 complain -1.6 complaint -1.5 blame -1.4
blamed -2.1 warn -0.4 warned -1.1 warning -1.4 pressure -1.2 struggle -1.6 struggled -1.5
struggling -1.8 injury -1.9 injured -1.7 ill -1.8 sick -2.1 pain -2.3 hurt -2.4 tired -1.9
boring -1.3 dull -1.7 slow -0.6 strike -0.8 protest -0.9 protests -1.0 dispute -1.7
unemployment -1.9 shortage -1.5 expensive -0.9 deficit -1.5
# negative, strong
terrible -3.0 awful -3.1 horrible -2.5 worst -3.1 hate -2.7 hated -3.2 hatred -3.2
disaster -3.1 disastrous -3.0 catastrophe -3.4 crisis -3.1 collapse -2.4 collapsed -2.6
crash -1.7 crashed -1.8 chaos -2.7 panic -2.9 fear -2.2 fears -2.1 feared -2.2 terror -3.0
terrified -3.0 shock -1.6 shocked -1.3 shocking -1.7 outrage -2.8 furious -2.7 fury -2.9
death -2.9 dead -3.3 die -2.9 died -2.6 dying -2.9 kill -3.7 killed -3.5 killing -3.4
murder -3.7 murdered -3.7 war -2.9 wars -2.6 attack -2.1 attacks -1.9 attacked -2.0
violence -3.1 violent -2.9 bomb -2.2 bombing -2.9 threat -2.4 threats -2.4 threatened -2.0
danger -2.4 dangerous -2.1 destroy -2.5 destroyed -3.4 devastated -3.0 devastating -3.1
tragedy -3.4 tragic -3.4 victim -2.6 victims -2.7 abuse -3.2 abused -2.3 corrupt -3.0
corruption -1.9 fraud -2.8 scandal -1.9 crime -2.5 criminal -2.4 guilty -1.8 jail -2.2
prison -2.3 arrested -2.1 ruin -2.8 ruined -2.6 betrayed -3.2 humiliated -3.1 disgrace -2.2
nightmare -2.7 horror -2.7 fatal -2.5 grief -2.2 suffering -2.1 misery -2.7 evil -3.4
# arousal, neutral-ish
urgent -0.3 rush 0.2 sudden -0.2 dramatic 0.6 stunning 1.6 stunned -0.1 incredible 2.2
wild 0.8 fierce -0.4 thrilling 2.5 explosive -0.7 sensational 2.3 massive 0.7 surge 0.8
soared 1.2 soaring 1.3 plunge -1.7 plunged -1.8 slump -1.8 slumped -1.6 bitter -1.8
brutal -2.8 frantic -1.9 desperate -1.3 rage -2.6 scream -1.6 screaming -1.8
# negators are handled by the scorer, not valued here
";

#[cfg(test)]
mod tests {
    use super::*;

    fn vader() -> Option<ToneLexicon> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DEFAULT_LEXICON_PATH);
        ToneLexicon::load(path).ok()
    }

    #[test]
    fn builtin_parses_every_pair_and_is_small() {
        let lex = ToneLexicon::builtin();
        let pairs: usize = BUILTIN
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().count())
            .sum();
        assert_eq!(pairs % 2, 0, "every builtin word has a value");
        assert_eq!(lex.len(), pairs / 2, "no duplicate or unparsable entries");
        assert!((250..=600).contains(&lex.len()), "{}", lex.len());
        assert_eq!(lex.source(), &LexiconSource::Builtin);
        assert_eq!(lex.source().as_str(), "builtin");
        assert_eq!(lex.valence("GREAT"), Some(3.1));
    }

    #[test]
    fn parse_reads_vader_lines_and_rejects_bad_ones() {
        let text = "good\t1.9\t0.9\t[2, 2]\nGood\t-1\t0\t[]\n# comment\n\n:)\t2.0\t0.5\t[2]\n";
        let lex = ToneLexicon::parse(text, LexiconSource::Builtin).unwrap();
        assert_eq!(lex.len(), 2);
        assert_eq!(lex.valence("good"), Some(1.9));
        assert!(matches!(
            ToneLexicon::parse("good\tgreat\n", LexiconSource::Builtin),
            Err(ToneError::Parse { line: 1, .. })
        ));
        assert!(matches!(
            ToneLexicon::parse("good\t9\n", LexiconSource::Builtin),
            Err(ToneError::Parse { .. })
        ));
        assert!(matches!(
            ToneLexicon::parse("good\n", LexiconSource::Builtin),
            Err(ToneError::Parse { .. })
        ));
        assert!(matches!(
            ToneLexicon::parse("\n# only\n", LexiconSource::Builtin),
            Err(ToneError::Empty)
        ));
        assert!(matches!(
            ToneLexicon::load("/nonexistent/vader.txt"),
            Err(ToneError::Io { .. })
        ));
    }

    #[test]
    fn vader_file_loads_when_present() {
        let Some(lex) = vader() else {
            println!("note: {DEFAULT_LEXICON_PATH} absent; skipping");
            return;
        };
        // 7,519 lines; a few emoticons differ only in case.
        assert!(lex.len() > 7_400, "{}", lex.len());
        assert_eq!(lex.source().as_str(), "vader");
        assert_eq!(lex.valence("great"), Some(3.1));
        assert_eq!(lex.valence("war"), Some(-2.9));
    }

    fn lexicons() -> Vec<ToneLexicon> {
        let mut out = vec![ToneLexicon::builtin()];
        out.extend(vader());
        out
    }

    #[test]
    fn valence_follows_the_words_and_negation_flips_it() {
        for lex in lexicons() {
            let good = lex.score("The results were good and the team was happy.");
            let bad = lex.score("The results were terrible and the team was angry.");
            let negated = lex.score("The results were not good at all.");
            assert!(good.valence > 0.3, "{good:?}");
            assert!(bad.valence < -0.3, "{bad:?}");
            assert!(negated.valence < 0.0, "{negated:?}");
            assert!(good.coverage > 0.0 && good.coverage <= 1.0);
        }
    }

    #[test]
    fn arousal_rises_with_strong_words_exclamations_and_capitals() {
        for lex in lexicons() {
            let calm = lex.score("The committee met on Tuesday to review the budget.");
            let loud = lex.score("This is AMAZING! What a brilliant, stunning victory!");
            assert!(calm.arousal < 0.1, "{calm:?}");
            assert!(loud.arousal > 0.7, "{loud:?}");
            let acronyms = lex.score("The UK and the BBC met in the US.");
            assert_eq!(acronyms.arousal, 0.0);
        }
    }

    #[test]
    fn formality_and_humour_markers() {
        let lex = ToneLexicon::builtin();
        let formal = lex.score(
            "The committee's recommendations regarding infrastructure expenditure were approved.",
        );
        let casual = lex.score("Yeah, we're gonna grab some stuff, it's awesome!");
        assert!(formal.formality > 0.8, "{formal:?}");
        assert!(casual.formality < 0.2, "{casual:?}");
        let funny = lex.score("The hilarious sketch had the audience laughing at every joke.");
        assert!(funny.humour >= 0.99, "{funny:?}");
        assert_eq!(formal.humour, 0.0);
    }

    #[test]
    fn empty_text_scores_zero() {
        let lex = ToneLexicon::builtin();
        assert_eq!(lex.score(""), ToneScores::default());
        assert_eq!(lex.score("  ...!? "), ToneScores::default());
    }

    #[test]
    fn fit_matches_the_documented_tones() {
        let lex = ToneLexicon::builtin();
        let calm = lex.score("A gentle, peaceful walk by the quiet river.");
        let excited = lex.score("WOW! An amazing, thrilling win for the champions!");
        let grim = lex.score("The attack killed dozens and caused chaos.");
        assert!(lex.fit(calm, Tone::Calm) > lex.fit(excited, Tone::Calm));
        assert!(lex.fit(calm, Tone::Calm) > lex.fit(grim, Tone::Calm));
        assert!(lex.fit(excited, Tone::Upbeat) > lex.fit(grim, Tone::Upbeat));
        assert!(
            lex.fit(grim, Tone::Serious) > lex.fit(lex.score("What a funny joke"), Tone::Serious)
        );
        let neutral = lex.score("The meeting is on Tuesday.");
        assert!(lex.fit(neutral, Tone::Neutral) > lex.fit(grim, Tone::Neutral));
        for s in [calm, excited, grim, neutral] {
            assert!((lex.fit(s, Tone::Formal) + lex.fit(s, Tone::Casual) - 1.0).abs() < 1e-6);
            for tone in Tone::ALL {
                let f = lex.fit(s, tone);
                assert!((0.0..=1.0).contains(&f), "{tone:?} {f}");
            }
        }
        let nan = ToneScores {
            valence: f32::NAN,
            arousal: f32::INFINITY,
            ..ToneScores::default()
        };
        for tone in Tone::ALL {
            assert!(lex.fit(nan, tone).is_finite());
        }
    }
}
