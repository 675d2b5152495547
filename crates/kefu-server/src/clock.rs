//! The server's clock: the real time, unless a test has set it. Rules that depend on the
//! hour (payment reminders' windows, outreach hours and caps) read it here, so black-box
//! tests can run them at 08:59 and 09:00 without waiting for the morning.

use chrono::{DateTime, Duration, Utc};
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct Clock {
    fixed: RwLock<Option<DateTime<Utc>>>,
}

impl Clock {
    /// The current instant (at the store's precision).
    pub fn now(&self) -> DateTime<Utc> {
        self.fixed
            .read()
            .map(|f| *f)
            .unwrap_or(None)
            .unwrap_or_else(kefu_store::now)
    }

    /// Stops the clock at `at` (`None`: real time again). For tests.
    pub fn set(&self, at: Option<DateTime<Utc>>) {
        if let Ok(mut f) = self.fixed.write() {
            *f = at.map(|t| chrono::SubsecRound::trunc_subsecs(t, 6));
        }
    }

    /// Moves a stopped clock on (a running one is left alone). For tests.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut f) = self.fixed.write()
            && let Some(t) = f.as_mut()
        {
            *t += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_stands_still_until_moved() {
        let c = Clock::default();
        let real = c.now();
        assert!((kefu_store::now() - real).num_seconds().abs() < 5);
        let at = DateTime::parse_from_rfc3339("2030-03-04T01:00:00Z").unwrap().to_utc();
        c.set(Some(at));
        assert_eq!(c.now(), at);
        c.advance(Duration::minutes(90));
        assert_eq!(c.now(), at + Duration::minutes(90));
        c.set(None);
        assert!(c.now() > at - Duration::days(3650) && c.now() != at + Duration::minutes(90));
    }
}
