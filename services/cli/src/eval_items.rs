//! The item side of `generec eval loop`: what the generated items shown
//! rest on and what trust said about every draft made for the study's
//! users. Read from the platform itself: the manifests the feed sent (the
//! spans each ingredient supports), the ingredients' texts and licences in
//! the arm's corpus, and trust's transparency log (its policy decisions),
//! queried as a compliance team would.

use std::collections::HashMap;

use anyhow::{Context, Result};
use generec_corpus::model::ItemId;
use generec_proto::feed::v1 as pb;
use generec_proto::trust::v1 as trust_pb;
use generec_proto::trust::v1::trust_service_client::TrustServiceClient;
use generec_provenance::manifest::Manifest;

use crate::bench_feed::Platform;

/// What the item side measured for one seed of one arm.
#[derive(Default)]
pub struct ItemSide {
    pub supported: Vec<f64>,
    pub copied_restricted: Vec<f64>,
    pub copied_restricted_one: Vec<f64>,
    pub drafts: usize,
    pub drafts_allowed: usize,
    /// Drafts with a finding of each family (privacy, safety, ...).
    pub findings: HashMap<String, usize>,
}

pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Measures the generated items shown (`shown`) and the drafts reviewed
/// for this seed's users (ids `s{seed}-...`) since `since_unix_ms`.
pub async fn measure(
    shown: &HashMap<String, pb::FeedItem>,
    platform: &Platform,
    seed: u64,
    since_unix_ms: i64,
) -> Result<ItemSide> {
    let mut side = ItemSide::default();
    let policy = generec_licence::Policy::from_bundle(generec_trust::bundle::DEFAULT_BUNDLE)
        .map_err(|e| anyhow::anyhow!("the default bundle's licence policy: {e}"))?;
    for item in shown.values() {
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&item.manifest) else {
            // The invariant check reports an unreadable manifest.
            continue;
        };
        let text = generec_provenance::watermark::strip_mark(
            &generec_corpus::provenance::provenance_text(
                &item.title,
                &item.body,
                std::iter::empty(),
            ),
        );
        let body_start = item.title.len() + 2;
        side.supported
            .extend(supported_share(&text, body_start, &manifest));
        let (total, most) = copied_restricted(&text, &manifest, platform, &policy)?;
        side.copied_restricted.push(total as f64);
        side.copied_restricted_one.push(most as f64);
    }
    let (drafts, allowed, findings) = drafts(platform, seed, since_unix_ms).await?;
    side.drafts = drafts;
    side.drafts_allowed = allowed;
    side.findings = findings;
    Ok(side)
}

/// The share of the body's sentences that the ingredients' spans cover by
/// half their bytes or more; None for a body without sentences.
fn supported_share(text: &str, body_start: usize, manifest: &Manifest) -> Option<f64> {
    let spans: Vec<(usize, usize)> = manifest
        .ingredients
        .iter()
        .flat_map(|i| i.spans.iter())
        .map(|&(a, b)| (a as usize, b as usize))
        .collect();
    let body = text.get(body_start..)?;
    let sentences = generec_trust::checks::authenticity::sentences(body);
    if sentences.is_empty() {
        return None;
    }
    let supported = sentences
        .iter()
        .filter(|&&(a, b)| {
            let (a, b) = (a + body_start, b + body_start);
            covered(&spans, a, b) * 2 >= b - a
        })
        .count();
    Some(supported as f64 / sentences.len() as f64)
}

/// Bytes of `[a, b)` inside the union of `spans`.
fn covered(spans: &[(usize, usize)], a: usize, b: usize) -> usize {
    let mut parts: Vec<(usize, usize)> = spans
        .iter()
        .map(|&(s, e)| (s.max(a), e.min(b)))
        .filter(|(s, e)| s < e)
        .collect();
    parts.sort_unstable();
    let (mut total, mut end) = (0, a);
    for (s, e) in parts {
        let s = s.max(end);
        if e > s {
            total += e - s;
            end = e;
        }
    }
    total
}

/// Words the text copies verbatim from ingredients whose licence class is
/// reserved or no-derivatives, under the default bundle's policy: in all,
/// and the most from any one of them (what the bundle's allowance limits).
fn copied_restricted(
    text: &str,
    manifest: &Manifest,
    platform: &Platform,
    policy: &generec_licence::Policy,
) -> Result<(usize, usize)> {
    let ids: Vec<ItemId> = manifest
        .ingredients
        .iter()
        .filter_map(|i| ItemId::parse(&i.item_id).ok())
        .collect();
    let (items, _missing) = platform
        .corpus
        .get_items(&ids)
        .context("reading a generated item's ingredients")?;
    let sources: Vec<generec_licence::Source> = items
        .into_iter()
        .map(|i| generec_licence::Source {
            rights: generec_licence::SourceRights {
                item_id: i.id.to_string(),
                licence: i.licence,
                creator: i.creator_id,
            },
            title: i.title,
            text: i.body,
        })
        .collect();
    let assessment = generec_licence::assess(policy, text, &sources, &[]);
    let copied: Vec<usize> = assessment
        .sources
        .iter()
        .filter(|u| {
            matches!(
                u.class,
                generec_licence::Class::Reserved | generec_licence::Class::NoDerivatives
            )
        })
        .map(|u| u.copied_words)
        .collect();
    Ok((
        copied.iter().sum(),
        copied.iter().copied().max().unwrap_or(0),
    ))
}

/// Trust's policy decisions on drafts for this seed's users since the
/// seed started: how many, how many allowed, and how many with a finding
/// of each family (the first part of each rule id).
async fn drafts(
    platform: &Platform,
    seed: u64,
    since_unix_ms: i64,
) -> Result<(usize, usize, HashMap<String, usize>)> {
    let mut client = TrustServiceClient::connect(format!("http://{}", platform.trust))
        .await
        .context("connecting to the arm's trust service")?;
    let prefix = format!("s{seed}-");
    let (mut drafts, mut allowed) = (0, 0);
    let mut findings: HashMap<String, usize> = HashMap::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .query_log(trust_pb::QueryLogRequest {
                entry_type: "policy_decision".into(),
                from_unix_ms: since_unix_ms,
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .context("QueryLog on the arm's trust service")?
            .into_inner();
        for record in &page.records {
            let entry: serde_json::Value = serde_json::from_str(&record.entry)
                .context("a policy decision in the log is not JSON")?;
            let user = entry.get("user_id").and_then(|v| v.as_str()).unwrap_or("");
            if !user.starts_with(&prefix) {
                continue;
            }
            drafts += 1;
            let verdict = entry.get("verdict").and_then(|v| v.as_str()).unwrap_or("");
            if verdict == "allow" || verdict == "allow_with_label" {
                allowed += 1;
            }
            let mut families: Vec<&str> = entry
                .get("rule_ids")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str()?.split('.').next())
                .collect();
            families.sort_unstable();
            families.dedup();
            for f in families {
                *findings.entry(f.to_string()).or_default() += 1;
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok((drafts, allowed, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_overlapping_spans_once() {
        assert_eq!(covered(&[(0, 10), (5, 15)], 0, 20), 15);
        assert_eq!(covered(&[(0, 10), (5, 15)], 8, 12), 4);
        assert_eq!(covered(&[], 0, 20), 0);
        assert_eq!(covered(&[(30, 40)], 0, 20), 0);
    }
}
