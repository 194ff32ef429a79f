//! `generec bench log` and `generec bench provenance`: the transparency
//! log's durable append rate at several concurrencies, proof times at a
//! large tree size, and Certify / Verify against raw ed25519-dalek sign and
//! verify measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use ed25519_dalek::{Signer, SigningKey, Verifier};
use generec_trust::finding::Action;
use generec_trust::keys::KeyRing;
use generec_trust::provenance::{CertifyRequest, Provenance};
use generec_trust::review::Outcome;
use generec_trust::tlog::Log;
use generec_trust::{manifest, merkle};

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Durable appends per second with `writers` threads appending one entry
/// at a time, for about `duration`.
fn append_rate(log: &Arc<Log>, writers: usize, duration: Duration) -> Result<f64> {
    let start = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let log = log.clone();
            std::thread::spawn(move || -> Result<usize> {
                let mut n = 0usize;
                while start.elapsed() < duration {
                    log.append(vec![
                        format!("writer {w} entry {n} {:?}", start.elapsed()).into_bytes(),
                    ])?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for t in threads {
        total += t.join().map_err(|_| anyhow::anyhow!("writer panicked"))??;
    }
    Ok(per_second(total, start.elapsed()))
}

/// `generec bench log`.
pub fn bench_log(entries: u64, seconds: u64) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = sled::open(dir.path().join("db"))?;
    let log = Arc::new(Log::open(&db)?);
    println!("| durable appends, one entry per call | appends per second |");
    println!("|---|---:|");
    for writers in [1usize, 8, 64] {
        let rate = append_rate(&log, writers, Duration::from_secs(seconds))?;
        println!("| {writers} concurrent writers | {rate:.0} |");
    }
    // Grow the tree to `entries` in large batches, then time proofs.
    let (mut size, _) = log.head();
    let started = Instant::now();
    while size < entries {
        let n = (entries - size).min(20_000);
        log.append(
            (0..n)
                .map(|i| format!("bulk {}", size + i).into_bytes())
                .collect(),
        )?;
        size = log.head().0;
    }
    let (size, root) = log.head();
    eprintln!(
        "grew the log to {size} entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let samples = 2000u64;
    let t = Instant::now();
    for k in 0..samples {
        let index = (k * 7_919_993) % size;
        let proof = log.inclusion_proof(index, size)?;
        std::hint::black_box(proof);
    }
    let inclusion = t.elapsed() / samples as u32;
    let t = Instant::now();
    for k in 0..samples {
        let old = 1 + (k * 7_919_993) % (size - 1);
        std::hint::black_box(log.consistency_proof(old, size)?);
    }
    let consistency = t.elapsed() / samples as u32;
    let index = size / 3;
    let proof = log.inclusion_proof(index, size)?;
    let leaf = merkle::leaf_hash(&log.entry(index)?.unwrap_or_default());
    let t = Instant::now();
    for _ in 0..samples {
        std::hint::black_box(merkle::verify_inclusion(&leaf, index, size, &proof, &root));
    }
    let verify = t.elapsed() / samples as u32;
    println!();
    println!("| at {size} entries | time per proof |");
    println!("|---|---:|");
    println!(
        "| inclusion proof (read from sled) | {:.1} µs |",
        inclusion.as_secs_f64() * 1e6
    );
    println!(
        "| consistency proof (read from sled) | {:.1} µs |",
        consistency.as_secs_f64() * 1e6
    );
    println!(
        "| inclusion proof verification | {:.1} µs |",
        verify.as_secs_f64() * 1e6
    );
    Ok(())
}

/// `generec bench provenance`.
pub fn bench_provenance(items: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = sled::open(dir.path().join("db"))?;
    let keys = KeyRing::open(&dir.path().join("keys"), None)?;
    let p = Provenance::open(db, keys, "generec.bench/log")?;
    let texts: Vec<String> = (0..items)
        .map(|i| format!("Generated digest number {i}: markets were calm, rates held, and technology shares rose slightly."))
        .collect();
    let allow = Outcome {
        verdict: Action::Allow,
        findings: vec![],
        redacted_text: None,
        bundle_hash: "00".repeat(32),
        bundle_version: "bench".into(),
        licence: "CC-BY-4.0".into(),
        made_from: vec![],
        scores: Default::default(),
    };
    for t in &texts {
        p.record_review(
            t,
            &generec_trust::checks::ReviewContext::created_for("bench"),
            &allow,
        )?;
    }
    let t0 = Instant::now();
    let mut certified = Vec::with_capacity(items);
    for (i, t) in texts.iter().enumerate() {
        certified.push(p.certify(&CertifyRequest {
            item_id: format!("gen-{i}"),
            content: t.clone(),
            creator: "bench".into(),
            creator_id: "bench".into(),
            licence: "CC-BY-4.0".into(),
            ..Default::default()
        })?);
    }
    let certify = per_second(items, t0.elapsed());
    let t0 = Instant::now();
    for c in &certified {
        let statuses = p.verify(&c.content, &c.manifest)?;
        std::hint::black_box(statuses);
    }
    let verify = per_second(items, t0.elapsed());

    let key = SigningKey::from_bytes(&[7; 32]);
    let messages: Vec<Vec<u8>> = certified
        .iter()
        .map(|c| c.manifest.canonical_bytes())
        .collect();
    let t0 = Instant::now();
    let sigs: Vec<_> = messages.iter().map(|m| key.sign(m)).collect();
    let raw_sign = per_second(items, t0.elapsed());
    let public = key.verifying_key();
    let t0 = Instant::now();
    for (m, s) in messages.iter().zip(&sigs) {
        std::hint::black_box(public.verify(m, s).is_ok());
    }
    let raw_verify = per_second(items, t0.elapsed());
    let hash_only = {
        let t0 = Instant::now();
        for c in &certified {
            std::hint::black_box(manifest::hard_binding(&c.content));
        }
        per_second(items, t0.elapsed())
    };
    println!("| {items} items, one at a time | per second | vs raw ed25519 |");
    println!("|---|---:|---:|");
    println!(
        "| Certify (sign, mark, store, durable log append) | {certify:.0} | {:.3}x of raw sign |",
        certify / raw_sign
    );
    println!("| raw ed25519-dalek sign of the same manifest bytes | {raw_sign:.0} | 1x |");
    println!(
        "| Verify (signature and content hash) | {verify:.0} | {:.3}x of raw verify |",
        verify / raw_verify
    );
    println!("| raw ed25519-dalek verify | {raw_verify:.0} | 1x |");
    println!("| content hash alone (strip mark, SHA-256) | {hash_only:.0} | |");

    // Concurrent callers: the log commits their appends in groups.
    let p = Arc::new(p);
    println!();
    println!("| Certify, {items} items | per second | vs raw ed25519 sign |");
    println!("|---|---:|---:|");
    for callers in [1usize, 8, 64] {
        let rate = certify_rate(&p, &allow, callers, items)?;
        println!(
            "| {callers} concurrent callers | {rate:.0} | {:.3}x |",
            rate / raw_sign
        );
    }
    Ok(())
}

/// Certifies `items` fresh reviewed texts from `callers` threads at once;
/// items per second.
fn certify_rate(p: &Arc<Provenance>, allow: &Outcome, callers: usize, items: usize) -> Result<f64> {
    let texts: Vec<String> = (0..items)
        .map(|i| {
            format!(
                "Digest {i} for {callers} callers: markets were calm, rates held, and shares rose."
            )
        })
        .collect();
    for t in &texts {
        p.record_review(
            t,
            &generec_trust::checks::ReviewContext::created_for("bench"),
            allow,
        )?;
    }
    let texts = Arc::new(texts);
    let t0 = Instant::now();
    let threads: Vec<_> = (0..callers)
        .map(|c| {
            let (p, texts) = (p.clone(), texts.clone());
            std::thread::spawn(move || -> Result<()> {
                for i in (c..texts.len()).step_by(callers) {
                    p.certify(&CertifyRequest {
                        item_id: format!("gen-{callers}-{i}"),
                        content: texts[i].clone(),
                        creator: "bench".into(),
                        creator_id: "bench".into(),
                        licence: "CC-BY-4.0".into(),
                        ..Default::default()
                    })?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a certify thread panicked"))??;
    }
    Ok(per_second(items, t0.elapsed()))
}
