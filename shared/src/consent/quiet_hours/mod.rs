//! Quiet hours (docs/rules.md rule 7): may a promotional message reach this recipient at this
//! instant, and if not, when next? Pure: the data is compiled in and parsed once.
//!
//! The recipient's location is, in order, the one sent with the check, the one recorded on the
//! consent, or the number's area code. It resolves to one or more [`Place`]s (a region and an
//! IANA zone); a send is allowed only when every rule of every place is open, so an area code
//! or ZIP code that straddles states or zones answers for the strictest of them.
//!
//! The data files beside this module name their sources and the date they were taken:
//! `area_codes.tsv` (NANP area code → region and zones), `zip_prefixes.tsv` (ZIP3 or ZIP code →
//! region and zone pairs) and `state_rules.tsv` (the dated permitted hours, federal and state).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::phone::E164;

const AREA_CODES_TSV: &str = include_str!("area_codes.tsv");
const ZIP_PREFIXES_TSV: &str = include_str!("zip_prefixes.tsv");
const STATE_RULES_TSV: &str = include_str!("state_rules.tsv");

/// The 50 states and DC: the federal rule (47 CFR 64.1200(c)(1)) applies here, and so may a
/// state's own.
const STATES_AND_DC: [&str; 51] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY",
];
/// US territories in the NANP: outside the states, so they follow the tenant's configuration.
const US_TERRITORIES: [&str; 5] = ["PR", "VI", "GU", "AS", "MP"];

/// Location fields longer than this are refused unread: no real state, ZIP code or IANA zone
/// name comes close.
const MAX_FIELD_CHARS: usize = 64;

/// `retry_at` is searched this far ahead; a set of windows that never overlaps within it (a
/// tenant window narrower than the spread of an area code's zones) has no retry time.
const RETRY_HORIZON: Duration = Duration::days(366);

/// Where a recipient is, as the caller knows it. Every field is optional; blank counts as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Location {
    /// USPS code of a state, DC or US territory (`FL`, `DC`, `PR`); `US-FL` is read too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// A ZIP code (`33101`, `33101-1234`); its first three digits are enough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    /// An IANA time zone (`America/New_York`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// The tenant's quiet-hours configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuietHoursSettings {
    /// Permitted hours for NANP members outside the 50 states and DC (Canada, the Caribbean,
    /// US territories), in the recipient's local time. `None`: they answer `unknown_location`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outside_states: Option<DailyWindow>,
}

/// A window of local time applied every day: `opens` is the first permitted minute, `closes`
/// the first minute no longer permitted (`24:00` for the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DailyWindowText", into = "DailyWindowText")]
pub struct DailyWindow {
    opens: u16,
    closes: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("not a time of day: {0:?} (use HH:MM, from 00:00 to 24:00)")]
    NotATime(String),
    #[error("the window must open before it closes ({opens} is not before {closes})")]
    Empty { opens: String, closes: String },
}

impl DailyWindow {
    /// `opens` and `closes` as `HH:MM` (24-hour, `24:00` allowed for `closes`).
    pub fn new(opens: &str, closes: &str) -> Result<DailyWindow, WindowError> {
        let (o, c) = (parse_hhmm(opens)?, parse_hhmm(closes)?);
        if o >= c || o >= MINUTES_PER_DAY {
            return Err(WindowError::Empty {
                opens: opens.to_string(),
                closes: closes.to_string(),
            });
        }
        Ok(DailyWindow {
            opens: o,
            closes: c,
        })
    }

    pub fn opens(&self) -> String {
        hhmm(self.opens)
    }

    pub fn closes(&self) -> String {
        hhmm(self.closes)
    }
}

/// How a [`DailyWindow`] is written in JSON: `{"opens": "08:00", "closes": "21:00"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DailyWindowText {
    opens: String,
    closes: String,
}

impl TryFrom<DailyWindowText> for DailyWindow {
    type Error = WindowError;
    fn try_from(text: DailyWindowText) -> Result<DailyWindow, WindowError> {
        DailyWindow::new(&text.opens, &text.closes)
    }
}

impl From<DailyWindow> for DailyWindowText {
    fn from(window: DailyWindow) -> DailyWindowText {
        DailyWindowText {
            opens: window.opens(),
            closes: window.closes(),
        }
    }
}

const MINUTES_PER_DAY: u16 = 24 * 60;

fn parse_hhmm(text: &str) -> Result<u16, WindowError> {
    let not_a_time = || WindowError::NotATime(text.chars().take(MAX_FIELD_CHARS).collect());
    let (h, m) = text.trim().split_once(':').ok_or_else(not_a_time)?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return Err(not_a_time());
    }
    let (h, m) = (
        h.parse::<u16>().map_err(|_| not_a_time())?,
        m.parse::<u16>().map_err(|_| not_a_time())?,
    );
    let minutes = h * 60 + m;
    if m >= 60 || minutes > MINUTES_PER_DAY {
        return Err(not_a_time());
    }
    Ok(minutes)
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Where a rule's jurisdiction is decided: ISO 3166-2 for US states, territories and Canadian
/// provinces, ISO 3166-1 for the other NANP members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    /// In the 50 states or DC, but which one is not known (a time zone given alone): the
    /// federal rule applies.
    UnitedStates,
    /// A state or DC (USPS code).
    State([u8; 2]),
    /// PR, VI, GU, AS, MP.
    UsTerritory([u8; 2]),
    /// A Canadian province or territory.
    Canada([u8; 2]),
    /// Another country or territory (ISO 3166-1 alpha-2).
    Country([u8; 2]),
}

impl Region {
    /// The federal and state rules apply in the 50 states and DC; everywhere else, the tenant's
    /// configuration.
    pub fn inside_states(&self) -> bool {
        matches!(self, Region::UnitedStates | Region::State(_))
    }

    /// Reads `US-FL`, `CA-ON`, `JM` (the data files' form).
    fn parse_iso(text: &str) -> Option<Region> {
        let code = |s: &str| -> Option<[u8; 2]> {
            let b = s.as_bytes();
            (b.len() == 2 && b.iter().all(u8::is_ascii_uppercase)).then(|| [b[0], b[1]])
        };
        if text == "US" {
            return Some(Region::UnitedStates);
        }
        if let Some(rest) = text.strip_prefix("US-") {
            return Region::us(rest);
        }
        if let Some(rest) = text.strip_prefix("CA-") {
            return code(rest).map(Region::Canada);
        }
        code(text).map(Region::Country)
    }

