-- Periods: each programme's budget years (programme_years) follow its start_year..end_year on
-- every write path; the composite foreign keys (programme_id, year) of commitments and chantier
-- targets then hold every year inside its own programme's period. Narrowing a period while a
-- commitment or a target uses a year it drops fails on those foreign keys (the API checks
-- first and answers 409 naming how many).

CREATE FUNCTION public.relance_programme_years() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM programme_years
  WHERE programme_id = NEW.id AND year NOT BETWEEN NEW.start_year AND NEW.end_year;
  INSERT INTO programme_years (programme_id, year)
  SELECT NEW.id, y FROM generate_series(NEW.start_year, NEW.end_year) AS y
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;

CREATE TRIGGER programmes_years AFTER INSERT OR UPDATE OF start_year, end_year
  ON public.programmes
  FOR EACH ROW EXECUTE FUNCTION relance_programme_years();

-- A chantier's targets carry its programme, as its priority links do.
CREATE TRIGGER chantier_targets_programme BEFORE INSERT OR UPDATE OF chantier_id
  ON public.chantier_targets
  FOR EACH ROW EXECUTE FUNCTION relance_programme_from_chantier();
