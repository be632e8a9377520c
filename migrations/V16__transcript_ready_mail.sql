-- "Your transcript is ready": mailed when a PodScribe run finishes and its owner has not seen
-- the finished transcript by then (they left the page, or closed the tab during the upload).
-- The notice is recorded in the statement that marks the transcript done, due a short while
-- later; a sender drops it when the owner has seen the transcript in the meantime.
ALTER TABLE customer_notices DROP CONSTRAINT customer_notices_kind_known;
ALTER TABLE customer_notices ADD CONSTRAINT customer_notices_kind_known
    CHECK (kind IN ('payment_failed', 'plan_renewed', 'transcript_ready'));
-- Not sent before then (billing notices: at once).
ALTER TABLE customer_notices ADD COLUMN due_at timestamptz NOT NULL DEFAULT now();
-- When the owner was first shown the finished transcript (its page or a download; the upload
-- page ends on the transcript's page, with or without JavaScript).
ALTER TABLE transcripts ADD COLUMN seen_at timestamptz;
