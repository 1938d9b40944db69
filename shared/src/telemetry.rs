//! Logging and metrics. Logs never carry full phone numbers or secrets (see `mask`).

use tracing_subscriber::EnvFilter;

/// JSON logs in Lambda (`LOG_FORMAT=json`), readable text elsewhere; always to stderr so a
/// command's stdout carries only its output.
pub fn init() {
    let filter = quiet_dependencies(
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    );
    let json = std::env::var("LOG_FORMAT")
        .map(|v| v == "json")
        .unwrap_or(false);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second init (tests, the local gateway) keeps the first subscriber.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Every log line, at `trace`, as JSON into `writer`, as Lambda would ship them (with the
/// dependencies at `warn` all the same): tests read them back to prove what logs never hold.
pub fn init_capturing<W>(writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::fmt()
        .with_env_filter(quiet_dependencies(EnvFilter::new("trace")))
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .try_init();
}

/// The AWS SDK and the HTTP and TLS stacks log request and response details (headers, bodies)
/// at debug and trace: whatever level Stopgate logs at, they stay at `warn`. A directive
/// matches every target that starts with it (`aws_` covers every SDK crate).
const DEPENDENCIES_AT_WARN: [&str; 5] = ["aws_", "hyper", "h2", "rustls", "tower"];

fn quiet_dependencies(mut filter: EnvFilter) -> EnvFilter {
    for target in DEPENDENCIES_AT_WARN {
        if let Ok(directive) = format!("{target}=warn").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// The CloudWatch namespace of every metric (the alarms and the dashboard in template.yaml).
pub const NAMESPACE: &str = "Stopgate";

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One metric value as an Embedded Metric Format document. It is published under every
/// dimension set in `rollups` (each a list of names from `dimensions`) and always under the
/// empty set too, the total the alarms watch. Pure: [`count`] and [`measure`] print it.
pub fn emf_document(
    timestamp_ms: i64,
    metric: &str,
    unit: Unit,
    value: f64,
    dimensions: &[(&str, &str)],
    rollups: &[&[&str]],
) -> serde_json::Value {
    let mut sets: Vec<Vec<&str>> = Vec::new();
    if !dimensions.is_empty() {
        sets.push(dimensions.iter().map(|(k, _)| *k).collect());
    }
    for rollup in rollups {
        let set: Vec<&str> = rollup
            .iter()
            .copied()
            .filter(|name| dimensions.iter().any(|(k, _)| k == name))
            .collect();
        if !set.is_empty() && !sets.contains(&set) {
            sets.push(set);
        }
    }
    sets.push(Vec::new());
    let mut doc = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": [{"Name": metric, "Unit": unit.as_str()}]
            }]
        },
        metric: value
    });
    if let Some(map) = doc.as_object_mut() {
        for (k, v) in dimensions {
            map.insert(
                (*k).to_string(),
                serde_json::Value::String((*v).to_string()),
            );
        }
    }
    doc
}

/// Counts one occurrence of `metric` under `dimensions` (and the total).
pub fn count(metric: &str, dimensions: &[(&str, &str)]) {
    emit(emf_document(
        now_ms(),
        metric,
        Unit::Count,
        1.0,
        dimensions,
        &[],
    ));
}

/// Counts one occurrence under `dimensions`, also rolled up by each set in `rollups` (e.g.
/// `Webhooks` by provider and outcome, and by outcome alone).
pub fn count_by(metric: &str, dimensions: &[(&str, &str)], rollups: &[&[&str]]) {
    emit(emf_document(
        now_ms(),
        metric,
        Unit::Count,
        1.0,
        dimensions,
        rollups,
    ));
}

/// Records a measured value (a lag, a backlog) under `dimensions` (and the total).
pub fn measure(metric: &str, unit: Unit, value: f64, dimensions: &[(&str, &str)]) {
    emit(emf_document(now_ms(), metric, unit, value, dimensions, &[]));
}

/// How a webhook ended, for the `Webhooks` metric (by `Provider` and `Outcome`, and by
/// `Outcome` alone): `recorded`, `duplicate`, `captured`, `lost`, `quarantined`,
/// `quarantine_skipped`, `unknown_tenant`.
pub fn webhook(provider: &str, outcome: &str) {
    count_by(
        "Webhooks",
        &[("Provider", provider), ("Outcome", outcome)],
        &[&["Outcome"]],
    );
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A JSON line on stdout that Lambda ships to CloudWatch Logs, where it becomes a metric
/// without an API call on the hot path.
fn emit(doc: serde_json::Value) {
    // Outside Lambda (the local gateway, the CLI) nobody collects EMF: keep stdout clean.
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        println!("{doc}");
    } else {
        tracing::debug!(metric = %doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "metric");
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_count_is_an_emf_document_with_its_dimensions_and_the_total() {
        let doc = emf_document(
            1_700_000_000_000,
            "WebhooksCaptured",
            Unit::Count,
            1.0,
            &[("Provider", "twilio")],
            &[],
        );
        assert_eq!(
            doc,
            serde_json::json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Stopgate",
                        "Dimensions": [["Provider"], []],
                        "Metrics": [{"Name": "WebhooksCaptured", "Unit": "Count"}]
                    }]
                },
                "WebhooksCaptured": 1.0,
                "Provider": "twilio"
            })
        );
    }

    #[test]
    fn rollups_add_dimension_sets_once_and_only_of_given_names() {
        let doc = emf_document(
            5,
            "Webhooks",
            Unit::Count,
            1.0,
            &[("Provider", "telnyx"), ("Outcome", "quarantined")],
            &[
                &["Outcome"],
                &["Outcome"],
                &["Provider", "Outcome"],
                &["Nope"],
            ],
        );
        let sets = &doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
        assert_eq!(
            sets,
            &serde_json::json!([["Provider", "Outcome"], ["Outcome"], []])
        );
        assert_eq!(doc["Provider"], "telnyx");
        assert_eq!(doc["Outcome"], "quarantined");
        assert_eq!(doc["Webhooks"], 1.0);
    }

    #[test]
    fn a_measure_carries_its_unit_and_value_and_no_dimensions_is_the_total_alone() {
        let doc = emf_document(5, "ReplayLag", Unit::Milliseconds, 1234.0, &[], &[]);
        let metrics = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metrics["Dimensions"], serde_json::json!([[]]));
        assert_eq!(
            metrics["Metrics"],
            serde_json::json!([{"Name": "ReplayLag", "Unit": "Milliseconds"}])
        );
        assert_eq!(doc["ReplayLag"], 1234.0);
        // Every metric and dimension value is a top-level member, as EMF requires.
        assert_eq!(doc.as_object().unwrap().len(), 2);
    }

    #[test]
    fn dependencies_stay_at_warn_when_stopgate_logs_at_trace() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(quiet_dependencies(EnvFilter::new("trace")))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "stopgate::api", "ours at trace");
            tracing::debug!(target: "aws_smithy_runtime::client", "request headers");
            tracing::trace!(target: "aws_sdk_sqs::operation", "request body");
            tracing::debug!(target: "hyper_util::client", "connection");
            tracing::debug!(target: "rustls::client", "handshake");
            tracing::warn!(target: "aws_config::imds", "a dependency's warning");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("ours at trace"), "{text}");
        assert!(text.contains("a dependency's warning"), "{text}");
        for hidden in ["request headers", "request body", "connection", "handshake"] {
            assert!(!text.contains(hidden), "{hidden} logged: {text}");
        }
    }
}
