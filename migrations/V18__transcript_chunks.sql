-- How far a transcription in chunks has come (an episode larger than one request to OpenAI),
-- so its page and the upload's progress can say "2 of 5 parts transcribed". NULL for an episode
-- sent whole.
ALTER TABLE transcripts
    ADD COLUMN chunks_done  smallint,
    ADD COLUMN chunks_total smallint,
    ADD CONSTRAINT transcripts_chunks_within CHECK (chunks_done BETWEEN 0 AND chunks_total);
