//! A number of credits: what a run costs, what a purchase, an allowance or an operator grants,
//! and a balance. Whole credits only; db/ alone turns them into columns (`int8`, and `int4`
//! where a run records what it reserved).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[repr(transparent)]
pub struct Credits(i64);

impl Credits {
    pub const ZERO: Credits = Credits(0);

    pub const fn new(n: i64) -> Credits {
        Credits(n)
    }

    /// The number, for db/ and for the error that names a shortfall.
    pub const fn get(self) -> i64 {
        self.0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<i32> for Credits {
    fn from(n: i32) -> Credits {
        Credits(i64::from(n))
    }
}

impl Add for Credits {
    type Output = Credits;
    fn add(self, other: Credits) -> Credits {
        Credits(self.0 + other.0)
    }
}

impl Sub for Credits {
    type Output = Credits;
    fn sub(self, other: Credits) -> Credits {
        Credits(self.0 - other.0)
    }
}

impl AddAssign for Credits {
    fn add_assign(&mut self, other: Credits) {
        self.0 += other.0;
    }
}

impl SubAssign for Credits {
    fn sub_assign(&mut self, other: Credits) {
        self.0 -= other.0;
    }
}

/// A ledger entry's delta for a spend.
impl Neg for Credits {
    type Output = Credits;
    fn neg(self) -> Credits {
        Credits(-self.0)
    }
}

impl Sum for Credits {
    fn sum<I: Iterator<Item = Credits>>(iter: I) -> Credits {
        Credits(iter.map(|c| c.0).sum())
    }
}

/// Templates compare a balance with a literal (`balance > 0`, `balance != 1`).
impl PartialEq<i64> for Credits {
    fn eq(&self, other: &i64) -> bool {
        self.0 == *other
    }
}

impl PartialOrd<i64> for Credits {
    fn partial_cmp(&self, other: &i64) -> Option<std::cmp::Ordering> {
        self.0.partial_cmp(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_add_up_and_compare_with_plain_numbers() {
        let balance = Credits::new(5) + Credits::new(3) - Credits::from(2);
        assert_eq!(balance, Credits::new(6));
        assert!(balance > 0 && balance != 1);
        assert_eq!(-balance, Credits::new(-6));
        assert_eq!([Credits::new(1), Credits::new(2)].into_iter().sum::<Credits>(), Credits::new(3));
        assert_eq!(balance.to_string(), "6");
        assert_eq!(serde_json::to_string(&balance).unwrap(), "6");
    }
}
