//! What the generation service's calls cost in the loop study, read from
//! this process's own metrics: every gRPC server records the time it takes
//! to answer each call (`generec_rpc_duration_seconds`, see
//! `generec_common::metrics`), and the study's platforms run in this
//! process. The arms run one after another, so the difference between two
//! readings taken around an arm is that arm's (a generation job the
//! previous arm left running may end inside it).

use std::collections::HashMap;

/// The generation service's name in the metrics' `service` label.
const GENERATION_SERVICE: &str = "generec.generation.v1.Generation";

/// Seconds spent answering, and calls answered, by method.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CallTotals(pub(crate) HashMap<String, (f64, f64)>);

impl CallTotals {
    /// The generation service's totals so far (installs the process's
    /// metrics recorder on first use: until then nothing is recorded).
    pub(crate) fn now() -> CallTotals {
        parse(
            &generec_common::metrics::install().render(),
            GENERATION_SERVICE,
        )
    }

    /// What was added between `earlier` and `self`.
    pub(crate) fn since(&self, earlier: &CallTotals) -> CallTotals {
        CallTotals(
            self.0
                .iter()
                .map(|(method, (s, n))| {
                    let (s0, n0) = earlier.0.get(method).copied().unwrap_or((0.0, 0.0));
                    (method.clone(), (s - s0, n - n0))
                })
                .collect(),
        )
    }

    /// Mean ms per call of `method` (NaN without calls).
    pub(crate) fn mean_ms(&self, method: &str) -> f64 {
        match self.0.get(method) {
            Some(&(s, n)) if n > 0.0 => s * 1000.0 / n,
            _ => f64::NAN,
        }
    }

    /// Calls of `method`.
    pub(crate) fn calls(&self, method: &str) -> f64 {
        self.0.get(method).map_or(0.0, |&(_, n)| n)
    }
}

/// Reads `generec_rpc_duration_seconds`' sums and counts for `service`
/// from the Prometheus text format.
fn parse(text: &str, service: &str) -> CallTotals {
    let mut totals: HashMap<String, (f64, f64)> = HashMap::new();
    let service_label = format!("service=\"{service}\"");
    for line in text.lines() {
        let (is_sum, rest) = if let Some(r) = line.strip_prefix("generec_rpc_duration_seconds_sum{")
        {
            (true, r)
        } else if let Some(r) = line.strip_prefix("generec_rpc_duration_seconds_count{") {
            (false, r)
        } else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        if !labels.split(',').any(|l| l == service_label) {
            continue;
        }
        let Some(method) = labels
            .split(',')
            .find_map(|l| l.strip_prefix("method=\""))
            .and_then(|m| m.strip_suffix('"'))
        else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let entry = totals.entry(method.to_string()).or_default();
        if is_sum {
            entry.0 = value;
        } else {
            entry.1 = value;
        }
    }
    CallTotals(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = "\
# TYPE generec_rpc_duration_seconds histogram
generec_rpc_duration_seconds_bucket{service=\"generec.generation.v1.Generation\",method=\"Create\",le=\"0.5\"} 1
generec_rpc_duration_seconds_sum{service=\"generec.generation.v1.Generation\",method=\"Create\"} 3.5
generec_rpc_duration_seconds_count{service=\"generec.generation.v1.Generation\",method=\"Create\"} 4
generec_rpc_duration_seconds_sum{service=\"generec.corpus.v1.CorpusService\",method=\"Search\"} 9
generec_rpc_duration_seconds_count{service=\"generec.corpus.v1.CorpusService\",method=\"Search\"} 90
generec_rpc_duration_seconds_sum{method=\"Edit\",service=\"generec.generation.v1.Generation\"} 0.2
generec_rpc_duration_seconds_count{method=\"Edit\",service=\"generec.generation.v1.Generation\"} 2
";

    #[test]
    fn the_generation_service_s_calls_are_read_by_method_and_differenced() {
        let later = parse(SCRAPE, GENERATION_SERVICE);
        assert_eq!(later.0.len(), 2, "{later:?}");
        assert_eq!(later.mean_ms("Create"), 875.0);
        assert_eq!(later.calls("Edit"), 2.0);
        assert!(later.mean_ms("Interpret").is_nan());
        assert_eq!(later.calls("Interpret"), 0.0);
        let earlier = CallTotals(HashMap::from([("Create".to_string(), (1.5, 2.0))]));
        let arm = later.since(&earlier);
        assert_eq!(arm.mean_ms("Create"), 1000.0);
        assert_eq!(arm.calls("Create"), 2.0);
        assert_eq!(arm.calls("Edit"), 2.0);
    }
}
