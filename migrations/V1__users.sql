-- Accounts and what signing in needs: users, email sign-in tokens, linked OAuth accounts.

CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT users_pkey PRIMARY KEY,
    -- Stored lower-cased by the application (the EmailAddress type); unique while present.
    email           text CONSTRAINT users_email_lowercase CHECK (email = lower(email)),
    email_verified_at timestamptz,
    name            text,
    -- Bumped by "sign out everywhere" and account deletion: older session tokens stop working.
    session_version integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Set when the account is deleted; personal data is cleared, accounting rows keep the id.
    deleted_at      timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (email) WHERE email IS NOT NULL;

-- Magic-link tokens: only a SHA-256 hash of the token is stored; single use; expiring.
CREATE TABLE email_sign_in_tokens (
    token_hash  bytea CONSTRAINT email_sign_in_tokens_pkey PRIMARY KEY,
    email       text NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_sign_in_tokens_expires_idx ON email_sign_in_tokens (expires_at);

-- Sign-in providers linked to a user (Google): one row per provider account.
CREATE TABLE oauth_accounts (
    provider            text NOT NULL,
    provider_account_id text NOT NULL,
    user_id             bigint NOT NULL CONSTRAINT oauth_accounts_user_fkey REFERENCES users (id) ON DELETE CASCADE,
    email               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT oauth_accounts_pkey PRIMARY KEY (provider, provider_account_id)
);
CREATE INDEX oauth_accounts_user_idx ON oauth_accounts (user_id);
