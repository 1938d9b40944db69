//! The stand-ins, under `make dev`, for the notify function's two triggers: the table's stream
//! (Lambda's DynamoDB event source) and the hooks queue (its SQS event source).
//!
//! The stream is read through DynamoDB Local's own Streams API (`DescribeStream`,
//! `GetShardIterator`, `GetRecords`, SigV4-signed JSON calls), from the newest record at start,
//! as the deployed trigger's `StartingPosition: LATEST`. Each poll's records go to the function
//! as one batch; a batch it fails is handed to it again until it goes through, as Lambda
//! retries. The deployed trigger's filter is not needed here: the function makes notifications
//! only of what the filter lets through (new events, finished imports).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stopgate::store::aws_json::{JsonCall, identity};
use stopgate::store::hook_http::HookHttp;
use stopgate::store::{CaptureQueue, SdkConfig};
use stopgate_notify::Notifier;

/// How often new shards are looked for (DynamoDB Local opens new ones as it goes).
const SHARDS_EVERY: Duration = Duration::from_secs(5);
/// The wait between polls that found nothing.
const IDLE: Duration = Duration::from_millis(500);

/// One table's stream, read with signed JSON calls to DynamoDB Local.
pub struct TableStream {
    sdk: SdkConfig,
    endpoint: String,
    region: String,
    stream_arn: String,
    http: HookHttp,
}

impl TableStream {
    /// The stream of `table` at `endpoint` (`AWS_ENDPOINT_URL_DYNAMODB`). An error when the
    /// table has no stream (create it from template.yaml: `scripts/create_resources.py`).
    pub async fn open(sdk: &SdkConfig, endpoint: &str, table: &str) -> Result<TableStream, String> {
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        let described = ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| format!("DescribeTable {table}: {e}"))?;
        let stream_arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| format!("table {table} has no stream"))?
            .to_string();
        Ok(TableStream {
            sdk: sdk.clone(),
            endpoint: endpoint.trim_end_matches('/').to_string() + "/",
            region: sdk
                .region()
                .map_or("us-east-1".to_string(), |r| r.to_string()),
            stream_arn,
            http: HookHttp::new(),
        })
    }

    async fn call(&self, operation: &str, body: Value) -> Result<Value, String> {
        let target = format!("DynamoDBStreams_20120810.{operation}");
        let call = JsonCall {
            service: "dynamodb",
            region: &self.region,
            url: &self.endpoint,
            target: &target,
            content_type: "application/x-amz-json-1.0",
        };
        let request = call.signed(&identity(&self.sdk).await?, body.to_string().as_bytes())?;
        let (status, answer) = self.http.exchange(request).await?;
        if status != 200 {
            return Err(format!(
                "{operation}: HTTP {status}: {}",
                String::from_utf8_lossy(&answer)
            ));
        }
        serde_json::from_slice(&answer).map_err(|e| format!("{operation}: {e}"))
    }

    /// Every shard's id, and whether it is closed (it has an ending sequence number).
    async fn shards(&self) -> Result<Vec<(String, bool)>, String> {
        let mut shards = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = json!({"StreamArn": self.stream_arn});
            if let Some(after) = &after {
                request["ExclusiveStartShardId"] = json!(after);
            }
            let answer = self.call("DescribeStream", request).await?;
            let description = &answer["StreamDescription"];
            for shard in description["Shards"].as_array().into_iter().flatten() {
                if let Some(id) = shard["ShardId"].as_str() {
                    let closed = shard["SequenceNumberRange"]["EndingSequenceNumber"].is_string();
                    shards.push((id.to_string(), closed));
                }
            }
            match description["LastEvaluatedShardId"].as_str() {
                Some(last) => after = Some(last.to_string()),
                None => return Ok(shards),
            }
        }
    }

    /// An iterator of `shard`: after the record `after` when one was read, else from `kind`
    /// (`LATEST` or `TRIM_HORIZON`).
    async fn iterator(
        &self,
        shard: &str,
        kind: &str,
        after: Option<&str>,
    ) -> Result<String, String> {
        let mut request =
            json!({"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": kind});
        if let Some(sequence) = after {
            request["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
            request["SequenceNumber"] = json!(sequence);
        }
        let answer = self.call("GetShardIterator", request).await?;
        answer["ShardIterator"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("GetShardIterator {shard}: no iterator"))
    }

    /// One shard's next records, and the iterator after them (none once the shard is closed
    /// and read to its end).
    async fn records(&self, iterator: &str) -> Result<(Vec<Value>, Option<String>), String> {
        let answer = self
            .call(
                "GetRecords",
                json!({"ShardIterator": iterator, "Limit": 100}),
            )
            .await?;
        let records = answer["Records"].as_array().cloned().unwrap_or_default();
        let next = answer["NextShardIterator"].as_str().map(str::to_string);
        Ok((records, next))
    }
}

