//! A tenant's policy: the settings that decide, applied when a check is answered.

use serde::{Deserialize, Serialize};

use super::scope::StopScope;

/// Who writes the replies to STOP/START/HELP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyMode {
    /// The provider sends its own keyword replies (Twilio does by default): answer empty TwiML.
    #[default]
    Provider,
    /// Stopgate writes the replies in the webhook response.
    Stopgate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantPolicy {
    /// How wide a keyword STOP reaches (default: the whole tenant).
    pub stop_scope: StopScope,
    /// How long an inbound message from the person allows conversational replies.
    pub conversational_window_hours: u32,
    /// Relaxes informational messages to "allowed unless opted out".
    pub informational_unless_opted_out: bool,
    pub reply_mode: ReplyMode,
    /// ISO 3166 region used to read numbers written without a country code.
    pub default_region: String,
    /// Accept only numbers already in E.164 form.
    pub strict_e164: bool,
    /// Increases with every change, so decisions can say which policy they applied.
    pub version: u64,
}

impl Default for TenantPolicy {
    fn default() -> TenantPolicy {
        TenantPolicy {
            stop_scope: StopScope::Tenant,
            conversational_window_hours: 24,
            informational_unless_opted_out: false,
            reply_mode: ReplyMode::Provider,
            default_region: "US".to_string(),
            strict_e164: false,
            version: 1,
        }
    }
}

/// The replies Stopgate writes when `reply_mode` is `stopgate`.
pub mod replies {
    pub const OPT_OUT: &str =
        "You have been unsubscribed and will receive no more messages. Reply START to resubscribe.";
    pub const OPT_IN: &str = "You have been resubscribed. Msg&data rates may apply. Reply HELP for help, STOP to cancel.";
    pub const HELP: &str = "Msg&data rates may apply. Reply STOP to cancel, START to resubscribe.";
}
