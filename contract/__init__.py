"""The API contract: the committed OpenAPI snapshot, its breaking-change check, a TS client."""
