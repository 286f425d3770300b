-- The language a participant's pages are written in, when the visit says one (the API's
-- `language`); NULL: her patient record's language for the patient's seat, else what her
-- browser asks for (server/views/language.py `participant_language`).
ALTER TABLE participants ADD COLUMN language TEXT;
