//! Turns a user's wish into the words they type: a phrasing drawn from
//! `data/phrasings.toml`, topic names as typed (sometimes lower-cased),
//! and typos at the user's own rate (swapped, dropped, doubled or wrong
//! letters). Independent of the instructor's code by design: the study
//! tests the instructor on words it was not written against.

use serde::Deserialize;

use crate::error::SimError;
use crate::population::{Tone, User};
use crate::response::Wish;
use crate::rng::Rng;
use crate::topics::Topic;

#[derive(Clone, Debug, Deserialize)]
pub struct Phrasings {
    more: Vec<String>,
    less: Vec<String>,
    more_less: Vec<String>,
    calm: Vec<String>,
    upbeat: Vec<String>,
    joiners: Vec<String>,
    /// Asking for the item in view changed: told more calmly, more
    /// brightly, or shorter.
    change_calm: Vec<String>,
    change_upbeat: Vec<String>,
    change_shorter: Vec<String>,
}

static BUILTIN: &str = include_str!("../data/phrasings.toml");

impl Phrasings {
    /// The phrasings shipped with the simulator.
    pub fn builtin() -> Phrasings {
        Phrasings::parse(BUILTIN).unwrap_or_else(|e| panic!("data/phrasings.toml: {e}"))
    }

    pub fn parse(text: &str) -> Result<Phrasings, SimError> {
        let p: Phrasings =
            toml::from_str(text).map_err(|e| SimError::Data(format!("phrasings: {e}")))?;
        for (name, list, holes) in [
            ("more", &p.more, &["{t}"][..]),
            ("less", &p.less, &["{t}"][..]),
            ("more_less", &p.more_less, &["{a}", "{b}"][..]),
            ("calm", &p.calm, &[][..]),
            ("upbeat", &p.upbeat, &[][..]),
            ("joiners", &p.joiners, &[][..]),
            ("change_calm", &p.change_calm, &[][..]),
            ("change_upbeat", &p.change_upbeat, &[][..]),
            ("change_shorter", &p.change_shorter, &[][..]),
        ] {
            if list.is_empty() {
                return Err(SimError::Data(format!("phrasings: {name} is empty")));
            }
            if let Some(bad) = list.iter().find(|s| !holes.iter().all(|h| s.contains(h))) {
                return Err(SimError::Data(format!(
                    "phrasings: {name} entry {bad:?} lacks {}",
                    holes.join(" or ")
                )));
            }
        }
        Ok(p)
    }

