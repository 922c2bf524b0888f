// The negative proof: each misuse below must be a type error. `@ts-expect-error` fails the
// type-check when the next line compiles, so if the generated types were too loose (`any`,
// a missing operation, money typed as number) `make contract` would fail here.
import type { components } from "./generated/relance";
import type { NewCommitment, RelanceClient } from "./example";

export const valid: NewCommitment = {
  action_id: "9a1d2c3e-4b5f-4a6b-8c7d-0e1f2a3b4c5d",
  partner_id: "1b2c3d4e-5f60-4718-293a-4b5c6d7e8f90",
  year: 2024,
  amount: "1250000.00",
  instrument: "loan",
};

// @ts-expect-error money is a decimal string, never a JSON number
export const amountAsNumber: NewCommitment = { ...valid, amount: 1250000 };

// @ts-expect-error `instrument` is required
export const missingInstrument: NewCommitment = { ...valid, instrument: undefined };

// @ts-expect-error not an instrument
export const unknownInstrument: NewCommitment = { ...valid, instrument: "gift" };

export async function misuses(client: RelanceClient): Promise<void> {
  // @ts-expect-error no such path
  await client.GET("/v1/commitment", {});

  // @ts-expect-error `yeer` is not a filter (the API answers 400)
  await client.GET("/v1/commitments", { params: { query: { yeer: [2024] } } });

  // @ts-expect-error a year filter takes numbers
  await client.GET("/v1/commitments", { params: { query: { year: ["2024"] } } });

  // @ts-expect-error POST needs a body
  await client.POST("/v1/commitments", {});

  await client.POST("/v1/commitments", {
    body: valid,
    // @ts-expect-error Idempotency-Key is a string
    params: { header: { "Idempotency-Key": 42 } },
  });

  const { data } = await client.GET("/v1/aggregates/commitments", {
    params: { query: { drilldown: ["chantier"] } },
  });
  if (data === undefined) return;
  // @ts-expect-error the JSON operation never answers a CSV string
  const csv: string = data;
  void csv;
  // @ts-expect-error measures are decimal strings: no arithmetic without parsing
  const doubled: number = data.summary.committed * 2;
  // @ts-expect-error cells have no `total`
  const total: unknown = data.cells[0]?.total;
  void doubled;
  void total;
}

// @ts-expect-error a 404's reason is NOT_FOUND, never another status's
export const wrongReason: components["schemas"]["Problem404"]["reason"] = "CONFLICT";

// @ts-expect-error a 409's status is 409
export const wrongStatus: components["schemas"]["Problem409"]["status"] = 404;
