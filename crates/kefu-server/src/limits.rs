//! Limits on what anyone on the internet may do without logging in: the buyer's widget asks
//! the bot and leaves messages, and each question and message is written to the database.
//! Counted per client address on each node (governor's keyed GCRA), generous enough for
//! buyers behind one carrier NAT, tight enough that a script cannot flood a shop's queue.

use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

pub struct WidgetLimits {
    questions: DefaultKeyedRateLimiter<IpAddr>,
    messages: DefaultKeyedRateLimiter<IpAddr>,
}

fn per_minute(n: u32, burst: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

impl Default for WidgetLimits {
    fn default() -> Self {
        WidgetLimits {
            // A buyer types a question every few seconds at most.
            questions: RateLimiter::keyed(per_minute(60, 30)),
            // Leaving a message is rare: a handful per address and minute.
            messages: RateLimiter::keyed(per_minute(5, 5)),
        }
    }
}

impl WidgetLimits {
    pub fn question(&self, ip: IpAddr) -> Result<(), ApiError> {
        check(&self.questions, ip, "questions")
    }

    pub fn message(&self, ip: IpAddr) -> Result<(), ApiError> {
        check(&self.messages, ip, "messages")
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<IpAddr>, ip: IpAddr, what: &str) -> Result<(), ApiError> {
    limiter.check_key(&ip).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let secs = wait.as_secs() as i64 + 1;
        ApiError::TooManyRequests {
            retry_after_secs: secs,
            message: format!("too many {what} from this address; try again in {secs} s"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_limited_per_address() {
        let limits = WidgetLimits::default();
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        for _ in 0..5 {
            limits.message(a).unwrap();
        }
        assert!(matches!(limits.message(a), Err(ApiError::TooManyRequests { .. })));
        limits.message(b).unwrap();
        limits.question(a).unwrap();
    }
}
