//! Splitting a logging batch into requests MLflow accepts.

use serde::Serialize;

use crate::tracking::model::{
    Metric, Param, Tag, MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH,
};

/// Largest JSON body sent to `log-batch`; MLflow rejects requests over 1,000,000 bytes.
const MAX_BATCH_BYTES: usize = 900_000;

/// One `log-batch` request's worth of entities.
#[derive(Debug, Default, Serialize)]
pub(super) struct BatchChunk<'a> {
    pub(super) metrics: Vec<&'a Metric>,
    pub(super) params: Vec<&'a Param>,
    pub(super) tags: Vec<&'a Tag>,
}

/// Splits a batch into requests within MLflow's limits: at most 1,000
/// metrics, 100 params, 100 tags and 1,000 entities in all per request, and
/// a JSON body under 1 MB. Params go first so a rejected param stops the
/// batch before any metric is written.
pub(super) fn chunk_batch<'a>(
    metrics: &'a [Metric],
    params: &'a [Param],
    tags: &'a [Tag],
) -> Vec<BatchChunk<'a>> {
    enum Item<'a> {
        M(&'a Metric),
        P(&'a Param),
        T(&'a Tag),
    }
    let items = params
        .iter()
        .map(Item::P)
        .chain(tags.iter().map(Item::T))
        .chain(metrics.iter().map(Item::M));
    let mut chunks = Vec::new();
    let mut cur = BatchChunk::default();
    let mut bytes = 64;
    for item in items {
        let size = match &item {
            Item::M(m) => m.key.len() + 96,
            Item::P(p) => json_len(&p.key) + json_len(&p.value) + 32,
            Item::T(t) => json_len(&t.key) + json_len(&t.value) + 32,
        };
        let total = cur.metrics.len() + cur.params.len() + cur.tags.len();
        let full = total >= MAX_ENTITIES_PER_BATCH
            || bytes + size > MAX_BATCH_BYTES
            || match &item {
                Item::M(_) => cur.metrics.len() >= MAX_METRICS_PER_BATCH,
                Item::P(_) => cur.params.len() >= MAX_PARAMS_TAGS_PER_BATCH,
                Item::T(_) => cur.tags.len() >= MAX_PARAMS_TAGS_PER_BATCH,
            };
        if full && total > 0 {
            chunks.push(std::mem::take(&mut cur));
            bytes = 64;
        }
        bytes += size;
        match item {
            Item::M(m) => cur.metrics.push(m),
            Item::P(p) => cur.params.push(p),
            Item::T(t) => cur.tags.push(t),
        }
    }
    if cur.metrics.len() + cur.params.len() + cur.tags.len() > 0 {
        chunks.push(cur);
    }
    chunks
}

/// Upper bound of a string's JSON-encoded length (escapes included).
fn json_len(s: &str) -> usize {
    s.len()
        + s.bytes()
            .filter(|b| matches!(b, b'"' | b'\\') || *b < 0x20)
            .count()
            * 5
        + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_mlflow_limits() {
        let metrics: Vec<Metric> = (0..2500)
            .map(|i| Metric::new("m", i as f64, 0, i))
            .collect();
        let params: Vec<Param> = (0..250).map(|i| Param::new(format!("p{i}"), "v")).collect();
        let tags: Vec<Tag> = (0..150).map(|i| Tag::new(format!("t{i}"), "v")).collect();
        let chunks = chunk_batch(&metrics, &params, &tags);
        let (mut m, mut p, mut t) = (0, 0, 0);
        for c in &chunks {
            assert!(c.metrics.len() <= 1000);
            assert!(c.params.len() <= 100);
            assert!(c.tags.len() <= 100);
            assert!(c.metrics.len() + c.params.len() + c.tags.len() <= 1000);
            assert!(serde_json::to_string(c).unwrap().len() < 1_000_000);
            m += c.metrics.len();
            p += c.params.len();
            t += c.tags.len();
        }
        assert_eq!((m, p, t), (2500, 250, 150));
        // Params are all sent before the first metric.
        let first_metric_chunk = chunks.iter().position(|c| !c.metrics.is_empty()).unwrap();
        assert!(chunks[first_metric_chunk + 1..]
            .iter()
            .all(|c| c.params.is_empty()));
        assert!(chunk_batch(&[], &[], &[]).is_empty());
    }

    #[test]
    fn chunks_respect_request_size() {
        let params: Vec<Param> = (0..100)
            .map(|i| Param::new(format!("p{i}"), "x".repeat(6000)))
            .collect();
        let tags: Vec<Tag> = (0..100)
            .map(|i| Tag::new(format!("t{i}"), "\"".repeat(8000)))
            .collect();
        let chunks = chunk_batch(&[], &params, &tags);
        assert!(chunks.len() > 1);
        for c in &chunks {
            assert!(serde_json::to_string(c).unwrap().len() < 1_000_000);
        }
    }
}
