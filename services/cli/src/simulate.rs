//! `generec simulate`: builds the simulated user population from the BBC
//! corpus and shows what it is made of: the topics drawn from the corpus,
//! the users' tastes, tone, patience and readiness to speak, the feedback
//! model's calibration (MovieLens 100K ratings, a stated base click rate),
//! how users respond to random items against items near what they like,
//! and what they say when they speak up. No server is needed; the study
//! that serves this population through the platform builds on it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use generec_simulate::population::{self, PopulationOptions, Tone, User};
use generec_simulate::response::{Calibration, ItemView, RatingScale, Response, Wish, cosine};
use generec_simulate::rng::Rng;
use generec_simulate::session::{Next, Seen, Session};
use generec_simulate::speak::Phrasings;
use generec_simulate::topics::{self, TextItem, Topic, TopicKind, TopicOptions};

/// What the simulated world is built from (shared by `simulate` and
/// `eval loop`).
#[derive(clap::Args, Clone)]
pub struct WorldArgs {
    /// Where scripts/fetch-data put the BBC articles, MovieLens and the models.
    #[arg(long, env = "GENEREC_DATA", default_value = ".data")]
    pub datasets: PathBuf,
    /// Corpus items embedded to calibrate the users' responses (a sample,
    /// in a fixed order).
    #[arg(long, default_value_t = 400)]
    pub items: usize,
    /// Topics drawn from the corpus (tags come on top).
    #[arg(long, default_value_t = 300)]
    pub topics: usize,
    /// Chance a random item is clicked: an assumption, reported as such.
    #[arg(long, default_value_t = 0.25)]
    pub base_click: f64,
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// Users in the population.
    #[arg(long, default_value_t = 500)]
    users: usize,
    /// Seed of the population and of every draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Users whose tastes and words are printed.
    #[arg(long, default_value_t = 6)]
    show: usize,
}

/// The simulation's world: topics and their embeddings, a sample of
/// corpus items with embeddings and tone, the models that read new items,
/// the rating scale, and (per seed) the population and the fitted model.
pub struct World {
    pub topics: Vec<Topic>,
    pub topic_vectors: Vec<Vec<f32>>,
    pub items: Vec<SimItem>,
    pub users: Vec<User>,
    pub calibration: Calibration,
    pub senses: Arc<Senses>,
}

/// What users perceive an item with: its meaning (MiniLM) and its tone
/// (VADER's lexicon, through generation's tone scores).
pub struct Senses {
    embedder: generec_models::embed::Embedder,
    tone: generec_generation::tone::ToneLexicon,
}

impl Senses {
    /// The embedding and valence of each text.
    pub fn perceive(&self, texts: &[String]) -> Result<Vec<(Vec<f32>, f32)>> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = self.embedder.embed(&refs)?;
        Ok(vectors
            .into_iter()
            .zip(texts)
            .map(|(v, t)| (v, self.tone.score(t).valence))
            .collect())
    }
}

/// One corpus item as the users perceive it.
pub struct SimItem {
    pub title: String,
    pub vector: Vec<f32>,
    pub valence: f32,
}

impl SimItem {
    pub fn view(&self) -> ItemView<'_> {
        ItemView {
            vector: &self.vector,
            valence: self.valence,
        }
    }
}

/// What an item's meaning is read from: its title and the start of its body.
pub fn item_text(title: &str, body: &str) -> String {
    let mut end = body.len().min(600);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{title}. {}", &body[..end])
}

