//! Scopes, sender groups and the tenant's scope policy (docs/rules.md rule 3).
//!
//! Wide on the deny side, narrow on the allow side: an opt-out's scope contains a send when
//! any reading of it could; a consent's scope contains a send only when every reading does.

use std::fmt;
use std::str::FromStr;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderGroup {
    pub name: String,
    pub senders: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
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
}

impl SendContext {
    pub fn new(
        directory: &SenderDirectory,
        sender: &str,
        named_program: Option<&str>,
    ) -> SendContext {
        SendContext {
            sender: sender.to_string(),
            placement: directory.placement(sender),
            named_program: named_program.map(str::to_string),
            named_program_brand: named_program
                .and_then(|p| directory.brand_of_program(p))
                .map(str::to_string),
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
            Scope::Sender(s) => send.sender == *s || send.in_group(self),
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
                },
                SenderGroup {
                    name: "deals".into(),
                    senders: vec!["+14155550101".into()],
                    program: Some("weekly-deals".into()),
                    brand: Some("acme-bank".into()),
                },
                SenderGroup {
                    name: "shop".into(),
                    senders: vec!["+14155550102".into()],
                    program: Some("shop".into()),
                    brand: Some("acme-shop".into()),
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
