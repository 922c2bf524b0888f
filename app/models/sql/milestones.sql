-- Milestones join the change log (app/models/sql/change_log.sql): every create, update and
-- delete of a milestone becomes a row of `changes`, its feed item and history shaped by the
-- milestone's own read model. No money in a milestone: its stored row is its data as it is.
CREATE TRIGGER milestones_capture_insert AFTER INSERT ON public.milestones
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER milestones_capture_update AFTER UPDATE ON public.milestones
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER milestones_capture_delete AFTER DELETE ON public.milestones
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
