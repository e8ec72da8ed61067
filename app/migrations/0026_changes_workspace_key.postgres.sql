-- The change log's foreign key to workspaces goes (docs/changes.md, "Writing the log"):
-- its key to segments already removes a workspace's rows (segments cascade from their
-- workspace), and checking a second key on every row written cost the detector 2.3 us
-- a change (90 ms of a 40,000-change round at 1M people). SQLite keeps its table as it is:
-- dropping a key there means rebuilding the table, for nothing a single-writer database
-- notices.
ALTER TABLE segment_changes DROP CONSTRAINT segment_changes_workspace_id_fkey;
