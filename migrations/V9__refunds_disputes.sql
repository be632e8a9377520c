-- Money that comes back: refunds and disputes take back the credits of the purchase they
-- reverse; what paid for a purchase (payment intent, amount after discounts) is kept so a
-- charge can be traced to it and revenue counts what was really paid; and each billing period
-- remembers the highest allowance it granted, so an upgrade grants the difference once.

-- Two new reasons for credits taken back (reference: the charge and the total owed so far).
-- The list is the whole list: it keeps 'welcome' (V7, welcome credits, made in parallel) so
-- that whichever order the branches merge in, no reason is lost.
ALTER TABLE credit_ledger DROP CONSTRAINT credit_ledger_reason_known;
ALTER TABLE credit_ledger ADD CONSTRAINT credit_ledger_reason_known CHECK (reason IN (
    'purchase',                -- one-time credit pack (reference: checkout session)
    'subscription_allowance',  -- a period's allowance or an upgrade's difference (reference: invoice)
    'allowance_expiry',        -- unused allowance ending with its period
    'admin_grant',             -- granted by an operator (note says why)
    'agentwrite',              -- a product description (reference: generation)
    'podscribe',               -- a transcription (reference: transcript)
    'tool_refund',             -- a failed or unused tool run given back
    'adjustment',              -- any other correction (note says why)
    'welcome',                 -- a new account's welcome credits (V7; reference: user:<id>)
    'payment_refunded',        -- taken back: the purchase was refunded (reference: charge:owed)
    'dispute_lost'             -- taken back: a chargeback was lost (reference: charge:owed)
));

-- A pack checkout, once paid: the payment intent a refund or dispute names, and the amount
-- actually paid (Stripe's amount_total, after promotion codes).
ALTER TABLE checkout_sessions ADD COLUMN payment_intent text, ADD COLUMN amount_paid bigint;
CREATE UNIQUE INDEX checkout_sessions_payment_intent_key ON checkout_sessions (payment_intent);

-- The highest plan allowance granted for one billing period of a subscription (keyed by the
-- period's end, as the invoice line and the subscription give it).
CREATE TABLE allowance_periods (
    subscription_id text NOT NULL,
    period_end      timestamptz NOT NULL,
    credits         bigint NOT NULL CONSTRAINT allowance_periods_credits_non_negative CHECK (credits >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT allowance_periods_pkey PRIMARY KEY (subscription_id, period_end)
);
-- Periods granted before this migration: the newest allowance grant of each subscription is
-- the level of its current period (so an upgrade now grants the difference, not the whole).
INSERT INTO allowance_periods (subscription_id, period_end, credits)
SELECT s.id, s.current_period_end, g.delta
FROM subscriptions s
JOIN LATERAL (
    SELECT l.delta FROM credit_ledger l JOIN invoices i ON i.id = l.reference
    WHERE l.reason = 'subscription_allowance' AND i.subscription_id = s.id
    ORDER BY l.id DESC LIMIT 1
) g ON true
WHERE s.current_period_end IS NOT NULL;

-- A refunded or disputed charge and the purchase it paid for: how much came back, and the
-- credits taken back for it (or that could not be, because they were already spent).
CREATE TABLE charge_reversals (
    charge_id           text CONSTRAINT charge_reversals_pkey PRIMARY KEY,  -- ch_… / py_…
    user_id             bigint NOT NULL CONSTRAINT charge_reversals_user_fkey REFERENCES users (id),
    -- cs_… (a credit pack's checkout) or in_… (a subscription invoice): the ledger reference
    -- of the credits the purchase granted.
    purchase            text NOT NULL,
    amount              bigint NOT NULL CONSTRAINT charge_reversals_amount_positive CHECK (amount > 0),
    currency            text NOT NULL,
    -- Cumulative, as the newest event said it: an older event never lowers it.
    amount_refunded     bigint NOT NULL DEFAULT 0,
    -- A lost dispute: the whole charge went back to the customer.
    dispute_lost        boolean NOT NULL DEFAULT false,
    credits_taken       bigint NOT NULL DEFAULT 0,
    -- Owed but not taken: the balance was too small (never made negative). For the operator.
    credits_unrecovered bigint NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charge_reversals_user_idx ON charge_reversals (user_id);

-- Disputes (chargebacks and inquiries). While one is open, or after one was lost, the
-- account's paid features are on hold. Closed is final: a late "created" never reopens one.
CREATE TABLE disputes (
    id         text CONSTRAINT disputes_pkey PRIMARY KEY,  -- du_… / dp_…
    charge_id  text NOT NULL,
    user_id    bigint NOT NULL CONSTRAINT disputes_user_fkey REFERENCES users (id),
    amount     bigint NOT NULL,
    currency   text NOT NULL,
    status     text NOT NULL,
    closed     boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX disputes_user_idx ON disputes (user_id);
