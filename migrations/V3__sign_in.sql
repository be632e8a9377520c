-- Sign-in by email link and Google: where a link returns to, fast look-ups by address (abuse
-- limits, account deletion), and a lookup of a user's linked accounts.

-- The same-site path the visitor wanted before signing in (validated by the NextPath type).
ALTER TABLE email_sign_in_tokens ADD COLUMN next_path text;

-- Pending links per address are counted before another one is sent, and removed when the
-- account is deleted.
CREATE INDEX email_sign_in_tokens_email_idx ON email_sign_in_tokens (email, expires_at);
