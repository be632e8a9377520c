-- Episodes uploaded in parts (R2 multipart), up to 500 MB: each part is its own request, so no
-- request meets Cloudflare's body limit, a dropped part is sent again, and an upload resumes
-- from the parts recorded here. The id becomes the run's (transcripts.id) once completed.
CREATE TABLE episode_uploads (
    id            text CONSTRAINT episode_uploads_pkey PRIMARY KEY,
    user_id       bigint NOT NULL CONSTRAINT episode_uploads_user_fkey REFERENCES users (id),
    file_name     text NOT NULL,
    size_bytes    bigint NOT NULL CONSTRAINT episode_uploads_size_positive CHECK (size_bytes > 0),
    part_bytes    integer NOT NULL CONSTRAINT episode_uploads_part_positive CHECK (part_bytes > 0),
    -- R2's id of the multipart upload (to send parts to, complete or abort it).
    r2_upload_id  text NOT NULL,
    -- Parts received: part number (from 1) → R2's etag.
    parts         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- The parts were joined into one object in R2 (completing twice is refused there).
    assembled_at  timestamptz,
    -- The run was accepted (credits reserved, enqueued): the upload is over.
    completed_at  timestamptz
);
CREATE INDEX episode_uploads_user_idx ON episode_uploads (user_id);
CREATE INDEX episode_uploads_open_idx ON episode_uploads (created_at) WHERE completed_at IS NULL;