    /// How many distinct phrasings there are, for reports.
    pub fn len(&self) -> usize {
        self.more.len()
            + self.less.len()
            + self.more_less.len()
            + self.calm.len()
            + self.upbeat.len()
            + self.change_calm.len()
            + self.change_upbeat.len()
            + self.change_shorter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The words `user` types for `wish`.
    pub fn say(&self, user: &User, wish: &Wish, topics: &[Topic], rng: &mut Rng) -> String {
        if wish.change.is_some() {
            let list = match wish.tone {
                Some(Tone::Calm) => &self.change_calm,
                Some(Tone::Upbeat) => &self.change_upbeat,
                Some(Tone::Any) | None => &self.change_shorter,
            };
            let said = rng.pick(list).clone();
            return typos(&said, user.typo_rate, rng);
        }
        let name = |t: usize, rng: &mut Rng| {
            let phrase = &topics[t].phrase;
            if rng.chance(0.4) {
                phrase.to_lowercase()
            } else {
                phrase.clone()
            }
        };
        let topic_part = match (wish.more.first(), wish.less.first()) {
            (Some(&a), Some(&b)) => Some(
                rng.pick(&self.more_less)
                    .replace("{a}", &name(a, rng))
                    .replace("{b}", &name(b, rng)),
            ),
            (Some(&a), None) => Some(rng.pick(&self.more).replace("{t}", &name(a, rng))),
            (None, Some(&b)) => Some(rng.pick(&self.less).replace("{t}", &name(b, rng))),
            (None, None) => None,
        };
        let tone_part = match wish.tone {
            Some(Tone::Calm) => Some(rng.pick(&self.calm).clone()),
            Some(Tone::Upbeat) => Some(rng.pick(&self.upbeat).clone()),
            Some(Tone::Any) | None => None,
        };
        let text = match (topic_part, tone_part) {
            (Some(a), Some(b)) => format!("{a}{}{b}", rng.pick(&self.joiners)),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => String::new(),
        };
        typos(&text, user.typo_rate, rng)
    }
}

/// Each word of four letters or more gets a typo with chance `rate`.
pub fn typos(text: &str, rate: f64, rng: &mut Rng) -> String {
    if rate <= 0.0 {
        return text.to_string();
    }
    text.split(' ')
        .map(|word| {
            let chars: Vec<char> = word.chars().collect();
            if chars.len() < 4 || !chars.iter().all(|c| c.is_alphabetic()) || !rng.chance(rate) {
                return word.to_string();
            }
            let mut c = chars;
            let i = 1 + rng.below(c.len() - 2);
            match rng.below(4) {
                0 => c.swap(i, i + 1),
                1 => {
                    c.remove(i);
                }
                2 => c.insert(i, c[i]),
                _ => c[i] = near_key(c[i]),
            }
            c.into_iter().collect()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A neighbouring key on a QWERTY keyboard (the same letter when none).
fn near_key(c: char) -> char {
    const ROWS: [&str; 3] = ["qwertyuiop", "asdfghjkl", "zxcvbnm"];
    let lower = c.to_ascii_lowercase();
    for row in ROWS {
        if let Some(i) = row.find(lower) {
            let bytes = row.as_bytes();
            let j = if i + 1 < bytes.len() { i + 1 } else { i - 1 };
            return bytes[j] as char;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{PopulationOptions, generate};
    use crate::topics::TopicKind;

    fn topics() -> Vec<Topic> {
        ["Premier League", "interest rates", "climate change"]
            .iter()
            .map(|p| Topic {
                phrase: p.to_string(),
                kind: TopicKind::Phrase,
                items: 5,
            })
            .collect()
    }

    #[test]
    fn the_builtin_phrasings_load_and_bad_ones_are_named() {
        assert!(Phrasings::builtin().len() >= 50);
        let bad = BUILTIN.replace("\"less {t}\",", "\"less\",");
        let err = Phrasings::parse(&bad).unwrap_err();
        assert!(err.to_string().contains("less entry \"less\""), "{err}");
    }

    #[test]
    fn wishes_come_out_in_many_forms_naming_their_topics() {
        let p = Phrasings::builtin();
        let t = topics();
        let mut user = generate(&t, &PopulationOptions::default())[0].clone();
        user.typo_rate = 0.0;
        let mut rng = Rng::new(5);
        let wish = Wish {
            more: vec![0],
            less: vec![1],
            tone: Some(Tone::Calm),
            ..Wish::default()
        };
        let said: std::collections::HashSet<String> = (0..200)
            .map(|_| p.say(&user, &wish, &t, &mut rng))
            .collect();
        assert!(said.len() > 50, "{} distinct", said.len());
        for s in &said {
            let l = s.to_lowercase();
            assert!(
                l.contains("premier league") && l.contains("interest rates"),
                "{s}"
            );
        }
    }

    #[test]
    fn typos_change_words_at_the_given_rate_and_spare_short_ones() {
        let mut rng = Rng::new(2);
        let text = "please show me more about football and cricket today";
        assert_eq!(typos(text, 0.0, &mut rng), text);
        let changed = (0..500)
            .filter(|_| typos(text, 0.1, &mut rng) != text)
            .count();
        // 7 words of four letters or more: 1 - 0.9^7 = 0.52 of sentences.
        assert!((200..330).contains(&changed), "{changed}");
        assert_eq!(typos("to be or", 1.0, &mut rng), "to be or");
    }
}
