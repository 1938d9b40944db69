//! Scopes, sender groups and the tenant's scope policy (docs/rules.md rule 3).
//!
//! Wide on the deny side, narrow on the allow side: an opt-out's scope contains a send when
//! any reading of it could; a consent's scope contains a send only when every reading does.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a consent or an opt-out applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Tenant,
    Brand(String),
    Program(String),
    /// A configured sender group.
    Group(String),
    /// One sender (number, short code, messaging service id). A sender in no configured group
    /// is its own group directly under the tenant.
    Sender(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Tenant => f.write_str("tenant"),
            Scope::Brand(b) => write!(f, "brand:{b}"),
            Scope::Program(p) => write!(f, "program:{p}"),
            Scope::Group(g) => write!(f, "group:{g}"),
            Scope::Sender(s) => write!(f, "sender:{s}"),
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Scope, String> {
        if s == "tenant" {
            return Ok(Scope::Tenant);
        }
        let (kind, name) = s.split_once(':').ok_or_else(|| {
            format!("invalid scope {s:?}; expected tenant, brand:<name>, program:<name>, group:<name> or sender:<id>")
        })?;
        if name.is_empty() || name.len() > 128 {
            return Err(format!(
                "invalid scope {s:?}: the name must be 1 to 128 characters"
            ));
        }
        let name = name.to_string();
        match kind {
            "brand" => Ok(Scope::Brand(name)),
            "program" => Ok(Scope::Program(name)),
            "group" => Ok(Scope::Group(name)),
            "sender" => Ok(Scope::Sender(name)),
            _ => Err(format!(
                "invalid scope {s:?}; expected tenant, brand:<name>, program:<name>, group:<name> or sender:<id>"
            )),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Scope, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A tenant's named set of senders, mapped to a program and a brand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderGroup {
    pub name: String,
    pub senders: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Senders that left the group, and when: an opt-out scoped to the group keeps the members
    /// it had at the time (rule 3), so removing a sender never releases it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub former: Vec<FormerMember>,
    /// A deleted group is kept, without senders, for the opt-outs scoped to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormerMember {
    pub sender: String,
    pub left_at: DateTime<Utc>,
}

impl SenderGroup {
    pub fn new(name: &str, senders: &[&str]) -> SenderGroup {
        SenderGroup {
            name: name.to_string(),
            senders: senders.iter().map(|s| s.to_string()).collect(),
            program: None,
            brand: None,
            former: Vec::new(),
            deleted_at: None,
        }
    }

    /// This group as `update` redefines it at `now`: senders no longer listed become former
    /// members; the group's history stays.
    pub fn updated(&self, update: SenderGroup, now: DateTime<Utc>) -> SenderGroup {
        let mut former = self.former.clone();
        for sender in self.senders.iter().filter(|s| !update.senders.contains(s)) {
            former.push(FormerMember {
                sender: sender.clone(),
                left_at: now,
            });
        }
        SenderGroup {
            former,
            deleted_at: None,
            ..update
        }
    }

    /// This group deleted at `now`: every sender becomes a former member.
    pub fn deleted(&self, now: DateTime<Utc>) -> SenderGroup {
        SenderGroup {
            senders: Vec::new(),
            deleted_at: Some(now),
            ..self.updated(
                SenderGroup {
                    senders: Vec::new(),
                    ..self.clone()
                },
                now,
            )
        }
    }
}

/// Where a sender sits in the tenant's hierarchy right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// `Scope::Group` for a configured group, `Scope::Sender` for a sender in none.
    pub group: Scope,
    pub program: Option<String>,
    pub brand: Option<String>,
}

/// The tenant's sender groups, as configured now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderDirectory {
    pub groups: Vec<SenderGroup>,
}

impl SenderDirectory {
    pub fn placement(&self, sender: &str) -> Placement {
        match self
            .groups
            .iter()
            .find(|g| g.senders.iter().any(|s| s == sender))
        {
            Some(g) => Placement {
                group: Scope::Group(g.name.clone()),
                program: g.program.clone(),
                brand: g.brand.clone(),
            },
            None => Placement {
                group: Scope::Sender(sender.to_string()),
                program: None,
                brand: None,
            },
        }
    }

    pub fn group(&self, name: &str) -> Option<&SenderGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The brand a program belongs to, from the groups that name both.
    pub fn brand_of_program(&self, program: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| g.program.as_deref() == Some(program) && g.brand.is_some())
            .and_then(|g| g.brand.as_deref())
    }
}

/// How wide a keyword STOP reaches. The default is the widest (docs/rules.md rule 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopScope {
    #[default]
    Tenant,
    Brand,
    Program,
    SenderGroup,
}

impl StopScope {
    /// The scope of a keyword sent to a sender placed as `placement`. A level the placement
    /// does not define widens to the next level up, never narrows.
    pub fn apply(self, placement: &Placement) -> Scope {
        let brand = || {
            placement
                .brand
                .clone()
                .map(Scope::Brand)
                .unwrap_or(Scope::Tenant)
        };
        match self {
            StopScope::Tenant => Scope::Tenant,
            StopScope::Brand => brand(),
            StopScope::Program => placement
                .program
                .clone()
                .map(Scope::Program)
                .unwrap_or_else(brand),
            StopScope::SenderGroup => placement.group.clone(),
        }
    }
}

