-- What the AI tools produced: AgentWrite generations and PodScribe transcripts, owned by a user.
-- Ids are 128 random bits in hex (never guessable, never sequential), and the ledger rows that
-- charge or refund a run use that id as their reference.
--
-- A run starts `running` (credits already reserved in the same transaction as the insert) and
-- leaves that state exactly once, guarded by `WHERE status = 'running'`-style updates: to
-- `done` (the reservation is the charge) or to `failed` (a tool_refund in the same transaction).

CREATE TABLE generations (
    id           text CONSTRAINT generations_pkey PRIMARY KEY
                 CONSTRAINT generations_id_format CHECK (id ~ '^[0-9a-f]{32}$'),
    user_id      bigint NOT NULL CONSTRAINT generations_user_fkey REFERENCES users (id),
    status       text NOT NULL CONSTRAINT generations_status_known
                 CHECK (status IN ('running', 'done', 'failed')),
    -- The parsed ProductBrief (JSON), so a result can be regenerated from the same facts.
    brief        jsonb NOT NULL,
    product_name text NOT NULL,
    model        text NOT NULL,
    credits      integer NOT NULL CONSTRAINT generations_credits_positive CHECK (credits > 0),
    -- The model's answer as written, and what was parsed out of it.
    output       text,
    title        text,
    description  text,
    bullets      jsonb,
    -- A short failure code (busy, unavailable, filtered, too_long, interrupted, abandoned, …).
    error        text,
    usage        jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX generations_user_idx ON generations (user_id, created_at DESC);
-- The sweep that refunds runs a dead Worker left behind looks for these.
CREATE INDEX generations_running_idx ON generations (user_id, created_at) WHERE status = 'running';

CREATE TABLE transcripts (
    id            text CONSTRAINT transcripts_pkey PRIMARY KEY
                  CONSTRAINT transcripts_id_format CHECK (id ~ '^[0-9a-f]{32}$'),
    user_id       bigint NOT NULL CONSTRAINT transcripts_user_fkey REFERENCES users (id),
    -- transcribing → writing_notes → done, or failed; notes may fail on their own (notes_error).
    status        text NOT NULL CONSTRAINT transcripts_status_known
                  CHECK (status IN ('transcribing', 'writing_notes', 'done', 'failed')),
    file_name     text NOT NULL,
    media_type    text NOT NULL,
    size_bytes    bigint NOT NULL CONSTRAINT transcripts_size_positive CHECK (size_bytes > 0),
    -- The length read from the file before transcribing (what was reserved), then the length
    -- the transcription reported, when it did.
    duration_secs double precision,
    model         text NOT NULL,
    credits       integer NOT NULL CONSTRAINT transcripts_credits_positive CHECK (credits > 0),
    -- Credits given back when the audio turned out shorter than reserved for (0 otherwise).
    credits_refunded integer NOT NULL DEFAULT 0,
    language      text,
    text          text,
    -- [{"start": secs, "end": secs, "text": "…"}] when the model returns timestamps.
    segments      jsonb,
    -- {"summary": "…", "key_points": […], "chapters": [{"start": secs, "title": "…"}]}
    notes         jsonb,
    notes_error   text,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX transcripts_user_idx ON transcripts (user_id, created_at DESC);
CREATE INDEX transcripts_running_idx ON transcripts (user_id, created_at)
    WHERE status IN ('transcribing', 'writing_notes');
