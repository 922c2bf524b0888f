// What a frontend team writes with the client generated from contract/openapi.json:
// list commitments with filters, create one, read an aggregate and a cash-flow table. `make
// contract` type-checks it.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/relance";

export type Commitment = components["schemas"]["CommitmentRead"];
export type NewCommitment = components["schemas"]["CommitmentCreate"];
export type AggregateCell = components["schemas"]["AggregateCell"];
type Problem = components["schemas"]["Problem"];

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.reason}: ${problem.detail}`);
  }
}

export function relanceClient(baseUrl: string, apiKey?: string) {
  const headers: Record<string, string> = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
  return createClient<paths>({ baseUrl, headers });
}
export type RelanceClient = ReturnType<typeof relanceClient>;

/** A partner's committed commitments of 2024 and 2025, largest first, every page. */
export async function listCommitments(
  client: RelanceClient,
  partnerId: string,
): Promise<Commitment[]> {
  const page = async (cursor?: string) => {
    const { data, error } = await client.GET("/v1/commitments", {
      params: {
        query: {
          partner_id: [partnerId],
          year: [2024, 2025], // a repeated parameter means OR
          status: ["committed"],
          instrument: ["loan", "grant"],
          sort: "-amount,year",
          limit: 500,
          cursor,
        },
      },
    });
    if (error) throw new ProblemError(error);
    return data;
  };
  let current = await page();
  const all = [...current.items];
  while (current.next_cursor !== null) {
    current = await page(current.next_cursor); // null on the last page
    all.push(...current.items);
  }
  return all;
}

/** Money is a decimal string (at most two decimals in, exactly two out), never a number. */
export async function createCommitment(
  client: RelanceClient,
  actionId: string,
  partnerId: string,
): Promise<Commitment> {
  const body: NewCommitment = {
    action_id: actionId,
    partner_id: partnerId,
    external_ref: "BDT-PRET-2024-0042",
    year: 2024,
    amount: "1250000.00",
    instrument: "loan",
    status: "committed",
    signed_on: "2024-03-15",
  };
  // One Idempotency-Key per operation, reused for its retries: a retry after a lost answer
  // gets the first answer again (Idempotent-Replayed: true) instead of a second commitment.
  const idempotencyKey = crypto.randomUUID();
  const { data, error, response } = await client.POST("/v1/commitments", {
    body,
    params: { header: { "Idempotency-Key": idempotencyKey } },
  });
  if (error) {
    // 422 names each bad field with a JSON pointer into the body sent.
    const fields = (error.errors ?? []).map((e) => `${e.pointer ?? e.parameter}: ${e.detail}`);
    throw new ProblemError({ ...error, detail: [error.detail, ...fields].join("; ") });
  }
  const etag: CreatedHeaders["ETag"] = response.headers.get("ETag") ?? data.etag;
  const location: CreatedHeaders["Location"] = response.headers.get("Location") ?? "";
  const replayed = response.headers.get("Idempotent-Replayed") === "true";
  console.log(`created ${location} (ETag ${etag}${replayed ? ", replayed" : ""})`);
  return data;
}

/** The headers a 201 of POST /v1/commitments carries, as the contract declares them. */
type CreatedHeaders = paths["/v1/commitments"]["post"]["responses"][201]["headers"];

/** Change the disbursed amount unless someone changed the commitment since it was read. */
export async function recordDisbursement(
  client: RelanceClient,
  id: string,
  disbursed: string,
): Promise<Commitment | "changed meanwhile"> {
  const read = await client.GET("/v1/commitments/{commitment_id}", {
    params: { path: { commitment_id: id } },
  });
  if (read.error) throw new ProblemError(read.error);
  const etag = read.response.headers.get("ETag") ?? read.data.etag;
  const { data, error } = await client.PATCH("/v1/commitments/{commitment_id}", {
    params: { path: { commitment_id: id }, header: { "If-Match": etag } },
    body: { disbursed_amount: disbursed },
  });
  if (error) {
    // `reason` is an enum per status: a 412 can only be PRECONDITION_FAILED.
    if (error.status === 412 && error.reason === "PRECONDITION_FAILED") return "changed meanwhile";
    throw new ProblemError(error);
  }
  return data;
}

/** Committed and disbursed sums by chantier and year, biggest first. */
export async function committedByChantierAndYear(client: RelanceClient): Promise<string[]> {
  const { data, error } = await client.GET("/v1/aggregates/commitments", {
    params: {
      query: { drilldown: ["chantier", "year"], order: "-committed,year", page_size: 100 },
    },
  });
  if (error) throw new ProblemError(error);
  // JSON only (the CSV is its own operation, /v1/aggregates/commitments.csv): no narrowing.
  const lines = data.cells.map((cell: AggregateCell) => {
    const chantier = cell.chantier ? `${cell.chantier.code} ${cell.chantier.name}` : "(none)";
    const rate = cell.execution_rate ?? "n/a"; // null when nothing is committed
    return `${chantier} ${cell.year ?? "-"}: ${cell.committed} € committed, ${cell.disbursed} € disbursed (rate ${rate})`;
  });
  const total = data.summary; // the true total, each commitment once, even if `overlapping`
  lines.push(`total: ${total.committed} € over ${total.count} commitments`);
  return lines;
}

export type Programme = components["schemas"]["ProgrammeRead"];
export type NewProgramme = components["schemas"]["ProgrammeCreate"];

/** A second programme, then a priority of it: with several programmes, say which. */
export async function createProgrammeWithPriority(
  client: RelanceClient,
): Promise<{ programme: Programme; priorityId: string }> {
  const body: NewProgramme = {
    code: "CRTE-2023-2027",
    name: "Contrat de relance et de transition écologique",
    start_year: 2023,
    end_year: 2027,
    territory_code: "200054807", // the lead collectivity's SIREN, or a commune's INSEE code
    status: "draft",
  };
  const created = await client.POST("/v1/programmes", { body });
  if (created.error) throw new ProblemError(created.error);
  const programme = created.data;
  const active = await client.GET("/v1/programmes", {
    params: { query: { status: ["active"], code: [programme.code] } },
  });
  if (active.error) throw new ProblemError(active.error);
  const priority = await client.POST("/v1/priorities", {
    // programme_id may be left out only while one programme exists (else 422 /programme_id).
    body: { programme_id: programme.id, code: "CLIMAT", name: "Adaptation au climat" },
  });
  if (priority.error) throw new ProblemError(priority.error);
  return { programme, priorityId: priority.data.id };
}

export type Summary = components["schemas"]["ProgrammeSummary"];

/** Each programme's totals next to the grand total: the programmes' cells add up to it. */
export async function programmeTotals(
  client: RelanceClient,
): Promise<{ grand: Summary["totals"]; byProgramme: Map<string, Summary["totals"]> }> {
  const all = await client.GET("/v1/summary");
  if (all.error) throw new ProblemError(all.error);
  const byProgramme = new Map<string, Summary["totals"]>();
  for (const cell of all.data.by_programme) {
    if (!cell.programme) continue;
    // The same figures as the cell, with that programme's own breakdowns beside them.
    const one = await client.GET("/v1/programmes/{programme_id}/summary", {
      params: { path: { programme_id: cell.programme.id } },
    });
    if (one.error) throw new ProblemError(one.error);
    byProgramme.set(cell.programme.code, one.data.totals);
  }
  return { grand: all.data.totals, byProgramme };
}

export type CashflowCell = components["schemas"]["CashflowCell"];

/** A programme's money over time, a table of one row per year: what was committed, scheduled
 * and paid, what remains to pay at each year's end, and the coverage ratio in years. */
export async function cashflowTable(
  client: RelanceClient,
  programme: string,
): Promise<{ rows: string[]; coverageYears: string | null }> {
  const { data, error } = await client.GET("/v1/aggregates/cashflow", {
    params: { query: { programme: [programme], as_of: 2026, page_size: 100 } },
  });
  if (error) throw new ProblemError(error);
  if (typeof data === "string") throw new Error("asked for JSON, got CSV");
  const rows = data.cells.map(
    (cell: CashflowCell) =>
      `${cell.year}: committed ${cell.committed} €, scheduled ${cell.scheduled} €, ` +
      `paid ${cell.paid} €, remaining ${cell.remaining} €`,
  );
  // null when nothing was paid in the three years up to as_of
  return { rows, coverageYears: data.summary.coverage_ratio };
}