    /// A USPS code of a state, DC or territory.
    fn us(usps: &str) -> Option<Region> {
        let b = usps.as_bytes();
        let code = (b.len() == 2).then(|| [b[0], b[1]])?;
        if STATES_AND_DC.contains(&usps) {
            Some(Region::State(code))
        } else if US_TERRITORIES.contains(&usps) {
            Some(Region::UsTerritory(code))
        } else {
            None
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |code: &[u8; 2]| String::from_utf8_lossy(code).into_owned();
        match self {
            Region::UnitedStates => f.write_str("US"),
            Region::State(c) | Region::UsTerritory(c) => write!(f, "US-{}", text(c)),
            Region::Canada(c) => write!(f, "CA-{}", text(c)),
            Region::Country(c) => f.write_str(&text(c)),
        }
    }
}

impl Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One place a recipient may be: a region and the zone whose clock it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Place {
    pub region: Region,
    pub zone: Tz,
}

impl Ord for Place {
    fn cmp(&self, other: &Place) -> std::cmp::Ordering {
        (self.region, self.zone.name()).cmp(&(other.region, other.zone.name()))
    }
}

impl PartialOrd for Place {
    fn partial_cmp(&self, other: &Place) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for Place {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Place", 2)?;
        s.serialize_field("region", &self.region)?;
        s.serialize_field("zone", self.zone.name())?;
        s.end()
    }
}

/// Which location decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationSource {
    SentWithCheck,
    OnConsent,
    AreaCode,
}

/// Why the recipient's hours cannot be known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UnknownLocationReason {
    /// Not a +1 number, and no location given.
    NotNanp,
    /// A +1 area code that is not geographic (toll-free, 5XX, 900, ...) or not in service.
    NonGeographicAreaCode { area_code: String },
    /// A location was given but a field of it cannot be read; it is not replaced by a guess.
    UnreadableLocation {
        from: LocationSource,
        field: &'static str,
    },
    /// Outside the 50 states and DC, and the tenant configured no hours for it.
    OutsideStatesNotConfigured { region: Region },
    /// The compiled-in data failed to load (a build defect; answered closed, never open).
    DataUnavailable,
}

/// The answer for one send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum QuietVerdict {
    Allowed,
    /// Outside the permitted hours of at least one place.
    Quiet {
        /// The first minute, at or after the instant checked, when every window is open;
        /// `None` when the windows never overlap within a year.
        retry_at: Option<DateTime<Utc>>,
        /// Every place and rule that is closed at the instant checked.
        closed_by: Vec<RuleAtPlace>,
    },
    UnknownLocation {
        reason: UnknownLocationReason,
    },
}

/// A rule as applied at one place: the evidence of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleAtPlace {
    pub place: Place,
    /// `US` (federal), `US-FL`, or `tenant` (the tenant's hours outside the states).
    pub jurisdiction: String,
    /// `Mon-Sun`, `Mon-Sat`, `Sun`.
    pub days: String,
    /// `08:00-21:00`, or `closed`.
    pub window: String,
    /// `local`, or the fixed zone the rule names.
    pub clock: String,
    pub source: String,
}

/// The verdict with what it relied on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuietHoursAssessment {
    pub verdict: QuietVerdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_from: Option<LocationSource>,
    pub places: Vec<Place>,
    /// Every rule in force at the instant checked (on its local date), at every place.
    pub rules: Vec<RuleAtPlace>,
}

/// May a promotional message reach `phone` at `at`? See [`assess`] for the evidence.
pub fn verdict(
    phone: &E164,
    sent_with_check: Option<&Location>,
    on_consent: Option<&Location>,
    at: DateTime<Utc>,
    settings: &QuietHoursSettings,
) -> QuietVerdict {
    evaluate(phone, sent_with_check, on_consent, at, settings, false).verdict
}

/// The verdict, the location it used, and the rules it applied.
pub fn assess(
    phone: &E164,
    sent_with_check: Option<&Location>,
    on_consent: Option<&Location>,
    at: DateTime<Utc>,
    settings: &QuietHoursSettings,
) -> QuietHoursAssessment {
    evaluate(phone, sent_with_check, on_consent, at, settings, true)
}

/// `with_rules`: list every rule in force (the evidence), which a bare verdict skips.
fn evaluate(
    phone: &E164,
    sent_with_check: Option<&Location>,
    on_consent: Option<&Location>,
    at: DateTime<Utc>,
    settings: &QuietHoursSettings,
    with_rules: bool,
) -> QuietHoursAssessment {
    let unknown = |reason, location_from| QuietHoursAssessment {
        verdict: QuietVerdict::UnknownLocation { reason },
        location_from,
        places: Vec::new(),
        rules: Vec::new(),
    };
    let data = match DATA.as_ref() {
        Ok(data) => data,
        Err(_) => return unknown(UnknownLocationReason::DataUnavailable, None),
    };
    let (places, source) = match data.resolve(phone, sent_with_check, on_consent) {
        Ok(resolved) => resolved,
        Err((reason, source)) => return unknown(reason, source),
    };
    let constraints = match data.constraints(&places, settings) {
        Ok(constraints) => constraints,
        Err(reason) => return unknown(reason, Some(source)),
    };
    let rules = if with_rules {
        constraints
            .iter()
            .filter(|c| c.rule.in_force_on(c.local(at).date()))
            .map(Constraint::evidence)
            .collect()
    } else {
        Vec::new()
    };
    let closed_by: Vec<RuleAtPlace> = constraints
        .iter()
        .filter(|c| !c.open_at(at))
        .map(Constraint::evidence)
        .collect();
    let verdict = if closed_by.is_empty() {
        QuietVerdict::Allowed
    } else {
        QuietVerdict::Quiet {
            retry_at: next_open_instant(&constraints, at),
            closed_by,
        }
    };
    QuietHoursAssessment {
        verdict,
        location_from: Some(source),
        places,
        rules,
    }
}

/// Checks a location as the API would receive it, so that a caller can refuse it (400) rather
/// than have every promotional check answer `unknown_location`. `Ok(false)` when it is blank.
pub fn check_location(location: &Location) -> Result<bool, &'static str> {
    let data = DATA.as_ref().map_err(|_| "data")?;
    data.places_of(location).map(|places| places.is_some())
}

/// How many times the compiled-in data has been parsed in this process (1 once used): the
/// data is parsed once, never per call.
pub fn data_loads() -> usize {
    DATA_LOADS.load(Ordering::Relaxed)
}

static DATA_LOADS: AtomicUsize = AtomicUsize::new(0);
static DATA: LazyLock<Result<QuietData, String>> = LazyLock::new(|| {
    DATA_LOADS.fetch_add(1, Ordering::Relaxed);
    QuietData::parse(AREA_CODES_TSV, ZIP_PREFIXES_TSV, STATE_RULES_TSV)
});

struct AreaCode {
    regions: Vec<Region>,
    zones: Vec<Tz>,
}

/// The days a rule governs, one bit per weekday from Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Days(u8);

impl Days {
    const EVERY: Days = Days(0x7f);

    fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    fn parse(text: &str) -> Option<Days> {
        let day = |s: &str| -> Option<u32> {
            Weekday::from_str(s).ok().map(|d| d.num_days_from_monday())
        };
        let mut bits = 0u8;
        for part in text.split(',') {
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (day(a)?, day(b)?),
                None => (day(part)?, day(part)?),
            };
            if first > last {
                return None;
            }
            for d in first..=last {
                bits |= 1 << d;
            }
        }
        (bits != 0).then_some(Days(bits))
    }
}

impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let set: Vec<usize> = (0..7).filter(|d| self.0 & (1 << d) != 0).collect();
        let contiguous = set.windows(2).all(|w| w[1] == w[0] + 1);
        match (set.first(), set.last()) {
            (Some(&a), Some(&b)) if a == b => f.write_str(NAMES[a]),
            (Some(&a), Some(&b)) if contiguous => write!(f, "{}-{}", NAMES[a], NAMES[b]),
            _ => {
                let names: Vec<&str> = set.iter().map(|&d| NAMES[d]).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

/// Whose clock a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// The recipient's zone.
    Local,
    /// A zone the rule names (Mississippi's "Central Standard Time").
    Fixed(Tz),
}

/// One row of the rules: a window on some weekdays, in force over a range of dates.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    jurisdiction: String,
    days: Days,
    /// Minutes of the day `[opens, closes)`; `None` when nothing may be sent on those days.
    window: Option<(u16, u16)>,
    clock: Clock,
    from: NaiveDate,
    until: Option<NaiveDate>,
    source: String,
}

impl Rule {
    fn in_force_on(&self, date: NaiveDate) -> bool {
        date >= self.from && self.until.is_none_or(|until| date < until)
    }

    fn governs(&self, local: NaiveDateTime) -> bool {
        self.in_force_on(local.date()) && self.days.contains(local.weekday())
    }

    /// Open at this local time: either the rule does not govern the day, or the minute is
    /// inside the window.
    fn open_at_local(&self, local: NaiveDateTime) -> bool {
        if !self.governs(local) {
            return true;
        }
        let minute = u16::try_from(local.hour() * 60 + local.minute()).unwrap_or(u16::MAX);
        self.window
            .is_some_and(|(opens, closes)| opens <= minute && minute < closes)
    }
}

/// A rule read at one place.
#[derive(Debug, Clone)]
struct Constraint<'a> {
    place: Place,
    rule: Cow<'a, Rule>,
}

impl Constraint<'_> {
    fn zone(&self) -> Tz {
        match self.rule.clock {
            Clock::Local => self.place.zone,
            Clock::Fixed(zone) => zone,
        }
    }

    fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.zone()).naive_local()
    }

    fn open_at(&self, at: DateTime<Utc>) -> bool {
        self.rule.open_at_local(self.local(at))
    }

    /// The first instant after `at` (closed) at which this rule is open. The rule's state only
    /// changes where the local clock reaches an opening or a new date (a DST jump lands on the
    /// first instant past the skipped time, a repeated hour is tried at both occurrences), so
    /// those instants over the next week are the only candidates.
    fn next_open_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let zone = self.zone();
        let today = self.local(at).date();
        let mut candidates = Vec::with_capacity(32);
        for offset in 0..=8 {
            let Some(date) = today.checked_add_signed(Duration::days(offset)) else {
                break;
            };
            if offset > 0 {
                candidates.extend(instants_at_or_after_local(
                    zone,
                    date.and_time(NaiveTime::MIN),
                ));
            }
            if let Some((opens, _)) = self.rule.window {
                let time = NaiveTime::from_hms_opt(u32::from(opens / 60), u32::from(opens % 60), 0)
                    .unwrap_or(NaiveTime::MIN);
                candidates.extend(instants_at_or_after_local(zone, date.and_time(time)));
            }
        }
        candidates.retain(|c| *c > at);
        candidates.sort();
        candidates.into_iter().find(|c| self.open_at(*c))
    }

    fn evidence(&self) -> RuleAtPlace {
        RuleAtPlace {
            place: self.place,
            jurisdiction: self.rule.jurisdiction.clone(),
            days: self.rule.days.to_string(),
            window: match self.rule.window {
                Some((opens, closes)) => format!("{}-{}", hhmm(opens), hhmm(closes)),
                None => "closed".to_string(),
            },
            clock: match self.rule.clock {
                Clock::Local => "local".to_string(),
                Clock::Fixed(zone) => zone.name().to_string(),
            },
            source: self.rule.source.clone(),
        }
    }
}

/// The UTC instants whose local time in `zone` is `local`: one, two in a repeated hour, or, when
/// `local` falls in a skipped hour, the first instant after the gap.
fn instants_at_or_after_local(zone: Tz, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
    // A gap lasts at most a day (Samoa skipped 30 December 2011); minute steps find its end.
    for minutes in 0..=(24 * 60) {
        let Some(probe) = local.checked_add_signed(Duration::minutes(minutes)) else {
            break;
        };
        match zone.from_local_datetime(&probe) {
            LocalResult::Single(t) => return vec![t.with_timezone(&Utc)],
            LocalResult::Ambiguous(a, b) => {
                return vec![a.with_timezone(&Utc), b.with_timezone(&Utc)];
            }
            LocalResult::None => {}
        }
    }
    Vec::new()
}

/// Rounds up to the next whole minute (UTC minutes are every zone's minutes: no zone in use
/// since 1972 has an offset with seconds).
fn ceil_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    let floor = at
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(at);
    if floor == at {
        at
    } else {
        floor
            .checked_add_signed(Duration::minutes(1))
            .unwrap_or(floor)
    }
}

