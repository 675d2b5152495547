//! Time of day and daily windows, as shops write them ("09:00"–"12:00"), and the shop's
//! time zone. Instants are always UTC (`DateTime<Utc>`); a shop's zone is applied only
//! to decide "is it business hours there" and to show times to people.

use crate::ValidationError;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A time of day with minute precision, written `HH:MM`; `24:00` is allowed as the end of a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, utoipa::ToSchema)]
#[schema(value_type = String, example = "09:00")]
pub struct ClockTime(u16);

impl ClockTime {
    pub const MIDNIGHT: ClockTime = ClockTime(0);
    pub const END_OF_DAY: ClockTime = ClockTime(24 * 60);

    pub fn hm(h: u16, m: u16) -> ClockTime {
        assert!(h * 60 + m <= 24 * 60, "time of day out of range");
        ClockTime(h * 60 + m)
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn of(t: NaiveTime) -> ClockTime {
        ClockTime((t.hour() * 60 + t.minute()) as u16)
    }
}

impl FromStr for ClockTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("“{s}” is not a time of day like 09:00");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(ClockTime(h * 60 + m))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A window within one day, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeWindow {
    pub start: ClockTime,
    pub end: ClockTime,
}

impl TimeWindow {
    pub fn new(start: ClockTime, end: ClockTime) -> TimeWindow {
        TimeWindow { start, end }
    }

    pub fn contains(&self, t: ClockTime) -> bool {
        self.start <= t && t < self.end
    }

    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        if self.start >= self.end {
            return Err(ValidationError::new(
                field,
                format!(
                    "starts at {} but ends at {}: the end must be later",
                    self.start, self.end
                ),
            ));
        }
        Ok(())
    }
}

/// An IANA time zone name such as `Asia/Shanghai`, known to be valid.
#[derive(Clone, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[schema(value_type = String, example = "Asia/Shanghai")]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn shanghai() -> TimeZone {
        TimeZone(chrono_tz::Asia::Shanghai)
    }

    /// Local wall-clock weekday (1 = Monday … 7 = Sunday) and time of day of an instant.
    pub fn local(&self, at: DateTime<Utc>) -> (u8, ClockTime) {
        let local = at.with_timezone(&self.0);
        (local.weekday().number_from_monday() as u8, ClockTime::of(local.time()))
    }

    /// The shop's calendar date of an instant (holidays are dates there, not in UTC).
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.0).date_naive()
    }

    /// The instant a wall-clock time of a local date happens. `24:00` is the next midnight; a
    /// time skipped by a daylight-saving jump is taken as the first instant after the gap, and
    /// one repeated by the jump back as its first occurrence.
    pub fn instant(&self, date: NaiveDate, t: ClockTime) -> DateTime<Utc> {
        use chrono::TimeZone as _;
        let midnight = date.and_time(NaiveTime::MIN);
        let mut local = midnight + chrono::Duration::minutes(i64::from(t.minutes()));
        loop {
            if let Some(at) = self.0.from_local_datetime(&local).earliest() {
                return at.with_timezone(&Utc);
            }
            local += chrono::Duration::minutes(1);
        }
    }

    /// An instant as people in the shop read it: `2026-11-23 14:05:09`.
    pub fn format(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0).format("%Y-%m-%d %H:%M:%S").to_string()
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl FromStr for TimeZone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<chrono_tz::Tz>()
            .map(TimeZone)
            .map_err(|_| format!("“{s}” is not a known time zone (use an IANA name such as Asia/Shanghai)"))
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn parses_and_prints_clock_times() {
        assert_eq!("09:00".parse::<ClockTime>().unwrap(), ClockTime::hm(9, 0));
        assert_eq!("24:00".parse::<ClockTime>().unwrap(), ClockTime::END_OF_DAY);
        assert_eq!(ClockTime::hm(14, 5).to_string(), "14:05");
        for bad in ["9:00", "25:00", "24:01", "12:60", "ab:cd", "0900", ""] {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn windows_are_half_open() {
        let w = TimeWindow::new(ClockTime::hm(9, 0), ClockTime::hm(12, 0));
        assert!(w.contains(ClockTime::hm(9, 0)));
        assert!(w.contains(ClockTime::hm(11, 59)));
        assert!(!w.contains(ClockTime::hm(12, 0)));
        assert!(
            TimeWindow::new(ClockTime::hm(12, 0), ClockTime::hm(9, 0))
                .validate("w")
                .is_err()
        );
    }

    #[test]
    fn daylight_saving_gaps_move_to_the_first_real_minute() {
        let berlin: TimeZone = "Europe/Berlin".parse().unwrap();
        // 2026-03-29 02:00–03:00 does not exist in Berlin; 03:00 CEST is 01:00 UTC.
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(
            berlin.instant(day, ClockTime::hm(2, 30)),
            Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap()
        );
    }

    #[test]
    fn shop_time_is_local() {
        let tz = TimeZone::shanghai();
        // 2026-11-23 01:30 UTC is Monday 09:30 in Shanghai.
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 1, 30, 0).unwrap();
        assert_eq!(tz.local(at), (1, ClockTime::hm(9, 30)));
        assert_eq!(tz.format(at), "2026-11-23 09:30:00");
        assert!("Mars/Olympus".parse::<TimeZone>().is_err());
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(tz.local_date(at), day);
        assert_eq!(tz.instant(day, ClockTime::hm(9, 30)), at);
        assert_eq!(
            tz.local_date(Utc.with_ymd_and_hms(2026, 11, 22, 16, 0, 0).unwrap()),
            day,
            "00:00 local"
        );
        assert_eq!(
            tz.instant(day, ClockTime::END_OF_DAY),
            Utc.with_ymd_and_hms(2026, 11, 23, 16, 0, 0).unwrap()
        );
        assert_eq!("Europe/Berlin".parse::<TimeZone>().unwrap().name(), "Europe/Berlin");
    }
}
