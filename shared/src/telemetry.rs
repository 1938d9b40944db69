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

/// The AWS SDK and the HTTP stack log request and response details (headers, bodies) at debug
/// and trace: whatever level Stopgate logs at, they stay at `warn`.
const DEPENDENCIES_AT_WARN: [&str; 6] = [
    "aws_smithy_runtime",
    "aws_smithy_http",
    "aws_sdk_dynamodb",
    "aws_config",
    "hyper",
    "hyper_util",
];

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
