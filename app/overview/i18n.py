"""The page's words in French (the default) and English, and numbers as each language writes
them: « 1 234 567,89 € » and "€1,234,567.89"."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")

# U+202F, the narrow no-break space French typography puts between thousands and before €.
_NNBSP = "\u202f"

WORDS: dict[str, dict[Lang, str]] = {
    "title": {"fr": "Programmes d'investissement", "en": "Investment programmes"},
    "programmes": {"fr": "Programmes", "en": "Programmes"},
    "period": {"fr": "Période", "en": "Period"},
    "planned": {"fr": "Prévu", "en": "Planned"},
    "committed": {"fr": "Engagé", "en": "Committed"},
    "disbursed": {"fr": "Versé", "en": "Paid"},
    "target": {"fr": "Objectif", "en": "Target"},
    "commitments": {"fr": "engagements", "en": "commitments"},
    "execution_rate": {"fr": "Taux d'exécution", "en": "Execution rate"},
    "commitment_rate": {"fr": "Taux d'engagement", "en": "Commitment rate"},
    "by_chantier": {"fr": "Par chantier", "en": "By chantier"},
    "by_chantier_help": {
        "fr": "Objectif de la période, montants engagés, prévus par leurs échéanciers (toutes "
        "années) et versés, par chantier.",
        "en": "The period's target, the committed amounts, what their schedules plan (every "
        "year) and what was paid, by chantier.",
    },
    "by_year": {"fr": "Année après année", "en": "Year by year"},
    "by_year_help": {
        "fr": "Montants engagés et versés cumulés, par année budgétaire.",
        "en": "Cumulative committed and paid amounts, by budget year.",
    },
    "by_partner": {"fr": "Par financeur", "en": "By financer"},
    "cashflow": {"fr": "Crédits de paiement, année après année", "en": "Cash flow, year by year"},
    "cashflow_help": {
        "fr": "Cumuls : engagé (par année d'engagement), prévu par les échéanciers (par année "
        "de paiement prévue) et payé (par date de paiement). Le reste à payer est l'engagé "
        "moins le payé, à la fin de chaque année ; les paiements courent au-delà du programme.",
        "en": "Cumulative: committed (by commitment year), scheduled (by planned payment year) "
        "and paid (by payment date). What remains to pay is committed minus paid at each "
        "year's end; payments run past the programme's end.",
    },
    "scheduled": {"fr": "Prévu", "en": "Scheduled"},
    "paid": {"fr": "Payé", "en": "Paid"},
    "remaining": {"fr": "Reste à payer", "en": "Remaining"},
    "by_commune": {"fr": "Par commune", "en": "By commune"},
    "by_commune_help": {
        "fr": "Le montant d'une action située dans plusieurs communes est réparti entre "
        "elles à parts égales, au centime près : les lignes s'additionnent au total. Par "
        "habitant : le montant engagé divisé par la population de la commune (INSEE).",
        "en": "An action located in several communes has its money split between them in "
        "equal shares, to the cent: the rows add up to the total. Per inhabitant: the "
        "committed amount divided by the commune's population (INSEE).",
    },
    "per_inhabitant": {"fr": "Engagé par habitant", "en": "Committed per inhabitant"},
    "commune": {"fr": "Commune", "en": "Commune"},
    "partner": {"fr": "Financeur", "en": "Financer"},
    "chantier": {"fr": "Chantier", "en": "Chantier"},
    "year": {"fr": "Année", "en": "Year"},
    "no_commune": {"fr": "Sans commune", "en": "No commune"},
    "all_programmes": {"fr": "Tous les programmes", "en": "Every programme"},
    "see_programme": {"fr": "Voir le programme", "en": "See the programme"},
    "table_of_figures": {"fr": "Les chiffres du graphique", "en": "The chart's figures"},
    "nothing": {"fr": "Aucun engagement pour l'instant.", "en": "No commitment yet."},
    "data_note": {
        "fr": "Données publiques de l'API Relance, exactes au centime ; les mêmes chiffres "
        "sont servis en JSON par",
        "en": "Public data from the Relance API, exact to the cent; the same figures are "
        "served as JSON by",
    },
    "other_language": {"fr": "English", "en": "Français"},
    "status_active": {"fr": "en cours", "en": "active"},
    "status_closed": {"fr": "clos", "en": "closed"},
}


def words(lang: Lang) -> dict[str, str]:
    return {key: by_lang[lang] for key, by_lang in WORDS.items()}


def _grouped(integer: str, separator: str) -> str:
    groups = []
    while integer:
        groups.append(integer[-3:])
        integer = integer[:-3]
    return separator.join(reversed(groups)) or "0"


def money(amount: Decimal, lang: Lang) -> str:
    """Euros with their cents, exactly as stored: nothing is rounded away."""
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    sign = "-" if cents < 0 else ""
    integer, _, fraction = f"{abs(cents):.2f}".partition(".")
    if lang == "fr":
        return f"{sign}{_grouped(integer, _NNBSP)},{fraction}{_NNBSP}€"
    return f"{sign}€{_grouped(integer, ',')}.{fraction}"


def short_money(amount: Decimal, lang: Lang) -> str:
    """For chart labels: « 12,3 M€ », "€12.3M"."""
    millions = (amount / Decimal(1_000_000)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    if lang == "fr":
        return f"{str(millions).replace('.', ',')}{_NNBSP}M€"
    return f"€{millions}M"


def percent(rate: Decimal | None, lang: Lang) -> str:
    if rate is None:
        return "–"
    value = (rate * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    return f"{str(value).replace('.', ',')}{_NNBSP}%" if lang == "fr" else f"{value}%"


def count(n: int, lang: Lang) -> str:
    return _grouped(str(n), _NNBSP if lang == "fr" else ",")
