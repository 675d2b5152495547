//! Limits on what anyone on the internet may do without logging in: the buyer's widget asks
//! the bot and leaves messages, and each question and message is written to the database.
//! Counted per client address on each node (governor's keyed GCRA), generous enough for
//! buyers behind one carrier NAT, tight enough that a script cannot flood a shop's queue.

use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

pub struct WidgetLimits {
    questions: DefaultKeyedRateLimiter<IpAddr>,
    messages: DefaultKeyedRateLimiter<IpAddr>,
    sockets: Arc<Sockets>,
}

/// Chat sockets open per client address on this node.
#[derive(Default)]
struct Sockets {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open socket's place in its address's count; given back when dropped.
pub struct SocketSlot {
    sockets: Arc<Sockets>,
    ip: IpAddr,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.sockets.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
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
            sockets: Arc::default(),
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

    /// A place for one more chat socket from `ip`, at most `max` at once (0: no limit).
    pub fn socket(&self, ip: IpAddr, max: usize) -> Result<SocketSlot, ApiError> {
        let mut open = self.sockets.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_default();
        if max > 0 && *n >= max {
            return Err(ApiError::TooManyRequests {
                retry_after_secs: 10,
                message: format!("{max} chat connections are open from this address already; close one first"),
            });
        }
        *n += 1;
        Ok(SocketSlot {
            sockets: self.sockets.clone(),
            ip,
        })
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

    #[test]
    fn sockets_are_counted_per_address_and_given_back() {
        let limits = WidgetLimits::default();
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        let first = limits.socket(a, 2).unwrap();
        let _second = limits.socket(a, 2).unwrap();
        assert!(matches!(limits.socket(a, 2), Err(ApiError::TooManyRequests { .. })));
        let _other = limits.socket(b, 2).unwrap();
        drop(first);
        let _third = limits.socket(a, 2).unwrap();
        let unlimited: Vec<_> = (0..5).map(|_| limits.socket(b, 0).unwrap()).collect();
        assert_eq!(unlimited.len(), 5);
    }
}