/// Follows the table's stream for as long as the gateway runs: each poll's new records go to
/// `notifier` as a stream batch. Shards open at start are read from their newest record, shards
/// opened later from their first; a shard whose iterator fails is read again after the last
/// record handed over.
pub async fn follow_table_stream(stream: TableStream, notifier: std::sync::Arc<Notifier>) {
    // Shard -> its iterator, once opened.
    let mut reading: BTreeMap<String, String> = BTreeMap::new();
    // Shard -> the sequence number of the last record handed over.
    let mut read_to: BTreeMap<String, String> = BTreeMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut started = false;
    let mut looked = None::<Instant>;
    loop {
        if looked.is_none_or(|at| at.elapsed() >= SHARDS_EVERY) {
            match stream.shards().await {
                Ok(shards) => {
                    for (shard, closed) in shards {
                        if reading.contains_key(&shard) || finished.contains(&shard) {
                            continue;
                        }
                        if !started && closed {
                            finished.insert(shard);
                            continue;
                        }
                        let from = if started { "TRIM_HORIZON" } else { "LATEST" };
                        let after = read_to.get(&shard).map(String::as_str);
                        match stream.iterator(&shard, from, after).await {
                            Ok(iterator) => {
                                reading.insert(shard, iterator);
                            }
                            Err(e) => tracing::warn!(error = %e, "a shard not opened"),
                        }
                    }
                    started = true;
                    looked = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "table stream unavailable");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            }
        }
        let mut batch = Vec::new();
        for (shard, iterator) in reading.clone() {
            match stream.records(&iterator).await {
                Ok((records, next)) => {
                    if let Some(last) = records
                        .last()
                        .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
                    {
                        read_to.insert(shard.clone(), last.to_string());
                    }
                    batch.extend(records);
                    match next {
                        Some(next) => {
                            reading.insert(shard, next);
                        }
                        None => {
                            reading.remove(&shard);
                            finished.insert(shard);
                        }
                    }
                }
                Err(e) => {
                    // An expired iterator: the next look at the shards opens it again.
                    tracing::warn!(error = %e, "stream records not read");
                    reading.remove(&shard);
                    looked = None;
                }
            }
        }
        if batch.is_empty() {
            tokio::time::sleep(IDLE).await;
            continue;
        }
        let event = json!({ "Records": batch });
        while let Err(e) = notifier.fan_out(&event).await {
            tracing::warn!(error = %e, "stream batch failed; retrying");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// Feeds the hooks queue to `notifier` as Lambda would: the messages it does not report as
/// failed are deleted; a failed one stays hidden for the backoff the function set, and the
/// queue's redrive policy moves it to the dead-letter queue after its last attempt.
pub async fn drain_hooks_queue(queue: CaptureQueue, notifier: std::sync::Arc<Notifier>) {
    loop {
        let messages = match queue.receive_counted(1, Some(60)).await {
            Ok(messages) => messages,
            Err(e) => {
                tracing::warn!(error = %e, "hooks queue unavailable");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let answer = match notifier.handle(stopgate_notify::sqs_event(&messages)).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(error = %e, "deliveries not made; the queue brings them back");
                continue;
            }
        };
        let failed: BTreeSet<&str> = answer["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str())
            .collect();
        for (i, (handle, _, _)) in messages.iter().enumerate() {
            if failed.contains(format!("m{i}").as_str()) {
                continue;
            }
            if let Err(e) = queue.delete(handle).await {
                tracing::warn!(error = %e, "a delivery not deleted; it may be sent again");
            }
        }
    }
}
