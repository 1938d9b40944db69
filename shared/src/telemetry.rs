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

/// Emits one CloudWatch metric in Embedded Metric Format: a JSON line on stdout that Lambda
/// ships to CloudWatch Logs, where it becomes a metric without an API call on the hot path.
pub fn count(metric: &str, dimensions: &[(&str, &str)]) {
    let timestamp = chrono::Utc::now().timestamp_millis();
    let mut doc = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": "Stopgate",
                // The empty set also publishes the total, which the alarms watch.
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>(), Vec::<&str>::new()],
                "Metrics": [{"Name": metric, "Unit": "Count"}]
            }]
        },
        metric: 1
    });
    if let Some(map) = doc.as_object_mut() {
        for (k, v) in dimensions {
            map.insert(
                (*k).to_string(),
                serde_json::Value::String((*v).to_string()),
            );
        }
    }
    // Outside Lambda (the local gateway, the CLI) nobody collects EMF: keep stdout clean.
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        println!("{doc}");
    } else {
        tracing::debug!(metric, "metric");
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
