//! Business days for the FCC's "within 10 business days" (47 CFR 64.1200(a)(10)): weekends and
//! US federal holidays (5 U.S.C. 6103, with the observed-day rule) do not count.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// The n-th `weekday` of a month (n from 1), or the last one when `n` is 0.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u32) -> Option<NaiveDate> {
    if n == 0 {
        let next_month = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        }?;
        let mut day = next_month.pred_opt()?;
        while day.weekday() != weekday {
            day = day.pred_opt()?;
        }
        return Some(day);
    }
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, u8::try_from(n).ok()?)
}

/// A fixed-date holiday falling on a Saturday is observed the Friday before; on a Sunday, the
/// Monday after.
fn observed(day: NaiveDate) -> NaiveDate {
    match day.weekday() {
        Weekday::Sat => day.pred_opt().unwrap_or(day),
        Weekday::Sun => day.succ_opt().unwrap_or(day),
        _ => day,
    }
}

/// The federal holidays observed in `year` (including New Year's Day of `year + 1` observed
/// on 31 December, as happens when 1 January is a Saturday).
pub fn federal_holidays(year: i32) -> Vec<NaiveDate> {
    let fixed = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).map(observed);
    [
        fixed(year, 1, 1),
        nth_weekday(year, 1, Weekday::Mon, 3), // Birthday of Martin Luther King, Jr.
        nth_weekday(year, 2, Weekday::Mon, 3), // Washington's Birthday
        nth_weekday(year, 5, Weekday::Mon, 0), // Memorial Day
        fixed(year, 6, 19),                    // Juneteenth
        fixed(year, 7, 4),
        nth_weekday(year, 9, Weekday::Mon, 1),  // Labor Day
        nth_weekday(year, 10, Weekday::Mon, 2), // Columbus Day
        fixed(year, 11, 11),
        nth_weekday(year, 11, Weekday::Thu, 4), // Thanksgiving Day
        fixed(year, 12, 25),
        fixed(year + 1, 1, 1).filter(|d| d.year() == year),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub fn is_business_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
        && !federal_holidays(day.year()).contains(&day)
}

/// The moment `business_days` full business days after `start` have passed, counted in the
/// time zone `zone` (the tenant's): the end of the last of them there. The day of receipt does
/// not count.
pub fn due_after(start: DateTime<Utc>, business_days: u32, zone: Tz) -> DateTime<Utc> {
    let mut day = start.with_timezone(&zone).date_naive();
    let mut counted = 0;
    while counted < business_days {
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
        if is_business_day(day) {
            counted += 1;
        }
    }
    let end_of_day = day.and_hms_opt(23, 59, 59).unwrap_or_default();
    // 23:59:59 is never skipped by a clock change; if it repeats, the later one.
    match zone.from_local_datetime(&end_of_day).latest() {
        Some(local) => local.with_timezone(&Utc),
        None => DateTime::from_naive_utc_and_offset(end_of_day, Utc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn federal_holidays_of_2026_with_observed_days() {
        let h = federal_holidays(2026);
        for d in [
            date(2026, 1, 1),
            date(2026, 1, 19),
            date(2026, 2, 16),
            date(2026, 5, 25),
            date(2026, 6, 19),
            date(2026, 7, 3), // 4 July is a Saturday
            date(2026, 9, 7),
            date(2026, 10, 12),
            date(2026, 11, 11),
            date(2026, 11, 26),
            date(2026, 12, 25),
        ] {
            assert!(h.contains(&d), "{d} missing");
        }
        assert_eq!(h.len(), 11);
        // 1 January 2028 is a Saturday: observed on Friday 31 December 2027.
        assert!(federal_holidays(2027).contains(&date(2027, 12, 31)));
        // 25 December 2022 was a Sunday: observed Monday the 26th.
        assert!(federal_holidays(2022).contains(&date(2022, 12, 26)));
    }

    const NEW_YORK: Tz = chrono_tz::America::New_York;

    #[test]
    fn ten_business_days_skip_weekends_and_holidays() {
        // Received Wednesday 25 Nov 2026: Thanksgiving (26th), weekends skipped.
        let start = Utc
            .with_ymd_and_hms(2026, 11, 25, 15, 0, 0)
            .single()
            .unwrap();
        let due = due_after(start, 10, NEW_YORK);
        assert_eq!(
            due.with_timezone(&NEW_YORK).date_naive(),
            date(2026, 12, 10)
        );
        // Received on a Friday: ten business days end two weeks later on Friday.
        let friday = Utc.with_ymd_and_hms(2026, 3, 6, 14, 0, 0).single().unwrap();
        let due = due_after(friday, 10, NEW_YORK);
        assert_eq!(due.with_timezone(&NEW_YORK).date_naive(), date(2026, 3, 20));
        assert_eq!(
            due_after(friday, 0, NEW_YORK)
                .with_timezone(&NEW_YORK)
                .date_naive(),
            date(2026, 3, 6)
        );
    }

    #[test]
    fn business_days_are_counted_in_the_tenants_time_zone() {
        // Friday 6 March 2026, 02:00 UTC is still Thursday evening in New York: the count
        // starts from Thursday there, from Friday in UTC.
        let late = Utc.with_ymd_and_hms(2026, 3, 6, 2, 0, 0).single().unwrap();
        let in_new_york = due_after(late, 1, NEW_YORK);
        assert_eq!(
            in_new_york.with_timezone(&NEW_YORK).date_naive(),
            date(2026, 3, 6)
        );
        assert_eq!(
            in_new_york,
            Utc.with_ymd_and_hms(2026, 3, 7, 4, 59, 59)
                .single()
                .unwrap(),
            "end of Friday, EST"
        );
        let in_utc = due_after(late, 1, chrono_tz::UTC);
        assert_eq!(in_utc.date_naive(), date(2026, 3, 9), "Monday in UTC");
        // Across the spring change (8 March 2026), the end of day is 23:59:59 EDT.
        let due = due_after(late, 3, NEW_YORK);
        assert_eq!(
            due,
            Utc.with_ymd_and_hms(2026, 3, 11, 3, 59, 59)
                .single()
                .unwrap()
        );
    }
}
