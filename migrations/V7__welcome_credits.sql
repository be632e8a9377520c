-- Welcome credits: a small grant for a new account, once per person.
--
-- The grant is a ledger row with its own reason ('welcome', reference: the user id), written in
-- the transaction that creates the account. Who has had one is kept apart from the users table
-- because it must outlive account deletion: otherwise deleting and signing up again would grant
-- again. It holds no address, only a keyed hash (HMAC-SHA256 with the session secret) of the
-- address as one person is recognised by (lower-cased, "+tag" dropped, dots of Gmail addresses
-- dropped): it can confirm an address someone already knows, but cannot be read back or
-- guessed through without the secret.

ALTER TABLE credit_ledger DROP CONSTRAINT credit_ledger_reason_known;
ALTER TABLE credit_ledger ADD CONSTRAINT credit_ledger_reason_known CHECK (reason IN (
    'purchase',                -- one-time credit pack (reference: checkout session)
    'subscription_allowance',  -- monthly allowance (reference: invoice)
    'allowance_expiry',        -- unused allowance ending with its period
    'admin_grant',             -- granted by an operator (note says why)
    'agentwrite',              -- a product description (reference: generation)
    'podscribe',               -- a transcription (reference: transcript)
    'tool_refund',             -- a failed or unused tool run given back
    'adjustment',              -- any other correction (note says why)
    'welcome'                  -- a new account's welcome credits (reference: user:<id>)
));

-- One row per person who received welcome credits. Never deleted with an account.
CREATE TABLE welcome_claims (
    identity_hash bytea CONSTRAINT welcome_claims_pkey PRIMARY KEY
                  CONSTRAINT welcome_claims_hash_length CHECK (length(identity_hash) = 32),
    claimed_at    timestamptz NOT NULL DEFAULT now()
);

-- New accounts that got no welcome credits, and why (for the operator console): the person
-- had them before, or their client made too many new accounts today. No user id, no address.
CREATE TABLE welcome_refusals (
    id         bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT welcome_refusals_pkey PRIMARY KEY,
    why        text NOT NULL CONSTRAINT welcome_refusals_why_known
               CHECK (why IN ('claimed_before', 'client_limit')),
    refused_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX welcome_refusals_refused_idx ON welcome_refusals (refused_at);
