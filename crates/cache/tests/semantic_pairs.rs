#![cfg(feature = "local-embeddings")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! How well the local model's cosine similarity separates a reworded question (the cached
//! answer is right) from a similar-looking one that needs another answer (a hit would serve
//! a wrong answer), on the labelled pairs in `tests/data/paraphrase_pairs.jsonl`.
//!
//! Why: the semantic tier's default threshold for `local:all-MiniLM-L6-v2` is chosen from
//! this data, and these tests keep it honest: a tokenizer, pooling or model change that moves
//! the similarities shows up here, not as wrong answers in production.
//!
//! What the data says (measured): cosine similarity alone does NOT separate the two labels.
//! Near-misses score higher on average than paraphrases (0.81 vs 0.77, ranking AUC ~0.41), so
//! no threshold reaches the target of >= 80% paraphrase hits with <= 2% near-miss hits. The
//! verifier the semantic tier applies to every candidate (`heimdall_cache::guard`: numbers,
//! negation, reordered words) halves the near-misses at the threshold without losing a
//! paraphrase, but does not reach the target either: every paraphrase here is a rewording
//! with other words, and most near-misses swap one word for another of the same kind, which
//! no check on the text alone can judge. The test asserting the target stays `#[ignore]`d;
//! the baseline test pins the measured similarities and the verifier test its measured gain.
//!
//! Needs the model files (`scripts/fetch-embedding-model.sh`): in `HEIMDALL_EMBEDDING_MODEL_DIR`
//! (relative paths from the workspace root) or `data/models/all-MiniLM-L6-v2` under the
//! workspace root. Without them the tests are skipped, except under CI, where they fail.
//! `HEIMDALL_PAIRS_DUMP=<file>` writes every pair's similarity as JSON lines.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use heimdall_cache::Embedder;
use heimdall_cache::embed::local::LocalEmbedder;
use heimdall_cache::guard;
use serde::Deserialize;

/// The similarity threshold to document for the local model. Precision first (a wrong hit
/// serves a wrong answer; a miss only costs an upstream call), so the strictest value of the
/// table; on this data it still lets 15.6% of near-misses through and 2.3% of paraphrases.
const THRESHOLD: f32 = 0.95;

/// Paraphrases that should hit at [`THRESHOLD`] (the target).
const MIN_PARAPHRASE_HIT_RATE: f64 = 0.80;
/// Near-misses that may hit at [`THRESHOLD`] (the target).
const MAX_NEAR_MISS_HIT_RATE: f64 = 0.02;

/// Mean similarity per label as measured with all-MiniLM-L6-v2 (matches a NumPy reference of
/// sentence-transformers' pooling to 1e-6); padding pooled in would push both toward 0.9+.
const BASELINE_PARAPHRASE_MEAN: f32 = 0.767;
const BASELINE_NEAR_MISS_MEAN: f32 = 0.810;
const BASELINE_TOLERANCE: f32 = 0.01;

