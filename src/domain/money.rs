//! Showing Stripe amounts (integers in the currency's smallest unit) to people.

/// Currencies Stripe counts in whole units (no minor unit).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof",
    "xpf",
];
/// Currencies with three decimals in Stripe.
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

fn decimals(currency: &str) -> u32 {
    if ZERO_DECIMAL.contains(&currency) {
        0
    } else if THREE_DECIMAL.contains(&currency) {
        3
    } else {
        2
    }
}

/// `format_amount(900, "usd")` → `$9.00`; `format_amount(1900, "chf")` → `19.00 CHF`.
/// Its SQL twin (`format_amount`, migration V19) words a refund's settlement; the e2e suite
/// holds them to the same cases: change both.
pub fn format_amount(minor: i64, currency: &str) -> String {
    let currency = currency.to_ascii_lowercase();
    let places = decimals(&currency);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let number = if places == 0 {
        group(abs)
    } else {
        let unit = 10u64.pow(places);
        format!("{}.{:0width$}", group(abs / unit), abs % unit, width = places as usize)
    };
    let symbol = match currency.as_str() {
        "usd" => Some("$"),
        "eur" => Some("€"),
        "gbp" => Some("£"),
        "jpy" => Some("¥"),
        "inr" => Some("₹"),
        _ => None,
    };
    match symbol {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{number} {}", currency.to_ascii_uppercase()),
    }
}

/// An amount that names its currency even where the symbol is shared: `$9.00 USD`, `€19.05
/// EUR`, `19.00 CHF` (already named).
pub fn format_amount_with_code(minor: i64, currency: &str) -> String {
    let shown = format_amount(minor, currency);
    let code = currency.to_ascii_uppercase();
    if shown.ends_with(&code) {
        shown
    } else {
        format!("{shown} {code}")
    }
}

/// Thousands separated by commas.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `per month`, `every 3 months`, `per year`.
pub fn format_interval(interval: &str, count: u32) -> String {
    if count <= 1 {
        format!("per {interval}")
    } else {
        format!("every {count} {interval}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_use_the_currencys_symbol_and_decimals() {
        assert_eq!(format_amount(900, "usd"), "$9.00");
        assert_eq!(format_amount(1905, "EUR"), "€19.05");
        assert_eq!(format_amount(123456789, "gbp"), "£1,234,567.89");
        assert_eq!(format_amount(500, "jpy"), "¥500");
        assert_eq!(format_amount(1900, "chf"), "19.00 CHF");
        assert_eq!(format_amount(1500, "kwd"), "1.500 KWD");
        assert_eq!(format_amount(5, "usd"), "$0.05");
        assert_eq!(format_amount(-250, "usd"), "-$2.50");
        assert_eq!(format_amount_with_code(900, "usd"), "$9.00 USD");
        assert_eq!(format_amount_with_code(1900, "chf"), "19.00 CHF");
    }

    #[test]
    fn intervals_read_naturally() {
        assert_eq!(format_interval("month", 1), "per month");
        assert_eq!(format_interval("year", 1), "per year");
        assert_eq!(format_interval("month", 3), "every 3 months");
    }
}