/// Builds the world from the data folder, with the population of `seed`.
pub fn build_world(args: &WorldArgs, users: usize, seed: u64) -> Result<World> {
    let WorldArgs {
        datasets,
        items,
        topics: max_topics,
        base_click,
    } = args.clone();
    let datasets = datasets.as_path();
    let corpus = crate::bench::bbc(datasets)?;
    if corpus.is_empty() {
        bail!("the BBC corpus in {} is empty", datasets.display());
    }
    let texts: Vec<TextItem<'_>> = corpus
        .iter()
        .map(|i| TextItem {
            title: &i.title,
            body: &i.body,
            tags: &i.tags,
        })
        .collect();
    let topics = topics::extract(
        &texts,
        &TopicOptions {
            max_topics,
            ..TopicOptions::default()
        },
    );
    let models = generec_models::ModelDir::new(datasets.join("models"));
    let minilm = models.minilm().with_context(|| {
        format!(
            "the MiniLM model is not in {}; run scripts/fetch-data",
            datasets.join("models").display()
        )
    })?;
    let embedder = generec_models::embed::Embedder::load(&minilm)?;
    let vader = models.vader_lexicon().with_context(|| {
        format!(
            "the VADER lexicon is not in {}; run scripts/fetch-data",
            datasets.join("models").display()
        )
    })?;
    let tone = generec_generation::tone::ToneLexicon::load(&vader)?;
    let senses = Arc::new(Senses { embedder, tone });

    let phrases: Vec<&str> = topics.iter().map(|t| t.phrase.as_str()).collect();
    let topic_vectors = senses.embedder.embed(&phrases)?;
    // A fixed sample: every k-th item, so each category is represented.
    let step = (corpus.len() / items.max(1)).max(1);
    let sample: Vec<&generec_corpus::model::Item> =
        corpus.iter().step_by(step).take(items).collect();
    let sample_texts: Vec<String> = sample
        .iter()
        .map(|i| item_text(&i.title, &i.body))
        .collect();
    let sim_items: Vec<SimItem> = sample
        .iter()
        .zip(senses.perceive(&sample_texts)?)
        .map(|(item, (vector, valence))| SimItem {
            title: item.title.clone(),
            vector,
            valence,
        })
        .collect();
    let ratings = datasets.join("ml-100k").join("ml-100k.inter");
    let scale = RatingScale::parse_movielens(
        &std::fs::read_to_string(&ratings)
            .with_context(|| format!("reading {}; run scripts/fetch-data", ratings.display()))?,
    )?;
    let mut world = World {
        topics,
        topic_vectors,
        items: sim_items,
        users: Vec::new(),
        calibration: Calibration::from_scale(scale, base_click),
        senses,
    };
    world.populate(users, seed, base_click)?;
    Ok(world)
}

impl World {
    /// What `user` makes of an item they responded to: whether it is
    /// about a topic they dislike or like, and its tone.
    pub fn seen(&self, user: &User, response: Response, vector: &[f32], valence: f32) -> Seen {
        let about = |t: usize| self.calibration.about(&self.topic_vectors[t], vector);
        Seen {
            response,
            about_disliked: user.dislikes.iter().any(|d| about(*d)),
            about_liked: user.likes.iter().any(|(t, _)| about(*t)),
            valence,
        }
    }

    /// Draws the population of `seed` and fits the feedback model to it.
    pub fn populate(&mut self, users: usize, seed: u64, base_click: f64) -> Result<()> {
        self.users = population::generate(
            &self.topics,
            &PopulationOptions {
                users,
                seed,
                ..PopulationOptions::default()
            },
        );
        let views: Vec<ItemView<'_>> = self.items.iter().map(SimItem::view).collect();
        self.calibration = Calibration::fit(
            &self.users,
            &self.topic_vectors,
            &views,
            self.calibration.scale.clone(),
            base_click,
            50_000,
            seed,
        )?;
        Ok(())
    }
}