/// One send being checked: who sends, where the sender sits now, and the program the caller
/// named, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendContext {
    pub sender: String,
    pub placement: Placement,
    pub named_program: Option<String>,
    /// The brand of the named program, when the directory knows it.
    pub named_program_brand: Option<String>,
    /// Every sender of the sender's group (a pool and its numbers): an opt-out scoped to one of
    /// them stops the whole group (rule 3).
    pub group_senders: Vec<String>,
    /// Groups the sender has left, and when.
    pub left_groups: Vec<(String, DateTime<Utc>)>,
}

impl SendContext {
    pub fn new(
        directory: &SenderDirectory,
        sender: &str,
        named_program: Option<&str>,
    ) -> SendContext {
        let placement = directory.placement(sender);
        let group_senders = match &placement.group {
            Scope::Group(name) => directory
                .group(name)
                .map(|g| g.senders.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let left_groups = directory
            .groups
            .iter()
            .flat_map(|g| {
                g.former
                    .iter()
                    .filter(|f| f.sender == sender)
                    .map(|f| (g.name.clone(), f.left_at))
            })
            .collect();
        SendContext {
            sender: sender.to_string(),
            placement,
            named_program: named_program.map(str::to_string),
            named_program_brand: named_program
                .and_then(|p| directory.brand_of_program(p))
                .map(str::to_string),
            group_senders,
            left_groups,
        }
    }

    fn effective_program(&self) -> Option<&str> {
        self.named_program
            .as_deref()
            .or(self.placement.program.as_deref())
    }

    fn effective_brand(&self) -> Option<&str> {
        match &self.named_program {
            Some(_) => self.named_program_brand.as_deref(),
            None => self.placement.brand.as_deref(),
        }
    }

    fn in_group(&self, scope: &Scope) -> bool {
        self.placement.group == *scope
    }
}

impl Scope {
    /// Does an opt-out in this scope stop the send? Any reading that could include it does:
    /// a program-scoped opt-out also denies a check that names no program (rule 3).
    pub fn denies(&self, send: &SendContext) -> bool {
        match self {
            Scope::Tenant => true,
            Scope::Brand(b) => {
                send.placement.brand.as_deref() == Some(b)
                    || send.named_program_brand.as_deref() == Some(b)
            }
            Scope::Program(p) => {
                send.named_program.is_none()
                    || send.named_program.as_deref() == Some(p)
                    || send.placement.program.as_deref() == Some(p)
            }
            Scope::Group(_) => send.in_group(self),
            // One number of a pool or group stops the whole pool or group.
            Scope::Sender(s) => {
                send.sender == *s || send.in_group(self) || send.group_senders.contains(s)
            }
        }
    }

    /// Does an opt-out in this scope, recorded at `at`, stop the send? As `denies`, and a
    /// group-scoped one also stops the senders the group had at `at` (rule 3).
    pub fn denies_as_of(&self, send: &SendContext, at: DateTime<Utc>) -> bool {
        self.denies(send)
            || match self {
                Scope::Group(name) => send
                    .left_groups
                    .iter()
                    .any(|(group, left_at)| group == name && *left_at > at),
                _ => false,
            }
    }

    /// Does a consent (or an opt-in) in this scope cover the send? Only when it plainly does.
    pub fn allows(&self, send: &SendContext) -> bool {
        match self {
            Scope::Tenant => true,
            Scope::Brand(b) => send.effective_brand() == Some(b),
            Scope::Program(p) => send.effective_program() == Some(p),
            Scope::Group(_) => send.in_group(self),
            Scope::Sender(s) => send.sender == *s,
        }
    }
}

impl Scope {
    /// Does `self` hold every sender `other` names, as the directory places them now? (An
    /// opt-in in `self` then answers an opt-out in `other`, for a number's standing.)
    pub fn contains(&self, other: &Scope, directory: &SenderDirectory) -> bool {
        use Scope::*;
        let group = |name: &str| directory.group(name);
        match (self, other) {
            (Tenant, _) => true,
            (_, Tenant) => false,
            (Brand(b), Brand(c))
            | (Program(b), Program(c))
            | (Group(b), Group(c))
            | (Sender(b), Sender(c)) => b == c,
            (Brand(b), Program(p)) => directory.brand_of_program(p) == Some(b.as_str()),
            (Brand(b), Group(g)) => group(g).is_some_and(|g| g.brand.as_deref() == Some(b)),
            (Brand(b), Sender(s)) => directory.placement(s).brand.as_deref() == Some(b),
            (Program(p), Group(g)) => group(g).is_some_and(|g| g.program.as_deref() == Some(p)),
            (Program(p), Sender(s)) => directory.placement(s).program.as_deref() == Some(p),
            (Group(g), Sender(s)) => group(g).is_some_and(|g| g.senders.contains(s)),
            _ => false,
        }
    }

    /// Could a send fall in both scopes? Judged widely: when the directory cannot tell, yes.
    pub fn overlaps(&self, other: &Scope, directory: &SenderDirectory) -> bool {
        use Scope::*;
        let group_of = |name: &str| directory.group(name);
        match (self, other) {
            (Tenant, _) | (_, Tenant) => true,
            (Brand(a), Brand(b))
            | (Program(a), Program(b))
            | (Group(a), Group(b))
            | (Sender(a), Sender(b)) => a == b,
            (Brand(b), Program(p)) | (Program(p), Brand(b)) => {
                directory.brand_of_program(p).is_none_or(|x| x == b)
            }
            (Brand(b), Group(g)) | (Group(g), Brand(b)) => {
                group_of(g).is_none_or(|g| g.brand.as_deref().is_none_or(|x| x == b))
            }
            (Program(p), Group(g)) | (Group(g), Program(p)) => {
                group_of(g).is_none_or(|g| g.program.as_deref().is_none_or(|x| x == p))
            }
            (Group(g), Sender(s)) | (Sender(s), Group(g)) => {
                group_of(g).is_none_or(|g| g.senders.contains(s))
            }
            (Brand(b), Sender(s)) | (Sender(s), Brand(b)) => directory
                .placement(s)
                .brand
                .as_deref()
                .is_none_or(|x| x == b),
            (Program(p), Sender(s)) | (Sender(s), Program(p)) => directory
                .placement(s)
                .program
                .as_deref()
                .is_none_or(|x| x == p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> SenderDirectory {
        SenderDirectory {
            groups: vec![
                SenderGroup {
                    name: "alerts".into(),
                    senders: vec!["+14155550100".into(), "MG1".into()],
                    program: Some("fraud-alerts".into()),
                    brand: Some("acme-bank".into()),
                    ..Default::default()
                },
                SenderGroup {
                    name: "deals".into(),
                    senders: vec!["+14155550101".into()],
                    program: Some("weekly-deals".into()),
                    brand: Some("acme-bank".into()),
                    ..Default::default()
                },
                SenderGroup {
                    name: "shop".into(),
                    senders: vec!["+14155550102".into()],
                    program: Some("shop".into()),
                    brand: Some("acme-shop".into()),
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn scopes_round_trip_through_their_string_form() {
        for s in [
            "tenant",
            "brand:acme",
            "program:p1",
            "group:alerts",
            "sender:+14155550100",
        ] {
            let scope: Scope = s.parse().unwrap();
            assert_eq!(scope.to_string(), s);
        }
        assert!("everyone".parse::<Scope>().is_err());
        assert!("group:".parse::<Scope>().is_err());
        assert!("team:x".parse::<Scope>().is_err());
    }

    #[test]
    fn a_sender_in_no_group_is_its_own_group() {
        let p = directory().placement("+14155559999");
        assert_eq!(p.group, Scope::Sender("+14155559999".into()));
        assert_eq!(p.program, None);
    }

    #[test]
    fn stop_scope_widens_when_a_level_is_missing() {
        let d = directory();
        let alone = d.placement("+14155559999");
        assert_eq!(StopScope::Program.apply(&alone), Scope::Tenant);
        assert_eq!(StopScope::Brand.apply(&alone), Scope::Tenant);
        assert_eq!(
            StopScope::SenderGroup.apply(&alone),
            Scope::Sender("+14155559999".into())
        );
        let alerts = d.placement("MG1");
        assert_eq!(
            StopScope::Program.apply(&alerts),
            Scope::Program("fraud-alerts".into())
        );
        assert_eq!(
            StopScope::Brand.apply(&alerts),
            Scope::Brand("acme-bank".into())
        );
        assert_eq!(
            StopScope::SenderGroup.apply(&alerts),
            Scope::Group("alerts".into())
        );
    }

    #[test]
    fn deny_is_wide_and_allow_is_narrow() {
        let d = directory();
        let deals = SendContext::new(&d, "+14155550101", None);
        let shop = SendContext::new(&d, "+14155550102", None);
        let brand = Scope::Brand("acme-bank".into());
        assert!(brand.denies(&deals));
        assert!(!brand.denies(&shop));
        assert!(brand.allows(&deals));

        // A program-scoped opt-out denies a check naming no program, even from another program.
        let fraud = Scope::Program("fraud-alerts".into());
        assert!(fraud.denies(&deals));
        assert!(!fraud.allows(&deals));
        let deals_named = SendContext::new(&d, "+14155550101", Some("weekly-deals"));
        assert!(!fraud.denies(&deals_named));
        let fraud_named = SendContext::new(&d, "+14155550101", Some("fraud-alerts"));
        assert!(fraud.denies(&fraud_named));
        assert!(fraud.allows(&fraud_named));

        let group = Scope::Group("alerts".into());
        assert!(group.denies(&SendContext::new(&d, "MG1", None)));
        assert!(!group.denies(&deals));
        let sender = Scope::Sender("+14155550101".into());
        assert!(sender.denies(&deals) && sender.allows(&deals));
        assert!(!sender.denies(&shop));
    }
}