/// The earliest minute at or after `at` when every constraint is open. Jumps from one closed
/// constraint's next opening to the next: everything skipped is closed by that constraint, so
/// nothing earlier can be open.
fn next_open_instant(constraints: &[Constraint<'_>], at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let horizon = at
        .checked_add_signed(RETRY_HORIZON)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut t = ceil_minute(at);
    while t <= horizon {
        match constraints.iter().find(|c| !c.open_at(t)) {
            None => return Some(t),
            Some(closed) => t = closed.next_open_after(t)?,
        }
    }
    None
}

type Resolved = (Vec<Place>, LocationSource);
type Unresolved = (UnknownLocationReason, Option<LocationSource>);

struct QuietData {
    area_codes: HashMap<u16, AreaCode>,
    /// Keyed by a ZIP3 or a full ZIP code; the longest match wins.
    zip_prefixes: HashMap<String, Vec<Place>>,
    /// Every zone a region may be in (from both tables): a state given alone answers for all.
    region_zones: HashMap<Region, Vec<Tz>>,
    rules: Vec<Rule>,
    /// The rows of the federal rule, for `Region::UnitedStates` and every state.
    federal: Vec<usize>,
    by_state: HashMap<Region, Vec<usize>>,
}

impl QuietData {
    fn parse(area_codes: &str, zip_prefixes: &str, rules: &str) -> Result<QuietData, String> {
        let mut data = QuietData {
            area_codes: HashMap::new(),
            zip_prefixes: HashMap::new(),
            region_zones: HashMap::new(),
            rules: Vec::new(),
            federal: Vec::new(),
            by_state: HashMap::new(),
        };
        let mut region_zones: HashMap<Region, Vec<Tz>> = HashMap::new();
        let mut add_zone = |region: Region, zone: Tz| {
            let zones = region_zones.entry(region).or_default();
            if !zones.contains(&zone) {
                zones.push(zone);
            }
        };

        for (line, cols) in rows(area_codes, "npa", 4)? {
            let npa = cols[0]
                .parse::<u16>()
                .ok()
                .filter(|n| (200..1000).contains(n) && cols[0].len() == 3)
                .ok_or(format!("area_codes.tsv line {line}: bad area code"))?;
            let regions = list(cols[1], Region::parse_iso)
                .ok_or(format!("area_codes.tsv line {line}: bad region"))?;
            let zones = list(cols[2], |z| z.parse::<Tz>().ok())
                .ok_or(format!("area_codes.tsv line {line}: bad zone"))?;
            for region in &regions {
                for zone in &zones {
                    add_zone(*region, *zone);
                }
            }
            if data
                .area_codes
                .insert(npa, AreaCode { regions, zones })
                .is_some()
            {
                return Err(format!("area_codes.tsv line {line}: {npa} twice"));
            }
        }

        for (line, cols) in rows(zip_prefixes, "prefix", 3)? {
            let prefix = cols[0];
            if !(prefix.len() == 3 || prefix.len() == 5)
                || !prefix.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(format!("zip_prefixes.tsv line {line}: bad prefix"));
            }
            let places = list(cols[1], |pair| {
                let (region, zone) = pair.split_once(':')?;
                Some(Place {
                    region: Region::parse_iso(region)?,
                    zone: zone.parse::<Tz>().ok()?,
                })
            })
            .ok_or(format!("zip_prefixes.tsv line {line}: bad place"))?;
            for place in &places {
                add_zone(place.region, place.zone);
            }
            data.zip_prefixes.insert(prefix.to_string(), places);
        }

        for (line, cols) in rows(rules, "region", 9)? {
            let bad = |what: &str| format!("state_rules.tsv line {line}: bad {what}");
            let region = Region::parse_iso(cols[0])
                .filter(Region::inside_states)
                .ok_or_else(|| bad("region"))?;
            let days = Days::parse(cols[1]).ok_or_else(|| bad("days"))?;
            let window = match (cols[2], cols[3]) {
                ("closed", "closed") => None,
                (opens, closes) => {
                    let w = DailyWindow::new(opens, closes).map_err(|_| bad("window"))?;
                    Some((w.opens, w.closes))
                }
            };
            let clock = match cols[4] {
                "local" => Clock::Local,
                zone => Clock::Fixed(zone.parse::<Tz>().map_err(|_| bad("clock"))?),
            };
            let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
            let from = date(cols[5]).ok_or_else(|| bad("from"))?;
            let until = match cols[6] {
                "-" => None,
                s => Some(date(s).ok_or_else(|| bad("until"))?),
            };
            if !matches!(cols[7], "yes" | "unclear") {
                return Err(bad("texts"));
            }
            let index = data.rules.len();
            data.rules.push(Rule {
                jurisdiction: region.to_string(),
                days,
                window,
                clock,
                from,
                until,
                source: cols[8].to_string(),
            });
            match region {
                Region::UnitedStates => data.federal.push(index),
                state => data.by_state.entry(state).or_default().push(index),
            }
        }
        if data.federal.is_empty() {
            return Err("state_rules.tsv: no federal rule".to_string());
        }

        data.region_zones = region_zones;
        Ok(data)
    }

    /// The places of the first location given, else of the area code.
    fn resolve(
        &self,
        phone: &E164,
        sent_with_check: Option<&Location>,
        on_consent: Option<&Location>,
    ) -> Result<Resolved, Unresolved> {
        for (location, source) in [
            (sent_with_check, LocationSource::SentWithCheck),
            (on_consent, LocationSource::OnConsent),
        ] {
            let Some(location) = location else { continue };
            match self.places_of(location) {
                Ok(Some(places)) => return Ok((places, source)),
                Ok(None) => {}
                Err(field) => {
                    return Err((
                        UnknownLocationReason::UnreadableLocation {
                            from: source,
                            field,
                        },
                        Some(source),
                    ));
                }
            }
        }
        let digits = phone.as_str().strip_prefix("+1").unwrap_or("");
        if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err((UnknownLocationReason::NotNanp, None));
        }
        let area_code = &digits[..3];
        let entry = area_code
            .parse::<u16>()
            .ok()
            .and_then(|npa| self.area_codes.get(&npa))
            .ok_or_else(|| {
                (
                    UnknownLocationReason::NonGeographicAreaCode {
                        area_code: area_code.to_string(),
                    },
                    Some(LocationSource::AreaCode),
                )
            })?;
        let places = entry
            .regions
            .iter()
            .flat_map(|&region| entry.zones.iter().map(move |&zone| Place { region, zone }))
            .collect();
        Ok((places, LocationSource::AreaCode))
    }

    /// The places a location names: `Ok(None)` when it names nothing (every field blank), and
    /// the name of the first unreadable field otherwise.
    fn places_of(&self, location: &Location) -> Result<Option<Vec<Place>>, &'static str> {
        let given = |field: &Option<String>| -> Result<Option<String>, ()> {
            match field.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(s) if s.chars().count() > MAX_FIELD_CHARS => Err(()),
                Some(s) => Ok(Some(s.to_string())),
            }
        };
        let state = given(&location.state).map_err(|_| "state")?;
        let zip = given(&location.zip).map_err(|_| "zip")?;
        let zone = given(&location.time_zone).map_err(|_| "time_zone")?;

        let state = match state {
            None => None,
            Some(s) => {
                let upper = s.to_ascii_uppercase();
                let usps = upper.strip_prefix("US-").unwrap_or(&upper);
                Some(Region::us(usps).ok_or("state")?)
            }
        };
        let zip = match zip {
            None => None,
            Some(z) => Some(self.zip_places(&z).ok_or("zip")?),
        };
        let zone = match zone {
            None => None,
            Some(z) => Some(z.parse::<Tz>().map_err(|_| "time_zone")?),
        };
        if state.is_none() && zip.is_none() && zone.is_none() {
            return Ok(None);
        }

        let state_places = |region: Region| -> Vec<Place> {
            self.region_zones
                .get(&region)
                .map(|zones| zones.iter().map(|&zone| Place { region, zone }).collect())
                .unwrap_or_default()
        };
        // The fields narrow one another; when they contradict (a ZIP code in another state),
        // both readings apply, the stricter answer being the safe one.
        let mut places: Vec<Place> = match (state, zip) {
            (Some(region), Some(zip_places)) => {
                let agreeing: Vec<Place> = zip_places
                    .iter()
                    .copied()
                    .filter(|p| p.region == region)
                    .collect();
                if agreeing.is_empty() {
                    zip_places.into_iter().chain(state_places(region)).collect()
                } else {
                    agreeing
                }
            }
            (Some(region), None) => state_places(region),
            (None, Some(zip_places)) => zip_places,
            (None, None) => Vec::new(),
        };
        if let Some(zone) = zone {
            // The zone given is the recipient's clock; the other fields still say which rules.
            let regions: BTreeSet<Region> = places.iter().map(|p| p.region).collect();
            places = if regions.is_empty() {
                vec![Place {
                    region: Region::UnitedStates,
                    zone,
                }]
            } else {
                regions
                    .into_iter()
                    .map(|region| Place { region, zone })
                    .collect()
            };
        }
        if places.is_empty() {
            // Only a state with no zone in either table gets here: not a place we know.
            return Err("state");
        }
        places.sort();
        places.dedup();
        Ok(Some(places))
    }

    /// A ZIP code's places: the full five digits where they are listed, else the ZIP3's.
    fn zip_places(&self, zip: &str) -> Option<Vec<Place>> {
        let digits: String = zip.chars().filter(|c| *c != '-' && *c != ' ').collect();
        if !(digits.len() == 5 || digits.len() == 9) || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        self.zip_prefixes
            .get(&digits[..5])
            .or_else(|| self.zip_prefixes.get(&digits[..3]))
            .cloned()
    }

    /// Every rule that applies at every place.
    fn constraints<'a>(
        &'a self,
        places: &[Place],
        settings: &'a QuietHoursSettings,
    ) -> Result<Vec<Constraint<'a>>, UnknownLocationReason> {
        let mut constraints = Vec::new();
        for &place in places {
            if place.region.inside_states() {
                let state_rows = self.by_state.get(&place.region).into_iter().flatten();
                for &index in self.federal.iter().chain(state_rows) {
                    if let Some(rule) = self.rules.get(index) {
                        constraints.push(Constraint {
                            place,
                            rule: Cow::Borrowed(rule),
                        });
                    }
                }
            } else {
                let Some(window) = settings.outside_states else {
                    return Err(UnknownLocationReason::OutsideStatesNotConfigured {
                        region: place.region,
                    });
                };
                constraints.push(Constraint {
                    place,
                    rule: Cow::Owned(tenant_rule(window)),
                });
            }
        }
        Ok(constraints)
    }
}

