-- Mail a paying customer expects about their billing (a failed payment, a renewal), written in
-- the transaction that handles the Stripe event and sent after the webhook has answered: one
-- notice per invoice and kind however often Stripe delivers (or an operator replays) the event,
-- and a mail server that is down never delays or fails the webhook. The address is not copied
-- here: it is read from `users` when the notice is sent (an erased account gets none).
CREATE TABLE customer_notices (
    id           bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT customer_notices_pkey PRIMARY KEY,
    user_id      bigint NOT NULL CONSTRAINT customer_notices_user_fkey REFERENCES users (id),
    kind         text NOT NULL CONSTRAINT customer_notices_kind_known
                 CHECK (kind IN ('payment_failed', 'plan_renewed')),
    -- What it is about (the Stripe invoice id).
    about        text NOT NULL,
    -- What the mail says: the plan's name, the amount, the allowance granted and the balance
    -- after it, and when the period ends (unix seconds).
    plan         text NOT NULL,
    amount       bigint NOT NULL DEFAULT 0,
    currency     text NOT NULL DEFAULT '',
    credits      bigint,
    balance      bigint,
    period_end   bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- A sender holds the notice until then (longer than one SMTP conversation may take), so two
    -- senders never mail it twice; a sender that died lets it go again.
    claimed_until timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    sent_at      timestamptz,
    -- Set when it will not be sent (the account was deleted, too many attempts).
    dropped_at   timestamptz,
    last_error   text,
    CONSTRAINT customer_notices_once UNIQUE (kind, about)
);
CREATE INDEX customer_notices_unsent_idx ON customer_notices (created_at)
    WHERE sent_at IS NULL AND dropped_at IS NULL;
