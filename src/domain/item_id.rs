//! The id of something a user made (a generation, a transcript): 128 random bits as 32
//! lower-case hex digits. Never sequential, so ids cannot be guessed or enumerated.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemId(String);

impl ItemId {
    pub fn from_bytes(bytes: [u8; 16]) -> ItemId {
        ItemId(hex::encode(bytes))
    }

    /// An id from a URL segment; anything else is `None` (and answers 404).
    pub fn parse(s: &str) -> Option<ItemId> {
        (s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| ItemId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_lower_case_hex_digits() {
        let id = ItemId::from_bytes([0xAB; 16]);
        assert_eq!(id.as_str(), "abababababababababababababababab");
        assert_eq!(ItemId::parse(id.as_str()), Some(id));
        assert_eq!(ItemId::parse("ABABABABABABABABABABABABABABABAB"), None);
        assert_eq!(ItemId::parse("12"), None);
        assert_eq!(ItemId::parse("../../../../etc/passwd0000000000"), None);
    }
}
