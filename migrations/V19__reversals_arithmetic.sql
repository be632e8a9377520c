-- A refund's or dispute's settlement runs in the database, in the webhook's one transaction
-- (db::reversal_event): these are the Worker's own rules for it, as SQL. Each has a Rust twin
-- and the e2e suite holds them to the same table of cases
-- (billing_reversal_events::the_databases_share_owed_and_amounts_agree_with_the_workers).

-- services::billing::reversals::owed: the refunded share of what the purchase granted, rounded
-- up (no fraction of a credit left behind); all of it for a lost dispute or a full refund.
CREATE FUNCTION credits_owed(granted bigint, amount bigint, refunded bigint, lost boolean)
RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE
    WHEN granted <= 0 OR amount <= 0 THEN 0
    WHEN lost OR refunded >= amount THEN granted
    ELSE div(granted::numeric * greatest(refunded, 0) + amount - 1, amount)::bigint
END
$$;

-- domain::money::format_amount: 900 'usd' → '$9.00', 1900 'chf' → '19.00 CHF', thousands
-- separated by commas, Stripe's zero- and three-decimal currencies.
CREATE FUNCTION format_amount(minor bigint, currency text)
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE WHEN minor < 0 THEN '-' ELSE '' END
    || coalesce(symbol, '')
    || regexp_replace(div(a, unit)::text, '(\d)(?=(\d{3})+$)', '\1,', 'g')
    || CASE WHEN unit = 1 THEN '' ELSE '.' || lpad(mod(a, unit)::text, length(unit::text) - 1, '0') END
    || CASE WHEN symbol IS NULL THEN ' ' || upper(c) ELSE '' END
FROM (SELECT lower(currency) AS c, abs(minor::numeric) AS a) x,
LATERAL (SELECT
    CASE
        WHEN c IN ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd',
                   'vuv', 'xaf', 'xof', 'xpf') THEN 1::numeric
        WHEN c IN ('bhd', 'jod', 'kwd', 'omr', 'tnd') THEN 1000::numeric
        ELSE 100::numeric
    END AS unit,
    CASE c WHEN 'usd' THEN '$' WHEN 'eur' THEN '€' WHEN 'gbp' THEN '£' WHEN 'jpy' THEN '¥' WHEN 'inr' THEN '₹' END
        AS symbol) y
$$;
