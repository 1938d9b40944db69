//! Which tenant an Amazon SNS topic delivers two-way SMS for. A notification that SNS hands
//! straight to Lambda (functions/inbound-sns) names its topic and nothing else, so the function
//! finds the tenant here; `stopgate provider set <tenant> aws topic_arn=...` writes the item.
//! The tenant's sealed `topic_arn` secret stays the authority on which topics it accepts: an
//! item left behind after a topic was replaced leads to a tenant that then refuses the message.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, get_doc, keys, s, sdk_error, to_doc};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    pub topic_arn: String,
    pub tenant_id: String,
    pub updated_at: chrono::DateTime<Utc>,
}

impl Store {
    /// Maps `topic_arn` to `tenant_id`. A topic delivers for one tenant only: one already mapped
    /// to another tenant is refused (`AlreadyExists`) rather than taken over.
    pub async fn put_topic_tenant(
        &self,
        topic_arn: &str,
        tenant_id: &str,
    ) -> Result<(), StoreError> {
        let record = TopicRecord {
            topic_arn: topic_arn.to_string(),
            tenant_id: tenant_id.to_string(),
            updated_at: Utc::now(),
        };
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::sns_topic_pk(topic_arn)))
            .item("sk", s(keys::SNS_TOPIC_SK))
            .item("type", s("sns_topic"))
            .item("tenant_id", s(tenant_id))
            .item("doc", to_doc(&record)?)
            .condition_expression("attribute_not_exists(pk) OR tenant_id = :tenant")
            .expression_attribute_values(":tenant", s(tenant_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyExists(format!(
                    "SNS topic {topic_arn} (mapped to another tenant)"
                )))
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// The tenant `topic_arn` delivers for, if any.
    pub async fn tenant_for_topic(&self, topic_arn: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::sns_topic_pk(topic_arn)))
            .key("sk", s(keys::SNS_TOPIC_SK))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out
            .item()
            .map(get_doc::<TopicRecord>)
            .transpose()?
            .map(|record| record.tenant_id))
    }
}
