-- The operator console can act on accounts: suspend and restore them, and every operator action
-- (grants, deductions, suspensions, restores, webhook replays) is written to an audit log in the
-- same transaction as its effect.

-- A suspended account can sign in and read; running tools and buying are refused (the same
-- check as a dispute's hold). NULL: not suspended.
ALTER TABLE users ADD COLUMN suspended_at timestamptz;
ALTER TABLE users ADD COLUMN suspended_reason text;

CREATE TABLE admin_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT admin_audit_pkey PRIMARY KEY,
    -- Who: the operator's account, and the address they had then (kept if it changes).
    admin_id    bigint NOT NULL CONSTRAINT admin_audit_admin_fkey REFERENCES users (id),
    admin_email text NOT NULL,
    action      text NOT NULL CONSTRAINT admin_audit_action_known
                CHECK (action IN ('grant', 'deduct', 'suspend', 'restore', 'replay')),
    -- The account acted on (none for a replayed event that names no account).
    user_id     bigint CONSTRAINT admin_audit_user_fkey REFERENCES users (id),
    -- What: "50 credits: goodwill", "evt_… applied", the suspension's reason.
    detail      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_audit_created_idx ON admin_audit (created_at DESC, id DESC);
CREATE INDEX admin_audit_user_idx ON admin_audit (user_id, id DESC);
