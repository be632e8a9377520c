-- Billing with Stripe: who is which Stripe customer, the Checkout Sessions we started, the
-- subscriptions and invoices Stripe told us about, and every webhook event with its outcome.
--
-- No table copies an email or a name: rows reference users.id, so deleting an account (which
-- clears the user's personal data and keeps the row) leaves payment records that no longer
-- identify the person. Webhook payloads are not stored for the same reason (they carry emails).

CREATE TABLE billing_customers (
    user_id            bigint CONSTRAINT billing_customers_pkey PRIMARY KEY
                       CONSTRAINT billing_customers_user_fkey REFERENCES users (id),
    stripe_customer_id text NOT NULL CONSTRAINT billing_customers_stripe_key UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- One row per Checkout Session we created, written before the user is sent to Stripe: the
-- credits it is worth are fixed here, from the price as it was shown.
CREATE TABLE checkout_sessions (
    id          text CONSTRAINT checkout_sessions_pkey PRIMARY KEY,  -- cs_…
    user_id     bigint NOT NULL CONSTRAINT checkout_sessions_user_fkey REFERENCES users (id),
    mode        text NOT NULL CONSTRAINT checkout_sessions_mode_known CHECK (mode IN ('payment', 'subscription')),
    price_id    text NOT NULL,
    item_name   text NOT NULL,
    -- A credit pack's credits, or a plan's allowance per period.
    credits     bigint NOT NULL CONSTRAINT checkout_sessions_credits_positive CHECK (credits > 0),
    amount      bigint NOT NULL,
    currency    text NOT NULL,
    -- open → awaiting_payment (delayed methods) → paid | payment_failed. Paid never goes back.
    status      text NOT NULL DEFAULT 'open' CONSTRAINT checkout_sessions_status_known
                CHECK (status IN ('open', 'awaiting_payment', 'paid', 'payment_failed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    paid_at     timestamptz,
    failed_at   timestamptz
);
CREATE INDEX checkout_sessions_user_idx ON checkout_sessions (user_id, created_at DESC);

-- Subscriptions as last read from Stripe (never from an event's possibly stale copy).
CREATE TABLE subscriptions (
    id                   text CONSTRAINT subscriptions_pkey PRIMARY KEY,  -- sub_…
    user_id              bigint NOT NULL CONSTRAINT subscriptions_user_fkey REFERENCES users (id),
    stripe_customer_id   text NOT NULL,
    price_id             text NOT NULL,
    plan                 text NOT NULL CONSTRAINT subscriptions_plan_known CHECK (plan IN ('starter', 'pro', 'other')),
    status               text NOT NULL CONSTRAINT subscriptions_status_known CHECK (status IN (
                             'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due',
                             'canceled', 'unpaid', 'paused')),
    cancel_at_period_end boolean NOT NULL DEFAULT false,
    current_period_start timestamptz,
    current_period_end   timestamptz,
    cancel_at            timestamptz,
    canceled_at          timestamptz,
    ended_at             timestamptz,
    stripe_created_at    timestamptz NOT NULL,
    -- When this state was read from Stripe (ms): an older read never overwrites a newer one.
    synced_at_ms         bigint NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id, stripe_created_at DESC);

-- Subscription invoices: payment records, and "past due" until a failed one is paid.
CREATE TABLE invoices (
    id              text CONSTRAINT invoices_pkey PRIMARY KEY,  -- in_…
    user_id         bigint NOT NULL CONSTRAINT invoices_user_fkey REFERENCES users (id),
    subscription_id text,
    billing_reason  text,
    -- payment_failed → paid is possible (a retry succeeds); paid is final.
    status          text NOT NULL CONSTRAINT invoices_status_known CHECK (status IN ('paid', 'payment_failed')),
    amount_due      bigint NOT NULL DEFAULT 0,
    amount_paid     bigint NOT NULL DEFAULT 0,
    currency        text NOT NULL DEFAULT '',
    period_start    timestamptz,
    period_end      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoices_user_idx ON invoices (user_id, created_at DESC);

-- Every verified webhook event, recorded in the same transaction as its effect (so the id
-- doubles as the exactly-once guard). A failed attempt is recorded as 'failed' after its
-- transaction rolled back, and the retry Stripe sends takes the row over.
CREATE TABLE stripe_events (
    id                text CONSTRAINT stripe_events_pkey PRIMARY KEY,  -- evt_…
    type              text NOT NULL,
    object_id         text,
    user_id           bigint CONSTRAINT stripe_events_user_fkey REFERENCES users (id),
    stripe_created_at timestamptz NOT NULL,
    livemode          boolean NOT NULL,
    outcome           text NOT NULL CONSTRAINT stripe_events_outcome_known
                      CHECK (outcome IN ('processing', 'applied', 'ignored', 'failed')),
    detail            text,
    attempts          integer NOT NULL DEFAULT 1,
    received_at       timestamptz NOT NULL DEFAULT now(),
    processed_at      timestamptz
);
CREATE INDEX stripe_events_received_idx ON stripe_events (received_at DESC);
