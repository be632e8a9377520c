-- Sessions that sign-out can end (issue 20, part 3).
--
-- Each sign-in is a row; the session token (a signed JWT in the cookie) carries its `sid`, and a
-- token is honoured only while its row exists and is younger than the absolute lifetime (90 days
-- from sign-in, however often the token is renewed). Signing out deletes the row, so a copied
-- token stops working at once. `browser` and `place` are coarse labels for the account page's
-- list of sessions ("Firefox on Linux", "Berlin, DE"); they are deleted with the account.
CREATE TABLE sessions (
    id           bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT sessions_pkey PRIMARY KEY,
    sid          text NOT NULL CONSTRAINT sessions_sid_key UNIQUE,
    user_id      bigint NOT NULL CONSTRAINT sessions_user_fkey REFERENCES users (id),
    browser      text NOT NULL DEFAULT '',
    place        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user_idx ON sessions (user_id, last_seen_at DESC);
