//! A `TransactWriteItems` as it went over the wire (its JSON body), sent again through the SDK
//! to another table: the raw baseline of the same items, conditions and expressions.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use base64::Engine;
use serde_json::Value;

type Fields = serde_json::Map<String, Value>;

fn attribute(value: &Value) -> Result<AttributeValue, String> {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return Err("an attribute value is not a one-key object".into());
    };
    let text = || {
        inner
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{kind} is not a string"))
    };
    let list = || {
        inner
            .as_array()
            .ok_or_else(|| format!("{kind} is not a list"))
    };
    let strings = || -> Result<Vec<String>, String> {
        list()?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{kind} holds a non-string"))
            })
            .collect()
    };
    let blob = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Blob::new)
            .map_err(|e| format!("B: {e}"))
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text()?),
        "N" => AttributeValue::N(text()?),
        "B" => AttributeValue::B(blob(&text()?)?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or("BOOL is not a boolean")?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings()?),
        "NS" => AttributeValue::Ns(strings()?),
        "BS" => AttributeValue::Bs(
            strings()?
                .iter()
                .map(|s| blob(s))
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(list()?.iter().map(attribute).collect::<Result<_, _>>()?),
        "M" => AttributeValue::M(item(inner)?),
        other => return Err(format!("unknown attribute type {other}")),
    })
}

fn item(value: &Value) -> Result<HashMap<String, AttributeValue>, String> {
    value
        .as_object()
        .ok_or("an item is not an object")?
        .iter()
        .map(|(k, v)| Ok((k.clone(), attribute(v)?)))
        .collect()
}

fn optional_item(
    fields: &Fields,
    name: &str,
) -> Result<Option<HashMap<String, AttributeValue>>, String> {
    fields.get(name).map(item).transpose()
}

fn names(fields: &Fields) -> Option<HashMap<String, String>> {
    fields
        .get("ExpressionAttributeNames")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
}

fn text(fields: &Fields, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(str::to_string)
}

fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, String> {
    result.map_err(|e| e.to_string())
}

fn write_item(entry: &Value, table: &str) -> Result<TransactWriteItem, String> {
    let Some((kind, body)) = entry.as_object().and_then(|o| o.iter().next()) else {
        return Err("a transact item is not a one-key object".into());
    };
    let f = body
        .as_object()
        .ok_or("a transact item's body is not an object")?;
    let values = optional_item(f, "ExpressionAttributeValues")?;
    let condition = text(f, "ConditionExpression");
    let builder = TransactWriteItem::builder();
    Ok(match kind.as_str() {
        "Put" => builder
            .put(built(
                Put::builder()
                    .table_name(table)
                    .set_item(optional_item(f, "Item")?)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(names(f))
                    .set_expression_attribute_values(values)
                    .build(),
            )?)
            .build(),
        "Update" => builder
            .update(built(
                Update::builder()
                    .table_name(table)
                    .set_key(optional_item(f, "Key")?)
                    .set_update_expression(text(f, "UpdateExpression"))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(names(f))
                    .set_expression_attribute_values(values)
                    .build(),
            )?)
            .build(),
        "Delete" => builder
            .delete(built(
                Delete::builder()
                    .table_name(table)
                    .set_key(optional_item(f, "Key")?)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(names(f))
                    .set_expression_attribute_values(values)
                    .build(),
            )?)
            .build(),
        "ConditionCheck" => builder
            .condition_check(built(
                ConditionCheck::builder()
                    .table_name(table)
                    .set_key(optional_item(f, "Key")?)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(names(f))
                    .set_expression_attribute_values(values)
                    .build(),
            )?)
            .build(),
        other => return Err(format!("unknown transact item {other}")),
    })
}

/// The items of a recorded `TransactWriteItems` body, aimed at `table`.
pub fn items(body: &[u8], table: &str) -> Result<Vec<TransactWriteItem>, String> {
    let request: Value =
        serde_json::from_slice(body).map_err(|e| format!("a recorded transaction: {e}"))?;
    request
        .get("TransactItems")
        .and_then(Value::as_array)
        .ok_or("a recorded transaction has no TransactItems")?
        .iter()
        .map(|entry| write_item(entry, table))
        .collect()
}

/// Sends `items` as one transaction; returns the write capacity units DynamoDB says it used.
pub async fn send(ddb: &Client, items: Vec<TransactWriteItem>) -> Result<f64, String> {
    let out = ddb
        .transact_write_items()
        .set_transact_items(Some(items))
        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(|e| {
            format!(
                "raw TransactWriteItems: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })?;
    Ok(out
        .consumed_capacity()
        .iter()
        .filter_map(|c| c.write_capacity_units().or(c.capacity_units()))
        .sum())
}
