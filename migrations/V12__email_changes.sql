-- Changing an account's email address (issue 20, part 8): a pending change waits for the link
-- mailed to the new address.
--
-- Like sign-in links, only the SHA-256 of the link's token is stored; a link works once
-- (`used_at`) and expires (an hour). A user has at most one pending change: a new request
-- replaces the earlier ones. `new_email` is personal data: it is deleted with the account,
-- listed in the export, and rows a day past their expiry are cleared by the next request.
CREATE TABLE email_changes (
    token_hash bytea CONSTRAINT email_changes_pkey PRIMARY KEY,
    user_id    bigint NOT NULL CONSTRAINT email_changes_user_fkey REFERENCES users (id),
    new_email  text NOT NULL CONSTRAINT email_changes_new_email_lowercase CHECK (new_email = lower(new_email)),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_changes_user_idx ON email_changes (user_id);
CREATE INDEX email_changes_expires_idx ON email_changes (expires_at);
