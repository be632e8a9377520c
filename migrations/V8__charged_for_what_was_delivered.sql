-- Charging for what was delivered (issue 16).
--
-- An AgentWrite answer that stopped short (the model's length limit, our cap on what is relayed
-- for the chosen length, or the content filter) after its text reached the user is kept, shown
-- and charged like any description, and marked here so its owner is told why it is short.
ALTER TABLE generations ADD COLUMN cut_short text
    CONSTRAINT generations_cut_short_known CHECK (cut_short IN ('length', 'content_filter'));

-- A PodScribe transcription that turned out longer than the credits reserved for it is charged
-- the extra minutes; when the balance cannot pay them all, only the minutes paid for are kept,
-- and this says where the transcript was cut (NULL: it is whole).
ALTER TABLE transcripts ADD COLUMN cut_at_secs double precision
    CONSTRAINT transcripts_cut_at_positive CHECK (cut_at_secs > 0);
