-- Credits: a balance per user that can never go negative, and a ledger saying why every change
-- happened. The ledger is append-only; (reason, reference) is unique so a grant for the same
-- thing (a Stripe checkout session, an invoice, a generation's refund) applies once.
-- Running balances are derived from the ledger when shown; the balance row is the fast path
-- and must always equal the sum of the user's ledger deltas.

CREATE TABLE credit_balances (
    user_id    bigint CONSTRAINT credit_balances_pkey PRIMARY KEY
               CONSTRAINT credit_balances_user_fkey REFERENCES users (id),
    balance    bigint NOT NULL DEFAULT 0 CONSTRAINT credit_balances_non_negative CHECK (balance >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credit_ledger (
    id         bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT credit_ledger_pkey PRIMARY KEY,
    user_id    bigint NOT NULL CONSTRAINT credit_ledger_user_fkey REFERENCES users (id),
    delta      bigint NOT NULL CONSTRAINT credit_ledger_delta_nonzero CHECK (delta <> 0),
    reason     text NOT NULL CONSTRAINT credit_ledger_reason_known CHECK (reason IN (
                   'purchase',                -- one-time credit pack (reference: checkout session)
                   'subscription_allowance',  -- monthly allowance (reference: invoice)
                   'allowance_expiry',        -- unused allowance ending with its period
                   'admin_grant',             -- granted by an operator (note says why)
                   'agentwrite',              -- a product description (reference: generation)
                   'podscribe',               -- a transcription (reference: transcript)
                   'tool_refund',             -- a failed or unused tool run given back
                   'adjustment'               -- any other correction (note says why)
               )),
    reference  text NOT NULL,
    note       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT credit_ledger_reason_reference_key UNIQUE (reason, reference)
);
CREATE INDEX credit_ledger_user_idx ON credit_ledger (user_id, id DESC);