/// The tenant's window as a rule, in the recipient's local time every day.
fn tenant_rule(window: DailyWindow) -> Rule {
    Rule {
        jurisdiction: "tenant".to_string(),
        days: Days::EVERY,
        window: Some((window.opens, window.closes)),
        clock: Clock::Local,
        from: NaiveDate::MIN,
        until: None,
        source: "tenant configuration: permitted hours outside the states".to_string(),
    }
}

/// The data rows of a TSV file: comment lines (`#`) and the header (starting with `first`) are
/// skipped; every row must have `columns` columns.
fn rows<'a>(
    text: &'a str,
    first: &str,
    columns: usize,
) -> Result<Vec<(usize, Vec<&'a str>)>, String> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() || line.starts_with(first) {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != columns {
            return Err(format!(
                "line {}: {} columns, expected {columns}",
                index + 1,
                cols.len()
            ));
        }
        out.push((index + 1, cols));
    }
    Ok(out)
}

/// A comma-separated list, every item read by `item`.
fn list<T>(text: &str, item: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
    let items: Option<Vec<T>> = text.split(',').map(|s| item(s.trim())).collect();
    items.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn phone(number: &str) -> E164 {
        E164::from_stored(number).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
    }

    fn state(code: &str) -> Location {
        Location {
            state: Some(code.into()),
            ..Location::default()
        }
    }

    fn none() -> QuietHoursSettings {
        QuietHoursSettings::default()
    }

    fn outside(opens: &str, closes: &str) -> QuietHoursSettings {
        QuietHoursSettings {
            outside_states: Some(DailyWindow::new(opens, closes).unwrap()),
        }
    }

    fn check(number: &str, at: DateTime<Utc>) -> QuietVerdict {
        verdict(&phone(number), None, None, at, &none())
    }

    fn retry(v: &QuietVerdict) -> Option<DateTime<Utc>> {
        match v {
            QuietVerdict::Quiet { retry_at, .. } => *retry_at,
            other => panic!("expected quiet hours, got {other:?}"),
        }
    }

    fn data() -> &'static QuietData {
        DATA.as_ref().unwrap()
    }

    /// The oracle: the first whole minute at or after `at`, scanning every minute, at which
    /// every constraint is open. Independent of the jump search in `next_open_instant`.
    fn brute_force_retry(
        constraints: &[Constraint<'_>],
        at: DateTime<Utc>,
        minutes: i64,
    ) -> Option<DateTime<Utc>> {
        let start = ceil_minute(at);
        (0..minutes)
            .map(|m| start + Duration::minutes(m))
            .find(|t| constraints.iter().all(|c| c.open_at(*t)))
    }

    #[test]
    fn the_data_parses_once_and_is_complete() {
        let data = data();
        assert_eq!(data.area_codes.len(), 442);
        assert_eq!(data.rules.len(), 14);
        assert_eq!(data.federal.len(), 1);
        for code in STATES_AND_DC {
            let region = Region::us(code).unwrap();
            assert!(
                data.region_zones
                    .get(&region)
                    .is_some_and(|z| !z.is_empty()),
                "{code} has no zone"
            );
        }
        for code in [
            "800", "833", "844", "855", "866", "877", "888", "900", "500", "600",
        ] {
            assert!(
                !data.area_codes.contains_key(&code.parse().unwrap()),
                "{code}"
            );
        }
        for _ in 0..1000 {
            check("+13055550123", utc(2026, 6, 10, 15, 0));
        }
        assert_eq!(data_loads(), 1, "parsed once per process, never per call");
    }

    #[test]
    fn parsing_is_once_and_a_call_is_microseconds() {
        let started = std::time::Instant::now();
        let parsed = QuietData::parse(AREA_CODES_TSV, ZIP_PREFIXES_TSV, STATE_RULES_TSV);
        let parse_time = started.elapsed();
        assert!(parsed.is_ok());
        let _ = check("+13055550123", utc(2026, 6, 10, 15, 0));
        let calls = 2_000u32;
        let started = std::time::Instant::now();
        for i in 0..calls {
            let at = utc(2026, 6, 10, 0, 0) + Duration::minutes(i64::from(i) * 7);
            std::hint::black_box(check("+18505550123", at));
        }
        let per_call = started.elapsed() / calls;
        eprintln!("quiet hours: parse {parse_time:?}, one verdict {per_call:?} (850, two zones)");
        assert!(per_call < parse_time, "a call must not cost a parse");
    }

    #[test]
    fn every_zone_reads_its_own_clock() {
        // Wednesday 10 June 2026 (DST) and Wednesday 14 January 2026 (standard time); each
        // number opens at 08:00 local and closes at 21:00 local (Florida 20:00).
        let cases = [
            ("+12125550123", 12, 1), // New York, Eastern: 08:00 EDT = 12:00Z, EST 13:00Z
            ("+13125550123", 13, 1), // Chicago, Central
            ("+13035550123", 14, 1), // Denver, Mountain
            ("+16025550123", 15, 0), // Phoenix: MST all year, 15:00Z both seasons
            ("+14155550123", 15, 1), // San Francisco, Pacific
            ("+18085550123", 18, 0), // Honolulu: HST all year
        ];
        for (number, summer_open_hour, winter_shift) in cases {
            let summer = check(number, utc(2026, 6, 10, summer_open_hour - 1, 59));
            assert_eq!(
                retry(&summer),
                Some(utc(2026, 6, 10, summer_open_hour, 0)),
                "{number}"
            );
            assert_eq!(
                check(number, utc(2026, 6, 10, summer_open_hour, 0)),
                QuietVerdict::Allowed
            );
            let winter_open = summer_open_hour + winter_shift;
            let winter = check(number, utc(2026, 1, 14, winter_open - 1, 30));
            assert_eq!(
                retry(&winter),
                Some(utc(2026, 1, 14, winter_open, 0)),
                "{number} in January"
            );
        }
        // Alaska (907): Anchorage opens at 08:00 AKDT (16:00Z), but the Aleutians west of
        // 169.5W keep Hawaii-Aleutian time, an hour behind: the code opens at 17:00Z.
        let alaska = check("+19075550123", utc(2026, 6, 10, 16, 0));
        assert_eq!(retry(&alaska), Some(utc(2026, 6, 10, 17, 0)));
        // 21:00 local closes: 20:59 EDT may send, 21:00 may not.
        assert_eq!(
            check("+12125550123", utc(2026, 6, 11, 0, 59)),
            QuietVerdict::Allowed
        );
        assert!(matches!(
            check("+12125550123", utc(2026, 6, 11, 1, 0)),
            QuietVerdict::Quiet { .. }
        ));
    }

    #[test]
    fn the_worked_examples_of_rule_7() {
        // docs/rules.md rule 7, "Example".
        assert_eq!(
            check("+13055550123", utc(2026, 6, 10, 23, 30)),
            QuietVerdict::Allowed
        );
        let florida = check("+13055550123", utc(2026, 6, 11, 0, 30));
        assert_eq!(retry(&florida), Some(utc(2026, 6, 11, 12, 0)));
        let panhandle = check("+18505550123", utc(2026, 6, 10, 12, 30));
        assert_eq!(retry(&panhandle), Some(utc(2026, 6, 10, 13, 0)));
        let QuietVerdict::Quiet { closed_by, .. } = &panhandle else {
            panic!("850 at 07:30 CDT is quiet");
        };
        assert!(
            closed_by
                .iter()
                .all(|c| c.place.zone == Tz::America__Chicago)
        );
        let texas_sunday = check("+15125550123", utc(2026, 6, 14, 16, 30));
        assert_eq!(retry(&texas_sunday), Some(utc(2026, 6, 14, 17, 0)));
        assert_eq!(
            check("+18335550123", utc(2026, 6, 10, 15, 0)),
            QuietVerdict::UnknownLocation {
                reason: UnknownLocationReason::NonGeographicAreaCode {
                    area_code: "833".into()
                }
            }
        );
        assert_eq!(
            verdict(
                &phone("+18335550123"),
                Some(&state("TX")),
                None,
                utc(2026, 6, 10, 15, 0),
                &none()
            ),
            QuietVerdict::Allowed
        );
        // send_at moves the check: 10:00 EDT on 11 June.
        assert_eq!(
            check("+13055550123", utc(2026, 6, 11, 14, 0)),
            QuietVerdict::Allowed
        );
    }

    #[test]
    fn florida_closes_at_20_00() {
        assert_eq!(
            check("+13055550123", utc(2026, 6, 10, 23, 59)),
            QuietVerdict::Allowed
        );
        let closed = check("+13055550123", utc(2026, 6, 11, 0, 0));
        let QuietVerdict::Quiet { closed_by, .. } = &closed else {
            panic!("20:00 EDT in Florida is quiet");
        };
        assert_eq!(closed_by.len(), 1);
        assert_eq!(closed_by[0].jurisdiction, "US-FL");
        assert_eq!(closed_by[0].window, "08:00-20:00");
        assert!(closed_by[0].source.contains("501.616"));
    }

    #[test]
    fn texas_sunday_opens_at_noon_only_from_september_2025() {
        // Sunday 31 August 2025, 10:00 CDT: SB 140 not yet in force, only the federal rule.
        assert_eq!(
            check("+15125550123", utc(2025, 8, 31, 15, 0)),
            QuietVerdict::Allowed
        );
        // Sunday 7 September 2025, 10:00 CDT: quiet until noon.
        let sunday = check("+15125550123", utc(2025, 9, 7, 15, 0));
        assert_eq!(retry(&sunday), Some(utc(2025, 9, 7, 17, 0)));
        // Saturday 13 June 2026, 08:30 CDT: quiet until 09:00.
        let saturday = check("+15125550123", utc(2026, 6, 13, 13, 30));
        assert_eq!(retry(&saturday), Some(utc(2026, 6, 13, 14, 0)));
        // Saturday 21:30 CDT: the next opening is Sunday noon, not 09:00.
        let saturday_night = check("+15125550123", utc(2026, 6, 14, 2, 30));
        assert_eq!(retry(&saturday_night), Some(utc(2026, 6, 14, 17, 0)));
        // El Paso (915) is Mountain: Sunday noon MDT is 18:00Z.
        let el_paso = check("+19155550123", utc(2026, 6, 14, 17, 0));
        assert_eq!(retry(&el_paso), Some(utc(2026, 6, 14, 18, 0)));
    }

    #[test]
    fn other_states_with_stricter_hours() {
        // Connecticut opens at 09:00 and closes at 20:00.
        let hartford = check("+18605550123", utc(2026, 6, 10, 12, 30));
        assert_eq!(retry(&hartford), Some(utc(2026, 6, 10, 13, 0)));
        // Mississippi: no Sunday; "Central Standard Time" read literally too, so a summer
        // weekday opens at 09:00 CDT (08:00 CST).
        let jackson_sunday = check("+16015550123", utc(2026, 6, 14, 18, 0));
        assert_eq!(retry(&jackson_sunday), Some(utc(2026, 6, 15, 14, 0)));
        let jackson_winter = check("+16015550123", utc(2026, 1, 14, 13, 59));
        assert_eq!(retry(&jackson_winter), Some(utc(2026, 1, 14, 14, 0)));
        // Alabama (334 also keeps Eastern time in Phenix City): Sunday closed.
        let montgomery = check("+13345550123", utc(2026, 6, 14, 18, 0));
        assert_eq!(retry(&montgomery), Some(utc(2026, 6, 15, 13, 0)));
        // Oklahoma and Maryland close at 20:00; Maryland's 20:00 EDT is 00:00Z.
        assert!(matches!(
            check("+14105550123", utc(2026, 6, 11, 0, 0)),
            QuietVerdict::Quiet { .. }
        ));
    }

    #[test]
    fn dst_spring_forward_gap() {
        // New York, Sunday 8 March 2026: clocks go 02:00 EST -> 03:00 EDT. At 01:00 EST the
        // next opening is 08:00 EDT = 12:00Z (not 13:00Z).
        let night = check("+12125550123", utc(2026, 3, 8, 6, 0));
        assert_eq!(retry(&night), Some(utc(2026, 3, 8, 12, 0)));
        // A tenant window opening at 02:30, a time that does not exist that night in Toronto:
        // it opens when the clock jumps, 03:00 EDT = 07:00Z.
        let settings = outside("02:30", "21:00");
        let toronto = verdict(
            &phone("+14165550123"),
            None,
            None,
            utc(2026, 3, 8, 6, 0),
            &settings,
        );
        assert_eq!(retry(&toronto), Some(utc(2026, 3, 8, 7, 0)));
    }

    #[test]
    fn dst_fall_back_repeated_hour() {
        // Toronto, Sunday 1 November 2026: 02:00 EDT -> 01:00 EST, so 01:00-02:00 happens twice.
        let settings = outside("01:30", "22:00");
        let at = |h, m| {
            verdict(
                &phone("+14165550123"),
                None,
                None,
                utc(2026, 11, 1, h, m),
                &settings,
            )
        };
        // 01:00 EDT (05:00Z): opens at the first 01:30, 05:30Z.
        assert_eq!(retry(&at(5, 0)), Some(utc(2026, 11, 1, 5, 30)));
        // 01:45 EDT is open; the first 02:00 never comes (the clock goes back to 01:00 EST)
        // and 01:00 EST (06:00Z) is before 01:30 again: closed until 06:30Z.
        assert_eq!(at(5, 45), QuietVerdict::Allowed);
        assert_eq!(retry(&at(6, 0)), Some(utc(2026, 11, 1, 6, 30)));
        // The federal window across the change: 22:00 EDT Saturday -> 08:00 EST Sunday.
        let miami = check("+13055550123", utc(2026, 11, 1, 2, 0));
        assert_eq!(retry(&miami), Some(utc(2026, 11, 1, 13, 0)));
    }

    #[test]
    fn a_location_sent_with_the_check_overrides_the_area_code() {
        // 305 (Florida) at 20:30 EDT is quiet, but the person is in California (17:30 PDT).
        let at = utc(2026, 6, 11, 0, 30);
        let p = phone("+13055550123");
        assert_eq!(
            verdict(&p, Some(&state("CA")), None, at, &none()),
            QuietVerdict::Allowed
        );
        let assessment = assess(&p, Some(&state("CA")), Some(&state("FL")), at, &none());
        assert_eq!(
            assessment.location_from,
            Some(LocationSource::SentWithCheck)
        );
        assert!(assessment.rules.iter().all(|r| r.jurisdiction == "US"));
    }

    #[test]
    fn the_location_on_the_consent_is_used_when_none_is_sent() {
        // 415 (California) at 17:30 PDT would be allowed; the consent says Florida (20:30 EDT,
        // 19:30 CDT in the panhandle). Florida alone is both its zones: quiet until 08:00 CDT.
        let at = utc(2026, 6, 11, 0, 30);
        let p = phone("+14155550123");
        let assessment = assess(&p, None, Some(&state("FL")), at, &none());
        assert_eq!(assessment.location_from, Some(LocationSource::OnConsent));
        assert_eq!(retry(&assessment.verdict), Some(utc(2026, 6, 11, 13, 0)));
        // A blank location sent with the check does not hide the recorded one.
        let blank = Location {
            state: Some("  ".into()),
            ..Location::default()
        };
        assert_eq!(
            assess(&p, Some(&blank), Some(&state("FL")), at, &none()).location_from,
            Some(LocationSource::OnConsent)
        );
    }

    #[test]
    fn a_zip_code_spanning_zones_passes_both() {
        // ZIP3 324 (Panama City area) straddles Eastern and Central, like 850.
        let zip = Location {
            zip: Some("32401".into()),
            ..Location::default()
        };
        let at = utc(2026, 6, 10, 12, 30); // 08:30 EDT, 07:30 CDT
        let v = verdict(&phone("+12125550123"), Some(&zip), None, at, &none());
        assert_eq!(retry(&v), Some(utc(2026, 6, 10, 13, 0)));
        // A ZIP code listed on its own wins over its mixed prefix: 96813 is Honolulu, not
        // American Samoa (967/968 share HI and AS).
        let honolulu = Location {
            zip: Some("96813-1234".into()),
            ..Location::default()
        };
        let samoa = Location {
            zip: Some("96799".into()),
            ..Location::default()
        };
        let noon_hst = utc(2026, 6, 10, 22, 0);
        assert_eq!(
            verdict(
                &phone("+12125550123"),
                Some(&honolulu),
                None,
                noon_hst,
                &none()
            ),
            QuietVerdict::Allowed
        );
        assert!(matches!(
            verdict(
                &phone("+12125550123"),
                Some(&samoa),
                None,
                noon_hst,
                &none()
            ),
            QuietVerdict::UnknownLocation {
                reason: UnknownLocationReason::OutsideStatesNotConfigured { .. }
            }
        ));
    }

    #[test]
    fn a_state_alone_answers_for_all_its_zones_and_a_zone_alone_is_federal() {
        // Texas alone: Central and Mountain (El Paso). Monday 15 June 2026, 08:30 CDT / 07:30
        // MDT: quiet until 09:00 MDT = 15:00Z.
        let texas = verdict(
            &phone("+18335550123"),
            Some(&state("tx")),
            None,
            utc(2026, 6, 15, 13, 30),
            &none(),
        );
        assert_eq!(retry(&texas), Some(utc(2026, 6, 15, 15, 0)));
        // A zone alone: the federal window in that zone.
        let zone = Location {
            time_zone: Some("America/Denver".into()),
            ..Location::default()
        };
        let v = verdict(
            &phone("+18335550123"),
            Some(&zone),
            None,
            utc(2026, 6, 15, 13, 30),
            &none(),
        );
        assert_eq!(retry(&v), Some(utc(2026, 6, 15, 14, 0)));
        // A state and a zone: the state's rules at that zone's clock.
        let florida_central = Location {
            state: Some("FL".into()),
            time_zone: Some("America/Chicago".into()),
            ..Location::default()
        };
        let places = data().places_of(&florida_central).unwrap().unwrap();
        assert_eq!(
            places,
            vec![Place {
                region: Region::us("FL").unwrap(),
                zone: Tz::America__Chicago
            }]
        );
    }

    #[test]
    fn canada_and_the_territories_follow_the_tenant() {
        let at = utc(2026, 6, 10, 12, 30); // 08:30 EDT in Toronto
        for number in ["+14165550123", "+17875550123", "+18765550123"] {
            assert!(
                matches!(
                    check(number, at),
                    QuietVerdict::UnknownLocation {
                        reason: UnknownLocationReason::OutsideStatesNotConfigured { .. }
                    }
                ),
                "{number}"
            );
        }
        let settings = outside("09:00", "20:00");
        let toronto = verdict(&phone("+14165550123"), None, None, at, &settings);
        assert_eq!(retry(&toronto), Some(utc(2026, 6, 10, 13, 0)));
        let QuietVerdict::Quiet { closed_by, .. } = &toronto else {
            panic!("08:30 in Toronto is before 09:00");
        };
        assert_eq!(closed_by[0].jurisdiction, "tenant");
        // Puerto Rico (AST, no DST): 09:00 AST = 13:00Z.
        let san_juan = verdict(&phone("+17875550123"), None, None, at, &settings);
        assert_eq!(retry(&san_juan), Some(utc(2026, 6, 10, 13, 0)));
        assert_eq!(
            verdict(
                &phone("+14165550123"),
                None,
                None,
                utc(2026, 6, 10, 15, 0),
                &settings
            ),
            QuietVerdict::Allowed
        );
    }

    #[test]
    fn unknown_locations_answer_closed() {
        let at = utc(2026, 6, 10, 15, 0);
        assert_eq!(
            check("+442079460958", at),
            QuietVerdict::UnknownLocation {
                reason: UnknownLocationReason::NotNanp
            }
        );
        for toll_free in [
            "+18005550123",
            "+18885550123",
            "+19005550123",
            "+15005550123",
        ] {
            assert!(
                matches!(
                    check(toll_free, at),
                    QuietVerdict::UnknownLocation {
                        reason: UnknownLocationReason::NonGeographicAreaCode { .. }
                    }
                ),
                "{toll_free}"
            );
        }
        // A location that cannot be read is not replaced by the area code.
        for (location, field) in [
            (state("ZZ"), "state"),
            (
                Location {
                    zip: Some("00000".into()),
                    ..Location::default()
                },
                "zip",
            ),
            (
                Location {
                    time_zone: Some("Mars/Olympus".into()),
                    ..Location::default()
                },
                "time_zone",
            ),
        ] {
            assert_eq!(
                verdict(&phone("+12125550123"), Some(&location), None, at, &none()),
                QuietVerdict::UnknownLocation {
                    reason: UnknownLocationReason::UnreadableLocation {
                        from: LocationSource::SentWithCheck,
                        field
                    }
                }
            );
            assert_eq!(check_location(&location), Err(field));
        }
        assert_eq!(check_location(&Location::default()), Ok(false));
        assert_eq!(check_location(&state("US-FL")), Ok(true));
    }

    #[test]
    fn windows_read_and_write_as_hh_mm() {
        let window: DailyWindow =
            serde_json::from_str(r#"{"opens": "08:00", "closes": "24:00"}"#).unwrap();
        assert_eq!(
            (window.opens(), window.closes()),
            ("08:00".into(), "24:00".into())
        );
        assert_eq!(
            serde_json::to_string(&window).unwrap(),
            r#"{"opens":"08:00","closes":"24:00"}"#
        );
        for (opens, closes) in [("21:00", "08:00"), ("8:00", "21:00"), ("24:00", "24:00")] {
            assert!(DailyWindow::new(opens, closes).is_err(), "{opens}-{closes}");
        }
        assert!(
            serde_json::from_str::<DailyWindow>(r#"{"opens":"09:00","closes":"09:00"}"#).is_err()
        );
        let evidence =
            serde_json::to_value(check("+13055550123", utc(2026, 6, 11, 0, 30))).unwrap();
        assert_eq!(evidence["verdict"], "quiet");
        assert_eq!(evidence["retry_at"], "2026-06-11T12:00:00Z");
        assert_eq!(
            evidence["closed_by"][0]["place"]["zone"],
            "America/New_York"
        );
        assert_eq!(evidence["closed_by"][0]["place"]["region"], "US-FL");
    }

    fn geographic_numbers() -> Vec<String> {
        let mut codes: Vec<u16> = data().area_codes.keys().copied().collect();
        codes.sort_unstable();
        codes.iter().map(|npa| format!("+1{npa}5550123")).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// retry_at is the earliest whole minute at or after the instant at which every
        /// window is open, by a minute-by-minute scan, across zones, DST changes, weekdays,
        /// rule start dates and tenant windows.
        #[test]
        fn retry_at_is_the_first_open_minute(
            number_index in 0usize..10_000,
            seconds in 1_735_689_600i64..1_830_297_600, // 2025-01-01 .. 2028-01-01
            tenant in prop::option::of((0u16..1380, 1u16..600)),
        ) {
            let numbers = geographic_numbers();
            let number = &numbers[number_index % numbers.len()];
            let at = DateTime::from_timestamp(seconds, 0).unwrap();
            let settings = QuietHoursSettings {
                outside_states: tenant.map(|(opens, length)| DailyWindow {
                    opens,
                    closes: (opens + length).min(MINUTES_PER_DAY),
                }),
            };
            let data = data();
            let (places, _) = data.resolve(&phone(number), None, None).unwrap();
            let Ok(constraints) = data.constraints(&places, &settings) else {
                return Ok(());
            };
            let expected = brute_force_retry(&constraints, at, 8 * 24 * 60);
            match verdict(&phone(number), None, None, at, &settings) {
                QuietVerdict::Allowed => prop_assert!(constraints.iter().all(|c| c.open_at(at))),
                QuietVerdict::Quiet { retry_at, .. } => {
                    prop_assert!(!constraints.iter().all(|c| c.open_at(at)));
                    match expected {
                        Some(_) => prop_assert_eq!(retry_at, expected, "{} at {}", number, at),
                        // Not open within 8 days: the search may still find a later time.
                        None => prop_assert!(retry_at.is_none_or(|r| r > at + Duration::days(8))),
                    }
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }

        /// Any input at all: an answer, never a panic.
        #[test]
        fn never_panics(
            number in ".{0,20}",
            digits in "\\+1[0-9]{10}",
            state in prop::option::of(".{0,8}"),
            zip in prop::option::of("[0-9 -]{0,12}|.{0,12}"),
            time_zone in prop::option::of("[A-Za-z/_+-]{0,30}|.{0,70}"),
            seconds in -8_334_601_228_800i64..8_210_266_876_799,
            opens in 0u16..1440,
            length in 1u16..1440,
        ) {
            let at = DateTime::from_timestamp(seconds, 0).unwrap_or_default();
            let location = Location { state, zip, time_zone };
            let settings = QuietHoursSettings {
                outside_states: Some(DailyWindow { opens, closes: (opens + length).min(MINUTES_PER_DAY) }),
            };
            for raw in [number.as_str(), digits.as_str()] {
                let phone: E164 = serde_json::from_value(serde_json::Value::String(raw.to_string())).unwrap();
                let _ = assess(&phone, Some(&location), None, at, &settings);
                let _ = assess(&phone, None, Some(&location), at, &QuietHoursSettings::default());
                let _ = assess(&phone, None, None, at, &settings);
            }
        }
    }
}
