//! Who a limit is counted for. A subject's key names one Durable Object instance
//! (`id_from_name`), so each user, IP or address has its own limiter and load spreads out.

use crate::domain::UserId;
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject(String);

impl Subject {
    /// The request's subject: the signed-in user when there is one, otherwise the client IP.
    pub fn of_request(user_id: Option<UserId>, client_ip: Option<&str>) -> Subject {
        match user_id {
            Some(id) => Subject::user(id),
            None => Subject::ip(client_ip),
        }
    }

    pub fn user(id: UserId) -> Subject {
        Subject(format!("user:{id}"))
    }

    /// An IPv4 address as is; an IPv6 address by its /64, which is what one customer line gets
    /// (per-address limits would let anyone rotate through 2^64 addresses). Absent or
    /// unparseable (never on Cloudflare, which always sets `CF-Connecting-IP`): one shared key.
    pub fn ip(raw: Option<&str>) -> Subject {
        let raw = raw.map(str::trim);
        match raw.and_then(|r| r.parse::<IpAddr>().ok()) {
            // The parser takes only the canonical dotted quad (no leading zeros), so the text is
            // already what Display would write; page views skip the formatter.
            Some(IpAddr::V4(_)) => Subject(["ip:", raw.unwrap_or_default()].concat()),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Subject(format!("ip:{v4}")),
                None => {
                    let s = v6.segments();
                    Subject(format!("ip6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
                }
            },
            None => Subject("ip:unknown".into()),
        }
    }

    /// An email address (e.g. sign-in emails per address), hashed so that no address appears in
    /// the limiter's names or in logs. Case and surrounding spaces do not make a new subject.
    pub fn email(address: &str) -> Subject {
        let digest = Sha256::digest(address.trim().to_lowercase().as_bytes());
        Subject(format!("email:{}", &hex::encode(digest)[..32]))
    }

    /// One user's one Checkout Session (the success page's questions to Stripe about it).
    /// Session ids are checked to be `cs_` and ASCII letters, digits and `_` before this.
    pub fn checkout(user_id: UserId, session_id: &str) -> Subject {
        Subject(format!("checkout:{user_id}:{session_id}"))
    }

    /// The Durable Object name for this subject.
    pub fn key(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_in_user_is_counted_as_the_user_wherever_they_come_from() {
        assert_eq!(Subject::of_request(Some(UserId::new(42)), Some("203.0.113.9")).key(), "user:42");
        assert_eq!(Subject::of_request(None, Some("203.0.113.9")).key(), "ip:203.0.113.9");
    }

    #[test]
    fn an_ipv4_key_is_the_canonical_address() {
        for raw in ["203.0.113.9", " 198.51.100.7\t", "0.0.0.0", "255.255.255.255"] {
            let v4: std::net::Ipv4Addr = raw.trim().parse().unwrap();
            assert_eq!(Subject::ip(Some(raw)).key(), format!("ip:{v4}"));
        }
        // Leading zeros (octal in some parsers) are not an address: one shared subject.
        assert_eq!(Subject::ip(Some("010.0.0.1")).key(), "ip:unknown");
        assert_eq!(Subject::ip(Some("1.2.3")).key(), "ip:unknown");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_bit_prefix() {
        let a = Subject::ip(Some("2001:db8:abcd:12:1::1"));
        let b = Subject::ip(Some("2001:db8:abcd:12:ffff::9"));
        let c = Subject::ip(Some("2001:db8:abcd:13::1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.key(), "ip6:2001:db8:abcd:12::/64");
        assert_eq!(Subject::ip(Some("::ffff:198.51.100.7")).key(), "ip:198.51.100.7");
    }

    #[test]
    fn a_missing_or_forged_ip_header_falls_into_one_shared_bucket() {
        assert_eq!(Subject::ip(None).key(), "ip:unknown");
        assert_eq!(Subject::ip(Some("1.2.3.4, 5.6.7.8")).key(), "ip:unknown");
        assert_eq!(Subject::ip(Some("user:1")).key(), "ip:unknown");
    }

    #[test]
    fn email_subjects_are_hashed_and_case_blind() {
        let s = Subject::email(" Ada@Example.com ");
        assert_eq!(s, Subject::email("ada@example.com"));
        assert!(!s.key().contains("example"));
        assert_eq!(s.key().len(), "email:".len() + 32);
    }
}
