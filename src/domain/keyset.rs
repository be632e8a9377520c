//! Where a page of a list starts, by key (keyset paging, not OFFSET): the newest rows, the rows
//! older than a key, or the rows newer than one. A link to "older than row 120" shows the same
//! rows however many new ones arrived since, so walking the pages meets every row once.

/// A page's start, parsed from the query string (`<name>_before=…` or `<name>_after=…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyset<K> {
    Newest,
    /// Rows older than the key, newest first.
    Before(K),
    /// Rows newer than the key (shown newest first too).
    After(K),
}

impl<K> Keyset<K> {
    /// Reads the `before` or the `after` parameter from the query's pairs with `parse`; both,
    /// or a key `parse` refuses, is an error naming the parameter (a 400).
    pub fn from_query(
        pairs: &[(String, String)],
        (before, after): (&'static str, &'static str),
        parse: impl Fn(&str) -> Option<K>,
    ) -> Result<Keyset<K>, &'static str> {
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        match (get(before), get(after)) {
            (None, None) => Ok(Keyset::Newest),
            (Some(v), None) => parse(v).map(Keyset::Before).ok_or(before),
            (None, Some(v)) => parse(v).map(Keyset::After).ok_or(after),
            (Some(_), Some(_)) => Err(before),
        }
    }

    pub fn before(&self) -> Option<&K> {
        match self {
            Keyset::Before(k) => Some(k),
            _ => None,
        }
    }

    pub fn after(&self) -> Option<&K> {
        match self {
            Keyset::After(k) => Some(k),
            _ => None,
        }
    }
}

/// The query parameters of the billing page's two lists.
pub const LEDGER_PARAMS: (&str, &str) = ("ledger_before", "ledger_after");
pub const PAYMENTS_PARAMS: (&str, &str) = ("payments_before", "payments_after");
/// The operator console's audit log.
pub const AUDIT_PARAMS: (&str, &str) = ("audit_before", "audit_after");

/// A ledger row's key: its id (ids only grow, so "older" is "smaller").
pub fn ledger_key(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// A payment's key: when it happened (Unix seconds) and its Stripe id, as `1733400000.in_123`.
pub fn payment_key(raw: &str) -> Option<(i64, String)> {
    let (secs, id) = raw.split_once('.')?;
    let secs = secs.parse::<i64>().ok().filter(|s| *s >= 0)?;
    let ok = !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| (secs, id.to_string()))
}

/// What a page of rows (read one more than `size`, in the order the keyset asks for) shows:
/// the rows newest first, and whether older and newer pages exist.
pub fn page_of<T>(mut rows: Vec<T>, size: usize, keyset: &Keyset<impl Sized>) -> (Vec<T>, bool, bool) {
    let more = rows.len() > size;
    rows.truncate(size);
    match keyset {
        Keyset::Newest => (rows, more, false),
        Keyset::Before(_) => (rows, more, true),
        Keyset::After(_) => {
            rows.reverse();
            (rows, true, more)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEDGER: (&str, &str) = ("ledger_before", "ledger_after");

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_page_starts_at_the_newest_or_at_a_key_in_either_direction() {
        assert_eq!(Keyset::from_query(&q(&[]), LEDGER, ledger_key), Ok(Keyset::Newest));
        assert_eq!(
            Keyset::from_query(&q(&[("ledger_before", "42")]), LEDGER, ledger_key),
            Ok(Keyset::Before(42))
        );
        assert_eq!(
            Keyset::from_query(&q(&[("ledger_after", "7")]), LEDGER, ledger_key),
            Ok(Keyset::After(7))
        );
        let both = q(&[("ledger_before", "1"), ("ledger_after", "2")]);
        assert_eq!(Keyset::from_query(&both, LEDGER, ledger_key), Err("ledger_before"));
        for bad in ["", "-1", "0", "x", "1.5"] {
            let r = Keyset::from_query(&q(&[("ledger_after", bad)]), LEDGER, ledger_key);
            assert_eq!(r, Err("ledger_after"), "{bad}");
        }
    }

    #[test]
    fn a_payment_key_is_a_time_and_a_stripe_id() {
        assert_eq!(payment_key("1733400000.in_1Ab"), Some((1733400000, "in_1Ab".to_string())));
        assert_eq!(payment_key("5.cs_test_a1"), Some((5, "cs_test_a1".to_string())));
        for bad in ["", "5", ".in_1", "5.", "x.in_1", "-5.in_1", "5.in 1", "5.in_1'--", "5.a.b"] {
            assert_eq!(payment_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_page_knows_its_neighbours_and_shows_newest_first() {
        let k: Keyset<i64> = Keyset::Newest;
        assert_eq!(page_of(vec![9, 8, 7], 2, &k), (vec![9, 8], true, false));
        assert_eq!(page_of(vec![9, 8], 2, &k), (vec![9, 8], false, false));
        assert_eq!(page_of(vec![6, 5], 2, &Keyset::Before(7)), (vec![6, 5], false, true));
        // Newer than 4, read oldest first: shown newest first.
        assert_eq!(page_of(vec![5, 6, 7], 2, &Keyset::After(4)), (vec![6, 5], true, true));
        assert_eq!(page_of(vec![5], 2, &Keyset::After(4)), (vec![5], true, false));
    }
}