pub fn run(args: SimulateArgs) -> Result<()> {
    let started = Instant::now();
    let world = build_world(&args.world, args.users, args.seed)?;
    print_topics(&world);
    print_population(&world);
    print_calibration(&world);
    print_responses(&world, args.seed);
    print_sessions(&world, args.seed);
    print_voices(&world, args.seed, args.show);
    eprintln!(
        "built and checked in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn print_topics(world: &World) {
    let count = |k: TopicKind| world.topics.iter().filter(|t| t.kind == k).count();
    println!(
        "topics drawn from the corpus: {} ({} named things, {} phrases, {} tags)",
        world.topics.len(),
        count(TopicKind::Entity),
        count(TopicKind::Phrase),
        count(TopicKind::Tag)
    );
    let top: Vec<String> = world
        .topics
        .iter()
        .take(15)
        .map(|t| format!("{} ({})", t.phrase, t.items))
        .collect();
    println!("  most common: {}", top.join(", "));
}

fn print_population(world: &World) {
    let n = world.users.len().max(1) as f64;
    let share = |f: &dyn Fn(&User) -> bool| world.users.iter().filter(|u| f(u)).count() as f64 / n;
    let mean = |f: &dyn Fn(&User) -> f64| world.users.iter().map(f).sum::<f64>() / n;
    println!();
    println!("population: {} users", world.users.len());
    println!(
        "  tone: calm {:.2}, any {:.2}, upbeat {:.2}",
        share(&|u| u.tone == Tone::Calm),
        share(&|u| u.tone == Tone::Any),
        share(&|u| u.tone == Tone::Upbeat)
    );
    println!(
        "  topics liked per user {:.2}; with a disliked topic {:.2}; patience {:.2} misses; chance to speak {:.2}; typing with typos {:.2}",
        mean(&|u| u.likes.len() as f64),
        share(&|u| !u.dislikes.is_empty()),
        mean(&|u| f64::from(u.patience)),
        mean(&|u| u.speaks),
        share(&|u| u.typo_rate > 0.0)
    );
    let liked_topics: std::collections::HashSet<usize> = world
        .users
        .iter()
        .flat_map(|u| u.likes.iter().map(|(t, _)| *t))
        .collect();
    println!(
        "  distinct topics liked across the population: {} of {}",
        liked_topics.len(),
        world.topics.len()
    );
}

fn print_calibration(world: &World) {
    let c = &world.calibration;
    let shares = c.scale.shares();
    println!();
    println!(
        "calibration: base click rate {:.2} (assumed), click bias {:.3}, topic threshold cosine {:.3}",
        c.base_click, c.click_bias, c.topic_threshold
    );
    println!(
        "  MovieLens 100K ratings 1-5: {} (mean {:.2})",
        shares.map(|s| format!("{s:.3}")).join(" "),
        c.scale.mean()
    );
}

/// Items nearest to a user's most liked topic.
fn targeted<'a>(world: &'a World, user: &User, k: usize) -> Vec<&'a SimItem> {
    let topic = &world.topic_vectors[user.likes[0].0];
    let mut scored: Vec<(f32, &SimItem)> = world
        .items
        .iter()
        .map(|i| (cosine(topic, &i.vector), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(k).map(|(_, i)| i).collect()
}

#[derive(Default)]
struct Tally {
    shown: usize,
    clicks: usize,
    completed: usize,
    liked: usize,
    ratings: Vec<u8>,
}

impl Tally {
    fn add(&mut self, r: &generec_simulate::response::Response) {
        self.shown += 1;
        self.clicks += usize::from(r.clicked);
        self.completed += usize::from(r.completed());
        self.liked += usize::from(r.liked);
        self.ratings.extend(r.rating);
    }

    fn row(&self, name: &str) -> String {
        let n = self.shown.max(1) as f64;
        let rated = self.ratings.len().max(1) as f64;
        let mean = self.ratings.iter().map(|r| f64::from(*r)).sum::<f64>() / rated;
        format!(
            "| {name:<28} | {:>7.3} | {:>7.3} | {:>10.3} | {:>7.3} | {:>11.2} |",
            self.clicks as f64 / n,
            1.0 - self.clicks as f64 / n,
            self.completed as f64 / n,
            self.liked as f64 / n,
            mean
        )
    }
}

/// Responses to random items against items near each user's favourite
/// topic: the model must tell them apart.
fn print_responses(world: &World, seed: u64) {
    let mut rng = Rng::derive(seed, &[0xfeed]);
    let (mut random, mut near) = (Tally::default(), Tally::default());
    let c = &world.calibration;
    for user in &world.users {
        for _ in 0..10 {
            let item = rng.pick(&world.items);
            random.add(&c.respond(user, None, &world.topic_vectors, item.view(), &mut rng));
        }
        for item in targeted(world, user, 10) {
            near.add(&c.respond(user, None, &world.topic_vectors, item.view(), &mut rng));
        }
    }
    println!();
    println!("responses, 10 items per user");
    println!(
        "| items shown                  |  clicks |   skips | completions |   likes | mean rating |"
    );
    println!(
        "|------------------------------|---------|---------|------------|---------|-------------|"
    );
    println!("{}", random.row("random items"));
    println!("{}", near.row("near the favourite topic"));
}

/// Sessions of random feeds: how many users speak up and how many leave.
fn print_sessions(world: &World, seed: u64) {
    let (mut spoke, mut changes, mut left, mut feeds) = (0usize, 0usize, 0usize, 0u32);
    for (n, user) in world.users.iter().enumerate() {
        let mut rng = Rng::derive(seed, &[0x5e55, n as u64]);
        let mut session = Session::default();
        let mut wish: Option<Wish> = None;
        for _ in 0..10 {
            let seen: Vec<Seen> = (0..5)
                .map(|_| {
                    let item = rng.pick(&world.items);
                    let response = world.calibration.respond(
                        user,
                        wish.as_ref(),
                        &world.topic_vectors,
                        item.view(),
                        &mut rng,
                    );
                    world.seen(user, response, &item.vector, item.valence)
                })
                .collect();
            match session.after_feed(user, &seen, false, &mut rng) {
                Next::More => {}
                Next::Speak(w) => {
                    spoke += 1;
                    changes += usize::from(w.change.is_some());
                    wish = Some(w);
                }
                Next::Leave => break,
            }
        }
        feeds += session.feeds;
        left += usize::from(session.left);
    }
    let n = world.users.len().max(1) as f64;
    println!();
    println!(
        "sessions of up to 10 random feeds of 5: {:.2} of users spoke up ({:.2} to ask for an item changed), {:.2} left, {:.1} feeds per session",
        spoke as f64 / n,
        changes as f64 / n,
        left as f64 / n,
        f64::from(feeds) / n
    );
}

fn print_voices(world: &World, seed: u64, show: usize) {
    let phrasings = Phrasings::builtin();
    let mut rng = Rng::derive(seed, &[0x5a1d]);
    println!();
    println!(
        "what users say when they speak up ({} phrasings; typos at each user's rate)",
        phrasings.len()
    );
    for user in world.users.iter().take(show) {
        let likes: Vec<String> = user
            .likes
            .iter()
            .map(|(t, w)| format!("{} {:.2}", world.topics[*t].phrase, w))
            .collect();
        let dislikes: Vec<&str> = user
            .dislikes
            .iter()
            .map(|t| world.topics[*t].phrase.as_str())
            .collect();
        let wish = Wish {
            more: vec![user.likes[0].0],
            less: user.dislikes.clone(),
            tone: (user.tone != Tone::Any).then_some(user.tone),
            ..Wish::default()
        };
        let nearest = targeted(world, user, 1)
            .first()
            .map(|i| i.title.as_str())
            .unwrap_or_default();
        println!(
            "  {} likes [{}], dislikes [{}], tone {}, patience {}, speaks {:.2}; nearest item \"{nearest}\"; says \"{}\"",
            user.id,
            likes.join(", "),
            dislikes.join(", "),
            user.tone.as_str(),
            user.patience,
            user.speaks,
            phrasings.say(user, &wish, &world.topics, &mut rng)
        );
    }
}
