-- Ownership: an action, a commitment and a chantier's priority link carry the programme of
-- what they hang from, filled here on every write path (the API, the partner sync's bulk
-- upsert, the demo, psql); composite foreign keys (app/models) keep the copies equal to the
-- source and refuse a priority of another programme.

CREATE FUNCTION public.relance_programme_from_chantier() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.programme_id := coalesce(
    (SELECT c.programme_id FROM chantiers c WHERE c.id = NEW.chantier_id), NEW.programme_id);
  RETURN NEW;
END
$$;

CREATE FUNCTION public.relance_programme_from_action() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.programme_id := coalesce(
    (SELECT a.programme_id FROM actions a WHERE a.id = NEW.action_id), NEW.programme_id);
  RETURN NEW;
END
$$;

CREATE TRIGGER actions_programme BEFORE INSERT OR UPDATE OF chantier_id ON public.actions
  FOR EACH ROW EXECUTE FUNCTION relance_programme_from_chantier();
CREATE TRIGGER chantier_priorities_programme BEFORE INSERT OR UPDATE OF chantier_id
  ON public.chantier_priorities
  FOR EACH ROW EXECUTE FUNCTION relance_programme_from_chantier();
CREATE TRIGGER commitments_programme BEFORE INSERT OR UPDATE OF action_id ON public.commitments
  FOR EACH ROW EXECUTE FUNCTION relance_programme_from_action();