#[derive(Debug, Deserialize)]
struct Pair {
    a: String,
    b: String,
    label: Label,
    topic: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Label {
    Paraphrase,
    NearMiss,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The model folder, or `None` (after saying why) when the test should be skipped.
fn model_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("HEIMDALL_EMBEDDING_MODEL_DIR") {
        Some(d) => workspace_root().join(d), // an absolute path replaces the root
        None => workspace_root().join("data/models/all-MiniLM-L6-v2"),
    };
    let complete = ["model.safetensors", "tokenizer.json", "config.json"]
        .iter()
        .all(|f| dir.join(f).is_file());
    if complete {
        return Some(dir);
    }
    let message = format!(
        "the embedding model is not in {}: run scripts/fetch-embedding-model.sh \
         (or set HEIMDALL_EMBEDDING_MODEL_DIR)",
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("SKIPPED semantic_pairs: {message}");
    None
}

fn load_pairs() -> Vec<Pair> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/paraphrase_pairs.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The share of `of` pairs whose similarity in `sims` (all of them, or the verified ones)
/// is at least `threshold`.
fn hit_rate_of(sims: &[f32], of: usize, threshold: f32) -> f64 {
    sims.iter().filter(|s| **s >= threshold).count() as f64 / of as f64
}

fn hit_rate(sims: &[f32], threshold: f32) -> f64 {
    hit_rate_of(sims, sims.len(), threshold)
}

fn stats(sims: &[f32]) -> (f32, f32, f32) {
    let mean = sims.iter().sum::<f32>() / sims.len() as f32;
    let min = sims.iter().copied().fold(f32::INFINITY, f32::min);
    let max = sims.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (mean, min, max)
}

/// Every pair's similarity, computed once for all the tests of this file.
struct Measured {
    /// Highest similarity first.
    scored: Vec<(f32, Pair)>,
    paraphrase: Vec<f32>,
    near_miss: Vec<f32>,
    /// The similarities of the pairs the verifier ([`guard::mismatch`]) lets through: the
    /// semantic tier hits only on those.
    paraphrase_verified: Vec<f32>,
    near_miss_verified: Vec<f32>,
    /// Every distinct text's embedding.
    vectors: HashMap<String, Vec<f32>>,
}

fn measured() -> Option<&'static Measured> {
    static MEASURED: OnceLock<Option<Measured>> = OnceLock::new();
    MEASURED.get_or_init(measure).as_ref()
}

fn measure() -> Option<Measured> {
    let dir = model_dir()?;
    let started = Instant::now();
    let embedder = LocalEmbedder::load(&dir).unwrap();
    eprintln!("model loaded in {:?}", started.elapsed());

    let pairs = load_pairs();
    let paraphrases = pairs
        .iter()
        .filter(|p| p.label == Label::Paraphrase)
        .count();
    let near_misses = pairs.len() - paraphrases;
    assert!(pairs.len() >= 240 && paraphrases >= 120 && near_misses >= 120);

    // Embed each distinct text once.
    let mut vectors: HashMap<String, Vec<f32>> = HashMap::new();
    let started = Instant::now();
    for text in pairs.iter().flat_map(|p| [&p.a, &p.b]) {
        if !vectors.contains_key(text) {
            vectors.insert(text.clone(), embedder.embed_blocking(text).unwrap());
        }
    }
    let per_text = started.elapsed() / vectors.len() as u32;
    eprintln!("embedded {} texts, {per_text:?} per text", vectors.len());

    let mut scored: Vec<(f32, Pair)> = pairs
        .into_iter()
        .map(|p| (cosine(&vectors[&p.a], &vectors[&p.b]), p))
        .collect();
    if let Some(path) = std::env::var_os("HEIMDALL_PAIRS_DUMP") {
        let lines: Vec<String> = scored
            .iter()
            .map(|(s, p)| {
                let (a, b, label, topic) = (&p.a, &p.b, p.label, &p.topic);
                serde_json::json!({"similarity": s, "a": a, "b": b, "label": label, "topic": topic})
                    .to_string()
            })
            .collect();
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
    }
    scored.sort_by(|x, y| y.0.total_cmp(&x.0));
    let sims = |label: Label, verified_only: bool| -> Vec<f32> {
        scored
            .iter()
            .filter(|(_, p)| p.label == label)
            .filter(|(_, p)| !verified_only || guard::mismatch(&p.a, &p.b).is_none())
            .map(|(s, _)| *s)
            .collect()
    };
    let m = Measured {
        paraphrase: sims(Label::Paraphrase, false),
        near_miss: sims(Label::NearMiss, false),
        paraphrase_verified: sims(Label::Paraphrase, true),
        near_miss_verified: sims(Label::NearMiss, true),
        scored,
        vectors,
    };
    report(&m);
    Some(m)
}

/// The probability that a random paraphrase outscores a random near-miss (0.5 = chance).
fn ranking_auc(paraphrase: &[f32], near_miss: &[f32]) -> f64 {
    let wins: f64 = paraphrase
        .iter()
        .flat_map(|p| near_miss.iter().map(move |n| (p, n)))
        .map(|(p, n)| match p.total_cmp(n) {
            std::cmp::Ordering::Greater => 1.0,
            std::cmp::Ordering::Equal => 0.5,
            std::cmp::Ordering::Less => 0.0,
        })
        .sum();
    wins / (paraphrase.len() * near_miss.len()) as f64
}

fn report(m: &Measured) {
    let (para, near) = (&m.paraphrase, &m.near_miss);
    let (para_n, near_n) = (para.len(), near.len());
    let (para_v, near_v) = (&m.paraphrase_verified, &m.near_miss_verified);
    eprintln!("           cosine alone                     with the verifier");
    eprintln!("threshold  paraphrase hits  near-miss hits  paraphrase hits  near-miss hits");
    let mut thresholds: Vec<f32> = (0..=7).map(|i| 0.60 + 0.05 * i as f32).collect();
    if !thresholds.iter().any(|t| (t - THRESHOLD).abs() < 1e-4) {
        thresholds.push(THRESHOLD);
    }
    for t in thresholds {
        let mark = if (t - THRESHOLD).abs() < 1e-4 {
            "  <- THRESHOLD"
        } else {
            ""
        };
        eprintln!(
            "{t:9.2}  {:14.1}%  {:13.1}%  {:14.1}%  {:13.1}%{mark}",
            100.0 * hit_rate(para, t),
            100.0 * hit_rate(near, t),
            100.0 * hit_rate_of(para_v, para_n, t),
            100.0 * hit_rate_of(near_v, near_n, t),
        );
    }
    for (name, s) in [("paraphrase", para), ("near_miss", near)] {
        let (mean, min, max) = stats(s);
        eprintln!(
            "{name:<10}  n={:3}  mean {mean:.3}  min {min:.3}  max {max:.3}",
            s.len()
        );
    }
    eprintln!(
        "ranking AUC (paraphrase above near-miss): {:.3}",
        ranking_auc(para, near)
    );
    eprintln!("near-misses scoring highest:");
    for (s, p) in m
        .scored
        .iter()
        .filter(|(_, p)| p.label == Label::NearMiss)
        .take(10)
    {
        let verdict = guard::mismatch(&p.a, &p.b).map_or("HIT", guard::Mismatch::as_str);
        eprintln!(
            "  {s:.3}  {verdict:<10} [{}] {:?} / {:?}",
            p.topic, p.a, p.b
        );
    }
    eprintln!("paraphrases scoring lowest:");
    for (s, p) in m
        .scored
        .iter()
        .rev()
        .filter(|(_, p)| p.label == Label::Paraphrase)
        .take(10)
    {
        eprintln!("  {s:.3}  [{}] {:?} / {:?}", p.topic, p.a, p.b);
    }
}

/// The similarities stay where they were measured: a change of tokenizer settings, pooling
/// or weights moves the means and fails here.
#[test]
fn similarities_match_the_measured_baseline() {
    let Some(m) = measured() else { return };
    for (name, sims, baseline) in [
        ("paraphrase", &m.paraphrase, BASELINE_PARAPHRASE_MEAN),
        ("near_miss", &m.near_miss, BASELINE_NEAR_MISS_MEAN),
    ] {
        let (mean, _, _) = stats(sims);
        assert!(
            (mean - baseline).abs() <= BASELINE_TOLERANCE,
            "{name} mean similarity {mean:.3}, measured baseline {baseline:.3}"
        );
    }
}

/// What the verifier buys at [`THRESHOLD`], as measured: it turns down more than half of the
/// near-misses cosine similarity lets through (15.6% -> 7.4%: different numbers, a negation on
/// one side, the same words reordered) and no paraphrase that cosine lets through.
#[test]
fn the_verifier_halves_the_near_misses_at_the_threshold() {
    let Some(m) = measured() else { return };
    let (para_n, near_n) = (m.paraphrase.len(), m.near_miss.len());
    let cosine_near = hit_rate(&m.near_miss, THRESHOLD);
    let verified_near = hit_rate_of(&m.near_miss_verified, near_n, THRESHOLD);
    let cosine_para = hit_rate(&m.paraphrase, THRESHOLD);
    let verified_para = hit_rate_of(&m.paraphrase_verified, para_n, THRESHOLD);
    assert!(
        verified_near <= 0.075 && verified_near <= cosine_near / 2.0,
        "near-miss hits at {THRESHOLD}: {:.1}% with the verifier, {:.1}% on cosine alone",
        100.0 * verified_near,
        100.0 * cosine_near
    );
    assert!(
        (verified_para - cosine_para).abs() < 1e-9,
        "paraphrase hits at {THRESHOLD}: {:.1}% with the verifier, {:.1}% on cosine alone",
        100.0 * verified_para,
        100.0 * cosine_para
    );
}

/// The share of the set's questions that some other question of the set, not labelled as its
/// pair, would answer at `threshold` with the verifier on: what a cache holding all the other
/// questions would serve. Most such pairs ask different things about one topic ("How do I
/// create an event?" / "How do I add a co-host to my event?"); a few are unlabelled rewordings
/// ("How can I rename a column in pandas?" / "How do I rename a column in pandas?"), so this is
/// an upper bound on wrong answers.
fn answered_by_another_question(m: &Measured, threshold: f32) -> f64 {
    let labelled: std::collections::HashSet<(&str, &str)> = m
        .scored
        .iter()
        .flat_map(|(_, p)| [(p.a.as_str(), p.b.as_str()), (p.b.as_str(), p.a.as_str())])
        .collect();
    let texts: Vec<(&String, &Vec<f32>)> = m.vectors.iter().collect();
    let answered = texts
        .iter()
        .filter(|(q, qv)| {
            texts.iter().any(|(c, cv)| {
                q != c
                    && !labelled.contains(&(q.as_str(), c.as_str()))
                    && cosine(qv, cv) >= threshold
                    && guard::mismatch(q, c).is_none()
            })
        })
        .count();
    answered as f64 / texts.len() as f64
}

/// Why the threshold stays high although a low one would let most paraphrases hit: at 0.60,
/// where the verifier keeps ~80% of the paraphrases, 39% of the set's questions would be
/// answered with another question's answer (1.8% at [`THRESHOLD`]). Prints the table for
/// `docs/cache.md`.
#[test]
fn low_thresholds_answer_other_questions() {
    let Some(m) = measured() else { return };
    eprintln!("threshold  questions answered by another question of the set (verifier on)");
    for t in [0.60, 0.70, 0.80, 0.90, THRESHOLD] {
        eprintln!(
            "{t:9.2}  {:6.1}%",
            100.0 * answered_by_another_question(m, t)
        );
    }
    let low = answered_by_another_question(m, 0.60);
    let high = answered_by_another_question(m, THRESHOLD);
    assert!(
        low >= 0.35 && high <= 0.03,
        "answered by another question: {:.1}% at 0.60, {:.1}% at {THRESHOLD}",
        100.0 * low,
        100.0 * high
    );
}

/// The target: at [`THRESHOLD`], >= 80% of paraphrases hit and <= 2% of near-misses do,
/// verifier included. Not met (see the module doc); run with `--ignored` to see the table.
#[test]
#[ignore = "cosine similarity and the verifier's checks do not separate paraphrases from near-misses"]
fn the_threshold_separates_paraphrases_from_near_misses() {
    let Some(m) = measured() else { return };
    let para_rate = hit_rate_of(&m.paraphrase_verified, m.paraphrase.len(), THRESHOLD);
    let near_rate = hit_rate_of(&m.near_miss_verified, m.near_miss.len(), THRESHOLD);
    assert!(
        para_rate >= MIN_PARAPHRASE_HIT_RATE,
        "paraphrase hit rate {:.1}% at {THRESHOLD} (want >= {:.0}%)",
        100.0 * para_rate,
        100.0 * MIN_PARAPHRASE_HIT_RATE
    );
    assert!(
        near_rate <= MAX_NEAR_MISS_HIT_RATE,
        "near-miss hit rate {:.1}% at {THRESHOLD} (want <= {:.0}%)",
        100.0 * near_rate,
        100.0 * MAX_NEAR_MISS_HIT_RATE
    );
}

/// The embedder's contract: unit vectors of the advertised length, the async path equal to
/// the blocking one, and padding out of the picture (unrelated sentences far apart).
#[tokio::test]
async fn embeddings_are_unit_length_and_padding_free() {
    let Some(dir) = model_dir() else { return };
    let embedder = LocalEmbedder::load(&dir).unwrap();
    assert_eq!(embedder.name(), "local:all-MiniLM-L6-v2");
    assert_eq!(embedder.dimension(), Some(384));

    let text = "How do I create an event?";
    let v = embedder.embed(text).await.unwrap();
    assert_eq!(v.len(), 384);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    let blocking = embedder.embed_blocking(text).unwrap();
    assert!(cosine(&v, &blocking) > 0.9999);

    let unrelated = embedder
        .embed("The capital of Australia is Canberra.")
        .await
        .unwrap();
    let sim = cosine(&v, &unrelated);
    assert!(
        sim < 0.3,
        "unrelated sentences score {sim}: is padding pooled?"
    );

    // Empty and very long inputs still embed (the long one is truncated, not rejected).
    assert_eq!(embedder.embed("").await.unwrap().len(), 384);
    let long = "word ".repeat(2_000);
    assert_eq!(embedder.embed(&long).await.unwrap().len(), 384);
}
