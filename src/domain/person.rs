//! A person's name as typed into a form (first or last name for the referral programme).

use crate::error::AppError;

const MAX_CHARS: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Trimmed, 1–60 characters, no control characters; a 400 naming `field` otherwise.
    pub fn parse(field: &'static str, label: &str, raw: Option<&str>) -> Result<PersonName, AppError> {
        let s = raw.unwrap_or("").trim();
        if s.is_empty() {
            return Err(AppError::bad_request(field, format!("Please enter your {label}.")));
        }
        if s.chars().count() > MAX_CHARS || s.chars().any(char::is_control) {
            return Err(AppError::bad_request(
                field,
                format!("Your {label} must be at most {MAX_CHARS} ordinary characters."),
            ));
        }
        Ok(PersonName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PersonName::parse("first_name", "first name", Some("  Zoë ")).unwrap().as_str(), "Zoë");
        for bad in [None, Some(""), Some("   "), Some("a\nb")] {
            assert_eq!(
                PersonName::parse("first_name", "first name", bad).unwrap_err().field(),
                Some("first_name")
            );
        }
        let long = "x".repeat(61);
        assert!(PersonName::parse("last_name", "last name", Some(&long)).is_err());
    }
}
