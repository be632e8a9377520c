-- Refer & earn: which Rewardful affiliate a user became. Rewardful keeps the affiliate itself
-- (links, visitors, commissions); we keep only the id, so the page can show the right stats and
-- a second "join" does not create a second affiliate. No personal data is copied here.

CREATE TABLE affiliates (
    user_id                bigint CONSTRAINT affiliates_pkey PRIMARY KEY
                           CONSTRAINT affiliates_user_fkey REFERENCES users (id),
    rewardful_affiliate_id text NOT NULL CONSTRAINT affiliates_rewardful_key UNIQUE,
    created_at             timestamptz NOT NULL DEFAULT now()
);
